//! `compose watch`: brings the services up, then follows their
//! `develop.watch` rules: `sync` copies changed files into the running
//! containers (and removes deleted ones), `sync+restart` also restarts
//! them, `restart` only restarts, `rebuild` rebuilds the image and
//! recreates the service. Ctrl+C stops watching.

use std::path::PathBuf;
use std::time::Duration;

use berth_client::Client;
use berth_compose::apply::progress;
use berth_compose::model::WatchRule;
use berth_compose::watch::{self, Snapshot};
use berth_compose::{plan, Error, Project};

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Do not build and start the services before watching.
    #[arg(long = "no-up")]
    pub no_up: bool,
    /// Hide build output.
    #[arg(long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

struct Watched {
    service: String,
    rule: WatchRule,
    root: PathBuf,
    snapshot: Snapshot,
}

pub async fn watch(
    client: &Client,
    target: &Target,
    p: &Project,
    a: &WatchArgs,
) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    let mut watched = Vec::new();
    for name in &chosen {
        let rules = p.services[name]
            .develop
            .as_ref()
            .map(|d| d.watch.clone())
            .unwrap_or_default();
        for rule in rules {
            if !matches!(
                rule.action.as_str(),
                "sync" | "sync+restart" | "restart" | "rebuild"
            ) {
                return Err(Error::Project(format!(
                    "service {name:?}: unknown watch action {:?} (sync, sync+restart, restart, rebuild)",
                    rule.action
                )));
            }
            if rule.action.starts_with("sync") && rule.target.is_none() {
                return Err(Error::Project(format!(
                    "service {name:?}: a {} rule needs a target",
                    rule.action
                )));
            }
            if rule.action == "rebuild" && p.services[name].build.is_none() {
                return Err(Error::Project(format!(
                    "service {name:?}: a rebuild rule needs a build section"
                )));
            }
            let root = {
                let path = PathBuf::from(&rule.path);
                if path.is_absolute() {
                    path
                } else {
                    p.working_dir.join(path)
                }
            };
            let snapshot = watch::scan(&root, &rule.ignore)?;
            watched.push(Watched {
                service: name.clone(),
                rule,
                root,
                snapshot,
            });
        }
    }
    if watched.is_empty() {
        return Err(Error::Project(
            "none of the selected services is configured for watch, consider setting a 'develop' section".into(),
        ));
    }
    if !a.no_up {
        let up = super::args::UpArgs {
            detach: true,
            services: chosen.iter().cloned().collect(),
            ..super::args::UpArgs::default()
        };
        super::lifecycle::up(client, target, p, &up, false).await?;
    }
    println!("Watch enabled");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        for w in watched.iter_mut() {
            let now = watch::scan(&w.root, &w.rule.ignore)?;
            let changes = watch::diff(&w.snapshot, &now);
            if changes.is_empty() {
                continue;
            }
            w.snapshot = now;
            if let Err(e) = act(client, target, p, w, &changes).await {
                eprintln!("watch: {e}");
            }
        }
    }
    Ok(0)
}

async fn act(
    client: &Client,
    target: &Target,
    p: &Project,
    w: &Watched,
    changes: &watch::Changes,
) -> Result<(), Error> {
    let service = &w.service;
    let containers: Vec<_> = super::containers(client, p, std::slice::from_ref(service))
        .await?
        .into_iter()
        .filter(|c| c.state == "running")
        .collect();
    match w.rule.action.as_str() {
        "rebuild" => {
            println!("Rebuilding service {service:?} after changes were detected...");
            let up = super::args::UpArgs {
                detach: true,
                build: true,
                no_deps: true,
                services: vec![service.clone()],
                ..super::args::UpArgs::default()
            };
            super::lifecycle::up(client, target, p, &up, false).await?;
            println!("service {service:?} successfully built");
        }
        action => {
            if action.starts_with("sync") {
                println!(
                    "Syncing service {service:?} after {} changes were detected",
                    changes.len()
                );
                let to = w.rule.target.clone().unwrap_or_default();
                let files: Vec<(PathBuf, String)> = changes
                    .changed
                    .iter()
                    .map(|f| (f.clone(), watch::container_path(&w.root, &to, f)))
                    .collect();
                let gone: Vec<String> = changes
                    .removed
                    .iter()
                    .map(|f| watch::container_path(&w.root, &to, f))
                    .collect();
                for c in &containers {
                    if !files.is_empty() {
                        watch::sync(client, &c.id, &files).await?;
                    }
                    if !gone.is_empty() {
                        watch::remove(client, &c.id, &gone).await?;
                    }
                }
            }
            if action.ends_with("restart") {
                for c in &containers {
                    progress("Container", &c.name, "Restarting");
                    client.container_restart(&c.id, None, None).await?;
                    progress("Container", &c.name, "Started");
                }
            }
        }
    }
    Ok(())
}
