//! What the container's first process does between `fork` and `execve`.
//!
//! It runs as pid 1 of the new pid namespace, in a copy of the monitor's
//! (single-threaded) address space: stdio, namespaces, root filesystem,
//! devices, hostname, `pivot_root`, masking, user, capabilities, and the
//! executable lookup. Any failure is written to the sync pipe as one JSON
//! [`ExecError`]; a successful `execve` closes the pipe (it is close-on-exec)
//! and the monitor reads EOF with nothing.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::cgroups::Cgroup;
use crate::exec::{ExecError, EXIT_SETUP_FAILED};
use crate::monitor::Overlay;
use crate::mounts::errno_text;
use crate::seccomp::Bpf;
use crate::sys::Sys;
use crate::{
    caps, devices, exec, init_process, mounts, rlimit, seccomp, sysctl, user, GROUPS_ANNOTATION,
    INIT_ANNOTATION, SECCOMP_CACHE_ANNOTATION, USER_ANNOTATION,
};

/// Descriptors the child starts with.
pub(crate) struct ChildFds {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub sync: OwnedFd,
    /// Terminal and start gate, used just before exec (see [`crate::stdio`]).
    pub io: crate::stdio::ChildIo,
}

/// The child's whole life: set up, exec, or report and `_exit`. With a
/// cgroup, the child joins it before anything else.
pub(crate) fn child_main(
    sys: &dyn Sys,
    spec: &Spec,
    root: &Path,
    overlay: Option<&Overlay>,
    cgroup: Option<&Cgroup>,
    fds: ChildFds,
) -> ! {
    let ChildFds {
        stdin,
        stdout,
        stderr,
        sync,
        io,
    } = fds;
    let mut sync = Some(sync);
    // A panic must never unwind into the monitor's code in this child.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exec::undumpable()?;
        if let Some(cg) = cgroup {
            cg.add_self()
                .map_err(|e| setup_err(format!("joining the container's cgroup: {e}")))?;
        }
        setup_and_exec(
            sys,
            spec,
            root,
            overlay,
            (stdin, stdout, stderr),
            &mut sync,
            &io,
        )
    }));
    let err = match outcome {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e,
        Err(_) => setup_err("container setup panicked"),
    };
    if let Some(sync) = sync {
        let mut sync = std::fs::File::from(sync);
        if let Ok(text) = serde_json::to_vec(&err) {
            let _ = sync.write_all(&text);
        }
    }
    // SAFETY: _exit ends this forked child without running the parent's
    // atexit handlers or flushing stdio buffers copied from the monitor.
    unsafe { libc::_exit(err.exit_code) }
}

pub(crate) fn setup_err(what: impl std::fmt::Display) -> ExecError {
    ExecError {
        message: what.to_string(),
        exit_code: EXIT_SETUP_FAILED,
    }
}

pub(crate) fn errno_err(op: &str, e: Errno) -> ExecError {
    setup_err(format!("{op}: {}", errno_text(e)))
}

fn install_stdio(stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd) -> Result<(), ExecError> {
    nix::unistd::dup2_stdin(&stdin).map_err(|e| errno_err("dup2 stdin", e))?;
    nix::unistd::dup2_stdout(&stdout).map_err(|e| errno_err("dup2 stdout", e))?;
    nix::unistd::dup2_stderr(&stderr).map_err(|e| errno_err("dup2 stderr", e))?;
    Ok(())
}

/// Undoes the monitor's signal setup: the container starts with default
/// dispositions (Rust ignores SIGPIPE) and nothing blocked.
pub(crate) fn reset_signals() -> Result<(), ExecError> {
    for sig in [Signal::SIGPIPE, Signal::SIGCHLD] {
        // SAFETY: installing SIG_DFL runs no Rust code in signal context.
        unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }
            .map_err(|e| errno_err("resetting signals", e))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| errno_err("unblocking signals", e))
}

/// Which namespaces the container has apart from the host's.
struct OwnNamespaces {
    /// Created here (not joined).
    created: CloneFlags,
    /// Created or joined.
    private: CloneFlags,
}

/// Enters or creates every namespace but pid (the monitor did that one).
fn enter_namespaces(sys: &dyn Sys, spec: &Spec) -> Result<OwnNamespaces, ExecError> {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut new = CloneFlags::empty();
    let mut joined = CloneFlags::empty();
    for ns in &namespaces {
        let flag = match ns.typ() {
            LinuxNamespaceType::Pid => continue,
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            other => return Err(setup_err(format!("{other} namespaces are not supported"))),
        };
        match ns.path() {
            Some(path) => {
                sys.setns(path, flag).map_err(|e| {
                    errno_err(
                        &format!("joining {} namespace {}", ns.typ(), path.display()),
                        e,
                    )
                })?;
                joined |= flag;
            }
            None => new |= flag,
        }
    }
    if !new.contains(CloneFlags::CLONE_NEWNS) {
        return Err(setup_err("the container needs its own mount namespace"));
    }
    sys.unshare(new)
        .map_err(|e| errno_err("creating namespaces", e))?;
    Ok(OwnNamespaces {
        created: new,
        private: new | joined,
    })
}

