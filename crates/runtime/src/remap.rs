//! A container in a user namespace of its own (`--userns-remap`): the
//! spec names a new `user` namespace and its `uidMappings`/`gidMappings`.
//!
//! The container's files stay on disk with the ids the container sees;
//! the kernel shifts them with idmapped mounts instead of a shifted copy
//! of every layer. The order is dictated by namespace ownership:
//!
//! 1. [`plan`] (pure, before anything runs) checks the spec and points
//!    every bind mount carrying the `idmap` option at its place under
//!    `<bundle>/idmap`, where the idmapped copy will be.
//! 2. [`Plan::enter`]: the monitor takes a private mount namespace (what it
//!    mounts there goes when it ends) and joins the namespaces the spec
//!    gives by path (the network namespace the engine made belongs to the
//!    host's user namespace: it must be joined before the new one exists).
//! 3. [`Plan::clone_child`]: the first process is cloned into the new user
//!    namespace and a new pid namespace it owns (so it may mount `/proc`),
//!    and waits.
//! 4. [`Plan::prepare`]: the monitor writes the maps, makes the idmapped
//!    mounts (each layer, the writable layer's directory, each `idmap`
//!    bind) and mounts the overlay on the root, then lets the child go.
//! 5. [`become_root`]: the child becomes root of its namespace (the ids
//!    it creates files with must be mapped) and goes on as any container.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::errno::errno_text;
use crate::mounts::Overlay;
use crate::program::{errno_err, setup_err, ExecError};
use crate::subid::IdRange;

/// The mount option asking for an idmapped bind (OCI runtime spec 1.1),
/// shifted by the container's own mapping.
pub const IDMAP_OPTION: &str = "idmap";

/// What the monitor does for a container with its own user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
    /// `<bundle>/idmap`: a tmpfs in the monitor's mount namespace holding
    /// the idmapped mounts.
    pub dir: PathBuf,
    /// Each `idmap` bind: its source and the idmapped copy's path (the
    /// spec's source now).
    pub binds: Vec<IdmappedBind>,
    /// The container gets a pid namespace of its own (always, unless the
    /// spec is refused).
    pub new_pid: bool,
    /// Where the monitor mounts the container's sysfs when the container
    /// joins a network namespace its user namespace does not own (the
    /// engine's): only a mounter in that network namespace with the
    /// host's privileges shows its interfaces. The spec binds it.
    pub sysfs: Option<PathBuf>,
    /// `net.*` sysctls of a joined network namespace: written by the
    /// monitor, which has the privileges over it the container lacks.
    pub net_sysctls: std::collections::HashMap<String, String>,
}

/// One idmapped bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdmappedBind {
    pub source: PathBuf,
    pub path: PathBuf,
    /// `rbind`: submounts come along (and are idmapped too).
    pub recursive: bool,
}

