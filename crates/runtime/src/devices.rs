//! Device nodes and the standard symlinks in the container's `/dev`.
//!
//! Nodes are made with `mknod` under umask 0 so they really get mode 0666,
//! and only when `/dev` is the container's own tmpfs (otherwise whatever was
//! bound there is left alone). In a user namespace, where `mknod` of a
//! device is refused, the host's node is bound in its place, as rootless
//! runc does.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{makedev, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::errno::errno_text;
use crate::mounts::secure_join;
use crate::sys::Sys;

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner; `(0, 0)` leaves the node root's.
    pub uid: u32,
    pub gid: u32,
}

/// The nodes every container gets (Docker's and runc's defaults).
pub fn default_nodes() -> Vec<Node> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ]
    .into_iter()
    .map(|(path, major, minor)| Node {
        path: path.into(),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Errors while populating `/dev`.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A syscall failed.
    #[error("{op} {}: {}", .path.display(), errno_text(*.errno))]
    Sys {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    /// A spec device has a type that cannot be created.
    #[error("device {}: type {typ} cannot be created", .path.display())]
    BadType { path: PathBuf, typ: String },
    /// Resolving the path inside the root failed.
    #[error("resolving {}: {source}", .path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Converts spec devices into nodes.
pub fn spec_nodes(devices: &[LinuxDevice]) -> Result<Vec<Node>, DeviceError> {
    devices
        .iter()
        .map(|d| {
            let kind = match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                LinuxDeviceType::A => {
                    return Err(DeviceError::BadType {
                        path: d.path().clone(),
                        typ: "a".into(),
                    })
                }
            };
            Ok(Node {
                path: d.path().clone(),
                kind,
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666) & 0o7777,
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            })
        })
        .collect()
}

/// Creates `nodes` inside `root` with umask 0, skipping ones that exist.
pub fn create_nodes(sys: &dyn Sys, root: &Path, nodes: &[Node]) -> Result<(), DeviceError> {
    let old = sys.umask(Mode::empty());
    let res = nodes.iter().try_for_each(|n| {
        let path = secure_join(root, &n.path).map_err(|source| DeviceError::Resolve {
            path: n.path.clone(),
            source,
        })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| DeviceError::Resolve {
                path: n.path.clone(),
                source,
            })?;
        }
        let dev = makedev(n.major, n.minor);
        match sys.mknod(&path, n.kind, Mode::from_bits_truncate(n.mode), dev) {
            Ok(()) if (n.uid, n.gid) != (0, 0) => nix::unistd::chown(
                &path,
                Some(nix::unistd::Uid::from_raw(n.uid)),
                Some(nix::unistd::Gid::from_raw(n.gid)),
            )
            .map_err(|errno| DeviceError::Sys {
                op: "chown",
                path: n.path.clone(),
                errno,
            }),
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(Errno::EPERM) if n.kind != SFlag::S_IFIFO => bind_host_node(sys, &path, n),
            Err(errno) => Err(DeviceError::Sys {
                op: "mknod",
                path: n.path.clone(),
                errno,
            }),
        }
    });
    sys.umask(old);
    res
}

/// Where the host has the node `n` (same kind and numbers): its own path,
/// else the name sysfs gives the device.
pub fn host_node_path(n: &Node) -> Option<PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let matches = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| {
            let kind_ok = if n.kind == SFlag::S_IFBLK {
                m.file_type().is_block_device()
            } else {
                m.file_type().is_char_device()
            };
            kind_ok && m.rdev() == makedev(n.major, n.minor)
        })
    };
    if matches(&n.path) {
        return Some(n.path.clone());
    }
    let class = if n.kind == SFlag::S_IFBLK {
        "block"
    } else {
        "char"
    };
    let uevent =
        std::fs::read_to_string(format!("/sys/dev/{class}/{}:{}/uevent", n.major, n.minor)).ok()?;
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    let p = Path::new("/dev").join(name);
    matches(&p).then_some(p)
}

/// Binds the host's node for `n` onto `path` (an empty file made first).
fn bind_host_node(sys: &dyn Sys, path: &Path, n: &Node) -> Result<(), DeviceError> {
    let err = |op: &'static str| {
        move |errno| DeviceError::Sys {
            op,
            path: n.path.clone(),
            errno,
        }
    };
    let host = host_node_path(n).ok_or(DeviceError::Sys {
        op: "mknod (refused in a user namespace; no host node to bind)",
        path: n.path.clone(),
        errno: Errno::EPERM,
    })?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(err("creating a bind target")(
                e.raw_os_error().map_or(Errno::EIO, Errno::from_raw),
            ))
        }
    }
    sys.mount(
        Some(&host.to_string_lossy()),
        path,
        None,
        nix::mount::MsFlags::MS_BIND,
        None,
    )
    .map_err(err("binding the host's node"))
}

/// The standard `/dev` symlinks; `/dev/core` only when the kernel has
/// `/proc/kcore`.
pub fn default_links(kcore: bool) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if kcore {
        links.push(("/proc/kcore", "/dev/core"));
    }
    links
}

/// Creates `links` (target, link) inside `root`, skipping existing ones.
pub fn create_links(sys: &dyn Sys, root: &Path, links: &[(&str, &str)]) -> Result<(), DeviceError> {
    for (target, link) in links {
        let path = root.join(link.trim_start_matches('/'));
        match sys.symlink(Path::new(target), &path) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => {
                return Err(DeviceError::Sys {
                    op: "symlink",
                    path: PathBuf::from(link),
                    errno,
                })
            }
        }
    }
    Ok(())
}