fn apply_rlimits(spec: &Spec) -> Result<(), ExecError> {
    let limits = spec
        .process()
        .as_ref()
        .and_then(|p| p.rlimits().clone())
        .unwrap_or_default();
    rlimit::apply(&limits).map_err(setup_err)
}

/// The compiled seccomp filter for the spec, read from the cache or
/// compiled (before `pivot_root`: the cache is a host path).
fn seccomp_filter(spec: &Spec) -> Result<Option<Bpf>, ExecError> {
    let Some(section) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let cache = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(SECCOMP_CACHE_ANNOTATION))
        .map(PathBuf::from);
    seccomp::filter_for(section, cache.as_deref())
        .map(Some)
        .map_err(setup_err)
}

fn load_seccomp(filter: Option<&Bpf>) -> Result<(), ExecError> {
    match filter {
        Some(f) => seccomp::install(f).map_err(setup_err),
        None => Ok(()),
    }
}

pub(crate) fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> Result<(), ExecError> {
    nix::sys::prctl::set_keepcaps(true).map_err(|e| errno_err("PR_SET_KEEPCAPS", e))?;
    let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).map_err(|e| errno_err("setgroups", e))?;
    let gid = Gid::from_raw(gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| errno_err("setgid", e))?;
    let uid = Uid::from_raw(uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| errno_err("setuid", e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| errno_err("PR_SET_KEEPCAPS", e))
}

/// Mounts the root filesystem and the spec's mounts, fills `/dev`, pivots
/// into the root and hides what Docker hides.
fn build_rootfs(
    sys: &dyn Sys,
    spec: &Spec,
    root: &Path,
    overlay: Option<&Overlay>,
) -> Result<(), ExecError> {
    let linux = spec.linux().as_ref();
    let propagation =
        mounts::root_propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))
            .map_err(setup_err)?;
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let parent = crate::mountinfo::containing(&crate::mountinfo::read(), &real_root)
        .map_or_else(|| std::path::PathBuf::from("/"), |e| e.mount_point);
    mounts::mount_root(sys, root, overlay, propagation, &parent).map_err(setup_err)?;
    let spec_mounts = spec.mounts().clone().unwrap_or_default();
    for m in &spec_mounts {
        mounts::mount_one(sys, root, m).map_err(setup_err)?;
    }
    let own_dev = spec_mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
    if own_dev {
        let spec_devices = linux.and_then(|l| l.devices().as_deref());
        let mut nodes = devices::default_nodes();
        nodes.extend(devices::spec_nodes(spec_devices.unwrap_or_default()).map_err(setup_err)?);
        devices::create_nodes(sys, root, &nodes).map_err(setup_err)?;
        let kcore = Path::new("/proc/kcore").exists();
        devices::create_links(sys, root, &devices::default_links(kcore)).map_err(setup_err)?;
    }
    mounts::pivot(sys, root).map_err(setup_err)?;
    if let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) {
        sysctl::apply(Path::new("/proc"), sysctls).map_err(setup_err)?;
    }
    let slash = Path::new("/");
    let masked = linux.and_then(|l| l.masked_paths().as_deref());
    mounts::mask_paths(sys, slash, masked.unwrap_or_default()).map_err(setup_err)?;
    let readonly = linux.and_then(|l| l.readonly_paths().as_deref());
    mounts::readonly_paths(sys, slash, readonly.unwrap_or_default()).map_err(setup_err)?;
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        mounts::remount_readonly(sys, slash).map_err(setup_err)?;
    }
    Ok(())
}

