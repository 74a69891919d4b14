//! Connecting containers: a network namespace per container, a veth per
//! network (host end on the bridge, `ethN` inside with its address and,
//! on the first routed network, the default route), the published ports'
//! host sockets, then the firewall and DNS tables. Setup undoes its partial
//! work on failure; teardown keeps going and reports every error.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use berth_network::{ipam, ipam6};

use super::host::Wiring;
use super::ports::{self, PortRequest, Published};
use super::{Driver, Endpoint, Live, NetworkService};
use crate::{ids, Error};

/// The host end of a container's veth on a network: `bv`, 8 characters of
/// the container id, 5 of the network id (15, the kernel's limit). The
/// network part lets a restarted daemon find its own leftovers.
fn veth_name(cid: &str, network_id: &str) -> String {
    format!(
        "bv{}{}",
        &cid[..8.min(cid.len())],
        &network_id[..5.min(network_id.len())]
    )
}

impl NetworkService {
    fn ops(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Addresses no new endpoint may get: those in use and the network's
    /// auxiliary addresses.
    fn used_ips(&self, network_id: &str) -> std::collections::BTreeSet<Ipv4Addr> {
        let st = self.state();
        let aux = st
            .networks
            .get(network_id)
            .map(|n| n.aux_addresses.values().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        st.live
            .values()
            .flat_map(|l| l.endpoints.iter())
            .filter(|e| e.network_id == network_id)
            .filter_map(|e| e.ip)
            .chain(aux)
            .collect()
    }

    /// IPv6 addresses no new endpoint may get on network `network_id`.
    fn used_ips6(&self, network_id: &str) -> std::collections::BTreeSet<Ipv6Addr> {
        self.state()
            .live
            .values()
            .flat_map(|l| l.endpoints.iter())
            .filter(|e| e.network_id == network_id)
            .filter_map(|e| e.ip6)
            .collect()
    }

    /// Whether the container already has a default route (an endpoint on a
    /// network that is not internal).
    fn routes_out(&self, endpoints: &[Endpoint]) -> bool {
        let st = self.state();
        endpoints
            .iter()
            .any(|e| e.ip.is_some() && st.networks.get(&e.network_id).is_some_and(|n| !n.internal))
    }

    /// Wires one endpoint into the namespace at `netns_path` as `eth{index}`.
    fn setup_endpoint(
        &self,
        cid: &str,
        index: usize,
        ep: &mut Endpoint,
        netns_path: &Path,
        add_route: bool,
    ) -> Result<(), Error> {
        let net = self.get(&ep.network_id)?;
        let (Some(subnet), Some(gateway)) = (net.subnet, net.gateway) else {
            return Err(Error::InvalidArgument(format!(
                "network {} has no addresses to give",
                net.name
            )));
        };
        if net.driver != Driver::Bridge {
            return Err(Error::InvalidArgument(format!(
                "container cannot be connected to network {} ({})",
                net.name,
                net.driver.as_str()
            )));
        }
        self.bring_up(&net)?;
        let pool = ipam::Pool::new(subnet, Some(gateway), net.ip_range)?;
        let ip = pool.allocate(&self.used_ips(&net.id), ep.wanted_ip)?;
        let v6 = match (net.enable_ipv6, net.subnet6, net.gateway6) {
            (true, Some(s6), Some(g6)) => {
                let pool6 = ipam6::Pool6::new(s6, Some(g6), net.ip_range6)?;
                Some((
                    pool6.allocate(&self.used_ips6(&net.id), ep.wanted_ip6)?,
                    s6.prefix_len(),
                    g6,
                ))
            }
            _ if ep.wanted_ip6.is_some() => {
                return Err(Error::InvalidArgument(format!(
                    "invalid IPv6 address {}: network {} has no IPv6 (create it with --ipv6)",
                    ep.wanted_ip6.map(|i| i.to_string()).unwrap_or_default(),
                    net.name
                )))
            }
            _ => None,
        };
        let mac = match &ep.wanted_mac {
            Some(m) => ipam::parse_mac(m)?,
            None => ipam::mac_for(ip),
        };
        let host = veth_name(cid, &net.id);
        let if_name = format!("eth{index}");
        self.inner.host.wire_endpoint(&Wiring {
            host_veth: &host,
            if_name: &if_name,
            netns: netns_path,
            mac,
            bridge: &net.bridge,
            ip,
            prefix: subnet.prefix_len(),
            gateway,
            link_local: &ep.link_local_ips,
            v6,
            default_route: add_route,
        })?;
        ep.network_name = net.name.clone();
        ep.endpoint_id = ids::new_id();
        ep.ip = Some(ip);
        ep.prefix_len = subnet.prefix_len();
        ep.gateway = Some(gateway);
        ep.ip6 = v6.map(|(a, _, _)| a);
        ep.prefix_len6 = v6.map_or(0, |(_, p, _)| p);
        ep.gateway6 = v6.map(|(_, _, g)| g);
        ep.mac = ipam::mac_text(&mac);
        ep.host_veth = host;
        ep.if_name = if_name;
        Ok(())
    }

    /// Before a start: the container's namespace, its endpoints (filled in
    /// place) and its published ports. Returns the namespace's path and the
    /// ports as published.
    pub fn attach(
        &self,
        cid: &str,
        name: &str,
        endpoints: &mut [Endpoint],
        requests: &[PortRequest],
    ) -> Result<(PathBuf, Vec<Published>), Error> {
        let _op = self.ops();
        let mut published = Vec::new();
        let mut holds = Vec::new();
        for r in requests {
            let (p, fd) = ports::reserve(&*self.inner.host, r)?;
            published.push(p);
            holds.push(fd);
        }
        let netns_path = self.netns_path(cid);
        self.inner.host.create_netns(&netns_path)?;
        let mut routed = false;
        let mut result = Ok(());
        for (i, ep) in endpoints.iter_mut().enumerate() {
            let internal = self
                .get(&ep.network_id)
                .map(|n| n.internal)
                .unwrap_or(false);
            let add_route = !internal && !routed;
            if let Err(e) = self.setup_endpoint(cid, i, ep, &netns_path, add_route) {
                result = Err(e);
                break;
            }
            routed |= add_route;
        }
        if result.is_ok() {
            self.state().live.insert(
                cid.to_string(),
                Live {
                    name: name.to_string(),
                    endpoints: endpoints.to_vec(),
                    ports: published.clone(),
                    _holds: holds,
                },
            );
            result = self.apply_firewall();
            if result.is_err() {
                self.state().live.remove(cid);
            }
        }
        if let Err(e) = result {
            for ep in endpoints.iter_mut() {
                if !ep.host_veth.is_empty() {
                    let _ = self.inner.host.delete_link(&ep.host_veth);
                }
                ep.clear_live();
            }
            let _ = self.inner.host.remove_netns(&netns_path);
            return Err(e);
        }
        self.refresh_dns();
        Ok((netns_path, published))
    }

    /// After a container stopped: releases its namespace, ports and names.
    /// Its veths go with the namespace: once nothing holds it, the kernel
    /// destroys it and each veth pair with it, asynchronously (deleting a
    /// veth here would cost the caller an RCU grace period, 10-30 ms).
    /// (Should something else still hold the namespace, its veths are
    /// deleted by name at the next daemon start.)
    /// `endpoints` (from its record) is used when nothing is live, as after
    /// a daemon restart that could not restore it. Every error is returned;
    /// none stops the rest.
    pub fn detach(&self, cid: &str, endpoints: &[Endpoint]) -> Vec<Error> {
        let _op = self.ops();
        let live = self.state().live.remove(cid);
        let eps: Vec<Endpoint> = match &live {
            Some(l) => l.endpoints.clone(),
            None => endpoints.to_vec(),
        };
        drop(live);
        let mut errors = Vec::new();
        // Its rules go first, while its address is still its own: the
        // kernel frees the namespace and its veths asynchronously.
        if let Err(e) = self.apply_firewall() {
            errors.push(e);
        }
        let netns_path = self.netns_path(cid);
        let held = netns_path.exists();
        if let Err(e) = self.inner.host.remove_netns(&netns_path) {
            errors.push(e);
        }
        if !held {
            // No namespace file (a daemon restart lost it): the veths can
            // only go by name.
            for e in eps.iter().filter(|e| !e.host_veth.is_empty()) {
                if let Err(err) = self.inner.host.delete_link(&e.host_veth) {
                    errors.push(err);
                }
            }
        }
        self.refresh_dns();
        errors
    }

    /// Connects a running container (its namespace at `netns_path`) to one
    /// more network.
    pub fn connect_running(&self, cid: &str, ep: &mut Endpoint) -> Result<(), Error> {
        let _op = self.ops();
        let current = self
            .state()
            .live
            .get(cid)
            .map(|l| l.endpoints.clone())
            .unwrap_or_default();
        if current.iter().any(|e| e.network_id == ep.network_id) {
            return Err(Error::Conflict {
                message: format!(
                    "endpoint with name {} already exists in network {}",
                    cid, ep.network_name
                ),
            });
        }
        let internal = self.get(&ep.network_id)?.internal;
        let add_route = !internal && !self.routes_out(&current);
        let index = current
            .iter()
            .filter_map(|e| e.if_name.strip_prefix("eth")?.parse::<usize>().ok())
            .max()
            .map_or(0, |m| m + 1);
        self.setup_endpoint(cid, index, ep, &self.netns_path(cid), add_route)?;
        if let Some(l) = self.state().live.get_mut(cid) {
            l.endpoints.push(ep.clone());
        }
        self.apply_firewall()?;
        self.refresh_dns();
        Ok(())
    }

    /// Disconnects a running container from network `network_id`.
    pub fn disconnect_running(&self, cid: &str, network_id: &str) -> Result<(), Error> {
        let _op = self.ops();
        let removed = {
            let mut st = self.state();
            st.live.get_mut(cid).and_then(|l| {
                let i = l
                    .endpoints
                    .iter()
                    .position(|e| e.network_id == network_id)?;
                Some(l.endpoints.remove(i))
            })
        };
        if let Some(e) = removed {
            self.inner.host.delete_link(&e.host_veth)?;
        }
        self.apply_firewall()?;
        self.refresh_dns();
        Ok(())
    }

    /// The name a running container answers to changed (`rename`).
    pub fn rename(&self, cid: &str, name: &str) {
        if let Some(l) = self.state().live.get_mut(cid) {
            l.name = name.to_string();
        }
        self.refresh_dns();
    }

    /// At daemon start, for each container still running: takes its
    /// endpoints and host ports back.
    pub fn restore(&self, cid: &str, name: &str, endpoints: &[Endpoint], published: &[Published]) {
        let mut holds = Vec::new();
        for p in published {
            let req = PortRequest {
                proto: p.proto(),
                ctr_port: p.ctr_port,
                host_ip: p.host_ip,
                host_ports: (p.host_port, p.host_port),
            };
            match ports::reserve(&*self.inner.host, &req) {
                Ok((_, fd)) => holds.push(fd),
                Err(e) => {
                    tracing::warn!(container = %cid, error = %e, "re-taking a published port failed")
                }
            }
        }
        self.state().live.insert(
            cid.to_string(),
            Live {
                name: name.to_string(),
                endpoints: endpoints.to_vec(),
                ports: published.to_vec(),
                _holds: holds,
            },
        );
    }

    /// Network namespaces and veths of this daemon that no running
    /// container owns. Call with the operations lock held.
    fn stale(&self) -> (Vec<std::path::PathBuf>, Vec<String>) {
        let live: std::collections::HashSet<String> = self.state().live.keys().cloned().collect();
        let mut namespaces = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.inner.netns_dir) {
            for e in entries.flatten() {
                if !live.contains(&*e.file_name().to_string_lossy()) {
                    namespaces.push(e.path());
                }
            }
        }
        namespaces.sort();
        let ours: Vec<String> = {
            let st = self.state();
            st.networks
                .keys()
                .map(|id| id[..5.min(id.len())].to_string())
                .collect()
        };
        let owned: std::collections::HashSet<String> = self
            .state()
            .live
            .values()
            .flat_map(|l| l.endpoints.iter().map(|e| e.host_veth.clone()))
            .collect();
        let mut veths: Vec<String> = self
            .inner
            .host
            .link_names()
            .into_iter()
            .filter(|link| {
                link.len() == 15
                    && link.starts_with("bv")
                    && ours.iter().any(|n| link.ends_with(n.as_str()))
                    && !owned.contains(link)
            })
            .collect();
        veths.sort();
        (namespaces, veths)
    }

    fn remove_netns(&self, path: &std::path::Path) -> bool {
        match self.inner.host.remove_netns(path) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(netns = %path.display(), error = %err, "removing a stale network namespace failed");
                false
            }
        }
    }

    fn remove_veth(&self, link: &str) -> bool {
        match self.inner.host.delete_link(link) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(link = %link, error = %e, "removing a stale veth failed");
                false
            }
        }
    }

    /// After [`restore`](Self::restore): removes namespaces and veths no
    /// running container owns (left by containers that ended while no
    /// daemon ran, or by a killed daemon), then rewrites the firewall and
    /// DNS tables.
    pub fn reconcile(&self) {
        let _op = self.ops();
        let (namespaces, veths) = self.stale();
        for ns in &namespaces {
            self.remove_netns(ns);
        }
        for link in &veths {
            self.remove_veth(link);
        }
        if let Err(e) = self.apply_firewall() {
            tracing::warn!(error = %e, "writing the firewall table failed");
        }
        self.refresh_dns();
    }

    /// `system check`'s part: namespaces and veths no running container
    /// owns, and firewall tables that differ from what the records call
    /// for; `repair` removes the leftovers and writes the tables again,
    /// whole, from the records.
    pub fn check(&self, repair: bool) -> Vec<berth_image::check::Problem> {
        let _op = self.ops();
        let (namespaces, veths) = self.stale();
        let mut out = Vec::new();
        for ns in namespaces {
            out.push(berth_image::check::Problem {
                object: format!("network namespace {}", ns.display()),
                message: "no running container owns it".into(),
                repaired: repair && self.remove_netns(&ns),
            });
        }
        for link in veths {
            out.push(berth_image::check::Problem {
                message: "no running container owns it".into(),
                repaired: repair && self.remove_veth(&link),
                object: format!("veth {link}"),
            });
        }
        let table = &self.inner.settings.nft_table;
        let mut drifted = Vec::new();
        for (family, found) in self.firewall_drift() {
            let message = match found {
                Ok(None) => continue,
                Ok(Some(d)) => {
                    drifted.push(out.len());
                    d.to_string()
                }
                Err(e) => format!("comparing it with the records failed: {e}"),
            };
            out.push(berth_image::check::Problem {
                object: format!("firewall table {family} {table}"),
                message,
                repaired: false,
            });
        }
        if repair && !drifted.is_empty() {
            match self.rewrite_firewall() {
                Ok(()) => {
                    for i in drifted {
                        out[i].repaired = true;
                    }
                }
                Err(e) => out.push(berth_image::check::Problem {
                    object: format!("firewall table {table}"),
                    message: format!("rewriting it failed: {e}"),
                    repaired: false,
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_the_kernel() {
        let n = veth_name(&"a".repeat(64), &"b".repeat(64));
        assert_eq!(n, "bvaaaaaaaabbbbb");
        assert_eq!(n.len(), 15);
    }
}
