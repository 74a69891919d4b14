//! What a dockerd that is not part of a swarm answers: swarm, node,
//! service, task, secret and config endpoints fail with 503 and Docker's
//! words (clients read that as "no swarm"), and the plugin list is empty.
//! Joining or starting a swarm is refused: berth has no swarm mode.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use berth_engine::Engine;

use crate::error::ApiError;

/// dockerd's text when an operation needs a swarm manager.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's text for leaving when there is no swarm.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";

pub fn router() -> Router<Engine> {
    let mut r = Router::new()
        .route("/swarm", get(not_a_manager))
        .route("/swarm/leave", post(not_in_a_swarm))
        .route("/swarm/init", post(no_swarm_mode))
        .route("/swarm/join", post(no_swarm_mode))
        .route("/swarm/update", post(not_a_manager))
        .route("/swarm/unlock", post(not_a_manager))
        .route("/swarm/unlockkey", get(not_a_manager))
        .route("/plugins", get(plugins))
        .route("/plugins/privileges", get(no_plugins))
        .route("/plugins/pull", post(no_plugins))
        .route("/plugins/create", post(no_plugins))
        .route("/plugins/{name}", any(plugin_not_found))
        .route("/plugins/{name}/{action}", any(plugin_not_found));
    for kind in ["nodes", "services", "tasks", "secrets", "configs"] {
        r = r
            .route(&format!("/{kind}"), get(not_a_manager))
            .route(&format!("/{kind}/{{id}}"), any(not_a_manager))
            .route(&format!("/{kind}/{{id}}/{{action}}"), any(not_a_manager));
    }
    r.route("/services/create", post(not_a_manager))
        .route("/secrets/create", post(not_a_manager))
        .route("/configs/create", post(not_a_manager))
}

async fn not_a_manager() -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_A_MANAGER).into_response()
}

async fn not_in_a_swarm() -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_IN_A_SWARM).into_response()
}

async fn no_swarm_mode() -> Response {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "swarm mode is not supported by berth",
    )
    .into_response()
}

async fn plugins() -> Response {
    Json(serde_json::json!([])).into_response()
}

async fn no_plugins() -> Response {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "plugins are not supported by berth",
    )
    .into_response()
}

async fn plugin_not_found(Path(params): Path<Vec<(String, String)>>) -> Response {
    let name = params
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    ApiError::not_found(format!("plugin \"{name}\" not found")).into_response()
}
