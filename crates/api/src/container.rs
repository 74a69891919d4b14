//! Container request and response bodies: create, inspect, list, wait.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `Cmd`/`Entrypoint`: a list, but old clients send a plain string.
pub fn string_or_list<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None => None,
        Some(Either::One(s)) => Some(vec![s]),
        Some(Either::Many(v)) => Some(v),
    })
}

/// The container configuration (`Config` in inspect, the body of create).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default, deserialize_with = "string_or_list")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// `null` deserialises to the type's default (clients send `"Env": null`).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The body of `POST /containers/create`: the config plus `HostConfig` and
/// `NetworkingConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_config: HostConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking_config: Option<Value>,
    /// Fields of the body this server does not know; checked to be unset.
    #[serde(flatten, skip_serializing)]
    pub unknown: Map<String, Value>,
}

/// The parts of `HostConfig` Berth implements. Everything else a client sends
/// lands in `other` and must hold its zero value (see [`unsupported_settings`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cap_add: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// `--shm-size`: the size of `/dev/shm` in bytes (0: Docker's 64 MiB).
    #[serde(default)]
    pub shm_size: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tmpfs: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub devices: Vec<DeviceMapping>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub group_add: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ulimits: Vec<Ulimit>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pid_mode: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ipc_mode: String,
    #[serde(default, rename = "UTSMode", deserialize_with = "null_as_default")]
    pub uts_mode: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub userns_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub binds: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes_from: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub mounts: Vec<Mount>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub network_mode: String,
    /// `-p`: `"80/tcp"` to the host addresses and ports it is published on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    /// `-P`: every exposed port on an ephemeral host port.
    #[serde(default)]
    pub publish_all_ports: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dns: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dns_search: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dns_options: Vec<String>,
    /// `--add-host name:ip` (`host-gateway` for the bridge's gateway).
    #[serde(default, deserialize_with = "null_as_default")]
    pub extra_hosts: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub security_opt: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub log_config: LogConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    pub restart_policy: RestartPolicy,
    /// `--runtime`; only `runc`, whose part berth's own runtime plays.
    #[serde(default, deserialize_with = "null_as_default")]
    pub runtime: String,
    /// `--volume-driver`: the driver of the volumes this container makes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub volume_driver: String,
    /// `--device-cgroup-rule`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub device_cgroup_rules: Vec<String>,
    /// Legacy links (`--link name:alias`); recorded as `/name:/self/alias`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<String>,
    /// OCI annotations for the runtime (API 1.43).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Set for clients older than API 1.44: their read-only binds are not
    /// made read-only recursively, as Docker then did. Not on the wire.
    #[serde(skip)]
    pub read_only_non_recursive: bool,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One host address and port a container port is published on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_ip: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_port: String,
}

/// The resource limits of `HostConfig` (also the body of `update`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    #[serde(default)]
    pub memory: i64,
    #[serde(default)]
    pub memory_swap: i64,
    #[serde(default)]
    pub memory_reservation: i64,
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub cpu_shares: i64,
    #[serde(default)]
    pub cpu_quota: i64,
    #[serde(default)]
    pub cpu_period: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpuset_cpus: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpuset_mems: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(default)]
    pub blkio_weight: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<bool>,
    /// `--memory-swappiness` (0 to 100; -1 or null: the parent's).
    #[serde(default)]
    pub memory_swappiness: Option<i64>,
}

/// One entry of `HostConfig.Mounts` (`--mount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    #[serde(default)]
    pub path_in_container: String,
    #[serde(default)]
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(default, rename = "Type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub maximum_retry_count: i64,
}

/// `GET /containers/{id}/top`: column titles and one row per process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerTop {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl RestartPolicy {
    /// The docker CLI's `--restart` syntax, also compose's `restart:`:
    /// `no`, `always`, `unless-stopped`, `on-failure[:max-retries]`, with
    /// its error texts.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (
                n,
                c.parse::<i64>()
                    .map_err(|_| format!("invalid restart policy format: {s}"))?,
            ),
            None => (s, 0),
        };
        if count != 0 && name != "on-failure" {
            return Err(format!(
                "invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'"
            ));
        }
        if count < 0 {
            return Err(format!(
                "invalid restart policy format: maximum retry count cannot be negative: {s}"
            ));
        }
        match name {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: count,
            }),
            other => Err(format!("invalid restart policy '{other}'")),
        }
    }
}

/// True for JSON's zero values: null, false, 0, "", [], {} (recursively).
pub fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// Settings a client asked for that Berth does not implement yet: each
/// `prefix.Key` of `fields` whose value is not zero. Fields in `ignored` carry
/// no behaviour (e.g. console sizes) and are accepted.
pub fn unsupported_settings(
    prefix: &str,
    fields: &Map<String, Value>,
    ignored: &[&str],
) -> Vec<String> {
    fields
        .iter()
        .filter(|(k, v)| !ignored.contains(&k.as_str()) && !is_zero(v))
        .map(|(k, _)| format!("{prefix}.{k}"))
        .collect()
}

/// `POST /containers/create` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub warnings: Vec<String>,
}

/// `POST /containers/{id}/wait` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    pub status_code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

/// `State` in container inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Value>,
}

/// `GET /containers/{id}/json` answer. Reads with defaults for what
/// another engine leaves out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: Value,
    #[serde(deserialize_with = "null_as_default")]
    pub mounts: Vec<Value>,
    pub config: ContainerConfig,
    pub network_settings: Value,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<Value>,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    pub status: String,
    pub host_config: Value,
    pub network_settings: Value,
    pub mounts: Vec<Value>,
}

