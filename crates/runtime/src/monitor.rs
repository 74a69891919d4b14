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
//! 2. after `started`, `{"event":"exited","exit_code":N,"finished_at":"...","oom_killed":false}`
//!    when the container's pid 1 has ended (`N` is its exit status, or 128 +
//!    the signal that killed it) and its output is fully logged.
//!
//! With [`MonitorConfig::attach_socket`] the monitor also serves attach
//! clients on a unix socket ([`crate::attach`], wire format in
//! [`crate::frame`]): the container's output goes to the log and to every
//! connected client, clients' stdin frames feed the container's stdin
//! (with `open_stdin`), resize frames resize its terminal. The socket exists
//! before the container's program can start; with `wait_for_attach` the
//! program is held just before `execve` until the first client connected
//! (at most 10 s), so that client misses nothing.
//! At the end each client gets the final event in an exit frame, then the
//! socket file is removed.
//!
//! `failed` and `exited` are first written atomically to
//! [`MonitorConfig::exit_path`] so a daemon that was away can read them.
//! Exit codes in `failed`: 127 program not found, 126 not executable, 128
//! any other setup failure.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use crate::attach::Hub;
use crate::errno::errno_text;
use crate::first_process::{child_main, ChildFds};
use crate::log::{timestamp, LogWriter};
use crate::mounts::Overlay;
use crate::program::{ExecError, EXIT_SETUP_FAILED};
use crate::reap::{reap_all, wait_for};
use crate::relay::{relay, RelayOptions, Streams};
use crate::stdio::{ParentStdio, StdioOptions};
use crate::sys::RealSys;

/// Name of the OCI spec in a bundle.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the monitor's own settings in a bundle.
pub const MONITOR_FILE: &str = "monitor.json";

/// What the monitor needs beyond the OCI spec (`<bundle>/monitor.json`).
///
/// Whether the container gets a terminal is the spec's
/// `process.terminal`.
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
    /// Unix socket to serve attach clients on (at most
    /// [`crate::attach::MAX_SOCKET_PATH`] bytes); `None`: no attaching.
    #[serde(default)]
    pub attach_socket: Option<PathBuf>,
    /// The container's stdin is fed by attach clients (`docker run -i`);
    /// otherwise it is `/dev/null`.
    #[serde(default)]
    pub open_stdin: bool,
    /// The first client's stdin EOF (or its disconnect after it sent
    /// stdin) closes the container's stdin for good (`StdinOnce`);
    /// otherwise stdin stays open for later attaches.
    #[serde(default)]
    pub stdin_once: bool,
    /// Hold the program before `execve` until the first client attached.
    #[serde(default)]
    pub wait_for_attach: bool,
    /// Initial terminal size (rows, cols); falls back to the spec's
    /// `process.consoleSize`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// The `none` log driver: output is relayed to attach clients only and
    /// `log_path` is never written.
    #[serde(default)]
    pub log_disabled: bool,
    /// json-file `max-size` in bytes; `None`: the log is never rotated.
    #[serde(default)]
    pub log_max_size: Option<u64>,
    /// json-file `max-file`: how many files rotation keeps, the live one
    /// included.
    #[serde(default = "one")]
    pub log_max_files: u32,
}

fn one() -> u32 {
    1
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            overlay: None,
            log_path: PathBuf::new(),
            exit_path: PathBuf::new(),
            attach_socket: None,
            open_stdin: false,
            stdin_once: false,
            wait_for_attach: false,
            console_size: None,
            log_disabled: false,
            log_max_size: None,
            log_max_files: 1,
        }
    }
}

