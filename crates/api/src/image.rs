//! Image response bodies: list, inspect, delete, and the streamed JSON messages
//! of load/import.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub labels: BTreeMap<String, String>,
    pub containers: i64,
}

/// `GET /images/{name}/json` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: Value,
    pub architecture: String,
    pub os: String,
    pub size: i64,
    pub graph_driver: Value,
    #[serde(rename = "RootFS")]
    pub root_fs: Value,
    pub metadata: Value,
}

/// One entry of the `DELETE /images/{name}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// One line of a streamed JSON progress answer (load, import, pull).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(
        rename = "errorDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<Value>,
}

impl StreamMessage {
    pub fn stream(text: impl Into<String>) -> Self {
        StreamMessage {
            stream: Some(text.into()),
            ..Default::default()
        }
    }
    pub fn status(text: impl Into<String>) -> Self {
        StreamMessage {
            status: Some(text.into()),
            ..Default::default()
        }
    }
    pub fn error(text: impl Into<String>) -> Self {
        let text = text.into();
        StreamMessage {
            error_detail: Some(serde_json::json!({ "message": text })),
            error: Some(text),
            ..Default::default()
        }
    }
}
