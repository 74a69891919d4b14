//! A network's record (`<root>/network/<id>.json`) and how the API shows it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use berth_api::network::{ConfigFrom, Ipam, IpamConfig, NetworkInspect};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The three drivers Docker users meet on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    Null,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: Driver,
    pub created: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Bridge networks: the subnet, the bridge's address and the range
    /// containers get addresses from.
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    /// IPAM `AuxiliaryAddresses`: addresses of the subnet, by host name,
    /// that are never given to a container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
    /// The bridge interface.
    #[serde(default)]
    pub bridge: String,
    /// The default `bridge` network: no embedded DNS, as Docker's.
    #[serde(default)]
    pub default_bridge: bool,
    /// `EnableIPv6`: containers get an IPv6 address from `subnet6` too.
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<Ipv6Net>,
}

impl NetworkRecord {
    /// Built in: `bridge`, `host` and `none` cannot be removed.
    pub fn builtin(&self) -> bool {
        self.default_bridge || self.driver != Driver::Bridge
    }

    /// Whether containers on it get the embedded DNS server.
    pub fn has_dns(&self) -> bool {
        self.driver == Driver::Bridge && !self.default_bridge
    }

    /// The network as inspect shows it, with its attached containers.
    pub fn inspect(&self, containers: BTreeMap<String, Value>) -> NetworkInspect {
        let mut config = Vec::new();
        if let Some(s) = self.subnet {
            config.push(IpamConfig {
                subnet: s.to_string(),
                gateway: self.gateway.map(|g| g.to_string()).unwrap_or_default(),
                ip_range: self.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                auxiliary_addresses: self
                    .aux_addresses
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
            });
        }
        if let Some(s6) = self.subnet6 {
            config.push(IpamConfig {
                subnet: s6.to_string(),
                gateway: self.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                ip_range: self.ip_range6.map(|r| r.to_string()).unwrap_or_default(),
                auxiliary_addresses: BTreeMap::new(),
            });
        }
        NetworkInspect {
            name: self.name.clone(),
            id: self.id.clone(),
            created: self.created.clone(),
            scope: "local".into(),
            driver: self.driver.as_str().into(),
            enable_ipv4: true,
            enable_ipv6: self.enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config,
            },
            internal: self.internal,
            attachable: self.attachable,
            ingress: false,
            config_from: ConfigFrom::default(),
            config_only: false,
            containers,
            options: self.options.clone(),
            labels: self.labels.clone(),
        }
    }
}

/// Network names: Docker takes any non-empty name ("test 01" too); berth
/// refuses control characters and `/`, which no tool can show or address.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_control() || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_inspect() {
        assert!(valid_name("app_net-1.x"));
        assert!(valid_name("test 01"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        let r = NetworkRecord {
            id: "ab".repeat(32),
            name: "app".into(),
            driver: Driver::Bridge,
            created: "2026-01-01T00:00:00Z".into(),
            internal: true,
            attachable: false,
            labels: BTreeMap::from([("k".into(), "v".into())]),
            options: BTreeMap::new(),
            subnet: Some("10.7.0.0/24".parse().unwrap()),
            gateway: Some("10.7.0.1".parse().unwrap()),
            ip_range: None,
            aux_addresses: BTreeMap::from([("a".into(), "10.7.0.5".parse().unwrap())]),
            bridge: "br-abababababab".into(),
            default_bridge: false,
            enable_ipv6: true,
            subnet6: Some("fd00:7::/64".parse().unwrap()),
            gateway6: Some("fd00:7::1".parse().unwrap()),
            ip_range6: None,
        };
        let v = serde_json::to_value(r.inspect(BTreeMap::new())).expect("json");
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "10.7.0.0/24");
        assert_eq!(v["IPAM"]["Config"][0]["Gateway"], "10.7.0.1");
        assert_eq!(
            v["IPAM"]["Config"][0]["AuxiliaryAddresses"]["a"],
            "10.7.0.5"
        );
        assert!(v["IPAM"]["Options"].is_null());
        assert_eq!(v["EnableIPv6"], true);
        assert_eq!(v["IPAM"]["Config"][1]["Subnet"], "fd00:7::/64");
        assert_eq!(v["IPAM"]["Config"][1]["Gateway"], "fd00:7::1");
        assert_eq!(v["Internal"], true);
        assert_eq!(v["Labels"]["k"], "v");
        assert!(r.has_dns() && !r.builtin());
    }
}
