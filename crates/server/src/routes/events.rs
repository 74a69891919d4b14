//! `GET /events`: past events since `since`, then live ones until `until`
//! (or until the client goes away), filtered.

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use berth_engine::events::EventFilter;
use berth_engine::Engine;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::stream::{body_from, json_line};

pub fn router() -> Router<Engine> {
    Router::new().route("/events", get(events))
}

/// Docker's time arguments: unix seconds (with an optional fraction) or RFC 3339.
fn nanos(v: Option<&str>, key: &str) -> ApiResult<Option<i64>> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => berth_engine::time::parse_docker(s)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid value for {key}: {s}"))),
    }
}

async fn events(State(engine): State<Engine>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let since = nanos(params.get("since"), "since")?;
    let until = nanos(params.get("until"), "until")?;
    let filter = EventFilter::parse(&params.filters()?)?;
    let (past, mut live) = engine.events.subscribe(since);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let in_range = |t: i64| until.is_none_or(|u| t <= u);
        for e in past
            .iter()
            .filter(|e| filter.matches(e) && in_range(e.time_nano))
        {
            if tx.send(json_line(e)).await.is_err() {
                return;
            }
        }
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        if until.is_some_and(|u| u <= now) {
            return;
        }
        let deadline = until.map(|u| {
            tokio::time::Instant::now() + std::time::Duration::from_nanos((u - now).max(0) as u64)
        });
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, live.recv()).await.ok(),
                    None => Some(live.recv().await),
                }
            };
            tokio::select! {
                got = next => match got {
                    None => return,
                    Some(Ok(e)) => {
                        if filter.matches(&e) && tx.send(json_line(&e)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                    Some(Err(_)) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body_from(rx)).into_response())
}
