//! `compose ps/ls/config/images/port/top/exec/version`.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use berth_client::Client;
use berth_compose::{convert, Error, Project};
use clap::Parser;
use serde_json::{json, Value};

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all stopped containers too.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    /// Filter by status (running, exited, paused, created...).
    #[arg(long)]
    pub status: Vec<String>,
    /// Output format: table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Show all stopped compose projects.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only display project names.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Output format: table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    pub images: bool,
    /// Only validate the configuration, don't print anything.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Output format: yaml or json.
    #[arg(long, default_value = "yaml")]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if the service has several.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Detached mode.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Disable pseudo-TTY allocation (allocated by default on a terminal).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Run the command as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Working directory.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Give extended privileges.
    #[arg(long)]
    pub privileged: bool,
    /// Index of the container if the service has several.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Show only the version number.
    #[arg(long)]
    pub short: bool,
}

pub fn version(a: &VersionArgs) -> i32 {
    if a.short {
        println!("{}", convert::COMPOSE_VERSION);
    } else {
        println!(
            "Docker Compose version v{} (berth {})",
            convert::COMPOSE_VERSION,
            env!("CARGO_PKG_VERSION")
        );
    }
    0
}

/// A table laid out with docker's tabwriter settings.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut text = headers.join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    print!("{}", berth_template::tabwrite(&text));
}

/// `--format`: `table` or `json` (Go templates are not supported yet).
fn check_format(f: &str) -> Result<(), Error> {
    match f {
        "table" | "json" => Ok(()),
        other => Err(Error::Unsupported(format!(
            "--format {other:?} (use table or json)"
        ))),
    }
}

