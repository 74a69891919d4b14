//! Networks: `POST /networks/create`, `GET /networks` and
//! `/networks/{id}`, `POST /networks/{id}/connect` and `/disconnect`,
//! `POST /networks/prune`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::container::null_as_default;

/// The body of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreate {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(
        rename = "EnableIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM", default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// `IPAM` of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver: String,
    /// The driver's options (`null` when none).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: Vec<IpamConfig>,
}

/// One pool of `IPAM.Config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub auxiliary_addresses: BTreeMap<String, String>,
}

/// A network as `GET /networks` and `GET /networks/{id}` show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInspect {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    /// Attached containers by id (name, endpoint, addresses).
    #[serde(deserialize_with = "null_as_default")]
    pub containers: BTreeMap<String, Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// `ConfigFrom` of a network: always empty here (no config-only networks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigFrom {
    pub network: String,
}

/// The answer of `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreated {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Warning", default)]
    pub warning: String,
}

/// The body of `POST /networks/{id}/connect` and `/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConnect {
    pub container: String,
    /// The endpoint's settings (aliases, addresses), as in a container's
    /// `NetworkingConfig.EndpointsConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<Value>,
    #[serde(default)]
    pub force: bool,
}

/// `POST /networks/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkPrune {
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks_deleted: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_reads_docker_py() {
        let c: NetworkCreate = serde_json::from_value(json!({
            "Name": "n", "Driver": null, "EnableIPv6": true, "Options": null,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24", "IPRange": null}]}
        }))
        .unwrap();
        assert_eq!(c.enable_ipv6, Some(true));
        assert_eq!(c.ipam.unwrap().config[0].subnet, "10.9.0.0/24");
    }
}
