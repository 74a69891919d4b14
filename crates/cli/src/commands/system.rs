//! `berth system df`, `berth system prune` and `berth system check`.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{json, Value};

use crate::connect::Target;
use crate::human;

#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
    /// Remove unused data.
    Prune(PruneArgs),
    /// Show system-wide information.
    Info(super::info::Args),
    /// Get real time events from the daemon.
    Events(super::events::Args),
    /// Check the store, the containers and the daemon's kernel objects.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Fix what can be fixed without losing data (leftovers, orphans).
    #[arg(long)]
    pub repair: bool,
    /// Also read every blob and compare it with its digest.
    #[arg(long)]
    pub deep: bool,
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Prune anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub async fn run(cmd: SystemCommand, target: &Target) -> i32 {
    match cmd {
        SystemCommand::Info(a) => return super::info::run(a, target).await,
        SystemCommand::Events(a) => return super::events::run(a, target).await,
        _ => {}
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match cmd {
        SystemCommand::Df(a) => {
            let df: Value = match client.get_json("/system/df").await {
                Ok(v) => v,
                Err(e) => return super::fail(e),
            };
            let empty = Vec::new();
            let images = df["Images"].as_array().unwrap_or(&empty);
            let containers = df["Containers"].as_array().unwrap_or(&empty);
            let volumes = df["Volumes"].as_array().unwrap_or(&empty);
            let img_size: i64 = images.iter().map(|i| n(&i["Size"])).sum();
            let img_active = images.iter().filter(|i| n(&i["Containers"]) > 0).count();
            let img_reclaim: i64 = images
                .iter()
                .filter(|i| n(&i["Containers"]) == 0)
                .map(|i| n(&i["Size"]))
                .sum();
            let ctr_size: i64 = containers.iter().map(|c| n(&c["SizeRw"])).sum();
            let ctr_active = containers
                .iter()
                .filter(|c| c["State"] == "running")
                .count();
            let ctr_reclaim: i64 = containers
                .iter()
                .filter(|c| c["State"] != "running")
                .map(|c| n(&c["SizeRw"]))
                .sum();
            let vol_size: i64 = volumes.iter().map(|v| n(&v["UsageData"]["Size"])).sum();
            let vol_active = volumes
                .iter()
                .filter(|v| n(&v["UsageData"]["RefCount"]) > 0)
                .count();
            let vol_reclaim: i64 = volumes
                .iter()
                .filter(|v| n(&v["UsageData"]["RefCount"]) == 0)
                .map(|v| n(&v["UsageData"]["Size"]))
                .sum();
            let pct = |r: i64, t: i64| {
                if t > 0 {
                    format!(" ({}%)", r * 100 / t)
                } else {
                    String::new()
                }
            };
            let mut text = String::from("TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n");
            text.push_str(&format!(
                "Images\t{}\t{img_active}\t{}\t{}{}\n",
                images.len(),
                human::size4(img_size),
                human::size4(img_reclaim),
                pct(img_reclaim, img_size)
            ));
            text.push_str(&format!(
                "Containers\t{}\t{ctr_active}\t{}\t{}{}\n",
                containers.len(),
                human::size4(ctr_size),
                human::size4(ctr_reclaim),
                pct(ctr_reclaim, ctr_size)
            ));
            text.push_str(&format!(
                "Local Volumes\t{}\t{vol_active}\t{}\t{}{}\n",
                volumes.len(),
                human::size4(vol_size),
                human::size4(vol_reclaim),
                pct(vol_reclaim, vol_size)
            ));
            text.push_str("Build Cache\t0\t0\t0B\t0B\n");
            print!("{}", berth_template::tabwrite(&text));
            if a.verbose {
                let mut t = String::from("\nVOLUME NAME\tLINKS\tSIZE\n");
                for v in volumes {
                    t.push_str(&format!(
                        "{}\t{}\t{}\n",
                        v["Name"].as_str().unwrap_or_default(),
                        n(&v["UsageData"]["RefCount"]),
                        human::size4(n(&v["UsageData"]["Size"]))
                    ));
                }
                print!("{}", berth_template::tabwrite(&t));
            }
            0
        }
        SystemCommand::Prune(a) => {
            if !a.force {
                if !std::io::stdin().is_terminal() {
                    return super::fail(
                        "system prune needs confirmation: use -f when not on a terminal",
                    );
                }
                print!("WARNING! This will remove all stopped containers, {}unused images{}.\nAre you sure you want to continue? [y/N] ",
                    if a.all { "all " } else { "dangling " }, if a.volumes { ", anonymous volumes not used by a container" } else { "" });
                let _ = std::io::stdout().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    return 0;
                }
            }
            let mut reclaimed = 0i64;
            match client.containers_prune("").await {
                Ok(v) => reclaimed += i64::try_from(v.space_reclaimed).unwrap_or(i64::MAX),
                Err(e) => return super::fail(e),
            }
            if a.volumes {
                match client.volumes_prune("").await {
                    Ok(v) => reclaimed += i64::try_from(v.space_reclaimed).unwrap_or(i64::MAX),
                    Err(e) => return super::fail(e),
                }
            }
            let q = if a.all {
                berth_client::transport::query(&[(
                    "filters",
                    r#"{"dangling":["false"]}"#.to_string(),
                )])
            } else {
                String::new()
            };
            match client.images_prune(&q).await {
                Ok(v) => reclaimed += i64::try_from(v.space_reclaimed).unwrap_or(i64::MAX),
                Err(e) => return super::fail(e),
            }
            println!("Total reclaimed space: {}", human::size(reclaimed));
            0
        }
        SystemCommand::Check(a) => {
            let q = berth_client::transport::query(&[
                ("deep", if a.deep { "1" } else { "0" }.to_string()),
                ("repair", if a.repair { "1" } else { "0" }.to_string()),
            ]);
            let report: Value = match client
                .post_json(&format!("/system/check{q}"), &json!({}))
                .await
            {
                Ok(v) => v,
                Err(e) => return super::fail(e),
            };
            check_report(&report, &mut std::io::stdout())
        }
        SystemCommand::Info(_) | SystemCommand::Events(_) => 0,
    }
}

