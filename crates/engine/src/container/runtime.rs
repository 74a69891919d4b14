//! The seam between the container service and the processes that run
//! containers: starting a monitor (`berth __monitor <bundle>`, `berth
//! __exec <dir>`) and following its events, signalling a container's
//! process, and asking whether it still exists. [`LinuxRuntime`] runs the
//! real monitor; [`FakeRuntime`] plays containers in memory for tests,
//! writing the same log and exit file the monitor writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use berth_runtime::exec_monitor::ExecConfig;
use berth_runtime::log::{LogWriter, Stream};
use berth_runtime::monitor::{MonitorConfig, MonitorEvent};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::resources::{parse_net_dev, Sample};
use crate::Error;
use berth_runtime::cgroups::{Cgroup, Resources};

/// Which monitor to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorKind {
    /// A container's first process, from its bundle.
    Container,
    /// One more process in a running container, from its exec directory.
    Exec,
}

/// A started monitor: its events in order (an unreadable line as `Err`),
/// ending when the monitor has exited.
pub struct Monitor {
    pub events: mpsc::Receiver<Result<MonitorEvent, String>>,
    /// Ends the monitor (when its answer made no sense).
    pub kill: oneshot::Sender<()>,
}

/// Starting, signalling and watching the processes of containers.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Starts the monitor of `dir` (a bundle or an exec directory).
    fn spawn(&self, kind: MonitorKind, dir: &Path) -> Result<Monitor, Error>;
    /// Sends `signal` to process `pid`; one that is gone is no error.
    fn signal(&self, pid: i64, signal: nix::sys::signal::Signal) -> Result<(), Error>;
    /// Whether process `pid` still exists.
    fn alive(&self, pid: i64) -> bool;
    /// Freezes every process of container `id` (`pause`).
    fn freeze(&self, id: &str) -> Result<(), String>;
    /// Thaws them again.
    fn thaw(&self, id: &str) -> Result<(), String>;
    /// The container's resource counters, and its interfaces' when it has
    /// a network namespace of its own.
    fn sample(&self, id: &str, pid: i64, own_netns: bool) -> Result<Sample, String>;
    /// Applies new limits to the running container; warnings.
    fn update(&self, id: &str, resources: &Resources) -> Result<Vec<String>, String>;
    /// `ps ARGS` as the host prints it, and the pids in the pid namespace
    /// of the container whose first process is `pid` (`top` keeps those
    /// rows).
    fn ps(&self, pid: i64, args: &[String]) -> Result<(String, Vec<i64>), String>;
    /// The processes still in container `id`'s cgroup (none when it has no
    /// cgroup).
    fn leftover_pids(&self, id: &str) -> Vec<i64>;
    /// Kills whatever still runs in container `id`'s cgroup and removes the
    /// cgroup (what a monitor that dies unannounced leaves, or a daemon
    /// killed between starting a container and recording it); how many
    /// processes were killed. No cgroup is no error.
    fn remove_leftovers(&self, id: &str) -> Result<usize, String>;
    /// The containers (by id) that have a cgroup under the engine's parent.
    fn cgroups(&self) -> Vec<String>;
    /// The mount points at or below `dir`.
    fn mounts_below(&self, dir: &Path) -> Vec<PathBuf>;
    /// Detaches the mount at `path`.
    fn unmount(&self, path: &Path) -> Result<(), String>;
}

/// The real monitor: the daemon's own binary re-executed; containers'
/// cgroups under the engine's parent.
pub struct LinuxRuntime {
    pub monitor_exe: PathBuf,
    pub cgroup_parent: String,
    /// Containers have cgroups (not so for a rootless daemon without a
    /// delegated cgroup v2 subtree).
    pub cgroups: bool,
}

impl LinuxRuntime {
    fn cgroup(&self, id: &str) -> Result<Cgroup, String> {
        if !self.cgroups {
            return Err(format!(
                "container {id} has no cgroup: this rootless daemon runs containers without cgroups"
            ));
        }
        Cgroup::open(&self.cgroup_parent, id)
            .map_err(|e| format!("opening the cgroup of {id}: {e}"))
    }
}

