//! Network namespaces kept alive by a bind mount of their `nsfs` file (as
//! `ip netns` does), so the engine can configure one before the container
//! runs and after its daemon restarted. Work inside a namespace runs on a
//! short-lived thread that joined it; the caller's threads never move.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::netlink::Netlink;
use crate::Error;

/// Runs `f` on a new thread, returning its result.
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    std::thread::spawn(f)
        .join()
        .map_err(|_| Error::NetlinkIo("a network namespace thread panicked".into()))?
}

/// Creates a network namespace held at `path` (a new empty file) with its
/// loopback up. Nothing is left behind on failure.
pub fn create(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    }
    File::create(path).map_err(Error::io("creating", path))?;
    let target = path.to_path_buf();
    let made = on_thread(move || {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Error::Netlink {
            op: "creating a network namespace".into(),
            errno: e as i32,
        })?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| Error::Netlink {
            op: format!("holding the network namespace at {}", target.display()),
            errno: e as i32,
        })?;
        let mut nl = Netlink::open()?;
        let lo = nl
            .link_index("lo")?
            .ok_or_else(|| Error::NetlinkIo("no loopback in a new namespace".into()))?;
        nl.set_up(lo)
    });
    if let Err(e) = made {
        let _ = remove(path);
        return Err(e);
    }
    Ok(())
}

/// Releases the namespace held at `path` and removes the file; a missing
/// one is fine.
pub fn remove(path: &Path) -> Result<(), Error> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::Netlink {
                op: format!("releasing the network namespace at {}", path.display()),
                errno: e as i32,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path)(e)),
    }
}

/// Runs `f` inside the namespace at `path` (on its own thread).
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let file = File::open(path).map_err(Error::io("opening", path))?;
    let path: PathBuf = path.to_path_buf();
    on_thread(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| Error::Netlink {
            op: format!("entering the network namespace at {}", path.display()),
            errno: e as i32,
        })?;
        f()
    })
}
