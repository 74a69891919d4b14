//! `berth stats`: CPU, memory, block I/O and pids of containers, as docker
//! computes them from the API's samples.

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

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Docker's CPU percentage: container delta over system delta times cpus.
pub fn cpu_percent(cur: &Value, pre: &Value) -> f64 {
    let cpu_delta = num(&cur["cpu_usage"]["total_usage"]) - num(&pre["cpu_usage"]["total_usage"]);
    let system_delta = num(&cur["system_cpu_usage"]) - num(&pre["system_cpu_usage"]);
    let cpus = match num(&cur["online_cpus"]) {
        n if n > 0.0 => n,
        _ => cur["cpu_usage"]["percpu_usage"]
            .as_array()
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
pub fn memory_used(mem: &Value) -> f64 {
    let usage = num(&mem["usage"]);
    let stats = &mem["stats"];
    let inactive = if stats.get("total_inactive_file").is_some() {
        num(&stats["total_inactive_file"])
    } else {
        num(&stats["inactive_file"])
    };
    if inactive < usage {
        usage - inactive
    } else {
        usage
    }
}

fn row(s: &Value, pre_cpu: &Value, no_trunc: bool) -> Value {
    let id = s["id"].as_str().unwrap_or_default();
    let mem = memory_used(&s["memory_stats"]);
    let limit = num(&s["memory_stats"]["limit"]);
    let (mut read, mut write) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += num(&e["value"]),
            Some("write") => write += num(&e["value"]),
            _ => {}
        }
    }
    json!({
        "BlockIO": format!("{} / {}", human::size(read as i64), human::size(write as i64)),
        "CPUPerc": format!("{:.2}%", cpu_percent(&s["cpu_stats"], pre_cpu)),
        "Container": id.chars().take(if no_trunc { 64 } else { 12 }).collect::<String>(),
        "ID": id.chars().take(if no_trunc { 64 } else { 12 }).collect::<String>(),
        "MemPerc": format!("{:.2}%", if limit > 0.0 { mem / limit * 100.0 } else { 0.0 }),
        "MemUsage": format!("{} / {}", human::bytes_size(mem), human::bytes_size(limit)),
        "Name": s["name"].as_str().unwrap_or_default().trim_start_matches('/'),
        "NetIO": "0B / 0B",
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
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
    let mut previous: Vec<Value> = vec![Value::Null; ids.len()];
    loop {
        // One sample per container, concurrently; the first round of a
        // stream and --no-stream ask the daemon for a pair a second apart.
        let first = previous.iter().all(Value::is_null);
        let samples = futures_util::future::join_all(ids.iter().map(|id| {
            let client = client.clone();
            async move { client.container_stats_once(id, !first).await }
        }))
        .await;
        let mut rows = Vec::new();
        for (i, sample) in samples.into_iter().enumerate() {
            match sample {
                Ok(s) => {
                    let pre = if first {
                        s["precpu_stats"].clone()
                    } else {
                        previous[i].clone()
                    };
                    rows.push(row(&s, &pre, args.no_trunc));
                    previous[i] = s["cpu_stats"].clone();
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

    #[test]
    fn cpu_and_memory_like_docker() {
        let pre = json!({"cpu_usage": {"total_usage": 1_000_000_000u64}, "system_cpu_usage": 10_000_000_000u64, "online_cpus": 2});
        let cur = json!({"cpu_usage": {"total_usage": 1_500_000_000u64}, "system_cpu_usage": 12_000_000_000u64, "online_cpus": 2});
        assert!((cpu_percent(&cur, &pre) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&cur, &cur), 0.0);
        let mem = json!({"usage": 1000, "stats": {"total_inactive_file": 200}});
        assert_eq!(memory_used(&mem), 800.0);
        let mem2 = json!({"usage": 1000, "stats": {"inactive_file": 1500}});
        assert_eq!(memory_used(&mem2), 1000.0);
    }
}
