//! `/volumes`: create, list, inspect, remove, prune.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_engine::volumes::Volume;
use berth_engine::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::json_body;
use crate::params::Params;

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    driver: String,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    driver_opts: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    labels: BTreeMap<String, String>,
}

fn show(v: &Volume) -> serde_json::Value {
    json!({
        "Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "CreatedAt": v.created_at,
        "Labels": v.labels, "Options": v.options, "Scope": v.scope,
    })
}

async fn create(
    State(engine): State<Engine>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: CreateBody = json_body::read_or_default(&headers, &body)?;
    if !matches!(req.driver.as_str(), "" | "local") {
        return Err(ApiError::bad_request(format!(
            "volume driver {} is not supported: only local",
            req.driver
        )));
    }
    let v = engine
        .volumes
        .create(&req.name, req.labels, req.driver_opts, false)?;
    Ok((StatusCode::CREATED, Json(show(&v))).into_response())
}

async fn list(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let list = engine.volumes.list_filtered(args).await?;
    let volumes: Vec<_> = list.iter().map(show).collect();
    Ok(Json(json!({"Volumes": volumes, "Warnings": []})).into_response())
}

async fn inspect(State(engine): State<Engine>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(show(&engine.volumes.inspect(&name)?)).into_response())
}

async fn remove(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let force = Params::parse(q.as_deref()).flag("force");
    engine.volumes.remove(&name, force).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes unused volumes: anonymous ones only, unless `all=true` (Docker 23+).
async fn prune(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let pruned = engine.volumes.prune(args).await?;
    Ok(
        Json(json!({"VolumesDeleted": pruned.deleted, "SpaceReclaimed": pruned.reclaimed}))
            .into_response(),
    )
}