pub async fn ps(client: &Client, p: &Project, a: &PsArgs) -> Result<i32, Error> {
    check_format(&a.format)?;
    if a.services {
        let names: Vec<&String> = if a.names.is_empty() {
            p.services.keys().collect()
        } else {
            a.names.iter().collect()
        };
        for n in names {
            println!("{n}");
        }
        return Ok(0);
    }
    let filter = json!({ "label": [format!("{}={}", convert::PROJECT, p.name)] }).to_string();
    let mut list = client.containers(true, None, &filter).await?;
    list.retain(|c| {
        let service = c.labels.get(convert::SERVICE).cloned().unwrap_or_default();
        (a.names.is_empty() || a.names.contains(&service))
            && (a.all || !a.status.is_empty() || c.state == "running")
            && (a.status.is_empty() || a.status.contains(&c.state))
    });
    list.sort_by(|x, y| x.names.cmp(&y.names));
    if a.quiet {
        for c in &list {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let row = crate::commands::ps::row(c, false);
            json!({
                "ID": c.id,
                "Name": row["Names"],
                "Image": c.image,
                "Command": row["Command"],
                "Project": p.name,
                "Service": c.labels.get(convert::SERVICE).cloned().unwrap_or_default(),
                "Created": row["RunningFor"],
                "State": c.state,
                "Status": c.status,
                "Ports": row["Ports"],
                "ExitCode": 0,
            })
        })
        .collect();
    if a.format == "json" {
        println!("{}", Value::Array(rows));
        return Ok(0);
    }
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    table(
        &[
            "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
        ],
        &rows
            .iter()
            .map(|r| {
                vec![
                    s(&r["Name"]),
                    s(&r["Image"]),
                    s(&r["Command"]),
                    s(&r["Service"]),
                    s(&r["Created"]),
                    s(&r["Status"]),
                    s(&r["Ports"]),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(0)
}

pub async fn ls(client: &Client, a: &LsArgs) -> i32 {
    if let Err(e) = check_format(&a.format) {
        return super::fail(e);
    }
    let filter = json!({ "label": [convert::PROJECT] }).to_string();
    let list = match client.containers(true, None, &filter).await {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in &list {
        let Some(name) = c.labels.get(convert::PROJECT) else {
            continue;
        };
        let entry = projects.entry(name.clone()).or_default();
        *entry.0.entry(c.state.clone()).or_default() += 1;
        entry.1 = c
            .labels
            .get(convert::CONFIG_FILES)
            .cloned()
            .unwrap_or_default();
    }
    let rows: Vec<(String, String, String)> = projects
        .into_iter()
        .filter(|(_, (states, _))| a.all || states.contains_key("running"))
        .map(|(name, (states, files))| {
            let status = states
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            (name, status, files)
        })
        .collect();
    if a.quiet {
        for (n, _, _) in &rows {
            println!("{n}");
        }
    } else if a.format == "json" {
        let v: Vec<Value> = rows
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        println!("{}", Value::Array(v));
    } else {
        table(
            &["NAME", "STATUS", "CONFIG FILES"],
            &rows
                .into_iter()
                .map(|(a, b, c)| vec![a, b, c])
                .collect::<Vec<_>>(),
        );
    }
    0
}

/// The resolved model as Docker Compose's `config` prints it.
fn model(p: &Project) -> Value {
    let mut networks = serde_json::Map::new();
    for (k, n) in &p.networks {
        let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
        v["name"] = json!(convert::network_name(p, k));
        networks.insert(k.clone(), v);
    }
    let mut volumes = serde_json::Map::new();
    for (k, vol) in &p.volumes {
        let mut v = serde_json::to_value(vol).unwrap_or(Value::Null);
        v["name"] = json!(convert::volume_name(p, k));
        volumes.insert(k.clone(), v);
    }
    let mut out = json!({ "name": p.name, "services": p.services });
    if !networks.is_empty() {
        out["networks"] = Value::Object(networks);
    }
    if !volumes.is_empty() {
        out["volumes"] = Value::Object(volumes);
    }
    if !p.secrets.is_empty() {
        out["secrets"] = json!(p.secrets);
    }
    if !p.configs.is_empty() {
        out["configs"] = json!(p.configs);
    }
    out
}

pub fn config(args: &super::ComposeArgs, a: &ConfigArgs) -> i32 {
    let p = match super::load(args) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    if a.quiet {
        return 0;
    }
    if a.services {
        for n in p.services.keys() {
            println!("{n}");
        }
        return 0;
    }
    if a.volumes {
        for n in p.volumes.keys() {
            println!("{n}");
        }
        return 0;
    }
    if a.profiles {
        let mut all: Vec<&String> = p
            .services
            .values()
            .chain(p.disabled.values())
            .flat_map(|s| s.profiles.iter())
            .collect();
        all.sort();
        all.dedup();
        for n in all {
            println!("{n}");
        }
        return 0;
    }
    if a.images {
        for (n, s) in &p.services {
            println!("{}", convert::image_name(&p, n, s));
        }
        return 0;
    }
    let m = model(&p);
    match a.format.as_str() {
        "json" => {
            println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
            0
        }
        "yaml" => match berth_compose::yaml::render(&m) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => super::fail(e),
        },
        other => super::fail(format!("unknown format {other:?}: use yaml or json")),
    }
}

pub async fn images(
    client: &Client,
    p: &Project,
    a: &super::args::ServicesArgs,
) -> Result<i32, Error> {
    let list = super::containers(client, p, &a.services).await?;
    let mut rows = Vec::new();
    for c in list {
        let info = client.container_inspect(&c.id).await?;
        let image = info.config.image;
        let size = client
            .image_inspect(&info.image)
            .await
            .map_or(0, |i| i.size);
        let (repo, tag) = match crate::commands::pull::split(&image) {
            (r, t) if t.is_empty() => (r, "latest".to_string()),
            split => split,
        };
        let short: String = info
            .image
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        rows.push(vec![c.name, repo, tag, short, crate::human::size(size)]);
    }
    table(
        &["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
        &rows,
    );
    Ok(0)
}

pub async fn port(client: &Client, p: &Project, a: &PortArgs) -> Result<i32, Error> {
    let list = super::containers(client, p, std::slice::from_ref(&a.service)).await?;
    let c = list.iter().find(|c| c.number == a.index).ok_or_else(|| {
        Error::Failed(format!(
            "service {} has no container {}",
            a.service, a.index
        ))
    })?;
    let info = client.container_inspect(&c.id).await?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    match info.network_settings["Ports"][&key]
        .as_array()
        .and_then(|b| b.first())
    {
        Some(b) => {
            println!(
                "{}:{}",
                b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                b["HostPort"].as_str().unwrap_or_default()
            );
            Ok(0)
        }
        None => Err(Error::Failed(format!(
            "no port {key} for container {}",
            c.name
        ))),
    }
}

pub async fn top(
    client: &Client,
    p: &Project,
    a: &super::args::ServicesArgs,
) -> Result<i32, Error> {
    for c in super::containers(client, p, &a.services).await? {
        if c.state != "running" {
            continue;
        }
        let top = client.container_top(&c.id, "").await?;
        println!("{}", c.name);
        let titles: Vec<&str> = top.titles.iter().map(String::as_str).collect();
        table(&titles, &top.processes);
        println!();
    }
    Ok(0)
}

#[derive(Debug, Parser)]
struct ExecCli {
    #[command(flatten)]
    args: crate::commands::exec::Args,
}

pub async fn exec(target: &Target, p: &Project, a: &ExecArgs) -> Result<i32, Error> {
    let client = target
        .client()
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let list = super::containers(&client, p, std::slice::from_ref(&a.service)).await?;
    let c = list
        .iter()
        .find(|c| c.number == a.index && c.state == "running")
        .ok_or_else(|| Error::Failed(format!("service {:?} is not running", a.service)))?;
    let mut argv: Vec<String> = vec!["exec".into()];
    if a.detach {
        argv.push("-d".into());
    } else {
        argv.push("-i".into());
        if !a.no_tty && std::io::stdin().is_terminal() {
            argv.push("-t".into());
        }
    }
    for e in &a.env {
        argv.extend(["-e".into(), e.clone()]);
    }
    if let Some(u) = &a.user {
        argv.extend(["-u".into(), u.clone()]);
    }
    if let Some(w) = &a.workdir {
        argv.extend(["-w".into(), w.clone()]);
    }
    if a.privileged {
        argv.push("--privileged".into());
    }
    argv.push(c.id.clone());
    argv.extend(a.command.iter().cloned());
    let cli = ExecCli::try_parse_from(&argv).map_err(|e| Error::Failed(e.to_string()))?;
    Ok(crate::commands::exec::run(cli.args, target).await)
}

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol links in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Index of the container if the service has several.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// SERVICE:SRC_PATH or a local path.
    pub src: String,
    /// SERVICE:DEST_PATH or a local path.
    pub dest: String,
}

/// `compose cp`: `berth cp` with `SERVICE:` replaced by the id of the
/// service's container.
pub async fn cp(target: &Target, p: &Project, a: &CpArgs) -> Result<i32, Error> {
    let client = target
        .client()
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let resolve = |arg: &str| -> Option<(String, String)> {
        if arg.starts_with('/') || arg.starts_with('.') {
            return None;
        }
        let (svc, path) = arg.split_once(':')?;
        Some((svc.to_string(), path.to_string()))
    };
    let (src, dest) = (resolve(&a.src), resolve(&a.dest));
    if src.is_some() == dest.is_some() {
        return Err(Error::Project(
            "one of the paths must be SERVICE:PATH and the other a local path".into(),
        ));
    }
    let (svc, _) = src.clone().or(dest.clone()).unwrap_or_default();
    let list = super::containers(&client, p, std::slice::from_ref(&svc)).await?;
    let c = list
        .iter()
        .find(|c| c.number == a.index)
        .ok_or_else(|| Error::Failed(format!("service {svc:?} has no container {}", a.index)))?;
    let with_id = |side: &Option<(String, String)>, raw: &str| match side {
        Some((_, path)) => format!("{}:{path}", c.id),
        None => raw.to_string(),
    };
    let args = crate::commands::cp::Args {
        archive: a.archive,
        follow_link: a.follow_link,
        quiet: true,
        src: with_id(&src, &a.src),
        dest: with_id(&dest, &a.dest),
    };
    Ok(crate::commands::cp::run(args, target).await)
}
