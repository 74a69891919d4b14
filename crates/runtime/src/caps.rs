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

use crate::mounts::errno_text;

/// Errors applying capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A capability name is unknown to this runtime.
    #[error("unknown capability {0}")]
    Unknown(String),
    /// Dropping from the bounding set failed.
    #[error("dropping capability {cap} from the bounding set: {}", errno_text(*.errno))]
    Bounding { cap: u8, errno: Errno },
    /// Setting one of the sets failed.
    #[error("setting the {set} capability set: {message}")]
    Set { set: &'static str, message: String },
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
    fn converts_sets() {
        let set: HashSet<Capability> = [Capability::Kill, Capability::NetRaw].into();
        let c = to_caps(&Some(set.clone())).unwrap();
        assert!(c.contains(&caps::Capability::CAP_KILL));
        assert_eq!(mask(&set).unwrap(), (1 << 5) | (1 << 13));
        assert!(to_caps(&None).unwrap().is_empty());
    }
}
