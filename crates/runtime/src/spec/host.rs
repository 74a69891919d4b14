//! What building a spec needs to know about the machine, behind a trait so
//! golden tests describe a fixed machine.

use std::path::Path;

use oci_spec::runtime::{Capability, PosixRlimitType};

use crate::devices::HostDevice;
use crate::seccomp::profile::Target;

/// What building a spec needs to know about the machine: the engine's own
/// capabilities and rlimits, host devices, architecture and kernel.
pub trait Host {
    /// The engine's own bounding set: no container gets more.
    fn bounding_set(&self) -> Vec<Capability>;
    /// The engine's hard limit for a resource (`None`: unlimited).
    fn hard_limit(&self, typ: PosixRlimitType) -> Option<u64>;
    /// The device node(s) at a host path (a directory gives all below it).
    fn device(&self, path: &Path) -> Result<Vec<HostDevice>, String>;
    /// Every host device (`--privileged`).
    fn all_devices(&self) -> Vec<HostDevice>;
    /// Architecture and kernel, for seccomp profiles.
    fn target(&self) -> Target;
}

/// The machine this runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

/// `(major, minor)` of the running kernel, `(0, 0)` when unreadable.
pub fn kernel_version() -> (u32, u32) {
    let text = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = text.trim().split(['.', '-']);
    let mut num = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (num(), num())
}

impl Host for RealHost {
    fn bounding_set(&self) -> Vec<Capability> {
        crate::caps::own_bounding()
    }

    fn hard_limit(&self, typ: PosixRlimitType) -> Option<u64> {
        crate::rlimit::own_hard_limit(typ).filter(|h| *h != libc::RLIM_INFINITY)
    }

    fn device(&self, path: &Path) -> Result<Vec<HostDevice>, String> {
        let gathering = |e: &dyn std::fmt::Display| {
            format!(
                "error gathering device information while adding custom device {:?}: {e}",
                path.display().to_string()
            )
        };
        match crate::devices::stat_device(path) {
            Ok(Some(d)) => Ok(vec![d]),
            Ok(None) if path.is_dir() => Ok(crate::devices::devices_under(path)),
            Ok(None) => Err(gathering(&"not a device node")),
            Err(e) => Err(gathering(&e)),
        }
    }

    fn all_devices(&self) -> Vec<HostDevice> {
        crate::devices::devices_under(Path::new("/dev"))
    }

    fn target(&self) -> Target {
        Target::native(kernel_version())
    }
}

/// A machine described by values, for tests and golden files.
#[derive(Debug, Clone)]
pub struct FixedHost {
    pub bounding: Vec<Capability>,
    pub hard_limits: Vec<(PosixRlimitType, u64)>,
    pub devices: Vec<HostDevice>,
    pub target: Target,
}

impl Default for FixedHost {
    /// An x86_64 machine on Linux 6.1 whose root lacks CAP_SYS_RESOURCE,
    /// with a hard `nofile` limit of 20000 and a few devices.
    fn default() -> Self {
        let dev = |path: &str, kind, major, minor| HostDevice {
            path: path.into(),
            kind,
            major,
            minor,
            mode: 0o660,
            uid: 0,
            gid: 6,
        };
        FixedHost {
            bounding: crate::caps::all()
                .into_iter()
                .filter(|c| *c != Capability::SysResource)
                .collect(),
            hard_limits: vec![(PosixRlimitType::RlimitNofile, 20_000)],
            devices: vec![
                dev("/dev/fuse", 'c', 10, 229),
                dev("/dev/null", 'c', 1, 3),
                dev("/dev/sda", 'b', 8, 0),
                dev("/dev/snd/controlC0", 'c', 116, 0),
                dev("/dev/snd/timer", 'c', 116, 33),
            ],
            target: Target {
                machine: "x86_64",
                kernel: (6, 1),
            },
        }
    }
}

impl Host for FixedHost {
    fn bounding_set(&self) -> Vec<Capability> {
        self.bounding.clone()
    }

    fn hard_limit(&self, typ: PosixRlimitType) -> Option<u64> {
        self.hard_limits
            .iter()
            .find(|(t, _)| *t == typ)
            .map(|(_, v)| *v)
    }

    fn device(&self, path: &Path) -> Result<Vec<HostDevice>, String> {
        let found: Vec<HostDevice> = self
            .devices
            .iter()
            .filter(|d| d.path.starts_with(path))
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(format!(
                "error gathering device information while adding custom device {:?}: no such file or directory",
                path.display().to_string()
            ));
        }
        Ok(found)
    }

    fn all_devices(&self) -> Vec<HostDevice> {
        self.devices.clone()
    }

    fn target(&self) -> Target {
        self.target
    }
}
