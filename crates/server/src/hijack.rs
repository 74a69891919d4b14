//! Hijacked connections (attach, exec start): the client's socket, known
//! to the handlers, so the stream starts only once the client has read the
//! `101 UPGRADED` headers. Clients such as docker-py read the headers
//! through a buffered reader and then switch to the raw socket: stream
//! bytes that arrived with the headers would sit in that buffer, lost.

use std::os::fd::RawFd;
use std::time::Duration;

/// The connection's socket descriptor, put on every request by the unix
/// listener. Valid while the connection (or its upgraded stream) lives.
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub RawFd);

/// How long a client may take to read the headers before the stream starts
/// anyway.
const READ_HEADERS_WITHIN: Duration = Duration::from_secs(2);

/// Waits (polling every millisecond, at most [`READ_HEADERS_WITHIN`]) until
/// the peer of `fd` has read everything sent to it. Call it holding the
/// upgraded stream, so the descriptor is still the connection's.
pub async fn until_client_read(fd: Option<ConnFd>) {
    let Some(ConnFd(fd)) = fd else { return };
    let deadline = tokio::time::Instant::now() + READ_HEADERS_WITHIN;
    loop {
        match berth_engine::monitor_io::unread_by_peer(fd) {
            Ok(0) | Err(_) => return,
            Ok(_) if tokio::time::Instant::now() >= deadline => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}
