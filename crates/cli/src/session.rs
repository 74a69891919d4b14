//! An attached session: the container's output to our stdout/stderr, our
//! stdin to the container (raw terminal mode with a TTY), and terminal size
//! changes forwarded as resize requests.

use std::future::Future;
use std::io::{IsTerminal, Read};
use std::pin::Pin;

use rustix::termios::{self, OptionalActions, Termios};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::output::StdStreams;

/// Restores the terminal's settings when dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode, when stdin is a terminal.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The terminal's (rows, columns), when stdout is a terminal.
pub fn terminal_size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    termios::tcgetwinsize(&out)
        .ok()
        .map(|w| (w.ws_row, w.ws_col))
}

/// Sends a new terminal size to the daemon.
pub type Resize = Box<dyn Fn(u16, u16) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What a session forwards.
pub struct SessionOptions {
    pub tty: bool,
    pub stdin: bool,
    pub resize: Option<Resize>,
    /// The detach sequence to watch for in our stdin (`--detach-keys`, by
    /// default ctrl-p ctrl-q).
    pub detach_keys: Option<String>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The container's output ended.
    Ended,
    /// The user typed the detach keys; the container goes on running.
    Detached,
}

/// Runs the session until the container's output ends or the user detaches.
pub async fn run(upgraded: hyper::upgrade::Upgraded, opts: SessionOptions) -> SessionEnd {
    let io = hyper_util::rt::TokioIo::new(upgraded);
    let (mut reader, mut writer) = tokio::io::split(io);
    let _raw = if opts.tty && opts.stdin {
        RawMode::enable()
    } else {
        None
    };
    if let Some(resize) = &opts.resize {
        if let Some((rows, cols)) = terminal_size() {
            resize(rows, cols).await;
        }
    }
    let resizer = opts.resize.map(|resize| {
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut winch) = signal(SignalKind::window_change()) else {
                return;
            };
            while winch.recv().await.is_some() {
                if let Some((rows, cols)) = terminal_size() {
                    resize(rows, cols).await;
                }
            }
        })
    });
    let input = opts.stdin.then(|| {
        // A plain thread: a blocking stdin read must never keep the process
        // from exiting once the container is done.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; 8192];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let keys = match opts.detach_keys.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => berth_api::detach::parse_detach_keys(k).unwrap_or_default(),
            None => berth_api::detach::DEFAULT_DETACH_KEYS.to_vec(),
        };
        let mut scanner = berth_api::detach::DetachScanner::new(keys);
        let (detached_tx, detached_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                let (forward, detached) = scanner.feed(&chunk);
                if writer.write_all(&forward).await.is_err() {
                    return;
                }
                let _ = writer.flush().await;
                if detached {
                    let _ = detached_tx.send(());
                    return;
                }
            }
            // Our stdin ended: half-close so the container sees EOF.
            let _ = writer.shutdown().await;
        });
        (task, detached_rx)
    });
    let (input, mut detached) = match input {
        Some((task, rx)) => (Some(task), Some(rx)),
        None => (None, None),
    };
    let mut out = StdStreams::new(opts.tty);
    let mut buf = vec![0u8; 32 * 1024];
    let mut end = SessionEnd::Ended;
    loop {
        let read = match detached.as_mut() {
            Some(d) => tokio::select! {
                r = reader.read(&mut buf) => r,
                r = d => {
                    if r.is_ok() {
                        end = SessionEnd::Detached;
                        break;
                    }
                    detached = None;
                    continue;
                }
            },
            None => reader.read(&mut buf).await,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => out.write(&buf[..n]).await,
        }
    }
    if let Some(t) = input {
        t.abort();
    }
    if let Some(t) = resizer {
        t.abort();
    }
    end
}
