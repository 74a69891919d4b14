//! The networking flags of `run` and `create`: `-p`, `-P`, `--expose`,
//! `--network`, `--network-alias`, `--ip`, `--mac-address`, `--dns*`,
//! `--add-host`, turned into the create request as the docker CLI does.

use std::collections::BTreeMap;

use berth_api::container::PortBinding;
use berth_api::ports::{parse_expose, PortSpec};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct NetFlags {
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto]).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Connect a container to a network (bridge, host, none, container:<name|id>, or a network's name).
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33), on a network created with --ipv6.
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33).
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Add a link to another container (NAME or NAME:ALIAS).
    #[arg(long)]
    pub link: Vec<String>,
}

/// What the flags put in the request.
pub struct NetRequest {
    pub network_mode: String,
    pub exposed: BTreeMap<String, Value>,
    pub bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub networking_config: Option<Value>,
}

impl NetFlags {
    pub fn request(&self) -> Result<NetRequest, String> {
        let mut bindings: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
        let mut exposed = BTreeMap::new();
        for p in &self.publish {
            for (key, b) in PortSpec::parse(p)?.bindings() {
                exposed.insert(key.clone(), json!({}));
                bindings
                    .entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(b);
            }
        }
        for e in &self.expose {
            for key in parse_expose(e)? {
                exposed.insert(key, json!({}));
            }
        }
        if let Some(n) = self.network.iter().find(|n| n.contains('=')) {
            return Err(format!(
                "--network {n}: the key=value form is not supported yet"
            ));
        }
        let network_mode = self.network.first().cloned().unwrap_or_default();
        let mut endpoints = serde_json::Map::new();
        let primary = if network_mode.is_empty() {
            "bridge".to_string()
        } else {
            network_mode.clone()
        };
        let mut first = json!({});
        if !self.network_alias.is_empty() {
            first["Aliases"] = json!(self.network_alias);
        }
        let ipam = ipam_config(self.ip.as_deref(), self.ip6.as_deref());
        if !ipam.is_null() {
            first["IPAMConfig"] = ipam;
        }
        if let Some(mac) = &self.mac_address {
            first["MacAddress"] = json!(mac);
        }
        if first.as_object().is_some_and(|o| !o.is_empty()) {
            endpoints.insert(primary, first);
        }
        for extra in self.network.iter().skip(1) {
            endpoints.entry(extra.clone()).or_insert_with(|| json!({}));
        }
        Ok(NetRequest {
            network_mode,
            exposed,
            bindings,
            networking_config: (!endpoints.is_empty())
                .then(|| json!({"EndpointsConfig": endpoints})),
        })
    }
}

/// `IPAMConfig` of an endpoint from `--ip` and `--ip6` (null without).
pub fn ipam_config(ip: Option<&str>, ip6: Option<&str>) -> Value {
    let mut c = serde_json::Map::new();
    if let Some(ip) = ip {
        c.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = ip6 {
        c.insert("IPv6Address".into(), json!(ip));
    }
    if c.is_empty() {
        Value::Null
    } else {
        Value::Object(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_from_flags() {
        let f = NetFlags {
            publish: vec!["18080:80".into()],
            network: vec!["app".into(), "other".into()],
            network_alias: vec!["web".into()],
            ip: Some("10.1.0.9".into()),
            ..Default::default()
        };
        let r = f.request().unwrap();
        assert_eq!(r.network_mode, "app");
        assert!(r.exposed.contains_key("80/tcp"));
        let eps = &r.networking_config.unwrap()["EndpointsConfig"];
        assert_eq!(eps["app"]["Aliases"][0], "web");
        assert_eq!(eps["app"]["IPAMConfig"]["IPv4Address"], "10.1.0.9");
        assert!(eps["other"].is_object());
    }
}
