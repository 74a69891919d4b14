//! `berth registry serve`: an OCI distribution-spec registry over HTTP.
//! Every request goes through one handler that parses the path
//! ([`crate::protocol::route`]) and dispatches on route and method; bodies
//! stream to disk, blobs stream from it (with `Range`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::protocol::{route, Code, RegistryError, Route};
use crate::storage::{digest, Storage};

/// Server settings.
#[derive(Debug, Default)]
pub struct Options {
    /// Refuse every write (push, delete) with DENIED.
    pub read_only: bool,
    /// Basic authentication for every request, from an htpasswd file.
    pub htpasswd: Option<crate::auth::Htpasswd>,
}

#[derive(Clone)]
struct App {
    storage: Arc<Storage>,
    options: Arc<Options>,
}

/// The registry's router.
pub fn router(storage: Storage, options: Options) -> Router {
    let app = App {
        storage: Arc::new(storage),
        options: Arc::new(options),
    };
    Router::new().fallback(handle).with_state(app)
}

type Result<T> = std::result::Result<T, RegistryError>;

fn error_response(e: &RegistryError) -> Response {
    let mut r = (e.status(), axum::Json(e.body())).into_response();
    api_version(r.headers_mut());
    r
}

fn api_version(h: &mut HeaderMap) {
    h.insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn handle(State(app): State<App>, req: Request) -> Response {
    if let Some(h) = &app.options.htpasswd {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !h.check(given) {
            let mut r = error_response(&RegistryError::new(
                Code::Unauthorized,
                "authentication required",
            ));
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"berth-registry\""),
            );
            return r;
        }
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let result = match route(&path) {
        Some(r) => dispatch(&app, r, &query, req).await,
        None => Err(RegistryError::new(
            Code::NameInvalid,
            format!("invalid path or repository name: {path}"),
        )
        .with_status(StatusCode::NOT_FOUND)),
    };
    match result {
        Ok(mut r) => {
            api_version(r.headers_mut());
            r
        }
        Err(e) => error_response(&e),
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

/// Percent-decoding of a query component (`+` is a space); invalid UTF-8
/// becomes U+FFFD rather than an error, as the names it feeds are checked later.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn writable(app: &App) -> Result<()> {
    if app.options.read_only {
        return Err(RegistryError::new(
            Code::Denied,
            "the registry is read-only",
        ));
    }
    Ok(())
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// `Range: 0-<last byte>` as the spec reports upload progress.
fn progress(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn accepted(name: &str, id: &str, size: u64) -> Response {
    let mut r = StatusCode::ACCEPTED.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, header_value(&upload_location(name, id)));
    h.insert(header::RANGE, header_value(&progress(size)));
    h.insert("Docker-Upload-UUID", header_value(id));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

fn created(location: String, digest: &str) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, header_value(&location));
    h.insert("Docker-Content-Digest", header_value(digest));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Appends the request body to an upload's data file; returns the new size.
async fn append(path: &std::path::Path, body: Body) -> Result<u64> {
    let io = |e: std::io::Error| {
        RegistryError::new(Code::BlobUploadInvalid, format!("writing the upload: {e}"))
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await
        .map_err(io)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            RegistryError::new(Code::BlobUploadInvalid, format!("reading the body: {e}"))
        })?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    Ok(size)
}

/// `Content-Range: <start>-<end>` of a chunk: it must continue the upload
/// at `size`, and its end is returned, to be checked against what arrives.
fn chunk_range(headers: &HeaderMap, size: u64) -> Result<Option<u64>> {
    let Some(range) = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let invalid = |why: String| RegistryError::new(Code::RangeInvalid, why);
    let (start, end) = range
        .trim_start_matches("bytes ")
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .ok_or_else(|| invalid(format!("invalid chunk range {range}")))?;
    if start != size {
        return Err(invalid(format!(
            "chunk range {range} does not continue the upload at {size}"
        )));
    }
    if end < start {
        return Err(invalid(format!("invalid chunk range {range}")));
    }
    Ok(Some(end))
}

/// Appends a chunk with its range checked: when fewer or more bytes came
/// than the range says, the chunk is undone and refused.
async fn append_chunk(
    path: &std::path::Path,
    body: Body,
    size: u64,
    end: Option<u64>,
) -> Result<u64> {
    let new_size = append(path, body).await?;
    if let Some(end) = end {
        if new_size != end + 1 {
            let undo = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(size));
            if let Err(e) = undo {
                tracing::warn!(error = %e, "undoing a refused chunk failed");
            }
            return Err(RegistryError::new(
                Code::RangeInvalid,
                format!(
                    "chunk range {size}-{end} does not match the {} bytes sent",
                    new_size - size
                ),
            ));
        }
    }
    Ok(new_size)
}

