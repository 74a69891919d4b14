//! A service as the Engine API's create request (pure): the container's
//! config, host config and first network endpoint, with compose's labels
//! and names.

use std::collections::BTreeMap;

use berth_api::container::{
    ContainerConfig, CreateRequest, DeviceMapping, HostConfig, LogConfig, Mount, PortBinding,
    Resources, RestartPolicy, Ulimit,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::loader::Project;
use crate::model::Service;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const VERSION: &str = "com.docker.compose.version";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The compose version Berth's labels report.
pub const COMPOSE_VERSION: &str = "2.29.0";

/// `<project>-<service>-<n>`, or the service's `container_name`.
pub fn container_name(p: &Project, service: &str, s: &Service, number: u32) -> String {
    match &s.container_name {
        Some(n) => n.clone(),
        None => format!("{}-{service}-{number}", p.name),
    }
}

/// The image a service runs: its `image`, or `<project>-<service>` when it
/// is only built.
pub fn image_name(p: &Project, service: &str, s: &Service) -> String {
    match &s.image {
        Some(i) => i.clone(),
        None => format!("{}-{service}", p.name),
    }
}

/// The engine name of a project network (`<project>_<key>` unless named).
pub fn network_name(p: &Project, key: &str) -> String {
    match p.networks.get(key) {
        Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
        Some(n) if n.external => key.to_string(),
        _ => format!("{}_{key}", p.name),
    }
}

/// The engine name of a project volume.
pub fn volume_name(p: &Project, key: &str) -> String {
    match p.volumes.get(key) {
        Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
        Some(v) if v.external => key.to_string(),
        _ => format!("{}_{key}", p.name),
    }
}

/// The service's config hash: what `up` compares to decide whether a
/// container is out of date (scale and replicas are not part of it).
pub fn config_hash(s: &Service) -> String {
    let mut s = s.clone();
    s.scale = None;
    if let Some(d) = &mut s.deploy {
        d.replicas = None;
    }
    s.profiles.clear();
    s.develop = None;
    let bytes = serde_json::to_vec(&s).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// How many containers a service runs.
pub fn replicas(s: &Service) -> u32 {
    let n = s
        .scale
        .or_else(|| s.deploy.as_ref().and_then(|d| d.replicas))
        .unwrap_or(1);
    u32::try_from(n.max(0)).unwrap_or(1)
}

fn duration_ns(d: &Option<String>) -> i64 {
    d.as_deref()
        .and_then(berth_api::units::go_duration_ns)
        .unwrap_or(0)
}

fn restart_policy(s: &Service) -> Result<RestartPolicy, Error> {
    if let Some(r) = &s.restart {
        return RestartPolicy::parse(r).map_err(Error::Project);
    }
    if let Some(rp) = s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        let name = match rp.condition.as_deref() {
            None | Some("any") => "always",
            Some("on-failure") => "on-failure",
            Some("none") => "no",
            Some(other) => {
                return Err(Error::Project(format!(
                    "invalid deploy.restart_policy.condition {other:?}"
                )))
            }
        };
        return Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count: rp.max_attempts.unwrap_or(0),
        });
    }
    Ok(RestartPolicy::default())
}

fn resources(s: &Service) -> Resources {
    let limits = s
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.clone())
        .unwrap_or_default();
    let reservations = s
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.reservations.clone())
        .unwrap_or_default();
    let cpus = s.cpus.or(limits.cpus).unwrap_or(0.0);
    Resources {
        memory: s.mem_limit.or(limits.memory).unwrap_or(0),
        memory_swap: s.memswap_limit.unwrap_or(0),
        memory_reservation: s.mem_reservation.or(reservations.memory).unwrap_or(0),
        nano_cpus: (cpus * 1e9) as i64,
        cpu_shares: s.cpu_shares.unwrap_or(0),
        cpuset_cpus: s.cpuset.clone().unwrap_or_default(),
        pids_limit: s.pids_limit.or(limits.pids),
        ..Resources::default()
    }
}