/// Prints a check's problems, one per line, and a summary; 1 when a
/// problem is left unrepaired.
fn check_report(report: &Value, out: &mut dyn Write) -> i32 {
    let empty = Vec::new();
    let problems = report["Problems"].as_array().unwrap_or(&empty);
    let mut left = 0;
    for p in problems {
        let repaired = p["Repaired"].as_bool().unwrap_or(false);
        if !repaired {
            left += 1;
        }
        let _ = writeln!(
            out,
            "{}: {}{}",
            p["Object"].as_str().unwrap_or_default(),
            p["Message"].as_str().unwrap_or_default(),
            if repaired { " (repaired)" } else { "" }
        );
    }
    let _ = match (problems.len(), left) {
        (0, _) => writeln!(out, "No problems found."),
        (1, 0) => writeln!(out, "1 problem found, repaired."),
        (1, _) => writeln!(out, "1 problem found, not repaired."),
        (n, 0) => writeln!(out, "{n} problems found, all repaired."),
        (n, l) => writeln!(out, "{n} problems found, {l} not repaired."),
    };
    i32::from(left > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(v: Value) -> (i32, String) {
        let mut out = Vec::new();
        let code = check_report(&v, &mut out);
        (code, String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn check_reports_and_exit_codes() {
        assert_eq!(
            report(json!({"Problems": []})),
            (0, "No problems found.\n".to_string())
        );
        let (code, text) = report(json!({"Problems": [
            {"Object": "blob sha256:ab", "Message": "no image uses it", "Repaired": true},
        ]}));
        assert_eq!(code, 0);
        assert_eq!(
            text,
            "blob sha256:ab: no image uses it (repaired)\n1 problem found, repaired.\n"
        );
        let (code, text) = report(json!({"Problems": [
            {"Object": "image sha256:cd", "Message": "its config blob is missing", "Repaired": false},
            {"Object": "veth bv1", "Message": "no running container owns it", "Repaired": true},
        ]}));
        assert_eq!(code, 1);
        assert!(
            text.ends_with("2 problems found, 1 not repaired.\n"),
            "{text}"
        );
    }
}
