//! `compose up/create/down/start/stop/restart/kill/rm/pause/unpause/wait`.

use std::collections::BTreeMap;

use berth_client::Client;
use berth_compose::apply::{self, progress, DownOptions};
use berth_compose::plan::{self, UpOptions};
use berth_compose::{Error, Project};

use super::args::{DownArgs, KillArgs, RmArgs, ServicesArgs, StopArgs, UpArgs};
use super::containers;
use crate::connect::Target;

pub async fn up(
    client: &Client,
    target: &Target,
    p: &Project,
    a: &UpArgs,
    create_only: bool,
) -> Result<i32, Error> {
    let mut scale = BTreeMap::new();
    for s in &a.scale {
        let (name, n) = s
            .split_once('=')
            .and_then(|(k, v)| v.parse::<u32>().ok().map(|n| (k.to_string(), n)))
            .ok_or_else(|| Error::Project(format!("invalid --scale {s:?}: use SERVICE=NUM")))?;
        if !p.services.contains_key(&name) {
            return Err(Error::Project(format!("no such service: {name}")));
        }
        scale.insert(name, n);
    }
    if let Some(svc) = &a.exit_code_from {
        if !p.services.contains_key(svc) {
            return Err(Error::Project(format!("no such service: {svc}")));
        }
    }
    let no_start = create_only || a.no_start;
    let opts = UpOptions {
        services: a.services.clone(),
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale,
        no_deps: a.no_deps,
        no_start,
    };
    let chosen: Vec<String> = plan::selected(p, &opts.services, opts.no_deps)?
        .into_iter()
        .collect();
    let image_ids = if a.dry_run {
        BTreeMap::new()
    } else {
        super::images::ensure_images(client, target, p, &chosen, a).await?
    };
    let plan = apply::plan_now(client, p, &image_ids, &opts).await?;
    if a.dry_run {
        print!("{plan}");
        return Ok(0);
    }
    let ids = apply::up(client, p, &plan, &image_ids, no_start, a.timeout).await?;
    if no_start || a.detach && !a.wait {
        return Ok(0);
    }
    if a.wait {
        let timeout = a.wait_timeout.map(std::time::Duration::from_secs);
        return wait_healthy(client, p, &ids, timeout).await;
    }
    super::logs::attached(client, p, a, &chosen).await
}

