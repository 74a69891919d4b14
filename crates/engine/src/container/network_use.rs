//! Containers and networks: the endpoints a container's network mode asks
//! for (at create), wiring them before a start and removing them after an
//! exit, the files it sees (`/etc/hosts`, `/etc/resolv.conf`,
//! `/etc/hostname`), and `NetworkSettings` as Docker shows it.
//! [`NetworkUse`] is the container service's collaborator for a
//! container's own endpoints, with the network service as its state; what
//! involves other containers (`--network container:`, links, connect and
//! disconnect) stays with the container service.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use berth_api::container::HostConfig;
use berth_network::files::{self, DnsOverrides, ResolvConf, Resolver};
use serde_json::{json, Value};

use super::network_mode::{mode, Mode};
use super::{Container, ContainerRecord, ContainerService};
use crate::networks::{ports, Driver, Endpoint, NetworkService};
use crate::Error;

/// The network `NetworkMode` names for `Mode::Networks`.
fn primary_network(hc: &HostConfig) -> &str {
    match hc.network_mode.as_str() {
        "" | "default" => "bridge",
        m => m,
    }
}

/// The host files the container's are made from.
pub struct HostFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv: ResolvConf,
    pub resolv_text: String,
}

impl HostFiles {
    pub fn read() -> HostFiles {
        let resolv_text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        HostFiles {
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            resolv: ResolvConf::parse(&resolv_text),
            resolv_text,
        }
    }
}

/// The contents of a container's `/etc/hostname`, `/etc/hosts` and
/// `/etc/resolv.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv: String,
}

/// `--add-host name:ip` (or `name=ip`); `host-gateway` is `gateway`.
fn extra_hosts(list: &[String], gateway: Option<Ipv4Addr>) -> Result<Vec<(String, String)>, Error> {
    list.iter()
        .map(|entry| {
            let (name, ip) = entry
                .split_once('=')
                .or_else(|| entry.split_once(':'))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("invalid extra host {entry}: expected name:ip"))
                })?;
            let ip = if ip == "host-gateway" {
                gateway
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "{entry}: host-gateway needs a bridge network"
                        ))
                    })?
                    .to_string()
            } else {
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| {
                        Error::InvalidArgument(format!("invalid IP address in add-host: {ip}"))
                    })?
                    .to_string()
            };
            Ok((name.to_string(), ip))
        })
        .collect()
}

