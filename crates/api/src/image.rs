//! Image response bodies: list, inspect, delete, and the streamed JSON messages
//! of load/import.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
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

/// `GET /images/{name}/json` answer. Reads with defaults for what
/// another engine leaves out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    pub id: String,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub repo_tags: Vec<String>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
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

/// One entry of `GET /images/{name}/history` (`HistoryResponseItem`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    /// The image this step made, or `<missing>`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub created_by: String,
    /// `null` when the image has no tags.
    pub tags: Option<Vec<String>>,
    pub size: i64,
    pub comment: String,
}

/// `POST /images/prune` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImagePrune {
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub images_deleted: Vec<DeleteItem>,
    pub space_reclaimed: u64,
}

/// `POST /build/prune` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuildCachePrune {
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub caches_deleted: Vec<String>,
    pub space_reclaimed: u64,
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

/// What a container config looked like in fields Docker removed: a config
/// with every field at its zero value, as dockerd fills `ContainerConfig`
/// for old clients.
fn empty_container_config() -> Value {
    serde_json::json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
        "StdinOnce": false, "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

/// Members of an image's `Config` that dockerd returned even when unset,
/// filled in for clients that read them: below 1.50 every field of a
/// container config, at 1.50 those without `omitempty` then.
fn legacy_config_fields(v: crate::ApiVersion) -> Value {
    if v.minor < 50 {
        empty_container_config()
    } else {
        serde_json::json!({
            "Cmd": null, "Entrypoint": null, "Env": null, "Labels": null, "OnBuild": null,
            "User": "", "Volumes": null, "WorkingDir": ""
        })
    }
}

/// Adds each member of `extra` that `dst` lacks or holds as null, as
/// dockerd merges legacy fields into an answer.
fn fill_missing(dst: &mut Value, extra: &Value) {
    let (Value::Object(d), Value::Object(e)) = (dst, extra) else {
        return;
    };
    for (k, v) in e {
        match d.get_mut(k) {
            Some(existing) if existing.is_object() && v.is_object() => fill_missing(existing, v),
            Some(existing) if !existing.is_null() => {}
            _ => {
                d.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `GET /images/{name}/json` as a client of API version `v` gets it:
/// `VirtualSize` (and a zero `Created` for images without one) below 1.44,
/// `Container` and `ContainerConfig` below 1.45 (the image config's own
/// `container_config` when it has one), and the unset `Config` members
/// dockerd still returned up to 1.50.
pub fn inspect_for(
    v: crate::ApiVersion,
    inspect: &ImageInspect,
    container_config: Option<&Value>,
) -> Value {
    let mut out = serde_json::to_value(inspect).unwrap_or(Value::Null);
    if v.minor < 44 {
        out["VirtualSize"] = serde_json::json!(inspect.size);
        if inspect.created.is_empty() {
            out["Created"] = serde_json::json!("0001-01-01T00:00:00Z");
        }
    }
    if v.minor < 45 {
        out["Container"] = serde_json::json!("");
        out["ContainerConfig"] = container_config
            .filter(|c| c.is_object())
            .cloned()
            .unwrap_or_else(empty_container_config);
    }
    if !out["Config"].is_object() {
        out["Config"] = serde_json::json!({});
    }
    fill_missing(&mut out["Config"], &legacy_config_fields(v));
    out
}

/// One `GET /images/json` entry for API version `v`: `VirtualSize` below
/// 1.44, `<none>:<none>` and `<none>@<none>` for an image without names
/// below 1.43.
pub fn summary_for(v: crate::ApiVersion, summary: &ImageSummary) -> Value {
    let mut out = serde_json::to_value(summary).unwrap_or(Value::Null);
    if v.minor < 43 && summary.repo_tags.is_empty() && summary.repo_digests.is_empty() {
        out["RepoTags"] = serde_json::json!(["<none>:<none>"]);
        out["RepoDigests"] = serde_json::json!(["<none>@<none>"]);
    }
    if v.minor < 44 {
        out["VirtualSize"] = serde_json::json!(summary.size);
    }
    out
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use crate::ApiVersion;

    fn v(text: &str) -> ApiVersion {
        ApiVersion::parse(text).unwrap()
    }

    #[test]
    fn fields_follow_the_version() {
        let i = ImageInspect {
            id: "sha256:ab".into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: Vec::new(),
            parent: String::new(),
            comment: String::new(),
            created: "2024-01-01T00:00:00Z".into(),
            docker_version: String::new(),
            author: String::new(),
            config: serde_json::json!({"Cmd": ["sh"]}),
            architecture: "amd64".into(),
            os: "linux".into(),
            size: 42,
            graph_driver: Value::Null,
            root_fs: Value::Null,
            metadata: Value::Null,
        };
        let old = inspect_for(v("1.38"), &i, None);
        assert_eq!(old["VirtualSize"], 42);
        assert_eq!(old["Container"], "");
        assert_eq!(old["ContainerConfig"]["Volumes"], Value::Null);
        assert_eq!(old["ContainerConfig"]["Hostname"], "");
        let kept = serde_json::json!({"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]});
        assert_eq!(
            inspect_for(v("1.44"), &i, Some(&kept))["ContainerConfig"],
            kept
        );
        assert!(inspect_for(v("1.44"), &i, None)
            .get("VirtualSize")
            .is_none());
        let new = inspect_for(v("1.45"), &i, Some(&kept));
        assert!(new.get("ContainerConfig").is_none() && new.get("Container").is_none());
        assert_eq!(new["Config"]["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(new["Config"]["Hostname"], "");
        assert_eq!(new["Config"]["AttachStdin"], false);
        let now = inspect_for(v("1.50"), &i, None);
        assert_eq!(now["Config"]["WorkingDir"], "");
        assert_eq!(now["Config"]["Env"], Value::Null);
        assert!(now["Config"].get("Hostname").is_none(), "{now}");
        let s = ImageSummary {
            id: "sha256:ab".into(),
            parent_id: String::new(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            created: 0,
            size: 7,
            shared_size: -1,
            labels: BTreeMap::new(),
            containers: -1,
        };
        assert_eq!(summary_for(v("1.41"), &s)["VirtualSize"], 7);
        assert_eq!(
            summary_for(v("1.42"), &s)["RepoTags"],
            serde_json::json!(["<none>:<none>"])
        );
        assert_eq!(
            summary_for(v("1.43"), &s)["RepoTags"],
            serde_json::json!([])
        );
        assert!(summary_for(v("1.50"), &s).get("VirtualSize").is_none());
    }
}
