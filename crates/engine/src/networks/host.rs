//! The network service's kernel work behind one seam: bridges, namespaces,
//! veths and addresses, host port sockets, the firewall and the embedded
//! DNS servers. [`LinuxHost`] does it (as root); [`FakeHost`] keeps it in
//! memory, so the engine (and the API over it) runs in tests with no root
//! and no kernel work. What is chosen — subnets, addresses, MACs, names,
//! rulesets, DNS tables — is decided by the service, the same over both.

use std::any::Any;
use std::collections::BTreeSet;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_network::nft::Proto;
use berth_network::{dns, drift, files, ipam, ipam6, netlink::Netlink, netns, nft, sysctl};
use ipnet::{Ipv4Net, Ipv6Net};

use super::NetworkRecord;
use crate::Error;

/// Something held while it is needed (a port's socket, a DNS server);
/// released when dropped.
pub type Hold = Box<dyn Any + Send + Sync>;

/// One endpoint to wire: the veth pair, the container end's addresses and
/// routes.
#[derive(Debug, Clone)]
pub struct Wiring<'a> {
    pub host_veth: &'a str,
    pub if_name: &'a str,
    pub netns: &'a Path,
    pub mac: [u8; 6],
    pub bridge: &'a str,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub link_local: &'a [Ipv4Addr],
    /// Address, prefix and gateway on an IPv6 network.
    pub v6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
    /// Make the gateway(s) the default route.
    pub default_route: bool,
}

/// The kernel work of networking.
pub trait NetworkHost: Send + Sync + 'static {
    /// The host's IPv4 routes a new network's subnet must not overlap.
    fn host_routes(&self) -> Vec<Ipv4Net>;
    /// The host's IPv6 routes.
    fn host_routes6(&self) -> Vec<Ipv6Net>;
    /// The network's bridge exists, with its addresses, up, with
    /// forwarding on unless the network is internal.
    fn ensure_bridge(&self, n: &NetworkRecord) -> Result<(), Error>;
    /// Deletes a bridge (or any link) by name; a missing one is no error.
    fn delete_link(&self, name: &str) -> Result<(), Error>;
    /// The names of the host's links.
    fn link_names(&self) -> Vec<String>;
    /// Serves `table` on the gateway's port 53 until the hold drops.
    fn serve_dns(&self, gateway: Ipv4Addr, table: dns::Table) -> Result<Hold, Error>;
    /// A new network namespace held at `path`.
    fn create_netns(&self, path: &Path) -> Result<(), Error>;
    /// Releases the namespace held at `path` (a missing one is no error).
    fn remove_netns(&self, path: &Path) -> Result<(), Error>;
    /// Creates and configures the endpoint's veth pair; undoes itself on
    /// failure.
    fn wire_endpoint(&self, w: &Wiring<'_>) -> Result<(), Error>;
    /// Holds `ip:port` (0: a port the system picks) so nothing else takes
    /// it; the port held.
    fn hold_port(&self, proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(Hold, u16), String>;
    /// Replaces the firewall with the batch.
    fn apply_firewall(&self, batch: &nft::Nftables<'_>) -> Result<(), Error>;
    /// How the kernel's `family` table `table` differs from `expected`
    /// (`None`: there should be none).
    fn firewall_drift(
        &self,
        family: &str,
        table: &str,
        expected: Option<&nft::Nftables<'_>>,
    ) -> Result<Option<drift::Drift>, Error>;
}

/// The real thing: netlink, `/proc/sys`, nsfs bind mounts, sockets, `nft`.
pub struct LinuxHost {
    /// Where the DNS servers' and port proxies' tasks run.
    pub runtime: tokio::runtime::Handle,
    /// A rootless daemon's port helper: published ports are bound on the
    /// host through it and proxied in (`rootless_host`). `None` for root's
    /// daemon, whose namespace is the host's.
    pub host_ports: Option<PathBuf>,
}

/// Binds (without listening) `ip:port` in this process's network
/// namespace; the port bound.
fn bind_port(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(std::os::fd::OwnedFd, u16), String> {
    use nix::sys::socket::SockaddrIn;
    use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockType};
    let kind = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let held = (|| -> nix::Result<(std::os::fd::OwnedFd, u16)> {
        let fd = socket(AddressFamily::Inet, kind, SockFlag::SOCK_CLOEXEC, None)?;
        bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(ip, port)),
        )?;
        let got: SockaddrIn = getsockname(fd.as_raw_fd())?;
        Ok((fd, got.port()))
    })();
    held.map_err(|e| e.desc().to_lowercase())
}