/// The service's networks by priority (highest first, then by name).
pub fn networks_in_order(s: &Service) -> Vec<String> {
    if s.networks.is_empty() {
        return if s.network_mode.is_some() {
            Vec::new()
        } else {
            vec!["default".to_string()]
        };
    }
    let mut v: Vec<(&String, i64)> = s
        .networks
        .iter()
        .map(|(k, n)| (k, n.priority.unwrap_or(0)))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.clone()).collect()
}

/// The endpoint settings of the service on a network.
pub fn endpoint(p: &Project, service: &str, s: &Service, name: &str, key: &str) -> Value {
    let mut aliases = vec![service.to_string(), name.to_string()];
    let mut ipam = serde_json::Map::new();
    if let Some(n) = s.networks.get(key) {
        aliases.extend(n.aliases.iter().cloned());
        if let Some(ip) = &n.ipv4_address {
            ipam.insert("IPv4Address".into(), json!(ip));
        }
        if let Some(ip) = &n.ipv6_address {
            ipam.insert("IPv6Address".into(), json!(ip));
        }
    }
    let _ = p;
    let mut e = json!({ "Aliases": aliases });
    if !ipam.is_empty() {
        e["IPAMConfig"] = Value::Object(ipam);
    }
    e
}

/// What else a container needs that only the engine knows: the container
/// to share a network stack with (`network_mode: service:x`).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Service name to the id of its first container.
    pub service_containers: BTreeMap<String, String>,
    /// The image id the service's image resolves to (for the label).
    pub image_id: String,
}

fn file_target(dir: &str, r: &crate::model::FileRef) -> String {
    match &r.target {
        Some(t) if t.starts_with('/') => t.clone(),
        Some(t) => format!("{dir}{t}"),
        None => format!("{dir}{}", r.source),
    }
}

/// A file copied into a container before it starts: a secret or config
/// from an environment variable or inline content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFile {
    /// Absolute path in the container.
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// The secrets and configs of a service that are not files on the host.
pub fn injected_files(p: &Project, s: &Service) -> Result<Vec<InjectedFile>, Error> {
    let mut out = Vec::new();
    for (dir, refs, defs) in [
        ("/run/secrets/", &s.secrets, &p.secrets),
        ("/", &s.configs, &p.configs),
    ] {
        for r in refs {
            let def = defs.get(&r.source).cloned().unwrap_or_default();
            let content = match (&def.environment, &def.content) {
                (Some(var), _) => p.variables.get(var).cloned().ok_or_else(|| {
                    Error::Project(format!(
                        "environment variable {var} of {:?} is not set",
                        r.source
                    ))
                })?,
                (None, Some(c)) => c.clone(),
                (None, None) => continue,
            };
            let id = |v: &Option<String>| v.as_deref().and_then(|x| x.parse().ok()).unwrap_or(0);
            out.push(InjectedFile {
                path: file_target(dir, r),
                content: content.into_bytes(),
                mode: r.mode.map(|m| m as u32).unwrap_or(0o444),
                uid: id(&r.uid),
                gid: id(&r.gid),
            });
        }
    }
    Ok(out)
}

