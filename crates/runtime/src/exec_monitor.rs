//! `berth __exec <exec-dir>`: one more process in a running container
//! (`docker exec`).
//!
//! The daemon writes `<exec-dir>/exec.json` ([`ExecConfig`]) and re-executes
//! its own binary, which calls [`run`]. Like the container's monitor, this
//! exec monitor is a single-threaded process in its own session; it prints
//! the same line-JSON [`MonitorEvent`]s on its stdout (`started` with the
//! process's host pid, or `failed`; then `exited`), serves the same attach
//! socket ([`crate::attach`]) with the same `wait_for_attach` start gate,
//! and writes no log.
//!
//! The monitor joins the container's pid namespace (for its children) and
//! forks. The child joins the container's cgroups (only those under the
//! engine's parent cgroup) and its cgroup, ipc, uts, net and mount
//! namespaces, then takes the same last steps as the container's first
//! process ([`crate::last_steps`]): identity from the container's own
//! `/etc/passwd` and `/etc/group`, working directory, rlimits, seccomp,
//! capabilities, `no_new_privileges`, a terminal from the container's
//! `/dev/ptmx` when asked, and the exec with the container's `PATH` (exit
//! codes 126/127 and messages as for the container).
//! The monitor itself never enters the container's mount namespace, so it
//! pins nothing of the container and its socket and exit file are host
//! paths.

use std::convert::Infallible;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::ForkResult;
use oci_spec::runtime::Process;
use serde::{Deserialize, Serialize};

use crate::attach::Hub;
use crate::errno::errno_text;
use crate::last_steps::{self, Program};
use crate::log::timestamp;
use crate::monitor::{
    emit, failed, finish_start, prepare_process, read_json, single_threaded, write_exit_file,
    MonitorEvent,
};
use crate::program::{errno_err, setup_err, ExecError};
use crate::reap::reap_all;
use crate::relay::{relay, RelayOptions};
use crate::stdio::{ChildStdio, StdioOptions};

/// Name of the exec settings in an exec directory.
pub const EXEC_FILE: &str = "exec.json";

/// `<exec-dir>/exec.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecConfig {
    /// The container's pid 1, as a host pid.
    pub pid: i32,
    /// The process to run, in OCI shape: `args`, `env`, `cwd`, `terminal`,
    /// `consoleSize`, `user` (numeric ids and `additionalGids`),
    /// `capabilities` (absent: left as they are, i.e. privileged),
    /// `noNewPrivileges`, `user.umask`.
    pub process: Process,
    /// The raw `docker exec -u` string, resolved inside the container as
    /// for the container's own process; `None` runs as `process.user`'s
    /// numeric ids as they stand.
    #[serde(default)]
    pub user: Option<String>,
    /// `--group-add` names, resolved in the container's `/etc/group` as
    /// for the container's own process (Docker keeps them for exec).
    #[serde(default)]
    pub group_names: Vec<String>,
    /// Unix socket to serve attach clients on.
    #[serde(default)]
    pub attach_socket: Option<PathBuf>,
    /// Stdin is fed by attach clients; a client's stdin EOF closes it.
    #[serde(default)]
    pub open_stdin: bool,
    /// Hold the process before `execve` until the first client attached.
    #[serde(default)]
    pub wait_for_attach: bool,
    /// Initial terminal size (rows, cols); falls back to
    /// `process.consoleSize`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// Name of the engine's parent cgroup: the process joins those of the
    /// container's cgroups whose path contains it, and no others. `None`:
    /// no cgroup is joined.
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// Where the final `failed`/`exited` event is written too.
    #[serde(default)]
    pub exit_path: Option<PathBuf>,
    /// The container's seccomp filter, applied to the exec'd process too
    /// (`None`: unconfined).
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// Where compiled filters are cached.
    #[serde(default)]
    pub seccomp_cache: Option<PathBuf>,
}

/// Runs the exec monitor for `<dir>/exec.json` to the end of its process.
/// Returns 0 when the outcome was reported, 1 when it could not even read
/// its settings or record the outcome. Must be called from a
/// single-threaded process: it forks.
pub fn run(dir: &Path) -> i32 {
    prepare_process();
    let cfg = match read_json::<ExecConfig>(&dir.join(EXEC_FILE)) {
        Ok(cfg) => cfg,
        Err(message) => {
            emit(&failed(message));
            return 1;
        }
    };
    let last = supervise(&cfg);
    let mut code = 0;
    if let Some(path) = &cfg.exit_path {
        if let Err(e) = write_exit_file(path, &last) {
            tracing::error!(error = %e, "writing exec exit file");
            code = 1;
        }
    }
    emit(&last);
    code
}

