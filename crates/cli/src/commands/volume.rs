//! `berth volume create|ls|inspect|rm|prune`.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::render;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes.
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Volume driver (local).
    #[arg(short = 'd', long = "driver", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options (local driver: type, device, o).
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display volume names.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Provide filter values (dangling=true, name=, label=).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Do not error when a volume does not exist.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<label>').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

fn pairs(list: &[String]) -> std::collections::BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

pub async fn run(cmd: VolumeCommand, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match cmd {
        VolumeCommand::Create(a) => {
            let body = berth_api::volume::VolumeCreate {
                name: a.name.unwrap_or_default(),
                driver: a.driver,
                driver_opts: pairs(&a.opt),
                labels: pairs(&a.label),
            };
            match client.volume_create(&body).await {
                Ok(v) => {
                    println!("{}", v.name);
                    0
                }
                Err(e) => super::fail(e),
            }
        }
        VolumeCommand::Ls(a) => {
            let q = match super::filters_query(&a.filter) {
                Ok(q) => q,
                Err(e) => return super::fail(e),
            };
            let vols = match client.volumes(&q).await {
                Ok(v) => v.volumes,
                Err(e) => return super::fail(e),
            };
            if a.quiet {
                for v in &vols {
                    println!("{}", v.name);
                }
                return 0;
            }
            let rows: Vec<Value> = vols
                .iter()
                .map(|v| json!({"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint, "Scope": v.scope, "Labels": v.labels}))
                .collect();
            let headers = [
                ("Driver", "DRIVER"),
                ("Name", "VOLUME NAME"),
                ("Mountpoint", "MOUNTPOINT"),
                ("Scope", "SCOPE"),
                ("Labels", "LABELS"),
            ];
            match render(
                &rows,
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &headers,
            ) {
                Ok(s) => {
                    print!("{s}");
                    0
                }
                Err(e) => super::fail(e),
            }
        }
        VolumeCommand::Inspect(a) => {
            super::inspect_each(
                &client,
                &a.names,
                |n| format!("/volumes/{n}"),
                a.format.as_deref(),
            )
            .await
        }
        VolumeCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                let path = format!("/volumes/{n}{}", if a.force { "?force=1" } else { "" });
                match client.request_empty(hyper::Method::DELETE, &path).await {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            code
        }
        VolumeCommand::Prune(a) => {
            if !a.force {
                if !std::io::stdin().is_terminal() {
                    return super::fail(
                        "volume prune needs confirmation: use -f when not on a terminal",
                    );
                }
                print!("WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                let _ = std::io::stdout().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    return 0;
                }
            }
            let mut filters = a.filter.clone();
            if a.all {
                filters.push("all=true".into());
            }
            let q = match super::filters_query(&filters) {
                Ok(q) => q,
                Err(e) => return super::fail(e),
            };
            match client.volumes_prune(&q).await {
                Ok(v) => {
                    if !v.volumes_deleted.is_empty() {
                        println!("Deleted Volumes:");
                        for d in &v.volumes_deleted {
                            println!("{d}");
                        }
                        println!();
                    }
                    println!(
                        "Total reclaimed space: {}",
                        crate::human::size(i64::try_from(v.space_reclaimed).unwrap_or(i64::MAX))
                    );
                    0
                }
                Err(e) => super::fail(e),
            }
        }
    }
}
