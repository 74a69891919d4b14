//! The attach socket: a unix socket the monitor listens on, serving any
//! number of clients from its single-threaded poll loop.
//!
//! Every client gets the process's output from the moment it connected, in
//! [`crate::frame`] frames, and may send stdin and resize frames. Sockets
//! are non-blocking; what a client has not read yet waits in its queue
//! (see [`Hub::backlogged`] for how a slow client holds output back, as a
//! slow attached client does in Docker). When the process has ended every
//! client gets one [`Kind::Exit`] frame and the connection is closed.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::frame::{self, Decoder, Kind, ProtocolError, Request};

/// Longest usable socket path: `sun_path` holds 108 bytes with the NUL.
pub const MAX_SOCKET_PATH: usize = 107;
/// A client whose unread output exceeds this holds the process's output
/// back until it catches up.
pub const CLIENT_HIGH_WATER: usize = 256 * 1024;
/// How long the final frames may take to reach slow clients.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Queues larger than this are freed once they empty.
const KEEP_CAPACITY: usize = 16 * 1024;

/// A poll timeout of at least `d` (rounded up to whole milliseconds).
pub(crate) fn poll_timeout(d: Duration) -> PollTimeout {
    let ms = d.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Errors creating the attach socket.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(
        "attach socket path {path} is {len} bytes long; unix socket paths are limited to {MAX_SOCKET_PATH} bytes"
    )]
    PathTooLong { path: PathBuf, len: usize },
    #[error("creating attach socket {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The listening socket; its file is removed when it is dropped.