fn supervise(cfg: &ExecConfig) -> MonitorEvent {
    if !single_threaded() {
        return failed("the exec monitor must run in a single-threaded process");
    }
    let mut hub = match &cfg.attach_socket {
        Some(path) => match Hub::bind(path) {
            Ok(h) => Some(h),
            Err(e) => return failed(e.to_string()),
        },
        None => None,
    };
    let last = run_exec(cfg, hub.as_mut());
    if let Some(h) = &mut hub {
        h.finish(&serde_json::to_vec(&last).unwrap_or_default());
    }
    last
}

fn not_running(pid: i32) -> MonitorEvent {
    failed(format!("container process {pid} is not running"))
}

fn run_exec(cfg: &ExecConfig, mut hub: Option<&mut Hub>) -> MonitorEvent {
    let mnt = format!("/proc/{}/ns/mnt", cfg.pid);
    if cfg.pid <= 0 || std::fs::metadata(&mnt).is_err() {
        return not_running(cfg.pid);
    }
    // A container always has a mount namespace of its own; a process that
    // shares the monitor's is not one (a recycled pid, a wrong number).
    if same_namespace(&mnt, "/proc/self/ns/mnt") {
        return failed(format!(
            "process {} is not in a container: it shares the host's mount namespace",
            cfg.pid
        ));
    }
    let process = &cfg.process;
    let spec_size = process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    let opts = StdioOptions {
        terminal: process.terminal() == Some(true),
        open_stdin: cfg.open_stdin,
        wait_for_attach: cfg.wait_for_attach && hub.is_some(),
        console_size: cfg.console_size.or(spec_size),
    };
    // Only children enter a pid namespace: join it before the fork.
    let own_pid_ns = format!("/proc/{}/ns/pid", cfg.pid);
    if !same_namespace(&own_pid_ns, "/proc/self/ns/pid") {
        let joined = std::fs::File::open(&own_pid_ns)
            .map_err(|_| not_running(cfg.pid))
            .and_then(|f| {
                nix::sched::setns(f, CloneFlags::CLONE_NEWPID).map_err(|e| {
                    failed(format!(
                        "joining the container's pid namespace: {}",
                        errno_text(e)
                    ))
                })
            });
        if let Err(ev) = joined {
            return ev;
        }
    }
    let (child_io, parent_io) = match crate::stdio::prepare(opts) {
        Ok(p) => p,
        Err(e) => return failed(format!("creating stdio: {e}")),
    };
    let (sync_r, sync_w) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return failed(format!("pipe: {}", errno_text(e))),
    };
    // SAFETY: this process is single-threaded (checked in `supervise`), so
    // the child may allocate and run ordinary Rust code until it execs.
    let fork = unsafe { nix::unistd::fork() };
    let pid = match fork {
        Ok(ForkResult::Child) => {
            drop((parent_io, sync_r));
            child_main(cfg, child_io, sync_w)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return failed(format!("fork: {}", errno_text(e))),
    };
    drop((child_io, sync_w));
    let streams = match finish_start(pid, parent_io, hub.as_deref_mut(), sync_r) {
        Ok(s) => s,
        Err(ev) => return ev,
    };
    emit(&MonitorEvent::Started { pid: pid.as_raw() });
    crate::footprint::release_startup_memory();
    let opts = RelayOptions {
        // An exec's stdin cannot be attached to again: its end is final.
        stdin_once: true,
        drain_after_exit: true,
    };
    let exit_code = relay(pid, streams, None, hub, opts);
    reap_all();
    MonitorEvent::Exited {
        exit_code,
        finished_at: timestamp(chrono::Utc::now()),
        // Set from the container's cgroup once cgroups land.
        oom_killed: false,
    }
}

fn same_namespace(a: &str, b: &str) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn child_main(cfg: &ExecConfig, stdio: ChildStdio, sync: OwnedFd) -> ! {
    last_steps::child_main(sync, |_| setup_and_exec(cfg, stdio))
}

/// The namespaces joined through `/proc/<pid>/ns` (all opened before the
/// first join: after the mount namespace the host's `/proc` is out of
/// sight). A remapped container's user namespace comes last: joining it
/// gives up the host's privileges the other joins need.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("user", CloneFlags::CLONE_NEWUSER),
];

/// Joins the container's cgroups and namespaces.
fn enter_container(pid: i32, cgroup_parent: Option<&str>) -> Result<(), ExecError> {
    let gone = || setup_err(format!("container process {pid} is not running"));
    let mut joins = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        if same_namespace(&theirs, &format!("/proc/self/ns/{name}")) {
            continue;
        }
        let f = std::fs::File::open(&theirs).map_err(|_| gone())?;
        joins.push((name, flag, f));
    }
    if let Some(parent) = cgroup_parent.filter(|p| !p.trim_matches('/').is_empty()) {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(|_| gone())?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| setup_err(format!("reading /proc/self/mountinfo: {e}")))?;
        for file in cgroup_procs_files(&cgroups, &mountinfo, parent) {
            // "0" is the writing process.
            std::fs::write(&file, "0")
                .map_err(|e| setup_err(format!("joining cgroup {}: {e}", file.display())))?;
        }
    }
    for (name, flag, f) in joins {
        nix::sched::setns(f, flag)
            .map_err(|e| errno_err(&format!("joining the container's {name} namespace"), e))?;
    }
    Ok(())
}

