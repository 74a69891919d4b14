//! What a rootless daemon's network needs beyond [`super::LinuxHost`]'s
//! work: the daemon's own network namespace is where bridges, veths, the
//! firewall and DNS live (all unchanged), but a published port must be
//! reachable on the real host. The port helper outside binds it there
//! ([`berth_network::hostports`]); a proxy in the daemon accepts on that
//! socket and connects to the same port on this namespace's loopback,
//! where the firewall's rules (the same as a rootful daemon's for
//! `127.0.0.1`) carry it to the container.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_network::hostports::{self, Request};
use berth_network::nft::Proto;

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

/// A published port's two holds: the port in the daemon's namespace and
/// the proxy task owning the host's listening socket.
pub(super) struct ProxyHold {
    _inner: OwnedFd,
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
            // Out of descriptors, say: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut to) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut from, &mut to).await;
            }
        });
    }
}

/// How long a UDP flow (one client address) is kept without traffic:
/// Docker's userland proxy forgets a UDP peer after 90 s as well.
const UDP_IDLE: std::time::Duration = std::time::Duration::from_secs(90);

/// Carries datagrams between the host's socket and `target`: each client
/// address gets a socket of its own in the daemon's namespace, so replies
/// find their way back; a flow idle for [`UDP_IDLE`] is forgotten. The
/// flows' tasks live in a set owned by this task, so they end with it.
async fn udp_proxy(outer: tokio::net::UdpSocket, target: SocketAddr) {
    use std::collections::HashMap;
    use std::sync::Arc;
    let outer = Arc::new(outer);
    let mut flows: HashMap<SocketAddr, Arc<tokio::net::UdpSocket>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            got = outer.recv_from(&mut buf) => {
                let Ok((n, peer)) = got else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let inner = match flows.get(&peer) {
                    Some(inner) => inner.clone(),
                    None => {
                        let Ok(inner) = udp_flow(target).await else { continue };
                        let inner = Arc::new(inner);
                        flows.insert(peer, inner.clone());
                        tasks.spawn(udp_replies(inner.clone(), outer.clone(), peer));
                        inner
                    }
                };
                let _ = inner.send(&buf[..n]).await;
            }
            Some(Ok(peer)) = tasks.join_next(), if !tasks.is_empty() => {
                flows.remove(&peer);
            }
        }
    }
}

async fn udp_flow(target: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let inner = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    inner.connect(target).await?;
    Ok(inner)
}

/// Sends `peer` what the container answers, until the flow is idle.
async fn udp_replies(
    inner: std::sync::Arc<tokio::net::UdpSocket>,
    outer: std::sync::Arc<tokio::net::UdpSocket>,
    peer: SocketAddr,
) -> SocketAddr {
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, inner.recv(&mut buf)).await {
        let _ = outer.send_to(&buf[..n], peer).await;
    }
    peer
}

/// A published port of a rootless daemon: the helper binds `ip:port` on
/// the host, the same port is held in the daemon's namespace, and a proxy
/// carries each connection (TCP) or flow of datagrams (UDP) to that port
/// on the namespace's loopback.
/// `hold_inner` holds the port the helper got in the daemon's namespace.
pub(super) fn hold_on_host(
    runtime: &tokio::runtime::Handle,
    helper: &Path,
    proto: Proto,
    ip: Ipv4Addr,
    port: u16,
    hold_inner: impl FnOnce(u16) -> Result<OwnedFd, String>,
) -> Result<(ProxyHold, u16), String> {
    if !ip.is_unspecified() && !ip.is_loopback() {
        return Err(format!(
            "a rootless daemon publishes ports on 0.0.0.0 or 127.0.0.1 only, not {ip}"
        ));
    }
    let (fd, got) = hostports::request(helper, &Request::Listen { proto, ip, port })?;
    let inner = hold_inner(got)?;
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, got));
    let _guard = runtime.enter();
    let task = match proto {
        Proto::Tcp => {
            let std_listener = std::net::TcpListener::from(fd);
            std_listener
                .set_nonblocking(true)
                .map_err(|e| e.to_string())?;
            let listener =
                tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
            runtime.spawn(proxy(listener, target))
        }
        Proto::Udp => {
            let std_socket = std::net::UdpSocket::from(fd);
            std_socket
                .set_nonblocking(true)
                .map_err(|e| e.to_string())?;
            let socket = tokio::net::UdpSocket::from_std(std_socket).map_err(|e| e.to_string())?;
            runtime.spawn(udp_proxy(socket, target))
        }
    };
    Ok((
        ProxyHold {
            _inner: inner,
            task: task.abort_handle(),
        },
        got,
    ))
}
