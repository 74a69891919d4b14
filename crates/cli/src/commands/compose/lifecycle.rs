//! `compose up/create/down/start/stop/restart/kill/rm/pause/unpause/build/
//! pull/push/wait`.

use std::collections::BTreeMap;

use berth_client::Client;
use berth_compose::apply::{self, progress, DownOptions};
use berth_compose::convert;
use berth_compose::plan::{self, Observed, UpOptions};
use berth_compose::{Error, Project};
use clap::Parser;

use crate::connect::Target;

#[derive(Debug, Default, clap::Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Build images before starting containers.
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing.
    #[arg(long = "no-build")]
    pub no_build: bool,
    /// Recreate containers even if their configuration hasn't changed.
    #[arg(long = "force-recreate")]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long = "no-recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances.
    #[arg(long = "scale")]
    pub scale: Vec<String>,
    /// Wait for services to be running and healthy (implies detached).
    #[arg(long)]
    pub wait: bool,
    /// Maximum seconds to wait with --wait.
    #[arg(long = "wait-timeout")]
    pub wait_timeout: Option<u64>,
    /// Stop all containers if any container was stopped.
    #[arg(long = "abort-on-container-exit")]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container.
    #[arg(long = "exit-code-from")]
    pub exit_code_from: Option<String>,
    /// Don't start linked services.
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// Don't start the services after creating them.
    #[arg(long = "no-start")]
    pub no_start: bool,
    /// Produce monochrome output.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Don't prefix the log lines with the container name.
    #[arg(long = "no-log-prefix")]
    pub no_log_prefix: bool,
    /// Pull images before running (always, missing, never).
    #[arg(long)]
    pub pull: Option<String>,
    /// Seconds to wait when stopping containers.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    /// Print the plan without doing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the volumes section and anonymous
    /// volumes attached to containers.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    /// Remove images used by services: "local" (built ones) or "all".
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the compose file.
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Seconds to wait when stopping containers.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "timeout")]
    pub timeout: Option<i64>,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short = 's', long = "signal", default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Stop the containers first.
    #[arg(short = 's', long = "stop")]
    pub stop: bool,
    /// Remove anonymous volumes attached to containers.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Don't print anything to stdout.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    pub services: Vec<String>,
}

/// The containers of the named services (all when none), not one-off.
pub(super) async fn containers(
    client: &Client,
    p: &Project,
    services: &[String],
) -> Result<Vec<Observed>, Error> {
    for s in services {
        if !p.services.contains_key(s) {
            return Err(Error::Project(format!("no such service: {s}")));
        }
    }
    let mut list: Vec<Observed> = apply::observe(client, &p.name)
        .await?
        .into_iter()
        .filter(|o| !o.oneoff && (services.is_empty() || services.contains(&o.service)))
        .collect();
    list.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
    Ok(list)
}

#[derive(Debug, Parser)]
struct BuildCli {
    #[command(flatten)]
    args: crate::commands::build::Args,
}

