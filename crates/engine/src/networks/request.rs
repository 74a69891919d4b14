//! `POST /networks/create`'s body as the engine's [`CreateNetwork`]: the
//! IPAM pools split by family (one each, as Docker's bridge driver takes
//! them) and every address parsed, with Docker's error words. Pure.

use std::collections::BTreeMap;

use berth_api::network::{IpamConfig, NetworkCreate};

use super::CreateNetwork;
use crate::Error;

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<Option<T>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|_| Error::InvalidArgument(format!("invalid {what}: {text}")))
}

impl CreateNetwork {
    /// Checks and converts a create request.
    pub fn from_api(req: NetworkCreate) -> Result<CreateNetwork, Error> {
        let ipam = req.ipam.unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(Error::InvalidArgument(format!(
                "IPAM driver {} is not supported: only default",
                ipam.driver
            )));
        }
        let mut v4: Option<IpamConfig> = None;
        let mut v6: Option<IpamConfig> = None;
        for pool in ipam.config {
            let is_v6 =
                pool.subnet.contains(':') || (pool.subnet.is_empty() && pool.gateway.contains(':'));
            let slot = if is_v6 { &mut v6 } else { &mut v4 };
            if slot.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "several IPv{} pools per network are not supported yet",
                    if is_v6 { 6 } else { 4 }
                )));
            }
            *slot = Some(pool);
        }
        let pool = v4.unwrap_or_default();
        let pool6 = v6.unwrap_or_default();
        if !pool6.auxiliary_addresses.is_empty() {
            return Err(Error::InvalidArgument(
                "auxiliary addresses in an IPv6 pool are not supported yet".into(),
            ));
        }
        let mut aux_addresses = BTreeMap::new();
        for (host, ip) in &pool.auxiliary_addresses {
            let ip = parse("auxiliary address", ip)?.ok_or_else(|| {
                Error::InvalidArgument(format!("invalid auxiliary address {host}"))
            })?;
            aux_addresses.insert(host.clone(), ip);
        }
        Ok(CreateNetwork {
            name: req.name,
            driver: req.driver,
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels,
            options: req.options,
            subnet: parse("subnet", &pool.subnet)?,
            gateway: parse("gateway", &pool.gateway)?,
            ip_range: parse("ip range", &pool.ip_range)?,
            aux_addresses,
            ipv6: req.enable_ipv6 == Some(true),
            subnet6: parse("IPv6 subnet", &pool6.subnet)?,
            gateway6: parse("IPv6 gateway", &pool6.gateway)?,
            ip_range6: parse("IPv6 ip range", &pool6.ip_range)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::network::Ipam;

    fn pool(subnet: &str, gateway: &str) -> IpamConfig {
        IpamConfig {
            subnet: subnet.into(),
            gateway: gateway.into(),
            ..Default::default()
        }
    }

    fn req(config: Vec<IpamConfig>) -> NetworkCreate {
        NetworkCreate {
            name: "n".into(),
            enable_ipv6: Some(true),
            ipam: Some(Ipam {
                config,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pools_by_family() {
        let c = CreateNetwork::from_api(req(vec![
            pool("fd00:1::/64", ""),
            pool("10.9.0.0/24", "10.9.0.1"),
        ]))
        .unwrap();
        assert_eq!(c.subnet.unwrap().to_string(), "10.9.0.0/24");
        assert_eq!(c.gateway.unwrap().to_string(), "10.9.0.1");
        assert_eq!(c.subnet6.unwrap().to_string(), "fd00:1::/64");
        assert!(c.ipv6);
    }

    #[test]
    fn errors() {
        let err = |r: NetworkCreate| CreateNetwork::from_api(r).unwrap_err().to_string();
        assert_eq!(
            err(req(vec![pool("10.0.0.0/24", ""), pool("10.1.0.0/24", "")])),
            "several IPv4 pools per network are not supported yet"
        );
        assert_eq!(
            err(req(vec![pool("10.0.0.0/33", "")])),
            "invalid subnet: 10.0.0.0/33"
        );
        let mut other = req(vec![]);
        other.ipam = Some(Ipam {
            driver: "dhcp".into(),
            ..Default::default()
        });
        assert_eq!(
            err(other),
            "IPAM driver dhcp is not supported: only default"
        );
    }
}