/// One line of the monitor's stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum MonitorEvent {
    /// The container's program is running as host pid `pid`.
    Started { pid: i32 },
    /// The container's program never ran.
    Failed { message: String, exit_code: i32 },
    /// The container's pid 1 ended.
    Exited {
        exit_code: i32,
        finished_at: String,
        /// The kernel's OOM killer killed a process of the container.
        #[serde(default)]
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
pub(crate) fn prepare_process() {
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

/// Reads a JSON file (a bundle's `config.json`, `monitor.json`, an exec's
/// `exec.json`); the error names the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
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

pub(crate) fn failed(message: impl Into<String>) -> MonitorEvent {
    MonitorEvent::Failed {
        message: message.into(),
        exit_code: EXIT_SETUP_FAILED,
    }
}

pub(crate) fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim() == "1"))
        })
        .unwrap_or(false)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), MonitorEvent> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| failed(format!("pipe: {}", errno_text(e))))
}

/// Creates the container and follows it to its end; returns the last event.
fn supervise(bundle: &Path, cfg: &MonitorConfig) -> MonitorEvent {
    if !single_threaded() {
        return failed("the monitor must run in a single-threaded process");
    }
    let mut hub = match &cfg.attach_socket {
        Some(path) => match Hub::bind(path) {
            Ok(h) => Some(h),
            Err(e) => return failed(e.to_string()),
        },
        None => None,
    };
    let last = run_container(bundle, cfg, hub.as_mut());
    if let Some(h) = &mut hub {
        match serde_json::to_vec(&last) {
            Ok(json) => h.finish(&json),
            Err(_) => h.finish(b"{}"),
        }
    }
    last
}

fn run_container(bundle: &Path, cfg: &MonitorConfig, hub: Option<&mut Hub>) -> MonitorEvent {
    let mut spec = match read_json::<Spec>(&bundle.join(CONFIG_FILE)) {
        Ok(s) => s,
        Err(message) => return failed(message),
    };
    let remap = match crate::remap::plan(&mut spec, bundle) {
        Ok(r) => r,
        Err(message) => return failed(message),
    };
    let root = match spec.root() {
        Some(r) if r.path().is_absolute() => r.path().clone(),
        Some(r) => bundle.join(r.path()),
        None => return failed("config.json has no root"),
    };
    let mut log = match cfg.log_disabled {
        true => None,
        false => match LogWriter::open(&cfg.log_path) {
            Ok(l) => Some(l.with_rotation(cfg.log_max_size, cfg.log_max_files)),
            Err(e) => return failed(format!("opening log {}: {e}", cfg.log_path.display())),
        },
    };
    let process = spec.process().as_ref();
    let spec_size = process
        .and_then(|p| p.console_size())
        .map(|b| (b.height() as u16, b.width() as u16));
    let opts = StdioOptions {
        terminal: process.and_then(|p| p.terminal()) == Some(true),
        open_stdin: cfg.open_stdin,
        wait_for_attach: cfg.wait_for_attach && hub.is_some(),
        console_size: cfg.console_size.or(spec_size),
    };
    // A fuse-overlayfs root is mounted here, before the container's pid
    // namespace exists, so its server is no process of the container's;
    // the container's mount namespace binds it like a prepared root.
    let fuse_root = match cfg.overlay.as_ref().filter(|o| o.fuse) {
        Some(ov) => match crate::mounts::fuse::mount(ov, &root) {
            Ok(()) => Some(FuseRoot(root.clone())),
            Err(e) => return failed(e.to_string()),
        },
        None => None,
    };
    let kernel_overlay = cfg.overlay.as_ref().filter(|o| !o.fuse);
    let setup = Setup {
        root: &root,
        overlay: kernel_overlay,
        remap: remap.as_ref(),
    };
    let event = run_started(spec, &setup, opts, cfg, log.as_mut(), hub);
    drop(fuse_root);
    event
}

/// A fuse-overlayfs root, unmounted (which ends its server) on drop.
struct FuseRoot(PathBuf);

impl Drop for FuseRoot {
    fn drop(&mut self) {
        if let Err(e) = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH) {
            tracing::error!(error = %e, root = %self.0.display(), "unmounting the fuse-overlayfs root");
        }
    }
}