/// Who the process runs as, and its supplementary groups. With the
/// [`USER_ANNOTATION`] the user is resolved as Docker does; without it the
/// spec's numeric ids are used as they stand (runc's behaviour).
fn identity(spec: &Spec, process: &Process) -> Result<(user::ExecUser, Vec<u32>), ExecError> {
    let spec_user = process.user();
    let slash = Path::new("/");
    let who = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(USER_ANNOTATION));
    let resolved = match who {
        Some(u) => user::resolve_in(slash, u, 0),
        None => user::resolve_in(slash, "", spec_user.uid()).map(|mut r| {
            r.uid = spec_user.uid();
            r.gid = spec_user.gid();
            r.sgids.clear();
            r
        }),
    }
    .map_err(setup_err)?;
    // Docker puts the primary group into the supplementary list too
    // (CVE-2022-36109); the spec's additional gids (`--group-add`) follow.
    let mut candidates = Vec::new();
    if who.is_some() {
        candidates.push(resolved.gid);
        candidates.extend(&resolved.sgids);
    }
    candidates.extend(spec_user.additional_gids().clone().unwrap_or_default());
    let names = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(GROUPS_ANNOTATION))
        .filter(|n| !n.is_empty());
    if let Some(names) = names {
        let groups = user::parse_group(&std::fs::read_to_string("/etc/group").unwrap_or_default());
        for name in names.split(',') {
            let g = groups.iter().find(|g| g.name == name).ok_or_else(|| {
                setup_err(format!(
                    "unable to find group {name}: no matching entries in group file"
                ))
            })?;
            candidates.push(g.gid);
        }
    }
    let mut groups = Vec::new();
    for g in candidates {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok((resolved, groups))
}

#[allow(clippy::too_many_arguments)]
fn setup_and_exec(
    sys: &dyn Sys,
    spec: &Spec,
    root: &Path,
    overlay: Option<&Overlay>,
    (stdin, stdout, stderr): (OwnedFd, OwnedFd, OwnedFd),
    sync: &mut Option<OwnedFd>,
    io: &crate::stdio::ChildIo,
) -> Result<std::convert::Infallible, ExecError> {
    install_stdio(stdin, stdout, stderr)?;
    reset_signals()?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| setup_err("config.json has no process"))?;
    let filter = seccomp_filter(spec)?;
    let ns = enter_namespaces(sys, spec)?;
    if ns.created.contains(CloneFlags::CLONE_NEWNET) {
        sys.loopback_up()
            .map_err(|e| errno_err("bringing up lo", e))?;
    }
    if let Some(h) = spec.hostname() {
        if !ns.private.contains(CloneFlags::CLONE_NEWUTS) {
            return Err(setup_err(
                "unable to set hostname without a private UTS namespace",
            ));
        }
        sys.sethostname(h)
            .map_err(|e| errno_err("sethostname", e))?;
    }
    build_rootfs(sys, spec, root, overlay)?;

    let (resolved, groups) = identity(spec, process)?;
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", resolved.home));
    }
    exec::enter_cwd(process.cwd(), true)?;
    apply_rlimits(spec)?;
    // No capabilities section: leave them as they are (as runc does).
    let capabilities = process.capabilities().as_ref();
    if let Some(c) = capabilities {
        caps::drop_bounding(c.bounding()).map_err(setup_err)?;
    }
    // Loading a filter needs CAP_SYS_ADMIN unless no_new_privs is set: then
    // it goes in as late as possible, else before the user switch drops it.
    let nnp = process.no_new_privileges() == Some(true);
    if !nnp {
        load_seccomp(filter.as_ref())?;
    }
    switch_user(resolved.uid, resolved.gid, &groups)?;
    // Die with the monitor (set after the user switch, which clears it): a
    // container whose monitor was killed must not run on unsupervised, and
    // its end releases its namespaces (the network one with its veths).
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| errno_err("PR_SET_PDEATHSIG", e))?;
    if let Some(c) = capabilities {
        caps::apply_sets(c).map_err(setup_err)?;
    }
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| errno_err("PR_SET_NO_NEW_PRIVS", e))?;
    }
    let umask = process.user().umask().unwrap_or(0o022);
    sys.umask(nix::sys::stat::Mode::from_bits_truncate(umask));

    let args = process
        .args()
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| setup_err("config.json has no process args"))?;
    let path: PathBuf = exec::find_executable(&args[0], exec::path_of(&env))?;
    io.before_exec()?;
    exec::cloexec_from_3()?;
    if nnp {
        load_seccomp(filter.as_ref())?;
    }
    let with_init = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(INIT_ANNOTATION))
        .is_some_and(|v| v == "true");
    if with_init {
        start_init(sync)?;
    }
    Err(exec::execve(&path, &args, &env))
}

/// `--init`: forks; the parent stays as pid 1 and never returns, the child
/// goes on to exec the program. The parent closes its copy of the sync pipe
/// so the monitor hears of the exec (or of a failure) from the child alone.
fn start_init(sync: &mut Option<OwnedFd>) -> Result<(), ExecError> {
    init_process::block().map_err(|e| errno_err("blocking signals for init", e))?;
    // SAFETY: this process is single-threaded (a fork of the single-threaded
    // monitor), so the child may go on running ordinary code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            init_process::unblock_all().map_err(|e| errno_err("unblocking signals", e))
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(sync.take());
            init_process::run(child)
        }
        Err(e) => Err(errno_err("forking the program under init", e)),
    }
}
