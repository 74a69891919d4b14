//! Capabilities of the container's process.
//!
//! Order matters: the bounding set is dropped first, while the process is
//! still fully privileged root; the user switch keeps the permitted set
//! (`PR_SET_KEEPCAPS`); then effective, permitted and inheritable are set
//! from the spec (effective first, so it always stays within permitted) and
//! finally the ambient set.

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use oci_spec::runtime::{Capability, LinuxCapabilities};

use crate::errno::errno_text;

/// Errors applying capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A capability name is unknown to this runtime.
    #[error("unknown capability: {0}")]
    Unknown(String),
    /// Dropping from the bounding set failed.
    #[error("dropping capability {cap} from the bounding set: {}", errno_text(*.errno))]
    Bounding { cap: u8, errno: Errno },
    /// Setting one of the sets failed.
    #[error("setting the {set} capability set: {message}")]
    Set { set: &'static str, message: String },
    /// A capability was asked for that the engine itself does not hold.
    #[error("capability {0} cannot be granted: it is not in the engine's own bounding set")]
    NotHeld(String),
}

/// Every capability this runtime knows, in kernel order.
pub fn all() -> Vec<Capability> {
    let mut known: Vec<caps::Capability> = caps::all().into_iter().collect();
    known.sort_by_key(|c| c.index());
    known
        .into_iter()
        .filter_map(|c| serde_json::from_value(serde_json::Value::String(c.to_string())).ok())
        .collect()
}

/// Parses a capability name as Docker takes it: any case, with or without
/// the `CAP_` prefix.
pub fn parse_name(name: &str) -> Result<Capability, CapsError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full.clone()))
        .map_err(|_| CapsError::Unknown(format!("{name:?}")))
}

/// The calling process's bounding set.
pub fn own_bounding() -> Vec<Capability> {
    all()
        .into_iter()
        .filter(|c| {
            index(*c).is_ok_and(|i| {
                // SAFETY: PR_CAPBSET_READ takes a capability number and no pointers.
                unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(i), 0, 0, 0) == 1 }
            })
        })
        .collect()
}

fn is_all(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("ALL")
}

/// Docker's `--cap-add`/`--cap-drop`/`--privileged` rules over `defaults`,
/// limited to `held` (the engine's own bounding set): `--privileged` and
/// `--cap-add ALL` give every held capability; `--cap-drop ALL` keeps only
/// what is added; otherwise the defaults minus the dropped plus the added.
/// An added capability the engine does not hold is an error.
pub fn resolve(
    defaults: &[Capability],
    add: &[String],
    drop: &[String],
    privileged: bool,
    held: &[Capability],
) -> Result<HashSet<Capability>, CapsError> {
    let held: HashSet<Capability> = held.iter().copied().collect();
    let parse_list = |list: &[String]| -> Result<HashSet<Capability>, CapsError> {
        list.iter()
            .filter(|n| !is_all(n))
            .map(|n| parse_name(n))
            .collect()
    };
    let added = parse_list(add)?;
    let dropped = parse_list(drop)?;
    if privileged {
        return Ok(held);
    }
    for c in &added {
        if !held.contains(c) {
            return Err(CapsError::NotHeld(oci_name(*c)));
        }
    }
    let mut out: HashSet<Capability> = if add.iter().any(|n| is_all(n)) {
        held.iter()
            .filter(|c| !dropped.contains(c))
            .copied()
            .collect()
    } else if drop.iter().any(|n| is_all(n)) {
        HashSet::new()
    } else {
        defaults
            .iter()
            .filter(|c| held.contains(c) && !dropped.contains(c))
            .copied()
            .collect()
    };
    out.extend(added);
    Ok(out)
}

