//! `berth ps` / `container ls`.

use berth_api::container::ContainerSummary;
use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::{ellipsis, render};
use crate::human;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Display total file sizes (not supported yet).
    #[arg(short = 's', long = "size")]
    pub size: bool,
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedAt}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("State", "STATE"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("Size", "SIZE"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// The docker CLI's container context: the fields a `--format` can use.
pub fn row(c: &ContainerSummary, no_trunc: bool) -> Value {
    let id = if no_trunc {
        c.id.clone()
    } else {
        c.id.chars().take(12).collect()
    };
    let command = if no_trunc {
        c.command.clone()
    } else {
        ellipsis(&c.command, 20)
    };
    let names: Vec<&str> = c.names.iter().map(|n| n.trim_start_matches('/')).collect();
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Command": format!("\"{command}\""),
        "CreatedAt": human::go_time(c.created),
        "ID": id,
        "Image": c.image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": names.join(","),
        "Networks": networks(&c.network_settings),
        "Ports": ports(&c.ports),
        "RunningFor": human::ago(c.created),
        "Size": "0B",
        "State": c.state,
        "Status": c.status,
    })
}

/// Docker's PORTS column: `0.0.0.0:18080->80/tcp, 443/tcp`.
pub fn ports(list: &[serde_json::Value]) -> String {
    let mut items: Vec<(u64, String)> = list
        .iter()
        .map(|p| {
            let private = p["PrivatePort"].as_u64().unwrap_or(0);
            let proto = p["Type"].as_str().unwrap_or("tcp");
            let text = match p["PublicPort"].as_u64() {
                Some(public) => format!(
                    "{}:{public}->{private}/{proto}",
                    p["IP"].as_str().unwrap_or("0.0.0.0")
                ),
                None => format!("{private}/{proto}"),
            };
            (private, text)
        })
        .collect();
    items.sort();
    items
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The NETWORKS column: the names of the container's networks.
fn networks(settings: &serde_json::Value) -> String {
    settings["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

pub async fn run(args: Args, target: &Target) -> i32 {
    if args.size {
        return super::fail("ps --size is not supported yet");
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let filters = match super::filters_json(&args.filter) {
        Ok(f) => f,
        Err(e) => return super::fail(e),
    };
    let limit = if args.latest {
        Some(1)
    } else {
        (args.last > 0).then_some(args.last)
    };
    let all = args.all || limit.is_some();
    let list = match client.containers(all, limit, &filters).await {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    if args.quiet {
        for c in &list {
            println!(
                "{}",
                if args.no_trunc {
                    c.id.clone()
                } else {
                    c.id.chars().take(12).collect()
                }
            );
        }
        return 0;
    }
    let rows: Vec<Value> = list.iter().map(|c| row(c, args.no_trunc)).collect();
    // docker's default table shows "CREATED" as a relative time.
    let default = DEFAULT_TABLE.replace("{{.CreatedAt}}", "{{.RunningFor}}");
    match render(&rows, args.format.as_deref(), &default, HEADERS) {
        Ok(s) => {
            print!("{s}");
            0
        }
        Err(e) => super::fail(e),
    }
}
