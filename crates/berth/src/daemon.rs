//! `berth daemon`: opens the engine and serves the Engine API on a unix socket.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "berth daemon", about = "Run the Berth daemon")]
struct Args {
    /// Socket to listen on (unix://PATH).
    #[arg(short = 'H', long = "host", env = "BERTH_HOST")]
    host: Option<String>,
    /// Root of persistent state [default: /var/lib/berth; an ordinary
    /// user's: $XDG_DATA_HOME/berth or ~/.local/share/berth].
    #[arg(long, env = "BERTH_ROOT")]
    root: Option<PathBuf>,
    /// Root of runtime state (socket, pid file) [default: /run/berth; an
    /// ordinary user's: $XDG_RUNTIME_DIR/berth].
    #[arg(long = "exec-root", env = "BERTH_EXEC_ROOT")]
    exec_root: Option<PathBuf>,
    /// Parent cgroup (under each hierarchy's root) of every container.
    #[arg(long = "cgroup-parent", default_value = "berth")]
    cgroup_parent: String,
    /// The default bridge network's interface, created if missing.
    #[arg(long = "bridge", env = "BERTH_BRIDGE", default_value = "berth0")]
    bridge: String,
    /// The default bridge's address and subnet (CIDR, e.g. 10.66.0.1/24);
    /// chosen at first start to collide with no host route when unset.
    #[arg(long = "bip")]
    bip: Option<ipnet::Ipv4Net>,
    /// The nftables table (family ip) berth owns for NAT and isolation.
    #[arg(long = "nft-table", env = "BERTH_NFT_TABLE", default_value = "berth")]
    nft_table: String,
    /// A registry (host[:port]) to reach over plain HTTP; repeatable.
    /// Loopback registries always are.
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// How container filesystems are mounted: overlay2 (the kernel's
    /// overlayfs) or fuse-overlayfs [default: overlay2; a rootless
    /// daemon whose kernel refuses overlayfs in a user namespace:
    /// fuse-overlayfs].
    #[arg(short = 's', long = "storage-driver")]
    storage_driver: Option<String>,
    /// Docker's user-namespace remapping of a root daemon's containers:
    /// each gets a user namespace of its own mapped onto the subordinate
    /// ranges of USER (and GROUP, else the group named as USER);
    /// `default` is Docker's `dockremap`, made when missing. A rootless
    /// daemon's containers are always in the user's namespace.
    #[arg(long = "userns-remap", value_name = "USER[:GROUP]")]
    userns_remap: Option<String>,
    /// Log level filter (error, warn, info, debug, trace).
    #[arg(long = "log-level", default_value = "info")]
    log_level: String,
}

pub fn main(args: &[String]) -> i32 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let locations = berth_client::locations::Locations::current();
    let roots = Roots {
        root: args.root.clone().unwrap_or(locations.root),
        exec_root: args.exec_root.clone().unwrap_or(locations.exec_root),
    };
    // An ordinary user's daemon moves into its namespaces now, while it is
    // the only thread: `setns` of a user namespace needs that.
    let rootless = if locations.rootless {
        match rootless_setup(&roots) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("berth daemon: running as an ordinary user (rootless): {e:#}");
                return 1;
            }
        }
    } else {
        None
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth daemon: starting the async runtime: {e}");
            return 1;
        }
    };
    let served = runtime.block_on(serve(args, roots, rootless.as_ref()));
    // A rootless daemon's namespaces and helpers go with it, also after a
    // failed start, unless containers still run in them.
    if let Some(r) = &rootless {
        let kept = crate::rootless::leave(r, served.is_ok());
        if kept > 0 {
            tracing::info!(
                processes = kept,
                "rootless namespaces kept for the containers still running"
            );
        }
    }
    match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth daemon: {e:#}");
            1
        }
    }
}

/// Where state lives: the flags, else the user's defaults
/// (`berth_client::locations`).
struct Roots {
    root: PathBuf,
    exec_root: PathBuf,
}

fn socket_path(args: &Args, roots: &Roots) -> anyhow::Result<PathBuf> {
    match args.host.as_deref().filter(|h| !h.is_empty()) {
        None => Ok(roots.exec_root.join("berth.sock")),
        Some(h) => h
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .with_context(|| format!("unsupported host {h}: only unix://PATH is supported")),
    }
}

/// Creates the exec root (private to the user) and enters the rootless
/// namespaces.
fn rootless_setup(roots: &Roots) -> anyhow::Result<crate::rootless::Rootless> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&roots.exec_root)
        .with_context(|| format!("creating {}", roots.exec_root.display()))?;
    crate::rootless::enter(&roots.exec_root)
}

/// `--storage-driver`: whether overlays go through fuse-overlayfs;
/// `None` when no driver is named.
fn chosen_driver(name: Option<&str>) -> anyhow::Result<Option<bool>> {
    match name {
        None => Ok(None),
        Some("overlay2" | "overlay") => Ok(Some(false)),
        Some("fuse-overlayfs") => {
            berth_runtime::mounts::fuse::usable()
                .map_err(|why| anyhow::anyhow!("storage driver fuse-overlayfs: {why}"))?;
            Ok(Some(true))
        }
        Some(other) => anyhow::bail!(
            "storage driver {other:?} is not supported: berth has overlay2 and fuse-overlayfs"
        ),
    }
}

