//! `berth create` and the container flags it shares with `run`.

use std::collections::BTreeMap;

use berth_api::container::{ContainerConfig, CreateRequest, HostConfig};
use berth_client::Client;

use crate::connect::Target;
use crate::EXIT_BERTH;

/// Flags that describe a container (`create` and `run`).
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerFlags {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from this shell).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image ("" resets it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name.
    #[arg(long = "hostname")]
    pub hostname: Option<String>,
    /// Set metadata on the container.
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Automatically remove the container and its resources when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Security options (no-new-privileges).
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    #[command(flatten)]
    pub net: super::netflags::NetFlags,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set platform (only linux/amd64).
    #[arg(long)]
    pub platform: Option<String>,
    /// Restart policy: no, always, unless-stopped, on-failure[:max-retries].
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    #[command(flatten)]
    pub resources: super::hostflags::ResourceFlags,
    #[command(flatten)]
    pub health: super::hostflags::HealthFlags,
    /// Bind mount a volume or host path (name|/host:/path[:ro]) or create an
    /// anonymous volume (/path).
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=volume|bind|tmpfs,source=,target=,...).
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s) (name[:ro|rw]).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Logging driver for the container (json-file).
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3).
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Size of /dev/shm (64m when not given).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Mount a tmpfs directory (/path[:options]).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Add a host device to the container.
    #[arg(long)]
    pub device: Vec<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Sysctl options (namespaced ones only).
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// PID namespace to use (host, container:<name|id>).
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use (private, shareable, host, container:<name|id>).
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use (host).
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace to use (not supported yet).
    #[arg(long)]
    pub userns: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
}

/// `--mount type=...,source=...,target=...` as the API's Mount.
pub fn parse_mount_flag(spec: &str) -> Result<berth_api::container::Mount, String> {
    let mut m = berth_api::container::Mount {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut bind = serde_json::Map::new();
    let mut volume = serde_json::Map::new();
    let mut tmpfs = serde_json::Map::new();
    let mut driver_opts = serde_json::Map::new();
    let mut labels = serde_json::Map::new();
    for field in csv_fields(spec)? {
        let field = field.as_str();
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (field.trim(), ""),
        };
        let truthy = matches!(v, "" | "1" | "true");
        match k {
            "type" => m.kind = v.to_string(),
            "source" | "src" => m.source = v.to_string(),
            "target" | "destination" | "dst" => m.target = v.to_string(),
            "readonly" | "ro" => m.read_only = truthy,
            "bind-propagation" => {
                bind.insert("Propagation".into(), v.into());
            }
            "bind-recursive" => {
                let key = match v {
                    "" | "enabled" => None,
                    "disabled" => Some("NonRecursive"),
                    "writable" => Some("ReadOnlyNonRecursive"),
                    "readonly" => Some("ReadOnlyForceRecursive"),
                    other => {
                        return Err(format!(
                            "invalid mount {spec}: bind-recursive={other}: expected enabled, disabled, writable or readonly"
                        ))
                    }
                };
                if let Some(key) = key {
                    bind.insert(key.into(), true.into());
                }
            }
            "volume-nocopy" => {
                volume.insert("NoCopy".into(), truthy.into());
            }
            "volume-subpath" => {
                volume.insert("Subpath".into(), v.into());
            }
            "volume-opt" | "volume-label" => {
                let (name, value) = v
                    .split_once('=')
                    .ok_or_else(|| format!("invalid mount {spec}: {k} wants key=value, got {v}"))?;
                let map = if k == "volume-opt" {
                    &mut driver_opts
                } else {
                    &mut labels
                };
                map.insert(name.to_string(), value.into());
            }
            "volume-driver" if v != "local" => {
                return Err(format!(
                    "invalid mount {spec}: only the local volume driver is supported"
                ))
            }
            "volume-driver" => {}
            "tmpfs-size" => {
                let bytes = super::hostflags::ram_in_bytes(v)?;
                tmpfs.insert("SizeBytes".into(), bytes.into());
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(v, 8)
                    .map_err(|_| format!("invalid mount {spec}: bad tmpfs-mode {v}"))?;
                tmpfs.insert("Mode".into(), mode.into());
            }
            other => {
                return Err(format!(
                    "invalid field '{other}' must be a key=value pair in --mount {spec}"
                ))
            }
        }
    }
    if m.target.is_empty() {
        return Err(format!("invalid mount {spec}: target is required"));
    }
    if !bind.is_empty() {
        m.bind_options = Some(bind.into());
    }
    if !driver_opts.is_empty() {
        volume.insert(
            "DriverConfig".into(),
            serde_json::json!({"Name": "local", "Options": driver_opts}),
        );
    }
    if !labels.is_empty() {
        volume.insert("Labels".into(), labels.into());
    }
    if !volume.is_empty() {
        m.volume_options = Some(volume.into());
    }
    if !tmpfs.is_empty() {
        m.tmpfs_options = Some(tmpfs.into());
    }
    Ok(m)
}

