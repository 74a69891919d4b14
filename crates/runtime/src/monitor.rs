//! The per-container monitor: `berth __monitor <bundle>`.
//!
//! The daemon writes `<bundle>/config.json` (the OCI spec) and
//! `<bundle>/monitor.json` ([`MonitorConfig`]) and re-executes its own binary,
//! which calls [`run`]. The monitor is a single-threaded process in its own
//! session and a child subreaper; it creates the container, stays its
//! parent, appends its output to the json-file log and reports on its
//! stdout, one JSON [`MonitorEvent`] per line:
//!
//! 1. exactly one of `{"event":"started","pid":N}` (the user's program is
//!    running; `N` is its pid on the host) or
//!    `{"event":"failed","message":"...","exit_code":N}` (it never ran);
//! 2. after `started`, `{"event":"exited","exit_code":N,"finished_at":"..."}`
//!    when the container's pid 1 has ended (`N` is its exit status, or 128 +
//!    the signal that killed it) and its output is fully logged.
//!
//! `failed` and `exited` are first written atomically to
//! [`MonitorConfig::exit_path`] so a daemon that was away can read them.
//! Exit codes in `failed`: 127 program not found, 126 not executable, 128
//! any other setup failure.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use crate::exec::{ExecError, EXIT_SETUP_FAILED};
use crate::init::{child_main, ChildFds};
use crate::log::{timestamp, LogWriter, Stream};
use crate::mounts::errno_text;
use crate::sys::RealSys;

/// Name of the OCI spec in a bundle.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the monitor's own settings in a bundle.
pub const MONITOR_FILE: &str = "monitor.json";

/// The container's overlay root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    /// Read-only layers, lowest first.
    pub lower: Vec<PathBuf>,
    /// The container's writable layer.
    pub upper: PathBuf,
    /// Overlay's work directory (same file system as `upper`).
    pub work: PathBuf,
}

/// What the monitor needs beyond the OCI spec (`<bundle>/monitor.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// The container id.
    pub id: String,
    /// The overlay to mount at the spec's `root.path`; `None` means
    /// `root.path` is already the complete root filesystem.
    pub overlay: Option<Overlay>,
    /// The json-file log to append the container's output to.
    pub log_path: PathBuf,
    /// Where the final `failed`/`exited` event is written.
    pub exit_path: PathBuf,
}

/// One line of the monitor's stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum MonitorEvent {
    /// The container's program is running as host pid `pid`.
    Started { pid: i32 },
    /// The container's program never ran.
    Failed { message: String, exit_code: i32 },
    /// The container's pid 1 ended; `oom_killed` when the kernel's OOM
    /// killer struck in its cgroup.
    Exited {
        exit_code: i32,
        finished_at: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        oom_killed: bool,
    },
}

/// Runs the monitor for the bundle at `bundle` to the end of its container.
/// Returns 0 when the outcome (`failed` or `exited`) was recorded, 1 when
/// the monitor could not even do that. Must be called from a
/// single-threaded process: it forks.
pub fn run(bundle: &Path) -> i32 {
    prepare_process();
    let cfg = match read_json::<MonitorConfig>(&bundle.join(MONITOR_FILE)) {
        Ok(cfg) => cfg,
        Err(message) => {
            emit(&MonitorEvent::Failed {
                message,
                exit_code: EXIT_SETUP_FAILED,
            });
            return 1;
        }
    };
    let last = supervise(bundle, &cfg);
    let recorded = write_exit_file(&cfg.exit_path, &last);
    if let Err(e) = &recorded {
        tracing::error!(id = %cfg.id, error = %e, "writing exit file");
    }
    emit(&last);
    if recorded.is_ok() {
        0
    } else {
        1
    }
}

/// New session (the daemon's process group may be killed), subreaper, and
/// SIGPIPE ignored (the daemon may stop reading).
fn prepare_process() {
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // SAFETY: SIG_IGN runs no code in signal context.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// Writes one event line to stdout, ignoring a reader that went away.
pub fn emit(event: &MonitorEvent) {
    if let Ok(mut line) = serde_json::to_vec(event) {
        line.push(b'\n');
        let mut out = io::stdout().lock();
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
}

/// Writes `event` to `path` atomically (temporary file, then rename).
pub fn write_exit_file(path: &Path, event: &MonitorEvent) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut text = serde_json::to_vec(event).map_err(io::Error::other)?;
    text.push(b'\n');
    std::fs::write(&tmp, &text)?;
    std::fs::rename(&tmp, path)
}

fn failed(message: impl Into<String>) -> MonitorEvent {
    MonitorEvent::Failed {
        message: message.into(),
        exit_code: EXIT_SETUP_FAILED,
    }
}

fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim() == "1"))
        })
        .unwrap_or(false)
}

