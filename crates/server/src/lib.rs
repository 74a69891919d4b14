//! The Docker Engine API over HTTP: routes per resource, one error-to-status
//! table, API version handling, and the unix socket listener.

#![recursion_limit = "256"]

pub mod api_version;
pub mod conn_limit;
mod drain;
pub mod error;
pub mod hijack;
pub mod json_body;
pub mod params;
pub mod routes;
pub mod stream;

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use berth_api::ApiVersion;
use berth_engine::Engine;
use tower::ServiceExt;

pub use error::ApiError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_and_log_sparsely() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::from_raw_os_error(libc_emfile());
        let waits: Vec<u128> = (0..10).map(|_| b.failed(&e).as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(
            b.unlogged, 9,
            "one line logged for ten failures within a second"
        );
        b.succeeded();
        assert_eq!(b.failed(&e).as_millis(), 5);
    }

    fn libc_emfile() -> i32 {
        24
    }
}

/// The routes of every resource, without version handling.
pub fn router(engine: Engine) -> Router {
    Router::new()
        .merge(routes::system::router())
        .merge(routes::images::router())
        .merge(routes::build::router())
        .merge(routes::containers::router())
        .merge(routes::events::router())
        .merge(routes::exec::router())
        .merge(routes::volumes::router())
        .merge(routes::networks::router())
        .merge(routes::swarm::router())
        .with_state(engine)
}

/// Strips a `/v1.NN` prefix, rejects versions outside what the server
/// accepts with Docker's 400, and adds the `Api-Version` and `Server`
/// headers to every answer.
pub async fn handle(router: Router, mut req: Request<Body>) -> Response {
    let path = req.uri().path().to_string();
    let (version, rest) = ApiVersion::split_path(&path);
    if let Some(v) = version {
        let refused = match ApiVersion::parse(v) {
            None => Some(format!("invalid API version: {v}")),
            Some(parsed) if parsed < ApiVersion::MIN => Some(format!(
                "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                ApiVersion::MIN
            )),
            Some(parsed) if parsed > ApiVersion::CURRENT => Some(format!(
                "client version {v} is too new. Maximum supported API version is {}",
                ApiVersion::CURRENT
            )),
            Some(parsed) => {
                req.extensions_mut().insert(parsed);
                None
            }
        };
        if let Some(message) = refused {
            return with_headers(ApiError::new(StatusCode::BAD_REQUEST, message).into_response());
        }
        let new_uri = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        match new_uri.parse() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => {
                return with_headers(
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid request path").into_response(),
                )
            }
        }
    }
    let (parts, body) = req.into_parts();
    let (body, waiter) = drain::guard(body);
    let req = Request::from_parts(parts, body);
    let response = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    waiter.settled().await;
    with_headers(response)
}

fn with_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static("1.50"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    response
}

/// Waits between failed accepts, doubling from 5 ms to 1 s, and logs the
/// failures at most once a second with how many were not logged.
#[derive(Debug, Default)]
struct AcceptBackoff {
    wait: std::time::Duration,
    last_log: Option<std::time::Instant>,
    unlogged: u64,
}

impl AcceptBackoff {
    fn succeeded(&mut self) {
        self.wait = std::time::Duration::ZERO;
    }

    fn failed(&mut self, e: &std::io::Error) -> std::time::Duration {
        use std::time::{Duration, Instant};
        self.wait = (self.wait * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        let due = self
            .last_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            tracing::warn!(error = %e, suppressed = self.unlogged, "accepting a connection failed; retrying after {:?}", self.wait);
            self.last_log = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        self.wait
    }
}

/// How long a client may take to send a request's head, and so also how
/// long a keep-alive connection may stay idle between requests (nginx's
/// `client_header_timeout`; clients reopen a connection the server closed
/// while idle). Bounds how long a slowloris holds one of its places.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What the listener allows each client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: std::time::Duration,
    /// Connections one client process may hold at once.
    pub per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            per_client: conn_limit::MAX_PER_CLIENT,
        }
    }
}

/// Serves the API on a unix socket until `shutdown` resolves, with the
/// default [`Limits`]. A stale socket file is replaced; the socket is made
/// group-less root-only (0660).
pub async fn serve_unix(
    engine: Engine,
    socket: &Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_unix_with(engine, socket, Limits::default(), shutdown).await
}

/// [`serve_unix`] with the given limits.
pub async fn serve_unix_with(
    engine: Engine,
    socket: &Path,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = tokio::net::UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    let router = router(engine);
    tokio::pin!(shutdown);
    let mut failing = AcceptBackoff::default();
    let clients = conn_limit::ConnLimits::new(limits.per_client);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    failing.succeeded();
                    a
                }
                Err(e) => {
                    // Out of descriptors (or memory): the error repeats at
                    // once until something closes, so wait, and say so
                    // once in a while rather than for every attempt.
                    let wait = failing.failed(&e);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut shutdown => return Ok(()),
                    }
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let pid = stream.peer_cred().ok().and_then(|c| c.pid()).unwrap_or(0);
        let Some(admitted) = clients.admit(pid) else {
            let max = clients.max();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = stream.write_all(&conn_limit::refusal(max)).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let router = router.clone();
        let fd = hijack::ConnFd(std::os::fd::AsRawFd::as_raw_fd(&stream));
        tokio::spawn(async move {
            let _admitted = admitted;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let router = router.clone();
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(fd);
                async move { Ok::<_, std::convert::Infallible>(handle(router, req).await) }
            });
            // hyper starts the header clock when it waits for a request,
            // so this is the idle timeout too; streaming answers and
            // hijacked connections are not affected.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