/// Builds one service's image with berth's builder (the `build` command's
/// own path: context tar, .dockerignore, progress).
async fn build_service(
    target: &Target,
    p: &Project,
    name: &str,
    opts: &BuildArgs,
) -> Result<(), Error> {
    let s = &p.services[name];
    let Some(b) = &s.build else {
        return Ok(());
    };
    let image = convert::image_name(p, name, s);
    let mut argv: Vec<String> = vec!["build".into(), "-t".into(), image.clone()];
    for t in &b.tags {
        argv.extend(["-t".into(), t.clone()]);
    }
    if let Some(d) = &b.dockerfile {
        let path = std::path::Path::new(d);
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::path::Path::new(&b.context).join(path)
        };
        argv.extend(["-f".into(), full.display().to_string()]);
    }
    for (k, v) in &b.args {
        match v {
            Some(v) => argv.extend(["--build-arg".into(), format!("{k}={v}")]),
            None => {
                if let Some(v) = p.variables.get(k) {
                    argv.extend(["--build-arg".into(), format!("{k}={v}")]);
                }
            }
        }
    }
    for a in &opts.build_args {
        argv.extend(["--build-arg".into(), a.clone()]);
    }
    if let Some(t) = &b.target {
        argv.extend(["--target".into(), t.clone()]);
    }
    if !b.cache_from.is_empty() {
        argv.extend(["--cache-from".into(), b.cache_from.join(",")]);
    }
    for (k, v) in &b.labels {
        argv.extend(["--label".into(), format!("{k}={v}")]);
    }
    if let Some(n) = &b.network {
        argv.extend(["--network".into(), n.clone()]);
    }
    if let Some(size) = b.shm_size {
        argv.extend(["--shm-size".into(), size.to_string()]);
    }
    for h in &b.extra_hosts {
        argv.extend(["--add-host".into(), h.clone()]);
    }
    for (n, u) in &b.ulimits {
        argv.extend(["--ulimit".into(), format!("{n}={}:{}", u.soft, u.hard)]);
    }
    for sref in &b.secrets {
        let def = p.secrets.get(&sref.source).ok_or_else(|| {
            Error::Project(format!(
                "service {name:?} build refers to undefined secret {}",
                sref.source
            ))
        })?;
        let file = def.file.clone().ok_or_else(|| {
            Error::Unsupported(format!("build secret {:?} not from a file", sref.source))
        })?;
        let id = sref.target.clone().unwrap_or_else(|| sref.source.clone());
        argv.extend(["--secret".into(), format!("id={id},src={file}")]);
    }
    if opts.no_cache || b.no_cache {
        argv.push("--no-cache".into());
    }
    if opts.pull || b.pull {
        argv.push("--pull".into());
    }
    if opts.quiet {
        argv.push("-q".into());
    }
    argv.extend(["--progress".into(), "plain".into()]);
    argv.push(b.context.clone());
    let cli = BuildCli::try_parse_from(&argv)
        .map_err(|e| Error::Failed(format!("building {name}: {e}")))?;
    let code = crate::commands::build::run(cli.args, target).await;
    if code != 0 {
        return Err(Error::Failed(format!(
            "failed to build service {name:?}: exit status {code}"
        )));
    }
    Ok(())
}

pub async fn build(
    _client: &Client,
    target: &Target,
    p: &Project,
    a: &BuildArgs,
) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        build_service(target, p, name, a).await?;
    }
    Ok(0)
}

async fn pull_image(client: &Client, image: &str) -> Result<(), Error> {
    let (repo, tag) = split_tag(image);
    let mut stream = client.image_pull(&repo, &tag).await?;
    let mut lines = berth_client::demux::JsonLines::default();
    while let Some(chunk) = stream.next().await? {
        lines.feed(&chunk);
        while let Some(m) = lines.next_message::<serde_json::Value>() {
            let m = m.map_err(|e| Error::Failed(format!("pulling {image}: {e}")))?;
            if let Some(e) = m["error"].as_str() {
                return Err(Error::Failed(e.to_string()));
            }
        }
    }
    Ok(())
}

