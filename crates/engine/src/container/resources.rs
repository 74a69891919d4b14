//! A running container's cgroup from the daemon, through the runtime seam:
//! pause/unpause (freezer), stats, and live resource updates.

use berth_api::container::Resources as ApiResources;
use berth_api::stats as api;
use berth_runtime::cgroups::Stats;

use super::{options, ContainerService, Status};
use crate::{time, Error};

pub use berth_api::container::UpdateRequest;

/// Overlays the fields of `update` that are set onto `current`.
pub fn merge_resources(current: &ApiResources, update: &ApiResources) -> ApiResources {
    let mut r = current.clone();
    fn is_set<T: PartialEq + Default>(v: &T) -> bool {
        *v != T::default()
    }
    macro_rules! take {
        ($($f:ident),*) => { $( if is_set(&update.$f) { r.$f = update.$f.clone(); } )* };
    }
    take!(
        memory,
        memory_swap,
        memory_reservation,
        nano_cpus,
        cpu_shares,
        cpu_quota,
        cpu_period,
        cpuset_cpus,
        cpuset_mems,
        blkio_weight
    );
    if update.pids_limit.is_some_and(|p| p != 0) {
        r.pids_limit = update.pids_limit;
    }
    r
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// One reading of a container: its cgroup's counters and its network
/// interfaces' (none when it has no network of its own).
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub cgroup: Stats,
    /// Counters by interface name.
    pub networks: std::collections::BTreeMap<String, api::NetworkStats>,
}

/// The interfaces of a `/proc/<pid>/net/dev` text, loopback left out (as
/// Docker leaves it out of stats).
pub fn parse_net_dev(text: &str) -> std::collections::BTreeMap<String, api::NetworkStats> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let n: Vec<u64> = rest
                .split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            if n.len() < 16 {
                return None;
            }
            let counters = api::NetworkStats {
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            };
            Some((name.to_string(), counters))
        })
        .collect()
}

/// One sample in Docker's stats shape (`cpu_stats`, `memory_stats`,
/// `networks`, ...).
pub fn stats_json(
    sample: &Sample,
    pre: Option<&Sample>,
    read: &str,
    preread: &str,
    name: &str,
    id: &str,
) -> api::Stats {
    let s = &sample.cgroup;
    let throttling = api::ThrottlingData::default();
    let cpu = |s: Option<&Stats>| match s {
        Some(s) => api::CpuStats {
            cpu_usage: api::CpuUsage {
                total_usage: s.cpu_total_ns,
                percpu_usage: Some(s.cpu_per_cpu_ns.clone()),
                usage_in_kernelmode: s.cpu_system_ns,
                usage_in_usermode: s.cpu_user_ns,
            },
            system_cpu_usage: Some(s.system_cpu_ns),
            online_cpus: Some(s.online_cpus),
            throttling_data: throttling.clone(),
        },
        None => api::CpuStats::default(),
    };
    let blkio = |op: &str, value: u64| api::BlkioEntry {
        major: 0,
        minor: 0,
        op: op.to_string(),
        value,
    };
    api::Stats {
        read: read.to_string(),
        preread: preread.to_string(),
        pids_stats: api::PidsStats {
            current: s.pids_current,
            limit: s.pids_limit,
        },
        blkio_stats: api::BlkioStats {
            io_service_bytes_recursive: Some(vec![
                blkio("read", s.blkio_read_bytes),
                blkio("write", s.blkio_write_bytes),
            ]),
        },
        num_procs: 0,
        storage_stats: Default::default(),
        cpu_stats: cpu(Some(s)),
        precpu_stats: cpu(pre.map(|p| &p.cgroup)),
        memory_stats: api::MemoryStats {
            usage: s.memory_usage,
            stats: s.memory_stat.clone(),
            limit: s.memory_limit.unwrap_or_else(host_memory),
        },
        name: format!("/{name}"),
        id: id.to_string(),
        networks: (!sample.networks.is_empty()).then(|| sample.networks.clone()),
    }
}

impl ContainerService {
    /// `POST /containers/{id}/pause`.
    pub async fn pause(&self, name_or_id: &str) -> Result<(), Error> {
        self.pause_as(name_or_id, false).await
    }

