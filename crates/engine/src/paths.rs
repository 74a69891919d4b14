//! Every path the engine writes, built in one place.
//!
//! On-disk layout:
//!
//! ```text
//! <root>/                      --root, default /var/lib/berth
//!   berth.lock                 held (flock) by the one daemon on this root
//!   engine-id                  the daemon's ID (`docker info`'s ID)
//!   image/                     owned by berth-image (blobs, layers, tags)
//!   builder/cache/<key>        the image id a build step made
//!   builder/mounts/cache/<id>  RUN --mount=type=cache directories
//!   builder/work/<id>/         a running build's context and scratch
//!   runtime/seccomp/           compiled seccomp filters (BPF), by hash
//!   volumes/<name>/_data      a volume's content (volume.json: its record)
//!   network/<id>.json          a network's record
//!   containers/<id>/
//!     container.json           the container record (atomic rename)
//!     <id>-json.log            json-file log written by the monitor
//!     hostname, hosts,         bind-mounted over /etc/hostname, /etc/hosts,
//!     resolv.conf              /etc/resolv.conf
//!     upper/ work/             overlay upper and work dirs
//!     bundle/config.json       OCI runtime spec
//!     bundle/monitor.json      monitor settings
//!     bundle/exit.json         exit status, written by the monitor
//!     bundle/rootfs/           mount point of the overlay (inside the
//!                              container's own mount namespace only)
//! <exec-root>/                 --exec-root, default /run/berth
//!   berth.sock                 API socket (default; made by the daemon)
//!   berth.pid                  the daemon's pid (made by the daemon)
//!   daemon.log                 log of a daemon the CLI started
//!   m/<short-id>.sock          a container monitor's attach socket
//!   x/<short-exec-id>/         exec.json and attach socket of one exec
//!   netns/<id>                 a container's network namespace (nsfs bind mount)
//! ```

use std::path::{Path, PathBuf};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub exec_root: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>, exec_root: impl Into<PathBuf>) -> Paths {
        Paths {
            root: root.into(),
            exec_root: exec_root.into(),
        }
    }

    pub fn create_dirs(&self) -> Result<(), Error> {
        for dir in [
            self.image_root(),
            self.containers_root(),
            self.exec_root.clone(),
        ] {
            std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
        }
        Ok(())
    }

    /// Held by the one daemon on this root.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("berth.lock")
    }
    /// The daemon's ID, kept across restarts.
    pub fn engine_id_file(&self) -> PathBuf {
        self.root.join("engine-id")
    }
    /// The build cache: the image id each build step made, by key.
    pub fn build_cache(&self) -> PathBuf {
        self.root.join("builder").join("cache")
    }
    /// `RUN --mount=type=cache` directories, by hashed id.
    pub fn build_mount_caches(&self) -> PathBuf {
        self.root.join("builder").join("mounts").join("cache")
    }
    /// Running builds' work directories (context, scratch, secrets).
    pub fn build_work(&self) -> PathBuf {
        self.root.join("builder").join("work")
    }
    /// Network records.
    pub fn networks_root(&self) -> PathBuf {
        self.root.join("network")
    }
    /// Network namespaces of containers, held by bind mounts.
    pub fn netns_root(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    pub fn image_root(&self) -> PathBuf {
        self.root.join("image")
    }
    /// Compiled seccomp filters, cached by profile, capabilities and arch.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("runtime").join("seccomp")
    }
    /// `volumes/<name>/{_data, volume.json}`.
    pub fn volumes_root(&self) -> PathBuf {
        self.root.join("volumes")
    }
    pub fn containers_root(&self) -> PathBuf {
        self.root.join("containers")
    }
    /// A container monitor's attach socket: short, since unix socket paths
    /// are limited to 108 bytes.
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.exec_root
            .join("m")
            .join(format!("{}.sock", &id[..id.len().min(12)]))
    }

    /// The directory of one exec process (`exec.json`, its socket).
    pub fn exec_dir(&self, exec_id: &str) -> PathBuf {
        self.exec_root
            .join("x")
            .join(&exec_id[..exec_id.len().min(12)])
    }

    pub fn container(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.containers_root().join(id),
            id: id.to_string(),
        }
    }
}

/// Paths of one container.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub dir: PathBuf,
    id: String,
}

impl ContainerPaths {
    pub fn record(&self) -> PathBuf {
        self.dir.join("container.json")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }
    /// Bind-mounted over the container's `/etc/hostname`.
    pub fn hostname_file(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    /// Bind-mounted over the container's `/etc/hosts`.
    pub fn hosts_file(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    /// Bind-mounted over the container's `/etc/resolv.conf`.
    pub fn resolv_file(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }
    pub fn exit_file(&self) -> PathBuf {
        self.bundle().join("exit.json")
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