/// `name[:tag]` (a digest reference stays whole).
fn split_tag(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

pub async fn pull(
    client: &Client,
    _target: &Target,
    p: &Project,
    a: &ServicesArgs,
) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        let s = &p.services[name];
        let Some(image) = &s.image else { continue };
        if s.build.is_some() && apply::image_id(client, image).await.is_some() {
            continue;
        }
        progress("", name, "Pulling");
        match pull_image(client, image).await {
            Ok(()) => progress("", name, "Pulled"),
            Err(e) if s.build.is_some() => {
                eprintln!(" {name}  Skipped: {e} (it is built)");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

pub async fn push(target: &Target, p: &Project, a: &ServicesArgs) -> Result<i32, Error> {
    let chosen = plan::selected(p, &a.services, true)?;
    for name in &chosen {
        let s = &p.services[name];
        let Some(image) = &s.image else { continue };
        progress("", name, "Pushing");
        let args = crate::commands::push::Args {
            all_tags: false,
            quiet: true,
            name: image.clone(),
        };
        if crate::commands::push::run(args, target).await != 0 {
            return Err(Error::Failed(format!("failed to push {image}")));
        }
        progress("", name, "Pushed");
    }
    Ok(0)
}

/// Builds or pulls what the services need; their image ids.
async fn ensure_images(
    client: &Client,
    target: &Target,
    p: &Project,
    services: &[String],
    a: &UpArgs,
) -> Result<BTreeMap<String, String>, Error> {
    let mut ids = BTreeMap::new();
    for name in services {
        let s = &p.services[name];
        let image = convert::image_name(p, name, s);
        let policy = a
            .pull
            .clone()
            .or_else(|| s.pull_policy.clone())
            .unwrap_or_else(|| "missing".into());
        let present = apply::image_id(client, &image).await;
        if s.build.is_some() && !a.no_build && (a.build || present.is_none() || policy == "build") {
            let opts = BuildArgs {
                no_cache: false,
                pull: false,
                build_args: Vec::new(),
                quiet: false,
                services: Vec::new(),
            };
            build_service(target, p, name, &opts).await?;
        } else if s.build.is_none() || present.is_none() {
            let pull = match policy.as_str() {
                "always" => true,
                "never" => false,
                "missing" | "if_not_present" | "build" => present.is_none(),
                other => {
                    return Err(Error::Project(format!(
                        "invalid pull policy {other:?} for service {name}"
                    )))
                }
            };
            if pull {
                progress("", name, "Pulling");
                pull_image(client, &image).await?;
                progress("", name, "Pulled");
            } else if present.is_none() {
                return Err(Error::Failed(format!(
                    "no such image: {image} (service {name})"
                )));
            }
        }
        if let Some(id) = apply::image_id(client, &image).await {
            ids.insert(name.clone(), id);
        }
    }
    Ok(ids)
}

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
        ensure_images(client, target, p, &chosen, a).await?
    };
    let observed = apply::observe(client, &p.name).await?;
    let plan = plan::plan_up(
        p,
        &observed,
        &apply::network_names(client).await?,
        &apply::volume_names(client).await?,
        &image_ids,
        &opts,
    )?;
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
            let name = v["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/');
            let state = &v["State"];
            let status = state["Status"].as_str().unwrap_or_default();
            let health = state["Health"]["Status"].as_str();
            match (status, health) {
                ("running", None | Some("healthy")) => progress("Container", name, "Healthy"),
                ("running", Some("unhealthy")) => {
                    return Err(Error::Failed(format!("container {name} is unhealthy")))
                }
                ("exited", _) | ("dead", _) => {
                    let code = state["ExitCode"].as_i64().unwrap_or(0);
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

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run the container in the background and print its id.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Don't start linked services.
    #[arg(long = "no-deps")]
    pub no_deps: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Add or override a label.
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Disable pseudo-TTY allocation (allocated by default on a terminal).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Publish the service's ports.
    #[arg(long = "service-ports")]
    pub service_ports: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Bind mount a volume.
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Build the image before starting the container.
    #[arg(long)]
    pub build: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `compose run`: a one-off container of a service, after its dependencies
/// are up.
pub async fn run_oneoff(
    client: &Client,
    target: &Target,
    p: &Project,
    a: &RunArgs,
) -> Result<i32, Error> {
    use std::io::IsTerminal;
    let s = p
        .services
        .get(&a.service)
        .ok_or_else(|| Error::Project(format!("no such service: {}", a.service)))?;
    let up_args = UpArgs {
        build: a.build,
        detach: true,
        ..UpArgs::default()
    };
    if !a.no_deps {
        let deps: Vec<String> = plan::selected(p, std::slice::from_ref(&a.service), false)?
            .into_iter()
            .filter(|d| d != &a.service)
            .collect();
        if !deps.is_empty() {
            let image_ids = ensure_images(client, target, p, &deps, &up_args).await?;
            let opts = UpOptions {
                services: deps,
                ..UpOptions::default()
            };
            let observed = apply::observe(client, &p.name).await?;
            let plan = plan::plan_up(
                p,
                &observed,
                &apply::network_names(client).await?,
                &apply::volume_names(client).await?,
                &image_ids,
                &opts,
            )?;
            apply::up(client, p, &plan, &image_ids, false, None).await?;
        }
    }
    let image_ids = ensure_images(
        client,
        target,
        p,
        std::slice::from_ref(&a.service),
        &up_args,
    )
    .await?;
    // The project's networks and volumes exist even with --no-deps.
    let plan = plan::plan_up(
        p,
        &[],
        &apply::network_names(client).await?,
        &apply::volume_names(client).await?,
        &image_ids,
        &UpOptions {
            services: vec![a.service.clone()],
            no_deps: true,
            no_start: true,
            ..UpOptions::default()
        },
    )?;
    let setup = plan::Plan {
        networks: plan.networks,
        volumes: plan.volumes,
        ..plan::Plan::default()
    };
    apply::up(client, p, &setup, &image_ids, true, None).await?;

    let mut service_containers = BTreeMap::new();
    let mut observed = apply::observe(client, &p.name).await?;
    observed.retain(|o| !o.oneoff);
    observed.sort_by_key(|o| o.number);
    for o in observed {
        service_containers.entry(o.service).or_insert(o.id);
    }
    let ctx = convert::Context {
        service_containers,
        image_id: image_ids.get(&a.service).cloned().unwrap_or_default(),
    };
    let (_, mut req) = convert::create_request(p, &a.service, s, 1, true, &ctx)?;
    req.host_config
        .extra_hosts
        .extend(apply::link_hosts(client, p, &a.service, &ctx).await?);
    let slug: String = {
        let mut b = [0u8; 6];
        getrandom_fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    };
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{slug}", p.name, a.service));
    if !a.command.is_empty() {
        req.config.cmd = Some(a.command.clone());
    }
    if let Some(e) = &a.entrypoint {
        req.config.entrypoint = Some(
            shell_words::split(e)
                .map_err(|err| Error::Project(format!("invalid --entrypoint: {err}")))?,
        );
        if a.command.is_empty() {
            req.config.cmd = None;
        }
    }
    for e in &a.env {
        let key = e.split('=').next().unwrap_or(e);
        req.config.env.retain(|x| x.split('=').next() != Some(key));
        match e.split_once('=') {
            Some(_) => req.config.env.push(e.clone()),
            None => {
                if let Ok(v) = std::env::var(e) {
                    req.config.env.push(format!("{e}={v}"));
                }
            }
        }
    }
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        req.config.labels.insert(k.to_string(), v.to_string());
    }
    if let Some(u) = &a.user {
        req.config.user = u.clone();
    }
    if let Some(w) = &a.workdir {
        req.config.working_dir = w.clone();
    }
    if !a.service_ports {
        req.host_config.port_bindings.clear();
    }
    for spec in &a.publish {
        let port = berth_compose::ports::parse_short(spec).map_err(Error::Project)?;
        for (i, t) in berth_compose::ports::expand(&port.target)
            .iter()
            .enumerate()
        {
            let published = berth_compose::ports::expand(&port.published);
            req.host_config
                .port_bindings
                .entry(format!("{t}/{}", port.protocol))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(berth_api::container::PortBinding {
                    host_ip: port.host_ip.clone(),
                    host_port: published.get(i).map(u16::to_string).unwrap_or_default(),
                });
        }
    }
    for v in &a.volumes {
        let parsed = berth_compose::volumes::parse_short(v).map_err(Error::Project)?;
        let source = if parsed.kind == "bind" {
            let path = std::path::Path::new(&parsed.source);
            if path.is_absolute() {
                parsed.source.clone()
            } else {
                std::env::current_dir()
                    .map(|d| d.join(path).display().to_string())
                    .unwrap_or_else(|_| parsed.source.clone())
            }
        } else if parsed.source.is_empty() {
            String::new()
        } else {
            convert::volume_name(p, &parsed.source)
        };
        req.host_config.mounts.push(berth_api::container::Mount {
            kind: parsed.kind.clone(),
            source,
            target: parsed.target.clone(),
            read_only: parsed.read_only,
            ..berth_api::container::Mount::default()
        });
    }
    req.host_config.restart_policy = berth_api::container::RestartPolicy::default();
    req.host_config.auto_remove = a.rm;
    let tty = !a.no_tty && !a.detach && std::io::stdin().is_terminal();
    let interactive = !a.detach;
    req.config.tty = tty;
    req.config.open_stdin = interactive;
    req.config.attach_stdin = interactive;
    req.config.stdin_once = interactive;
    let created = client.container_create(&req, Some(&name)).await?;
    apply::connect_networks(client, p, &a.service, &name, &created.id).await?;
    apply::inject_files(client, p, &a.service, &created.id).await?;
    Ok(crate::commands::run::run_created(
        client,
        &created.id,
        &crate::commands::run::RunMode {
            detach: a.detach,
            interactive,
            tty,
            rm: a.rm,
            detach_keys: None,
        },
    )
    .await)
}

/// Random bytes for a one-off container's name.
fn getrandom_fill(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(buf);
    }
}
