//! The container's mount table: root filesystem (overlay or bind), the spec's
//! mounts, `pivot_root`, masked and read-only paths.
//!
//! All of it runs inside the container's own mount namespace. `/` is first
//! made recursively slave (the OCI default; shared or private when the spec's
//! `rootfsPropagation` asks), and the mount holding the root directory is
//! made private, so the root filesystem and the mounts below it are never
//! visible on the host; only bind mounts asking for `shared` propagation
//! (and the host mounts they come from) stay peers of the host's.
//! A spec mount's destination is opened with [`open_in_root`] and mounted
//! on through `/proc/self/fd/N`, never by its path: a container that swaps
//! a directory on that path for a symlink (say in a volume it shares with
//! the container starting) cannot make the mount, the directories made
//! for it or the file created for it land outside the root (runc's
//! CVE-2021-30465).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::Mount;

pub mod fuse;

use crate::errno::{errno_text, io_errno};
use crate::sys::Sys;

/// Longest `mount(2)` data string the kernel takes (one page, with its NUL).
const MAX_MOUNT_DATA: usize = 4095;

/// The container's overlay root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Overlay {
    /// Read-only layers, lowest first.
    pub lower: Vec<PathBuf>,
    /// The container's writable layer.
    pub upper: PathBuf,
    /// Overlay's work directory (same file system as `upper`).
    pub work: PathBuf,
    /// Overlay's own markers (opaque directories) in `user.overlay.*`
    /// xattrs: a mount inside a user namespace cannot use `trusted.*`.
    #[serde(default)]
    pub userxattr: bool,
    /// Served by `fuse-overlayfs` instead of the kernel
    /// ([`fuse`]).
    #[serde(default)]
    pub fuse: bool,
}

impl Overlay {
    /// The lower layers as `lowerdir=` lists them: the highest first.
    pub fn lowerdirs(&self) -> Vec<String> {
        self.lower
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect()
    }
}

/// Errors while building the container's mount table.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A syscall on a path failed.
    #[error("{op} {}: {}", .path.display(), errno_text(*.errno))]
    Sys {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    /// Creating a mount point failed.
    #[error("creating mount point {}: {source}", .path.display())]
    MountPoint {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A bind mount's source is missing.
    #[error("bind mount source {}: {source}", .path.display())]
    BindSource {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The spec asks for something this runtime does not do.
    #[error("mount {}: {what} is not supported", .path.display())]
    Unsupported { path: PathBuf, what: String },
    /// fuse-overlayfs could not mount.
    #[error("mounting fuse-overlayfs on {}: {detail}", .path.display())]
    Fuse { path: PathBuf, detail: String },
}

fn sys_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> MountError + 'a {
    move |errno| MountError::Sys {
        op,
        path: path.to_path_buf(),
        errno,
    }
}

/// A spec mount's `options` split into flags, propagation and fs data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for `mount(2)` (including `MS_BIND`/`MS_REC` for binds).
    pub flags: MsFlags,
    /// Propagation changes to apply after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Everything else, comma-joined, for the file system.
    pub data: String,
    /// `rro`: read-only recursively, submounts included (`mount_setattr`).
    pub recursive_readonly: bool,
    /// `x-berth-subpath=REL`: bind `REL` inside the source (a volume's
    /// subpath), opened inside it by the kernel at mount time, so a
    /// container swapping part of it for a symlink cannot redirect the bind.
    pub subpath: Option<String>,
}

/// The option that carries a volume subpath to the runtime.
pub const SUBPATH_OPTION: &str = "x-berth-subpath=";

/// Parses OCI mount options.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        recursive_readonly: false,
        subpath: None,
    };
    let mut data = Vec::new();
    for opt in options {
        if let Some(sub) = opt.strip_prefix(SUBPATH_OPTION) {
            out.subpath = Some(sub.to_string());
            continue;
        }
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rro" => {
                out.recursive_readonly = true;
                (MsFlags::MS_RDONLY, MsFlags::empty())
            }
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            other => {
                let prop = match other {
                    "private" => Some(MsFlags::MS_PRIVATE),
                    "rprivate" => Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
                    "shared" => Some(MsFlags::MS_SHARED),
                    "rshared" => Some(MsFlags::MS_SHARED | MsFlags::MS_REC),
                    "slave" => Some(MsFlags::MS_SLAVE),
                    "rslave" => Some(MsFlags::MS_SLAVE | MsFlags::MS_REC),
                    "unbindable" => Some(MsFlags::MS_UNBINDABLE),
                    "runbindable" => Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
                    _ => None,
                };
                match prop {
                    Some(p) => out.propagation.push(p),
                    None => data.push(other.to_string()),
                }
                continue;
            }
        };
        out.flags.insert(set);
        out.flags.remove(clear);
    }
    out.data = data.join(",");
    out
}