async fn dispatch(app: &App, r: Route, query: &str, req: Request) -> Result<Response> {
    let method = req.method().clone();
    let headers = req.headers().clone();
    let s = &app.storage;
    match (r, method) {
        (Route::Base, Method::GET | Method::HEAD) => Ok(axum::Json(json!({})).into_response()),
        (Route::Catalog, Method::GET) => {
            let all = s.catalog();
            Ok(paginate("repositories", None, all, query, "/v2/_catalog"))
        }
        (Route::Tags { name }, Method::GET) => {
            let tags = s.tags(&name)?;
            Ok(paginate(
                "tags",
                Some(&name),
                tags,
                query,
                &format!("/v2/{name}/tags/list"),
            ))
        }
        (Route::Manifest { name, reference }, m @ (Method::GET | Method::HEAD)) => {
            let man = s.manifest(&name, &reference)?;
            let mut r = if m == Method::HEAD {
                Response::new(Body::empty())
            } else {
                Response::new(Body::from(man.bytes.clone()))
            };
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, header_value(&man.media_type));
            h.insert(
                header::CONTENT_LENGTH,
                header_value(&man.bytes.len().to_string()),
            );
            h.insert(
                "Docker-Content-Digest",
                header_value(&man.digest.to_string()),
            );
            Ok(r)
        }
        (Route::Manifest { name, reference }, Method::PUT) => {
            writable(app)?;
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let bytes = axum::body::to_bytes(req.into_body(), crate::protocol::MANIFEST_LIMIT + 1)
                .await
                .map_err(|_| {
                    RegistryError::new(Code::SizeInvalid, "manifest too large")
                        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                })?;
            let st = s.clone();
            let (n, rf) = (name.clone(), reference.clone());
            let man = tokio::task::spawn_blocking(move || {
                st.put_manifest(&n, &rf, &bytes, &content_type)
            })
            .await
            .map_err(|e| {
                RegistryError::new(Code::Unsupported, e.to_string())
                    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            })??;
            let digest = man.digest.to_string();
            let mut r = created(format!("/v2/{name}/manifests/{digest}"), &digest);
            let v: serde_json::Value = serde_json::from_slice(&man.bytes).unwrap_or_default();
            if let Some(subject) = v["subject"]["digest"].as_str() {
                r.headers_mut().insert("OCI-Subject", header_value(subject));
            }
            Ok(r)
        }
        (Route::Manifest { name, reference }, Method::DELETE) => {
            writable(app)?;
            s.delete_manifest(&name, &reference)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        (Route::Blob { name, digest: d }, m @ (Method::GET | Method::HEAD)) => {
            let d = digest(&d)?;
            let (path, size) = s.blob(&name, &d)?;
            serve_blob(&path, size, &d.to_string(), m == Method::HEAD, &headers).await
        }
        (Route::Blob { name, digest: d }, Method::DELETE) => {
            writable(app)?;
            s.unlink_blob(&name, &digest(&d)?)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        (Route::StartUpload { name }, Method::POST) => {
            writable(app)?;
            if let (Some(mount), from) = (query_param(query, "mount"), query_param(query, "from")) {
                let d = digest(&mount)?;
                if let Some(from) = from.filter(|f| crate::protocol::valid_name(f)) {
                    if s.mount(&name, &from, &d)? {
                        return Ok(created(format!("/v2/{name}/blobs/{d}"), &d.to_string()));
                    }
                }
            }
            let id = s.start_upload(&name)?;
            let (path, _) = s.upload(&name, &id)?;
            let size = append(&path, req.into_body()).await?;
            match query_param(query, "digest") {
                Some(d) => {
                    let d = digest(&d)?;
                    // A monolithic upload that fails leaves nothing behind.
                    if let Err(e) = s.finish_upload(&name, &id, &d) {
                        let _ = s.cancel_upload(&name, &id);
                        return Err(e);
                    }
                    Ok(created(format!("/v2/{name}/blobs/{d}"), &d.to_string()))
                }
                None => Ok(accepted(&name, &id, size)),
            }
        }
        (Route::Upload { name, id }, Method::PATCH) => {
            writable(app)?;
            let (path, size) = s.upload(&name, &id)?;
            let end = chunk_range(&headers, size)?;
            let size = append_chunk(&path, req.into_body(), size, end).await?;
            Ok(accepted(&name, &id, size))
        }
        (Route::Upload { name, id }, Method::PUT) => {
            writable(app)?;
            let d = query_param(query, "digest").ok_or_else(|| {
                RegistryError::new(
                    Code::DigestInvalid,
                    "a digest is required to finish an upload",
                )
            })?;
            let d = digest(&d)?;
            let (path, size) = s.upload(&name, &id)?;
            let end = chunk_range(&headers, size)?;
            append_chunk(&path, req.into_body(), size, end).await?;
            let st = s.clone();
            let (n, i, dd) = (name.clone(), id.clone(), d.clone());
            tokio::task::spawn_blocking(move || st.finish_upload(&n, &i, &dd))
                .await
                .map_err(|e| {
                    RegistryError::new(Code::Unsupported, e.to_string())
                        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
                })??;
            Ok(created(format!("/v2/{name}/blobs/{d}"), &d.to_string()))
        }
        (Route::Upload { name, id }, Method::GET) => {
            let (_, size) = s.upload(&name, &id)?;
            let mut r = accepted(&name, &id, size);
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        (Route::Upload { name, id }, Method::DELETE) => {
            writable(app)?;
            s.cancel_upload(&name, &id)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Route::Referrers { name, digest: d }, Method::GET) => {
            let d = digest(&d)?;
            let filter = query_param(query, "artifactType");
            let index = s.referrers(&name, &d, filter.as_deref());
            let mut r = axum::Json(index).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::protocol::OCI_INDEX),
            );
            if filter.is_some() {
                r.headers_mut().insert(
                    "OCI-Filters-Applied",
                    HeaderValue::from_static("artifactType"),
                );
            }
            Ok(r)
        }
        (_, m) => Err(RegistryError::new(
            Code::Unsupported,
            format!("{m} is not supported on this path"),
        )),
    }
}

