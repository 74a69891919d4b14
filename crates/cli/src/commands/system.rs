//! `berth system df`, `berth system prune` and `berth system check`.

use std::io::{BufRead, IsTerminal, Write};

use berth_api::system::{CheckReport, DiskUsage};

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

/// `system df`'s table (and the volumes' with `verbose`), as docker
/// prints it.
fn df_text(df: &DiskUsage, verbose: bool) -> String {
    let pct = |r: i64, t: i64| {
        if t > 0 {
            format!(" ({}%)", r * 100 / t)
        } else {
            String::new()
        }
    };
    let row = |kind: &str, total: usize, active: usize, size: i64, reclaim: i64| {
        format!(
            "{kind}\t{total}\t{active}\t{}\t{}{}\n",
            human::size4(size),
            human::size4(reclaim),
            pct(reclaim, size)
        )
    };
    let images = &df.images;
    let img_size: i64 = images.iter().map(|i| i.size).sum();
    let img_reclaim: i64 = images
        .iter()
        .filter(|i| i.containers == 0)
        .map(|i| i.size)
        .sum();
    let img_active = images.iter().filter(|i| i.containers > 0).count();
    let containers = &df.containers;
    let running = |c: &&berth_api::system::ContainerUsage| c.container.state == "running";
    let ctr_size: i64 = containers.iter().map(|c| c.size_rw).sum();
    let ctr_reclaim: i64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| c.size_rw)
        .sum();
    let ctr_active = containers.iter().filter(running).count();
    let volumes = &df.volumes;
    let vol_size: i64 = volumes.iter().map(|v| v.usage_data.size).sum();
    let vol_reclaim: i64 = volumes
        .iter()
        .filter(|v| v.usage_data.ref_count == 0)
        .map(|v| v.usage_data.size)
        .sum();
    let vol_active = volumes
        .iter()
        .filter(|v| v.usage_data.ref_count > 0)
        .count();
    let mut text = String::from("TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n");
    text.push_str(&row(
        "Images",
        images.len(),
        img_active,
        img_size,
        img_reclaim,
    ));
    text.push_str(&row(
        "Containers",
        containers.len(),
        ctr_active,
        ctr_size,
        ctr_reclaim,
    ));
    text.push_str(&row(
        "Local Volumes",
        volumes.len(),
        vol_active,
        vol_size,
        vol_reclaim,
    ));
    text.push_str("Build Cache\t0\t0\t0B\t0B\n");
    let mut out = berth_template::tabwrite(&text);
    if verbose {
        let mut t = String::from("\nVOLUME NAME\tLINKS\tSIZE\n");
        for v in volumes {
            t.push_str(&format!(
                "{}\t{}\t{}\n",
                v.volume.name,
                v.usage_data.ref_count,
                human::size4(v.usage_data.size)
            ));
        }
        out.push_str(&berth_template::tabwrite(&t));
    }
    out
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
        SystemCommand::Df(a) => match client.system_df().await {
            Ok(df) => {
                print!("{}", df_text(&df, a.verbose));
                0
            }
            Err(e) => super::fail(e),
        },
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
        SystemCommand::Check(a) => match client.system_check(a.deep, a.repair).await {
            Ok(report) => check_report(&report, &mut std::io::stdout()),
            Err(e) => super::fail(e),
        },
        SystemCommand::Info(_) | SystemCommand::Events(_) => 0,
    }
}

/// Prints a check's problems, one per line, and a summary; 1 when a
/// problem is left unrepaired.
fn check_report(report: &CheckReport, out: &mut dyn Write) -> i32 {
    let problems = &report.problems;
    let mut left = 0;
    for p in problems {
        let repaired = p.repaired;
        if !repaired {
            left += 1;
        }
        let _ = writeln!(
            out,
            "{}: {}{}",
            p.object,
            p.message,
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
    use serde_json::json;

    /// Two images (one used), a running and an exited container, a used
    /// and an unused volume: totals, active counts, reclaimable sizes.
    #[test]
    fn df_golden() {
        let df: DiskUsage = serde_json::from_value(json!({
            "LayersSize": 3000,
            "Images": [{"Size": 2000, "Containers": 1}, {"Size": 1000, "Containers": 0}],
            "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 30}],
            "Volumes": [
                {"Name": "used", "UsageData": {"Size": 100, "RefCount": 1}},
                {"Name": "spare", "UsageData": {"Size": 300, "RefCount": 0}}
            ],
            "BuildCache": null
        }))
        .expect("df");
        assert_eq!(
            df_text(&df, true),
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          2         1         3kB       1kB (33%)\n\
             Containers      2         1         40B       30B (75%)\n\
             Local Volumes   2         1         400B      300B (75%)\n\
             Build Cache     0         0         0B        0B\n\
             \n\
             VOLUME NAME   LINKS     SIZE\n\
             used          1         100B\n\
             spare         0         300B\n"
        );
    }

    fn report(v: serde_json::Value) -> (i32, String) {
        let mut out = Vec::new();
        let code = check_report(&serde_json::from_value(v).expect("report"), &mut out);
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
