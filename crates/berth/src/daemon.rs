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
    /// Root of persistent state.
    #[arg(long, env = "BERTH_ROOT", default_value = "/var/lib/berth")]
    root: PathBuf,
    /// Root of runtime state (socket, pid file).
    #[arg(
        long = "exec-root",
        env = "BERTH_EXEC_ROOT",
        default_value = "/run/berth"
    )]
    exec_root: PathBuf,
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
    match runtime.block_on(serve(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth daemon: {e:#}");
            1
        }
    }
}

fn socket_path(args: &Args) -> anyhow::Result<PathBuf> {
    match args.host.as_deref().filter(|h| !h.is_empty()) {
        None => Ok(args.exec_root.join("berth.sock")),
        Some(h) => h
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .with_context(|| format!("unsupported host {h}: only unix://PATH is supported")),
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let socket = socket_path(&args)?;
    let config = berth_engine::EngineConfig {
        storage: berth_engine::StoreOptions::default(),
        paths: berth_engine::Paths::new(&args.root, &args.exec_root),
        monitor_exe: std::env::current_exe().context("finding the berth binary")?,
        cgroup_parent: args.cgroup_parent.clone(),
        network: berth_engine::networks::NetSettings {
            bridge: args.bridge.clone(),
            bip: args.bip,
            nft_table: args.nft_table.clone(),
        },
        insecure_registries: args.insecure_registry.clone(),
    };
    let engine = berth_engine::Engine::open(config)
        .await
        .context("opening the engine")?;
    let pid_file = args.exec_root.join("berth.pid");
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
    tracing::info!(socket = %socket.display(), root = %args.root.display(), "berth daemon listening");
    let served = berth_server::serve_unix(engine, &socket, shutdown)
        .await
        .with_context(|| format!("serving on {}", socket.display()));
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    // The parent cgroup goes when no container is left in it.
    let roots = berth_runtime::cgroups::Roots::default();
    if let Err(e) = berth_runtime::cgroups::remove_parent(&roots, &args.cgroup_parent) {
        tracing::debug!(error = %e, "parent cgroup kept");
    }
    tracing::info!("berth daemon stopped");
    served
}