/// `n` and `last` pagination with a `Link` header to the next page.
fn paginate(key: &str, name: Option<&str>, all: Vec<String>, query: &str, path: &str) -> Response {
    let last = query_param(query, "last");
    let n = query_param(query, "n").and_then(|n| n.parse::<usize>().ok());
    let rest: Vec<String> = all
        .into_iter()
        .filter(|x| last.as_ref().is_none_or(|l| x.as_str() > l.as_str()))
        .collect();
    let (page, more) = match n {
        Some(n) => (
            rest.iter().take(n).cloned().collect::<Vec<_>>(),
            rest.len() > n,
        ),
        None => (rest, false),
    };
    let mut body = json!({ key: page });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let next = page.last().cloned();
    let mut r = axum::Json(body).into_response();
    if let (true, Some(next), Some(n)) = (more, next, n) {
        r.headers_mut().insert(
            header::LINK,
            header_value(&format!("<{path}?n={n}&last={next}>; rel=\"next\"")),
        );
    }
    r
}

/// A blob, whole or the `Range` asked for.
async fn serve_blob(
    path: &std::path::Path,
    size: u64,
    digest: &str,
    head: bool,
    headers: &HeaderMap,
) -> Result<Response> {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, ""));
            let start = a.parse::<u64>().ok();
            let end = if b.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                b.parse::<u64>().ok()
            };
            (start, end)
        });
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some((Some(a), Some(b))) if a <= b && b < size => {
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Some(_) => {
            return Err(RegistryError::new(
                Code::RangeInvalid,
                format!("invalid range for a blob of {size} bytes"),
            ))
        }
    };
    let body = if head {
        Body::empty()
    } else {
        let io = |e: std::io::Error| {
            RegistryError::new(Code::BlobUnknown, format!("reading the blob: {e}"))
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io)?;
        let reader = tokio::io::AsyncReadExt::take(file, len);
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            reader,
            256 * 1024,
        ))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, header_value(&len.to_string()));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("Docker-Content-Digest", header_value(digest));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{size}", start + len - 1)),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_image::Digest;
    use tower::ServiceExt;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        (status, headers, bytes)
    }

    #[tokio::test]
    async fn push_pull_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(
            Storage::open(dir.path()).unwrap(),
            Options {
                read_only: false,
                htpasswd: None,
            },
        );
        let (st, h, _) = call(&app, "GET", "/v2/", vec![], &[]).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(h["Docker-Distribution-API-Version"], "registry/2.0");
        // Chunked upload of the layer.
        let layer = b"hello layer".to_vec();
        let ld = Digest::of_bytes(&layer);
        let (st, h, _) = call(&app, "POST", "/v2/lib/app/blobs/uploads/", vec![], &[]).await;
        assert_eq!(st, StatusCode::ACCEPTED);
        let loc = h["location"].to_str().unwrap().to_string();
        let (st, h, _) = call(
            &app,
            "PATCH",
            &loc,
            layer[..5].to_vec(),
            &[("content-range", "0-4")],
        )
        .await;
        assert_eq!(
            (st, h["range"].to_str().unwrap()),
            (StatusCode::ACCEPTED, "0-4")
        );
        let (st, _, body) = call(
            &app,
            "PATCH",
            &loc,
            layer[5..].to_vec(),
            &[("content-range", "0-4")],
        )
        .await;
        assert_eq!(
            st,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{}",
            String::from_utf8_lossy(&body)
        );
        // A range that claims more (or fewer) bytes than came is refused
        // and the chunk undone.
        for bad in ["5-1000000000000", "5-6", "5-4", "x-y"] {
            let (st, _, body) = call(
                &app,
                "PATCH",
                &loc,
                layer[5..].to_vec(),
                &[("content-range", bad)],
            )
            .await;
            assert_eq!(
                st,
                StatusCode::RANGE_NOT_SATISFIABLE,
                "{bad}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (st, h, _) = call(
            &app,
            "PATCH",
            &loc,
            layer[5..].to_vec(),
            &[("content-range", "5-10")],
        )
        .await;
        assert_eq!(
            (st, h["range"].to_str().unwrap()),
            (StatusCode::ACCEPTED, "0-10")
        );
        let (st, _, _) = call(&app, "GET", &loc, vec![], &[]).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, h, _) = call(&app, "PUT", &format!("{loc}?digest={ld}"), vec![], &[]).await;
        assert_eq!(st, StatusCode::CREATED);
        assert_eq!(h["docker-content-digest"], ld.to_string().as_str());
        // Monolithic upload of the config.
        let config = b"{}".to_vec();
        let cd = Digest::of_bytes(&config);
        let (st, _, _) = call(
            &app,
            "POST",
            &format!("/v2/lib/app/blobs/uploads/?digest={cd}"),
            config.clone(),
            &[],
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, h, body) = call(
            &app,
            "GET",
            &format!("/v2/lib/app/blobs/{ld}"),
            vec![],
            &[("range", "bytes=6-10")],
        )
        .await;
        assert_eq!(
            (st, body.as_slice()),
            (StatusCode::PARTIAL_CONTENT, &b"layer"[..])
        );
        assert_eq!(h["content-range"], "bytes 6-10/11");
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": 11}]})).unwrap();
        let (st, h, _) = call(
            &app,
            "PUT",
            "/v2/lib/app/manifests/v1",
            manifest.clone(),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let md = Digest::of_bytes(&manifest).to_string();
        assert_eq!(h["docker-content-digest"], md.as_str());
        let (st, h, body) = call(&app, "GET", "/v2/lib/app/manifests/v1", vec![], &[]).await;
        assert_eq!((st, body), (StatusCode::OK, manifest.clone()));
        assert_eq!(
            h["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        // Cross-repository mount.
        let (st, _, _) = call(
            &app,
            "POST",
            &format!("/v2/other/blobs/uploads/?mount={ld}&from=lib/app"),
            vec![],
            &[],
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        // Tags with pagination, catalog.
        for t in ["v2", "v3"] {
            call(
                &app,
                "PUT",
                &format!("/v2/lib/app/manifests/{t}"),
                manifest.clone(),
                &[],
            )
            .await;
        }
        let (_, h, body) = call(&app, "GET", "/v2/lib/app/tags/list?n=2", vec![], &[]).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["tags"], json!(["v1", "v2"]));
        assert!(h["link"].to_str().unwrap().contains("last=v2"));
        let (_, _, body) = call(&app, "GET", "/v2/_catalog", vec![], &[]).await;
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["repositories"],
            json!(["lib/app"])
        );
        // Errors in the spec's shape.
        let (st, _, body) = call(&app, "GET", "/v2/lib/app/manifests/nope", vec![], &[]).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["errors"][0]["code"],
            "MANIFEST_UNKNOWN"
        );
        let (st, _, _) = call(
            &app,
            "GET",
            &format!("/v2/lib/app/blobs/{}", Digest::of_bytes(b"x")),
            vec![],
            &[],
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _, _) = call(
            &app,
            "DELETE",
            &format!("/v2/lib/app/manifests/{md}"),
            vec![],
            &[],
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED);
        let ro = router(
            Storage::open(dir.path()).unwrap(),
            Options {
                read_only: true,
                htpasswd: None,
            },
        );
        let (st, _, _) = call(&ro, "POST", "/v2/lib/app/blobs/uploads/", vec![], &[]).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn basic_auth_guards_every_route() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("pw", 4).unwrap();
        let htpasswd = crate::auth::Htpasswd::parse(&format!("u:{hash}")).unwrap();
        let app = router(
            Storage::open(dir.path()).unwrap(),
            Options {
                read_only: false,
                htpasswd: Some(htpasswd),
            },
        );
        let (st, h, body) = call(&app, "GET", "/v2/", vec![], &[]).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_eq!(h["www-authenticate"], "Basic realm=\"berth-registry\"");
        assert!(String::from_utf8_lossy(&body).contains("UNAUTHORIZED"));
        use base64::Engine;
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:pw")
        );
        let (st, _, _) = call(&app, "GET", "/v2/", vec![], &[("authorization", &good)]).await;
        assert_eq!(st, StatusCode::OK);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("sha256%3Aab"), "sha256:ab");
        assert_eq!(percent_decode("a%2"), "a%2");
        // A `%` followed by a multibyte character once sliced the str inside it
        // and panicked (found by the registry_server fuzz target).
        assert_eq!(percent_decode("e%+\u{6db}x"), "e% \u{6db}x");
        assert_eq!(percent_decode("%\u{6db}"), "%\u{6db}");
        assert_eq!(percent_decode("a+b%2Bc"), "a b+c");
        assert_eq!(query_param("n=2&last=v%31", "last").as_deref(), Some("v1"));
    }
}
