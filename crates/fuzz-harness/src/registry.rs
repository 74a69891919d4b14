//! The registry server (`berth registry serve`) answering a sequence of
//! requests against a scratch storage directory.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use berth_registry::server::{router, Options};
use berth_registry::storage::Storage;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::scratch;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("starting a runtime: {e}"))
    })
}

/// One request of the input: `METHOD /path`, header lines, an empty line,
/// the body. `None` for text that is no request.
fn request(chunk: &[u8]) -> Option<Request<Body>> {
    let split = chunk
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(chunk.len());
    let head = std::str::from_utf8(&chunk[..split]).ok()?;
    let body = chunk.get(split + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let mut b = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(path);
    for line in lines {
        let (k, v) = line.split_once(':')?;
        b = b.header(k.trim(), v.trim());
    }
    b.body(Body::from(body)).ok()
}

/// Up to 16 requests, split at NUL bytes. No answer is a server error, and
/// no answer shows where the storage lives.
pub fn registry_server(data: &[u8]) {
    let dir = scratch();
    let storage = Storage::open(dir.path().join("registry"))
        .unwrap_or_else(|e| panic!("opening scratch storage: {e}"));
    let app = router(storage, Options::default());
    let root = dir.path().to_string_lossy().into_owned();
    for chunk in data.split(|b| *b == 0).take(16) {
        let Some(req) = request(chunk) else { continue };
        let shown = format!("{} {}", req.method(), req.uri());
        runtime().block_on(async {
            let Ok(resp) = app.clone().oneshot(req).await;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            assert!(
                status < StatusCode::INTERNAL_SERVER_ERROR,
                "{shown} answered {status}: {text}"
            );
            assert!(
                !text.contains(&root),
                "{shown} showed the storage path: {text}"
            );
        });
    }
}