/// The container's network files, from its record and the host's files
/// (pure). `embedded` is the address of the embedded DNS server when one
/// of its networks has one; `default_gateway` is the default bridge's
/// address (what `host-gateway` means without a bridge endpoint).
pub fn etc_files(
    rec: &ContainerRecord,
    host: &HostFiles,
    embedded: Option<Ipv4Addr>,
    default_gateway: Option<Ipv4Addr>,
) -> Result<EtcFiles, Error> {
    let hc = &rec.host_config;
    let overrides = DnsOverrides {
        servers: hc.dns.clone(),
        search: hc.dns_search.clone(),
        options: hc.dns_options.clone(),
    };
    let first = rec.endpoints.iter().find(|e| e.ip.is_some());
    let gateway = first.and_then(|e| e.gateway).or(default_gateway);
    let extra = extra_hosts(&hc.extra_hosts, gateway)?;
    let hostname = rec.config.hostname.clone();
    Ok(match mode(hc) {
        Mode::Host => {
            let mut hosts = host.hosts.clone();
            for (name, ip) in &extra {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
            let resolv = if overrides == DnsOverrides::default() {
                host.resolv_text.clone()
            } else {
                files::resolv_conf(&host.resolv, &Resolver::HostVerbatim, &overrides)
            };
            EtcFiles {
                hostname,
                hosts,
                resolv,
            }
        }
        _ => {
            let mut names = vec![hostname.clone()];
            if !rec.config.domainname.is_empty() {
                names.insert(0, format!("{hostname}.{}", rec.config.domainname));
            }
            let own: Vec<std::net::IpAddr> = first
                .into_iter()
                .flat_map(|e| {
                    e.ip.map(Into::into)
                        .into_iter()
                        .chain(e.ip6.map(Into::into))
                })
                .collect();
            let resolver = match embedded {
                Some(ip) => Resolver::Embedded(std::net::IpAddr::V4(ip)),
                None => Resolver::Host,
            };
            EtcFiles {
                hostname,
                hosts: files::hosts(&extra, &own, &names),
                resolv: files::resolv_conf(&host.resolv, &resolver, &overrides),
            }
        }
    })
}

/// A container's own endpoints (see the module documentation).
pub(super) struct NetworkUse {
    pub networks: NetworkService,
}

impl NetworkUse {
    /// At create: the endpoints for `NetworkMode` and `NetworkingConfig`;
    /// `exists` checks the container `--network container:NAME` joins.
    pub(super) fn plan_endpoints(
        &self,
        hc: &HostConfig,
        networking: Option<&Value>,
        mac: Option<&str>,
        exists: &dyn Fn(&str) -> Result<(), Error>,
    ) -> Result<Vec<Endpoint>, Error> {
        let configs: BTreeMap<String, Value> = networking
            .and_then(|n| n.get("EndpointsConfig"))
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .unwrap_or_default();
        let has_ports = hc
            .port_bindings
            .values()
            .any(|b| b.as_ref().is_some_and(|b| !b.is_empty()))
            || hc.publish_all_ports;
        match mode(hc) {
            Mode::None | Mode::Host => return Ok(Vec::new()),
            Mode::Container(other) => {
                exists(&other)?;
                if has_ports {
                    return Err(Error::InvalidArgument(
                        "conflicting options: port publishing and the container type network mode"
                            .into(),
                    ));
                }
                return Ok(Vec::new());
            }
            Mode::Networks => {}
        }
        let primary = primary_network(hc).to_string();
        // Clients key the primary network's settings by the mode as sent
        // (`default` for the default bridge).
        let configs: BTreeMap<String, Value> = configs
            .into_iter()
            .map(|(k, v)| {
                if k == "default" {
                    ("bridge".to_string(), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        let mut names = vec![primary.clone()];
        names.extend(configs.keys().filter(|k| **k != primary).cloned());
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let net = self.networks.get(name)?;
            if net.driver != Driver::Bridge {
                return Err(Error::InvalidArgument(format!(
                    "container cannot be disconnected from host network or connected to host network ({name})"
                )));
            }
            let cfg = configs.get(name).or_else(|| configs.get(&net.id));
            let mut ep = endpoint_from_config(&net.id, &net.name, cfg)?;
            if i == 0 && ep.wanted_mac.is_none() {
                ep.wanted_mac = mac.filter(|m| !m.is_empty()).map(str::to_string);
            }
            if net.default_bridge
                && (ep.wanted_ip.is_some() || ep.wanted_ip6.is_some() || !ep.aliases.is_empty())
            {
                return Err(Error::InvalidArgument(
                    "user specified IP address and network-scoped aliases are supported on user defined networks only".into(),
                ));
            }
            if let Some(m) = &ep.wanted_mac {
                berth_network::ipam::parse_mac(m)?;
            }
            out.push(ep);
        }
        Ok(out)
    }

    /// Before a start: wires the container's endpoints and published ports
    /// and records them.
    pub(super) async fn attach_networks(&self, c: &Arc<Container>) -> Result<(), Error> {
        let rec = c.record();
        if rec.endpoints.is_empty() {
            return Ok(());
        }
        let requests = ports::requests(&rec.host_config, rec.config.exposed_ports.as_ref())?;
        let svc = self.networks.clone();
        let (cid, name, mut eps) = (rec.id.clone(), rec.name.clone(), rec.endpoints.clone());
        let (eps, netns, published) = tokio::task::spawn_blocking(move || {
            svc.attach(&cid, &name, &mut eps, &requests)
                .map(|(ns, p)| (eps, ns, p))
        })
        .await
        .map_err(|e| Error::Internal(format!("network task failed: {e}")))??;
        c.update(false, |r| {
            r.endpoints = eps;
            r.ports = published;
            r.sandbox_key = netns.display().to_string();
        })
    }

    /// After an exit (or a failed start): removes what attach made.
    pub(super) async fn detach_networks(&self, c: &Arc<Container>) {
        let rec = c.record();
        if rec.sandbox_key.is_empty() && rec.endpoints.iter().all(|e| e.host_veth.is_empty()) {
            return;
        }
        let svc = self.networks.clone();
        let (cid, eps) = (rec.id.clone(), rec.endpoints.clone());
        let errors = tokio::task::spawn_blocking(move || svc.detach(&cid, &eps))
            .await
            .unwrap_or_default();
        for e in errors {
            tracing::warn!(id = %rec.id, error = %e, "network teardown");
        }
        let updated = c.update(false, |r| {
            for e in &mut r.endpoints {
                e.clear_live();
            }
            r.ports.clear();
            r.sandbox_key.clear();
        });
        if let Err(e) = updated {
            tracing::debug!(id = %rec.id, error = %e, "container record not updated after network teardown (removed meanwhile)");
        }
    }

    /// `NetworkSettings` of inspect.
    pub(super) fn network_settings(&self, rec: &ContainerRecord) -> Value {
        let running = rec.status.is_running();
        let mut ports = serde_json::Map::new();
        if running {
            for key in rec
                .config
                .exposed_ports
                .as_ref()
                .map(|e| e.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                ports.insert(key, Value::Null);
            }
            for p in &rec.ports {
                let key = format!("{}/{}", p.ctr_port, p.proto);
                let entry = ports.entry(key).or_insert_with(|| json!([]));
                if entry.is_null() {
                    *entry = json!([]);
                }
                if let Some(list) = entry.as_array_mut() {
                    list.push(
                        json!({"HostIp": p.host_ip_text(), "HostPort": p.host_port.to_string()}),
                    );
                }
            }
        }
        let networks = self.endpoints_json(rec);
        let bridge = rec.endpoints.iter().find(|e| e.network_name == "bridge");
        let field = |f: &dyn Fn(&Endpoint) -> Value, zero: Value| bridge.map(f).unwrap_or(zero);
        json!({
            "Bridge": "",
            "SandboxID": if rec.sandbox_key.is_empty() { String::new() } else { crate::ids::short(&rec.id).to_string() },
            "SandboxKey": rec.sandbox_key,
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "EndpointID": field(&|e| json!(e.endpoint_id), json!("")),
            "Gateway": field(&|e| json!(e.gateway.map(|g| g.to_string()).unwrap_or_default()), json!("")),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": field(&|e| json!(e.ip.map(|g| g.to_string()).unwrap_or_default()), json!("")),
            "IPPrefixLen": field(&|e| json!(e.prefix_len), json!(0)),
            "IPv6Gateway": "",
            "MacAddress": field(&|e| json!(e.mac), json!("")),
            "Networks": networks,
        })
    }

    /// `NetworkSettings.Networks`: one entry per endpoint (and `host` or
    /// `none` for those modes).
    pub(super) fn endpoints_json(&self, rec: &ContainerRecord) -> Value {
        let mut out = serde_json::Map::new();
        let mode_name = match mode(&rec.host_config) {
            Mode::Host => Some("host"),
            Mode::None => Some("none"),
            _ => None,
        };
        if let Some(name) = mode_name {
            let id = self.networks.get(name).map(|n| n.id).unwrap_or_default();
            out.insert(name.to_string(), json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
                "GwPriority": 0, "NetworkID": id, "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DNSNames": null,
            }));
        }
        for e in &rec.endpoints {
            let user = e.network_name != "bridge";
            let dns_names: Value = if user && e.ip.is_some() {
                let mut n = vec![rec.name.clone(), crate::ids::short(&rec.id).to_string()];
                n.extend(e.aliases.iter().cloned());
                json!(n)
            } else {
                Value::Null
            };
            out.insert(
                e.network_name.clone(),
                json!({
                    "IPAMConfig": ipam_config(e),
                    "Links": if e.links.is_empty() { Value::Null } else { json!(e.links) },
                    "Aliases": if e.aliases.is_empty() { Value::Null } else { json!(e.aliases) },
                    "MacAddress": if e.mac.is_empty() {
                        e.wanted_mac.clone().unwrap_or_default()
                    } else {
                        e.mac.clone()
                    },
                    "DriverOpts": if e.driver_opts.is_empty() { Value::Null } else { json!(e.driver_opts) },
                    "GwPriority": 0,
                    "NetworkID": e.network_id,
                    "EndpointID": e.endpoint_id,
                    "Gateway": e.gateway.map(|g| g.to_string()).unwrap_or_default(),
                    "IPAddress": e.ip.map(|g| g.to_string()).unwrap_or_default(),
                    "IPPrefixLen": e.prefix_len,
                    "IPv6Gateway": e.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                    "GlobalIPv6Address": e.ip6.map(|g| g.to_string()).unwrap_or_default(),
                    "GlobalIPv6PrefixLen": e.prefix_len6,
                    "DNSNames": dns_names,
                }),
            );
        }
        Value::Object(out)
    }

    /// `Ports` of the container list.
    pub(super) fn ports_json(rec: &ContainerRecord) -> Vec<Value> {
        let mut out: Vec<Value> = rec
            .ports
            .iter()
            .map(|p| json!({"IP": p.host_ip_text(), "PrivatePort": p.ctr_port, "PublicPort": p.host_port, "Type": p.proto}))
            .collect();
        for key in rec
            .config
            .exposed_ports
            .as_ref()
            .map(|e| e.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if let Ok((port, proto)) = ports::parse_port_key(&key) {
                if !rec
                    .ports
                    .iter()
                    .any(|p| p.ctr_port == port && p.proto == proto.as_str())
                {
                    out.push(json!({"PrivatePort": port, "Type": proto.as_str()}));
                }
            }
        }
        out
    }
}

impl ContainerService {
    /// The container's `/etc` network files for its current record.
    pub(super) fn render_etc_files(&self, rec: &ContainerRecord) -> Result<EtcFiles, Error> {
        if let Mode::Container(other) = mode(&rec.host_config) {
            let o = self.get(&other)?;
            let read = |p: std::path::PathBuf| {
                std::fs::read_to_string(&p).map_err(Error::io("reading", &p))
            };
            return Ok(EtcFiles {
                hostname: read(o.paths.hostname_file())?.trim_end().to_string(),
                hosts: read(o.paths.hosts_file())?,
                resolv: read(o.paths.resolv_file())?,
            });
        }
        let embedded = rec.endpoints.iter().find_map(|e| {
            let net = self.inner.network_use.networks.get(&e.network_id).ok()?;
            if net.has_dns() {
                net.gateway
            } else {
                None
            }
        });
        let default_gateway = (self.inner.network_use.networks)
            .get("bridge")
            .ok()
            .and_then(|n| n.gateway);
        let links: Vec<(String, String)> = self
            .link_targets(rec)?
            .iter()
            .map(|(l, t)| (super::links::hosts_names(&l.alias, t), t.ip.to_string()))
            .collect();
        let mut files = etc_files(rec, &HostFiles::read(), embedded, default_gateway)?;
        for (names, ip) in links {
            files.hosts.push_str(&format!("{ip}\t{names}\n"));
        }
        Ok(files)
    }

    /// `POST /networks/{id}/connect`: a running container gets the new
    /// interface at once; a stopped one at its next start.
    pub async fn connect_network(
        &self,
        container: &str,
        network: &str,
        cfg: Option<&Value>,
    ) -> Result<(), Error> {
        let net = self.inner.network_use.networks.get(network)?;
        let c = self.get(container)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if mode(&rec.host_config) != Mode::Networks {
            return Err(Error::InvalidArgument(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ));
        }
        if net.driver != Driver::Bridge {
            return Err(Error::InvalidArgument(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                net.name
            )));
        }
        if rec.endpoints.iter().any(|e| e.network_id == net.id) {
            return Err(Error::Conflict {
                message: format!(
                    "endpoint with name {} already exists in network {}",
                    rec.name, net.name
                ),
            });
        }
        let mut ep = endpoint_from_config(&net.id, &net.name, cfg)?;
        if net.default_bridge
            && (ep.wanted_ip.is_some() || ep.wanted_ip6.is_some() || !ep.aliases.is_empty())
        {
            return Err(Error::InvalidArgument(
                "user specified IP address and network-scoped aliases are supported on user defined networks only".into(),
            ));
        }
        if rec.status.is_running() {
            let svc = self.inner.network_use.networks.clone();
            let cid = rec.id.clone();
            ep = tokio::task::spawn_blocking(move || {
                svc.connect_running(&cid, &mut ep).map(|()| ep)
            })
            .await
            .map_err(|e| Error::Internal(format!("network task failed: {e}")))??;
        }
        c.update(false, |r| r.endpoints.push(ep))?;
        self.inner.events.publish(
            crate::events::Event::network("connect", &net.id, &net.name, net.driver.as_str())
                .with("container", rec.id.clone()),
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(&self, container: &str, network: &str) -> Result<(), Error> {
        let net = self.inner.network_use.networks.get(network)?;
        let c = self.get(container)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if !rec.endpoints.iter().any(|e| e.network_id == net.id) {
            return Err(Error::InvalidArgument(format!(
                "container {} is not connected to network {}",
                rec.id, net.name
            )));
        }
        if rec.status.is_running() {
            let svc = self.inner.network_use.networks.clone();
            let (cid, nid) = (rec.id.clone(), net.id.clone());
            tokio::task::spawn_blocking(move || svc.disconnect_running(&cid, &nid))
                .await
                .map_err(|e| Error::Internal(format!("network task failed: {e}")))??;
        }
        c.update(false, |r| r.endpoints.retain(|e| e.network_id != net.id))?;
        self.inner.events.publish(
            crate::events::Event::network("disconnect", &net.id, &net.name, net.driver.as_str())
                .with("container", rec.id.clone()),
        );
        Ok(())
    }

    /// Ids of the containers (in any state) connected to network `id`.
    pub fn network_users(&self, id: &str) -> Vec<String> {
        self.table()
            .by_id
            .values()
            .map(|c| c.record())
            .filter(|r| r.endpoints.iter().any(|e| e.network_id == id))
            .map(|r| r.id)
            .collect()
    }
}

/// One `EndpointsConfig` entry as an endpoint to create.
/// `IPAMConfig` of an endpoint in inspect: what was asked for, or null.
fn ipam_config(e: &Endpoint) -> Value {
    if e.wanted_ip.is_none() && e.wanted_ip6.is_none() && e.link_local_ips.is_empty() {
        return Value::Null;
    }
    let mut v = json!({});
    if let Some(ip) = e.wanted_ip {
        v["IPv4Address"] = json!(ip.to_string());
    }
    if let Some(ip) = e.wanted_ip6 {
        v["IPv6Address"] = json!(ip.to_string());
    }
    if !e.link_local_ips.is_empty() {
        v["LinkLocalIPs"] = json!(e
            .link_local_ips
            .iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>());
    }
    v
}

fn endpoint_from_config(id: &str, name: &str, cfg: Option<&Value>) -> Result<Endpoint, Error> {
    let aliases: Vec<String> = cfg
        .and_then(|c| c.get("Aliases"))
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default();
    let wanted_ip = match cfg
        .and_then(|c| c.get("IPAMConfig"))
        .and_then(|i| i.get("IPv4Address"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(ip) => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| Error::InvalidArgument(format!("invalid IPv4 address: {ip}")))?,
        ),
        None => None,
    };
    let wanted_ip6 = match cfg
        .and_then(|c| c.get("IPAMConfig"))
        .and_then(|i| i.get("IPv6Address"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(ip) => Some(
            ip.parse::<std::net::Ipv6Addr>()
                .map_err(|_| Error::InvalidArgument(format!("invalid IPv6 address: {ip}")))?,
        ),
        None => None,
    };
    let wanted_mac = cfg
        .and_then(|c| c.get("MacAddress"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let mut link_local_ips = Vec::new();
    for ip in cfg
        .and_then(|c| c.get("IPAMConfig"))
        .and_then(|i| i.get("LinkLocalIPs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let parsed: std::net::IpAddr = ip
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("invalid link-local IP address: {ip}")))?;
        match parsed {
            std::net::IpAddr::V4(v4) if v4.is_link_local() => link_local_ips.push(v4),
            std::net::IpAddr::V4(_) => {
                return Err(Error::InvalidArgument(format!(
                    "invalid link-local IP address: {ip} is not in 169.254.0.0/16"
                )))
            }
            std::net::IpAddr::V6(_) => {
                return Err(Error::InvalidArgument(format!(
                    "IPv6 link-local addresses ({ip}) are not supported yet"
                )))
            }
        }
    }
    let links: Vec<String> = cfg
        .and_then(|c| c.get("Links"))
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    for l in &links {
        super::links::Link::parse(l)?;
    }
    let driver_opts: BTreeMap<String, String> = cfg
        .and_then(|c| c.get("DriverOpts"))
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .unwrap_or_default();
    Ok(Endpoint {
        network_id: id.to_string(),
        network_name: name.to_string(),
        aliases,
        wanted_ip,
        wanted_ip6,
        wanted_mac,
        link_local_ips,
        links,
        driver_opts,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_hosts_forms() {
        let gw = Some(Ipv4Addr::new(172, 17, 0, 1));
        let got = extra_hosts(
            &[
                "db:10.0.0.5".into(),
                "gw=host-gateway".into(),
                "v6:::1".into(),
            ],
            gw,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("db".to_string(), "10.0.0.5".to_string()),
                ("gw".to_string(), "172.17.0.1".to_string()),
                ("v6".to_string(), "::1".to_string()),
            ]
        );
        assert!(extra_hosts(&["nohost".into()], gw).is_err());
        assert!(extra_hosts(&["x:notanip".into()], gw).is_err());
        assert!(extra_hosts(&["x:host-gateway".into()], None).is_err());
    }

    #[test]
    fn endpoint_config() {
        let cfg = json!({"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.3.0.9"}, "MacAddress": "02:42:0a:03:00:09"});
        let e = endpoint_from_config("id1", "app", Some(&cfg)).unwrap();
        assert_eq!(e.aliases, vec!["web"]);
        assert_eq!(e.wanted_ip, Some(Ipv4Addr::new(10, 3, 0, 9)));
        assert_eq!(e.wanted_mac.as_deref(), Some("02:42:0a:03:00:09"));
        let v6 = json!({"IPAMConfig": {"IPv6Address": "2001:389::f00d"}});
        let e = endpoint_from_config("id1", "app", Some(&v6)).unwrap();
        assert_eq!(e.wanted_ip6, Some("2001:389::f00d".parse().unwrap()));
        assert_eq!(ipam_config(&e)["IPv6Address"], "2001:389::f00d");
        let bad6 = json!({"IPAMConfig": {"IPv6Address": "2001:389::g"}});
        assert!(endpoint_from_config("id1", "app", Some(&bad6)).is_err());
        let bad = json!({"IPAMConfig": {"IPv4Address": "10.3.0"}});
        assert!(endpoint_from_config("id1", "app", Some(&bad)).is_err());
    }
}