/// `--wait`: every container running, and healthy when it has a check.
async fn wait_healthy(
    client: &Client,
    p: &Project,
    ids: &BTreeMap<String, Vec<String>>,
    timeout: Option<std::time::Duration>,
) -> Result<i32, Error> {
    let start = std::time::Instant::now();
    let mut pending: Vec<(String, String)> = ids
        .iter()
        .flat_map(|(s, v)| v.iter().map(move |id| (s.clone(), id.clone())))
        .collect();
    while !pending.is_empty() {
        let mut left = Vec::new();
        for (service, id) in pending {
            let v = client.container_inspect(&id).await?;
            let name = v.name.trim_start_matches('/');
            let state = &v.state;
            let status = state.status.as_str();
            let health = state.health.as_ref().and_then(|h| h["Status"].as_str());
            match (status, health) {
                ("running", None | Some("healthy")) => progress("Container", name, "Healthy"),
                ("running", Some("unhealthy")) => {
                    return Err(Error::Failed(format!("container {name} is unhealthy")))
                }
                ("exited", _) | ("dead", _) => {
                    let code = state.exit_code;
                    let completed = p.services.values().any(|s| {
                        s.depends_on
                            .get(&service)
                            .is_some_and(|d| d.condition == "service_completed_successfully")
                    });
                    if !(completed && code == 0) {
                        return Err(Error::Failed(format!("container {name} exited ({code})")));
                    }
                }
                _ => left.push((service, id)),
            }
        }
        pending = left;
        if pending.is_empty() {
            break;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            return Err(Error::Failed(
                "timed out waiting for the services to be healthy".into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(0)
}

pub async fn down(client: &Client, p: &Project, a: &DownArgs) -> Result<i32, Error> {
    if let Some(r) = &a.rmi {
        if r != "all" && r != "local" {
            return Err(Error::Project(format!(
                "invalid --rmi {r:?}: use \"local\" or \"all\""
            )));
        }
    }
    apply::down(
        client,
        p,
        &DownOptions {
            volumes: a.volumes,
            rmi: a.rmi.clone(),
            remove_orphans: a.remove_orphans,
            timeout: a.timeout,
        },
    )
    .await?;
    Ok(0)
}

/// `start`, `pause`, `unpause`: one call per container, dependencies first.
pub async fn simple(
    client: &Client,
    p: &Project,
    a: &ServicesArgs,
    action: &str,
) -> Result<i32, Error> {
    let list = containers(client, p, &a.services).await?;
    let mut groups = apply::stop_groups(p, &list)?;
    if action == "start" {
        groups.reverse();
    }
    let (doing, done) = match action {
        "start" => ("Starting", "Started"),
        "pause" => ("Pausing", "Paused"),
        _ => ("Unpausing", "Unpaused"),
    };
    for group in groups {
        for c in group {
            if action == "start" && c.state == "running" {
                continue;
            }
            progress("Container", &c.name, doing);
            client
                .request_empty(
                    berth_client::Method::POST,
                    &format!("/containers/{}/{action}", c.id),
                )
                .await?;
            progress("Container", &c.name, done);
        }
    }
    Ok(0)
}

pub async fn stop(client: &Client, p: &Project, a: &StopArgs, restart: bool) -> Result<i32, Error> {
    let mut named = a.services.clone();
    if restart && !named.is_empty() {
        // Dependents that ask for it (`restart: true`) restart too.
        loop {
            let more: Vec<String> = p
                .services
                .iter()
                .filter(|(n, s)| {
                    !named.contains(n)
                        && s.depends_on
                            .iter()
                            .any(|(dep, d)| d.restart && named.contains(dep))
                })
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            named.extend(more);
        }
    }
    let list = containers(client, p, &named).await?;
    let mut groups = apply::stop_groups(p, &list)?;
    if restart {
        groups.reverse();
    }
    for group in groups {
        for c in group {
            if restart {
                progress("Container", &c.name, "Restarting");
                client.container_restart(&c.id, a.timeout, None).await?;
                progress("Container", &c.name, "Started");
            } else if c.state == "running" || c.state == "paused" {
                progress("Container", &c.name, "Stopping");
                client.container_stop(&c.id, a.timeout, None).await?;
                progress("Container", &c.name, "Stopped");
            }
        }
    }
    Ok(0)
}

pub async fn kill(client: &Client, p: &Project, a: &KillArgs) -> Result<i32, Error> {
    for c in containers(client, p, &a.services).await? {
        if c.state != "running" {
            continue;
        }
        progress("Container", &c.name, "Killing");
        client.container_kill(&c.id, &a.signal).await?;
        progress("Container", &c.name, "Killed");
    }
    Ok(0)
}

pub async fn rm(client: &Client, p: &Project, a: &RmArgs) -> Result<i32, Error> {
    let list = containers(client, p, &a.services).await?;
    let mut targets = Vec::new();
    for c in list {
        if c.state == "running" || c.state == "paused" {
            if !a.stop {
                continue;
            }
            progress("Container", &c.name, "Stopping");
            client.container_stop(&c.id, None, None).await?;
            progress("Container", &c.name, "Stopped");
        }
        targets.push(c);
    }
    if targets.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    if !a.force {
        let names: Vec<&str> = targets.iter().map(|c| c.name.as_str()).collect();
        let warning = format!("Going to remove {}", names.join(", "));
        if let Err(code) = crate::commands::confirm(false, "compose rm", &warning) {
            return Ok(code);
        }
    }
    for c in targets {
        progress("Container", &c.name, "Removing");
        client.container_remove(&c.id, true, a.volumes).await?;
        progress("Container", &c.name, "Removed");
    }
    Ok(0)
}

pub async fn wait(client: &Client, p: &Project, a: &ServicesArgs) -> Result<i32, Error> {
    let list = containers(client, p, &a.services).await?;
    let Some(first) = list.first() else {
        return Err(Error::Failed("no containers for the given services".into()));
    };
    let fut = client.container_wait(&first.id, "not-running").await?;
    let r = fut.await?;
    println!("{}", r.status_code);
    Ok(i32::try_from(r.status_code).unwrap_or(1))
}