/// A rootless daemon's overlays: the kernel's where it mounts overlayfs in
/// a user namespace (Linux 5.11 and later), else fuse-overlayfs.
fn rootless_storage(name: Option<&str>, root: &std::path::Path) -> anyhow::Result<bool> {
    if let Some(fuse) = chosen_driver(name)? {
        return Ok(fuse);
    }
    let kernel = match berth_runtime::mounts::probe_overlay(root, true) {
        Ok(()) => return Ok(false),
        Err(e) => e,
    };
    match berth_runtime::mounts::fuse::usable() {
        Ok(()) => {
            tracing::warn!("the kernel refuses overlayfs in this user namespace ({kernel}): using fuse-overlayfs");
            Ok(true)
        }
        Err(fuse) => anyhow::bail!(
            "no way to mount container filesystems: the kernel refuses overlayfs in a user namespace ({kernel}; Linux 5.11 and later allow it), and fuse-overlayfs cannot be used ({fuse}); a copying snapshotter is not supported yet"
        ),
    }
}

/// Where a rootless daemon's containers' cgroups go: under the cgroup v2
/// subtree delegated to the user, or nowhere (the reason why).
fn rootless_cgroups(cgroup_parent: &str) -> Result<String, String> {
    let roots = berth_runtime::cgroups::Roots::default();
    // In the user namespace the user's own directories belong to 0.
    let uid = nix::unistd::geteuid().as_raw();
    berth_runtime::cgroups::delegated(&roots, uid, cgroup_parent)
        .map(|d| {
            tracing::info!(parent = %d.parent, controllers = %d.controllers.join(" "), "containers' cgroups go in the delegated subtree");
            d.parent
        })
        .map_err(|why| format!("a rootless daemon runs containers without cgroups: {why}"))
}

async fn serve(
    args: Args,
    roots: Roots,
    rootless: Option<&crate::rootless::Rootless>,
) -> anyhow::Result<()> {
    let socket = socket_path(&args, &roots)?;
    for w in rootless.iter().flat_map(|r| &r.warnings) {
        tracing::warn!("{w}");
    }
    let fuse_overlay = match rootless {
        None => chosen_driver(args.storage_driver.as_deref())?.unwrap_or(false),
        Some(_) => rootless_storage(args.storage_driver.as_deref(), &roots.root)?,
    };
    let userns_remap = match (&args.userns_remap, rootless) {
        (None, _) => None,
        (Some(_), Some(_)) => anyhow::bail!(
            "--userns-remap is for a root daemon: a rootless daemon's containers are always in the user's namespace"
        ),
        (Some(_), None) if fuse_overlay => anyhow::bail!(
            "--userns-remap needs the kernel's overlayfs: fuse-overlayfs cannot serve remapped containers"
        ),
        (Some(value), None) => Some(crate::remap::resolve(value)?),
    };
    let delegation = rootless.map(|_| rootless_cgroups(&args.cgroup_parent));
    let cgroup_parent = match &delegation {
        Some(Ok(parent)) => parent.clone(),
        _ => args.cgroup_parent.clone(),
    };
    let config = berth_engine::EngineConfig {
        storage: berth_engine::StoreOptions {
            ignore_chown_errors: rootless.is_some_and(|r| r.single_id),
            user_xattrs: rootless.is_some(),
        },
        rootless: rootless.map(|r| berth_engine::RootlessConfig {
            ports_socket: r.ports_socket.clone(),
            no_cgroups: delegation.clone().and_then(Result::err),
            warnings: r.warnings.clone(),
        }),
        paths: berth_engine::Paths::new(&roots.root, &roots.exec_root),
        monitor_exe: std::env::current_exe().context("finding the berth binary")?,
        cgroup_parent,
        network: berth_engine::networks::NetSettings {
            bridge: args.bridge.clone(),
            bip: args.bip,
            nft_table: args.nft_table.clone(),
        },
        insecure_registries: args.insecure_registry.clone(),
        fuse_overlay,
        userns_remap,
    };
    // The parent cgroup this daemon made, removed when it stops.
    let own_parent = config.cgroups().map(str::to_string);
    let engine = berth_engine::Engine::open(config)
        .await
        .context("opening the engine")?;
    let pid_file = roots.exec_root.join("berth.pid");
    std::fs::write(&pid_file, std::process::id().to_string())
        .with_context(|| format!("writing {}", pid_file.display()))?;
    let shutdown = async {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    tracing::info!(socket = %socket.display(), root = %roots.root.display(), "berth daemon listening");
    let served = berth_server::serve_unix(engine, &socket, shutdown)
        .await
        .with_context(|| format!("serving on {}", socket.display()));
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    if let Some(parent) = own_parent {
        // The parent cgroup goes when no container is left in it.
        let roots = berth_runtime::cgroups::Roots::default();
        if let Err(e) = berth_runtime::cgroups::remove_parent(&roots, &parent) {
            tracing::debug!(error = %e, "parent cgroup kept");
        }
    }
    tracing::info!("berth daemon stopped");
    served
}