/// One `--device` value: `/dev/host[:/dev/ctr][:rwm]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub host: PathBuf,
    pub container: PathBuf,
    /// Some of `rwm`.
    pub access: String,
}

fn valid_access(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| "rwm".contains(c))
}

/// Parses a `--device` value as Docker does.
pub fn parse_device(spec: &str) -> Result<DeviceRequest, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, access) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, x] if valid_access(x) => (*h, *h, *x),
        [h, c] => (*h, *c, "rwm"),
        [h, c, a] => {
            if !valid_access(a) {
                return Err(format!(
                    "invalid device mode {a:?} in {spec:?}: use some of rwm"
                ));
            }
            (*h, *c, *a)
        }
        _ => return Err(format!("invalid device specification: {spec}")),
    };
    for p in [host, container] {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(format!(
                "invalid device path {p:?} in {spec:?}: it must be absolute"
            ));
        }
    }
    Ok(DeviceRequest {
        host: host.into(),
        container: container.into(),
        access: access.into(),
    })
}

/// A device node on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    pub path: PathBuf,
    /// `c` or `b`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The device node at `path`; `None` when it is not a device (a directory,
/// a file, a symlink's target that is neither).
pub fn stat_device(path: &Path) -> std::io::Result<Option<HostDevice>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path)?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return Ok(None);
    };
    let rdev = md.rdev();
    Ok(Some(HostDevice {
        path: path.to_path_buf(),
        kind,
        major: nix::sys::stat::major(rdev),
        minor: nix::sys::stat::minor(rdev),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
    }))
}

/// Directories under `/dev` that hold no device of the host's own (they are
/// the container's or are runtime state), skipped when listing devices.
const SKIP_DIRS: [&str; 8] = [
    "pts",
    "shm",
    "fd",
    "mqueue",
    ".lxc",
    ".lxd-mounts",
    ".udev",
    ".mount",
];

/// Every device node under `dir`, recursively (for `--privileged` with
/// `/dev`, and for `--device` naming a directory); the console is left out.
pub fn devices_under(dir: &Path) -> Vec<HostDevice> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            if ft.is_dir() {
                if !SKIP_DIRS.iter().any(|s| name == *s) {
                    stack.push(e.path());
                }
                continue;
            }
            // The console and ptmx stay the container's own.
            if ft.is_symlink() || name == "console" || name == "ptmx" {
                continue;
            }
            if let Ok(Some(dev)) = stat_device(&e.path()) {
                out.push(dev);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingSys;

    #[test]
    fn nodes_made_with_umask_zero_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let sys = RecordingSys::new();
        sys.umask(Mode::from_bits_truncate(0o022));
        create_nodes(&sys, root, &default_nodes()).unwrap();
        create_links(&sys, root, &default_links(false)).unwrap();
        let r = root.display();
        let calls = sys.calls();
        assert_eq!(calls[0], format!("mknod {r}/dev/null c 666 1:3 umask=0"));
        assert_eq!(calls[5], format!("mknod {r}/dev/tty c 666 5:0 umask=0"));
        assert_eq!(calls[6], format!("symlink {r}/dev/fd -> /proc/self/fd"));
        assert_eq!(calls[10], format!("symlink {r}/dev/ptmx -> pts/ptmx"));
        assert_eq!(calls.len(), 11);
        assert_eq!(sys.umask(Mode::empty()).bits(), 0o022);
        assert_eq!(
            default_links(true).last(),
            Some(&("/proc/kcore", "/dev/core"))
        );
    }

    #[test]
    fn parses_docker_device_values() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(
            (d.host.to_str(), d.container.to_str(), d.access.as_str()),
            (Some("/dev/fuse"), Some("/dev/fuse"), "rwm")
        );
        let d = parse_device("/dev/fuse:r").unwrap();
        assert_eq!(
            (d.container.to_str(), d.access.as_str()),
            (Some("/dev/fuse"), "r")
        );
        let d = parse_device("/dev/sda:/dev/xvda").unwrap();
        assert_eq!(
            (d.container.to_str(), d.access.as_str()),
            (Some("/dev/xvda"), "rwm")
        );
        let d = parse_device("/dev/sda:/dev/xvda:rw").unwrap();
        assert_eq!(d.access, "rw");
        assert!(parse_device("/dev/sda:/dev/xvda:rwx").is_err());
        assert!(parse_device("dev/sda").is_err());
        assert!(parse_device("/dev/a:/b:r:x").is_err());
        assert!(parse_device("/dev/../etc/passwd").is_err());
    }

    #[test]
    fn stats_host_devices() {
        let null = stat_device(Path::new("/dev/null")).unwrap().unwrap();
        assert_eq!((null.kind, null.major, null.minor), ('c', 1, 3));
        assert!(stat_device(Path::new("/dev")).unwrap().is_none());
        let all = devices_under(Path::new("/dev"));
        assert!(all.iter().any(|d| d.path == Path::new("/dev/null")));
        assert!(!all.iter().any(|d| d.path.starts_with("/dev/pts")));
    }

    #[test]
    fn spec_devices_convert() {
        let d = oci_spec::runtime::LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let nodes = spec_nodes(&[d]).unwrap();
        assert_eq!(nodes[0].kind, SFlag::S_IFCHR);
        assert_eq!(
            (nodes[0].major, nodes[0].minor, nodes[0].mode),
            (10, 229, 0o666)
        );
    }
}
