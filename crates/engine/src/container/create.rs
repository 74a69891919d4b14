//! Validation of a create request and its merge with the image's defaults.
//! Pure: no I/O, tested with tables.

use std::collections::BTreeMap;

use berth_api::container::{unsupported_settings, ContainerConfig, CreateRequest, HostConfig};
use serde_json::Value;

use crate::Error;

/// HostConfig fields the docker CLI always sends that carry nothing Berth
/// must act on.
const IGNORED_HOST_FIELDS: &[&str] = &["ConsoleSize", "Isolation", "CgroupnsMode"];

/// Settings that end up as lines of the container's `/etc/hosts`,
/// `/etc/hostname` or `/etc/resolv.conf` may not hold control characters:
/// a newline would add lines of the client's choosing.
fn line_safe(req: &CreateRequest) -> Result<(), Error> {
    let hc = &req.host_config;
    let single = [
        ("hostname", &req.config.hostname),
        ("domainname", &req.config.domainname),
    ];
    let lists = [
        ("dns", &hc.dns),
        ("dns-search", &hc.dns_search),
        ("dns-option", &hc.dns_options),
        ("add-host", &hc.extra_hosts),
    ];
    let values = single.into_iter().map(|(k, v)| (k, v.as_str())).chain(
        lists
            .into_iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k, v.as_str()))),
    );
    for (what, value) in values {
        if value.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(format!(
                "invalid {what} {value:?}: it holds control characters (a newline, a tab...)"
            )));
        }
    }
    Ok(())
}

/// Rejects settings Berth does not implement yet, naming them.
pub fn validate(req: &CreateRequest) -> Result<(), Error> {
    let mut unsupported =
        unsupported_settings("HostConfig", &req.host_config.other, IGNORED_HOST_FIELDS);
    let hc = &req.host_config;
    super::log_driver::settings(&hc.log_config)?;
    super::restart::RestartPolicy::parse(&hc.restart_policy)?;
    if hc.auto_remove && !matches!(hc.restart_policy.name.as_str(), "" | "no") {
        return Err(Error::InvalidArgument(
            "conflicting options: cannot specify both --restart and --rm".into(),
        ));
    }
    for opt in &hc.security_opt {
        let seccomp = opt.starts_with("seccomp=") || opt.starts_with("seccomp:");
        if no_new_privileges(opt).is_none() && !seccomp {
            unsupported.push(format!("security option {opt}"));
        }
    }
    if !matches!(hc.runtime.as_str(), "" | RUNTIME) {
        return Err(Error::InvalidArgument(format!(
            "Unknown runtime specified {}",
            hc.runtime
        )));
    }
    super::health::validate(req.config.healthcheck.as_ref()).map_err(Error::InvalidArgument)?;
    line_safe(req)?;
    for key in hc.annotations.keys() {
        if key.is_empty() {
            return Err(Error::InvalidArgument(
                "invalid Annotations: the empty string is not permitted as an annotation key"
                    .into(),
            ));
        }
        if key.starts_with(berth_runtime::RESERVED_ANNOTATION_PREFIX) {
            return Err(Error::InvalidArgument(format!(
                "invalid Annotations: {key}: keys starting with {} are reserved for berth's runtime",
                berth_runtime::RESERVED_ANNOTATION_PREFIX
            )));
        }
    }
    for rule in &hc.device_cgroup_rules {
        berth_runtime::spec::parse_device_cgroup_rule(rule)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    if hc.shm_size < 0 {
        return Err(Error::InvalidArgument(
            "SHM size can not be less than 0".into(),
        ));
    }
    unsupported.extend(not_wired_yet(hc));
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "berth does not support these settings yet: {}",
            unsupported.join(", ")
        )))
    }
}

/// The one runtime name a container may ask for (and is recorded with).
pub const RUNTIME: &str = "runc";

/// `/dev/shm`'s size when none is asked for (Docker's 64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Typed HostConfig settings Berth does not implement yet.
fn not_wired_yet(hc: &HostConfig) -> Vec<String> {
    let mut out = Vec::new();
    if !matches!(hc.userns_mode.as_str(), "" | "private" | "host") {
        out.push(format!("--userns {} (only host)", hc.userns_mode));
    }
    out
}

