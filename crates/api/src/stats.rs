//! `GET /containers/{id}/stats`: one sample of a container's resources in
//! Docker's shape (snake_case, unlike the rest of the API). Every field
//! reads with a default, so samples of other engines and cgroup versions
//! decode too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stats object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    /// Windows only; always `{}`.
    pub storage_stats: BTreeMap<String, Value>,
    pub cpu_stats: CpuStats,
    /// The sample before (zeros for the first of a stream or `one-shot`).
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// `/name`.
    pub name: String,
    pub id: String,
    /// Per interface, when the container has a network namespace of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    pub current: u64,
    /// `null` when unlimited.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// `null` from engines that do not count (Docker on cgroup v2 without
    /// io accounting).
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    /// `read` or `write` (`Read`/`Write` on cgroup v1 dockerd).
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// The host's cpu time, ns; absent in a zero sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_cpu_usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    pub throttling_data: ThrottlingData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    pub total_usage: u64,
    /// Per cpu, ns (cgroup v1); absent in a zero sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    pub usage: u64,
    /// `memory.stat`, name to value.
    pub stats: BTreeMap<String, u64>,
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

impl Stats {
    /// Docker's CPU percentage against `pre`: the container's delta over
    /// the host's, times the cpus.
    pub fn cpu_percent(&self, pre: &CpuStats) -> f64 {
        let cur = &self.cpu_stats;
        let cpu_delta = cur.cpu_usage.total_usage as f64 - pre.cpu_usage.total_usage as f64;
        let system_delta =
            cur.system_cpu_usage.unwrap_or(0) as f64 - pre.system_cpu_usage.unwrap_or(0) as f64;
        let cpus = match cur.online_cpus {
            Some(n) if n > 0 => f64::from(n),
            _ => cur
                .cpu_usage
                .percpu_usage
                .as_ref()
                .map_or(1.0, |a| a.len().max(1) as f64),
        };
        if cpu_delta > 0.0 && system_delta > 0.0 {
            cpu_delta / system_delta * cpus * 100.0
        } else {
            0.0
        }
    }

    /// Memory in use without the page cache that can be reclaimed (v1
    /// `total_inactive_file`, v2 `inactive_file`), as docker shows it.
    pub fn memory_used(&self) -> u64 {
        let m = &self.memory_stats;
        let inactive = m
            .stats
            .get("total_inactive_file")
            .or_else(|| m.stats.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        if inactive < m.usage {
            m.usage - inactive
        } else {
            m.usage
        }
    }

    /// Bytes read and written by block devices.
    pub fn block_io(&self) -> (u64, u64) {
        let (mut read, mut write) = (0, 0);
        for e in self.blkio_stats.io_service_bytes_recursive.iter().flatten() {
            match e.op.to_ascii_lowercase().as_str() {
                "read" => read += e.value,
                "write" => write += e.value,
                _ => {}
            }
        }
        (read, write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cpu(total: u64, system: u64) -> CpuStats {
        CpuStats {
            cpu_usage: CpuUsage {
                total_usage: total,
                ..Default::default()
            },
            system_cpu_usage: Some(system),
            online_cpus: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_memory_and_io_like_docker() {
        let s = Stats {
            cpu_stats: cpu(1_500_000_000, 12_000_000_000),
            ..Default::default()
        };
        let pre = cpu(1_000_000_000, 10_000_000_000);
        assert!((s.cpu_percent(&pre) - 50.0).abs() < 1e-9);
        assert_eq!(s.cpu_percent(&s.cpu_stats), 0.0);
        let mem = |stats: Value| -> Stats {
            serde_json::from_value(json!({"memory_stats": {"usage": 1000, "stats": stats}}))
                .expect("stats")
        };
        assert_eq!(mem(json!({"total_inactive_file": 200})).memory_used(), 800);
        assert_eq!(mem(json!({"inactive_file": 1500})).memory_used(), 1000);
        let io: Stats =
            serde_json::from_value(json!({"blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 10},
                {"major": 8, "minor": 0, "op": "write", "value": 4},
                {"major": 8, "minor": 0, "op": "Total", "value": 14}
            ]}}))
            .expect("stats");
        assert_eq!(io.block_io(), (10, 4));
        // dockerd on cgroup v2 without io accounting sends null.
        let none: Stats =
            serde_json::from_value(json!({"blkio_stats": {"io_service_bytes_recursive": null}}))
                .expect("stats");
        assert_eq!(none.block_io(), (0, 0));
    }

    /// The zero sample's shape: no per-cpu list, host time or cpus.
    #[test]
    fn zero_sample_golden() {
        let v = serde_json::to_value(Stats::default()).expect("json");
        assert_eq!(
            v,
            json!({
                "read": "", "preread": "",
                "pids_stats": {"current": 0, "limit": null},
                "blkio_stats": {"io_service_bytes_recursive": null},
                "num_procs": 0, "storage_stats": {},
                "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                              "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
                "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                                 "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
                "memory_stats": {"usage": 0, "stats": {}, "limit": 0},
                "name": "", "id": ""
            })
        );
    }
}
