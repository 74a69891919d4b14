//! `/volumes`: create, list, inspect, remove, prune.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::volume::{VolumeCreate, VolumeList, VolumePrune};
use berth_engine::Engine;

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

async fn create(
    State(engine): State<Engine>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: VolumeCreate = json_body::read_or_default(&headers, &body)?;
    if !matches!(req.driver.as_str(), "" | "local") {
        return Err(ApiError::bad_request(format!(
            "volume driver {} is not supported: only local",
            req.driver
        )));
    }
    let v = engine
        .volumes
        .create(&req.name, req.labels, req.driver_opts, false)?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn list(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let volumes = engine.volumes.list_filtered(args).await?;
    Ok(Json(VolumeList {
        volumes,
        warnings: Vec::new(),
    })
    .into_response())
}

async fn inspect(State(engine): State<Engine>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(engine.volumes.inspect(&name)?).into_response())
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
    Ok(Json(VolumePrune {
        volumes_deleted: pruned.deleted,
        space_reclaimed: pruned.reclaimed,
    })
    .into_response())
}