fn ranges(maps: Option<&Vec<LinuxIdMapping>>) -> Vec<IdRange> {
    maps.map(|m| {
        m.iter()
            .map(|r| IdRange {
                inside: r.container_id(),
                outside: r.host_id(),
                size: r.size(),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Checks a spec naming a new user namespace and rewrites its `idmap`
/// binds to their idmapped copies under `<bundle>/idmap`. `None`: the
/// container has no user namespace of its own.
pub fn plan(spec: &mut Spec, bundle: &Path) -> Result<Option<Plan>, String> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(None);
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let Some(user) = namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::User)
    else {
        return Ok(None);
    };
    if user.path().is_some() {
        return Err("joining another user namespace is not supported".into());
    }
    let pid = namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Pid);
    match pid.map(|p| p.path().is_some()) {
        None => return Err("a container with its own user namespace needs its own pid namespace: it cannot share the host's".into()),
        Some(true) => return Err("a container with its own user namespace cannot join another pid namespace".into()),
        Some(false) => {}
    }
    let uids = ranges(linux.uid_mappings().as_ref());
    let gids = ranges(linux.gid_mappings().as_ref());
    if uids.is_empty() || gids.is_empty() {
        return Err("a new user namespace needs uidMappings and gidMappings".into());
    }
    let dir = bundle.join("idmap");
    let mut binds = Vec::new();
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in mounts.iter_mut() {
        let options = m.options().clone().unwrap_or_default();
        if !options.iter().any(|o| o == IDMAP_OPTION) {
            continue;
        }
        let is_bind = m.typ().as_deref() == Some("bind")
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let Some(source) = m.source().clone().filter(|_| is_bind) else {
            return Err(format!(
                "mount {}: the idmap option applies to bind mounts only",
                m.destination().display()
            ));
        };
        let path = dir.join(format!("m{}", binds.len()));
        binds.push(IdmappedBind {
            source,
            path: path.clone(),
            recursive: options.iter().any(|o| o == "rbind"),
        });
        m.set_source(Some(path));
        m.set_options(Some(
            options.into_iter().filter(|o| o != IDMAP_OPTION).collect(),
        ));
    }
    let joined_net = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_some());
    let mut sysfs = None;
    let mut net_sysctls = std::collections::HashMap::new();
    if let (true, Some(linux)) = (joined_net, spec.linux_mut()) {
        if let Some(all) = linux.sysctl().clone() {
            let (net, rest): (std::collections::HashMap<_, _>, _) =
                all.into_iter().partition(|(k, _)| k.starts_with("net."));
            net_sysctls = net;
            linux.set_sysctl((!rest.is_empty()).then_some(rest));
        }
    }
    if joined_net {
        for m in mounts
            .iter_mut()
            .filter(|m| m.typ().as_deref() == Some("sysfs"))
        {
            let path = dir.join("sys");
            let mut options = vec!["rbind".to_string()];
            options.extend(
                m.options()
                    .iter()
                    .flatten()
                    .filter(|o| matches!(o.as_str(), "ro" | "nosuid" | "nodev" | "noexec"))
                    .cloned(),
            );
            m.set_typ(Some("bind".into()));
            m.set_source(Some(path.clone()));
            m.set_options(Some(options));
            sysfs = Some(path);
        }
    }
    spec.set_mounts(Some(mounts));
    Ok(Some(Plan {
        uids,
        gids,
        dir,
        binds,
        new_pid: true,
        sysfs,
        net_sysctls,
    }))
}

/// The idmapped copy of the writable layer's directory.
const UPPER_DIR: &str = "u";

impl Plan {
    /// The monitor's side before the clone: a private mount namespace
    /// (slave to the host's) and the spec's namespaces given by path
    /// (but pid, which [`plan`] refused).
    pub fn enter(&self, spec: &Spec) -> Result<(), String> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("creating the monitor's mount namespace: {}", errno_text(e)))?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("making the monitor's mounts slave: {}", errno_text(e)))?;
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in namespaces {
            let (Some(path), Some(flag)) = (ns.path(), joined_flag(ns.typ())) else {
                continue;
            };
            let f = std::fs::File::open(path)
                .map_err(|e| format!("opening {}: {e}", path.display()))?;
            nix::sched::setns(f, flag).map_err(|e| {
                format!(
                    "joining {} namespace {}: {}",
                    ns.typ(),
                    path.display(),
                    errno_text(e)
                )
            })?;
        }
        Ok(())
    }

    /// Clones the first process into a new user namespace (and a new pid
    /// namespace owned by it). Like `fork`: `Ok(None)` in the child.
    pub fn clone_child(&self) -> Result<Option<Pid>, Errno> {
        let mut flags = libc::CLONE_NEWUSER;
        if self.new_pid {
            flags |= libc::CLONE_NEWPID;
        }
        // SAFETY: a raw clone without CLONE_VM and with no new stack is a
        // fork (the child gets a copy of this single-threaded process's
        // memory and continues here); the other arguments are unused.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        match Errno::result(rc)? {
            0 => Ok(None),
            pid => Ok(Some(Pid::from_raw(pid as i32))),
        }
    }

    /// The monitor's side after the clone: the maps of `pid`'s user
    /// namespace, the idmapped mounts, and the overlay on `root`.
    pub fn prepare(&self, pid: Pid, overlay: Option<&Overlay>, root: &Path) -> Result<(), String> {
        // Root of the host's user namespace: any ranges, no helper,
        // `setgroups` left allowed.
        crate::userns::write_maps_directly(pid.as_raw(), &self.uids, &self.gids, false)
            .map_err(|e| e.to_string())?;
        let userns = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map_err(|e| format!("opening the container's user namespace: {e}"))?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        nix::mount::mount(
            Some("tmpfs"),
            &self.dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0711"),
        )
        .map_err(|e| {
            format!(
                "mounting tmpfs on {}: {}",
                self.dir.display(),
                errno_text(e)
            )
        })?;
        for b in &self.binds {
            idmapped(&b.source, &b.path, userns.as_fd(), b.recursive)?;
        }
        // The monitor is in the container's network namespace (`enter`).
        crate::sysctl::apply(Path::new("/proc"), &self.net_sysctls)?;
        if let Some(sys) = &self.sysfs {
            std::fs::create_dir_all(sys).map_err(|e| format!("creating {}: {e}", sys.display()))?;
            nix::mount::mount(
                Some("sysfs"),
                sys,
                Some("sysfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            )
            .map_err(|e| format!("mounting sysfs on {}: {}", sys.display(), errno_text(e)))?;
        }
        match overlay {
            Some(ov) => self.mount_overlay(ov, root, userns.as_fd()),
            None => idmapped(root, root, userns.as_fd(), true),
        }
    }

    /// The overlay over idmapped copies of its layers.
    fn mount_overlay(
        &self,
        ov: &Overlay,
        root: &Path,
        userns: BorrowedFd<'_>,
    ) -> Result<(), String> {
        if ov.fuse {
            return Err(
                "fuse-overlayfs cannot serve a container with its own user namespace".into(),
            );
        }
        let parent = ov.upper.parent().filter(|p| Some(*p) == ov.work.parent());
        let (Some(parent), Some(upper), Some(work)) =
            (parent, ov.upper.file_name(), ov.work.file_name())
        else {
            return Err("the writable layer and overlay's work directory must be siblings".into());
        };
        let mut lower = Vec::new();
        for (i, layer) in ov.lower.iter().enumerate() {
            let path = self.dir.join(format!("l{i}"));
            idmapped(layer, &path, userns, false)?;
            lower.push(path);
        }
        let shifted = self.dir.join(UPPER_DIR);
        idmapped(parent, &shifted, userns, false)?;
        let shifted = Overlay {
            lower,
            upper: shifted.join(upper),
            work: shifted.join(work),
            userxattr: ov.userxattr,
            fuse: false,
        };
        // overlayfs works in its layers with its mounter's credentials: the
        // files it makes itself must get ids the idmapped upper can map.
        let _as_root = AsContainerRoot::enter(host_id(&self.uids), host_id(&self.gids))?;
        crate::mounts::mount_overlay(&crate::sys::RealSys, &shifted, root)
            .map_err(|e| e.to_string())
    }
}

/// The host id of the container's id 0 (the maps were checked to hold it).
fn host_id(ranges: &[IdRange]) -> u32 {
    ranges
        .iter()
        .find(|r| r.inside == 0)
        .map_or(0, |r| r.outside)
}

/// While alive, the monitor makes files as the container's root (file
/// system ids) and keeps its capabilities; the drop goes back to root
/// (the kernel then restores the file system capabilities itself).
struct AsContainerRoot;

impl AsContainerRoot {
    fn enter(uid: u32, gid: u32) -> Result<AsContainerRoot, String> {
        nix::unistd::setfsgid(Gid::from_raw(gid));
        nix::unistd::setfsuid(Uid::from_raw(uid));
        let guard = AsContainerRoot;
        let permitted = caps::read(None, caps::CapSet::Permitted)
            .map_err(|e| format!("reading the monitor's capabilities: {e}"))?;
        caps::set(None, caps::CapSet::Effective, &permitted)
            .map_err(|e| format!("keeping the monitor's capabilities: {e}"))?;
        Ok(guard)
    }
}

impl Drop for AsContainerRoot {
    fn drop(&mut self) {
        nix::unistd::setfsuid(Uid::from_raw(0));
        nix::unistd::setfsgid(Gid::from_raw(0));
    }
}

/// The flag for a namespace of `typ` the monitor joins by path.
fn joined_flag(typ: LinuxNamespaceType) -> Option<CloneFlags> {
    match typ {
        LinuxNamespaceType::Network => Some(CloneFlags::CLONE_NEWNET),
        LinuxNamespaceType::Ipc => Some(CloneFlags::CLONE_NEWIPC),
        LinuxNamespaceType::Uts => Some(CloneFlags::CLONE_NEWUTS),
        LinuxNamespaceType::Cgroup => Some(CloneFlags::CLONE_NEWCGROUP),
        _ => None,
    }
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Attaches at `target` (made as a directory or file like `source`) a
/// copy of the mount tree at `source`, idmapped through `userns`.
fn idmapped(
    source: &Path,
    target: &Path,
    userns: BorrowedFd<'_>,
    recursive: bool,
) -> Result<(), String> {
    use rustix::mount::{MoveMountFlags, OpenTreeFlags};
    let fail = |op: &str, e: rustix::io::Errno| {
        format!(
            "{op} {} (idmapped at {}): {}",
            source.display(),
            target.display(),
            errno_text(Errno::from_raw(e.raw_os_error()))
        )
    };
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree =
        rustix::mount::open_tree(rustix::fs::CWD, source, flags).map_err(|e| fail("cloning", e))?;
    let attr = crate::sys::MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..Default::default()
    };
    let at = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    crate::sys::mount_setattr(tree.as_raw_fd(), c"", at, &attr)
        .map_err(|e| format!("idmapping {}: {}", source.display(), errno_text(e)))?;
    let is_dir = std::fs::metadata(source)
        .map(|m| m.is_dir())
        .unwrap_or(true);
    if target != source {
        let made = if is_dir {
            std::fs::create_dir_all(target)
        } else {
            std::fs::write(target, b"")
        };
        made.map_err(|e| format!("creating {}: {e}", target.display()))?;
    }
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail("attaching", e))
}

/// The child's side: waits until the monitor has written the maps and
/// made the mounts (a byte on `go`; EOF means it failed and reports
/// why), then becomes root of its user namespace with no supplementary
/// groups: every file it creates while setting up then has mapped ids.
pub(crate) fn become_root(go: OwnedFd) -> Result<(), ExecError> {
    let mut byte = [0u8; 1];
    match std::fs::File::from(go).read(&mut byte) {
        Ok(1) => {}
        _ => return Err(setup_err("the monitor did not set up the user namespace")),
    }
    nix::unistd::setgroups(&[]).map_err(|e| errno_err("setgroups in the user namespace", e))?;
    let (uid, gid) = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| errno_err("becoming group 0 of the user namespace", e))?;
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| errno_err("becoming root of the user namespace", e))
}

#[cfg(test)]
mod tests;
