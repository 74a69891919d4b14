//! Executing compose over the Engine API: observing what the project has
//! (by its labels), carrying out an `up` plan level by level (the services
//! of a level at once, each after its dependencies' conditions hold), and
//! taking a project down. Progress goes to stderr as Docker Compose's
//! plain lines (` Container app-web-1  Started`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use berth_client::{Client, Method};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::convert::{self, Context};
use crate::error::Error;
use crate::loader::Project;
use crate::plan::{Observed, Plan, Step};

/// How many engine calls run at once.
const PARALLEL: usize = 8;

/// A progress line: ` Container app-web-1  Started` (or the live view).
pub fn progress(kind: &str, name: &str, what: &str) {
    crate::progress::report(kind, name, what);
}

fn filters(pairs: &[(&str, String)]) -> String {
    let mut m: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k).or_default().push(v.clone());
    }
    serde_json::to_string(&m).unwrap_or_default()
}

fn project_filter(p: &str) -> String {
    filters(&[("label", format!("{}={p}", convert::PROJECT))])
}

/// The project's containers (one-off ones included).
pub async fn observe(client: &Client, project: &str) -> Result<Vec<Observed>, Error> {
    let list = client
        .containers(true, None, &project_filter(project))
        .await?;
    Ok(list
        .into_iter()
        .map(|c| {
            let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
            Observed {
                name: c
                    .names
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                service: label(convert::SERVICE),
                number: label(convert::NUMBER).parse().unwrap_or(0),
                hash: label(convert::CONFIG_HASH),
                image_id: label(convert::IMAGE),
                oneoff: label(convert::ONEOFF) == "True",
                state: c.state.clone(),
                id: c.id,
            }
        })
        .collect())
}

/// Names of the networks that exist.
pub async fn network_names(client: &Client) -> Result<BTreeSet<String>, Error> {
    let list = client.networks("").await?;
    Ok(list.into_iter().map(|n| n.name).collect())
}

/// Names of the volumes that exist.
pub async fn volume_names(client: &Client) -> Result<BTreeSet<String>, Error> {
    let list = client.volumes("").await?;
    Ok(list.volumes.into_iter().map(|v| v.name).collect())
}

/// The image id a reference resolves to, if the image is there.
pub async fn image_id(client: &Client, reference: &str) -> Option<String> {
    client.image_inspect(reference).await.ok().map(|i| i.id)
}

async fn create_network(client: &Client, p: &Project, key: &str, name: &str) -> Result<(), Error> {
    let n = p.networks.get(key).cloned().unwrap_or_default();
    let mut labels = n.labels.clone();
    labels.insert(convert::PROJECT.into(), p.name.clone());
    labels.insert(convert::NETWORK.into(), key.into());
    labels.insert(convert::VERSION.into(), convert::COMPOSE_VERSION.into());
    let body = berth_api::network::NetworkCreate {
        name: name.to_string(),
        driver: n.driver.clone().unwrap_or_else(|| "bridge".into()),
        internal: n.internal,
        attachable: n.attachable,
        enable_ipv6: Some(n.enable_ipv6),
        ipam: n.ipam.as_ref().map(|ipam| berth_api::network::Ipam {
            driver: ipam.driver.clone().unwrap_or_else(|| "default".into()),
            options: Some(ipam.options.clone()),
            config: ipam
                .config
                .iter()
                .map(|c| berth_api::network::IpamConfig {
                    subnet: c.subnet.clone().unwrap_or_default(),
                    gateway: c.gateway.clone().unwrap_or_default(),
                    ip_range: c.ip_range.clone().unwrap_or_default(),
                    auxiliary_addresses: c.aux_addresses.clone(),
                })
                .collect(),
        }),
        options: n.driver_opts.clone(),
        labels,
    };
    progress("Network", name, "Creating");
    client.network_create(&body).await?;
    progress("Network", name, "Created");
    Ok(())
}