/// The exit code Docker reports for a wait status.
pub fn exit_code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn wait_for(pid: Pid) -> Result<i32, Errno> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code_of(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reaps every remaining child without blocking.
fn reap_all() {
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), MonitorEvent> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| failed(format!("pipe: {}", errno_text(e))))
}

/// Creates the container and follows it to its end; returns the last event.
fn supervise(bundle: &Path, cfg: &MonitorConfig) -> MonitorEvent {
    if !single_threaded() {
        return failed("the monitor must run in a single-threaded process");
    }
    let spec = match read_json::<Spec>(&bundle.join(CONFIG_FILE)) {
        Ok(s) => s,
        Err(message) => return failed(message),
    };
    let root = match spec.root() {
        Some(r) if r.path().is_absolute() => r.path().clone(),
        Some(r) => bundle.join(r.path()),
        None => return failed("config.json has no root"),
    };
    let mut log = match LogWriter::open(&cfg.log_path) {
        Ok(l) => l,
        Err(e) => return failed(format!("opening log {}: {e}", cfg.log_path.display())),
    };
    match start(&spec, &root, cfg.overlay.as_ref()) {
        Ok(running) => {
            emit(&MonitorEvent::Started {
                pid: running.pid.as_raw(),
            });
            follow(running, &mut log)
        }
        Err(event) => event,
    }
}

struct Running {
    pid: Pid,
    stdout: OwnedFd,
    stderr: OwnedFd,
    cgroup: Option<crate::cgroups::Cgroup>,
}

fn enter_pid_namespace(spec: &Spec) -> Result<(), MonitorEvent> {
    let pid_ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|nss| {
            nss.iter()
                .find(|n| n.typ() == LinuxNamespaceType::Pid)
                .cloned()
        });
    match pid_ns.as_ref().map(|n| n.path().clone()) {
        None => Ok(()),
        Some(None) => nix::sched::unshare(CloneFlags::CLONE_NEWPID)
            .map_err(|e| failed(format!("creating pid namespace: {}", errno_text(e)))),
        Some(Some(path)) => {
            let f = std::fs::File::open(&path)
                .map_err(|e| failed(format!("opening {}: {e}", path.display())))?;
            nix::sched::setns(f, CloneFlags::CLONE_NEWPID)
                .map_err(|e| failed(format!("joining pid namespace: {}", errno_text(e))))
        }
    }
}

/// Forks the container's pid 1 and waits until it has exec'd or failed.
fn start(spec: &Spec, root: &Path, overlay: Option<&Overlay>) -> Result<Running, MonitorEvent> {
    let stdin = std::fs::File::open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| failed(format!("opening /dev/null: {e}")))?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (sync_r, sync_w) = pipe()?;
    enter_pid_namespace(spec)?;
    let cgroup = crate::cgroups::create_for_spec(spec)
        .map_err(|e| failed(format!("creating the container's cgroup: {e}")))?;
    // SAFETY: the monitor is single-threaded (checked in `supervise`), so the
    // child may allocate and run ordinary Rust code until it execs or exits.
    let fork = unsafe { nix::unistd::fork() };
    let pid = match fork {
        Ok(ForkResult::Child) => {
            drop((out_r, err_r, sync_r));
            let fds = ChildFds {
                stdin,
                stdout: out_w,
                stderr: err_w,
                sync: sync_w,
            };
            child_main(&RealSys, spec, root, overlay, cgroup.as_ref(), fds)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            cgroup.as_ref().map(crate::cgroups::Cgroup::remove);
            return Err(failed(format!("fork: {}", errno_text(e))));
        }
    };
    drop((stdin, out_w, err_w, sync_w));
    let mut report = Vec::new();
    let read = std::fs::File::from(sync_r).read_to_end(&mut report);
    if read.is_ok() && report.is_empty() {
        return Ok(Running {
            pid,
            stdout: out_r,
            stderr: err_r,
            cgroup,
        });
    }
    let status = wait_for(pid);
    reap_all();
    cgroup.as_ref().map(crate::cgroups::Cgroup::remove);
    let err = serde_json::from_slice::<ExecError>(&report).unwrap_or_else(|_| ExecError {
        message: match (read, status) {
            (Err(e), _) => format!("reading the container's setup report: {e}"),
            (_, Ok(code)) => format!("container setup ended with status {code}"),
            (_, Err(e)) => format!("container setup: {}", errno_text(e)),
        },
        exit_code: EXIT_SETUP_FAILED,
    });
    Err(MonitorEvent::Failed {
        message: err.message,
        exit_code: err.exit_code,
    })
}

