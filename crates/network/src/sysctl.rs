//! The host sysctls networking needs: IPv4 forwarding (turned on when the
//! first network that routes outside its bridge comes up, as Docker does)
//! and `route_localnet` on a bridge (published ports reached through
//! 127.0.0.1). `proc` is a parameter so tests point it at a tempdir.

use std::path::{Path, PathBuf};

use crate::Error;

/// Where `/proc/sys/net` is.
#[derive(Debug, Clone)]
pub struct ProcNet {
    pub root: PathBuf,
}

impl Default for ProcNet {
    fn default() -> Self {
        ProcNet {
            root: PathBuf::from("/proc/sys/net"),
        }
    }
}

fn write_if_different(path: &Path, value: &str) -> Result<bool, Error> {
    let now = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
    if now.trim() == value {
        return Ok(false);
    }
    std::fs::write(path, value).map_err(Error::io("writing", path))?;
    Ok(true)
}

impl ProcNet {
    /// Turns IPv4 forwarding on; says whether it was off.
    pub fn enable_forwarding(&self) -> Result<bool, Error> {
        write_if_different(&self.root.join("ipv4/ip_forward"), "1")
    }

    /// Turns IPv6 forwarding on; says whether it was off.
    pub fn enable_forwarding6(&self) -> Result<bool, Error> {
        write_if_different(&self.root.join("ipv6/conf/all/forwarding"), "1")
    }

    /// Lets interface `iface` carry IPv6 (a bridge of an IPv6 network).
    pub fn enable_ipv6(&self, iface: &str) -> Result<(), Error> {
        write_if_different(
            &self.root.join("ipv6/conf").join(iface).join("disable_ipv6"),
            "0",
        )
        .map(drop)
    }

    /// Lets traffic from 127.0.0.0/8 be routed out of `iface`.
    pub fn enable_route_localnet(&self, iface: &str) -> Result<(), Error> {
        write_if_different(
            &self
                .root
                .join("ipv4/conf")
                .join(iface)
                .join("route_localnet"),
            "1",
        )
        .map(drop)
    }
}

/// Turns hairpin mode on for a bridge port, so a container can reach
/// itself through a published port. `sys_class_net` is `/sys/class/net`.
pub fn enable_hairpin(sys_class_net: &Path, port: &str) -> Result<(), Error> {
    let path = sys_class_net.join(port).join("brport/hairpin_mode");
    std::fs::write(&path, "1").map_err(Error::io("writing", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ipv4/conf/br0")).unwrap();
        std::fs::write(dir.path().join("ipv4/ip_forward"), "0\n").unwrap();
        std::fs::write(dir.path().join("ipv4/conf/br0/route_localnet"), "0\n").unwrap();
        let p = ProcNet {
            root: dir.path().to_path_buf(),
        };
        assert!(p.enable_forwarding().unwrap());
        assert!(!p.enable_forwarding().unwrap());
        p.enable_route_localnet("br0").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ipv4/conf/br0/route_localnet")).unwrap(),
            "1"
        );
        assert!(p.enable_route_localnet("missing").is_err());
        std::fs::create_dir_all(dir.path().join("ipv6/conf/all")).unwrap();
        std::fs::create_dir_all(dir.path().join("ipv6/conf/br0")).unwrap();
        std::fs::write(dir.path().join("ipv6/conf/all/forwarding"), "0\n").unwrap();
        std::fs::write(dir.path().join("ipv6/conf/br0/disable_ipv6"), "1\n").unwrap();
        assert!(p.enable_forwarding6().unwrap());
        p.enable_ipv6("br0").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ipv6/conf/br0/disable_ipv6")).unwrap(),
            "0"
        );
    }
}