/// Splits a `--mount` value as CSV, as Docker does: fields are separated by
/// commas, and a field in double quotes may hold commas (`"o=size=1m,uid=1"`).
fn csv_fields(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("invalid mount {spec}: unterminated quote"));
    }
    out.push(field);
    Ok(out)
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// The image to create the container from.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Docker's env-file rules: `KEY=VALUE` lines taken verbatim, `KEY` alone
/// taken from this environment, `#` comments and blank lines skipped.
pub fn parse_env_file(text: &str, path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (key, value) = match trimmed.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (trimmed.trim_end(), None),
        };
        if key.is_empty() {
            return Err(format!(
                "{path}:{}: no variable name on line {line:?}",
                n + 1
            ));
        }
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        match value {
            Some(v) => out.push(format!("{key}={v}")),
            None => {
                if let Ok(v) = std::env::var(key) {
                    out.push(format!("{key}={v}"));
                }
            }
        }
    }
    Ok(out)
}

fn env_flag(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

/// The API body for these flags.
pub fn build_request(
    flags: &ContainerFlags,
    image: &str,
    command: &[String],
) -> Result<CreateRequest, String> {
    let mut env = Vec::new();
    for path in &flags.env_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("open {path}: {e}"))?;
        env.extend(parse_env_file(&text, path)?);
    }
    env.extend(flags.env.iter().filter_map(|e| env_flag(e)));
    let mut labels = BTreeMap::new();
    for l in &flags.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let entrypoint = match flags.entrypoint.as_deref() {
        None => None,
        Some("") => Some(vec![String::new()]),
        Some(e) => Some(vec![e.to_string()]),
    };
    let net = flags.net.request()?;
    let config = ContainerConfig {
        hostname: flags.hostname.clone().unwrap_or_default(),
        user: flags.user.clone().unwrap_or_default(),
        attach_stdin: flags.interactive,
        attach_stdout: true,
        attach_stderr: true,
        open_stdin: flags.interactive,
        stdin_once: flags.interactive,
        tty: flags.tty,
        env,
        cmd: (!command.is_empty()).then(|| command.to_vec()),
        image: image.to_string(),
        working_dir: flags.workdir.clone().unwrap_or_default(),
        entrypoint,
        labels,
        healthcheck: flags.health.to_healthcheck()?,
        stop_signal: flags.stop_signal.clone(),
        stop_timeout: flags.stop_timeout,
        exposed_ports: (!net.exposed.is_empty()).then_some(net.exposed),
        ..Default::default()
    };
    let ulimits = flags
        .ulimit
        .iter()
        .map(|u| super::hostflags::ulimit(u))
        .collect::<Result<Vec<_>, _>>()?;
    let devices = flags
        .device
        .iter()
        .map(|d| super::hostflags::device(d))
        .collect::<Result<Vec<_>, _>>()?;
    let host_config = HostConfig {
        resources: flags.resources.to_resources()?,
        cap_add: flags.cap_add.clone(),
        cap_drop: flags.cap_drop.clone(),
        privileged: flags.privileged,
        readonly_rootfs: flags.read_only,
        shm_size: flags
            .shm_size
            .as_deref()
            .map(super::hostflags::ram_in_bytes)
            .transpose()?
            .unwrap_or(0),
        tmpfs: super::hostflags::tmpfs(&flags.tmpfs)?,
        devices,
        group_add: flags.group_add.clone(),
        sysctls: super::hostflags::sysctls(&flags.sysctl)?,
        ulimits,
        pid_mode: flags.pid.clone().unwrap_or_default(),
        ipc_mode: flags.ipc.clone().unwrap_or_default(),
        uts_mode: flags.uts.clone().unwrap_or_default(),
        userns_mode: flags.userns.clone().unwrap_or_default(),
        init: flags.init.then_some(true),
        binds: flags.volume.clone(),
        volumes_from: flags.volumes_from.clone(),
        mounts: flags
            .mount
            .iter()
            .map(|m| parse_mount_flag(m))
            .collect::<Result<Vec<_>, _>>()?,
        restart_policy: berth_api::container::RestartPolicy::parse(&flags.restart)?,
        log_config: berth_api::container::LogConfig {
            kind: flags.log_driver.clone().unwrap_or_default(),
            config: flags
                .log_opt
                .iter()
                .map(|o| {
                    o.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| format!("invalid log opt: {o}: expected key=value"))
                })
                .collect::<Result<_, _>>()?,
        },
        auto_remove: flags.rm,
        network_mode: net.network_mode,
        port_bindings: net.bindings,
        publish_all_ports: flags.net.publish_all,
        dns: flags.net.dns.clone(),
        dns_search: flags.net.dns_search.clone(),
        dns_options: flags.net.dns_option.clone(),
        extra_hosts: flags.net.add_host.clone(),
        links: flags.net.link.clone(),
        security_opt: flags.security_opt.clone(),
        ..Default::default()
    };
    Ok(CreateRequest {
        config,
        host_config,
        networking_config: net.networking_config,
        unknown: Default::default(),
    })
}