/// How the container's root file system and namespaces come to be.
struct Setup<'a> {
    root: &'a Path,
    /// The kernel overlay to mount on `root`.
    overlay: Option<&'a Overlay>,
    /// The container's own user namespace.
    remap: Option<&'a crate::remap::Plan>,
}

fn run_started(
    spec: Spec,
    setup: &Setup<'_>,
    opts: StdioOptions,
    cfg: &MonitorConfig,
    log: Option<&mut LogWriter>,
    mut hub: Option<&mut Hub>,
) -> MonitorEvent {
    match start(&spec, setup, opts, hub.as_deref_mut()) {
        Ok(running) => {
            emit(&MonitorEvent::Started {
                pid: running.pid.as_raw(),
            });
            drop(spec);
            crate::footprint::release_startup_memory();
            let relay_opts = RelayOptions {
                stdin_once: cfg.stdin_once,
                drain_after_exit: false,
            };
            let Running {
                pid,
                streams,
                cgroup,
            } = running;
            let running = RunningCgroup { cgroup };
            let exit_code = relay(pid, streams, log, hub, relay_opts);
            reap_all();
            let oom_killed = running.cgroup.as_ref().is_some_and(|c| c.oom_killed());
            if let Some(Err(e)) = running.cgroup.as_ref().map(crate::cgroups::Cgroup::remove) {
                tracing::error!(error = %e, "removing the container's cgroup");
            }
            MonitorEvent::Exited {
                exit_code,
                finished_at: timestamp(chrono::Utc::now()),
                oom_killed,
            }
        }
        Err(event) => event,
    }
}

struct Running {
    pid: Pid,
    streams: Streams,
    cgroup: Option<crate::cgroups::Cgroup>,
}

