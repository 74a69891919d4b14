//! `--sysctl`: which kernel parameters a container may set (only those the
//! kernel keeps per namespace, and only for namespaces of its own), and
//! setting them from inside the container.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The IPC-namespaced parameters outside `fs.mqueue.`.
const IPC: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysctlNs {
    Ipc,
    Net,
    Uts,
}

/// Which namespace keeps `name`, `None` when it is global to the host.
pub fn namespace_of(name: &str) -> Option<SysctlNs> {
    if IPC.contains(&name) || name.starts_with("fs.mqueue.") {
        Some(SysctlNs::Ipc)
    } else if name.starts_with("net.") {
        Some(SysctlNs::Net)
    } else if name == "kernel.domainname" {
        Some(SysctlNs::Uts)
    } else {
        None
    }
}

/// Checks one `--sysctl`: namespaced, well formed, and not for a namespace
/// the container shares with the host. `private(ns)` says whether the
/// container has that namespace of its own.
pub fn validate(name: &str, private: impl Fn(SysctlNs) -> bool) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        });
    if !well_formed {
        return Err(format!("sysctl {name:?} is not a valid name"));
    }
    match namespace_of(name) {
        None => Err(format!(
            "sysctl {name:?} is not allowed: it is not namespaced, so it would change the host"
        )),
        Some(ns) if !private(ns) => Err(format!(
            "sysctl {name:?} is not allowed: the container shares its {} namespace with the host",
            match ns {
                SysctlNs::Ipc => "IPC",
                SysctlNs::Net => "network",
                SysctlNs::Uts => "UTS",
            }
        )),
        Some(_) => Ok(()),
    }
}

/// `/proc/sys/...` for a dotted name under `proc_root`.
pub fn path_of(proc_root: &Path, name: &str) -> PathBuf {
    proc_root.join("sys").join(name.replace('.', "/"))
}

/// Writes every parameter (inside the container, before `/proc/sys` is made
/// read-only). Names are sorted so the order is stable.
pub fn apply(proc_root: &Path, sysctls: &HashMap<String, String>) -> Result<(), String> {
    let mut names: Vec<&String> = sysctls.keys().collect();
    names.sort();
    for name in names {
        let path = path_of(proc_root, name);
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, sysctls[name].as_bytes()))
            .map_err(|e| format!("setting sysctl {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_parameters_of_own_namespaces() {
        let all = |_| true;
        assert!(validate("net.ipv4.ip_forward", all).is_ok());
        assert!(validate("kernel.shmmax", all).is_ok());
        assert!(validate("fs.mqueue.msg_max", all).is_ok());
        assert!(validate("kernel.domainname", all).is_ok());
        let e = validate("kernel.panic", all).unwrap_err();
        assert!(e.contains("not namespaced"), "{e}");
        let e = validate("net.core.somaxconn", |ns| ns != SysctlNs::Net).unwrap_err();
        assert!(e.contains("network namespace"), "{e}");
        assert!(validate("net..x", all).is_err());
        assert!(validate("net.a/../../b", all).is_err());
    }

    #[test]
    fn writes_under_proc_sys() {
        let dir = tempfile::tempdir().unwrap();
        let p = path_of(dir.path(), "net.ipv4.ping_group_range");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "").unwrap();
        let m = HashMap::from([("net.ipv4.ping_group_range".to_string(), "0 0".to_string())]);
        apply(dir.path(), &m).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0 0");
        let m = HashMap::from([("net.nope".to_string(), "1".to_string())]);
        assert!(apply(dir.path(), &m).unwrap_err().contains("net.nope"));
    }
}
