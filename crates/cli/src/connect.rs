//! Finding the daemon: `-H`/`BERTH_HOST`, else `DOCKER_HOST`, else the
//! user's default socket (see [`berth_client::locations`]); and starting
//! `berth daemon` in the background when nothing answers on the default one.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_client::locations::{default_host, Locations};
use berth_client::Client;

/// Where the CLI sends requests.
#[derive(Debug, Clone)]
pub struct Target {
    pub socket: PathBuf,
    /// Whether the socket is the default one (then the CLI may start a daemon).
    pub is_default: bool,
}

impl Target {
    /// `host` is `-H` or `BERTH_HOST`; without it, `DOCKER_HOST`, then the
    /// default socket.
    pub fn from_host(host: Option<&str>) -> Result<Target, String> {
        let (host, is_default) = match host.filter(|h| !h.is_empty()) {
            Some(h) => (h.to_string(), false),
            None => default_host(&|k| std::env::var(k).ok(), &Locations::current()),
        };
        let path = host
            .strip_prefix("unix://")
            .ok_or_else(|| format!("unsupported host {host}: only unix://PATH is supported"))?;
        Ok(Target {
            socket: PathBuf::from(path),
            is_default,
        })
    }

    /// A client for a daemon that answers, starting one if this is the
    /// default socket and nothing is listening.
    pub async fn client(&self) -> Result<Client, berth_client::Error> {
        let client = Client::new(&self.socket);
        match client.ping().await {
            Ok(()) => Ok(client),
            Err(berth_client::Error::Connect { .. }) if self.is_default => {
                let (daemon, log) =
                    start_daemon().map_err(berth_client::Error::io("starting berth daemon"))?;
                wait_for(&client, daemon, &log).await?;
                Ok(client)
            }
            Err(e) => Err(e),
        }
    }
}

/// Starts `berth daemon` detached, its output in `<exec-root>/daemon.log`;
/// the daemon and its log. The daemon takes its roots from the same
/// environment (`BERTH_EXEC_ROOT`, `BERTH_ROOT`, the XDG variables).
fn start_daemon() -> std::io::Result<(std::process::Child, PathBuf)> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let locations = Locations::current();
    let exec_root = locations.exec_root;
    // A user's runtime directory is private; one someone else made (a
    // planted `/tmp/berth-run-<uid>`) is refused.
    let mode = if locations.rootless { 0o700 } else { 0o755 };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(&exec_root)?;
    let meta = std::fs::symlink_metadata(&exec_root)?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(std::io::Error::other(format!(
            "{} is not a directory of this user's",
            exec_root.display()
        )));
    }
    let log_path = exec_root.join("daemon.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon")
        .arg("--exec-root")
        .arg(&exec_root)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    Ok((cmd.spawn()?, log_path))
}

/// Waits for the daemon to answer; a daemon that exits first is an error
/// with the end of its log.
async fn wait_for(
    client: &Client,
    mut daemon: std::process::Child,
    log: &std::path::Path,
) -> Result<(), berth_client::Error> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match client.ping().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {
                if let Ok(Some(status)) = daemon.try_wait() {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(3).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(berth_client::Error::Io {
                        context: "starting berth daemon".into(),
                        source: std::io::Error::other(format!(
                            "the daemon exited ({status}): {} (log: {})",
                            tail.join(" / "),
                            log.display()
                        )),
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
