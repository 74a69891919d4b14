//! The rootless daemon's namespaces: a holder process that owns a user
//! namespace (the user as 0, the subordinate ranges after it), a mount
//! namespace and a network namespace, and the joining of them by a daemon
//! started later (so containers outlive a killed daemon and are re-adopted
//! by the next one, as with Podman's pause process).
//!
//! The order of work is the kernel's: a process unshares its user
//! namespace alone; a process outside writes its id maps (only the setuid
//! `newuidmap`/`newgidmap` may map more than the caller's own id); then it
//! takes the other namespaces, whose owner the new user namespace becomes.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use nix::sched::CloneFlags;

use crate::subid::{map_args, IdRange};

/// Why the namespaces cannot be made or joined.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// A system call failed.
    #[error("{op}: {}", crate::errno::errno_text(*errno))]
    Sys {
        op: &'static str,
        errno: nix::errno::Errno,
    },
    /// `newuidmap`/`newgidmap` is missing or refused the mapping.
    #[error("{tool} failed: {detail}")]
    Map { tool: &'static str, detail: String },
    /// The process is not the helper of this user's it should be.
    #[error("process {pid} is not this user's helper: {why}")]
    NotOurs { pid: i32, why: String },
}

fn sys(op: &'static str) -> impl FnOnce(nix::errno::Errno) -> UsernsError {
    move |errno| UsernsError::Sys { op, errno }
}

/// Creates a new user namespace for the calling (single-threaded) process.
pub fn unshare_user() -> Result<(), UsernsError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(sys("unshare(CLONE_NEWUSER)"))
}

/// After the maps are written: become 0 in the new namespace and take a
/// mount namespace (propagation from the host kept one way: slave) and a
/// network namespace, both owned by it.
pub fn take_mount_and_network() -> Result<(), UsernsError> {
    use nix::mount::{mount, MsFlags};
    use nix::unistd::{setresgid, setresuid, Gid, Uid};
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(sys("setresgid"))?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(sys("setresuid"))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(sys("unshare(CLONE_NEWNS|CLONE_NEWNET)"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(sys("making / a slave mount"))?;
    // The host's sysfs shows the host's network devices; this namespace's
    // bridges and veths appear in a sysfs mounted from inside it. The
    // cgroup mounts under it are taken along (a delegated cgroup v2
    // subtree is where the containers' cgroups go).
    let cgroups = clone_tree(CGROUP_MOUNTS);
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(sys("mounting sysfs for the new network namespace"))?;
    if let Some(tree) = cgroups {
        use rustix::mount::{move_mount, MoveMountFlags};
        move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            CGROUP_MOUNTS,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| UsernsError::Sys {
            op: "putting the cgroup mounts back under the new sysfs",
            errno: nix::errno::Errno::from_raw(e.raw_os_error()),
        })?;
    }
    Ok(())
}

const CGROUP_MOUNTS: &str = "/sys/fs/cgroup";

/// A detached copy of the mounts at `path` and below; `None` when there
/// is nothing mounted there (a machine without cgroups).
fn clone_tree(path: &str) -> Option<rustix::fd::OwnedFd> {
    use rustix::mount::OpenTreeFlags;
    rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::AT_RECURSIVE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .ok()
}

/// Writes the maps of process `pid` (which has unshared its user
/// namespace) with `newuidmap` and `newgidmap`. A mapping of the caller's
/// own id alone needs no helper: it is written directly.
pub fn write_maps(pid: i32, uids: &[IdRange], gids: &[IdRange]) -> Result<(), UsernsError> {
    if uids.len() == 1 && gids.len() == 1 {
        // An unprivileged writer of its own gid must deny setgroups first.
        return write_maps_directly(pid, uids, gids, true);
    }
    run_map_tool("newuidmap", pid, uids)?;
    run_map_tool("newgidmap", pid, gids)
}

/// Writes the maps of process `pid` into `/proc/<pid>/{uid,gid}_map`
/// itself (one line per range), denying `setgroups` in between when
/// `deny_setgroups`. Root of the parent namespace may write any ranges;
/// anyone else only its own id.
pub fn write_maps_directly(
    pid: i32,
    uids: &[IdRange],
    gids: &[IdRange],
    deny_setgroups: bool,
) -> Result<(), UsernsError> {
    let dir = format!("/proc/{pid}");
    let text = |ranges: &[IdRange]| {
        ranges
            .iter()
            .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.size))
            .collect::<String>()
    };
    let write = |file: &str, text: &str| {
        std::fs::write(format!("{dir}/{file}"), text).map_err(|e| UsernsError::Map {
            tool: "writing the id maps",
            detail: format!("{dir}/{file}: {e}"),
        })
    };
    write("uid_map", &text(uids))?;
    if deny_setgroups {
        write("setgroups", "deny")?;
    }
    write("gid_map", &text(gids))
}