fn oci_name(cap: Capability) -> String {
    serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The kernel's number for a capability.
pub fn index(cap: Capability) -> Result<u8, CapsError> {
    let name = oci_name(cap);
    caps::Capability::from_str(&name)
        .map(|c| c.index())
        .map_err(|_| CapsError::Unknown(name))
}

fn to_caps(set: &Option<HashSet<Capability>>) -> Result<CapsHashSet, CapsError> {
    set.iter()
        .flatten()
        .map(|c| {
            let name = oci_name(*c);
            caps::Capability::from_str(&name).map_err(|_| CapsError::Unknown(name))
        })
        .collect()
}

/// Bitmask of a set, as `/proc/<pid>/status` prints it.
pub fn mask(set: &HashSet<Capability>) -> Result<u64, CapsError> {
    set.iter()
        .try_fold(0u64, |acc, c| Ok(acc | (1u64 << index(*c)?)))
}

/// Drops every capability the kernel knows that is not in `keep` from the
/// bounding set. Needs `CAP_SETPCAP` in the effective set.
pub fn drop_bounding(keep: &Option<HashSet<Capability>>) -> Result<(), CapsError> {
    let keep = match keep {
        Some(k) => mask(k)?,
        None => return Ok(()),
    };
    for cap in 0u8..64 {
        // SAFETY: PR_CAPBSET_READ takes a capability number and no pointers.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) };
        if rc < 0 {
            // EINVAL: past the last capability this kernel knows.
            break;
        }
        if rc == 0 || keep & (1u64 << cap) != 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and no pointers.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        if rc < 0 {
            return Err(CapsError::Bounding {
                cap,
                errno: Errno::last(),
            });
        }
    }
    Ok(())
}

/// Sets effective, permitted, inheritable and ambient from the spec.
pub fn apply_sets(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let set = |name: &'static str, which: CapSet, value: &CapsHashSet| {
        caps::set(None, which, value).map_err(|e| CapsError::Set {
            set: name,
            message: e.to_string(),
        })
    };
    set("effective", CapSet::Effective, &to_caps(c.effective())?)?;
    set("permitted", CapSet::Permitted, &to_caps(c.permitted())?)?;
    set(
        "inheritable",
        CapSet::Inheritable,
        &to_caps(c.inheritable())?,
    )?;
    let ambient = to_caps(c.ambient())?;
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(|e| CapsError::Set {
            set: "ambient",
            message: e.to_string(),
        })?;
        for cap in ambient {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| CapsError::Set {
                set: "ambient",
                message: e.to_string(),
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_match_the_kernel() {
        assert_eq!(index(Capability::Chown).unwrap(), 0);
        assert_eq!(index(Capability::SysAdmin).unwrap(), 21);
        assert_eq!(index(Capability::AuditWrite).unwrap(), 29);
        assert_eq!(index(Capability::Setfcap).unwrap(), 31);
    }

    #[test]
    fn names_and_docker_rules() {
        assert_eq!(parse_name("net_admin").unwrap(), Capability::NetAdmin);
        assert_eq!(parse_name("CAP_SYS_ADMIN").unwrap(), Capability::SysAdmin);
        assert_eq!(
            parse_name("nope").unwrap_err().to_string(),
            "unknown capability: \"nope\""
        );
        let all = all();
        assert_eq!(all[0], Capability::Chown);
        assert!(all.contains(&Capability::CheckpointRestore));
        let held: Vec<Capability> = all
            .iter()
            .copied()
            .filter(|c| *c != Capability::SysResource)
            .collect();
        let defaults = crate::spec::DEFAULT_CAPABILITIES;
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let r = resolve(&defaults, &s(&["NET_ADMIN"]), &s(&["chown"]), false, &held).unwrap();
        assert!(r.contains(&Capability::NetAdmin) && !r.contains(&Capability::Chown));
        assert_eq!(r.len(), defaults.len());
        let r = resolve(&defaults, &s(&["net_admin"]), &s(&["ALL"]), false, &held).unwrap();
        assert_eq!(r, [Capability::NetAdmin].into());
        let r = resolve(&defaults, &s(&["all"]), &s(&["KILL"]), false, &held).unwrap();
        assert_eq!(r.len(), held.len() - 1);
        let r = resolve(&defaults, &[], &[], true, &held).unwrap();
        assert_eq!(r.len(), held.len());
        let e = resolve(&defaults, &s(&["SYS_RESOURCE"]), &[], false, &held).unwrap_err();
        assert!(e.to_string().contains("CAP_SYS_RESOURCE"), "{e}");
        assert!(resolve(&defaults, &s(&["BOGUS"]), &[], false, &held).is_err());
        assert!(resolve(&defaults, &[], &s(&["BOGUS"]), false, &held).is_err());
    }

    #[test]
    fn converts_sets() {
        let set: HashSet<Capability> = [Capability::Kill, Capability::NetRaw].into();
        let c = to_caps(&Some(set.clone())).unwrap();
        assert!(c.contains(&caps::Capability::CAP_KILL));
        assert_eq!(mask(&set).unwrap(), (1 << 5) | (1 << 13));
        assert!(to_caps(&None).unwrap().is_empty());
    }
}