/// One mount of a cgroup hierarchy from `/proc/self/mountinfo`.
#[derive(Debug)]
struct CgroupMount<'a> {
    root: &'a str,
    mount_point: String,
    /// `cgroup2`, or `cgroup` with its super options (controllers, `name=`).
    v2: bool,
    options: Vec<&'a str>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (b[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount<'_>> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("").split(',').collect();
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            Some(CgroupMount {
                root: left.get(3)?,
                mount_point: unescape(left.get(4)?),
                v2,
                options,
            })
        })
        .collect()
}

/// The `cgroup.procs` files of the cgroups in `proc_cgroup` (the text of
/// `/proc/<pid>/cgroup`) whose path contains the component(s) `parent`,
/// located through the cgroup mounts in `mountinfo`. Cgroups outside
/// `parent` and hierarchies not mounted here are left out. Pure.
pub fn cgroup_procs_files(proc_cgroup: &str, mountinfo: &str, parent: &str) -> Vec<PathBuf> {
    let needle = format!("/{}/", parent.trim_matches('/'));
    let mounts = cgroup_mounts(mountinfo);
    let mut files: Vec<PathBuf> = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !format!("{path}/").contains(&needle) {
            continue;
        }
        let wanted: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        let mount = mounts.iter().find(|m| {
            if wanted.is_empty() {
                m.v2
            } else {
                !m.v2 && wanted.iter().all(|c| m.options.contains(c))
            }
        });
        let Some(m) = mount else { continue };
        let rel = match m.root {
            "/" => Some(path),
            root => path
                .strip_prefix(root)
                .filter(|r| r.is_empty() || r.starts_with('/')),
        };
        let Some(rel) = rel else { continue };
        let file = Path::new(&m.mount_point)
            .join(rel.trim_start_matches('/'))
            .join("cgroup.procs");
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

fn setup_and_exec(cfg: &ExecConfig, stdio: ChildStdio) -> Result<Infallible, ExecError> {
    last_steps::install_stdio(&stdio.stdin, &stdio.stdout, &stdio.stderr)?;
    last_steps::reset_signals()?;
    // The filter comes from the host's cache before the container's mount
    // namespace is entered: after it, the cache path would be the
    // container's own, which it could write (and so pick its filter).
    let filter = match &cfg.seccomp {
        Some(section) => Some(
            crate::seccomp::filter_for(section, cfg.seccomp_cache.as_deref()).map_err(setup_err)?,
        ),
        None => None,
    };
    enter_container(cfg.pid, cfg.cgroup_parent.as_deref())?;
    let program = Program {
        process: &cfg.process,
        user: cfg.user.as_deref(),
        group_names: &cfg.group_names,
        filter: filter.as_ref(),
        create_cwd: false,
        io: &stdio.io,
    };
    last_steps::exec_program(&program, || Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 /sub /mnt/odd\\040dir rw,nosuid shared:17 - cgroup cgroup rw,pids
";

    #[test]
    fn cgroup_files_only_under_the_parent() {
        let cgroups = "\
12:pids:/sub/berth/abc
5:memory:/berth/abc
4:cpu,cpuacct:/berth/abc
3:devices:/berth/abc
1:name=systemd:/user.slice/session-1.scope
0::/berth/abc
";
        let files = cgroup_procs_files(cgroups, MOUNTINFO_V1, "berth");
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            files,
            [
                "/mnt/odd dir/berth/abc/cgroup.procs",
                "/sys/fs/cgroup/memory/berth/abc/cgroup.procs",
                "/sys/fs/cgroup/cpu,cpuacct/berth/abc/cgroup.procs",
                "/sys/fs/cgroup/unified/berth/abc/cgroup.procs",
            ]
        );
        // No cgroup under the parent: nothing to join.
        assert!(cgroup_procs_files("0::/user.slice\n", MOUNTINFO_V1, "berth").is_empty());
        // The name must be a whole component.
        assert!(cgroup_procs_files("0::/berthy/x\n", MOUNTINFO_V1, "berth").is_empty());
    }

    #[test]
    fn config_defaults() {
        let cfg: ExecConfig = serde_json::from_str(
            r#"{"pid":5,"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap();
        assert_eq!(cfg.pid, 5);
        assert!(!cfg.open_stdin && !cfg.wait_for_attach);
        assert!(cfg.attach_socket.is_none() && cfg.user.is_none());
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/plain\\"), "/plain\\");
    }
}
