//! Device nodes and the standard symlinks in the container's `/dev`.
//!
//! Nodes are made with `mknod` under umask 0 so they really get mode 0666,
//! and only when `/dev` is the container's own tmpfs (otherwise whatever was
//! bound there is left alone).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{makedev, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::mounts::{errno_text, secure_join};
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
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
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
