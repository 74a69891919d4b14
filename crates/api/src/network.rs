//! Networks: `POST /networks/create`, `POST /networks/{id}/connect` and
//! `/disconnect`, `POST /networks/prune`.

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
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: Vec<IpamConfig>,
}

/// One pool of `IPAM.Config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub subnet: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub gateway: String,
    #[serde(rename = "IPRange", default, deserialize_with = "null_as_default")]
    pub ip_range: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub auxiliary_addresses: BTreeMap<String, String>,
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
