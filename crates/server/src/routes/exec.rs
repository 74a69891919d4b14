//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (attached
//! through an upgrade, or detached), inspect, resize.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::exec::{ExecCreate, ExecStart, IdResponse};
use berth_engine::monitor_io::{self, BridgeOptions};
use berth_engine::Engine;

use crate::api_version::RequestVersion;
use crate::error::{ApiError, ApiResult};
use crate::hijack::{self, switching_protocols};
use crate::json_body;
use crate::params::Params;
use crate::routes::containers::resize_params;

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/json", get(inspect))
        .route("/exec/{id}/resize", post(resize))
}

async fn create(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: ExecCreate = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("exec config cannot be empty"))?;
    let exec_id = engine.containers.exec_create(&id, req)?;
    Ok((StatusCode::CREATED, Json(IdResponse { id: exec_id })).into_response())
}

async fn start(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    let bytes = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let body: ExecStart = json_body::read_or_default(req.headers(), &bytes)?;
    let upgrade_requested = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    let started = match engine.containers.exec_start(&id, body.detach).await {
        Ok(s) => s,
        // Docker answers an attached start that fails to exec with the
        // upgrade, the message on the stream, and the code in inspect.
        Err(berth_engine::Error::StartFailed { message, exit_code })
            if upgrade_requested && !body.detach =>
        {
            engine.containers.exec_record_failure(&id, exit_code);
            let upgraded = hijack::upgraded(&mut req, "exec");
            let tty = body.tty;
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                if let Some(mut io) = upgraded.await {
                    let text = format!("OCI runtime exec failed: {message}: unknown\r\n");
                    let mut out = Vec::new();
                    if !tty {
                        out.extend_from_slice(&[2, 0, 0, 0]);
                        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
                    }
                    out.extend_from_slice(text.as_bytes());
                    let _ = io.write_all(&out).await;
                    let _ = io.shutdown().await;
                }
            });
            return Ok(switching_protocols(tty, version));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(conn) = started.conn else {
        return Ok(StatusCode::OK.into_response());
    };
    let ex = started.entry.create.clone();
    let keys = if ex.detach_keys.is_empty() {
        monitor_io::DEFAULT_DETACH_KEYS.to_vec()
    } else {
        monitor_io::parse_detach_keys(&ex.detach_keys).map_err(ApiError::bad_request)?
    };
    let exec_id = id.clone();
    let containers = engine.containers.clone();
    let record = move |end: &monitor_io::BridgeEnd| {
        if let monitor_io::BridgeEnd::Exited(Some(event)) = end {
            containers.exec_record_exit(&exec_id, event);
        }
    };
    let opts = BridgeOptions {
        tty: body.tty,
        stdin: ex.attach_stdin,
        stdout: ex.attach_stdout || !ex.attach_stderr,
        stderr: ex.attach_stderr || !ex.attach_stdout,
        detach_keys: keys,
        report_failure: true,
    };
    if !upgrade_requested {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move { monitor_io::bridge_then(theirs, conn, opts, record).await });
        let mut r = Body::from_stream(tokio_util::io::ReaderStream::new(ours)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, hijack::UNUPGRADED_CONTENT_TYPE);
        return Ok(r);
    }
    let upgraded = hijack::upgraded(&mut req, "exec");
    tokio::spawn(async move {
        if let Some(io) = upgraded.await {
            monitor_io::bridge_then(io, conn, opts, record).await;
        }
    });
    Ok(switching_protocols(body.tty, version))
}

async fn inspect(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(engine.containers.exec_inspect(&id)?).into_response())
}

async fn resize(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let (h, w) = resize_params(&Params::parse(q.as_deref()))?;
    engine.containers.exec_resize(&id, h, w).await?;
    Ok(StatusCode::OK)
}