/// What outlives the relay: the cgroup, for OOM and removal.
struct RunningCgroup {
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
fn start(
    spec: &Spec,
    setup: &Setup<'_>,
    opts: StdioOptions,
    hub: Option<&mut Hub>,
) -> Result<Running, MonitorEvent> {
    let (child_io, parent_io) =
        crate::stdio::prepare(opts).map_err(|e| failed(format!("creating stdio: {e}")))?;
    let (sync_r, sync_w) = pipe()?;
    let go = match setup.remap {
        Some(r) => {
            r.enter(spec).map_err(failed)?;
            Some(pipe()?)
        }
        None => {
            enter_pid_namespace(spec)?;
            None
        }
    };
    let cgroup = crate::cgroups::create_for_spec(spec)
        .map_err(|e| failed(format!("creating the container's cgroup: {e}")))?;
    let fork = match setup.remap {
        Some(r) => r.clone_child(),
        // SAFETY: the monitor is single-threaded (checked in `supervise`),
        // so the child may allocate and run ordinary Rust code until it
        // execs or exits.
        None => unsafe { nix::unistd::fork() }.map(|f| match f {
            ForkResult::Child => None,
            ForkResult::Parent { child } => Some(child),
        }),
    };
    let (go_r, go_w) = go.unzip();
    let pid = match fork {
        Ok(None) => {
            drop((parent_io, sync_r, go_w));
            let fds = ChildFds {
                stdin: child_io.stdin,
                stdout: child_io.stdout,
                stderr: child_io.stderr,
                sync: sync_w,
                io: child_io.io,
                userns_go: go_r,
            };
            // With its own user namespace the monitor mounted the root.
            let overlay = setup.overlay.filter(|_| setup.remap.is_none());
            child_main(&RealSys, spec, setup.root, overlay, cgroup.as_ref(), fds)
        }
        Ok(Some(child)) => child,
        Err(e) => {
            cgroup.as_ref().map(crate::cgroups::Cgroup::remove);
            return Err(failed(format!("fork: {}", errno_text(e))));
        }
    };
    drop((child_io, sync_w, go_r));
    if let (Some(r), Some(go_w)) = (setup.remap, go_w) {
        let ready = r.prepare(pid, setup.overlay, setup.root).and_then(|()| {
            std::fs::File::from(go_w)
                .write_all(b"1")
                .map_err(|e| format!("releasing the container's first process: {e}"))
        });
        if let Err(message) = ready {
            // Its end of the pipe closed, the child reports and exits.
            wait_for(pid).ok();
            reap_all();
            cgroup.as_ref().map(crate::cgroups::Cgroup::remove);
            return Err(failed(message));
        }
    }
    match finish_start(pid, parent_io, hub, sync_r) {
        Ok(streams) => Ok(Running {
            pid,
            streams,
            cgroup,
        }),
        Err(event) => {
            cgroup.as_ref().map(crate::cgroups::Cgroup::remove);
            Err(event)
        }
    }
}

/// The monitor's side of a start: the stdio handshake, then the child's
/// report (nothing: it exec'd; an [`ExecError`]: it failed and is reaped).
pub(crate) fn finish_start(
    pid: Pid,
    parent_io: ParentStdio,
    hub: Option<&mut Hub>,
    sync_r: OwnedFd,
) -> Result<Streams, MonitorEvent> {
    let handshake = parent_io.handshake(hub, sync_r.as_fd());
    let mut report = Vec::new();
    let read = std::fs::File::from(sync_r).read_to_end(&mut report);
    let handshake = match (handshake, &read) {
        (Ok(Some(streams)), Ok(_)) if report.is_empty() => return Ok(streams),
        (h, _) => h,
    };
    let status = wait_for(pid);
    reap_all();
    let err = serde_json::from_slice::<ExecError>(&report).unwrap_or_else(|_| ExecError {
        message: match (handshake, read, status) {
            (Err(e), _, _) => e,
            (_, Err(e), _) => format!("reading the container's setup report: {e}"),
            (_, _, Ok(code)) => format!("container setup ended with status {code}"),
            (_, _, Err(e)) => format!("container setup: {}", errno_text(e)),
        },
        exit_code: EXIT_SETUP_FAILED,
    });
    Err(MonitorEvent::Failed {
        message: err.message,
        exit_code: err.exit_code,
    })
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
                oom_killed: true,
            }),
            r#"{"event":"exited","exit_code":0,"finished_at":"T","oom_killed":true}"#
        );
        // Written before oom_killed existed.
        let old: MonitorEvent =
            serde_json::from_str(r#"{"event":"exited","exit_code":0,"finished_at":"T"}"#).unwrap();
        assert!(matches!(
            old,
            MonitorEvent::Exited {
                oom_killed: false,
                ..
            }
        ));
    }

    #[test]
    fn exit_file_is_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit.json");
        let ev = MonitorEvent::Exited {
            exit_code: 3,
            finished_at: "T".into(),
            oom_killed: false,
        };
        write_exit_file(&p, &ev).unwrap();
        write_exit_file(&p, &ev).unwrap();
        let back: MonitorEvent = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, ev);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn config_round_trips() {
        let cfg = MonitorConfig {
            id: "abc".into(),
            overlay: Some(Overlay {
                lower: vec!["/l".into()],
                upper: "/u".into(),
                work: "/w".into(),
                userxattr: false,
                fuse: false,
            }),
            log_path: "/log".into(),
            exit_path: "/exit".into(),
            attach_socket: Some("/a.sock".into()),
            open_stdin: true,
            stdin_once: true,
            wait_for_attach: true,
            console_size: Some((24, 80)),
            log_disabled: true,
            log_max_size: Some(10),
            log_max_files: 3,
        };
        let text = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<MonitorConfig>(&text).unwrap(), cfg);
        // What the engine wrote before the attach settings existed.
        let old: MonitorConfig =
            serde_json::from_str(r#"{"id":"a","overlay":null,"log_path":"/l","exit_path":"/e"}"#)
                .unwrap();
        assert_eq!(
            old,
            MonitorConfig {
                id: "a".into(),
                log_path: "/l".into(),
                exit_path: "/e".into(),
                ..Default::default()
            }
        );
    }
}