/// The create request of container `number` of `service`.
pub fn create_request(
    p: &Project,
    service: &str,
    s: &Service,
    number: u32,
    oneoff: bool,
    ctx: &Context,
) -> Result<(String, CreateRequest), Error> {
    let name = container_name(p, service, s, number);
    let mut labels = s.labels.clone();
    labels.insert(PROJECT.into(), p.name.clone());
    labels.insert(SERVICE.into(), service.into());
    labels.insert(NUMBER.into(), number.to_string());
    labels.insert(
        ONEOFF.into(),
        if oneoff { "True" } else { "False" }.to_string(),
    );
    labels.insert(CONFIG_HASH.into(), config_hash(s));
    labels.insert(
        CONFIG_FILES.into(),
        p.config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    labels.insert(WORKING_DIR.into(), p.working_dir.display().to_string());
    labels.insert(VERSION.into(), COMPOSE_VERSION.into());
    labels.insert(
        DEPENDS_ON.into(),
        s.depends_on
            .iter()
            .map(|(k, d)| format!("{k}:{}:{}", d.condition, d.restart))
            .collect::<Vec<_>>()
            .join(","),
    );
    if !ctx.image_id.is_empty() {
        labels.insert(IMAGE.into(), ctx.image_id.clone());
    }

    let mut exposed: BTreeMap<String, Value> = BTreeMap::new();
    for e in &s.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        for n in crate::ports::expand(port) {
            exposed.insert(format!("{n}/{proto}"), json!({}));
        }
    }
    let mut bindings: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
    for port in &s.ports {
        let targets = crate::ports::expand(&port.target);
        let published = if port.published.is_empty() {
            Vec::new()
        } else {
            crate::ports::expand(&port.published)
        };
        for (i, t) in targets.iter().enumerate() {
            let key = format!("{t}/{}", port.protocol);
            exposed.insert(key.clone(), json!({}));
            let host_port = match published.len() {
                0 => String::new(),
                1 if targets.len() > 1 => published[0].to_string(),
                _ => published.get(i).map(u16::to_string).unwrap_or_default(),
            };
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: port.host_ip.clone(),
                    host_port,
                });
        }
    }

    let mut mounts = Vec::new();
    for v in &s.volumes {
        let mut m = Mount {
            kind: v.kind.clone(),
            source: String::new(),
            target: v.target.clone(),
            read_only: v.read_only,
            ..Mount::default()
        };
        match v.kind.as_str() {
            "volume" => {
                if !v.source.is_empty() {
                    m.source = volume_name(p, &v.source);
                }
                if let Some(o) = &v.volume {
                    let mut opts = json!({ "NoCopy": o.nocopy });
                    if let Some(sp) = &o.subpath {
                        opts["Subpath"] = json!(sp);
                    }
                    m.volume_options = Some(opts);
                }
            }
            "bind" => {
                m.source = v.source.clone();
                if let Some(b) = &v.bind {
                    if let Some(prop) = &b.propagation {
                        m.bind_options = Some(json!({ "Propagation": prop }));
                    }
                    // Docker Compose makes a missing host directory.
                    if b.create_host_path == Some(true) {
                        let _ = std::fs::create_dir_all(&v.source);
                    }
                }
            }
            "tmpfs" => {
                if let Some(t) = &v.tmpfs {
                    let mut o = serde_json::Map::new();
                    if let Some(size) = t.size {
                        o.insert("SizeBytes".into(), json!(size));
                    }
                    if let Some(mode) = t.mode {
                        o.insert("Mode".into(), json!(mode));
                    }
                    m.tmpfs_options = Some(Value::Object(o));
                }
            }
            _ => {}
        }
        mounts.push(m);
    }
    for (dir, refs, defs) in [
        ("/run/secrets/", &s.secrets, &p.secrets),
        ("/", &s.configs, &p.configs),
    ] {
        for r in refs {
            let def = defs.get(&r.source).cloned().unwrap_or_default();
            if def.external == Some(true) {
                return Err(Error::Unsupported(format!(
                    "external {} {:?} (a swarm object)",
                    if dir == "/" { "config" } else { "secret" },
                    r.source
                )));
            }
            // Environment and inline sources are copied in after create.
            let Some(file) = def.file else {
                continue;
            };
            let target = file_target(dir, r);
            mounts.push(Mount {
                kind: "bind".into(),
                source: file,
                target,
                read_only: true,
                ..Mount::default()
            });
        }
    }

    let nets = networks_in_order(s);
    let network_mode = match s.network_mode.as_deref() {
        Some(m) => match m.strip_prefix("service:") {
            Some(other) => {
                let id = ctx.service_containers.get(other).ok_or_else(|| {
                    Error::Failed(format!("service {other} has no container to share"))
                })?;
                format!("container:{id}")
            }
            None => m.to_string(),
        },
        None => nets.first().map(|k| network_name(p, k)).unwrap_or_default(),
    };
    let networking = nets.first().filter(|_| s.network_mode.is_none()).map(
        |k| json!({ "EndpointsConfig": { network_name(p, k): endpoint(p, service, s, &name, k) } }),
    );

    let healthcheck = s.healthcheck.as_ref().map(|h| {
        if h.disable {
            json!({ "Test": ["NONE"] })
        } else {
            json!({
                "Test": h.test.clone().unwrap_or_default(),
                "Interval": duration_ns(&h.interval),
                "Timeout": duration_ns(&h.timeout),
                "StartPeriod": duration_ns(&h.start_period),
                "StartInterval": duration_ns(&h.start_interval),
                "Retries": h.retries.unwrap_or(0),
            })
        }
    });

    let config = ContainerConfig {
        hostname: s.hostname.clone().unwrap_or_default(),
        domainname: s.domainname.clone().unwrap_or_default(),
        user: s.user.clone().unwrap_or_default(),
        tty: s.tty,
        open_stdin: s.stdin_open,
        attach_stdin: s.stdin_open,
        attach_stdout: true,
        attach_stderr: true,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        env: s
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.clone().unwrap_or_default()))
            .collect(),
        cmd: s.command.clone(),
        healthcheck,
        image: image_name(p, service, s),
        working_dir: s.working_dir.clone().unwrap_or_default(),
        entrypoint: s.entrypoint.clone(),
        mac_address: s.mac_address.clone(),
        labels,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s
            .stop_grace_period
            .as_ref()
            .map(|d| duration_ns(&Some(d.clone())) / 1_000_000_000),
        ..ContainerConfig::default()
    };
    let host_config = HostConfig {
        resources: resources(s),
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        privileged: s.privileged,
        readonly_rootfs: s.read_only,
        shm_size: s.shm_size.unwrap_or(0),
        tmpfs: s
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((p, o)) => (p.to_string(), o.to_string()),
                None => (t.clone(), String::new()),
            })
            .collect(),
        devices: s
            .devices
            .iter()
            .map(|d| {
                let parts: Vec<&str> = d.split(':').collect();
                DeviceMapping {
                    path_on_host: parts[0].to_string(),
                    path_in_container: parts.get(1).unwrap_or(&parts[0]).to_string(),
                    cgroup_permissions: parts.get(2).unwrap_or(&"rwm").to_string(),
                }
            })
            .collect(),
        group_add: s.group_add.clone(),
        sysctls: s.sysctls.clone(),
        ulimits: s
            .ulimits
            .iter()
            .map(|(k, u)| Ulimit {
                name: k.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        pid_mode: s.pid.clone().unwrap_or_default(),
        ipc_mode: s.ipc.clone().unwrap_or_default(),
        init: s.init,
        mounts,
        network_mode,
        port_bindings: bindings,
        dns: s.dns.clone(),
        dns_search: s.dns_search.clone(),
        dns_options: s.dns_opt.clone(),
        extra_hosts: s.extra_hosts.clone(),
        security_opt: s.security_opt.clone(),
        log_config: s
            .logging
            .as_ref()
            .map(|l| LogConfig {
                kind: l.driver.clone().unwrap_or_default(),
                config: l.options.clone(),
            })
            .unwrap_or_default(),
        restart_policy: restart_policy(s)?,
        volumes_from: s
            .volumes_from
            .iter()
            .map(|v| {
                let (src, mode) = match v.split_once(':') {
                    Some((a, b)) if a != "container" => (a, format!(":{b}")),
                    _ => (v.as_str(), String::new()),
                };
                match src.strip_prefix("container:") {
                    Some(c) => c.to_string(),
                    None => match ctx.service_containers.get(src) {
                        Some(id) => format!("{id}{mode}"),
                        None => v.clone(),
                    },
                }
            })
            .collect(),
        ..HostConfig::default()
    };
    Ok((
        name,
        CreateRequest {
            config,
            host_config,
            networking_config: networking,
            unknown: Default::default(),
        },
    ))
}