/// Logs the container's output until both streams end and pid 1 is reaped.
fn follow(running: Running, log: &mut LogWriter) -> MonitorEvent {
    let Running {
        pid,
        stdout,
        stderr,
        cgroup,
    } = running;
    let pidfd: Option<OwnedFd> = rustix::process::Pid::from_raw(pid.as_raw())
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let mut streams = [
        Some((stdout, Stream::Stdout)),
        Some((stderr, Stream::Stderr)),
    ];
    let mut exit_code: Option<i32> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut log_failed = false;
    loop {
        if exit_code.is_none() && pidfd.is_none() {
            // No pidfd: wait for pid 1 only once its output has ended.
            if streams.iter().all(Option::is_none) {
                exit_code = Some(wait_for(pid).unwrap_or(EXIT_SETUP_FAILED));
            }
        }
        if exit_code.is_some() && streams.iter().all(Option::is_none) {
            break;
        }
        let mut fds = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(3);
        for (i, s) in streams.iter().enumerate() {
            if let Some((fd, _)) = s {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(Some(i));
            }
        }
        if let (None, Some(p)) = (exit_code, &pidfd) {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            which.push(None);
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<Option<usize>> = fds
            .iter()
            .zip(&which)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, w)| *w)
            .collect();
        drop(fds);
        for w in ready {
            match w {
                None => exit_code = Some(wait_for(pid).unwrap_or(EXIT_SETUP_FAILED)),
                Some(i) => {
                    let Some((fd, stream)) = &streams[i] else {
                        continue;
                    };
                    let stream = *stream;
                    let res = match nix::unistd::read(fd, &mut buf) {
                        Ok(0) => {
                            streams[i] = None;
                            log.finish(stream)
                        }
                        Ok(n) => log.write(stream, &buf[..n]),
                        Err(Errno::EINTR | Errno::EAGAIN) => Ok(()),
                        Err(_) => {
                            streams[i] = None;
                            log.finish(stream)
                        }
                    };
                    if let Err(e) = res {
                        if !log_failed {
                            tracing::error!(error = %e, "writing container log");
                            log_failed = true;
                        }
                    }
                }
            }
        }
    }
    reap_all();
    let oom_killed = cgroup.as_ref().is_some_and(|c| c.oom_killed());
    if let Some(Err(e)) = cgroup.as_ref().map(crate::cgroups::Cgroup::remove) {
        tracing::error!(error = %e, "removing the container's cgroup");
    }
    MonitorEvent::Exited {
        exit_code: exit_code.unwrap_or(EXIT_SETUP_FAILED),
        finished_at: timestamp(chrono::Utc::now()),
        oom_killed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_documented() {
        let s = |e: &MonitorEvent| serde_json::to_string(e).unwrap();
        assert_eq!(
            s(&MonitorEvent::Started { pid: 42 }),
            r#"{"event":"started","pid":42}"#
        );
        assert_eq!(
            s(&MonitorEvent::Failed {
                message: "m".into(),
                exit_code: 127
            }),
            r#"{"event":"failed","message":"m","exit_code":127}"#
        );
        assert_eq!(
            s(&MonitorEvent::Exited {
                exit_code: 0,
                finished_at: "T".into(),
                oom_killed: false,
            }),
            r#"{"event":"exited","exit_code":0,"finished_at":"T"}"#
        );
    }

    #[test]
    fn exit_file_is_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit.json");
        let ev = MonitorEvent::Exited {
            exit_code: 3,
            finished_at: "T".into(),
            oom_killed: true,
        };
        write_exit_file(&p, &ev).unwrap();
        write_exit_file(&p, &ev).unwrap();
        let back: MonitorEvent = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, ev);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn signals_map_to_128_plus() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code_of(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code_of(WaitStatus::Signaled(
                pid,
                nix::sys::signal::Signal::SIGKILL,
                false
            )),
            Some(137)
        );
    }

    #[test]
    fn config_round_trips() {
        let cfg = MonitorConfig {
            id: "abc".into(),
            overlay: Some(Overlay {
                lower: vec!["/l".into()],
                upper: "/u".into(),
                work: "/w".into(),
            }),
            log_path: "/log".into(),
            exit_path: "/exit".into(),
        };
        let text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<MonitorConfig>(&text).unwrap(), cfg);
    }
}
