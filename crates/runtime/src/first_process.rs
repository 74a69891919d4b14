//! What the container's first process does between `fork` and `execve`.
//!
//! It runs as pid 1 of the new pid namespace, in a copy of the monitor's
//! (single-threaded) address space: stdio, namespaces, root filesystem,
//! devices, hostname, `pivot_root` and masking; then the last steps it shares
//! with an exec'd process ([`crate::last_steps`]: identity, capabilities,
//! seccomp, the executable lookup). Any failure is written to the sync pipe
//! as one JSON [`ExecError`]; a successful `execve` closes the pipe (it is
//! close-on-exec) and the monitor reads EOF with nothing.

use std::convert::Infallible;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::Cgroup;
use crate::last_steps::{self, Program};
use crate::mounts::Overlay;
use crate::program::{errno_err, setup_err, ExecError};
use crate::seccomp::Bpf;
use crate::sys::Sys;
use crate::{
    devices, mini_init, mounts, seccomp, sysctl, INIT_ANNOTATION, SECCOMP_CACHE_ANNOTATION,
    USER_ANNOTATION,
};

/// Descriptors the child starts with.
pub(crate) struct ChildFds {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub sync: OwnedFd,
    /// Terminal and start gate, used just before exec (see [`crate::stdio`]).
    pub io: crate::stdio::ChildIo,
    /// In a user namespace of its own: the monitor's signal that the maps
    /// and mounts are ready ([`crate::remap`]).
    pub userns_go: Option<OwnedFd>,
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
        userns_go,
    } = fds;
    last_steps::child_main(sync, |sync| {
        if let Some(cg) = cgroup {
            cg.add_self()
                .map_err(|e| setup_err(format!("joining the container's cgroup: {e}")))?;
        }
        let in_userns = userns_go.is_some();
        if let Some(go) = userns_go {
            crate::remap::become_root(go)?;
        }
        last_steps::install_stdio(&stdin, &stdout, &stderr)?;
        drop((stdin, stdout, stderr));
        setup_and_exec(sys, spec, root, overlay, sync, &io, in_userns)
    })
}

/// Which namespaces the container has apart from the host's.
struct OwnNamespaces {
    /// Created here (not joined).
    created: CloneFlags,
    /// Created or joined.
    private: CloneFlags,
}

/// Enters or creates every namespace but pid (the monitor did that one).
/// In a user namespace of its own (`in_userns`) the monitor created it
/// (and the pid namespace) and joined those given by path already.
fn enter_namespaces(
    sys: &dyn Sys,
    spec: &Spec,
    in_userns: bool,
) -> Result<OwnNamespaces, ExecError> {
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
            LinuxNamespaceType::User if in_userns => continue,
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            other => return Err(setup_err(format!("{other} namespaces are not supported"))),
        };
        match ns.path() {
            Some(_) if in_userns => joined |= flag,
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

fn setup_and_exec(
    sys: &dyn Sys,
    spec: &Spec,
    root: &Path,
    overlay: Option<&Overlay>,
    sync: &mut Option<OwnedFd>,
    io: &crate::stdio::ChildIo,
    in_userns: bool,
) -> Result<Infallible, ExecError> {
    last_steps::reset_signals()?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| setup_err("config.json has no process"))?;
    let filter = seccomp_filter(spec)?;
    let ns = enter_namespaces(sys, spec, in_userns)?;
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
    let annotation = |key| spec.annotations().as_ref().and_then(|a| a.get(key));
    let group_names = crate::spec::group_names(spec);
    let with_init = annotation(INIT_ANNOTATION).is_some_and(|v| v == "true");
    let program = Program {
        process,
        user: annotation(USER_ANNOTATION).map(String::as_str),
        group_names: &group_names,
        filter: filter.as_ref(),
        create_cwd: true,
        io,
    };
    last_steps::exec_program(&program, || {
        if with_init {
            start_init(sync)?;
        }
        Ok(())
    })
}

/// `--init`: forks; the parent stays as pid 1 and never returns, the child
/// goes on to exec the program. The parent closes its copy of the sync pipe
/// so the monitor hears of the exec (or of a failure) from the child alone.
fn start_init(sync: &mut Option<OwnedFd>) -> Result<(), ExecError> {
    mini_init::block().map_err(|e| errno_err("blocking signals for init", e))?;
    // SAFETY: this process is single-threaded (a fork of the single-threaded
    // monitor), so the child may go on running ordinary code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            mini_init::unblock_all().map_err(|e| errno_err("unblocking signals", e))
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(sync.take());
            mini_init::run(child)
        }
        Err(e) => Err(errno_err("forking the program under init", e)),
    }
}
