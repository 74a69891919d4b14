//! Hijacked connections (attach, exec start): the `101 UPGRADED` answer,
//! the stream's content type, and the upgraded stream, handed over only
//! once the client has read the headers. Clients such as docker-py read
//! the headers through a buffered reader and then switch to the raw socket:
//! stream bytes that arrived with the headers would sit in that buffer,
//! lost. The listener puts the connection's socket on every request for
//! that.

use std::os::fd::RawFd;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use berth_api::ApiVersion;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// The connection's socket descriptor, put on every request by the unix
/// listener. Valid while the connection (or its upgraded stream) lives.
#[derive(Debug, Clone, Copy)]
pub struct ConnFd(pub RawFd);

/// How long a client may take to read the headers before the stream starts
/// anyway.
const READ_HEADERS_WITHIN: Duration = Duration::from_secs(2);

/// `application/vnd.docker.raw-stream` with a TTY, else the multiplexed one.
/// What dockerd names a hijacked answer sent without an upgrade (a plain
/// `200`), whatever its framing.
pub const UNUPGRADED_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/vnd.docker.raw-stream");

/// The content type of a stream: multiplexed frames without a TTY, as
/// dockerd names them from API 1.42 (older clients are told raw-stream
/// whatever the framing, as dockerd told them).
pub fn stream_content_type(tty: bool, version: ApiVersion) -> HeaderValue {
    HeaderValue::from_static(
        if !tty
            && version
                >= (ApiVersion {
                    major: 1,
                    minor: 42,
                })
        {
            "application/vnd.docker.multiplexed-stream"
        } else {
            "application/vnd.docker.raw-stream"
        },
    )
}

/// The `101` answer of attach and exec start.
pub fn switching_protocols(tty: bool, version: ApiVersion) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, stream_content_type(tty, version));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// The request's upgraded stream, once the `101` went out and the client
/// read it; `None` (logged) when the upgrade failed. Take it before
/// answering, await it in the task that serves the stream.
pub fn upgraded(
    req: &mut Request,
    what: &'static str,
) -> impl std::future::Future<Output = Option<TokioIo<Upgraded>>> {
    let fd = req.extensions().get::<ConnFd>().copied();
    let on_upgrade = hyper::upgrade::on(req);
    async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                until_client_read(fd).await;
                Some(TokioIo::new(upgraded))
            }
            Err(e) => {
                tracing::debug!(error = %e, "{what} upgrade failed");
                None
            }
        }
    }
}

/// Checks before sleeping: a prompt client has read the headers within a
/// few scheduler turns, well under the timer's millisecond.
const YIELDS_BEFORE_SLEEPING: u32 = 64;

/// Waits (yielding a few times, then polling every millisecond, at most
/// [`READ_HEADERS_WITHIN`]) until the peer of `fd` has read everything sent
/// to it. Call it holding the upgraded stream, so the descriptor is still
/// the connection's.
async fn until_client_read(fd: Option<ConnFd>) {
    let Some(ConnFd(fd)) = fd else { return };
    let deadline = tokio::time::Instant::now() + READ_HEADERS_WITHIN;
    let mut turns = 0u32;
    loop {
        match berth_engine::monitor_io::unread_by_peer(fd) {
            Ok(0) | Err(_) => return,
            Ok(_) if tokio::time::Instant::now() >= deadline => return,
            Ok(_) if turns < YIELDS_BEFORE_SLEEPING => {
                turns += 1;
                tokio::task::yield_now().await;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}