impl ContainerRuntime for LinuxRuntime {
    fn spawn(&self, kind: MonitorKind, dir: &Path) -> Result<Monitor, Error> {
        let verb = match kind {
            MonitorKind::Container => "__monitor",
            MonitorKind::Exec => "__exec",
        };
        let mut child = tokio::process::Command::new(&self.monitor_exe)
            .arg(verb)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(Error::io("starting monitor", &self.monitor_exe))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Internal("monitor stdout was not captured".into()))?;
        let (tx, events) = mpsc::channel(4);
        let (kill, mut killed) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            // The kill handle is asked once: dropped unused (the usual
            // case), it never completes again.
            let mut may_kill = true;
            loop {
                tokio::select! {
                    line = lines.next_line() => match line {
                        Ok(Some(line)) => {
                            let ev = serde_json::from_str::<MonitorEvent>(&line)
                                .map_err(|e| format!("unreadable event: {e}"));
                            if tx.send(ev).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    },
                    asked = &mut killed, if may_kill => {
                        may_kill = false;
                        if asked.is_ok() {
                            let _ = child.kill().await;
                            break;
                        }
                    }
                }
            }
            // The channel closes once the monitor is reaped.
            let _ = child.wait().await;
            drop(tx);
        });
        Ok(Monitor { events, kill })
    }

    fn signal(&self, pid: i64, signal: nix::sys::signal::Signal) -> Result<(), Error> {
        if pid <= 0 {
            return Ok(());
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(Error::Internal(format!(
                "signalling container process {pid}: {e}"
            ))),
        }
    }

    fn alive(&self, pid: i64) -> bool {
        pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
    }

    fn freeze(&self, id: &str) -> Result<(), String> {
        self.cgroup(id)?.freeze().map_err(|e| e.to_string())
    }

    fn thaw(&self, id: &str) -> Result<(), String> {
        self.cgroup(id)?.thaw().map_err(|e| e.to_string())
    }

    fn sample(&self, id: &str, pid: i64, own_netns: bool) -> Result<Sample, String> {
        let networks = match own_netns {
            true => std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
                .map(|t| parse_net_dev(&t))
                .unwrap_or_default(),
            false => Default::default(),
        };
        // Without a cgroup (rootless) the figures it would give are zero,
        // as Docker shows them where a controller is missing; the network
        // counters still count.
        let cgroup = match self.cgroups {
            true => self.cgroup(id)?.stats().map_err(|e| e.to_string())?,
            false => Default::default(),
        };
        Ok(Sample { cgroup, networks })
    }

    fn update(&self, id: &str, resources: &Resources) -> Result<Vec<String>, String> {
        self.cgroup(id)?
            .update(resources)
            .map_err(|e| e.to_string())
    }

    fn ps(&self, pid: i64, args: &[String]) -> Result<(String, Vec<i64>), String> {
        let pids = super::top::container_pids(pid);
        let out = std::process::Command::new("ps")
            .args(args)
            .output()
            .map_err(|e| format!("running ps: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok((String::from_utf8_lossy(&out.stdout).into_owned(), pids))
    }

    fn leftover_pids(&self, id: &str) -> Vec<i64> {
        self.cgroup(id)
            .ok()
            .and_then(|cg| cg.pids().ok())
            .map(|p| p.into_iter().map(i64::from).collect())
            .unwrap_or_default()
    }

    fn remove_leftovers(&self, id: &str) -> Result<usize, String> {
        let Ok(cg) = self.cgroup(id) else {
            return Ok(0);
        };
        let mut killed = 0;
        // Killed processes leave the cgroup once reaped: wait up to 2 s.
        for _ in 0..100 {
            let pids = cg.pids().unwrap_or_default();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let sigkill = nix::sys::signal::Signal::SIGKILL;
                if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sigkill).is_ok() {
                    killed += 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        cg.remove()
            .map_err(|e| format!("removing the cgroup of {id}: {e}"))?;
        Ok(killed)
    }

    fn cgroups(&self) -> Vec<String> {
        if !self.cgroups {
            return Vec::new();
        }
        berth_runtime::cgroups::children(&self.cgroup_parent).unwrap_or_default()
    }

    fn mounts_below(&self, dir: &Path) -> Vec<PathBuf> {
        berth_runtime::mountinfo::read()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| p.starts_with(dir))
            .collect()
    }

    fn unmount(&self, path: &Path) -> Result<(), String> {
        nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| format!("unmounting {}: {e}", path.display()))
    }
}