/// The host's resolvers, for forwarding what the embedded DNS does not know.
fn upstream_resolvers() -> Vec<SocketAddr> {
    let conf =
        files::ResolvConf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    conf.nameservers
        .iter()
        .filter_map(|n| n.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

impl NetworkHost for LinuxHost {
    fn host_routes(&self) -> Vec<Ipv4Net> {
        ipam::host_routes(&std::fs::read_to_string("/proc/net/route").unwrap_or_default())
    }

    fn host_routes6(&self) -> Vec<Ipv6Net> {
        ipam6::host_routes6(&std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default())
    }

    fn ensure_bridge(&self, n: &NetworkRecord) -> Result<(), Error> {
        let (Some(subnet), Some(gateway)) = (n.subnet, n.gateway) else {
            return Ok(());
        };
        let mut nl = Netlink::open()?;
        let index = match nl.link_index(&n.bridge)? {
            Some(i) => i,
            None => nl.add_bridge(&n.bridge)?,
        };
        nl.add_address(index, gateway, subnet.prefix_len())?;
        let proc = sysctl::ProcNet::default();
        if let (true, Some(s6), Some(g6)) = (n.enable_ipv6, n.subnet6, n.gateway6) {
            proc.enable_ipv6(&n.bridge)?;
            nl.add_address(index, g6, s6.prefix_len())?;
            if !n.internal {
                proc.enable_forwarding6()?;
            }
        }
        nl.set_up(index)?;
        proc.enable_route_localnet(&n.bridge)?;
        if !n.internal {
            proc.enable_forwarding()?;
        }
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<(), Error> {
        Netlink::open()?.delete_link_named(name)?;
        Ok(())
    }

    fn link_names(&self) -> Vec<String> {
        Netlink::open()
            .and_then(|mut nl| nl.link_names())
            .unwrap_or_default()
    }

    fn serve_dns(&self, gateway: Ipv4Addr, table: dns::Table) -> Result<Hold, Error> {
        let server = dns::serve(&self.runtime, gateway, table, upstream_resolvers())?;
        Ok(Box::new(server))
    }

    fn create_netns(&self, path: &Path) -> Result<(), Error> {
        Ok(netns::create(path)?)
    }

    fn remove_netns(&self, path: &Path) -> Result<(), Error> {
        Ok(netns::remove(path)?)
    }

    fn wire_endpoint(&self, w: &Wiring<'_>) -> Result<(), Error> {
        let ns_file = File::open(w.netns).map_err(Error::io("opening", w.netns))?;
        let mut nl = Netlink::open()?;
        let host_index = match nl.add_veth(w.host_veth, w.if_name, ns_file.as_raw_fd(), w.mac) {
            // The same container's previous veth, its namespace still being
            // torn down by the kernel (a restart): delete it and try again.
            Err(berth_network::Error::Netlink { errno, .. }) if errno == libc::EEXIST => {
                nl.delete_link_named(w.host_veth)?;
                nl.add_veth(w.host_veth, w.if_name, ns_file.as_raw_fd(), w.mac)?
            }
            other => other?,
        };
        let wired = (|| -> Result<(), Error> {
            let bridge = nl
                .link_index(w.bridge)?
                .ok_or_else(|| Error::Internal(format!("bridge {} is missing", w.bridge)))?;
            nl.set_master(host_index, bridge)?;
            nl.set_up(host_index)?;
            sysctl::enable_hairpin(Path::new("/sys/class/net"), w.host_veth)?;
            let inner_name = w.if_name.to_string();
            let (ip, prefix, gateway, v6) = (w.ip, w.prefix, w.gateway, w.v6);
            let link_local = w.link_local.to_vec();
            let add_route = w.default_route;
            netns::run_in(w.netns, move || {
                let mut nl = Netlink::open()?;
                let idx = nl.link_index(&inner_name)?.ok_or_else(|| {
                    berth_network::Error::NetlinkIo(format!(
                        "{inner_name} did not arrive in the container"
                    ))
                })?;
                nl.add_address(idx, ip, prefix)?;
                for ll in &link_local {
                    nl.add_address(idx, *ll, 16)?;
                }
                if let Some((ip6, prefix6, _)) = v6 {
                    sysctl::ProcNet::default().enable_ipv6(&inner_name)?;
                    nl.add_address(idx, ip6, prefix6)?;
                }
                nl.set_up(idx)?;
                if add_route {
                    nl.add_default_route(gateway)?;
                    if let Some((_, _, gw6)) = v6 {
                        nl.add_default_route(gw6)?;
                    }
                }
                Ok(())
            })?;
            Ok(())
        })();
        if let Err(e) = wired {
            let _ = nl.delete_link(host_index);
            return Err(e);
        }
        Ok(())
    }

    fn hold_port(&self, proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(Hold, u16), String> {
        match &self.host_ports {
            None => bind_port(proto, ip, port).map(|(fd, got)| (Box::new(fd) as Hold, got)),
            Some(helper) => {
                let hold_inner = |got| bind_port(proto, ip, got).map(|(fd, _)| fd);
                super::rootless_host::hold_on_host(
                    &self.runtime,
                    helper,
                    proto,
                    ip,
                    port,
                    hold_inner,
                )
                .map(|(hold, got)| (Box::new(hold) as Hold, got))
            }
        }
    }

    fn apply_firewall(&self, batch: &nft::Nftables<'_>) -> Result<(), Error> {
        Ok(nft::apply(batch)?)
    }

    fn firewall_drift(
        &self,
        family: &str,
        table: &str,
        expected: Option<&nft::Nftables<'_>>,
    ) -> Result<Option<drift::Drift>, Error> {
        Ok(drift::drift(family, table, expected)?)
    }
}

/// Networking in memory, for tests: links are names in a set, a namespace
/// is an empty file at its path, ports come from a counter (taken ones
/// refused as the kernel refuses them), the firewall is the last batch
/// written, and no DNS server runs (the tables are still kept).
#[derive(Default)]
pub struct FakeHost {
    state: std::sync::Arc<Mutex<FakeState>>,
}

#[derive(Default)]
struct FakeState {
    links: BTreeSet<String>,
    /// Held ports by (protocol, port): taken ones are refused.
    ports: BTreeSet<(&'static str, u16)>,
    next_port: u16,
    /// The host ends of the veths wired into each namespace: they go with
    /// it, as the kernel's do.
    in_netns: std::collections::BTreeMap<PathBuf, Vec<String>>,
    /// The tables the batches left, by `family name`, with the batch that
    /// wrote each last.
    tables: std::collections::BTreeMap<String, String>,
}

fn lock(state: &Mutex<FakeState>) -> std::sync::MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A port the fake holds until dropped.
struct FakePort {
    state: std::sync::Weak<Mutex<FakeState>>,
    key: (&'static str, u16),
}

impl Drop for FakePort {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            lock(&state).ports.remove(&self.key);
        }
    }
}

impl FakeHost {
    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        lock(&self.state)
    }

    /// The links that exist (bridges and host ends of veths).
    pub fn links(&self) -> Vec<String> {
        self.state().links.iter().cloned().collect()
    }

    /// Every firewall table there is (`family name`) with the batch that
    /// wrote it last, as JSON.
    pub fn firewall(&self) -> String {
        let st = self.state();
        st.tables
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether the `family` table `name` exists.
    pub fn has_table(&self, family: &str, name: &str) -> bool {
        self.state()
            .tables
            .contains_key(&format!("{family} {name}"))
    }
}

impl NetworkHost for FakeHost {
    fn host_routes(&self) -> Vec<Ipv4Net> {
        Vec::new()
    }

    fn host_routes6(&self) -> Vec<Ipv6Net> {
        Vec::new()
    }

    fn ensure_bridge(&self, n: &NetworkRecord) -> Result<(), Error> {
        if n.subnet.is_some() {
            self.state().links.insert(n.bridge.clone());
        }
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<(), Error> {
        self.state().links.remove(name);
        Ok(())
    }

    fn link_names(&self) -> Vec<String> {
        self.links()
    }

    fn serve_dns(&self, _gateway: Ipv4Addr, _table: dns::Table) -> Result<Hold, Error> {
        Ok(Box::new(()))
    }

    fn create_netns(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, b"").map_err(Error::io("creating", path))
    }

    fn remove_netns(&self, path: &Path) -> Result<(), Error> {
        let mut st = self.state();
        for veth in st.in_netns.remove(path).unwrap_or_default() {
            st.links.remove(&veth);
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("removing", PathBuf::from(path))(e))
            }
            _ => Ok(()),
        }
    }

    fn wire_endpoint(&self, w: &Wiring<'_>) -> Result<(), Error> {
        let mut st = self.state();
        if !st.links.contains(w.bridge) {
            return Err(Error::Internal(format!("bridge {} is missing", w.bridge)));
        }
        st.links.insert(w.host_veth.to_string());
        st.in_netns
            .entry(w.netns.to_path_buf())
            .or_default()
            .push(w.host_veth.to_string());
        Ok(())
    }

    fn hold_port(&self, proto: Proto, _ip: Ipv4Addr, port: u16) -> Result<(Hold, u16), String> {
        let mut st = self.state();
        let port = match port {
            0 => loop {
                st.next_port = st.next_port.max(32767).checked_add(1).unwrap_or(32768);
                if !st.ports.contains(&(proto.as_str(), st.next_port)) {
                    break st.next_port;
                }
            },
            p => p,
        };
        let key = (proto.as_str(), port);
        if !st.ports.insert(key) {
            return Err("address already in use".into());
        }
        let state = std::sync::Arc::downgrade(&self.state);
        Ok((Box::new(FakePort { state, key }), port))
    }

    fn apply_firewall(&self, batch: &nft::Nftables<'_>) -> Result<(), Error> {
        let json = serde_json::to_value(batch)
            .map_err(|e| Error::Internal(format!("serialising the firewall: {e}")))?;
        let mut st = self.state();
        // Tables added and deleted, in the batch's order, as nft runs it.
        for cmd in json["nftables"].as_array().into_iter().flatten() {
            for (op, present) in [("add", true), ("delete", false)] {
                let t = &cmd[op]["table"];
                let (Some(family), Some(name)) = (t["family"].as_str(), t["name"].as_str()) else {
                    continue;
                };
                let key = format!("{family} {name}");
                if present {
                    st.tables.insert(key, json.to_string());
                } else {
                    st.tables.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn firewall_drift(
        &self,
        _family: &str,
        _table: &str,
        _expected: Option<&nft::Nftables<'_>>,
    ) -> Result<Option<drift::Drift>, Error> {
        Ok(None)
    }
}
