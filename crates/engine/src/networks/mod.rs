//! The network service: bridge networks (the default `bridge` and user
//! networks), the built-in `host` and `none`, and the live attachments of
//! running containers (veths, addresses, published ports, DNS names).
//!
//! Records live in `<root>/network/<id>.json`; what runs (endpoints,
//! port reservations, DNS tables) is in memory and rebuilt from container
//! records at daemon start ([`NetworkService::restore`] then
//! [`NetworkService::reconcile`], which also removes what a killed daemon
//! left). The firewall table is rendered whole from that state after every
//! change.

pub mod attach;
pub mod host;
pub mod ports;
pub mod record;
mod request;
mod rootless_host;
pub mod view;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_network::{dns, drift, ipam, ipam6, nft, nft6};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{Event, Events};
use crate::{ids, time, Error};
use host::Hold;
pub use host::{FakeHost, LinuxHost, NetworkHost};
pub use ports::Published;
pub use record::{Driver, NetworkRecord};
pub use rootless_host::rootless_dialer;

/// Daemon settings for networking.
#[derive(Debug, Clone)]
pub struct NetSettings {
    /// The default bridge's interface (`berth0`).
    pub bridge: String,
    /// `--bip`: the default bridge's address and subnet; chosen at first
    /// start when unset.
    pub bip: Option<Ipv4Net>,
    /// Berth's nftables table (`berth`).
    pub nft_table: String,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            bridge: "berth0".into(),
            bip: None,
            nft_table: "berth".into(),
        }
    }
}

/// One network a container is connected to; the fields after `wanted_mac`
/// are set while it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network_name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default)]
    pub wanted_ip: Option<Ipv4Addr>,
    /// `--ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted_ip6: Option<Ipv6Addr>,
    /// `--mac-address`.
    #[serde(default)]
    pub wanted_mac: Option<String>,
    /// `--link-local-ip` (IPv4): more addresses on the interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<Ipv4Addr>,
    /// Network-scoped links (`target:alias`): names only this container
    /// resolves, to the target's address on this network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// `--driver-opt`: options for the network driver, which the bridge
    /// driver keeps without acting on (as Docker's does for unknown keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub prefix_len: u8,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// The IPv6 address on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefix_len6: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub host_veth: String,
    #[serde(default)]
    pub if_name: String,
}

