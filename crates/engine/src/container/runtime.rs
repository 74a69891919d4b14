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

use berth_runtime::log::{LogWriter, Stream};
use berth_runtime::monitor::{MonitorConfig, MonitorEvent};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::Error;

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
}

/// The real monitor: the daemon's own binary re-executed.
pub struct LinuxRuntime {
    pub monitor_exe: PathBuf,
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
}

/// Containers in memory, for tests. A container's program is its `args`:
/// `echo WORDS` prints them and exits 0, `false` exits 1, `true` exits 0;
/// anything else runs until a signal ends it (exit 128 + the signal). Its
/// output goes to the log file the monitor would write, its end to the
/// exit file. Pids start above the kernel's largest, so a signal that
/// missed this seam can never reach a real process. No terminal, stdin or
/// attach socket is served, and execs are refused.
#[derive(Default)]
pub struct FakeRuntime {
    procs: Mutex<HashMap<i64, mpsc::UnboundedSender<i32>>>,
    next_pid: Mutex<i64>,
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

    fn new_pid(&self) -> i64 {
        let mut n = self.next_pid.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        FAKE_PID_BASE + *n
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))
}

impl ContainerRuntime for Arc<FakeRuntime> {
    fn spawn(&self, kind: MonitorKind, dir: &Path) -> Result<Monitor, Error> {
        if kind == MonitorKind::Exec {
            return Err(Error::InvalidArgument(
                "the fake runtime runs no execs".into(),
            ));
        }
        let cfg: MonitorConfig = read_json(&dir.join(berth_runtime::monitor::MONITOR_FILE))?;
        let spec: oci_spec::runtime::Spec = read_json(&dir.join("config.json"))?;
        let args = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default();
        let pid = self.new_pid();
        let (signals, mut received) = mpsc::unbounded_channel::<i32>();
        self.lock_procs().insert(pid, signals);
        let (tx, events) = mpsc::channel(4);
        let (kill, killed) = oneshot::channel::<()>();
        let me = self.clone();
        tokio::spawn(async move {
            let _ = tx.send(Ok(MonitorEvent::Started { pid: pid as i32 })).await;
            let mut log = (!cfg.log_disabled)
                .then(|| LogWriter::open(&cfg.log_path).ok())
                .flatten();
            let code = match args.first().map(String::as_str) {
                Some("echo") => {
                    let line = format!("{}\n", args[1..].join(" "));
                    if let Some(l) = log.as_mut() {
                        let _ = l.write(Stream::Stdout, line.as_bytes());
                    }
                    0
                }
                Some("true") => 0,
                Some("false") => 1,
                _ => tokio::select! {
                    sig = received.recv() => 128 + sig.unwrap_or(9),
                    Ok(()) = killed => 137,
                },
            };
            me.lock_procs().remove(&pid);
            let exited = MonitorEvent::Exited {
                exit_code: code,
                finished_at: crate::time::now(),
                oom_killed: false,
            };
            let _ = berth_runtime::monitor::write_exit_file(&cfg.exit_path, &exited);
            let _ = tx.send(Ok(exited)).await;
        });
        Ok(Monitor { events, kill })
    }

    fn signal(&self, pid: i64, signal: nix::sys::signal::Signal) -> Result<(), Error> {
        if let Some(p) = self.lock_procs().get(&pid) {
            let _ = p.send(signal as i32);
        }
        Ok(())
    }

    fn alive(&self, pid: i64) -> bool {
        self.lock_procs().contains_key(&pid)
    }
}
