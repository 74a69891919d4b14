//! Container records as the API shows them (inspect, list) and list filters.

use std::collections::HashMap;

use berth_api::container::{ContainerInspect, ContainerState, ContainerSummary};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ContainerRecord, Status};
use crate::paths::ContainerPaths;
use crate::{time, Error};

pub(super) fn inspect(r: &ContainerRecord, paths: &ContainerPaths) -> ContainerInspect {
    ContainerInspect {
        id: r.id.clone(),
        created: r.created.clone(),
        path: r.path.clone(),
        args: r.args.clone(),
        state: ContainerState {
            status: r.status.as_str().into(),
            running: r.status.is_running(),
            paused: r.status == Status::Paused,
            restarting: r.status == Status::Restarting,
            oom_killed: r.oom_killed,
            dead: r.status == Status::Dead,
            pid: r.pid,
            exit_code: r.exit_code,
            error: r.error.clone(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            health: r.health.as_ref().and_then(|h| serde_json::to_value(h).ok()),
        },
        image: r.image_id.clone(),
        resolv_conf_path: String::new(),
        hostname_path: paths.hostname_file().display().to_string(),
        hosts_path: paths.hosts_file().display().to_string(),
        log_path: paths.log().display().to_string(),
        name: format!("/{}", r.name),
        restart_count: r.restart_count,
        driver: "overlay".into(),
        platform: "linux".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: None,
        host_config: r.host_config.clone(),
        graph_driver: json!({
            "Name": "overlay",
            "Data": {
                "UpperDir": paths.upper().display().to_string(),
                "WorkDir": paths.work().display().to_string(),
                "MergedDir": paths.rootfs().display().to_string(),
            }
        }),
        mounts: Vec::new(),
        config: {
            let mut c = r.config.clone();
            c.image = r.image_name.clone();
            c
        },
        network_settings: json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false, "Ports": {}, "SandboxKey": "",
            "IPAddress": "", "IPPrefixLen": 0, "Gateway": "", "MacAddress": "", "Networks": {}
        }),
    }
}

