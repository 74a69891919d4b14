//! `berth stats`: CPU, memory, block I/O and pids of containers, as docker
//! computes them from the API's samples.

use berth_api::stats::{CpuStats, Stats};
use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::render;
use crate::human;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

fn row(s: &Stats, pre_cpu: &CpuStats, no_trunc: bool) -> Value {
    let id: String = s.id.chars().take(if no_trunc { 64 } else { 12 }).collect();
    let mem = s.memory_used() as f64;
    let limit = s.memory_stats.limit as f64;
    let (read, write) = s.block_io();
    json!({
        "BlockIO": format!("{} / {}", human::size(read as i64), human::size(write as i64)),
        "CPUPerc": format!("{:.2}%", s.cpu_percent(pre_cpu)),
        "Container": id,
        "ID": id,
        "MemPerc": format!("{:.2}%", if limit > 0.0 { mem / limit * 100.0 } else { 0.0 }),
        "MemUsage": format!("{} / {}", human::bytes_size(mem), human::bytes_size(limit)),
        "Name": s.name.trim_start_matches('/'),
        "NetIO": "0B / 0B",
        "PIDs": s.pids_stats.current.to_string(),
    })
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let ids: Vec<String> = if args.containers.is_empty() {
        match client.containers(args.all, None, "").await {
            Ok(list) => list.into_iter().map(|c| c.id).collect(),
            Err(e) => return super::fail(e),
        }
    } else {
        args.containers.clone()
    };
    let mut previous: Vec<Option<CpuStats>> = vec![None; ids.len()];
    loop {
        // One sample per container, concurrently; the first round of a
        // stream and --no-stream ask the daemon for a pair a second apart.
        let first = previous.iter().all(Option::is_none);
        let samples = futures_util::future::join_all(ids.iter().map(|id| {
            let client = client.clone();
            async move { client.container_stats_once(id, !first).await }
        }))
        .await;
        let mut rows = Vec::new();
        for (i, sample) in samples.into_iter().enumerate() {
            match sample {
                Ok(s) => {
                    let pre = match previous[i].take() {
                        Some(p) if !first => p,
                        _ => s.precpu_stats.clone(),
                    };
                    rows.push(row(&s, &pre, args.no_trunc));
                    previous[i] = Some(s.cpu_stats);
                }
                Err(e) => return super::fail(e),
            }
        }
        let text = match render(&rows, args.format.as_deref(), DEFAULT_TABLE, HEADERS) {
            Ok(t) => t,
            Err(e) => return super::fail(e),
        };
        if args.no_stream {
            print!("{text}");
            return 0;
        }
        print!("\x1b[2J\x1b[H{text}");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as docker shows it: percentages from the sample and the
    /// previous one, sizes in docker's units, the name without its slash.
    #[test]
    fn row_like_docker() {
        let s: Stats = serde_json::from_value(json!({
            "id": "0123456789abcdef0123",
            "name": "/web",
            "pids_stats": {"current": 3},
            "memory_stats": {"usage": 2048, "stats": {"inactive_file": 1024}, "limit": 4096},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 2000}]},
            "cpu_stats": {"cpu_usage": {"total_usage": 3}, "system_cpu_usage": 10, "online_cpus": 1},
        }))
        .expect("stats");
        let pre = CpuStats {
            system_cpu_usage: Some(6),
            ..Default::default()
        };
        let r = row(&s, &pre, false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "75.00%");
        assert_eq!(r["MemPerc"], "25.00%");
        assert_eq!(r["MemUsage"], "1KiB / 4KiB");
        assert_eq!(r["BlockIO"], "2kB / 0B");
        assert_eq!(r["PIDs"], "3");
    }
}