/// Creates the container, telling the user when the image is missing locally
/// and trying to pull it as docker does.
pub async fn create_container(
    client: &Client,
    flags: &ContainerFlags,
    image: &str,
    command: &[String],
) -> Result<String, String> {
    if let Some(p) = flags.platform.as_deref() {
        if !matches!(p, "linux" | "linux/amd64") {
            return Err(format!("platform {p} is not supported"));
        }
    }
    let req = build_request(flags, image, command)?;
    match client.container_create(&req, flags.name.as_deref()).await {
        Ok(r) => {
            for w in r.warnings {
                eprintln!("WARNING: {w}");
            }
            Ok(r.id)
        }
        Err(e) if e.is_not_found() && e.to_string().contains("No such image") => {
            let (repo, tag) = split_tag(image);
            eprintln!("Unable to find image '{repo}:{tag}' locally");
            let stream = client
                .clone()
                .with_registry_auth(crate::dockercfg::auth_for(image))
                .image_pull(&repo, &tag)
                .await
                .map_err(|e| e.to_string())?;
            super::print_messages(stream).await?;
            let r = client
                .container_create(&req, flags.name.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            Ok(r.id)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `name[:tag]` -> (name, tag or "latest"); a digest keeps its name.
pub fn split_tag(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

pub async fn run(args: CreateArgs, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth: {e}");
            return EXIT_BERTH;
        }
    };
    match create_container(&client, &args.flags, &args.image, &args.command).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => {
            eprintln!("berth: {e}");
            EXIT_BERTH
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        std::env::set_var("BERTH_TEST_FROM_ENV", "x");
        let got = parse_env_file(
            "# c\nA=1\n\nB= 2\nBERTH_TEST_FROM_ENV\nNOT_SET_ANYWHERE_42\nC=\"q\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(got, vec!["A=1", "B= 2", "BERTH_TEST_FROM_ENV=x", "C=\"q\""]);
        assert!(parse_env_file("A B=1\n", "f").is_err());
    }

    #[test]
    fn mount_flags() {
        let m = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        assert_eq!(m.kind, "tmpfs");
        assert_eq!(m.tmpfs_options.unwrap()["SizeBytes"], 1 << 20);
        let b =
            parse_mount_flag("type=bind,src=/h,dst=/x,readonly,bind-propagation=rslave").unwrap();
        assert!(b.read_only);
        assert_eq!(b.bind_options.unwrap()["Propagation"], "rslave");
        assert!(parse_mount_flag("type=volume,source=v").is_err());
        assert!(parse_mount_flag("type=volume,target=/x,bogus=1").is_err());
        let v = parse_mount_flag(
            r#"type=volume,src=t,target=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,uid=5",volume-label=a=b"#,
        )
        .unwrap();
        let vo = v.volume_options.unwrap();
        assert_eq!(vo["DriverConfig"]["Options"]["o"], "size=1m,uid=5");
        assert_eq!(vo["DriverConfig"]["Options"]["type"], "tmpfs");
        assert_eq!(vo["Labels"]["a"], "b");
        assert!(parse_mount_flag("type=volume,target=/x,volume-opt=novalue").is_err());
        assert!(parse_mount_flag(r#"type=volume,target=/x,"volume-opt=a=b"#).is_err());
        let r =
            parse_mount_flag("type=bind,src=/h,dst=/x,readonly,bind-recursive=readonly").unwrap();
        assert_eq!(r.bind_options.unwrap()["ReadOnlyForceRecursive"], true);
        assert!(parse_mount_flag("type=bind,src=/h,dst=/x,bind-recursive=maybe").is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(split_tag("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            split_tag("localhost:5000/a:1"),
            ("localhost:5000/a".into(), "1".into())
        );
        assert_eq!(
            split_tag("localhost:5000/a"),
            ("localhost:5000/a".into(), "latest".into())
        );
    }
}
