//! `compose run`: a one-off container of a service, after its
//! dependencies are up.

use berth_client::Client;
use berth_compose::apply;
use berth_compose::convert;
use berth_compose::plan::{self, UpOptions};
use berth_compose::{Error, Project};

use super::args::UpArgs;
use super::images::ensure_images;
use crate::connect::Target;

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
            let plan = apply::plan_now(client, p, &image_ids, &opts).await?;
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

    let ctx = convert::Context {
        service_containers: apply::first_containers(client, &p.name).await?,
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
            sig_proxy: true,
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