/// Docker's `Status` column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
pub(super) fn status_text(r: &ContainerRecord, now: DateTime<Utc>) -> String {
    let since = |t: &str| time::parse(t).map(|t| (now - t).num_seconds()).unwrap_or(0);
    match r.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let health = match r.health.as_ref().map(|h| h.status) {
                Some(super::health::HealthStatus::Starting) => " (health: starting)",
                Some(super::health::HealthStatus::Healthy) => " (healthy)",
                Some(super::health::HealthStatus::Unhealthy) => " (unhealthy)",
                None => "",
            };
            format!("Up {}{health}", time::human_duration(since(&r.started_at)))
        }
        Status::Paused => format!("Up {} (Paused)", time::human_duration(since(&r.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            r.exit_code,
            time::human_duration(since(&r.finished_at))
        ),
        Status::Exited if r.finished_at == time::ZERO => format!("Exited ({})", r.exit_code),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            r.exit_code,
            time::human_duration(since(&r.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

pub(super) fn summary(r: &ContainerRecord, now: DateTime<Utc>) -> ContainerSummary {
    ContainerSummary {
        id: r.id.clone(),
        names: vec![format!("/{}", r.name)],
        image: r.image_name.clone(),
        image_id: r.image_id.clone(),
        command: r.command_line(),
        created: time::parse(&r.created).map(|t| t.timestamp()).unwrap_or(0),
        ports: Vec::new(),
        labels: r.config.labels.clone(),
        state: r.status.as_str().into(),
        status: status_text(r, now),
        host_config: {
            let mode = match r.host_config.network_mode.as_str() {
                "" => "default",
                m => m,
            };
            let mut hc = json!({ "NetworkMode": mode });
            if !r.host_config.annotations.is_empty() {
                hc["Annotations"] = json!(r.host_config.annotations);
            }
            hc
        },
        network_settings: json!({ "Networks": {} }),
        mounts: Vec::new(),
    }
}

/// The `filters` of `GET /containers/json`, every one Docker documents,
/// with its semantics.
#[derive(Debug, Default)]
pub(super) struct Filter {
    ids: Vec<String>,
    /// Regular expressions matched against `/name` and `name` (as dockerd).
    names: Vec<regex::Regex>,
    statuses: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    exited: Vec<i64>,
    ancestors: Vec<String>,
    /// Containers named by `before=`/`since=`, resolved to their creation
    /// time by [`Filter::resolve`].
    before_ref: Option<String>,
    since_ref: Option<String>,
    before: Option<String>,
    since: Option<String>,
    /// Volume names or mount destinations.
    volumes: Vec<String>,
    /// Network names or ids.
    networks: Vec<String>,
    healths: Vec<String>,
    /// Container port keys (`80/tcp`).
    publish: Vec<String>,
    expose: Vec<String>,
    /// `is-task`: berth runs no swarm tasks.
    is_task: Option<bool>,
}

/// `80`, `80/udp`, `8000-8002/tcp` as port keys.
fn port_keys(key: &str, v: &str) -> Result<Vec<String>, Error> {
    let bad = || Error::InvalidArgument(format!("invalid filter '{key}={v}'"));
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

impl Filter {
    pub(super) fn parse(filters: &HashMap<String, Vec<String>>) -> Result<Filter, Error> {
        let mut f = Filter::default();
        for (key, values) in filters {
            for v in values {
                let bad = || Error::InvalidArgument(format!("invalid filter '{key}={v}'"));
                match key.as_str() {
                    "id" => f.ids.push(v.clone()),
                    "name" => f.names.push(crate::filters::pattern(v).map_err(|_| bad())?),
                    "status" => {
                        const KNOWN: &[&str] = &[
                            "created",
                            "restarting",
                            "running",
                            "removing",
                            "paused",
                            "exited",
                            "dead",
                        ];
                        if !KNOWN.contains(&v.as_str()) {
                            return Err(bad());
                        }
                        f.statuses.push(v.clone());
                    }
                    "label" => f.labels.push(match v.split_once('=') {
                        Some((k, val)) => (k.to_string(), Some(val.to_string())),
                        None => (v.clone(), None),
                    }),
                    "exited" => f.exited.push(v.parse().map_err(|_| bad())?),
                    "ancestor" => f.ancestors.push(v.clone()),
                    "before" => f.before_ref = Some(v.clone()),
                    "since" => f.since_ref = Some(v.clone()),
                    "volume" => f.volumes.push(v.clone()),
                    "network" => f.networks.push(v.clone()),
                    "health" => {
                        if !matches!(v.as_str(), "starting" | "healthy" | "unhealthy" | "none") {
                            return Err(Error::InvalidArgument(format!(
                                "Unrecognised filter value for health: {v}"
                            )));
                        }
                        f.healths.push(v.clone());
                    }
                    "publish" => f.publish.extend(port_keys(key, v)?),
                    "expose" => f.expose.extend(port_keys(key, v)?),
                    "is-task" => {
                        f.is_task = Some(match v.as_str() {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => return Err(bad()),
                        })
                    }
                    other => {
                        return Err(Error::InvalidArgument(format!("invalid filter '{other}'")))
                    }
                }
            }
        }
        Ok(f)
    }

    /// Resolves `before=`/`since=` to their containers' creation times
    /// (`created_of` looks a container up by name or id).
    pub(super) fn resolve(
        &mut self,
        created_of: &dyn Fn(&str) -> Result<String, Error>,
    ) -> Result<(), Error> {
        if let Some(r) = &self.before_ref {
            self.before = Some(created_of(r)?);
        }
        if let Some(r) = &self.since_ref {
            self.since = Some(created_of(r)?);
        }
        Ok(())
    }

    pub(super) fn mentions_status(&self) -> bool {
        !self.statuses.is_empty() || !self.exited.is_empty()
    }

    pub(super) fn matches(&self, r: &ContainerRecord) -> bool {
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| pred(v))
        };
        let created = time::parse(&r.created);
        let after = |t: &Option<String>| t.as_deref().and_then(time::parse);
        let health = r.health.as_ref().map_or("none", |h| h.status.as_str());
        let full_name = format!("/{}", r.name);
        any(&self.ids, &|v| r.id.starts_with(v))
            && (self.names.is_empty()
                || self
                    .names
                    .iter()
                    .any(|re| re.is_match(&full_name) || re.is_match(&r.name)))
            && any(&self.statuses, &|v| v == r.status.as_str())
            && any(&self.ancestors, &|v| {
                r.image_name == v
                    || r.image_id == v
                    || r.image_id.trim_start_matches("sha256:").starts_with(v)
            })
            && (self.exited.is_empty()
                || (r.status == Status::Exited && self.exited.contains(&r.exit_code)))
            && self.labels.iter().all(|(k, v)| match v {
                Some(v) => r.config.labels.get(k) == Some(v),
                None => r.config.labels.contains_key(k),
            })
            && after(&self.before).is_none_or(|b| created.is_some_and(|c| c < b))
            && after(&self.since).is_none_or(|s| created.is_some_and(|c| c > s))
            && any(&self.volumes, &|v| {
                r.mounts.iter().any(|m| {
                    (m.kind == super::mounts::MountKind::Volume && m.source == v) || m.target == v
                })
            })
            && any(&self.networks, &|v| {
                r.endpoints
                    .iter()
                    .any(|e| e.network_name == v || e.network_id.starts_with(v))
            })
            && any(&self.healths, &|v| v == health)
            && any(&self.publish, &|v| {
                r.host_config
                    .port_bindings
                    .get(v)
                    .is_some_and(|b| b.as_ref().is_some_and(|b| !b.is_empty()))
            })
            && any(&self.expose, &|v| {
                r.config
                    .exposed_ports
                    .as_ref()
                    .is_some_and(|e| e.contains_key(v))
            })
            && self.is_task != Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(name: &str, created: &str, extra: serde_json::Value) -> ContainerRecord {
        let mut v = json!({
            "id": format!("{name}0123456789"), "name": name, "created": created,
            "image_name": "busybox", "image_id": "sha256:abc",
            "config": {"Image": "busybox", "ExposedPorts": {"80/tcp": {}}},
            "host_config": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
            "path": "sh", "args": [], "status": serde_json::to_value(Status::Running).unwrap(),
            "pid": 1, "exit_code": 0, "error": "", "started_at": created,
            "finished_at": created, "restart_count": 0,
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    fn filter(pairs: &[(&str, &str)]) -> Result<Filter, Error> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Filter::parse(&m)
    }

    #[test]
    fn dockers_filters() {
        let web = rec("web", "2026-01-02T00:00:00Z", json!({}));
        let db = rec(
            "db",
            "2026-01-03T00:00:00Z",
            json!({"mounts": [{"kind": "volume", "source": "data", "target": "/var/lib/db", "read_only": false}]}),
        );
        let keeps = |pairs: &[(&str, &str)], r: &ContainerRecord| filter(pairs).unwrap().matches(r);
        assert!(keeps(&[("name", "^/web$")], &web) && keeps(&[("name", "^web$")], &web));
        assert!(!keeps(&[("name", "^/we$")], &web) && keeps(&[("name", "e")], &web));
        assert!(keeps(&[("volume", "data")], &db) && keeps(&[("volume", "/var/lib/db")], &db));
        assert!(!keeps(&[("volume", "data")], &web));
        assert!(keeps(&[("publish", "80")], &web) && keeps(&[("publish", "79-81/tcp")], &web));
        assert!(!keeps(&[("publish", "80/udp")], &web));
        assert!(keeps(&[("expose", "80/tcp")], &web) && !keeps(&[("expose", "81")], &web));
        assert!(keeps(&[("health", "none")], &web) && !keeps(&[("health", "healthy")], &web));
        assert!(keeps(&[("is-task", "false")], &web) && !keeps(&[("is-task", "true")], &web));
        let mut before = filter(&[("before", "db")]).unwrap();
        before.resolve(&|_| Ok(db.created.clone())).unwrap();
        assert!(before.matches(&web) && !before.matches(&db));
        let mut since = filter(&[("since", "web")]).unwrap();
        since.resolve(&|_| Ok(web.created.clone())).unwrap();
        assert!(since.matches(&db) && !since.matches(&web));
        for (k, v, message) in [
            ("colour", "red", "invalid filter 'colour'"),
            ("health", "ok", "Unrecognised filter value for health: ok"),
            ("publish", "x", "invalid filter 'publish=x'"),
            ("name", "(", "invalid filter 'name=('"),
            ("status", "sleepy", "invalid filter 'status=sleepy'"),
        ] {
            assert_eq!(filter(&[(k, v)]).unwrap_err().to_string(), message);
        }
    }
}