/// Containers in memory, for tests. A container's program is its `args`:
/// `echo WORDS` prints them and exits 0, `false` exits 1, `true` exits 0,
/// `write PATH WORDS` writes them to PATH in the container's writable
/// layer (what a build's RUN leaves) and exits 0; anything else runs until a signal ends it (exit 128 + the signal). Its
/// output goes to the log file the monitor would write, its end to the
/// exit file. Pids start above the kernel's largest, so a signal that
/// missed this seam can never reach a real process. Execs run the same
/// programs, detached only: no terminal, stdin or attach socket is served.
#[derive(Default)]
pub struct FakeRuntime {
    procs: Mutex<HashMap<i64, mpsc::UnboundedSender<i32>>>,
    next_pid: Mutex<i64>,
    /// Frozen containers, with the signals that wait for their thaw.
    frozen: Mutex<HashMap<String, Vec<(i64, i32)>>>,
    /// The container each fake pid belongs to.
    owners: Mutex<HashMap<i64, String>>,
    /// Processes with no monitor (see [`FakeRuntime::leave_stray`]).
    strays: Mutex<std::collections::HashSet<i64>>,
}

/// The kernel's largest pid (`PID_MAX_LIMIT`); fake pids are above it.
const FAKE_PID_BASE: i64 = 4_194_304;

impl FakeRuntime {
    pub fn new() -> Arc<FakeRuntime> {
        Arc::new(FakeRuntime::default())
    }

    fn lock_procs(&self) -> std::sync::MutexGuard<'_, HashMap<i64, mpsc::UnboundedSender<i32>>> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn frozen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(i64, i32)>>> {
        self.frozen.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<i64, String>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn strays(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.strays.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A process in container `id`'s cgroup that no monitor follows, as a
    /// daemon killed between starting a container and recording the start
    /// leaves one; its pid.
    pub fn leave_stray(&self, id: &str) -> i64 {
        let pid = self.new_pid();
        let (signals, _) = mpsc::unbounded_channel::<i32>();
        self.lock_procs().insert(pid, signals);
        self.owners().insert(pid, id.to_string());
        self.strays().insert(pid);
        pid
    }

    fn deliver(&self, pid: i64, signal: i32) {
        if let Some(p) = self.lock_procs().get(&pid) {
            let _ = p.send(signal);
        }
    }

    fn new_pid(&self) -> i64 {
        let mut n = self.next_pid.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        FAKE_PID_BASE + *n
    }
}

/// `words` as a file at `path` (absolute in the container) in `upper`.
fn write_in_layer(upper: &Path, path: &str, words: &[String]) -> std::io::Result<()> {
    let rel = Path::new(path.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    let file = upper.join(rel);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, format!("{}\n", words.join(" ")))
}

/// What a fake monitor runs: the program, where its output and its end
/// go, the container it belongs to, and that container's writable layer.
struct FakeProcess {
    args: Vec<String>,
    log: Option<PathBuf>,
    exit_path: Option<PathBuf>,
    owner: String,
    upper: Option<PathBuf>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    berth_runtime::monitor::read_json(path).map_err(Error::Internal)
}

impl ContainerRuntime for Arc<FakeRuntime> {
    fn spawn(&self, kind: MonitorKind, dir: &Path) -> Result<Monitor, Error> {
        let run = match kind {
            MonitorKind::Container => {
                let cfg: MonitorConfig =
                    read_json(&dir.join(berth_runtime::monitor::MONITOR_FILE))?;
                let spec: oci_spec::runtime::Spec = read_json(&dir.join("config.json"))?;
                FakeProcess {
                    args: spec
                        .process()
                        .as_ref()
                        .and_then(|p| p.args().clone())
                        .unwrap_or_default(),
                    log: (!cfg.log_disabled).then_some(cfg.log_path),
                    exit_path: Some(cfg.exit_path),
                    owner: cfg.id,
                    upper: cfg.overlay.map(|o| o.upper),
                }
            }
            MonitorKind::Exec => {
                let cfg: ExecConfig = read_json(&dir.join(berth_runtime::exec_monitor::EXEC_FILE))?;
                // An attached exec waits for a client on its socket,
                // which the fake does not serve.
                if cfg.wait_for_attach {
                    return Err(Error::InvalidArgument(
                        "the fake runtime serves no attach socket: start execs detached".into(),
                    ));
                }
                let owner = self
                    .owners()
                    .get(&i64::from(cfg.pid))
                    .cloned()
                    .ok_or_else(|| Error::Internal(format!("no fake process {}", cfg.pid)))?;
                FakeProcess {
                    args: cfg.process.args().clone().unwrap_or_default(),
                    // A detached exec's output goes nowhere, as in Docker.
                    log: None,
                    exit_path: cfg.exit_path,
                    owner,
                    upper: None,
                }
            }
        };
        let FakeProcess {
            args,
            log,
            exit_path,
            owner,
            upper,
        } = run;
        let pid = self.new_pid();
        let (signals, mut received) = mpsc::unbounded_channel::<i32>();
        self.lock_procs().insert(pid, signals);
        self.owners().insert(pid, owner);
        let (tx, events) = mpsc::channel(4);
        let (kill, killed) = oneshot::channel::<()>();
        let me = self.clone();
        tokio::spawn(async move {
            let _ = tx.send(Ok(MonitorEvent::Started { pid: pid as i32 })).await;
            let mut log = log.and_then(|p| LogWriter::open(&p).ok());
            let code = match args.first().map(String::as_str) {
                Some("echo") => {
                    let line = format!("{}\n", args[1..].join(" "));
                    if let Some(l) = log.as_mut() {
                        let _ = l.write(Stream::Stdout, line.as_bytes());
                    }
                    0
                }
                Some("true") => 0,
                Some("write") => match (&upper, args.get(1)) {
                    (Some(upper), Some(path)) => {
                        i32::from(write_in_layer(upper, path, &args[2..]).is_err())
                    }
                    _ => 1,
                },
                Some("false") => 1,
                _ => tokio::select! {
                    sig = received.recv() => 128 + sig.unwrap_or(9),
                    Ok(()) = killed => 137,
                },
            };
            me.lock_procs().remove(&pid);
            me.owners().remove(&pid);
            let exited = MonitorEvent::Exited {
                exit_code: code,
                finished_at: crate::time::now(),
                oom_killed: false,
            };
            if let Some(path) = &exit_path {
                let _ = berth_runtime::monitor::write_exit_file(path, &exited);
            }
            let _ = tx.send(Ok(exited)).await;
        });
        Ok(Monitor { events, kill })
    }

