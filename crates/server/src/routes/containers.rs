//! `/containers/...`: create, start, wait, list, inspect, logs, delete, attach.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use berth_api::container::{CreateRequest, CreateResponse};
use berth_api::versioned;
use berth_engine::container::logs::{LogOptions, StartAt};
use berth_engine::container::{ListOptions, WaitCondition};
use berth_engine::Engine;

use crate::api_version::RequestVersion;
use crate::error::{ApiError, ApiResult};
use crate::hijack::{self, stream_content_type, switching_protocols};
use crate::json_body;
use crate::params::Params;
use crate::stream::{body_from, json_line};

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/export", get(export))
        .route(
            "/containers/{id}/archive",
            get(archive_get).head(archive_head).put(archive_put),
        )
        .route("/commit", post(commit))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/update", post(update))
        .route("/containers/{id}/stats", get(stats))
        .route("/containers/{id}", delete(remove))
        .route("/containers/{id}/{alias}", delete(remove_link))
}

/// `t` (or `timeout` on old clients) in seconds.
fn stop_timeout(params: &Params) -> ApiResult<Option<i64>> {
    match params.number::<i64>("t")? {
        Some(t) => Ok(Some(t)),
        None => params.number::<i64>("timeout"),
    }
}

/// `signal` of stop and restart, read from API 1.42 as dockerd reads it.
fn stop_signal(params: &Params, version: berth_api::ApiVersion) -> Option<&str> {
    (version
        >= berth_api::ApiVersion {
            major: 1,
            minor: 42,
        })
    .then(|| params.get("signal"))
    .flatten()
}

