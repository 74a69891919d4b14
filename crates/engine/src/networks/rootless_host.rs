//! The network host of a rootless daemon: the daemon's own network
//! namespace is where bridges, veths, the firewall and DNS live (so all of
//! that is [`LinuxHost`]'s work, unchanged), but a published port must be
//! reachable on the real host. The port helper outside binds it there
//! ([`berth_network::hostports`]); a proxy in the daemon accepts on that
//! socket and connects to the same port on this namespace's loopback,
//! where the firewall's rules (the same as a rootful daemon's for
//! `127.0.0.1`) carry it to the container.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use berth_network::hostports::{self, Request};
use berth_network::nft::Proto;
use berth_network::{dns, drift, nft};
use ipnet::{Ipv4Net, Ipv6Net};

use super::host::{Hold, LinuxHost, NetworkHost, Wiring};
use super::NetworkRecord;
use crate::Error;

/// Connections to registries made by the port helper, from the host's
/// network (the daemon's own namespace has no way out but slirp4netns,
/// and never reaches the host's loopback).
pub fn rootless_dialer(ports_socket: PathBuf) -> berth_registry::dial::Dialer {
    berth_registry::dial::Dialer::Through(std::sync::Arc::new(move |host, port| {
        let socket = ports_socket.clone();
        Box::pin(async move {
            let asked = tokio::task::spawn_blocking(move || {
                hostports::request(&socket, &Request::Dial { host, port })
            })
            .await
            .map_err(std::io::Error::other)?;
            let (fd, _) = asked.map_err(std::io::Error::other)?;
            let stream = std::net::TcpStream::from(fd);
            stream.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(stream)
        })
    }))
}

/// [`LinuxHost`] with host ports through the port helper.
pub struct RootlessHost {
    linux: LinuxHost,
    ports_socket: PathBuf,
}

impl RootlessHost {
    pub fn new(linux: LinuxHost, ports_socket: PathBuf) -> RootlessHost {
        RootlessHost {
            linux,
            ports_socket,
        }
    }
}

/// A published port's two holds: the port in the daemon's namespace and
/// the proxy task owning the host's listening socket.
struct ProxyHold {
    _inner: Hold,
    task: tokio::task::AbortHandle,
}

impl Drop for ProxyHold {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts on the host's socket and carries each connection to `target`.
async fn proxy(listener: tokio::net::TcpListener, target: SocketAddr) {
    loop {
        let Ok((mut from, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut to) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut from, &mut to).await;
            }
        });
    }
}

impl NetworkHost for RootlessHost {
    fn host_routes(&self) -> Vec<Ipv4Net> {
        self.linux.host_routes()
    }
    fn host_routes6(&self) -> Vec<Ipv6Net> {
        self.linux.host_routes6()
    }
    fn ensure_bridge(&self, n: &NetworkRecord) -> Result<(), Error> {
        self.linux.ensure_bridge(n)
    }
    fn delete_link(&self, name: &str) -> Result<(), Error> {
        self.linux.delete_link(name)
    }
    fn link_names(&self) -> Vec<String> {
        self.linux.link_names()
    }
    fn serve_dns(&self, gateway: Ipv4Addr, table: dns::Table) -> Result<Hold, Error> {
        self.linux.serve_dns(gateway, table)
    }
    fn create_netns(&self, path: &Path) -> Result<(), Error> {
        self.linux.create_netns(path)
    }
    fn remove_netns(&self, path: &Path) -> Result<(), Error> {
        self.linux.remove_netns(path)
    }
    fn wire_endpoint(&self, w: &Wiring<'_>) -> Result<(), Error> {
        self.linux.wire_endpoint(w)
    }

    fn hold_port(&self, proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(Hold, u16), String> {
        if proto == Proto::Udp {
            return Err("a rootless daemon cannot publish UDP ports yet".into());
        }
        if !ip.is_unspecified() && !ip.is_loopback() {
            return Err(format!(
                "a rootless daemon publishes ports on 0.0.0.0 or 127.0.0.1 only, not {ip}"
            ));
        }
        let (fd, got) = hostports::request(&self.ports_socket, &Request::Listen { ip, port })?;
        let (inner, _) = self.linux.hold_port(proto, ip, got)?;
        let std_listener = std::net::TcpListener::from(fd);
        std_listener
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        let _guard = self.linux.runtime.enter();
        let listener =
            tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, got));
        let task = self.linux.runtime.spawn(proxy(listener, target));
        Ok((
            Box::new(ProxyHold {
                _inner: inner,
                task: task.abort_handle(),
            }),
            got,
        ))
    }

    fn apply_firewall(&self, batch: &nft::Nftables<'_>) -> Result<(), Error> {
        self.linux.apply_firewall(batch)
    }
    fn firewall_drift(
        &self,
        family: &str,
        table: &str,
        expected: Option<&nft::Nftables<'_>>,
    ) -> Result<Option<drift::Drift>, Error> {
        self.linux.firewall_drift(family, table, expected)
    }
}
