//! Image configs: a typed view of the config JSON (a superset of OCI's, with
//! Docker's PascalCase keys inside `config`). Unknown fields are kept in `extra`
//! so Docker-only fields survive a parse/serialise round trip; the store itself
//! always keeps the raw bytes, since the image id is the digest of those bytes.

use crate::digest::Digest;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Treats JSON `null` like a missing field.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The image config (`application/vnd.oci.image.config.v1+json` /
/// `application/vnd.docker.container.image.v1+json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture (`amd64`, `arm64`, ...).
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// CPU variant (`v8`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers, as diff ids.
    #[serde(default, deserialize_with = "nullable")]
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
    /// Every other field (Docker's `container`, `container_config`, `docker_version`,
    /// `comment`, ...), kept as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `rootfs`: the ordered diff ids, lowest layer first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default = "layers_type")]
    pub kind: String,
    /// Digests of the uncompressed layer tars.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<Digest>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn layers_type() -> String {
    "layers".to_string()
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            kind: layers_type(),
            diff_ids: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True if the step produced no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `config` object: container defaults, with Docker's PascalCase keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user`, `uid`, `user:group`, `uid:gid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `80/tcp` keys with empty objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Windows-only quirk, kept for fidelity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Volume mount points as keys with empty objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// ONBUILD triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Signal to stop the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Shell for the shell form of RUN/CMD/ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Other fields (`Hostname`, `Image`, `AttachStdin`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Healthcheck`; durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Interval between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Timeout of one check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Grace period after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    /// Interval during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    /// Failures before unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    /// Parses config bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Serialises to compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these types cannot fail: all map keys are strings.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The labels (empty if none).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }

    /// The diff ids, lowest layer first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.rootfs.diff_ids
    }
}

/// The host platform as OCI names it: (`linux`, `amd64`).
pub fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = r#"{"architecture":"amd64","config":{"Hostname":"","Env":["PATH=/bin"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Extra":1},"OnBuild":["RUN x"],"Shell":["/bin/bash","-c"],"ArgsEscaped":true,"Labels":{"a":"b"},"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"WorkingDir":"/w","Entrypoint":null,"User":"1:2","StopSignal":"SIGTERM"},"container":"abc","container_config":{"Cmd":["x"]},"created":"2024-01-01T00:00:00.123456789Z","docker_version":"20.10","history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD","empty_layer":true,"x":1}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;

    #[test]
    fn typed_view_and_round_trip() {
        let c = ImageConfig::parse(DOCKER.as_bytes()).unwrap();
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.env.as_deref(), Some(&["PATH=/bin".to_string()][..]));
        assert_eq!(cc.on_build.as_ref().unwrap()[0], "RUN x");
        assert_eq!(cc.shell.as_ref().unwrap()[0], "/bin/bash");
        assert_eq!(
            cc.healthcheck.as_ref().unwrap().interval,
            Some(1_000_000_000)
        );
        assert_eq!(cc.entrypoint, None);
        assert_eq!(cc.extra["Hostname"], "");
        assert_eq!(c.extra["docker_version"], "20.10");
        assert_eq!(c.labels()["a"], "b");
        assert_eq!(c.diff_ids().len(), 1);
        assert_eq!(c.history[0].empty_layer, Some(true));

        let again = ImageConfig::parse(&c.to_bytes()).unwrap();
        assert_eq!(again, c);
        let v: Value = serde_json::from_slice(&c.to_bytes()).unwrap();
        let orig: Value = serde_json::from_str(DOCKER).unwrap();
        // Everything survives except the explicit null.
        let mut orig = orig;
        orig["config"].as_object_mut().unwrap().remove("Entrypoint");
        assert_eq!(v, orig);
    }

    #[test]
    fn nulls_and_missing() {
        let c = ImageConfig::parse(br#"{"history":null,"rootfs":null,"os":null}"#).unwrap();
        assert!(c.history.is_empty());
        assert_eq!(c.rootfs.kind, "layers");
        assert!(ImageConfig::parse(b"[]").is_err());
        let (os, _arch) = host_platform();
        assert_eq!(os, "linux");
    }
}