/// What a container in the daemon's remapped user namespace
/// (`--userns-remap`, unless it asks for `--userns host`) cannot have.
pub fn check_remapped(hc: &HostConfig) -> Result<(), Error> {
    if hc.userns_mode == "host" {
        return Ok(());
    }
    let refused = |why: &str| Err(Error::InvalidArgument(why.to_string()));
    if hc.privileged {
        return refused("privileged mode is incompatible with user namespaces. You must run the container in the host namespace when running privileged mode");
    }
    if hc.network_mode == "host" {
        return refused(
            "cannot share the host's network namespace when user namespaces are enabled",
        );
    }
    if hc.pid_mode == "host" {
        return refused("cannot share the host PID namespace when user namespaces are enabled");
    }
    for (flag, mode) in [("--pid", &hc.pid_mode), ("--ipc", &hc.ipc_mode)] {
        if mode.starts_with("container:") {
            return Err(Error::NotImplemented(format!(
                "{flag} {mode}: sharing another container's namespace is not supported yet with --userns-remap"
            )));
        }
    }
    Ok(())
}

/// `no-new-privileges`, `no-new-privileges:true`, `no-new-privileges=false`.
pub fn no_new_privileges(opt: &str) -> Option<bool> {
    let rest = opt.strip_prefix("no-new-privileges")?;
    match rest {
        "" | ":true" | "=true" => Some(true),
        ":false" | "=false" => Some(false),
        _ => None,
    }
}

pub fn wants_no_new_privileges(hc: &HostConfig) -> bool {
    hc.security_opt
        .iter()
        .filter_map(|o| no_new_privileges(o))
        .next_back()
        .unwrap_or(false)
}