async fn create_volume(client: &Client, p: &Project, key: &str, name: &str) -> Result<(), Error> {
    let v = p.volumes.get(key).cloned().unwrap_or_default();
    let mut labels = v.labels.clone();
    labels.insert(convert::PROJECT.into(), p.name.clone());
    labels.insert(convert::VOLUME.into(), key.into());
    labels.insert(convert::VERSION.into(), convert::COMPOSE_VERSION.into());
    let body = berth_api::volume::VolumeCreate {
        name: name.to_string(),
        driver: v.driver.clone().unwrap_or_else(|| "local".into()),
        driver_opts: v.driver_opts,
        labels,
    };
    progress("Volume", name, "Creating");
    client.volume_create(&body).await?;
    progress("Volume", name, "Created");
    Ok(())
}

/// Checks that external networks and volumes exist.
async fn check_external(client: &Client, p: &Project) -> Result<(), Error> {
    let nets = network_names(client).await?;
    for (key, n) in &p.networks {
        let name = convert::network_name(p, key);
        if n.external && !nets.contains(&name) {
            return Err(Error::Failed(format!(
                "network {name} declared as external, but could not be found"
            )));
        }
    }
    let vols = volume_names(client).await?;
    for (key, v) in &p.volumes {
        let name = convert::volume_name(p, key);
        if v.external && !vols.contains(&name) {
            return Err(Error::Failed(format!(
                "external volume \"{name}\" not found"
            )));
        }
    }
    Ok(())
}