    fn signal(&self, pid: i64, signal: nix::sys::signal::Signal) -> Result<(), Error> {
        // A frozen container's process gets its signals when it thaws.
        let owner = self.owners().get(&pid).cloned();
        if let Some(pending) = owner.and_then(|id| {
            let mut frozen = self.frozen();
            frozen.get_mut(&id).map(|p| {
                p.push((pid, signal as i32));
            })
        }) {
            return Ok(pending);
        }
        self.deliver(pid, signal as i32);
        Ok(())
    }

    fn alive(&self, pid: i64) -> bool {
        self.lock_procs().contains_key(&pid)
    }

    fn freeze(&self, id: &str) -> Result<(), String> {
        self.frozen().entry(id.to_string()).or_default();
        Ok(())
    }

    fn thaw(&self, id: &str) -> Result<(), String> {
        let pending = self.frozen().remove(id).unwrap_or_default();
        for (pid, signal) in pending {
            self.deliver(pid, signal);
        }
        Ok(())
    }

    fn sample(&self, _id: &str, _pid: i64, _own_netns: bool) -> Result<Sample, String> {
        Ok(Sample::default())
    }

    fn update(&self, _id: &str, _resources: &Resources) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    fn ps(&self, pid: i64, _args: &[String]) -> Result<(String, Vec<i64>), String> {
        Ok((format!("UID PID PPID CMD\nroot {pid} 0 fake\n"), vec![pid]))
    }

    fn leftover_pids(&self, id: &str) -> Vec<i64> {
        let mut pids: Vec<i64> = self
            .owners()
            .iter()
            .filter(|(_, owner)| owner.as_str() == id)
            .map(|(pid, _)| *pid)
            .collect();
        pids.sort_unstable();
        pids
    }

    fn remove_leftovers(&self, id: &str) -> Result<usize, String> {
        let pids = self.leftover_pids(id);
        for pid in &pids {
            self.deliver(*pid, nix::sys::signal::Signal::SIGKILL as i32);
            // A stray has no monitor to reap it.
            if self.strays().remove(pid) {
                self.lock_procs().remove(pid);
                self.owners().remove(pid);
            }
        }
        Ok(pids.len())
    }

    fn cgroups(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.owners().values().cloned().collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn mounts_below(&self, _dir: &Path) -> Vec<PathBuf> {
        Vec::new()
    }

    fn unmount(&self, path: &Path) -> Result<(), String> {
        Err(format!("{} is not mounted", path.display()))
    }
}