/// The container config after applying the image's defaults, as Docker does:
/// env merged by key, entrypoint override drops the image's CMD, labels merged.
pub fn merge_image_config(req: &ContainerConfig, image_config: &Value) -> ContainerConfig {
    let img = image_config
        .get("config")
        .or_else(|| image_config.get("Config"));
    let field = |name: &str| img.and_then(|c| c.get(name)).filter(|v| !v.is_null());
    let strings = |name: &str| -> Option<Vec<String>> {
        field(name).and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
    };
    let string = |name: &str| {
        field(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };

    let mut merged = req.clone();
    merged.env = merge_env(&strings("Env").unwrap_or_default(), &req.env);
    if req.entrypoint.is_none() {
        merged.entrypoint = strings("Entrypoint");
        if req.cmd.is_none() {
            merged.cmd = strings("Cmd");
        }
    }
    if merged.working_dir.is_empty() {
        merged.working_dir = string("WorkingDir");
    }
    if merged.user.is_empty() {
        merged.user = string("User");
    }
    if merged.stop_signal.is_none() {
        merged.stop_signal = field("StopSignal")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    if merged.exposed_ports.is_none() {
        merged.exposed_ports =
            field("ExposedPorts").and_then(|v| serde_json::from_value(v.clone()).ok());
    }
    if merged.volumes.is_none() {
        merged.volumes = field("Volumes").and_then(|v| serde_json::from_value(v.clone()).ok());
    }
    if merged.on_build.is_none() {
        merged.on_build = strings("OnBuild");
    }
    if merged.shell.is_none() {
        merged.shell = strings("Shell");
    }
    let mut labels: BTreeMap<String, String> = field("Labels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    labels.extend(req.labels.clone());
    merged.labels = labels;
    merged
}

/// Image env first; a request entry replaces the image's entry with the same key.
pub fn merge_env(image: &[String], request: &[String]) -> Vec<String> {
    let key = |e: &String| e.split_once('=').map_or(e.clone(), |(k, _)| k.to_string());
    let mut out: Vec<String> = Vec::with_capacity(image.len() + request.len());
    for e in image.iter().chain(request) {
        let k = key(e);
        if let Some(slot) = out.iter_mut().find(|x| key(x) == k) {
            *slot = e.clone();
        } else {
            out.push(e.clone());
        }
    }
    out
}

/// `Path` and `Args` from the merged entrypoint and cmd.
pub fn command(config: &ContainerConfig) -> Result<(String, Vec<String>), Error> {
    let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    if argv.len() == 1 && argv[0].is_empty() {
        argv.clear();
    }
    argv.extend(config.cmd.clone().unwrap_or_default());
    let mut it = argv.into_iter();
    match it.next() {
        Some(path) if !path.is_empty() => Ok((path, it.collect())),
        _ => Err(Error::InvalidArgument("no command specified".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Value {
        json!({"config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": null,
                          "WorkingDir": "/app", "Labels": {"l": "img", "k": "img"}}})
    }

    /// A newline in a name or DNS setting would write lines of the
    /// client's choosing into the container's files.
    #[test]
    fn settings_written_as_lines_are_single_lines() {
        let req = |v: Value| -> CreateRequest { serde_json::from_value(v).expect("request") };
        for bad in [
            json!({"Image": "b", "Hostname": "web\n1.2.3.4 bank.example"}),
            json!({"Image": "b", "Domainname": "a\tb"}),
            json!({"Image": "b", "HostConfig": {"Dns": ["1.1.1.1\nnameserver 6.6.6.6"]}}),
            json!({"Image": "b", "HostConfig": {"DnsOptions": ["ndots:1\nsearch evil"]}}),
            json!({"Image": "b", "HostConfig": {"DnsSearch": ["a\rb"]}}),
            json!({"Image": "b", "HostConfig": {"ExtraHosts": ["x:1.2.3.4\n5.6.7.8 y"]}}),
        ] {
            let err = validate(&req(bad.clone())).unwrap_err().to_string();
            assert!(err.contains("control characters"), "{bad}: {err}");
        }
        assert!(validate(&req(
            json!({"Image": "b", "Hostname": "web-1", "HostConfig": {"Dns": ["1.1.1.1"]}})
        ))
        .is_ok());
    }

    #[test]
    fn image_defaults_apply() {
        let req = ContainerConfig {
            env: vec!["A=2".into(), "B=3".into()],
            ..Default::default()
        };
        let m = merge_image_config(&req, &image());
        assert_eq!(m.env, vec!["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(m.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(m.working_dir, "/app");
        assert_eq!(command(&m).unwrap(), ("sh".to_string(), vec![]));
    }

    #[test]
    fn entrypoint_override_drops_image_cmd() {
        let req = ContainerConfig {
            entrypoint: Some(vec!["echo".into()]),
            ..Default::default()
        };
        let m = merge_image_config(&req, &image());
        assert_eq!(m.cmd, None);
        assert_eq!(command(&m).unwrap(), ("echo".to_string(), vec![]));
    }

    #[test]
    fn cmd_override_and_labels() {
        let mut labels = BTreeMap::new();
        labels.insert("k".to_string(), "ctr".to_string());
        let req = ContainerConfig {
            cmd: Some(vec!["echo".into(), "hi".into()]),
            labels,
            ..Default::default()
        };
        let m = merge_image_config(&req, &image());
        assert_eq!(
            command(&m).unwrap(),
            ("echo".to_string(), vec!["hi".to_string()])
        );
        assert_eq!(m.labels["k"], "ctr");
        assert_eq!(m.labels["l"], "img");
    }

    #[test]
    fn empty_command_is_an_error() {
        let req = ContainerConfig {
            entrypoint: Some(vec![String::new()]),
            ..Default::default()
        };
        let m = merge_image_config(&req, &json!({"config": {}}));
        assert_eq!(command(&m).unwrap_err().to_string(), "no command specified");
    }

    #[test]
    fn remapped_containers_refuse_what_needs_the_hosts_ids() {
        let hc = |v: serde_json::Value| -> HostConfig { serde_json::from_value(v).unwrap() };
        for (v, want) in [
            (
                json!({"Privileged": true}),
                "privileged mode is incompatible",
            ),
            (json!({"NetworkMode": "host"}), "host's network namespace"),
            (json!({"PidMode": "host"}), "host PID namespace"),
            (
                json!({"IpcMode": "container:db"}),
                "--ipc container:db: sharing",
            ),
            (
                json!({"PidMode": "container:db"}),
                "--pid container:db: sharing",
            ),
        ] {
            let err = check_remapped(&hc(v.clone())).unwrap_err().to_string();
            assert!(err.contains(want), "{v}: {err}");
        }
        check_remapped(&hc(
            json!({"Privileged": true, "UsernsMode": "host", "NetworkMode": "host"}),
        ))
        .expect("--userns host opts out");
        check_remapped(&hc(
            json!({"NetworkMode": "container:db", "IpcMode": "shareable"}),
        ))
        .expect("a joined network namespace is fine");
    }

    #[test]
    fn unsupported_settings_are_named() {
        let req: CreateRequest = serde_json::from_value(json!({
            "Image": "busybox", "HostConfig": {"Memory": 1024, "OomScoreAdj": 5, "UsernsMode": "keep-id", "ConsoleSize": [1, 2], "MemorySwappiness": -1, "RestartPolicy": {"Name": "always"}}
        }))
        .unwrap();
        let err = validate(&req).unwrap_err().to_string();
        assert!(err.contains("HostConfig.OomScoreAdj"), "{err}");
        assert!(err.contains("--userns keep-id (only host)"), "{err}");
        assert!(!err.contains("Memory,"), "{err}");
        assert!(!err.contains("ConsoleSize"), "{err}");
        assert!(!err.contains("MemorySwappiness"), "{err}");
    }

    #[test]
    fn security_opts() {
        assert_eq!(no_new_privileges("no-new-privileges"), Some(true));
        assert_eq!(no_new_privileges("no-new-privileges:false"), Some(false));
        assert_eq!(no_new_privileges("seccomp=unconfined"), None);
    }
}
