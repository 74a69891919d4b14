//! `POST /build`: the legacy builder's API (what docker CLI 28 without
//! buildx, docker-py and compose use). The body is the context tar; the
//! answer streams the build's JSON messages; failures after the start end
//! the stream with an `errorDetail`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use berth_engine::build::{BuildRequest, Intermediates, RunSettings};
use berth_engine::Engine;
use serde_json::Value;

use crate::error::ApiError;
use crate::params::Params;
use crate::stream::BodyReader;

pub fn router() -> Router<Engine> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
}

/// `POST /build/prune?all=&filters={"until":[...]}`.
async fn prune(State(engine): State<Engine>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let filters = match params.filters() {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let mut until = None;
    for (k, values) in &filters {
        match k.as_str() {
            "until" => {
                let Some(v) = values.first() else { continue };
                match berth_api::units::go_duration_ns(v) {
                    Some(ns) if ns >= 0 => until = Some(std::time::Duration::from_nanos(ns as u64)),
                    _ => {
                        return ApiError::bad_request(format!(
                            "invalid until filter {v:?}: use a duration such as 24h"
                        ))
                        .into_response()
                    }
                }
            }
            other => {
                return ApiError::bad_request(format!("invalid filter '{other}'")).into_response()
            }
        }
    }
    if params.get("keep-storage").is_some_and(|v| v != "0") {
        return ApiError::bad_request("keep-storage is not supported yet").into_response();
    }
    match berth_engine::build::prune(&engine, params.flag("all"), until).await {
        Ok(p) => axum::Json(berth_api::image::BuildCachePrune {
            caches_deleted: p.caches,
            space_reclaimed: p.reclaimed,
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A JSON object parameter (`buildargs`, `labels`); values may be null.
fn json_map(params: &Params, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(raw) = params.get(key).filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let v: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid {key} parameter: {e}")))?;
    Ok(v.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// A JSON array parameter (`cachefrom`, `ulimits`); null is empty.
fn json_list<T: serde::de::DeserializeOwned>(
    params: &Params,
    key: &str,
) -> Result<Vec<T>, ApiError> {
    let Some(raw) = params.get(key).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: Option<Vec<T>> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid {key} parameter: {e}")))?;
    Ok(v.unwrap_or_default())
}

/// Parameters this builder does not implement yet: set, they are refused.
const UNSUPPORTED: &[&str] = &["remote", "squash", "outputs"];

/// An integer parameter (0 when absent).
fn number(params: &Params, key: &str) -> Result<i64, ApiError> {
    match params.get(key).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid {key} parameter {v:?}"))),
    }
}

/// The build's settings from `POST /build`'s query parameters.
pub fn request(params: &Params) -> Result<BuildRequest, ApiError> {
    for k in UNSUPPORTED {
        if params
            .get(k)
            .is_some_and(|v| !v.is_empty() && v != "0" && v != "false" && v != "[]" && v != "null")
        {
            return Err(ApiError::bad_request(format!(
                "the build parameter {k} is not supported yet"
            )));
        }
    }
    // Linux has one isolation technology; Docker's daemon accepts only it.
    if let Some(iso) = params
        .get("isolation")
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("default"))
    {
        return Err(ApiError::bad_request(format!(
            "Unsupported isolation: {iso:?}"
        )));
    }
    if params.get("version").is_some_and(|v| v == "2") {
        return Err(ApiError::bad_request(
            "BuildKit (version=2) is not supported: use the legacy builder",
        ));
    }
    Ok(BuildRequest {
        dockerfile: params.get("dockerfile").unwrap_or_default().to_string(),
        tags: params
            .all("t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        build_args: json_map(params, "buildargs")?,
        target: params
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        no_cache: params.flag("nocache"),
        // berth's own parameter (the legacy API has none): a JSON list.
        no_cache_filter: match params.get("nocachefilter").filter(|v| !v.is_empty()) {
            None => Vec::new(),
            Some(v) => serde_json::from_str(v).map_err(|e| {
                ApiError::bad_request(format!("invalid nocachefilter parameter: {e}"))
            })?,
        },
        pull: params.flag("pull"),
        labels: json_map(params, "labels")?,
        network: params.get("networkmode").unwrap_or_default().to_string(),
        platform: params.get("platform").unwrap_or_default().to_string(),
        secrets: BTreeMap::new(),
        run: RunSettings {
            extra_hosts: params
                .all("extrahosts")
                .iter()
                .flat_map(|v| v.split(','))
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect(),
            resources: berth_api::container::Resources {
                memory: number(params, "memory")?,
                memory_swap: number(params, "memswap")?,
                cpu_shares: number(params, "cpushares")?,
                cpu_period: number(params, "cpuperiod")?,
                cpu_quota: number(params, "cpuquota")?,
                cpuset_cpus: params.get("cpusetcpus").unwrap_or_default().to_string(),
                ..Default::default()
            },
            shm_size: number(params, "shmsize")?,
            ulimits: json_list(params, "ulimits")?,
            intermediates: Intermediates::from_flags(
                params.flag_or("rm", true),
                params.flag("forcerm"),
            ),
            build_id: String::new(),
            backlog: Default::default(),
        },
        cache_from: json_list(params, "cachefrom")?,
    })
}

/// `X-Berth-Build-Secrets` (berth's CLI): base64 of a JSON object of
/// secret ids to base64 contents.
fn secrets(headers: &axum::http::HeaderMap) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
    use base64::Engine as _;
    let Some(v) = headers.get("x-berth-build-secrets") else {
        return Ok(BTreeMap::new());
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let bad =
        |what: &str| ApiError::bad_request(format!("invalid X-Berth-Build-Secrets header: {what}"));
    let json = b64.decode(v.as_bytes()).map_err(|_| bad("not base64"))?;
    let map: BTreeMap<String, String> =
        serde_json::from_slice(&json).map_err(|_| bad("not a JSON object"))?;
    map.into_iter()
        .map(|(k, v)| {
            Ok((
                k,
                b64.decode(v.as_bytes())
                    .map_err(|_| bad("a value is not base64"))?,
            ))
        })
        .collect()
}

async fn build(
    State(engine): State<Engine>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let params = Params::parse(q.as_deref());
    let mut req = match request(&params) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match secrets(&headers) {
        Ok(s) => req.secrets = s,
        Err(e) => return e.into_response(),
    }
    let quiet = params.flag("q");
    let backlog = req.run.backlog.clone();
    let taken = backlog.clone();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let reader = Box::new(BodyReader::new(body));
    let task = tokio::spawn(async move {
        let (inner_tx, mut inner_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
        let forward = tokio::spawn(async move {
            // Until the build ends or its client goes: a build that prints
            // nothing for a while must still notice a client that left.
            loop {
                let m = tokio::select! {
                    m = inner_rx.recv() => match m {
                        Some(m) => m,
                        None => break,
                    },
                    () = tx.closed() => break,
                };
                // `q`: only the image id (the aux message) and errors.
                if quiet && m.get("aux").is_none() {
                    continue;
                }
                backlog.queued(super::images::message_len(&m));
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let r = berth_engine::build::build(&engine, req, reader, inner_tx).await;
        let _ = forward.await;
        r
    });
    super::images::progress_stream(rx, task, "", Some(taken)).await
}
