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
        host_config: json!({ "NetworkMode": if r.host_config.network_mode.is_empty() { "default" } else { r.host_config.network_mode.as_str() } }),
        network_settings: json!({ "Networks": {} }),
        mounts: Vec::new(),
    }
}

/// The `filters` of `GET /containers/json` that Berth implements.
#[derive(Debug, Default)]
pub(super) struct Filter {
    ids: Vec<String>,
    names: Vec<String>,
    statuses: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    exited: Vec<i64>,
    ancestors: Vec<String>,
}

impl Filter {
    pub(super) fn parse(filters: &HashMap<String, Vec<String>>) -> Result<Filter, Error> {
        let mut f = Filter::default();
        for (key, values) in filters {
            for v in values {
                match key.as_str() {
                    "id" => f.ids.push(v.clone()),
                    "name" => f.names.push(v.clone()),
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
                            return Err(Error::InvalidArgument(format!(
                                "invalid filter 'status={v}'"
                            )));
                        }
                        f.statuses.push(v.clone());
                    }
                    "label" => f.labels.push(match v.split_once('=') {
                        Some((k, val)) => (k.to_string(), Some(val.to_string())),
                        None => (v.clone(), None),
                    }),
                    "exited" => f.exited.push(v.parse().map_err(|_| {
                        Error::InvalidArgument(format!("invalid filter 'exited={v}'"))
                    })?),
                    "ancestor" => f.ancestors.push(v.clone()),
                    other => {
                        return Err(Error::InvalidArgument(format!("invalid filter '{other}'")))
                    }
                }
            }
        }
        Ok(f)
    }

    pub(super) fn mentions_status(&self) -> bool {
        !self.statuses.is_empty() || !self.exited.is_empty()
    }

    pub(super) fn matches(&self, r: &ContainerRecord) -> bool {
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| pred(v))
        };
        any(&self.ids, &|v| r.id.starts_with(v))
            && any(&self.names, &|v| {
                let v = v.strip_prefix('/').unwrap_or(v);
                // Docker matches names as a regular expression; a substring
                // match covers the plain names clients send.
                let v = v.trim_start_matches('^');
                if let Some(exact) = v.strip_suffix('$') {
                    r.name == exact
                } else {
                    r.name.contains(v)
                }
            })
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
    }
}