impl Endpoint {
    /// Forgets what only holds while the container runs.
    pub fn clear_live(&mut self) {
        self.endpoint_id.clear();
        self.ip = None;
        self.prefix_len = 0;
        self.gateway = None;
        self.ip6 = None;
        self.prefix_len6 = 0;
        self.gateway6 = None;
        self.mac.clear();
        self.host_veth.clear();
        self.if_name.clear();
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// A running container's attachments.
struct Live {
    name: String,
    endpoints: Vec<Endpoint>,
    ports: Vec<Published>,
    /// What holds the published host ports.
    _holds: Vec<Hold>,
}

#[derive(Default)]
struct State {
    networks: BTreeMap<String, NetworkRecord>,
    live: HashMap<String, Live>,
    /// Each user network's names, and what serves them.
    dns: HashMap<String, (dns::Table, Hold)>,
    /// The ruleset last written, so an unchanged one is not written again
    /// (most starts and stops publish no port).
    applied: Option<nft::Ruleset>,
    /// The IPv6 networks last written to the `ip6` table (none: no table).
    applied6: Option<Vec<nft6::NetRule6>>,
}

#[derive(Clone)]
pub struct NetworkService {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    netns_dir: PathBuf,
    settings: NetSettings,
    events: Events,
    /// The kernel work.
    host: Arc<dyn NetworkHost>,
    state: Mutex<State>,
    /// Serialises attach, detach, connect and disconnect: addresses are
    /// chosen from what is live, so two of them must not interleave.
    ops: Mutex<()>,
}

/// What `POST /networks/create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    /// IPAM `AuxiliaryAddresses`.
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
    pub ipv6: bool,
    /// The IPv6 pool (with `ipv6`); a unique local /64 when unset.
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub ip_range6: Option<Ipv6Net>,
}

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

impl NetworkService {
    /// Loads the records, creates the built-in networks on first start and
    /// makes sure every bridge exists and is up, through `host`.
    pub fn open(
        dir: PathBuf,
        netns_dir: PathBuf,
        settings: NetSettings,
        events: Events,
        host: Arc<dyn NetworkHost>,
    ) -> Result<NetworkService, Error> {
        std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
        std::fs::create_dir_all(&netns_dir).map_err(Error::io("creating", &netns_dir))?;
        let svc = NetworkService {
            inner: Arc::new(Inner {
                dir,
                netns_dir,
                settings,
                events,
                host,
                state: Mutex::new(State::default()),
                ops: Mutex::new(()),
            }),
        };
        let mut records = Vec::new();
        for entry in std::fs::read_dir(&svc.inner.dir)
            .map_err(Error::io("reading", &svc.inner.dir))?
            .flatten()
        {
            let path = entry.path();
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            match serde_json::from_slice::<NetworkRecord>(&bytes) {
                Ok(r) => records.push(r),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable network record; skipping")
                }
            }
        }
        {
            let mut st = svc.state();
            for r in records {
                st.networks.insert(r.id.clone(), r);
            }
        }
        svc.ensure_builtins()?;
        let bridges: Vec<NetworkRecord> = svc
            .state()
            .networks
            .values()
            .filter(|n| n.driver == Driver::Bridge)
            .cloned()
            .collect();
        for n in bridges {
            if let Err(e) = svc.bring_up(&n) {
                tracing::warn!(network = %n.name, error = %e, "setting up the network's bridge failed");
            }
        }
        Ok(svc)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, r: &NetworkRecord) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(r)
            .map_err(|e| Error::Internal(format!("serialising network: {e}")))?;
        crate::fsutil::write_atomic(&self.inner.dir.join(format!("{}.json", r.id)), &bytes)
    }

    fn ensure_builtins(&self) -> Result<(), Error> {
        let have = |name: &str| self.state().networks.values().any(|n| n.name == name);
        let base = |name: &str, driver: Driver| NetworkRecord {
            id: ids::new_id(),
            name: name.to_string(),
            driver,
            created: time::now(),
            internal: false,
            attachable: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            subnet: None,
            gateway: None,
            ip_range: None,
            aux_addresses: BTreeMap::new(),
            bridge: String::new(),
            default_bridge: false,
            enable_ipv6: false,
            subnet6: None,
            gateway6: None,
            ip_range6: None,
        };
        if !have("bridge") {
            let taken = self.taken_subnets();
            let (subnet, gateway) = match self.inner.settings.bip {
                Some(bip) => (
                    bip.trunc(),
                    Some(bip.addr()).filter(|a| *a != bip.network()),
                ),
                None => (ipam::choose_subnet(&ipam::default_pools(), &taken)?, None),
            };
            let pool = ipam::Pool::new(subnet, gateway, None)?;
            let mut r = base("bridge", Driver::Bridge);
            r.subnet = Some(pool.subnet);
            r.gateway = Some(pool.gateway);
            r.bridge = self.inner.settings.bridge.clone();
            r.default_bridge = true;
            r.options = BTreeMap::from([
                (
                    "com.docker.network.bridge.default_bridge".into(),
                    "true".into(),
                ),
                ("com.docker.network.bridge.enable_icc".into(), "true".into()),
                (
                    "com.docker.network.bridge.enable_ip_masquerade".into(),
                    "true".into(),
                ),
                (BRIDGE_NAME_OPTION.into(), r.bridge.clone()),
            ]);
            self.save(&r)?;
            self.state().networks.insert(r.id.clone(), r);
        }
        for (name, driver) in [("host", Driver::Host), ("none", Driver::Null)] {
            if !have(name) {
                let r = base(name, driver);
                self.save(&r)?;
                self.state().networks.insert(r.id.clone(), r);
            }
        }
        Ok(())
    }

    /// Subnets a new network must not overlap: the host's routes (other
    /// than our own bridges') and existing networks.
    fn taken_subnets(&self) -> Vec<Ipv4Net> {
        let mut taken = self.inner.host.host_routes();
        taken.extend(self.state().networks.values().filter_map(|n| n.subnet));
        taken
    }

    /// Creates the network's bridge if missing, with its address, up;
    /// starts its DNS server.
    fn bring_up(&self, n: &NetworkRecord) -> Result<(), Error> {
        let Some(gateway) = n.gateway.filter(|_| n.subnet.is_some()) else {
            return Ok(());
        };
        self.inner.host.ensure_bridge(n)?;
        if n.has_dns() && !self.state().dns.contains_key(&n.id) {
            let table = dns::Table::default();
            let server = self.inner.host.serve_dns(gateway, table.clone())?;
            self.state().dns.insert(n.id.clone(), (table, server));
        }
        Ok(())
    }

    /// Finds a network by full id, name, or unique id prefix.
    pub fn get(&self, key: &str) -> Result<NetworkRecord, Error> {
        let st = self.state();
        if let Some(n) = st.networks.get(key) {
            return Ok(n.clone());
        }
        if let Some(n) = st.networks.values().find(|n| n.name == key) {
            return Ok(n.clone());
        }
        let mut by_prefix = st.networks.values().filter(|n| n.id.starts_with(key));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(n), None) if !key.is_empty() => Ok(n.clone()),
            (Some(_), Some(_)) => Err(Error::InvalidArgument(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                st.networks
                    .values()
                    .filter(|n| n.id.starts_with(key))
                    .count()
            ))),
            _ => Err(Error::NoSuchNetwork(key.to_string())),
        }
    }

    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut out: Vec<NetworkRecord> = self.state().networks.values().cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// `POST /networks/create`.
    pub fn create(&self, req: CreateNetwork) -> Result<NetworkRecord, Error> {
        if !record::valid_name(&req.name) {
            return Err(Error::InvalidArgument(format!(
                "invalid network name {:?}: it must not be empty or hold control characters or /",
                req.name
            )));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(Error::Conflict {
                    message: format!("only one instance of \"{}\" network is allowed", req.driver),
                })
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "network driver {other} is not supported yet: berth has bridge networks"
                )))
            }
        }
        if !req.ipv6 && (req.subnet6.is_some() || req.gateway6.is_some()) {
            return Err(Error::InvalidArgument(
                "an IPv6 subnet needs an IPv6 network: create it with EnableIPv6 (--ipv6)".into(),
            ));
        }
        if self.list().iter().any(|n| n.name == req.name) {
            return Err(Error::Conflict {
                message: format!("network with name {} already exists", req.name),
            });
        }
        for k in req.options.keys() {
            if k != BRIDGE_NAME_OPTION && !k.starts_with("com.docker.network.bridge.") {
                return Err(Error::InvalidArgument(format!(
                    "network option {k} is not supported yet"
                )));
            }
        }
        let taken = self.taken_subnets();
        let subnet = match req.subnet {
            Some(s) => {
                if let Some(t) = taken.iter().find(|t| ipam::overlaps(&s, t)) {
                    return Err(Error::Conflict {
                        message: format!("invalid pool request: Pool overlaps with other one on this address space ({t})"),
                    });
                }
                s
            }
            None if req.gateway.is_some() || req.ip_range.is_some() => {
                return Err(Error::InvalidArgument(
                    "a gateway or ip-range needs a subnet".into(),
                ))
            }
            None => ipam::choose_subnet(&ipam::default_pools(), &taken)?,
        };
        let pool = ipam::Pool::new(subnet, req.gateway, req.ip_range)?;
        for (host, ip) in &req.aux_addresses {
            if !pool.subnet.contains(ip) {
                return Err(Error::InvalidArgument(format!(
                    "invalid auxiliary address {host}: {ip} is not inside subnet {}",
                    pool.subnet
                )));
            }
        }
        let id = ids::new_id();
        let pool6 = if req.ipv6 {
            Some(self.pool6(&req, &id)?)
        } else {
            None
        };
        let bridge = match req.options.get(BRIDGE_NAME_OPTION) {
            Some(b) if b.is_empty() || b.len() > 15 || b.contains(['/', ' ']) => {
                return Err(Error::InvalidArgument(format!("invalid bridge name {b}")))
            }
            Some(b) => b.clone(),
            None => format!("br-{}", &id[..12]),
        };
        if self.list().iter().any(|n| n.bridge == bridge) {
            return Err(Error::Conflict {
                message: format!("bridge name {bridge} is already used by another network"),
            });
        }
        let r = NetworkRecord {
            id,
            name: req.name,
            driver: Driver::Bridge,
            created: time::now(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels,
            options: req.options,
            subnet: Some(pool.subnet),
            gateway: Some(pool.gateway),
            ip_range: (pool.range != pool.subnet).then_some(pool.range),
            aux_addresses: req.aux_addresses,
            bridge,
            default_bridge: false,
            enable_ipv6: req.ipv6,
            subnet6: pool6.as_ref().map(|p| p.subnet),
            gateway6: pool6.as_ref().map(|p| p.gateway),
            ip_range6: pool6
                .as_ref()
                .and_then(|p| (p.range != p.subnet).then_some(p.range)),
        };
        if let Err(e) = self.bring_up(&r) {
            self.tear_down_bridge(&r);
            return Err(e);
        }
        self.save(&r)?;
        self.state().networks.insert(r.id.clone(), r.clone());
        self.apply_firewall()?;
        self.inner
            .events
            .publish(Event::network("create", &r.id, &r.name, r.driver.as_str()));
        Ok(r)
    }

    /// The IPv6 pool of a new network: the one asked for, which may not
    /// overlap the host's IPv6 routes or another network's, or a unique
    /// local /64 made from the network's id.
    fn pool6(&self, req: &CreateNetwork, id: &str) -> Result<ipam6::Pool6, Error> {
        let mut taken = self.inner.host.host_routes6();
        taken.extend(self.state().networks.values().filter_map(|n| n.subnet6));
        let subnet = match req.subnet6 {
            Some(s) => {
                if let Some(t) = taken.iter().find(|t| ipam6::overlaps(&s, t)) {
                    return Err(Error::Conflict {
                        message: format!("invalid pool request: Pool overlaps with other one on this address space ({t})"),
                    });
                }
                s
            }
            None if req.gateway6.is_some() || req.ip_range6.is_some() => {
                return Err(Error::InvalidArgument(
                    "an IPv6 gateway or ip-range needs an IPv6 subnet".into(),
                ))
            }
            None => {
                let seed = hex::decode(&id[..16.min(id.len())]).unwrap_or_default();
                let s = ipam6::ula_subnet(&seed);
                if taken.iter().any(|t| ipam6::overlaps(&s, t)) {
                    return Err(Error::Conflict {
                        message: format!("the IPv6 subnet {s} chosen for the network is in use: give one with --subnet"),
                    });
                }
                s
            }
        };
        Ok(ipam6::Pool6::new(subnet, req.gateway6, req.ip_range6)?)
    }

    fn tear_down_bridge(&self, n: &NetworkRecord) {
        self.state().dns.remove(&n.id);
        if n.driver == Driver::Bridge {
            if let Err(e) = self.inner.host.delete_link(&n.bridge) {
                tracing::warn!(bridge = %n.bridge, error = %e, "deleting the bridge failed")
            }
        }
    }

    /// Ids of the running containers attached to network `id`.
    pub fn active_endpoints(&self, id: &str) -> Vec<String> {
        self.state()
            .live
            .iter()
            .filter(|(_, l)| l.endpoints.iter().any(|e| e.network_id == id))
            .map(|(cid, _)| cid.clone())
            .collect()
    }

    /// `DELETE /networks/{id}`.
    pub fn remove(&self, key: &str) -> Result<(), Error> {
        let n = self.get(key)?;
        if n.builtin() {
            return Err(Error::Conflict {
                message: format!("{} is a pre-defined network and cannot be removed", n.name),
            });
        }
        if !self.active_endpoints(&n.id).is_empty() {
            return Err(Error::Conflict {
                message: format!(
                    "error while removing network: network {} id {} has active endpoints",
                    n.name, n.id
                ),
            });
        }
        self.tear_down_bridge(&n);
        let path = self.inner.dir.join(format!("{}.json", n.id));
        std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
        self.state().networks.remove(&n.id);
        self.apply_firewall()?;
        self.inner
            .events
            .publish(Event::network("destroy", &n.id, &n.name, n.driver.as_str()));
        Ok(())
    }

    /// The `ip` table berth owns, from the networks and the running
    /// containers' published ports.
    fn ruleset(&self) -> nft::Ruleset {
        let st = self.state();
        let networks = st
            .networks
            .values()
            .filter(|n| n.driver == Driver::Bridge)
            .filter_map(|n| {
                Some(nft::NetRule {
                    bridge: n.bridge.clone(),
                    subnet: n.subnet?,
                    internal: n.internal,
                })
            })
            .collect();
        let mut ports = Vec::new();
        for live in st.live.values() {
            let target = live.endpoints.iter().find_map(|e| {
                let internal = st.networks.get(&e.network_id).is_some_and(|n| n.internal);
                if internal {
                    None
                } else {
                    e.ip
                }
            });
            let Some(ctr_ip) = target else { continue };
            for p in &live.ports {
                ports.push(nft::PortRule {
                    proto: p.proto(),
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    ctr_ip,
                    ctr_port: p.ctr_port,
                });
            }
        }
        ports.sort();
        nft::Ruleset { networks, ports }
    }

    /// The `ip6` table's networks: those with IPv6 on.
    fn ruleset6(&self) -> Vec<nft6::NetRule6> {
        self.state()
            .networks
            .values()
            .filter(|n| n.driver == Driver::Bridge && n.enable_ipv6)
            .filter_map(|n| {
                Some(nft6::NetRule6 {
                    bridge: n.bridge.clone(),
                    subnet: n.subnet6?,
                    internal: n.internal,
                })
            })
            .collect()
    }

    /// The table berth owns, rendered from the records, swapped in whole
    /// (unless it is what was last written).
    fn apply_firewall(&self) -> Result<(), Error> {
        let rules = self.ruleset();
        self.apply_firewall6()?;
        if self.state().applied.as_ref() == Some(&rules) {
            return Ok(());
        }
        let batch = nft::render(&self.inner.settings.nft_table, &rules);
        self.inner.host.apply_firewall(&batch)?;
        self.state().applied = Some(rules);
        Ok(())
    }

    /// The `ip6` table: present while an IPv6 network exists, removed with
    /// the last one.
    fn apply_firewall6(&self) -> Result<(), Error> {
        let rules = self.ruleset6();
        let before = self.state().applied6.clone();
        let table = &self.inner.settings.nft_table;
        match (rules.is_empty(), before) {
            (true, None) => return Ok(()),
            (true, Some(_)) => self
                .inner
                .host
                .apply_firewall(&nft6::render_delete6(table))?,
            (false, Some(b)) if b == rules => return Ok(()),
            (false, _) => self
                .inner
                .host
                .apply_firewall(&nft6::render6(table, &rules))?,
        }
        self.state().applied6 = (!rules.is_empty()).then_some(rules);
        Ok(())
    }

    /// How the kernel's `ip` and `ip6` tables differ from what the records
    /// call for (`system check`), by family.
    fn firewall_drift(&self) -> Vec<(&'static str, Result<Option<drift::Drift>, Error>)> {
        let table = &self.inner.settings.nft_table;
        let rules6 = self.ruleset6();
        let expected = [
            ("ip", Some(nft::render(table, &self.ruleset()))),
            (
                "ip6",
                (!rules6.is_empty()).then(|| nft6::render6(table, &rules6)),
            ),
        ];
        expected
            .into_iter()
            .map(|(family, batch)| {
                let found = self
                    .inner
                    .host
                    .firewall_drift(family, table, batch.as_ref());
                (family, found)
            })
            .collect()
    }

    /// Writes both tables again whatever was last written (`system check
    /// --repair` after finding them changed behind berth's back); an
    /// unexpected `ip6` table is deleted.
    fn rewrite_firewall(&self) -> Result<(), Error> {
        {
            let mut st = self.state();
            st.applied = None;
            st.applied6 = None;
        }
        if self.ruleset6().is_empty() {
            let batch = nft6::render_delete6(&self.inner.settings.nft_table);
            self.inner.host.apply_firewall(&batch)?;
        }
        self.apply_firewall()
    }

    /// Rebuilds every user network's DNS table from the running containers.
    fn refresh_dns(&self) {
        let st = self.state();
        for (net_id, (table, _)) in &st.dns {
            let mut names = dns::Names::default();
            // Each running container on the network by name or id.
            let mut members: Vec<(&str, &str, Vec<std::net::IpAddr>)> = Vec::new();
            for (cid, live) in &st.live {
                for e in live.endpoints.iter().filter(|e| &e.network_id == net_id) {
                    let Some(ip) = e.ip else { continue };
                    let addrs: Vec<std::net::IpAddr> = std::iter::once(ip.into())
                        .chain(e.ip6.map(Into::into))
                        .collect();
                    let short = &cid[..cid.len().min(12)];
                    for name in std::iter::once(live.name.as_str())
                        .chain(std::iter::once(short))
                        .chain(e.aliases.iter().map(String::as_str))
                    {
                        names
                            .all
                            .entry(name.to_ascii_lowercase())
                            .or_default()
                            .extend(addrs.iter().copied());
                    }
                    members.push((cid.as_str(), live.name.as_str(), addrs));
                }
            }
            // Links: the alias (and the target's name) for the linking
            // container alone, while the target is on the network.
            for live in st.live.values() {
                for e in live.endpoints.iter().filter(|e| &e.network_id == net_id) {
                    let Some(own) = e.ip else { continue };
                    for link in &e.links {
                        let (target, alias) = link.split_once(':').unwrap_or((link, link));
                        let Some((_, tname, tips)) = members
                            .iter()
                            .find(|(id, name, _)| *name == target || id.starts_with(target))
                        else {
                            continue;
                        };
                        let scoped = names.scoped.entry(own).or_default();
                        for n in [alias, *tname] {
                            scoped
                                .entry(n.to_ascii_lowercase())
                                .or_default()
                                .extend(tips.iter().copied());
                        }
                    }
                }
            }
            *table.write().unwrap_or_else(|p| p.into_inner()) = names;
        }
    }

    /// `Containers` of network inspect: the running containers on it.
    pub fn attached(&self, id: &str) -> BTreeMap<String, Value> {
        let st = self.state();
        st.live
            .iter()
            .flat_map(|(cid, l)| {
                l.endpoints.iter().filter(|e| e.network_id == id).map(move |e| {
                    (
                        cid.clone(),
                        serde_json::json!({
                            "Name": l.name,
                            "EndpointID": e.endpoint_id,
                            "MacAddress": e.mac,
                            "IPv4Address": e.ip.map(|ip| format!("{ip}/{}", e.prefix_len)).unwrap_or_default(),
                            "IPv6Address": e.ip6.map(|ip| format!("{ip}/{}", e.prefix_len6)).unwrap_or_default(),
                        }),
                    )
                })
            })
            .collect()
    }

    /// Where a container's network namespace is held.
    pub fn netns_path(&self, cid: &str) -> PathBuf {
        self.inner.netns_dir.join(cid)
    }

    /// The settings the daemon runs with.
    pub fn settings(&self) -> &NetSettings {
        &self.inner.settings
    }
}