async fn stop(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    engine
        .containers
        .stop(&id, stop_timeout(&params)?, stop_signal(&params, version))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    engine.containers.kill(&id, params.get("signal")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    engine
        .containers
        .restart(&id, stop_timeout(&params)?, stop_signal(&params, version))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    engine
        .containers
        .rename(&id, params.get("name").unwrap_or(""))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn top(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let result = engine
        .containers
        .top(&id, params.get("ps_args").unwrap_or(""))
        .await?;
    Ok(Json(result).into_response())
}

async fn changes(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(engine.containers.changes(&id).await?).into_response())
}

async fn prune(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let (deleted, reclaimed) = engine.containers.prune(&params.filters()?).await?;
    Ok(Json(berth_api::container::ContainerPrune {
        containers_deleted: deleted,
        space_reclaimed: reclaimed,
    })
    .into_response())
}

async fn create(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let mut req: CreateRequest = json_body::read(&headers, &body)?.ok_or_else(|| {
        ApiError::bad_request("config cannot be empty in order to create a container")
    })?;
    versioned::adapt_create(version, &mut req).map_err(ApiError::bad_request)?;
    if let Some(p) = params.platform()? {
        let (_, host_arch) = berth_engine::images::host_platform();
        if !p.architecture.is_empty() && p.architecture != host_arch {
            return Err(ApiError::bad_request(format!(
                "platform linux/{} is not supported: containers here run linux/{host_arch}",
                p.architecture
            )));
        }
    }
    let (id, warnings) = engine
        .containers
        .create(req, params.get("name").map(str::to_string))
        .await?;
    Ok((StatusCode::CREATED, Json(CreateResponse { id, warnings })).into_response())
}

async fn start(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.containers.start(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answers with headers at once and the body when the condition is met:
/// clients send `wait` before `start` and block on the headers.
async fn wait(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let condition: WaitCondition = params.get("condition").unwrap_or("").parse()?;
    engine.containers.get(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let line = match engine.containers.wait(&id, condition).await {
            Ok(r) => json_line(&r),
            Err(e) => json_line(
                &serde_json::json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
            ),
        };
        let _ = tx.send(line).await;
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body_from(rx)).into_response())
}

async fn list(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let params = Params::parse(q.as_deref());
    let limit: Option<i64> = params.number("limit")?;
    let opts = ListOptions {
        all: params.flag("all"),
        limit: limit.filter(|l| *l > 0).map(|l| l as usize),
        filters: params.filters()?,
    };
    Ok(Json(
        engine
            .containers
            .list(&opts)?
            .iter()
            .map(|s| versioned::container_summary_for(version, s))
            .collect(),
    ))
}

async fn inspect(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(versioned::container_inspect_for(
        version,
        &engine.containers.inspect(&id)?,
    )))
}

async fn remove(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    if params.flag("link") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Conflict, cannot remove the default link name of the container",
        ));
    }
    engine
        .containers
        .remove(&id, params.flag("force"), params.flag("v"))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/{owner}/{alias}?link=1` (`docker rm -l`).
async fn remove_link(
    State(engine): State<Engine>,
    Path((owner, alias)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    if !Params::parse(q.as_deref()).flag("link") {
        return Err(ApiError::not_found(format!(
            "No such container: {owner}/{alias}"
        )));
    }
    engine.containers.remove_link(&owner, &alias)?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_time(v: Option<&str>, key: &str) -> ApiResult<Option<f64>> {
    match v {
        None | Some("") | Some("0") => Ok(None),
        Some(s) => berth_engine::time::parse_docker(s)
            .map(|t| Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9))
            .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {s}"))),
    }
}

async fn logs(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let (stdout, stderr) = (params.flag("stdout"), params.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match params.get("tail") {
        None | Some("") | Some("all") => None,
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for tail: {n}")))?,
        ),
    }
    .map(|n| n.max(0) as usize);
    let opts = LogOptions {
        stdout,
        stderr,
        follow: params.flag("follow"),
        tail,
        timestamps: params.flag("timestamps"),
        since: parse_time(params.get("since"), "since")?,
        until: parse_time(params.get("until"), "until")?,
    };
    let tty = engine.containers.get(&id)?.record().config.tty;
    let rx = engine
        .containers
        .log_stream(&id, opts, StartAt::Beginning)?;
    let mut r = body_from(rx).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, stream_content_type(tty, version));
    Ok(r)
}

/// Hijacks the connection (`101 UPGRADED`) and joins it to the
/// container's monitor: output out, stdin in (when asked and the container
/// keeps stdin open), detach keys. Clients that do not ask for an upgrade
/// get the output as a plain 200 body.
async fn attach(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    use berth_engine::container::attach::AttachOptions;
    let params = Params::parse(req.uri().query());
    let (stdout, stderr) = (params.flag("stdout"), params.flag("stderr"));
    let opts = AttachOptions {
        stdin: params.flag("stdin"),
        // Docker streams both when neither is named.
        stdout: stdout || !stderr,
        stderr: stderr || !stdout,
        logs: params.flag("logs"),
        stream: params.flag("stream"),
        detach_keys: params.get("detachKeys").map(str::to_string),
    };
    if !opts.stream && !opts.logs {
        return Err(ApiError::bad_request("attach needs stream=1 or logs=1"));
    }
    let ticket = engine.containers.prepare_attach(&id, opts)?;
    let tty = ticket.tty();
    let upgrade_requested = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    if !upgrade_requested {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(ticket.run(theirs));
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(ours));
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, hijack::UNUPGRADED_CONTENT_TYPE);
        return Ok(r);
    }
    let upgraded = hijack::upgraded(&mut req, "attach");
    tokio::spawn(async move {
        if let Some(io) = upgraded.await {
            ticket.run(io).await;
        }
    });
    Ok(switching_protocols(tty, version))
}

/// `h`/`w` of the resize endpoints.
/// `h` and `w` of a resize, as dockerd reads them (unsigned 32-bit, its
/// error words); sizes past what a terminal holds are capped.
pub fn resize_params(params: &Params) -> ApiResult<(u16, u16)> {
    let read = |key: &str, what: &str| -> ApiResult<u16> {
        let raw = params.get(key).unwrap_or("");
        let (digits, negative) = match raw.strip_prefix('-') {
            Some(d) => (d, true),
            None => (raw, false),
        };
        let why = if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            Some("invalid syntax")
        } else if negative || digits.parse::<u32>().is_err() {
            Some("value out of range")
        } else {
            None
        };
        match why {
            Some(why) => Err(ApiError::bad_request(format!(
                "invalid resize {what} {raw:?}: {why}"
            ))),
            None => Ok(digits
                .parse::<u32>()
                .map_or(u16::MAX, |v| v.min(u32::from(u16::MAX)) as u16)),
        }
    };
    Ok((read("h", "height")?, read("w", "width")?))
}

async fn resize(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let (h, w) = resize_params(&Params::parse(q.as_deref()))?;
    engine.containers.resize(&id, h, w).await?;
    Ok(StatusCode::OK)
}

fn archive_path_param(params: &Params) -> ApiResult<String> {
    match params.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path parameter is required")),
    }
}

use berth_api::container::PATH_STAT_HEADER;

async fn archive_head(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let path = archive_path_param(&Params::parse(q.as_deref()))?;
    let stat = engine.containers.stat_path(&id, &path).await?;
    let mut r = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&stat.to_header()) {
        r.headers_mut().insert(PATH_STAT_HEADER, v);
    }
    Ok(r)
}

async fn archive_get(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let path = archive_path_param(&Params::parse(q.as_deref()))?;
    // Stat first, so a missing path is a 404 before the body starts.
    let stat = engine.containers.stat_path(&id, &path).await?;
    let (writer, body) = crate::stream::BodyWriter::new();
    let containers = engine.containers.clone();
    tokio::spawn(async move {
        if let Err(e) = containers.archive_path(&id, &path, Box::new(writer)).await {
            tracing::warn!(error = %e, "archiving a container path failed mid-stream");
        }
    });
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&stat.to_header()) {
        r.headers_mut().insert(PATH_STAT_HEADER, v);
    }
    Ok(r)
}

async fn archive_put(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> ApiResult<StatusCode> {
    let params = Params::parse(q.as_deref());
    let path = archive_path_param(&params)?;
    engine
        .containers
        .extract_to(
            &id,
            &path,
            Box::new(crate::stream::BodyReader::new(body)),
            params.flag("noOverwriteDirNonDir"),
            params.flag("copyUIDGID"),
        )
        .await?;
    Ok(StatusCode::OK)
}

async fn export(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Response> {
    engine.containers.get(&id)?;
    let (writer, body) = crate::stream::BodyWriter::new();
    let containers = engine.containers.clone();
    tokio::spawn(async move {
        if let Err(e) = containers.export(&id, Box::new(writer)).await {
            tracing::warn!(error = %e, "exporting a container failed mid-stream");
        }
    });
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(r)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=`.
async fn commit(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let container = params
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("container parameter is required"))?;
    let reference = params.repo_tag()?;
    let id = engine
        .containers
        .commit(
            container,
            reference,
            params.get("author").unwrap_or("").to_string(),
            params.get("comment").unwrap_or("").to_string(),
            params
                .all("changes")
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            params.flag_or("pause", true),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"Id": id}))).into_response())
}