fn run_map_tool(tool: &'static str, pid: i32, mapping: &[IdRange]) -> Result<(), UsernsError> {
    let out = Command::new(tool)
        .arg(pid.to_string())
        .args(map_args(mapping))
        .output()
        .map_err(|e| UsernsError::Map {
            tool,
            detail: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{tool} is not installed (Debian's package uidmap has it)")
            } else {
                e.to_string()
            },
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(UsernsError::Map {
        tool,
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Checks that `pid` is a live process of user `uid` whose first argument
/// is `marker`, i.e. a helper this user started (the namespace holder,
/// the port helper) and not a recycled pid.
pub fn is_ours(pid: i32, uid: u32, marker: &str) -> Result<(), UsernsError> {
    let not = |why: String| UsernsError::NotOurs { pid, why };
    let dir = format!("/proc/{pid}");
    let meta = std::fs::metadata(&dir).map_err(|e| not(e.to_string()))?;
    if meta.uid() != uid {
        return Err(not(format!("it belongs to uid {}", meta.uid())));
    }
    let cmdline = std::fs::read(format!("{dir}/cmdline")).map_err(|e| not(e.to_string()))?;
    let arg1 = cmdline.split(|b| *b == 0).nth(1).unwrap_or_default();
    if arg1 != marker.as_bytes() {
        return Err(not(format!("it does not run {marker}")));
    }
    Ok(())
}

/// Joins the user, mount and network namespaces of `pid`. The caller must
/// be single-threaded (the kernel refuses `setns` of a user namespace
/// otherwise) and own the user namespace.
pub fn join(pid: i32) -> Result<(), UsernsError> {
    let open = |ns: &str| {
        File::open(Path::new(&format!("/proc/{pid}/ns/{ns}"))).map_err(|e| UsernsError::NotOurs {
            pid,
            why: format!("opening its {ns} namespace: {e}"),
        })
    };
    let (user, mnt, net) = (open("user")?, open("mnt")?, open("net")?);
    nix::sched::setns(user, CloneFlags::CLONE_NEWUSER)
        .map_err(sys("joining the user namespace"))?;
    nix::sched::setns(mnt, CloneFlags::CLONE_NEWNS).map_err(sys("joining the mount namespace"))?;
    nix::sched::setns(net, CloneFlags::CLONE_NEWNET)
        .map_err(sys("joining the network namespace"))?;
    use nix::unistd::{setresgid, setresuid, Gid, Uid};
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(sys("setresgid"))?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(sys("setresuid"))?;
    Ok(())
}

/// Whether the calling process is in a user namespace other than the
/// initial one (its uid map is not the identity over every id).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| !is_identity_map(&m))
        .unwrap_or(false)
}

fn is_identity_map(text: &str) -> bool {
    let fields: Vec<&str> = text.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_map_is_the_initial_namespace() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map(
            "         0       1001          1\n         1     100000      65536\n"
        ));
    }
}
