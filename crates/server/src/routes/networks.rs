//! `/networks`: create, list, inspect, remove, prune, connect, disconnect.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_engine::networks::view::Filter as NetworkFilter;
use berth_engine::networks::{CreateNetwork, NetworkRecord};
use berth_engine::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    subnet: String,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    gateway: String,
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "berth_api::container::null_as_default"
    )]
    ip_range: String,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    auxiliary_addresses: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    driver: String,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    config: Vec<IpamConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    driver: String,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    attachable: bool,
    #[serde(rename = "EnableIPv6", default)]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM", default)]
    ipam: Option<Ipam>,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    options: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "berth_api::container::null_as_default")]
    labels: BTreeMap<String, String>,
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> ApiResult<Option<T>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("invalid {what}: {text}")))
}

async fn create(
    State(engine): State<Engine>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req: CreateBody = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("network name is required"))?;
    let ipam = req.ipam.unwrap_or_default();
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return Err(ApiError::bad_request(format!(
            "IPAM driver {} is not supported: only default",
            ipam.driver
        )));
    }
    // One pool per family, as Docker's bridge driver takes them.
    let mut v4: Option<IpamConfig> = None;
    let mut v6: Option<IpamConfig> = None;
    for pool in ipam.config {
        let is_v6 =
            pool.subnet.contains(':') || (pool.subnet.is_empty() && pool.gateway.contains(':'));
        let slot = if is_v6 { &mut v6 } else { &mut v4 };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!(
                "several IPv{} pools per network are not supported yet",
                if is_v6 { 6 } else { 4 }
            )));
        }
        *slot = Some(pool);
    }
    let pool = v4.unwrap_or_default();
    let pool6 = v6.unwrap_or_default();
    if !pool6.auxiliary_addresses.is_empty() {
        return Err(ApiError::bad_request(
            "auxiliary addresses in an IPv6 pool are not supported yet",
        ));
    }
    let mut aux_addresses = BTreeMap::new();
    for (host, ip) in &pool.auxiliary_addresses {
        let ip = parse("auxiliary address", ip)?
            .ok_or_else(|| ApiError::bad_request(format!("invalid auxiliary address {host}")))?;
        aux_addresses.insert(host.clone(), ip);
    }
    let create = CreateNetwork {
        name: req.name,
        driver: req.driver,
        internal: req.internal,
        attachable: req.attachable,
        labels: req.labels,
        options: req.options,
        subnet: parse("subnet", &pool.subnet)?,
        gateway: parse("gateway", &pool.gateway)?,
        ip_range: parse("ip range", &pool.ip_range)?,
        aux_addresses,
        ipv6: req.enable_ipv6 == Some(true),
        subnet6: parse("IPv6 subnet", &pool6.subnet)?,
        gateway6: parse("IPv6 gateway", &pool6.gateway)?,
        ip_range6: parse("IPv6 ip range", &pool6.ip_range)?,
    };
    let engine2 = engine.clone();
    let r = tokio::task::spawn_blocking(move || engine2.networks.create(create))
        .await
        .map_err(|e| ApiError::internal(format!("network task failed: {e}")))??;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": r.id, "Warning": ""})),
    )
        .into_response())
}

fn show(engine: &Engine, n: &NetworkRecord) -> Value {
    n.inspect(engine.networks.attached(&n.id))
}

async fn list(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let args = berth_engine::filters::Args::from(&Params::parse(q.as_deref()).filters()?);
    let filter = NetworkFilter::list(args)?;
    let out: Vec<Value> = engine
        .networks
        .list()
        .iter()
        .filter(|n| filter.matches(n, !engine.containers.network_users(&n.id).is_empty()))
        .map(|n| show(&engine, n))
        .collect();
    Ok(Json(Value::Array(out)).into_response())
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
    Ok(Json(json!({"NetworksDeleted": deleted})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    #[serde(default)]
    endpoint_config: Option<Value>,
    #[serde(default)]
    force: bool,
}

async fn connect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let req: ConnectBody = json_body::read(&headers, &body)?
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
    let req: ConnectBody = json_body::read(&headers, &body)?
        .ok_or_else(|| ApiError::bad_request("a container is required"))?;
    let _ = req.force;
    engine
        .containers
        .disconnect_network(&req.container, &id)
        .await?;
    Ok(StatusCode::OK)
}