async fn pause(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.containers.pause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpause(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.containers.unpause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: berth_engine::container::resources::UpdateRequest =
        json_body::read_or_default(&headers, &body)?;
    let warnings = engine.containers.update_resources(&id, req).await?;
    Ok(Json(berth_api::container::UpdateResponse { warnings }).into_response())
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: one JSON object per
/// second while streaming; otherwise one, with `precpu_stats` from a sample
/// a second earlier unless `one-shot`.
async fn stats(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    use berth_engine::container::resources::{now, stats_json};
    let params = Params::parse(q.as_deref());
    let stream = params.flag_or("stream", true);
    let one_shot = params.flag("one-shot");
    let (rec, first) = engine.containers.sample(&id).await?;
    let first_at = now();
    if !stream {
        let value = if one_shot {
            stats_json(
                &first,
                None,
                &first_at,
                berth_engine::time::ZERO,
                &rec.name,
                &rec.id,
            )
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let (rec, second) = engine.containers.sample(&id).await?;
            stats_json(&second, Some(&first), &now(), &first_at, &rec.name, &rec.id)
        };
        return Ok(Json(value).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut pre = (first, first_at);
        if tx
            .send(json_line(&stats_json(
                &pre.0,
                None,
                &pre.1,
                berth_engine::time::ZERO,
                &rec.name,
                &rec.id,
            )))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = tx.closed() => return,
            }
            let Ok((rec, cur)) = engine.containers.sample(&id).await else {
                return;
            };
            let at = now();
            if tx
                .send(json_line(&stats_json(
                    &cur,
                    Some(&pre.0),
                    &at,
                    &pre.1,
                    &rec.name,
                    &rec.id,
                )))
                .await
                .is_err()
            {
                return;
            }
            pre = (cur, at);
        }
    });
    let mut r = body_from(rx).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
