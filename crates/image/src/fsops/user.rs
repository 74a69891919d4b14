//! Resolving a container's `User` (`name`, `uid`, `name:group`, `uid:gid`, ...)
//! against the `/etc/passwd` and `/etc/group` inside its root, for `docker cp -a`.
//! The files are opened inside the root, checked to be regular files before they
//! are read, and read only up to a bound.

use super::FsError;
use crate::layer::extract::open_in_root_with;
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{self as rfs, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::io::Read;

/// Larger passwd or group files are not read.
const MAX_FILE: u64 = 16 << 20;

/// Reads a regular file inside `root`, or `None` if it does not exist.
fn read_regular(root: &OwnedFd, path: &[&str]) -> Result<Option<String>, FsError> {
    let comps: Vec<OsString> = path.iter().map(OsString::from).collect();
    let shown = format!("/{}", path.join("/"));
    let io = |e: Errno| FsError::Io {
        op: "read",
        path: shown.clone(),
        source: e.into(),
    };
    let pfd = match open_in_root_with(root, &comps, OFlags::PATH | OFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let st = rfs::fstat(&pfd).map_err(io)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    let fd = rfs::open(
        format!("/proc/self/fd/{}", pfd.as_raw_fd()),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(io)?;
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|source| FsError::Io {
            op: "read",
            path: shown.clone(),
            source,
        })?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Records of a colon-separated database: (name, id, primary gid for passwd).
fn records(text: &str) -> impl Iterator<Item = (&str, u32, Option<u32>)> {
    text.lines().filter_map(|l| {
        let l = l.trim_end();
        if l.starts_with('#') || l.is_empty() {
            return None;
        }
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next();
        let id = f.next()?.parse().ok()?;
        let gid = f.next().and_then(|g| g.parse().ok());
        Some((name, id, gid))
    })
}

/// Resolves a Docker user spec to numeric ids using the root's databases.
/// A numeric user without a passwd entry gets group 0, as `docker run` does.
pub(crate) fn lookup_user(root: &OwnedFd, spec: &str) -> Result<(u32, u32), FsError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_regular(root, &["etc", "passwd"])?.unwrap_or_default();
    let entry = match user.parse::<u32>() {
        Ok(uid) => records(&passwd)
            .find(|(_, id, _)| *id == uid)
            .map(|(_, id, gid)| (id, gid.unwrap_or(0)))
            .or(Some((uid, 0))),
        Err(_) => records(&passwd)
            .find(|(name, _, _)| *name == user)
            .map(|(_, id, gid)| (id, gid.unwrap_or(0))),
    };
    let (uid, mut gid) = entry.ok_or_else(|| {
        FsError::User(format!(
            "unable to find user {user}: no matching entries in passwd file"
        ))
    })?;
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let groups = read_regular(root, &["etc", "group"])?.unwrap_or_default();
                let found = records(&groups)
                    .find(|(name, _, _)| *name == g)
                    .map(|(_, id, _)| id);
                found.ok_or_else(|| {
                    FsError::User(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?
            }
        };
    }
    Ok((uid, gid))
}
