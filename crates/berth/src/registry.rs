//! `berth registry serve|gc`: the OCI distribution registry that ships in
//! the same binary, over its own storage directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "berth registry",
    about = "Run or maintain a container registry"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the OCI distribution API (v2) over HTTP.
    Serve(ServeArgs),
    /// Remove blobs no manifest refers to, and abandoned uploads.
    Gc(GcArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long = "addr", default_value = "127.0.0.1:5000")]
    addr: std::net::SocketAddr,
    /// Storage directory.
    #[arg(long = "root", default_value = "/var/lib/berth-registry")]
    root: PathBuf,
    /// Refuse pushes and deletes.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Require basic authentication against this htpasswd file (bcrypt).
    #[arg(long = "htpasswd")]
    htpasswd: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long = "tls-cert", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long = "tls-key", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct GcArgs {
    /// Storage directory.
    #[arg(long = "root", default_value = "/var/lib/berth-registry")]
    root: PathBuf,
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
    let result = match args.command {
        Command::Serve(a) => serve(a),
        Command::Gc(a) => gc(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth registry: {e:#}");
            1
        }
    }
}

fn gc(a: GcArgs) -> anyhow::Result<()> {
    let storage = berth_registry::storage::Storage::open(&a.root)
        .with_context(|| format!("opening {}", a.root.display()))?;
    let removed = storage.gc().context("collecting garbage")?;
    println!("{removed} blobs removed");
    Ok(())
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let storage = berth_registry::storage::Storage::open(&a.root)
        .with_context(|| format!("opening {}", a.root.display()))?;
    let htpasswd = match &a.htpasswd {
        Some(p) => Some(berth_registry::auth::Htpasswd::load(p).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => {
            Some(berth_registry::tls::server_config(c, k).map_err(anyhow::Error::msg)?)
        }
        _ => None,
    };
    let app = berth_registry::server::router(
        storage,
        berth_registry::server::Options {
            read_only: a.read_only,
            htpasswd,
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("listening on {}", a.addr))?;
        tracing::info!(addr = %a.addr, root = %a.root.display(), tls = tls.is_some(), "berth registry listening");
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            if let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
        };
        match tls {
            Some(config) => {
                berth_registry::tls::serve(listener, app, config, shutdown).await;
                Ok(())
            }
            None => axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .context("serving"),
        }
    })
}