/// The response header carrying a [`PathStat`] on `HEAD|GET
/// /containers/{id}/archive`.
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// A path's metadata as Docker reports it (`types.ContainerPathStat`), in
/// the [`PATH_STAT_HEADER`] header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// The last element of the path as given (`/` for the root).
    pub name: String,
    /// `st_size` of the entry itself (a symlink's is its target's length).
    pub size: i64,
    /// Go `os.FileMode` bits: permissions plus type and special bits.
    pub mode: u32,
    /// Modification time, RFC 3339 with nanoseconds, UTC.
    pub mtime: String,
    /// For a symlink, the absolute path it resolves to inside the container.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// Go's `os.ModeDir`.
    const GO_MODE_DIR: u32 = 1 << 31;

    /// The header's value: base64 of the JSON.
    pub fn to_header(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a header's value (base64 with or without padding).
    pub fn from_header(value: &str) -> Option<PathStat> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        use base64::Engine as _;
        let value = value.trim();
        let json = STANDARD
            .decode(value)
            .or_else(|_| STANDARD_NO_PAD.decode(value))
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    pub fn is_dir(&self) -> bool {
        self.mode & Self::GO_MODE_DIR != 0
    }
}

/// One entry of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Change {
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

impl Change {
    /// `docker diff`'s letter: `C`, `A` or `D`.
    pub fn letter(&self) -> char {
        match self.kind {
            1 => 'A',
            2 => 'D',
            _ => 'C',
        }
    }
}

/// `POST /containers/prune` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerPrune {
    #[serde(deserialize_with = "null_as_default")]
    pub containers_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

/// The body of `POST /containers/{id}/update`: resources, a restart
/// policy, and whatever else was sent (refused by name when not
/// supported).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRequest {
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// `POST /containers/{id}/update` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_stat_header_is_base64_json_with_docker_keys() {
        let st = PathStat {
            name: "passwd".into(),
            size: 1234,
            mode: 0o644,
            mtime: "2023-11-14T22:13:20Z".into(),
            link_target: String::new(),
        };
        let json = r#"{"name":"passwd","size":1234,"mode":420,"mtime":"2023-11-14T22:13:20Z","linkTarget":""}"#;
        assert_eq!(serde_json::to_string(&st).expect("json"), json);
        // base64 of that JSON, with padding.
        assert_eq!(
            st.to_header(),
            "eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MTIzNCwibW9kZSI6NDIwLCJtdGltZSI6IjIwMjMtMTEtMTRUMjI6MTM6MjBaIiwibGlua1RhcmdldCI6IiJ9"
        );
        assert_eq!(PathStat::from_header(&st.to_header()), Some(st.clone()));
        let unpadded = st.to_header().trim_end_matches('=').to_string();
        assert_eq!(PathStat::from_header(&unpadded), Some(st));
        assert_eq!(PathStat::from_header("!!"), None);
        let dir = PathStat {
            mode: (1 << 31) | 0o755,
            ..PathStat::from_header(
                "eyJuYW1lIjoiLyIsInNpemUiOjAsIm1vZGUiOjAsIm10aW1lIjoiIiwibGlua1RhcmdldCI6IiJ9",
            )
            .expect("stat")
        };
        assert!(dir.is_dir());
    }

    #[test]
    fn restart_policy_syntax() {
        let p = |s: &str| RestartPolicy::parse(s).map(|p| (p.name, p.maximum_retry_count));
        assert_eq!(p("on-failure:3"), Ok(("on-failure".into(), 3)));
        assert_eq!(p("always"), Ok(("always".into(), 0)));
        assert_eq!(p("no"), Ok(("no".into(), 0)));
        assert_eq!(
            p("always:2").unwrap_err(),
            "invalid restart policy format: maximum retry count cannot be used with restart policy 'always'"
        );
        assert_eq!(
            p("sometimes").unwrap_err(),
            "invalid restart policy 'sometimes'"
        );
        assert_eq!(
            p("on-failure:x").unwrap_err(),
            "invalid restart policy format: on-failure:x"
        );
        assert!(p("on-failure:-1").is_err());
    }

    #[test]
    fn create_body_accepts_docker_cli_shape() {
        let body = json!({
            "Hostname": "", "Env": null, "Cmd": "echo hi", "Image": "busybox",
            "Entrypoint": null, "Labels": {},
            "HostConfig": {"AutoRemove": true, "Memory": 0, "Binds": null, "ConsoleSize": [24, 80]},
            "NetworkingConfig": {"EndpointsConfig": {}}
        });
        let req: CreateRequest = serde_json::from_value(body).unwrap();
        assert_eq!(req.config.cmd, Some(vec!["echo hi".to_string()]));
        assert!(req.host_config.auto_remove);
        assert!(req.config.env.is_empty());
        assert!(!unsupported_settings("HostConfig", &req.host_config.other, &[]).is_empty());
        assert!(
            unsupported_settings("HostConfig", &req.host_config.other, &["ConsoleSize"]).is_empty()
        );
    }

    #[test]
    fn zero_values() {
        assert!(is_zero(&json!({"a": [], "b": {"c": 0}})));
        assert!(!is_zero(&json!({"a": [1]})));
        assert!(!is_zero(&json!(true)));
    }
}
