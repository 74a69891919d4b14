//! A cgroup v2 subtree given to an ordinary user (systemd's
//! `user@<uid>.service` with `Delegate=yes`), where a rootless daemon may
//! make its containers' cgroups.
//!
//! Delegation shows in ownership: the subtree's directories (and their
//! `cgroup.procs` and `cgroup.subtree_control`) belong to the user. The
//! daemon's own cgroup must lie in such a subtree, because a process may
//! only be moved between cgroups whose common ancestor's `cgroup.procs`
//! the mover may write. The containers' parent is `<top>/<name>`, where
//! `<top>` is the highest directory above the daemon still owned by the
//! user: a sibling of the daemon's own cgroup, so the cgroup v2 rule that a
//! cgroup with processes has no controllers for its children never bites.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{fs, Layout, Roots};

/// A delegated subtree the containers' cgroups can go under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// The containers' parent, relative to the unified hierarchy's root
    /// (`user.slice/user-1000.slice/user@1000.service/berth`).
    pub parent: String,
    /// The controllers the subtree offers (its top's `cgroup.controllers`).
    pub controllers: Vec<String>,
}

/// Finds the subtree delegated to `uid` that holds the calling process's
/// cgroup; `name` is the parent made under its top. The error says why
/// there is none, in words for `info` and for a refused limit.
pub fn delegated(roots: &Roots, uid: u32, name: &str) -> Result<Delegated, String> {
    let root = match roots.layout() {
        Ok(Layout::V2(root)) => root,
        Ok(Layout::V1(_)) => {
            return Err("this host has cgroup v1, which cannot be delegated to an ordinary user (limits need cgroup v2 with a delegated subtree, as systemd's user@.service gives)".into())
        }
        Err(e) => return Err(format!("no cgroup hierarchy: {e}")),
    };
    let self_cgroup = roots.proc.join("self/cgroup");
    let text = fs::read(&self_cgroup).map_err(|e| e.to_string())?;
    let own = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| format!("{} names no cgroup v2 path", self_cgroup.display()))?;
    let own_rel = PathBuf::from(own.trim().trim_start_matches('/'));
    let owner = |rel: &Path| std::fs::metadata(root.join(rel)).ok().map(|m| m.uid());
    if own_rel.as_os_str().is_empty() || owner(&own_rel) != Some(uid) {
        return Err(format!(
            "the daemon's cgroup /{} is not delegated to it (start the daemon inside a delegated cgroup v2 subtree, e.g. from a session of systemd's user@.service with Delegate=yes: systemd-run --user --scope berth daemon)",
            own_rel.display()
        ));
    }
    let mut top = own_rel.clone();
    while let Some(up) = top.parent().filter(|p| !p.as_os_str().is_empty()) {
        if owner(up) != Some(uid) {
            break;
        }
        top = up.to_path_buf();
    }
    if top == own_rel {
        return Err(format!(
            "the daemon's cgroup /{} is the top of the subtree delegated to it, and a cgroup with processes cannot give controllers to children (start the daemon in a child cgroup of it)",
            own_rel.display()
        ));
    }
    let controllers = fs::read(&root.join(&top).join("cgroup.controllers"))
        .map_err(|e| e.to_string())?
        .split_whitespace()
        .map(String::from)
        .collect();
    Ok(Delegated {
        parent: top.join(name).to_string_lossy().into_owned(),
        controllers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::chown;

    const USER: u32 = 4242;

    /// A unified hierarchy where user@USER.service and below belong to
    /// USER, the daemon being in its app.slice/berth.scope.
    fn tree(daemon: &str) -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cgroup");
        let proc = dir.path().join("proc");
        std::fs::create_dir_all(proc.join("self")).unwrap();
        std::fs::write(
            proc.join("self/mountinfo"),
            format!("30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n", root.display()),
        )
        .unwrap();
        std::fs::write(proc.join("self/cgroup"), format!("0::{daemon}\n")).unwrap();
        let service = root.join("user.slice/user-4242.slice/user@4242.service");
        std::fs::create_dir_all(service.join("app.slice/berth.scope")).unwrap();
        std::fs::write(service.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        for d in [
            service.clone(),
            service.join("app.slice"),
            service.join("app.slice/berth.scope"),
        ] {
            chown(&d, Some(USER), Some(USER)).unwrap();
        }
        (dir, Roots { proc })
    }

    #[test]
    fn the_parent_goes_under_the_top_of_the_users_subtree() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test gives a fake tree's directories to another user: run it as root");
        }
        let (_dir, roots) =
            tree("/user.slice/user-4242.slice/user@4242.service/app.slice/berth.scope");
        assert_eq!(
            delegated(&roots, USER, "berth"),
            Ok(Delegated {
                parent: "user.slice/user-4242.slice/user@4242.service/berth".into(),
                controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
            })
        );
    }

    #[test]
    fn no_delegation_says_why() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test gives a fake tree's directories to another user: run it as root");
        }
        // A login session's scope belongs to root.
        let (dir, roots) = tree("/user.slice/user-4242.slice/session-1.scope");
        std::fs::create_dir_all(
            dir.path()
                .join("cgroup/user.slice/user-4242.slice/session-1.scope"),
        )
        .unwrap();
        let why = delegated(&roots, USER, "berth").unwrap_err();
        assert!(
            why.contains("/user.slice/user-4242.slice/session-1.scope is not delegated"),
            "{why}"
        );
        // The daemon alone at the top of its subtree.
        let (_dir, roots) = tree("/user.slice/user-4242.slice/user@4242.service");
        let why = delegated(&roots, USER, "berth").unwrap_err();
        assert!(why.contains("is the top of the subtree"), "{why}");
        // cgroup v1.
        let (dir, roots) = tree("/");
        std::fs::write(
            dir.path().join("proc/self/mountinfo"),
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .unwrap();
        let why = delegated(&roots, USER, "berth").unwrap_err();
        assert!(why.contains("cgroup v1"), "{why}");
    }
}