#[derive(Debug)]
pub struct Listener {
    sock: UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Listens at `path` (mode 0600), replacing a stale socket file there.
    pub fn bind(path: &Path) -> Result<Self, AttachError> {
        let len = path.as_os_str().as_bytes().len();
        if len > MAX_SOCKET_PATH {
            return Err(AttachError::PathTooLong {
                path: path.to_path_buf(),
                len,
            });
        }
        let bind_err = |source| AttachError::Bind {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(bind_err(e)),
        }
        // The monitor is single-threaded: the umask is back before anything
        // else could create a file.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        nix::sys::stat::umask(old);
        let sock = bound.map_err(bind_err)?;
        sock.set_nonblocking(true).map_err(bind_err)?;
        Ok(Self {
            sock,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    sock: UnixStream,
    decoder: Decoder,
    /// Output not yet written; `sent` bytes of it already were.
    tx: Vec<u8>,
    sent: usize,
    /// The client shut down its sending side.
    pub read_closed: bool,
    /// The client has sent stdin data or an empty stdin frame.
    pub used_stdin: bool,
    /// The client sent a stdin EOF frame.
    pub sent_eof: bool,
    /// The connection failed or broke the protocol; it is dropped soon.
    pub dead: bool,
}

/// What reading from a client gave.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Requests were passed on (possibly none).
    Data,
    /// The client will send nothing more.
    Closed,
    /// The client broke the protocol or the connection failed.
    Broken(Option<ProtocolError>),
}

impl Client {
    fn new(sock: UnixStream) -> Self {
        Self {
            sock,
            decoder: Decoder::default(),
            tx: Vec::new(),
            sent: 0,
            read_closed: false,
            used_stdin: false,
            sent_eof: false,
            dead: false,
        }
    }

    /// The client's socket, for polling.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Bytes queued for the client.
    pub fn pending(&self) -> usize {
        self.tx.len() - self.sent
    }

    /// Reads what the client sent, passing requests to `on`.
    pub fn read(&mut self, buf: &mut [u8], on: &mut dyn FnMut(Request<'_>)) -> ReadOutcome {
        loop {
            match self.sock.read(buf) {
                Ok(0) => {
                    self.read_closed = true;
                    return ReadOutcome::Closed;
                }
                Ok(n) => {
                    let mut track = |r: Request<'_>| {
                        match r {
                            Request::Stdin(_) => self.used_stdin = true,
                            Request::StdinEof => {
                                self.used_stdin = true;
                                self.sent_eof = true;
                            }
                            Request::Resize { .. } => {}
                        }
                        on(r);
                    };
                    return match self.decoder.feed(&buf[..n], &mut track) {
                        Ok(()) => ReadOutcome::Data,
                        Err(e) => {
                            self.dead = true;
                            ReadOutcome::Broken(Some(e))
                        }
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Data,
                Err(_) => {
                    self.dead = true;
                    return ReadOutcome::Broken(None);
                }
            }
        }
    }

    fn queue(&mut self, kind: Kind, data: &[u8]) {
        if self.dead {
            return;
        }
        frame::encode(kind, data, &mut self.tx);
        self.flush();
    }

    /// Writes as much queued output as the socket takes.
    pub fn flush(&mut self) {
        while !self.dead && self.sent < self.tx.len() {
            match self.sock.write(&self.tx[self.sent..]) {
                Ok(0) => self.dead = true,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.dead = true,
            }
        }
        if self.sent == self.tx.len() {
            self.sent = 0;
            if self.tx.capacity() > KEEP_CAPACITY {
                self.tx = Vec::new();
            } else {
                self.tx.clear();
            }
        }
    }
}

/// The listener and its clients.
#[derive(Debug)]
pub struct Hub {
    listener: Option<Listener>,
    pub clients: Vec<Client>,
}

impl Hub {
    /// Listens at `path`.
    pub fn bind(path: &Path) -> Result<Self, AttachError> {
        Ok(Self {
            listener: Some(Listener::bind(path)?),
            clients: Vec::new(),
        })
    }

    /// The listening socket, while the hub accepts clients.
    pub fn listener_fd(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.sock.as_fd())
    }

    /// Accepts every pending connection.
    pub fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            match listener.sock.accept() {
                Ok((sock, _)) => {
                    if sock.set_nonblocking(true).is_ok() {
                        self.clients.push(Client::new(sock));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and the like: leave the connection pending.
                    tracing::warn!(error = %e, "accepting an attach client");
                    return;
                }
            }
        }
    }

    /// Waits up to `timeout` for a first client, or until `also` (the
    /// child's sync pipe) becomes readable. Returns whether `also` did.
    pub fn wait_for_client(&mut self, also: BorrowedFd<'_>, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.clients.is_empty() {
            let Some(listener) = self.listener_fd() else {
                return false;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds = [
                PollFd::new(listener, PollFlags::POLLIN),
                PollFd::new(also, PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, poll_timeout(left)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return false,
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                return true;
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                self.accept();
            }
        }
        false
    }

    /// Queues output for every client.
    pub fn broadcast(&mut self, kind: Kind, data: &[u8]) {
        for c in &mut self.clients {
            c.queue(kind, data);
        }
    }

    /// Whether some client has so much unread output that the process's
    /// output should wait.
    pub fn backlogged(&self) -> bool {
        self.clients
            .iter()
            .any(|c| !c.dead && c.pending() > CLIENT_HIGH_WATER)
    }

    /// Removes dead clients, returning them (their stdin state matters to
    /// the caller).
    pub fn take_dead(&mut self) -> Vec<Client> {
        let mut dead = Vec::new();
        let mut i = 0;
        while i < self.clients.len() {
            if self.clients[i].dead {
                dead.push(self.clients.swap_remove(i));
            } else {
                i += 1;
            }
        }
        dead
    }

    /// Stops listening, sends `event` (JSON) to every client as the exit
    /// frame and closes the connections once that is written or
    /// [`FINISH_TIMEOUT`] has passed.
    pub fn finish(&mut self, event: &[u8]) {
        self.listener = None;
        for c in &mut self.clients {
            c.queue(Kind::Exit, event);
        }
        let deadline = Instant::now() + FINISH_TIMEOUT;
        loop {
            self.clients.retain(|c| !c.dead && c.pending() > 0);
            let left = deadline.saturating_duration_since(Instant::now());
            if self.clients.is_empty() || left.is_zero() {
                break;
            }
            let mut fds: Vec<PollFd<'_>> = self
                .clients
                .iter()
                .map(|c| PollFd::new(c.fd(), PollFlags::POLLOUT))
                .collect();
            let polled = nix::poll::poll(&mut fds, poll_timeout(left));
            drop(fds);
            match polled {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
            for c in &mut self.clients {
                c.flush();
            }
        }
        // Clients that were done were dropped (closed) by `retain`; the
        // rest are closed here, slow or not.
        self.clients.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_long_paths_clearly() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(110)));
        let err = Listener::bind(&long).unwrap_err();
        assert!(
            err.to_string()
                .contains("is 115 bytes long; unix socket paths are limited to 107 bytes"),
            "{err}"
        );
    }

    #[test]
    fn serves_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sock");
        let mut hub = Hub::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let mut a = UnixStream::connect(&path).unwrap();
        hub.accept();
        assert_eq!(hub.clients.len(), 1);
        hub.broadcast(Kind::Stdout, b"hi");
        a.write_all(&frame::header(Kind::StdinEof, 0)).unwrap();
        let mut buf = [0u8; 64];
        let mut eof = false;
        std::thread::sleep(Duration::from_millis(20));
        hub.clients[0].read(&mut buf, &mut |r| eof |= r == Request::StdinEof);
        assert!(eof && hub.clients[0].sent_eof);
        hub.finish(b"{}");
        assert!(!path.exists(), "socket file left behind");
        let mut got = Vec::new();
        a.read_to_end(&mut got).unwrap();
        let mut want = Vec::new();
        frame::encode(Kind::Stdout, b"hi", &mut want);
        frame::encode(Kind::Exit, b"{}", &mut want);
        assert_eq!(got, want);
    }
}