/// Waits until `dep`'s containers meet `condition`.
async fn wait_condition(
    client: &Client,
    project: &str,
    dep: &str,
    condition: &str,
) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let containers: Vec<Observed> = observe(client, project)
            .await?
            .into_iter()
            .filter(|o| o.service == dep && !o.oneoff)
            .collect();
        let mut all = !containers.is_empty();
        for c in &containers {
            let state = client.container_inspect(&c.id).await?.state;
            let status = state.status.as_str();
            let ok = match condition {
                "service_healthy" => match state.health.as_ref().and_then(|h| h["Status"].as_str())
                {
                    Some("healthy") => true,
                    Some("unhealthy") => {
                        return Err(Error::Failed(format!(
                            "dependency failed to start: container {} is unhealthy",
                            c.name
                        )))
                    }
                    None if status == "running" => {
                        return Err(Error::Failed(format!(
                            "container {} has no healthcheck configured",
                            c.name
                        )))
                    }
                    _ => false,
                },
                "service_completed_successfully" => {
                    if status == "exited" || status == "dead" {
                        let code = state.exit_code;
                        if code != 0 {
                            return Err(Error::Failed(format!(
                                "service {dep:?} didn't complete successfully: exit {code}"
                            )));
                        }
                        true
                    } else {
                        false
                    }
                }
                _ => status == "running" || status == "exited",
            };
            all &= ok;
        }
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Failed(format!(
                "timed out waiting for {dep} to be {condition}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a container (and connects its other networks).
async fn create_container(
    client: &Client,
    p: &Project,
    service: &str,
    number: u32,
    ctx: &Context,
    name_override: Option<&str>,
) -> Result<String, Error> {
    let s = &p.services[service];
    let (name, mut req) = convert::create_request(p, service, s, number, false, ctx)?;
    req.host_config
        .extra_hosts
        .extend(link_hosts(client, p, service, ctx).await?);
    let name = name_override.map(str::to_string).unwrap_or(name);
    progress("Container", &name, "Creating");
    let created = client.container_create(&req, Some(&name)).await?;
    connect_networks(client, p, service, &name, &created.id).await?;
    inject_files(client, p, service, &created.id).await?;
    progress("Container", &name, "Created");
    Ok(created.id)
}

/// `links: [service:alias]`: the alias names the linked service's first
/// container on a network both share (its service name already resolves
/// through the network's DNS).
pub async fn link_hosts(
    client: &Client,
    p: &Project,
    service: &str,
    ctx: &Context,
) -> Result<Vec<String>, Error> {
    let s = &p.services[service];
    let mine: Vec<String> = convert::networks_in_order(s)
        .iter()
        .map(|k| convert::network_name(p, k))
        .collect();
    let mut out = Vec::new();
    for link in &s.links {
        let (target, alias) = link
            .split_once(':')
            .unwrap_or((link.as_str(), link.as_str()));
        if alias == target {
            continue;
        }
        let id = ctx.service_containers.get(target).ok_or_else(|| {
            Error::Failed(format!("service {target} has no container to link to"))
        })?;
        let info = client.container_inspect(id).await?;
        let ip = mine.iter().find_map(|n| {
            info.network_settings["Networks"][n]["IPAddress"]
                .as_str()
                .filter(|ip| !ip.is_empty())
                .map(str::to_string)
        });
        match ip {
            Some(ip) => out.push(format!("{alias}:{ip}")),
            None => {
                return Err(Error::Failed(format!(
                    "service {service} links to {target}, which shares no network with it"
                )))
            }
        }
    }
    Ok(out)
}

/// Copies a service's environment and inline secrets and configs into a
/// created container.
pub async fn inject_files(
    client: &Client,
    p: &Project,
    service: &str,
    id: &str,
) -> Result<(), Error> {
    let files = convert::injected_files(p, &p.services[service])?;
    if files.is_empty() {
        return Ok(());
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = BTreeSet::new();
    for f in &files {
        let rel = f.path.trim_start_matches('/');
        let mut acc = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            acc = if acc.is_empty() {
                part.to_string()
            } else {
                format!("{acc}/{part}")
            };
            if dirs.insert(acc.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{acc}/"), std::io::empty())
                    .map_err(Error::io("making the secrets archive"))?;
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(f.mode);
        h.set_uid(f.uid);
        h.set_gid(f.gid);
        h.set_size(f.content.len() as u64);
        b.append_data(&mut h, rel, &f.content[..])
            .map_err(Error::io("making the secrets archive"))?;
    }
    let bytes = b
        .into_inner()
        .map_err(Error::io("making the secrets archive"))?;
    client
        .archive_put(id, "/", berth_client::transport::full(bytes), true)
        .await?;
    Ok(())
}

/// Connects a new container to its service's networks after the first
/// (the create request carries the first).
pub async fn connect_networks(
    client: &Client,
    p: &Project,
    service: &str,
    name: &str,
    id: &str,
) -> Result<(), Error> {
    let s = &p.services[service];
    if s.network_mode.is_some() {
        return Ok(());
    }
    for key in convert::networks_in_order(s).iter().skip(1) {
        let body = json!({
            "Container": id,
            "EndpointConfig": convert::endpoint(p, service, s, name, key),
        });
        client
            .post_json_empty(
                &format!("/networks/{}/connect", convert::network_name(p, key)),
                &body,
            )
            .await?;
    }
    Ok(())
}

async fn start(client: &Client, id: &str, name: &str) -> Result<(), Error> {
    progress("Container", name, "Starting");
    client.container_start(id).await?;
    progress("Container", name, "Started");
    Ok(())
}

/// Stops and removes a container.
pub async fn remove(
    client: &Client,
    o: &Observed,
    timeout: Option<i64>,
    volumes: bool,
) -> Result<(), Error> {
    if o.state == "running" || o.state == "paused" || o.state == "restarting" {
        progress("Container", &o.name, "Stopping");
        client.container_stop(&o.id, timeout, None).await?;
        progress("Container", &o.name, "Stopped");
    }
    progress("Container", &o.name, "Removing");
    match client.container_remove(&o.id, true, volumes).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    progress("Container", &o.name, "Removed");
    Ok(())
}

/// Each service's first container (not one-off), by service.
pub async fn first_containers(
    client: &Client,
    project: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let mut all = observe(client, project).await?;
    all.retain(|o| !o.oneoff);
    all.sort_by_key(|o| o.number);
    let mut out = BTreeMap::new();
    for o in all {
        out.entry(o.service).or_insert(o.id);
    }
    Ok(out)
}

/// Plans `up` against what the engine has now.
pub async fn plan_now(
    client: &Client,
    p: &Project,
    image_ids: &BTreeMap<String, String>,
    opts: &crate::plan::UpOptions,
) -> Result<Plan, Error> {
    let observed = observe(client, &p.name).await?;
    crate::plan::plan_up(
        p,
        &observed,
        &network_names(client).await?,
        &volume_names(client).await?,
        image_ids,
        opts,
    )
}

/// Carries out an `up` plan; the ids of the service's containers after it.
pub async fn up(
    client: &Client,
    p: &Project,
    plan: &Plan,
    image_ids: &BTreeMap<String, String>,
    no_start: bool,
    timeout: Option<i64>,
) -> Result<BTreeMap<String, Vec<String>>, Error> {
    check_external(client, p).await?;
    for (key, name) in &plan.networks {
        create_network(client, p, key, name).await?;
    }
    for (key, name) in &plan.volumes {
        create_volume(client, p, key, name).await?;
    }
    if plan.remove_orphans {
        for o in &plan.orphans {
            remove(client, o, timeout, false).await?;
        }
    } else if !plan.orphans.is_empty() {
        let names: Vec<&str> = plan.orphans.iter().map(|o| o.name.as_str()).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(", ")
        );
    }
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Services outside the plan (`--no-deps`) share their existing first
    // container (network_mode: service:, volumes_from, links).
    let existing = first_containers(client, &p.name).await?;
    for level in &plan.levels {
        let mut service_containers = existing.clone();
        service_containers.extend(
            ids.iter()
                .filter_map(|(k, v)| v.first().map(|id| (k.clone(), id.clone()))),
        );
        let ctx_base = Context {
            service_containers,
            image_id: String::new(),
        };
        let results: Vec<(String, Vec<String>)> = stream::iter(level.iter().map(|sp| {
            let ctx = Context {
                image_id: image_ids.get(&sp.service).cloned().unwrap_or_default(),
                ..ctx_base.clone()
            };
            async move {
                let s = &p.services[&sp.service];
                if !no_start {
                    for (dep, d) in &s.depends_on {
                        if p.services.contains_key(dep) {
                            wait_condition(client, &p.name, dep, &d.condition).await?;
                        }
                    }
                }
                let mut out = Vec::new();
                for step in &sp.steps {
                    match step {
                        Step::Create { number, .. } => {
                            let id = create_container(client, p, &sp.service, *number, &ctx, None)
                                .await?;
                            if !no_start {
                                let name = convert::container_name(p, &sp.service, s, *number);
                                start(client, &id, &name).await?;
                            }
                            out.push(id);
                        }
                        Step::Recreate { number, old } => {
                            progress("Container", &old.name, "Recreate");
                            if old.state == "running" || old.state == "paused" {
                                client.container_stop(&old.id, timeout, None).await?;
                            }
                            let short = &old.id[..old.id.len().min(12)];
                            client
                                .request_empty(
                                    Method::POST,
                                    &format!(
                                        "/containers/{}/rename?name={short}_{}",
                                        old.id, old.name
                                    ),
                                )
                                .await?;
                            let name = convert::container_name(p, &sp.service, s, *number);
                            let id = create_container(
                                client,
                                p,
                                &sp.service,
                                *number,
                                &ctx,
                                Some(&name),
                            )
                            .await?;
                            client.container_remove(&old.id, true, false).await?;
                            progress("Container", &name, "Recreated");
                            if !no_start {
                                start(client, &id, &name).await?;
                            }
                            out.push(id);
                        }
                        Step::Start(o) => {
                            start(client, &o.id, &o.name).await?;
                            out.push(o.id.clone());
                        }
                        Step::Restart(o) => {
                            progress("Container", &o.name, "Restarting");
                            client.container_restart(&o.id, timeout, None).await?;
                            progress("Container", &o.name, "Started");
                            out.push(o.id.clone());
                        }
                        Step::Running(o) => {
                            progress("Container", &o.name, "Running");
                            out.push(o.id.clone());
                        }
                        Step::Remove(o) => remove(client, o, timeout, false).await?,
                    }
                }
                Ok::<_, Error>((sp.service.clone(), out))
            }
        }))
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
        ids.extend(results);
    }
    Ok(ids)
}

/// What `down` removes besides containers and networks.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    /// `--rmi all|local`.
    pub rmi: Option<String>,
    pub remove_orphans: bool,
    pub timeout: Option<i64>,
}

/// Containers grouped in reverse start order (dependents first); services
/// not in the files (orphans) go first.
pub fn stop_groups(p: &Project, containers: &[Observed]) -> Result<Vec<Vec<Observed>>, Error> {
    let mut groups = Vec::new();
    let known: BTreeSet<&String> = p.services.keys().collect();
    let others: Vec<Observed> = containers
        .iter()
        .filter(|c| !known.contains(&c.service))
        .cloned()
        .collect();
    if !others.is_empty() {
        groups.push(others);
    }
    for level in p.start_order()?.into_iter().rev() {
        let g: Vec<Observed> = containers
            .iter()
            .filter(|c| level.contains(&c.service))
            .cloned()
            .collect();
        if !g.is_empty() {
            groups.push(g);
        }
    }
    Ok(groups)
}

/// `down`.
pub async fn down(client: &Client, p: &Project, opts: &DownOptions) -> Result<(), Error> {
    let containers = observe(client, &p.name).await?;
    let known: BTreeSet<&String> = p.services.keys().chain(p.disabled.keys()).collect();
    let targets: Vec<Observed> = containers
        .iter()
        .filter(|c| opts.remove_orphans || known.contains(&c.service) || c.oneoff)
        .cloned()
        .collect();
    let orphans: Vec<&Observed> = containers
        .iter()
        .filter(|c| !known.contains(&c.service) && !c.oneoff)
        .collect();
    if !opts.remove_orphans && !orphans.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|o| o.name.as_str()).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(", ")
        );
    }
    for group in stop_groups(p, &targets)? {
        stream::iter(
            group
                .iter()
                .map(|c| remove(client, c, opts.timeout, opts.volumes)),
        )
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    }
    // The project's networks: those it declares and any left labelled.
    let nets: Vec<Value> = client
        .get_json(&format!(
            "/networks?filters={}",
            berth_client::transport::encode(&project_filter(&p.name))
        ))
        .await?;
    let mut names: BTreeSet<String> = nets
        .iter()
        .filter_map(|n| n["Name"].as_str().map(str::to_string))
        .collect();
    let existing = network_names(client).await?;
    for (key, n) in &p.networks {
        let name = convert::network_name(p, key);
        if !n.external && existing.contains(&name) {
            names.insert(name);
        }
    }
    for name in names {
        progress("Network", &name, "Removing");
        match client
            .request_empty(Method::DELETE, &format!("/networks/{name}"))
            .await
        {
            Ok(()) => progress("Network", &name, "Removed"),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if opts.volumes {
        let existing = volume_names(client).await?;
        for (key, v) in &p.volumes {
            let name = convert::volume_name(p, key);
            if v.external || !existing.contains(&name) {
                continue;
            }
            progress("Volume", &name, "Removing");
            client
                .request_empty(Method::DELETE, &format!("/volumes/{name}"))
                .await?;
            progress("Volume", &name, "Removed");
        }
    }
    if let Some(rmi) = &opts.rmi {
        let mut images = BTreeSet::new();
        for (name, s) in &p.services {
            if rmi == "all" || s.image.is_none() {
                images.insert(convert::image_name(p, name, s));
            }
        }
        for image in images {
            match client.image_remove(&image, false, false).await {
                Ok(_) => progress("Image", &image, "Removed"),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
