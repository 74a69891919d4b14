//! IPv6 address management, pure: a network's IPv6 pool (subnet, gateway,
//! range) checked as Docker checks it, addresses handed out from it, a
//! unique local /64 for networks created with `--ipv6` and no subnet, and
//! the host's IPv6 routes a new subnet must not overlap.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use crate::Error;

/// A network's IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool6 {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    pub range: Ipv6Net,
}

fn add(base: Ipv6Addr, n: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(base).wrapping_add(n))
}

/// Whether two subnets share an address.
pub fn overlaps(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Pool6 {
    /// Checks the settings: the gateway and range inside the subnet, the
    /// gateway the subnet's first address after the network's by default.
    pub fn new(
        subnet: Ipv6Net,
        gateway: Option<Ipv6Addr>,
        range: Option<Ipv6Net>,
    ) -> Result<Pool6, Error> {
        let subnet = subnet.trunc();
        crate::ipam::check_pool(
            subnet.into(),
            gateway.map(Into::into),
            range.map(Into::into),
        )?;
        let gateway = gateway.unwrap_or_else(|| add(subnet.network(), 1));
        let range = range.map_or(subnet, |r| r.trunc());
        Ok(Pool6 {
            subnet,
            gateway,
            range,
        })
    }

    /// Whether `ip` can be given to a container: inside the subnet, not the
    /// subnet-router anycast address (the subnet's first), not the gateway.
    pub fn usable(&self, ip: Ipv6Addr) -> bool {
        self.subnet.contains(&ip) && ip != self.subnet.network() && ip != self.gateway
    }

    /// The lowest free address of the range, or `wanted` when given and
    /// free. Searches at most a million addresses past the range's start.
    pub fn allocate(
        &self,
        used: &BTreeSet<Ipv6Addr>,
        wanted: Option<Ipv6Addr>,
    ) -> Result<Ipv6Addr, Error> {
        if let Some(ip) = wanted {
            if !self.usable(ip) {
                return Err(Error::Invalid(format!(
                    "invalid address {ip}: it does not belong to any of this network's subnets or is reserved"
                )));
            }
            if used.contains(&ip) {
                return Err(Error::Conflict(format!("address {ip} is already in use")));
            }
            return Ok(ip);
        }
        let start = u128::from(self.range.network());
        let end = u128::from(self.range.broadcast()).min(start.saturating_add(1 << 20));
        (start..=end)
            .map(Ipv6Addr::from)
            .find(|ip| self.usable(*ip) && !used.contains(ip))
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "no available IPv6 addresses on this network's address pools: {}",
                    self.range
                ))
            })
    }
}

/// A unique local /64 (`fdXX:XXXX:XXXX::/64`) taken from 40 bits of
/// `seed` (a network's random id), as Docker derives its own ULA prefix.
pub fn ula_subnet(seed: &[u8]) -> Ipv6Net {
    let mut b = [0u8; 16];
    b[0] = 0xfd;
    for (i, byte) in seed.iter().take(5).enumerate() {
        b[1 + i] = *byte;
    }
    Ipv6Net::new(Ipv6Addr::from(b), 64).unwrap_or_default()
}

/// IPv6 routes of the host from `/proc/net/ipv6_route` text, except the
/// default route and link-local, multicast and host routes.
pub fn host_routes6(proc_net_ipv6_route: &str) -> Vec<Ipv6Net> {
    proc_net_ipv6_route
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u128::from_str_radix(f.first()?, 16).ok()?;
            let prefix = u8::from_str_radix(f.get(1)?, 16).ok()?;
            let net = Ipv6Net::new(Ipv6Addr::from(dest), prefix).ok()?;
            let a = net.network();
            let special = prefix == 0
                || prefix == 128
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80;
            (!special).then_some(net)
        })
        .collect()
}

/// A MAC address for an IPv6-only endpoint: `02:42:` and the address's
/// last four bytes.
pub fn mac_for6(ip: Ipv6Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[12], o[13], o[14], o[15]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    #[test]
    fn pools_as_docker_checks_them() {
        let p = Pool6::new(
            net("2001:389::/64"),
            Some("2001:389::ffff".parse().unwrap()),
            Some(net("2001:389::/96")),
        )
        .unwrap();
        assert_eq!(p.gateway, "2001:389::ffff".parse::<Ipv6Addr>().unwrap());
        let mut used = BTreeSet::new();
        let a = p.allocate(&used, None).unwrap();
        assert_eq!(a, "2001:389::1".parse::<Ipv6Addr>().unwrap());
        used.insert(a);
        assert_eq!(
            p.allocate(&used, None).unwrap(),
            "2001:389::2".parse::<Ipv6Addr>().unwrap()
        );
        let fixed: Ipv6Addr = "2001:389::f00d".parse().unwrap();
        assert_eq!(p.allocate(&used, Some(fixed)).unwrap(), fixed);
        assert!(p
            .allocate(&used, Some(a))
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        assert!(p.allocate(&used, Some(p.gateway)).is_err());
        assert!(p
            .allocate(&used, Some("2001:390::1".parse().unwrap()))
            .is_err());
        let d = Pool6::new(net("fd00:1::/64"), None, None).unwrap();
        assert_eq!(d.gateway, "fd00:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            d.allocate(&BTreeSet::new(), None).unwrap(),
            "fd00:1::2".parse::<Ipv6Addr>().unwrap()
        );
        assert!(Pool6::new(net("fd00:1::/64"), Some("fd00:2::1".parse().unwrap()), None).is_err());
        assert!(Pool6::new(net("fd00:1::/64"), None, Some(net("fd00:2::/96"))).is_err());
        assert!(Pool6::new(net("fd00:1::/127"), None, None).is_err());
    }

    #[test]
    fn ula_and_host_routes() {
        assert_eq!(
            ula_subnet(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xff]),
            net("fd12:3456:789a::/64")
        );
        let text = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001     eth0
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
";
        assert_eq!(host_routes6(text), vec![net("fd00::/64")]);
        assert!(overlaps(&net("fd00::/64"), &net("fd00::/48")));
        assert!(!overlaps(&net("fd00::/64"), &net("fd00:0:0:1::/64")));
        assert_eq!(
            mac_for6("fd00::a:b0c".parse().unwrap()),
            [2, 0x42, 0, 0x0a, 0x0b, 0x0c]
        );
    }
}
