//! `/version` and `/info` bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionComponent {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub details: Value,
}

/// `GET /version` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    pub platform: Platform,
    pub components: Vec<VersionComponent>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    pub name: String,
}

/// `GET /info` answer. Every field reads with a default and fields this
/// type does not name are kept in `extra`, so another engine's answer
/// decodes and prints whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    /// `[name, value]` pairs.
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub driver_status: Vec<Vec<String>>,
    pub plugins: Plugins,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    pub oom_kill_disable: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub debug: bool,
    pub n_fd: i64,
    pub n_goroutines: i64,
    pub system_time: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub n_events_listener: i64,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    pub index_server_address: String,
    pub registry_config: RegistryConfig,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub docker_root_dir: String,
    pub name: String,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub labels: Vec<String>,
    pub experimental_build: bool,
    pub server_version: String,
    /// Runtime name to `{"path": ...}`.
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub runtimes: BTreeMap<String, Value>,
    pub default_runtime: String,
    pub swarm: SwarmInfo,
    pub live_restore_enabled: bool,
    pub isolation: String,
    pub init_binary: String,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub security_options: Vec<String>,
    pub warnings: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `Plugins` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Plugins {
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub volume: Vec<String>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub network: Vec<String>,
    pub authorization: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub log: Vec<String>,
}

/// `RegistryConfig` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegistryConfig {
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub index_configs: BTreeMap<String, Value>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub insecure_registry_cidrs: Vec<String>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub mirrors: Vec<String>,
}

/// `Swarm` of `/info`: always inactive here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_addr: String,
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<Value>>,
}

/// `GET /system/df` answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    pub layers_size: i64,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub images: Vec<crate::image::ImageSummary>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub containers: Vec<ContainerUsage>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub volumes: Vec<VolumeUsage>,
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub build_cache: Vec<Value>,
}

/// A container in `system df`: its list entry and the size of its
/// writable layer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUsage {
    #[serde(flatten)]
    pub container: crate::container::ContainerSummary,
    #[serde(default)]
    pub size_rw: i64,
}

/// A volume in `system df`: the volume and its usage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsage {
    #[serde(flatten)]
    pub volume: crate::volume::Volume,
    #[serde(default)]
    pub usage_data: UsageData,
}

/// `UsageData` of a volume.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UsageData {
    pub size: i64,
    pub ref_count: i64,
}

/// `POST /system/check` answer (Berth's own route).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckReport {
    #[serde(deserialize_with = "crate::container::null_as_default")]
    pub problems: Vec<Problem>,
}

/// One thing `system check` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Problem {
    /// What it is about (`container ID`, `blob sha256:...`).
    pub object: String,
    pub message: String,
    pub repaired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Docker's key names, in Docker's order.
    #[test]
    fn info_keys_golden() {
        let v = serde_json::to_value(Info::default()).expect("json");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ID",
                "Containers",
                "ContainersRunning",
                "ContainersPaused",
                "ContainersStopped",
                "Images",
                "Driver",
                "DriverStatus",
                "Plugins",
                "MemoryLimit",
                "SwapLimit",
                "CpuCfsPeriod",
                "CpuCfsQuota",
                "CPUShares",
                "CPUSet",
                "PidsLimit",
                "OomKillDisable",
                "IPv4Forwarding",
                "Debug",
                "NFd",
                "NGoroutines",
                "SystemTime",
                "LoggingDriver",
                "CgroupDriver",
                "CgroupVersion",
                "NEventsListener",
                "KernelVersion",
                "OperatingSystem",
                "OSVersion",
                "OSType",
                "Architecture",
                "IndexServerAddress",
                "RegistryConfig",
                "NCPU",
                "MemTotal",
                "DockerRootDir",
                "Name",
                "Labels",
                "ExperimentalBuild",
                "ServerVersion",
                "Runtimes",
                "DefaultRuntime",
                "Swarm",
                "LiveRestoreEnabled",
                "Isolation",
                "InitBinary",
                "SecurityOptions",
                "Warnings",
            ]
        );
        assert_eq!(
            v["Swarm"],
            json!({"NodeID": "", "NodeAddr": "", "LocalNodeState": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null})
        );
        assert_eq!(
            v["RegistryConfig"],
            json!({"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []})
        );
    }

    /// Another engine's answer: missing fields default, unknown ones are
    /// kept and written back.
    #[test]
    fn other_engines_info_round_trips() {
        let sent = json!({"ID": "x", "NCPU": 4, "Labels": null, "ContainerdCommit": {"ID": "abc"}, "CDISpecDirs": []});
        let info: Info = serde_json::from_value(sent).expect("info");
        assert_eq!((info.id.as_str(), info.ncpu), ("x", 4));
        assert_eq!(info.extra["ContainerdCommit"], json!({"ID": "abc"}));
        let back = serde_json::to_value(&info).expect("json");
        assert_eq!(back["ContainerdCommit"], json!({"ID": "abc"}));
        assert_eq!(back["CDISpecDirs"], json!([]));
    }
}
