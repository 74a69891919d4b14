//! `--ulimit`: Docker's names, validation against the engine's own hard
//! limits, and `setrlimit` in the container.
//!
//! Raising a hard limit needs CAP_SYS_RESOURCE. An engine without it (as on
//! machines where root runs without that capability) can only hand out
//! limits up to its own hard limits, so a higher one is refused while the
//! spec is built, with a message that says why, rather than failing with
//! EPERM inside the container.

use nix::sys::resource::Resource;
use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use serde::{Deserialize, Serialize};

/// One `--ulimit name=soft[:hard]`; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Docker's short names and the kernel's resources.
const NAMES: [(&str, PosixRlimitType, Resource); 16] = [
    ("as", PosixRlimitType::RlimitAs, Resource::RLIMIT_AS),
    ("core", PosixRlimitType::RlimitCore, Resource::RLIMIT_CORE),
    ("cpu", PosixRlimitType::RlimitCpu, Resource::RLIMIT_CPU),
    ("data", PosixRlimitType::RlimitData, Resource::RLIMIT_DATA),
    (
        "fsize",
        PosixRlimitType::RlimitFsize,
        Resource::RLIMIT_FSIZE,
    ),
    (
        "locks",
        PosixRlimitType::RlimitLocks,
        Resource::RLIMIT_LOCKS,
    ),
    (
        "memlock",
        PosixRlimitType::RlimitMemlock,
        Resource::RLIMIT_MEMLOCK,
    ),
    (
        "msgqueue",
        PosixRlimitType::RlimitMsgqueue,
        Resource::RLIMIT_MSGQUEUE,
    ),
    ("nice", PosixRlimitType::RlimitNice, Resource::RLIMIT_NICE),
    (
        "nofile",
        PosixRlimitType::RlimitNofile,
        Resource::RLIMIT_NOFILE,
    ),
    (
        "nproc",
        PosixRlimitType::RlimitNproc,
        Resource::RLIMIT_NPROC,
    ),
    ("rss", PosixRlimitType::RlimitRss, Resource::RLIMIT_RSS),
    (
        "rtprio",
        PosixRlimitType::RlimitRtprio,
        Resource::RLIMIT_RTPRIO,
    ),
    (
        "rttime",
        PosixRlimitType::RlimitRttime,
        Resource::RLIMIT_RTTIME,
    ),
    (
        "sigpending",
        PosixRlimitType::RlimitSigpending,
        Resource::RLIMIT_SIGPENDING,
    ),
    (
        "stack",
        PosixRlimitType::RlimitStack,
        Resource::RLIMIT_STACK,
    ),
];

fn value(v: i64) -> u64 {
    if v < 0 {
        libc::RLIM_INFINITY
    } else {
        v as u64
    }
}

fn show(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

/// The kernel resource of an OCI rlimit type.
pub fn resource_of(typ: PosixRlimitType) -> Option<Resource> {
    NAMES.iter().find(|(_, t, _)| *t == typ).map(|(_, _, r)| *r)
}

/// The caller's own hard limit for `typ`.
pub fn own_hard_limit(typ: PosixRlimitType) -> Option<u64> {
    let res = resource_of(typ)?;
    nix::sys::resource::getrlimit(res)
        .ok()
        .map(|(_, hard)| hard)
}

/// Turns `--ulimit`s into OCI rlimits. `hard_limit` gives the engine's own
/// hard limit per type; `can_raise` says whether the engine holds
/// CAP_SYS_RESOURCE (then any value goes).
pub fn to_oci(
    ulimits: &[Ulimit],
    hard_limit: &dyn Fn(PosixRlimitType) -> Option<u64>,
    can_raise: bool,
) -> Result<Vec<PosixRlimit>, String> {
    let mut out: Vec<PosixRlimit> = Vec::new();
    for u in ulimits {
        let (_, typ, _) = NAMES
            .iter()
            .find(|(n, _, _)| *n == u.name)
            .ok_or_else(|| format!("invalid ulimit type: {}", u.name))?;
        let (soft, hard) = (value(u.soft), value(u.hard));
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                show(soft),
                show(hard)
            ));
        }
        if !can_raise {
            if let Some(max) = hard_limit(*typ).filter(|max| hard > *max) {
                return Err(format!(
                    "ulimit {}: hard limit {} is above the engine's own hard limit {}; \
                     raising it needs CAP_SYS_RESOURCE, which the engine does not hold",
                    u.name,
                    show(hard),
                    show(max)
                ));
            }
        }
        let limit = PosixRlimitBuilder::default()
            .typ(*typ)
            .soft(soft)
            .hard(hard)
            .build()
            .map_err(|e| e.to_string())?;
        out.retain(|l| l.typ() != *typ);
        out.push(limit);
    }
    Ok(out)
}

/// `setrlimit` for each limit (in the container, before it drops
/// privileges).
pub fn apply(limits: &[PosixRlimit]) -> Result<(), String> {
    for l in limits {
        let res = resource_of(l.typ()).ok_or_else(|| format!("unknown rlimit {:?}", l.typ()))?;
        nix::sys::resource::setrlimit(res, l.soft(), l.hard()).map_err(|e| {
            format!(
                "setting {:?} to {}:{}: {}",
                l.typ(),
                show(l.soft()),
                show(l.hard()),
                crate::errno::errno_text(e)
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn docker_names_and_limits() {
        let hard = |t| (t == PosixRlimitType::RlimitNofile).then_some(20_000);
        let l = to_oci(&[u("nofile", 1024, 2048), u("core", -1, -1)], &hard, false).unwrap();
        assert_eq!(l[0].typ(), PosixRlimitType::RlimitNofile);
        assert_eq!((l[0].soft(), l[0].hard()), (1024, 2048));
        assert_eq!(l[1].hard(), libc::RLIM_INFINITY);
        let e = to_oci(&[u("nofile", 1024, 65536)], &hard, false).unwrap_err();
        assert!(e.contains("20000") && e.contains("CAP_SYS_RESOURCE"), "{e}");
        assert!(to_oci(&[u("nofile", 1024, 65536)], &hard, true).is_ok());
        let e = to_oci(&[u("nofile", 10, 5)], &hard, false).unwrap_err();
        assert!(e.contains("10 > 5"), "{e}");
        assert!(to_oci(&[u("bogus", 1, 1)], &hard, false).is_err());
        // The last one of a kind wins.
        let l = to_oci(&[u("nproc", 1, 2), u("nproc", 3, 4)], &hard, false).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].soft(), 3);
    }
}
