//! The daemon's side of the monitor's attach socket: connecting (the socket
//! appears just after the monitor starts), and bridging an API client's
//! stream to it: output frames out (Docker's 8-byte framing is the same
//! header, so it passes through; raw for a TTY), stdin in, detach keys.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::frame::{self, Kind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::Error;

/// Connects to a monitor's socket, retrying until it exists or `limit` passed.
pub async fn connect(path: &Path, limit: Duration) -> Result<UnixStream, Error> {
    let start = Instant::now();
    loop {
        match UnixStream::connect(path).await {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() >= limit => {
                return Err(Error::Internal(format!(
                    "connecting to the container's monitor at {}: {e}",
                    path.display()
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

pub use berth_api::detach::{parse_detach_keys, DetachScanner, DEFAULT_DETACH_KEYS};
pub use berth_runtime::sockq::unread_by_peer;

/// What a bridge forwards.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub detach_keys: Vec<u8>,
    /// Write a start failure's message to the client (exec: the HTTP answer
    /// was already sent, so the stream is the only place for it).
    pub report_failure: bool,
}

/// How a bridge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeEnd {
    /// The process ended; the monitor's final event (JSON) if it sent one.
    Exited(Option<Vec<u8>>),
    /// The client typed the detach keys.
    Detached,
    /// The client or the monitor went away.
    Closed,
}

/// Copies monitor output to `out` until the process ends; returns the final
/// event's payload.
async fn pump_output(
    mut monitor: impl AsyncRead + Unpin,
    mut out: impl AsyncWrite + Unpin,
    opts: &BridgeOptions,
) -> BridgeEnd {
    let mut header = [0u8; frame::HEADER_LEN];
    loop {
        if monitor.read_exact(&mut header).await.is_err() {
            return BridgeEnd::Closed;
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut payload = vec![0u8; len];
        if monitor.read_exact(&mut payload).await.is_err() {
            return BridgeEnd::Closed;
        }
        let wanted = match header[0] {
            k if k == Kind::Stdout as u8 => opts.stdout,
            k if k == Kind::Stderr as u8 => opts.stderr,
            k if k == Kind::Exit as u8 => {
                if opts.report_failure {
                    if let Ok(berth_runtime::monitor::MonitorEvent::Failed { message, .. }) =
                        serde_json::from_slice(&payload)
                    {
                        let text =
                            format!("OCI runtime exec failed: exec failed: {message}: unknown\r\n");
                        if !opts.tty {
                            let _ = out
                                .write_all(&frame::header(Kind::Stderr, text.len() as u32))
                                .await;
                        }
                        let _ = out.write_all(text.as_bytes()).await;
                    }
                }
                let _ = out.flush().await;
                return BridgeEnd::Exited(Some(payload));
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        let written = if opts.tty {
            out.write_all(&payload).await
        } else {
            match out.write_all(&header).await {
                Ok(()) => out.write_all(&payload).await,
                Err(e) => Err(e),
            }
        };
        if written.is_err() || out.flush().await.is_err() {
            return BridgeEnd::Closed;
        }
    }
}

/// Copies client input to the monitor as stdin frames until EOF (then a
/// stdin-EOF frame) or the detach keys.
async fn pump_input(
    mut client: impl AsyncRead + Unpin,
    mut monitor: impl AsyncWrite + Unpin,
    keys: Vec<u8>,
) -> BridgeEnd {
    let mut scanner = DetachScanner::new(keys);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let mut eof = Vec::new();
                frame::encode(Kind::StdinEof, &[], &mut eof);
                let _ = monitor.write_all(&eof).await;
                // Keep the output side open: the process may still print.
                return std::future::pending().await;
            }
            Ok(n) => n,
        };
        let (forward, detached) = scanner.feed(&buf[..n]);
        if !forward.is_empty() {
            let mut f = Vec::with_capacity(forward.len() + frame::HEADER_LEN);
            frame::encode(Kind::Stdin, &forward, &mut f);
            if monitor.write_all(&f).await.is_err() {
                return BridgeEnd::Closed;
            }
        }
        if detached {
            return BridgeEnd::Detached;
        }
    }
}

/// Bridges an API client's stream and a monitor connection.
pub async fn bridge<C>(client: C, monitor: UnixStream, opts: BridgeOptions) -> BridgeEnd
where
    C: AsyncRead + AsyncWrite + Unpin + Send,
{
    bridge_then(client, monitor, opts, |_| {}).await
}

/// [`bridge`], with `before_close` run on how it ended before the client's
/// stream is closed: an exec's exit code is recorded before its client,
/// seeing the end of the stream, asks for it (the docker CLI does at once).
pub async fn bridge_then<C>(
    client: C,
    monitor: UnixStream,
    opts: BridgeOptions,
    before_close: impl FnOnce(&BridgeEnd),
) -> BridgeEnd
where
    C: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (client_r, mut client_w) = tokio::io::split(client);
    let (monitor_r, mut monitor_w) = monitor.into_split();
    if opts.stdin {
        // Marks this client as a stdin user (so stdin_once applies to it).
        let mut mark = Vec::new();
        frame::encode(Kind::Stdin, &[], &mut mark);
        let _ = monitor_w.write_all(&mark).await;
    }
    let end = {
        let output = pump_output(monitor_r, &mut client_w, &opts);
        if opts.stdin {
            let input = pump_input(client_r, &mut monitor_w, opts.detach_keys.clone());
            tokio::select! {
                end = output => end,
                end = input => end,
            }
        } else {
            output.await
        }
    };
    before_close(&end);
    let _ = client_w.shutdown().await;
    end
}

/// Sends one resize frame on a fresh connection.
pub async fn resize(socket: &Path, rows: u16, cols: u16) -> Result<(), Error> {
    let mut s = connect(socket, Duration::from_secs(2)).await?;
    let mut f = Vec::new();
    frame::encode(Kind::Resize, &frame::resize_payload(rows, cols), &mut f);
    s.write_all(&f)
        .await
        .map_err(|e| Error::Internal(format!("resizing: {e}")))?;
    let _ = s.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_frames_pass_through() {
        let mut frames = Vec::new();
        frame::encode(Kind::Stdout, b"out\n", &mut frames);
        frame::encode(Kind::Stderr, b"err\n", &mut frames);
        frame::encode(Kind::Exit, b"{}", &mut frames);
        let opts = BridgeOptions {
            tty: false,
            stdin: false,
            stdout: true,
            stderr: false,
            detach_keys: Vec::new(),
            report_failure: false,
        };
        let mut out = Vec::new();
        let end = pump_output(&frames[..], &mut out, &opts).await;
        assert_eq!(end, BridgeEnd::Exited(Some(b"{}".to_vec())));
        assert_eq!(out, b"\x01\0\0\0\0\0\0\x04out\n");
        let tty = BridgeOptions {
            tty: true,
            stderr: true,
            ..opts
        };
        let mut out = Vec::new();
        pump_output(&frames[..], &mut out, &tty).await;
        assert_eq!(out, b"out\nerr\n");
    }
}
