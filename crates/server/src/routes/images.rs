//! `/images/...`: list, inspect, tag, delete, load, save, import.
//!
//! Image names contain slashes (`localhost:5000/a/b:1`), so everything under
//! `/images/` is routed through one dispatcher that splits off the action.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::image::{DeleteItem, ImageInspect, ImageSummary, StreamMessage};
use berth_api::ApiVersion;
use berth_engine::images::{ImageInfo, ImportOptions, Removed};
use berth_engine::Engine;
use serde_json::{json, Value};

use crate::api_version::{ImageShapeVersion, RequestVersion};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::stream::{json_line, BodyReader, BodyWriter};

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/load", post(load))
        .route("/images/get", get(save_many))
        .route("/images/create", post(create))
        .route("/images/prune", post(prune))
        .route("/images/search", get(search))
        .route("/distribution/{*rest}", get(distribution))
        .route(
            "/images/{*rest}",
            get(dispatch).post(dispatch).delete(dispatch),
        )
}

/// `GET /distribution/{name}/json`: the registry's descriptor and
/// platforms for a name.
async fn distribution(
    State(engine): State<Engine>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let name = rest
        .strip_suffix("/json")
        .ok_or_else(|| ApiError::not_found(format!("page not found: GET /distribution/{rest}")))?;
    let answer = berth_engine::pull::distribution_inspect(
        &engine.images,
        name,
        registry_auth(&headers),
        &engine.config.insecure_registries,
    )
    .await?;
    Ok(Json(answer).into_response())
}

/// `GET /images/search`: not implemented yet, and said so.
async fn search() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        "searching registries is not supported yet",
    )
}

