//! Finding the daemon: `-H`/`BERTH_HOST` or the default socket, and starting
//! `berth daemon` in the background when nothing answers on the default one.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_client::Client;

pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";

/// The exec root the CLI looks in (and starts a daemon with):
/// `BERTH_EXEC_ROOT`, else `/run/berth`. `berth daemon` reads the same variable.
pub fn exec_root() -> PathBuf {
    std::env::var_os("BERTH_EXEC_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_EXEC_ROOT), PathBuf::from)
}

/// Where the CLI sends requests.
#[derive(Debug, Clone)]
pub struct Target {
    pub socket: PathBuf,
    /// Whether the socket is the default one (then the CLI may start a daemon).
    pub is_default: bool,
}

impl Target {
    pub fn from_host(host: Option<&str>) -> Result<Target, String> {
        match host.filter(|h| !h.is_empty()) {
            None => Ok(Target {
                socket: exec_root().join("berth.sock"),
                is_default: true,
            }),
            Some(h) => {
                let path = h.strip_prefix("unix://").ok_or_else(|| {
                    format!("unsupported host {h}: only unix://PATH is supported")
                })?;
                Ok(Target {
                    socket: PathBuf::from(path),
                    is_default: false,
                })
            }
        }
    }

    /// A client for a daemon that answers, starting one if this is the
    /// default socket and nothing is listening.
    pub async fn client(&self) -> Result<Client, berth_client::Error> {
        let client = Client::new(&self.socket);
        match client.ping().await {
            Ok(()) => Ok(client),
            Err(berth_client::Error::Connect { .. }) if self.is_default => {
                start_daemon().map_err(berth_client::Error::io("starting berth daemon"))?;
                wait_for(&client).await?;
                Ok(client)
            }
            Err(e) => Err(e),
        }
    }
}

/// Starts `berth daemon` detached, its output in `<exec-root>/daemon.log`.
/// The daemon takes its roots from `BERTH_EXEC_ROOT` and `BERTH_ROOT`, which
/// it inherits.
fn start_daemon() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let exec_root = exec_root();
    std::fs::create_dir_all(&exec_root)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(exec_root.join("daemon.log"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon")
        .arg("--exec-root")
        .arg(&exec_root)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    cmd.spawn()?;
    Ok(())
}

async fn wait_for(client: &Client) -> Result<(), berth_client::Error> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.ping().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
