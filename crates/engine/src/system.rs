//! The daemon's own identity and what `GET /info` reports of the machine.

use std::path::Path;

use crate::Error;

/// The daemon's ID (`docker info`'s `ID`): a UUID made at the first start
/// and kept in `path` (`<root>/engine-id`), as dockerd keeps its own.
pub fn engine_id(path: &Path) -> Result<String, Error> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let id = text.trim();
        if is_uuid(id) {
            return Ok(id.to_string());
        }
    }
    let id = new_uuid();
    crate::fsutil::write_atomic(path, id.as_bytes())?;
    Ok(id)
}

/// A random (version 4) UUID.
fn new_uuid() -> String {
    let raw = crate::ids::new_id();
    let mut b = hex::decode(&raw[..32]).unwrap_or_else(|_| vec![0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

pub use berth_runtime::cgroups::Features as CgroupFeatures;

/// What the daemon's containers' cgroups can limit: what is offered where
/// their parent is made (the machine's root, or a rootless daemon's
/// delegated subtree), nothing when containers get no cgroup.
pub fn cgroup_features(config: &crate::EngineConfig) -> CgroupFeatures {
    match config.cgroups() {
        None => CgroupFeatures::default(),
        Some(parent) => berth_runtime::cgroups::features_under(
            &berth_runtime::cgroups::Roots::default(),
            Path::new(parent).parent().unwrap_or(Path::new("")),
        ),
    }
}

/// The cgroup version of this machine (`"1"` or `"2"`), from the mount
/// table: a rootless daemon's fresh sysfs hides `/sys/fs/cgroup` itself.
pub fn cgroup_version() -> &'static str {
    match berth_runtime::cgroups::Roots::default().layout() {
        Ok(berth_runtime::cgroups::Layout::V2(_)) => "2",
        _ => "1",
    }
}

/// The daemon's hold on its root: one daemon per root, as Docker allows
/// one per data root. Released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RootLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

/// Takes `path` (`<root>/berth.lock`, an exclusive `flock`) and writes
/// this process's pid into it; fails, naming the holder, when another
/// daemon has it.
pub fn lock_root(path: &Path) -> Result<RootLock, Error> {
    use std::io::{Read, Seek, Write};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(Error::io("opening", &path))?;
    let mut file = match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
    {
        Ok(f) => f,
        Err((mut f, _)) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            return Err(Error::Conflict {
                message: format!(
                    "another berth daemon (pid {}) is using the root {}: stop it first, or give this one another --root and --exec-root",
                    holder.trim(),
                    path.parent().unwrap_or(path).display()
                ),
            });
        }
    };
    let _ = file.set_len(0);
    let _ = file.seek(std::io::SeekFrom::Start(0));
    let _ = write!(file, "{}", std::process::id());
    Ok(RootLock { _file: file })
}

/// Whether the kernel forwards IPv4 packets (`IPv4Forwarding`).
pub fn ipv4_forwarding() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|s| s.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock_root(&dir.path().join("berth.lock")).expect("first");
        let err = lock_root(&dir.path().join("berth.lock"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "another berth daemon (pid {})",
                std::process::id()
            )),
            "{err}"
        );
        drop(first);
        lock_root(&dir.path().join("berth.lock")).expect("free again");
    }

    #[test]
    fn id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = engine_id(&dir.path().join("engine-id")).expect("id");
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert_eq!(engine_id(&dir.path().join("engine-id")).expect("again"), id);
        std::fs::write(dir.path().join("engine-id"), "garbage").expect("write");
        let fresh = engine_id(&dir.path().join("engine-id")).expect("replaced");
        assert!(is_uuid(&fresh) && fresh != id);
    }
}
