//! IP address management, pure: choosing a subnet for a new network that
//! collides with none of the host's routes or other networks, and handing
//! out addresses inside it.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::Error;

/// The pools Docker takes networks from, in order: `172.17.0.0/16` to
/// `172.31.0.0/16`, then `/20`s of `192.168.0.0/16`.
pub fn default_pools() -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = (17u8..=31)
        .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid /16"))
        .collect();
    let big = Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid /16");
    out.extend(big.subnets(20).expect("/20 inside a /16"));
    out
}

/// The first pool that overlaps none of `taken` (host routes other than the
/// default route, and the subnets of existing networks).
pub fn choose_subnet(pools: &[Ipv4Net], taken: &[Ipv4Net]) -> Result<Ipv4Net, Error> {
    pools
        .iter()
        .find(|p| !taken.iter().any(|t| overlaps(p, t)))
        .copied()
        .ok_or_else(|| {
            Error::Invalid(
                "all predefined address pools have been fully subnetted: no free subnet for a new network".into(),
            )
        })
}

/// Whether two subnets share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Routes of the host's main table from `/proc/net/route` text, except the
/// default route.
pub fn host_routes(proc_net_route: &str) -> Vec<Ipv4Net> {
    proc_net_route
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the network-order bytes as a native
            // (little-endian here) integer.
            let dest = Ipv4Addr::from(dest.to_le_bytes());
            let prefix = mask.count_ones() as u8;
            (prefix > 0)
                .then(|| Ipv4Net::new(dest, prefix).ok())
                .flatten()
        })
        .collect()
}

/// A network's addresses: the subnet, the gateway (the bridge's address)
/// and the range containers get addresses from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub range: Ipv4Net,
}

/// Docker's checks of an IPAM pool, for either family: room for a gateway
/// and a container, the gateway and the range inside the subnet.
pub(crate) fn check_pool(
    subnet: ipnet::IpNet,
    gateway: Option<std::net::IpAddr>,
    range: Option<ipnet::IpNet>,
) -> Result<(), Error> {
    if subnet.prefix_len() + 2 > subnet.max_prefix_len() {
        return Err(Error::Invalid(format!(
            "subnet {subnet} is too small: it needs room for a gateway and a container"
        )));
    }
    if let Some(g) = gateway.filter(|g| !subnet.contains(g)) {
        return Err(Error::Invalid(format!(
            "no matching subnet for gateway {g}"
        )));
    }
    if let Some(r) = range.filter(|r| !subnet.contains(r)) {
        return Err(Error::Invalid(format!(
            "ip-range {r} is not inside subnet {subnet}"
        )));
    }
    Ok(())
}

impl Pool {
    /// Checks a network's IPAM settings as Docker does: the gateway and the
    /// range inside the subnet; the gateway defaults to the first host.
    pub fn new(
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        range: Option<Ipv4Net>,
    ) -> Result<Pool, Error> {
        let subnet = subnet.trunc();
        check_pool(
            subnet.into(),
            gateway.map(Into::into),
            range.map(Into::into),
        )?;
        let gateway = gateway.unwrap_or_else(|| first_host(&subnet));
        let range = range.map_or(subnet, |r| r.trunc());
        Ok(Pool {
            subnet,
            gateway,
            range,
        })
    }

    /// Whether `ip` can be given to a container: inside the subnet, not its
    /// network or broadcast address, not the gateway.
    pub fn usable(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(&ip)
            && ip != self.subnet.network()
            && ip != self.subnet.broadcast()
            && ip != self.gateway
    }

    /// The lowest free address of the range (`used` holds those taken), or
    /// `wanted` when given and free.
    pub fn allocate(
        &self,
        used: &BTreeSet<Ipv4Addr>,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, Error> {
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
        let start = u32::from(self.range.network());
        let end = u32::from(self.range.broadcast());
        (start..=end)
            .map(Ipv4Addr::from)
            .find(|ip| self.usable(*ip) && !used.contains(ip))
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "no available IPv4 addresses on this network's address pools: {}",
                    self.range
                ))
            })
    }
}

fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// A MAC address derived from an IPv4 address, as Docker does
/// (`02:42:` followed by the address bytes).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Result<[u8; 6], Error> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || Error::Invalid(format!("{text} is not a valid mac address"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn chooses_the_first_free_pool() {
        let pools = default_pools();
        assert_eq!(pools[0], net("172.17.0.0/16"));
        assert_eq!(pools[15], net("192.168.0.0/20"));
        assert_eq!(choose_subnet(&pools, &[]).unwrap(), net("172.17.0.0/16"));
        let taken = [net("172.17.5.0/24"), net("172.16.0.0/12")];
        assert_eq!(
            choose_subnet(&pools, &taken).unwrap(),
            net("192.168.0.0/20")
        );
        let everything = [net("0.0.0.0/1"), net("128.0.0.0/1")];
        assert!(choose_subnet(&pools, &everything).is_err());
    }

    #[test]
    fn reads_host_routes() {
        let text = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";
        assert_eq!(
            host_routes(text),
            vec![net("192.168.0.0/24"), net("172.17.0.0/16")]
        );
    }

    #[test]
    fn allocates_inside_the_range() {
        let pool = Pool::new(net("10.99.0.0/24"), None, None).unwrap();
        assert_eq!(pool.gateway, Ipv4Addr::new(10, 99, 0, 1));
        let mut used = BTreeSet::new();
        let a = pool.allocate(&used, None).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 99, 0, 2));
        used.insert(a);
        assert_eq!(
            pool.allocate(&used, None).unwrap(),
            Ipv4Addr::new(10, 99, 0, 3)
        );
        let fixed = Ipv4Addr::new(10, 99, 0, 50);
        assert_eq!(pool.allocate(&used, Some(fixed)).unwrap(), fixed);
        assert!(pool
            .allocate(&used, Some(a))
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        assert!(pool
            .allocate(&used, Some(Ipv4Addr::new(10, 98, 0, 5)))
            .is_err());
        assert!(pool.allocate(&used, Some(pool.gateway)).is_err());

        let ranged = Pool::new(
            net("10.99.0.0/16"),
            Some(Ipv4Addr::new(10, 99, 0, 254)),
            Some(net("10.99.1.0/30")),
        )
        .unwrap();
        let mut used = BTreeSet::new();
        // Inside a /16, the .0 and .3 of a /30 range are ordinary addresses.
        for want in [0, 1, 2, 3] {
            let ip = ranged.allocate(&used, None).unwrap();
            assert_eq!(ip, Ipv4Addr::new(10, 99, 1, want));
            used.insert(ip);
        }
        assert!(ranged
            .allocate(&used, None)
            .unwrap_err()
            .to_string()
            .contains("no available"));
        assert!(Pool::new(net("10.99.0.0/24"), Some(Ipv4Addr::new(10, 1, 1, 1)), None).is_err());
        assert!(Pool::new(net("10.99.0.0/24"), None, Some(net("10.98.0.0/28"))).is_err());
        assert!(Pool::new(net("10.99.0.0/31"), None, None).is_err());
    }

    #[test]
    fn macs() {
        let m = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac_text(&m), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02").unwrap(), m);
        assert!(parse_mac("02:42:ac:11:00").is_err());
        assert!(parse_mac("zz:42:ac:11:00:02").is_err());
    }
}