/// `Created` as unix seconds (0 when unknown), as list and df show it.
fn created_unix(info: &ImageInfo) -> i64 {
    info.created
        .as_deref()
        .and_then(berth_engine::time::parse)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

pub(crate) fn summary(info: &ImageInfo) -> ImageSummary {
    ImageSummary {
        id: info.id.clone(),
        parent_id: info.parent.clone(),
        repo_tags: info.repo_tags.clone(),
        repo_digests: info.repo_digests.clone(),
        created: created_unix(info),
        size: info.size as i64,
        shared_size: -1,
        labels: info.labels.clone(),
        containers: -1,
    }
}

async fn list(
    State(engine): State<Engine>,
    RequestVersion(version): RequestVersion,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<Value>>> {
    let params = Params::parse(q.as_deref());
    let filters = berth_engine::filters::Args::from(&params.filters()?);
    let images = engine
        .images
        .list_filtered(filters, params.flag("all"))
        .await?;
    Ok(Json(
        images
            .iter()
            .map(|i| berth_api::image::summary_for(version, &summary(i)))
            .collect(),
    ))
}

async fn dispatch(
    State(engine): State<Engine>,
    ImageShapeVersion(version): ImageShapeVersion,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
) -> Response {
    let params = Params::parse(q.as_deref());
    let result = if method == Method::DELETE {
        delete(&engine, &rest, &params).await
    } else if let Some(name) = rest.strip_suffix("/json").filter(|_| method == Method::GET) {
        inspect(&engine, name, version).await
    } else if let Some(name) = rest.strip_suffix("/tag").filter(|_| method == Method::POST) {
        tag(&engine, name, &params).await
    } else if let Some(name) = rest
        .strip_suffix("/push")
        .filter(|_| method == Method::POST)
    {
        push(&engine, name, &params, &headers).await
    } else if let Some(name) = rest
        .strip_suffix("/history")
        .filter(|_| method == Method::GET)
    {
        history(&engine, name).await
    } else if let Some(name) = rest.strip_suffix("/get").filter(|_| method == Method::GET) {
        save(&engine, vec![name.to_string()]).await
    } else {
        Err(ApiError::not_found(format!(
            "page not found: {method} /images/{rest}"
        )))
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /images/{name}/history`.
async fn history(engine: &Engine, name: &str) -> ApiResult<Response> {
    Ok(Json(engine.images.history(name).await?).into_response())
}

async fn inspect(engine: &Engine, name: &str, version: ApiVersion) -> ApiResult<Response> {
    let info = engine.images.resolve(name).await?;
    let config = engine.images.config_json(&info.id).await?;
    let field = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let comment = config
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.last())
        .and_then(|h| h.get("comment"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let body = ImageInspect {
        id: info.id.clone(),
        repo_tags: info.repo_tags.clone(),
        repo_digests: info.repo_digests.clone(),
        parent: info.parent.clone(),
        comment,
        created: info.created.clone().unwrap_or_default(),
        docker_version: field("docker_version"),
        author: field("author"),
        config: config.get("config").cloned().unwrap_or(Value::Null),
        architecture: field("architecture"),
        os: field("os"),
        size: info.size as i64,
        graph_driver: json!({"Name": "overlay", "Data": null}),
        root_fs: json!({"Type": "layers", "Layers": info.layers}),
        metadata: json!({"LastTagTime": "0001-01-01T00:00:00Z"}),
    };
    Ok(Json(berth_api::image::inspect_for(
        version,
        &body,
        config.get("container_config"),
    ))
    .into_response())
}

async fn tag(engine: &Engine, name: &str, params: &Params) -> ApiResult<Response> {
    let target = params
        .repo_tag()?
        .ok_or_else(|| ApiError::bad_request("repository name must have at least one component"))?;
    engine.images.tag(name, &target).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn delete(engine: &Engine, name: &str, params: &Params) -> ApiResult<Response> {
    let containers = engine.containers.clone();
    let used_by = std::sync::Arc::new(move |id: &str| containers.user_of_image(id));
    let removed = engine
        .images
        .remove_with_parents(name, params.flag("force"), params.flag("noprune"), used_by)
        .await?;
    let items: Vec<DeleteItem> = removed
        .into_iter()
        .map(|r| match r {
            Removed::Untagged(t) => DeleteItem::Untagged(t),
            Removed::Deleted(d) => DeleteItem::Deleted(d),
        })
        .collect();
    Ok(Json(items).into_response())
}

/// `POST /images/load`: as dockerd, always a `200` JSON stream; a failed
/// load ends it with an `errorDetail` message.
async fn load(State(engine): State<Engine>, body: Body) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match engine.images.load(Box::new(BodyReader::new(body))).await {
        Ok(loaded) => {
            let mut out = Vec::new();
            for l in loaded {
                if l.tags.is_empty() {
                    out.extend_from_slice(&json_line(&StreamMessage::stream(format!(
                        "Loaded image ID: {}\n",
                        l.id
                    ))));
                }
                for t in l.tags {
                    out.extend_from_slice(&json_line(&StreamMessage::stream(format!(
                        "Loaded image: {t}\n"
                    ))));
                }
            }
            (json, out).into_response()
        }
        Err(e) => (json, json_line(&StreamMessage::error(e.to_string()))).into_response(),
    }
}

async fn save_many(State(engine): State<Engine>, RawQuery(q): RawQuery) -> Response {
    let names = Params::parse(q.as_deref()).all("names");
    save(&engine, names)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn save(engine: &Engine, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    for n in &names {
        engine.images.resolve(n).await?;
    }
    let (writer, body) = BodyWriter::new();
    let images = engine.images.clone();
    tokio::spawn(async move {
        if let Err(e) = images.save(names, Box::new(writer)).await {
            tracing::warn!(error = %e, "saving images failed mid-stream");
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

/// `X-Registry-Auth`: base64url JSON `{"username","password",...}`.
pub fn registry_auth(
    headers: &axum::http::HeaderMap,
) -> Option<berth_registry::client::Credentials> {
    let text = headers.get("x-registry-auth")?.to_str().ok()?;
    let auth = berth_api::auth::AuthConfig::from_header(text)?;
    (!auth.username.is_empty()).then_some(berth_registry::client::Credentials {
        username: auth.username,
        password: auth.password,
    })
}

/// What a build message counts for in its backlog: its text, and about
/// what a JSON value holding it costs besides.
pub(super) fn message_len(m: &Value) -> usize {
    256 + m["stream"].as_str().map_or(0, str::len)
}

/// Streams a pull's or push's progress. Errors before any layer work (only
/// `intro` messages so far) are an HTTP error, as Docker's "pull access
/// denied"; after that, progress streams as JSON lines and a failure ends
/// the stream with an `error` message.
pub(super) async fn progress_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Value>,
    task: tokio::task::JoinHandle<Result<T, berth_engine::Error>>,
    intro: &str,
    backlog: Option<berth_engine::build::Backlog>,
) -> Response {
    let mut buffered = std::collections::VecDeque::new();
    while let Some(m) = rx.recv().await {
        let early = m["status"].as_str().is_some_and(|s| s.starts_with(intro));
        buffered.push_back(m);
        if !early {
            break;
        }
    }
    let running = if rx.is_closed() && rx.is_empty() {
        match task.await {
            Ok(Err(e)) => return ApiError::from(e).into_response(),
            Err(e) => return ApiError::internal(format!("task failed: {e}")).into_response(),
            Ok(Ok(_)) => None,
        }
    } else {
        Some(task)
    };
    let stream = futures_util::stream::unfold(
        (buffered, rx, running),
        move |(mut buffered, mut rx, mut task)| {
            let backlog = backlog.clone();
            async move {
                let took = |m: &Value| {
                    if let Some(b) = &backlog {
                        b.taken(message_len(m));
                    }
                };
                if let Some(m) = buffered.pop_front() {
                    took(&m);
                    return Some((Ok::<_, std::io::Error>(json_line(&m)), (buffered, rx, task)));
                }
                if let Some(m) = rx.recv().await {
                    took(&m);
                    return Some((Ok(json_line(&m)), (buffered, rx, task)));
                }
                let outcome = task.take()?.await;
                let (message, code) = match outcome {
                    Ok(Ok(_)) => return None,
                    Ok(Err(berth_engine::Error::BuildFailed { message, code })) => {
                        (message, Some(code))
                    }
                    Ok(Err(e)) => (e.to_string(), None),
                    Err(e) => (format!("task failed: {e}"), None),
                };
                // Docker's JSON error carries a failed RUN's exit code.
                let detail = match code {
                    Some(code) => json!({"code": code, "message": message}),
                    None => json!({"message": message}),
                };
                let line = json_line(&json!({"errorDetail": detail, "error": message}));
                Some((Ok(line), (buffered, rx, None)))
            }
        },
    );
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn pull(engine: Engine, req: berth_engine::pull::PullRequest) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let task = tokio::spawn(async move { engine.images.pull(req, tx).await });
    progress_stream(rx, task, "Pulling from", None).await
}

async fn push(
    engine: &Engine,
    name: &str,
    params: &Params,
    headers: &axum::http::HeaderMap,
) -> ApiResult<Response> {
    let req = berth_engine::push::PushRequest {
        name: name.to_string(),
        tag: params.get("tag").unwrap_or_default().to_string(),
        credentials: registry_auth(headers),
        insecure: engine.config.insecure_registries.clone(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let engine = engine.clone();
    let task = tokio::spawn(async move { engine.images.push(req, tx).await });
    Ok(progress_stream(rx, task, "The push refers", None).await)
}

/// `POST /images/create`: `fromImage` pulls, `fromSrc=-` imports the body.
async fn create(
    State(engine): State<Engine>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let params = Params::parse(q.as_deref());
    if let Some(image) = params.get("fromImage") {
        let req = berth_engine::pull::PullRequest {
            image: image.to_string(),
            tag: params.get("tag").unwrap_or_default().to_string(),
            platform: params.get("platform").unwrap_or_default().to_string(),
            credentials: registry_auth(&headers),
            insecure: engine.config.insecure_registries.clone(),
        };
        return pull(engine, req).await;
    }
    match params.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return ApiError::bad_request(format!("importing from {other} is not supported yet: send the tarball in the body with fromSrc=-"))
                .into_response()
        }
        None => return ApiError::bad_request("fromImage or fromSrc is required").into_response(),
    }
    let (reference, platform) = match (params.repo_tag(), params.platform()) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let opts = ImportOptions {
        reference,
        changes: params.all("changes"),
        message: params
            .get("message")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        platform,
    };
    match engine
        .images
        .import(Box::new(BodyReader::new(body)), opts)
        .await
    {
        Ok(info) => (
            [(header::CONTENT_TYPE, "application/json")],
            json_line(&StreamMessage::status(info.id)),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /images/prune`.
async fn prune(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let filters = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let containers = engine.containers.clone();
    let (removed, reclaimed) = engine
        .images
        .prune(
            filters,
            std::sync::Arc::new(move |id: &str| containers.user_of_image(id)),
        )
        .await?;
    let images_deleted = removed
        .into_iter()
        .map(|item| match item {
            Removed::Untagged(t) => DeleteItem::Untagged(t),
            Removed::Deleted(d) => DeleteItem::Deleted(d),
        })
        .collect();
    Ok(Json(berth_api::image::ImagePrune {
        images_deleted,
        space_reclaimed: reclaimed,
    })
    .into_response())
}
