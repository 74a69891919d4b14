//! `/networks`: create, list, inspect, remove, prune, connect, disconnect.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_api::network::{NetworkConnect, NetworkCreate, NetworkCreated, NetworkPrune};
use berth_engine::networks::view::Filter as NetworkFilter;
use berth_engine::networks::{CreateNetwork, NetworkRecord};
use berth_engine::Engine;

use crate::error::{ApiError, ApiResult};
use crate::json_body;
use crate::params::Params;

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

async fn create(
    State(engine): State<Engine>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: NetworkCreate = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("network name is required"))?;
    let create = CreateNetwork::from_api(req)?;
    let engine2 = engine.clone();
    let r = tokio::task::spawn_blocking(move || engine2.networks.create(create))
        .await
        .map_err(|e| ApiError::internal(format!("network task failed: {e}")))??;
    Ok((
        StatusCode::CREATED,
        Json(NetworkCreated {
            id: r.id,
            warning: String::new(),
        }),
    )
        .into_response())
}

fn show(engine: &Engine, n: &NetworkRecord) -> berth_api::network::NetworkInspect {
    n.inspect(engine.networks.attached(&n.id))
}

async fn list(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let filter = NetworkFilter::list(args)?;
    let out: Vec<_> = engine
        .networks
        .list()
        .iter()
        .filter(|n| filter.matches(n, !engine.containers.network_users(&n.id).is_empty()))
        .map(|n| show(&engine, n))
        .collect();
    Ok(Json(out).into_response())
}

async fn inspect(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Response> {
    let n = engine.networks.get(&id)?;
    Ok(Json(show(&engine, &n)).into_response())
}

async fn remove(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let engine2 = engine.clone();
    tokio::task::spawn_blocking(move || engine2.networks.remove(&id))
        .await
        .map_err(|e| ApiError::internal(format!("network task failed: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the user networks no container refers to.
async fn prune(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let filter = NetworkFilter::prune(args)?;
    let mut deleted = Vec::new();
    for n in engine.networks.list() {
        if !filter.matches(&n, !engine.containers.network_users(&n.id).is_empty()) {
            continue;
        }
        let (engine2, id) = (engine.clone(), n.id.clone());
        let removed = tokio::task::spawn_blocking(move || engine2.networks.remove(&id))
            .await
            .map_err(|e| ApiError::internal(format!("network task failed: {e}")))?;
        match removed {
            Ok(()) => deleted.push(n.name),
            Err(e) => {
                tracing::warn!(network = %n.name, error = %e, "prune could not remove a network")
            }
        }
    }
    Ok(Json(NetworkPrune {
        networks_deleted: deleted,
    })
    .into_response())
}

async fn connect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let req: NetworkConnect = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("a container is required"))?;
    engine
        .containers
        .connect_network(&req.container, &id, req.endpoint_config.as_ref())
        .await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let req: NetworkConnect = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("a container is required"))?;
    let _ = req.force;
    engine
        .containers
        .disconnect_network(&req.container, &id)
        .await?;
    Ok(StatusCode::OK)
}