    /// Pauses, recording whether `commit` did (see
    /// `ContainerRecord::paused_for_commit`).
    pub(super) async fn pause_as(&self, name_or_id: &str, for_commit: bool) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        match rec.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict {
                    message: format!("Container {} is already paused", rec.id),
                })
            }
            _ => {
                return Err(Error::Conflict {
                    message: format!("Container {} is not running", rec.id),
                })
            }
        }
        let (runtime, id) = (self.inner.runtime.clone(), rec.id.clone());
        tokio::task::spawn_blocking(move || runtime.freeze(&id))
            .await
            .map_err(|e| Error::Internal(format!("freeze task failed: {e}")))?
            .map_err(|e| Error::Internal(format!("pausing {}: {e}", rec.id)))?;
        c.update(false, |r| {
            r.set_status(Status::Paused);
            r.paused_for_commit = for_commit;
        })?;
        self.publish("pause", &rec);
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn unpause(&self, name_or_id: &str) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if rec.status != Status::Paused {
            return Err(Error::Conflict {
                message: format!("Container {} is not paused", rec.id),
            });
        }
        let (runtime, id) = (self.inner.runtime.clone(), rec.id.clone());
        tokio::task::spawn_blocking(move || runtime.thaw(&id))
            .await
            .map_err(|e| Error::Internal(format!("thaw task failed: {e}")))?
            .map_err(|e| Error::Internal(format!("unpausing {}: {e}", rec.id)))?;
        c.update(false, |r| {
            r.set_status(Status::Running);
            r.paused_for_commit = false;
        })?;
        self.publish("unpause", &rec);
        Ok(())
    }

    /// Thaws a paused container so signals reach it (stop, kill, rm -f).
    pub(super) async fn thaw_if_paused(&self, c: &super::Container) -> Result<(), Error> {
        let rec = c.record();
        if rec.status != Status::Paused {
            return Ok(());
        }
        let (runtime, id) = (self.inner.runtime.clone(), rec.id.clone());
        tokio::task::spawn_blocking(move || runtime.thaw(&id))
            .await
            .map_err(|e| Error::Internal(format!("thaw task failed: {e}")))?
            .map_err(|e| Error::Internal(format!("unpausing {}: {e}", rec.id)))?;
        c.update(false, |r| {
            r.set_status(Status::Running);
        })
    }

    /// One stats sample; zeros for a container that does not run.
    pub async fn sample(
        &self,
        name_or_id: &str,
    ) -> Result<(super::ContainerRecord, Sample), Error> {
        let rec = self.get(name_or_id)?.record();
        if !rec.status.is_running() {
            return Ok((rec, Sample::default()));
        }
        let pid = rec.pid;
        let own_netns = !matches!(rec.host_config.network_mode.as_str(), "host" | "none");
        let (runtime, id) = (self.inner.runtime.clone(), rec.id.clone());
        let sample = tokio::task::spawn_blocking(move || runtime.sample(&id, pid, own_netns))
            .await
            .map_err(|e| Error::Internal(format!("stats task failed: {e}")))?
            .map_err(|e| Error::Internal(format!("reading stats of {}: {e}", rec.id)))?;
        Ok((rec, sample))
    }

    /// `POST /containers/{id}/update`: new limits (applied at once when the
    /// container runs) and restart policy; returns warnings.
    pub async fn update_resources(
        &self,
        name_or_id: &str,
        req: UpdateRequest,
    ) -> Result<Vec<String>, Error> {
        let ignored: Vec<&String> = req
            .other
            .iter()
            .filter(|(_, v)| !berth_api::container::is_zero(v))
            .map(|(k, _)| k)
            .collect();
        if !ignored.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "berth cannot update these settings: {}",
                ignored
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        let merged = merge_resources(&rec.host_config.resources, &req.resources);
        options::check_limits(self.inner.config.limits_refused(), &merged)?;
        if let Some(p) = &req.restart_policy {
            super::restart::RestartPolicy::parse(p)?;
            if rec.host_config.auto_remove && !matches!(p.name.as_str(), "" | "no") {
                return Err(Error::InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the container".into()));
            }
        }
        let mut warnings = Vec::new();
        if rec.status.is_running() {
            let limits = options::resources(&merged);
            let (runtime, id) = (self.inner.runtime.clone(), rec.id.clone());
            warnings = tokio::task::spawn_blocking(move || runtime.update(&id, &limits))
                .await
                .map_err(|e| Error::Internal(format!("update task failed: {e}")))?
                .map_err(|e| {
                    Error::InvalidArgument(format!("Cannot update container {}: {e}", rec.id))
                })?;
        }
        c.update(false, |r| {
            r.host_config.resources = merged;
            if let Some(p) = req.restart_policy {
                r.host_config.restart_policy = p;
            }
        })?;
        self.publish("update", &rec);
        Ok(warnings)
    }
}

/// RFC 3339 now, for `read`.
pub fn now() -> String {
    time::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_set_fields_only() {
        let current = ApiResources {
            memory: 64 << 20,
            nano_cpus: 1_000_000_000,
            ..Default::default()
        };
        let update = ApiResources {
            memory: 128 << 20,
            ..Default::default()
        };
        let m = merge_resources(&current, &update);
        assert_eq!((m.memory, m.nano_cpus), (128 << 20, 1_000_000_000));
    }

    #[test]
    fn stats_shape() {
        let s = Stats {
            memory_usage: 10,
            memory_limit: Some(100),
            cpu_total_ns: 5,
            online_cpus: 2,
            pids_current: 3,
            ..Default::default()
        };
        let s = Sample {
            cgroup: s,
            networks: Default::default(),
        };
        let v = serde_json::to_value(stats_json(&s, None, "r", "p", "web", "abc")).expect("json");
        assert!(v.get("networks").is_none());
        assert_eq!(v["memory_stats"]["limit"], 100);
        assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 5);
        assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert_eq!(v["pids_stats"]["current"], 3);
        assert_eq!(v["name"], "/web");
    }

    #[test]
    fn net_dev_interfaces_without_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0
  eth0:    4520      40    1    2    0     0          0         0     1860      20    3    4    0     0       0          0
";
        let nets = parse_net_dev(text);
        assert_eq!(
            nets,
            std::collections::BTreeMap::from([(
                "eth0".to_string(),
                api::NetworkStats {
                    rx_bytes: 4520,
                    rx_packets: 40,
                    rx_errors: 1,
                    rx_dropped: 2,
                    tx_bytes: 1860,
                    tx_packets: 20,
                    tx_errors: 3,
                    tx_dropped: 4,
                }
            )])
        );
        let v = stats_json(
            &Sample {
                cgroup: Stats::default(),
                networks: nets,
            },
            None,
            "r",
            "p",
            "web",
            "abc",
        );
        let v = serde_json::to_value(v).expect("json");
        assert_eq!(v["networks"]["eth0"]["rx_bytes"], 4520);
        assert_eq!(v["networks"]["eth0"]["tx_dropped"], 4);
    }
}