/// The names and `..`s of a path (`/` and `.` dropped).
fn parts(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Joins `path` onto `root`, resolving symlinks as if `root` were `/`:
/// neither `..` nor an absolute link target can leave `root`. Missing
/// components are kept as they are.
pub fn secure_join(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut pending: VecDeque<OsString> = parts(path).into();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for p in parts(&target).into_iter().rev() {
                    pending.push_front(p);
                }
            }
            _ => resolved.push(part),
        }
    }
    Ok(root.join(resolved))
}

/// How the overlay for a root filesystem gets mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayMount {
    /// Classic `mount(2)` with this data string.
    Legacy(String),
    /// The new mount API with these `fsconfig` keys, for data strings longer
    /// than a page or paths holding `:` or `,`.
    FsConfig(Vec<(&'static str, String)>),
}

/// Chooses how to mount `overlay`. `lowerdir=` lists the highest layer first;
/// [`Overlay::lower`] holds the lowest first.
pub fn overlay_mount(overlay: &Overlay) -> OverlayMount {
    let lowers = overlay.lowerdirs();
    let upper = overlay.upper.display().to_string();
    let work = overlay.work.display().to_string();
    let mut data = format!(
        "lowerdir={},upperdir={upper},workdir={work}",
        lowers.join(":")
    );
    if overlay.userxattr {
        data.push_str(",userxattr");
    }
    let awkward = lowers
        .iter()
        .chain([&upper, &work])
        .any(|p| p.contains([':', ',']));
    if data.len() <= MAX_MOUNT_DATA && !awkward {
        return OverlayMount::Legacy(data);
    }
    let mut config: Vec<(&'static str, String)> =
        lowers.into_iter().map(|l| ("lowerdir+", l)).collect();
    config.push(("upperdir", upper));
    config.push(("workdir", work));
    if overlay.userxattr {
        // An empty value is a flag.
        config.push(("userxattr", String::new()));
    }
    OverlayMount::FsConfig(config)
}

/// Mounts `overlay` on `target`, as [`overlay_mount`] chooses.
pub fn mount_overlay(sys: &dyn Sys, overlay: &Overlay, target: &Path) -> Result<(), MountError> {
    if overlay.fuse {
        return crate::mounts::fuse::mount(overlay, target);
    }
    match overlay_mount(overlay) {
        OverlayMount::Legacy(data) => sys
            .mount(
                Some("overlay"),
                target,
                Some("overlay"),
                MsFlags::empty(),
                Some(&data),
            )
            .map_err(sys_err("mounting overlay on", target)),
        OverlayMount::FsConfig(config) => sys
            .mount_fs("overlay", &config, target)
            .map_err(sys_err("mounting overlay on", target)),
    }
}

/// Tries the kernel's overlayfs in a scratch directory under `dir` (made
/// if missing; the scratch goes again): whether this process may mount
/// it here (in a user namespace: Linux 5.11 and later, with `userxattr`).
pub fn probe_overlay(dir: &Path, userxattr: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let scratch = probe_dir(dir)?;
    let sub = |n: &str| scratch.join(n);
    let result = (|| {
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir(sub(d))
                .map_err(|e| format!("creating {}: {e}", sub(d).display()))?;
        }
        let overlay = Overlay {
            lower: vec![sub("lower")],
            upper: sub("upper"),
            work: sub("work"),
            userxattr,
            fuse: false,
        };
        mount_overlay(&crate::sys::RealSys, &overlay, &sub("merged")).map_err(|e| e.to_string())?;
        nix::mount::umount2(&sub("merged"), nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| format!("unmounting the probe: {e}"))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// `dir/.overlay-probe-<pid>`, made empty.
fn probe_dir(dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join(format!(".overlay-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    Ok(path)
}

/// What [`open_in_root`] makes when the destination is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// A directory (and missing parents).
    Dir,
    /// An empty file (and missing parent directories).
    File,
    /// Nothing: the destination must exist.
    Nothing,
}

/// Opens `dest` (a path inside the container) under `root` as an `O_PATH`
/// descriptor, making what is missing. The path is first resolved as
/// [`secure_join`] does (so a dangling symlink, such as an image's
/// `/etc/resolv.conf`, gets its target made); then every lookup starts at
/// `root` with `RESOLVE_IN_ROOT`, so `..` and symlinks (even ones swapped
/// in while this runs) resolve inside it, and missing components are made
/// with `mkdirat`/`openat(O_CREAT|O_EXCL|O_NOFOLLOW)` relative to the
/// descriptor of their parent, which never follow a link.
pub fn open_in_root(root: &Path, dest: &Path, create: Create) -> io::Result<rustix::fd::OwnedFd> {
    use rustix::fs::{mkdirat, openat, openat2, Mode, OFlags, ResolveFlags};
    let joined = secure_join(root, dest)?;
    let dest = joined.strip_prefix(root).unwrap_or(&joined);
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let parts = parts(dest);
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let mut current = rustix::io::fcntl_dupfd_cloexec(&root_fd, 0)?;
    let mut prefix = PathBuf::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let dir = !last || create == Create::Dir;
        let flags = OFlags::PATH
            | OFlags::CLOEXEC
            | if dir {
                OFlags::DIRECTORY
            } else {
                OFlags::empty()
            };
        prefix.push(part);
        match openat2(&root_fd, &prefix, flags, Mode::empty(), resolve) {
            Ok(fd) => current = fd,
            Err(rustix::io::Errno::NOENT)
                if part != ".." && !(last && create == Create::Nothing) =>
            {
                let made = if dir {
                    mkdirat(&current, part, Mode::from_raw_mode(0o755))
                } else {
                    openat(
                        &current,
                        part,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o644),
                    )
                    .map(drop)
                };
                match made {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                current = openat2(&root_fd, &prefix, flags, Mode::empty(), resolve)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(current)
}

/// The path that names an open descriptor itself (what `mount(2)` is given
/// so that it acts on that very directory or file).
pub fn fd_path(fd: &rustix::fd::OwnedFd) -> PathBuf {
    use rustix::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The propagation `/` gets in the container's mount namespace, from the
/// spec's `rootfsPropagation` (recursive slave when unset, as runc).
pub fn root_propagation(spec_value: Option<&str>) -> Result<MsFlags, MountError> {
    let p = match spec_value.unwrap_or("rslave") {
        "" | "rslave" | "slave" => MsFlags::MS_SLAVE,
        "rshared" | "shared" => MsFlags::MS_SHARED,
        "rprivate" | "private" => MsFlags::MS_PRIVATE,
        other => {
            return Err(MountError::Unsupported {
                path: PathBuf::from("/"),
                what: format!("rootfsPropagation {other}"),
            })
        }
    };
    Ok(p | MsFlags::MS_REC)
}

/// Sets the propagation of `/` (`propagation`, see [`root_propagation`]),
/// makes `parent` (the mount holding `root`) private so the root mount
/// cannot propagate anywhere and `pivot_root` accepts it, then mounts the
/// root filesystem on `root` (the overlay, or `root` bound onto itself so
/// it is a mount point).
pub fn mount_root(
    sys: &dyn Sys,
    root: &Path,
    overlay: Option<&Overlay>,
    propagation: MsFlags,
    parent: &Path,
) -> Result<(), MountError> {
    let slash = Path::new("/");
    sys.mount(None, slash, None, propagation, None)
        .map_err(sys_err("setting propagation of", slash))?;
    sys.mount(None, parent, None, MsFlags::MS_PRIVATE, None)
        .map_err(sys_err("making private", parent))?;
    match overlay {
        Some(ov) => mount_overlay(sys, ov, root),
        None => {
            let src = root.to_string_lossy();
            sys.mount(
                Some(&src),
                root,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(sys_err("bind mounting", root))
        }
    }
}

/// Performs one spec mount inside `root`.
pub fn mount_one(sys: &dyn Sys, root: &Path, m: &Mount) -> Result<(), MountError> {
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or_default();
    let shown = root.join(m.destination().strip_prefix("/").unwrap_or(m.destination()));
    let target = |create: Create| {
        open_in_root(root, m.destination(), create).map_err(|source| MountError::MountPoint {
            path: shown.clone(),
            source,
        })
    };
    let is_bind = typ == "bind" || opts.flags.contains(MsFlags::MS_BIND);
    if is_bind {
        let src = m.source().clone().unwrap_or_default();
        let md = std::fs::metadata(&src).map_err(|source| MountError::BindSource {
            path: src.clone(),
            source,
        })?;
        // A subpath is opened inside its volume now; the bind takes the
        // opened directory or file itself.
        let (src_fd, is_dir) = match &opts.subpath {
            None => (None, md.is_dir()),
            Some(sub) => {
                let fd = open_in_root(&src, Path::new(sub), Create::Nothing).map_err(|source| {
                    MountError::BindSource {
                        path: src.join(sub),
                        source,
                    }
                })?;
                let dir = rustix::fs::fstat(&fd)
                    .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
                    .unwrap_or(true);
                (Some(fd), dir)
            }
        };
        let dest = target(if is_dir { Create::Dir } else { Create::File })?;
        let src_text = match &src_fd {
            Some(fd) => fd_path(fd).to_string_lossy().into_owned(),
            None => src.to_string_lossy().into_owned(),
        };
        let bind = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        sys.mount(Some(&src_text), &fd_path(&dest), None, bind, None)
            .map_err(sys_err("bind mounting", &shown))?;
        // Opened again: the new mount, not the directory it covers.
        let rest = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() {
            let dest = target(Create::Nothing)?;
            sys.mount(
                None,
                &fd_path(&dest),
                None,
                rest | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None,
            )
            .map_err(sys_err("remounting", &shown))?;
        }
        if opts.recursive_readonly {
            let dest = target(Create::Nothing)?;
            sys.readonly_recursive(&fd_path(&dest))
                .map_err(sys_err("making read-only recursively", &shown))?;
        }
    } else {
        if matches!(typ, "cgroup" | "cgroup2") {
            return Err(MountError::Unsupported {
                path: m.destination().clone(),
                what: format!("type {typ}"),
            });
        }
        let dest = target(Create::Dir)?;
        let src = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        let mounted = sys.mount(
            Some(src.as_deref().unwrap_or(typ)),
            &fd_path(&dest),
            Some(typ),
            opts.flags,
            data,
        );
        match mounted {
            // In a user namespace that does not own the network namespace
            // (a remapped container on an engine-made network), sysfs
            // cannot be mounted: the host's is bound instead, as runc does.
            Err(Errno::EPERM) if typ == "sysfs" => {
                bind_host_sysfs(sys, &dest, &shown)?;
                if opts.flags.contains(MsFlags::MS_RDONLY) {
                    // Opened again: the new mount.
                    let dest = target(Create::Nothing)?;
                    sys.readonly_recursive(&fd_path(&dest))
                        .map_err(sys_err("making read-only recursively", &shown))?;
                }
            }
            other => other.map_err(sys_err("mounting", &shown))?,
        }
    }
    for prop in &opts.propagation {
        let dest = target(Create::Nothing)?;
        sys.mount(None, &fd_path(&dest), None, *prop, None)
            .map_err(sys_err("setting propagation of", &shown))?;
    }
    Ok(())
}

/// Binds the host's `/sys` (with what is mounted below it) on `dest`.
fn bind_host_sysfs(
    sys: &dyn Sys,
    dest: &rustix::fd::OwnedFd,
    shown: &Path,
) -> Result<(), MountError> {
    sys.mount(
        Some("/sys"),
        &fd_path(dest),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(sys_err("binding the host's /sys on", shown))
}

/// Moves `root` to `/` with `pivot_root(".", ".")` and detaches the old
/// root, made recursively slave first so that (with a shared `/`) the
/// detach cannot propagate to the host's mounts.
pub fn pivot(sys: &dyn Sys, root: &Path) -> Result<(), MountError> {
    let dot = Path::new(".");
    let slash = Path::new("/");
    // The old root is reached through a descriptor opened before the
    // pivot: after `pivot_root(".", ".")` the path "." names the new root.
    let old_root = std::fs::File::open(slash).map_err(|e| MountError::Sys {
        op: "opening",
        path: slash.to_path_buf(),
        errno: io_errno(&e),
    })?;
    sys.chdir(root).map_err(sys_err("chdir", root))?;
    sys.pivot_root(dot, dot)
        .map_err(sys_err("pivot_root", root))?;
    sys.fchdir(std::os::fd::AsFd::as_fd(&old_root))
        .map_err(sys_err("fchdir to the old root of", root))?;
    sys.mount(None, dot, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .map_err(sys_err("making the old root slave", root))?;
    sys.umount(dot, MntFlags::MNT_DETACH)
        .map_err(sys_err("unmounting old root", root))?;
    sys.chdir(slash).map_err(sys_err("chdir", slash))
}

fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Hides each of `paths` (relative to `root`, which is `/` after the pivot):
/// files get `/dev/null` bound over them, directories an empty read-only
/// tmpfs. Missing paths are skipped.
pub fn mask_paths(sys: &dyn Sys, root: &Path, paths: &[String]) -> Result<(), MountError> {
    let null = in_root(root, "/dev/null");
    let null_text = null.to_string_lossy();
    for p in paths {
        let full = in_root(root, p);
        let md = match std::fs::metadata(&full) {
            Ok(md) => md,
            Err(_) => continue,
        };
        let res = if md.is_dir() {
            sys.mount(
                Some("tmpfs"),
                &full,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
        } else {
            sys.mount(Some(&null_text), &full, None, MsFlags::MS_BIND, None)
        };
        match res {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(sys_err("masking", &full)(e)),
        }
    }
    Ok(())
}

/// Makes each of `paths` (relative to `root`) read-only, keeping the
/// mount's other flags. Missing paths are skipped.
pub fn readonly_paths(sys: &dyn Sys, root: &Path, paths: &[String]) -> Result<(), MountError> {
    for p in paths {
        let full = in_root(root, p);
        if std::fs::symlink_metadata(&full).is_err() {
            continue;
        }
        let text = full.to_string_lossy();
        match sys.mount(
            Some(&text),
            &full,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        ) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(sys_err("bind mounting", &full)(e)),
        }
        remount_readonly(sys, &full)?;
    }
    Ok(())
}

/// Remounts the bind mount at `path` read-only, keeping its other flags.
pub fn remount_readonly(sys: &dyn Sys, path: &Path) -> Result<(), MountError> {
    let keep = sys
        .mount_flags(path)
        .map_err(sys_err("reading mount flags of", path))?;
    sys.mount(
        None,
        path,
        None,
        keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None,
    )
    .map_err(sys_err("remounting read-only", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingSys;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_flags_data_and_propagation() {
        let o = parse_options(&s(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = parse_options(&s(&["rbind", "ro", "rw", "rprivate", "slave"]));
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SLAVE]
        );
    }

    #[test]
    fn overlay_lists_highest_layer_first() {
        let ov = Overlay {
            lower: vec!["/l/0".into(), "/l/1".into()],
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: false,
            fuse: false,
        };
        assert_eq!(
            overlay_mount(&ov),
            OverlayMount::Legacy("lowerdir=/l/1:/l/0,upperdir=/u,workdir=/w".into())
        );
    }

    #[test]
    fn overlay_uses_fsconfig_when_too_long_or_awkward() {
        let long = Overlay {
            lower: (0..100)
                .map(|i| format!("/{}/{i}", "x".repeat(60)).into())
                .collect(),
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: false,
            fuse: false,
        };
        match overlay_mount(&long) {
            OverlayMount::FsConfig(cfg) => {
                assert_eq!(cfg.len(), 102);
                assert_eq!(cfg[0], ("lowerdir+", format!("/{}/99", "x".repeat(60))));
                assert_eq!(cfg[101], ("workdir", "/w".to_string()));
            }
            other => panic!("{other:?}"),
        }
        let colon = Overlay {
            lower: vec!["/a:b".into()],
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: false,
            fuse: false,
        };
        assert!(matches!(overlay_mount(&colon), OverlayMount::FsConfig(_)));
    }

    #[test]
    fn a_user_namespace_overlay_uses_user_xattrs() {
        let ov = Overlay {
            lower: vec!["/l/0".into()],
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: true,
            fuse: false,
        };
        assert_eq!(
            overlay_mount(&ov),
            OverlayMount::Legacy("lowerdir=/l/0,upperdir=/u,workdir=/w,userxattr".into())
        );
        let colon = Overlay {
            lower: vec!["/a:b".into()],
            ..ov
        };
        match overlay_mount(&colon) {
            OverlayMount::FsConfig(cfg) => {
                assert_eq!(cfg.last(), Some(&("userxattr", String::new())));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn targets_are_opened_and_made_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../run/stub.conf", root.join("etc/resolv.conf")).unwrap();
        let real = |fd: &rustix::fd::OwnedFd| std::fs::read_link(fd_path(fd)).unwrap();
        let fd = open_in_root(&root, Path::new("/abs/made/deep"), Create::Dir).unwrap();
        assert_eq!(
            real(&fd),
            root.join(outside.strip_prefix("/").unwrap())
                .join("made/deep")
        );
        let fd = open_in_root(&root, Path::new("/up/x"), Create::Dir).unwrap();
        assert_eq!(real(&fd), root.join("x"));
        let fd = open_in_root(&root, Path::new("/etc/resolv.conf"), Create::File).unwrap();
        assert_eq!(
            real(&fd),
            root.join("run/stub.conf"),
            "a dangling link's target is made"
        );
        assert!(root.join("run/stub.conf").is_file());
        assert!(open_in_root(&root, Path::new("/missing"), Create::Nothing).is_err());
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing made outside"
        );
    }

    #[test]
    fn the_subpath_option_is_taken_out_of_the_data() {
        let o = parse_options(&s(&["rbind", "x-berth-subpath=a/b", "ro", "rprivate"]));
        assert_eq!(o.subpath.as_deref(), Some("a/b"));
        assert_eq!(o.data, "");
        assert_eq!(parse_options(&s(&["rbind"])).subpath, None);
    }

    #[test]
    fn a_component_swapped_for_a_symlink_still_resolves_inside() {
        // What a racing container does between the resolution and the
        // opening: the lookups are the kernel's, from the root, each time.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let host = dir.path().join("host");
        std::fs::create_dir_all(root.join("shared/d")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        let swap = root.join("shared/d");
        std::fs::remove_dir(&swap).unwrap();
        std::os::unix::fs::symlink(&host, &swap).unwrap();
        let fd = open_in_root(&root, Path::new("/shared/d/inner"), Create::Dir).unwrap();
        let real = std::fs::read_link(fd_path(&fd)).unwrap();
        assert!(real.starts_with(&root), "{}", real.display());
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
        let fd = open_in_root(&root, Path::new("/shared/d/file"), Create::File).unwrap();
        assert!(std::fs::read_link(fd_path(&fd)).unwrap().starts_with(&root));
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
    }

    #[test]
    fn secure_join_stays_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(
            secure_join(root, Path::new("/abs/x")).unwrap(),
            root.join("etc/x")
        );
        assert_eq!(
            secure_join(root, Path::new("/etc/up")).unwrap(),
            root.join("etc")
        );
        assert_eq!(
            secure_join(root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        assert_eq!(
            secure_join(root, Path::new("/a/./b")).unwrap(),
            root.join("a/b")
        );
        assert!(secure_join(root, Path::new("/loop")).is_err());
    }

    #[test]
    fn root_and_default_mounts_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let sys = RecordingSys::new();
        let ov = Overlay {
            lower: vec!["/l0".into()],
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: false,
            fuse: false,
        };
        let slave = root_propagation(None).unwrap();
        mount_root(&sys, root, Some(&ov), slave, Path::new("/run")).unwrap();
        for m in crate::spec::default_mounts().unwrap() {
            mount_one(&sys, root, &m).unwrap();
        }
        let r = root.display();
        assert_eq!(
            sys.calls(),
            vec![
                "mount - / - MS_REC|MS_SLAVE -".to_string(),
                "mount - /run - MS_PRIVATE -".to_string(),
                format!("mount overlay {r} overlay 0 lowerdir=/l0,upperdir=/u,workdir=/w"),
                format!("mount proc {r}/proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC -"),
                format!("mount tmpfs {r}/dev tmpfs MS_NOSUID|MS_STRICTATIME mode=755,size=65536k"),
                format!("mount devpts {r}/dev/pts devpts MS_NOSUID|MS_NOEXEC newinstance,ptmxmode=0666,mode=0620,gid=5"),
                format!("mount sysfs {r}/sys sysfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC -"),
                format!("mount mqueue {r}/dev/mqueue mqueue MS_NOSUID|MS_NODEV|MS_NOEXEC -"),
                format!("mount shm {r}/dev/shm tmpfs MS_NOSUID|MS_NODEV|MS_NOEXEC mode=1777,size=67108864"),
            ]
        );
        assert!(root.join("dev/shm").is_dir());
    }

    #[test]
    fn bind_mount_creates_file_target_and_remounts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let src = dir.path().join("hosts");
        std::fs::write(&src, "x").unwrap();
        let m = oci_spec::runtime::MountBuilder::default()
            .destination("/etc/hosts")
            .typ("bind")
            .source(&src)
            .options(s(&["rbind", "ro", "rprivate"]))
            .build()
            .unwrap();
        let sys = RecordingSys::new();
        mount_one(&sys, &root, &m).unwrap();
        assert!(root.join("etc/hosts").is_file());
        let d = root.join("etc/hosts");
        assert_eq!(
            sys.calls(),
            vec![
                format!("mount {} {} - MS_BIND|MS_REC -", src.display(), d.display()),
                format!("mount - {} - MS_RDONLY|MS_REMOUNT|MS_BIND -", d.display()),
                format!("mount - {} - MS_REC|MS_PRIVATE -", d.display()),
            ]
        );
    }

    #[test]
    fn root_propagation_from_the_spec() {
        let rec = MsFlags::MS_REC;
        assert_eq!(root_propagation(None).unwrap(), MsFlags::MS_SLAVE | rec);
        assert_eq!(
            root_propagation(Some("rshared")).unwrap(),
            MsFlags::MS_SHARED | rec
        );
        assert_eq!(
            root_propagation(Some("private")).unwrap(),
            MsFlags::MS_PRIVATE | rec
        );
        assert!(root_propagation(Some("sideways"))
            .unwrap_err()
            .to_string()
            .contains("rootfsPropagation sideways"));
    }

    #[test]
    fn recursive_readonly_bind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let m = oci_spec::runtime::MountBuilder::default()
            .destination("/data")
            .typ("bind")
            .source(dir.path())
            .options(s(&["rbind", "rro", "rslave"]))
            .build()
            .unwrap();
        let sys = RecordingSys::new();
        mount_one(&sys, &root, &m).unwrap();
        let d = root.join("data");
        assert_eq!(
            sys.calls(),
            vec![
                format!(
                    "mount {} {} - MS_BIND|MS_REC -",
                    dir.path().display(),
                    d.display()
                ),
                format!("mount - {} - MS_RDONLY|MS_REMOUNT|MS_BIND -", d.display()),
                format!("readonly_recursive {}", d.display()),
                format!("mount - {} - MS_REC|MS_SLAVE -", d.display()),
            ]
        );
    }

    #[test]
    fn pivot_mask_and_readonly() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/acpi")).unwrap();
        std::fs::create_dir_all(root.join("proc/sys")).unwrap();
        std::fs::write(root.join("proc/keys"), "").unwrap();
        let sys = RecordingSys::new();
        pivot(&sys, Path::new("/new")).unwrap();
        mask_paths(&sys, root, &s(&["/proc/acpi", "/proc/keys", "/proc/kcore"])).unwrap();
        readonly_paths(&sys, root, &s(&["/proc/sys", "/proc/bus"])).unwrap();
        let r = root.display();
        assert_eq!(
            sys.calls(),
            vec![
                "chdir /new".to_string(),
                "pivot_root . .".to_string(),
                "fchdir".to_string(),
                "mount - . - MS_REC|MS_SLAVE -".to_string(),
                "umount . MNT_DETACH".to_string(),
                "chdir /".to_string(),
                format!("mount tmpfs {r}/proc/acpi tmpfs MS_RDONLY -"),
                format!("mount {r}/dev/null {r}/proc/keys - MS_BIND -"),
                format!("mount {r}/proc/sys {r}/proc/sys - MS_BIND|MS_REC -"),
                format!("mount - {r}/proc/sys - MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND -"),
            ]
        );
    }

    #[test]
    fn errors_name_the_path_and_errno() {
        let dir = tempfile::tempdir().unwrap();
        let sys = RecordingSys::new();
        sys.fail_on("mount overlay", Errno::EINVAL);
        let ov = Overlay {
            lower: vec!["/l0".into()],
            upper: "/u".into(),
            work: "/w".into(),
            userxattr: false,
            fuse: false,
        };
        let slave = root_propagation(None).unwrap();
        let err = mount_root(&sys, dir.path(), Some(&ov), slave, Path::new("/")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "mounting overlay on {}: invalid argument",
                dir.path().display()
            )
        );
    }
}
