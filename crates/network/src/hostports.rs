//! Host ports for a rootless daemon. The daemon lives in a network
//! namespace of its own, so a socket it binds is not on the host; a small
//! helper left outside (`berth __rootless-ports`) binds and listens on the
//! host's address for it and hands the listening socket over a unix socket
//! (`SCM_RIGHTS`). A socket stays in the namespace it was made in, so the
//! daemon accepts host connections on it and carries them to the
//! container. The helper keeps nothing: a port is free again when the
//! daemon closes the socket (or dies).
//!
//! The same helper makes the daemon's own outgoing connections (to
//! registries) from the host's network, where the user's loopback and
//! resolver are.
//!
//! The exchange is one line each way: `tcp 127.0.0.1 8080\n` (listen),
//! `udp 0.0.0.0 5353\n` (bind) or `dial HOST PORT\n` (connect), answered
//! by `ok PORT\n` with the socket attached, or `err TEXT\n`.

use std::io::{BufRead, BufReader, IoSlice, IoSliceMut, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr};

use crate::nft::Proto;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A TCP listener, or a bound UDP socket, on `ip:port` (0: a port
    /// the kernel picks).
    Listen {
        proto: Proto,
        ip: Ipv4Addr,
        port: u16,
    },
    /// A TCP connection from the host to `host:port` (a name or an
    /// address): how the daemon reaches registries, which are on the
    /// host's network (its loopback too), not the daemon's.
    Dial { host: String, port: u16 },
}

impl Request {
    /// The request's line.
    pub fn line(&self) -> String {
        match self {
            Request::Listen { proto, ip, port } => format!("{} {ip} {port}\n", proto.as_str()),
            Request::Dial { host, port } => format!("dial {host} {port}\n"),
        }
    }

    /// Reads a request line.
    pub fn parse(line: &str) -> Result<Request, String> {
        let mut f = line.split_whitespace();
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("bad port {p:?}"));
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some(proto @ ("tcp" | "udp")), Some(ip), Some(p), None) => Ok(Request::Listen {
                proto: if proto == "tcp" {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                ip: ip.parse().map_err(|_| format!("bad address {ip:?}"))?,
                port: port(p)?,
            }),
            (Some("dial"), Some(host), Some(p), None) => Ok(Request::Dial {
                host: host.to_string(),
                port: port(p)?,
            }),
            (Some(proto), Some(_), Some(_), None) => {
                Err(format!("protocol {proto} is not supported"))
            }
            _ => Err(format!("bad request {line:?}")),
        }
    }
}

/// The reply to a request: the port bound, or why not.
pub fn reply_line(result: &Result<u16, String>) -> String {
    match result {
        Ok(port) => format!("ok {port}\n"),
        Err(e) => format!("err {}\n", e.replace('\n', " ")),
    }
}

/// Reads a reply line.
pub fn parse_reply(line: &str) -> Result<u16, String> {
    let line = line.trim_end_matches('\n');
    if let Some(port) = line.strip_prefix("ok ") {
        return port
            .parse()
            .map_err(|_| format!("bad reply from the port helper: {line:?}"));
    }
    match line.strip_prefix("err ") {
        Some(e) => Err(e.to_string()),
        None => Err(format!("bad reply from the port helper: {line:?}")),
    }
}

/// Why binding a host port failed, in words a user acts on: ports below
/// `unprivileged_start` need privileges an ordinary user lacks.
pub fn bind_error(errno: nix::errno::Errno, port: u16, unprivileged_start: Option<u16>) -> String {
    let text = errno.desc().to_lowercase();
    match unprivileged_start {
        Some(start) if errno == nix::errno::Errno::EACCES && port < start => format!(
            "a rootless daemon may not bind port {port}, below net.ipv4.ip_unprivileged_port_start ({start}): publish a port from {start} up, or lower that sysctl"
        ),
        _ => text,
    }
}

/// Binds (and for TCP listens) on the host, as the helper does for a
/// request.
pub fn listen(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16), nix::errno::Errno> {
    use nix::sys::socket::{
        bind, getsockname, listen as listen_on, setsockopt, socket, sockopt, AddressFamily,
        Backlog, SockFlag, SockType, SockaddrIn,
    };
    let kind = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket(AddressFamily::Inet, kind, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(ip, port)),
    )?;
    if proto == Proto::Tcp {
        listen_on(&fd, Backlog::new(511).unwrap_or(Backlog::MAXCONN))?;
    }
    let got: SockaddrIn = getsockname(fd.as_raw_fd())?;
    Ok((fd, got.port()))
}

/// Connects from the host to `host:port`, trying each address the name
/// has for up to 10 s.
pub fn dial(host: &str, port: u16) -> Result<OwnedFd, String> {
    use std::net::ToSocketAddrs;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(10)) {
            Ok(s) => return Ok(OwnedFd::from(s)),
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

/// What the helper does for one request: the socket and the port bound
/// (0 for a connection), or why not.
fn answer(req: &Request, unprivileged_start: Option<u16>) -> Result<(OwnedFd, u16), String> {
    match req {
        Request::Listen { proto, ip, port } => {
            listen(*proto, *ip, *port).map_err(|e| bind_error(e, *port, unprivileged_start))
        }
        Request::Dial { host, port } => dial(host, *port).map(|fd| (fd, 0)),
    }
}

/// The helper's loop: one request per connection, each on a thread of its
/// own (a slow connection does not hold up a port).
pub fn serve(listener: UnixListener) -> std::io::Result<()> {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok());
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        std::thread::spawn(move || {
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_err() {
                return;
            }
            let answer = Request::parse(&line).and_then(|req| answer(&req, start));
            let text = reply_line(&answer.as_ref().map(|(_, p)| *p).map_err(Clone::clone));
            let sent = match &answer {
                Ok((fd, _)) => send_with_fd(&conn, text.as_bytes(), fd.as_raw_fd()),
                Err(_) => conn.write_all(text.as_bytes()),
            };
            if let Err(e) = sent {
                eprintln!("berth port helper: answering: {e}");
            }
        });
    }
    Ok(())
}

fn send_with_fd(conn: &UnixStream, bytes: &[u8], fd: RawFd) -> std::io::Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<UnixAddr>(
        conn.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Asks the helper at `socket` for a host socket: the socket and its port
/// (0 for a connection), or the helper's words.
pub fn request(socket: &Path, req: &Request) -> Result<(OwnedFd, u16), String> {
    let conn = UnixStream::connect(socket)
        .map_err(|e| format!("reaching the port helper at {}: {e}", socket.display()))?;
    (&conn)
        .write_all(req.line().as_bytes())
        .map_err(|e| format!("asking the port helper: {e}"))?;
    let mut buf = [0u8; 512];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<UnixAddr>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("reading the port helper's answer: {e}"))?;
        let mut fd = None;
        for c in msg
            .cmsgs()
            .map_err(|e| format!("port helper's answer: {e}"))?
        {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel just installed these descriptors in
                // this process for this message; nothing else owns them.
                fd = fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
        (msg.bytes, fd)
    };
    let port = parse_reply(&String::from_utf8_lossy(&buf[..n]))?;
    let fd = fd.ok_or("the port helper sent no socket")?;
    Ok((fd, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_lines() {
        let r = Request::Listen {
            proto: Proto::Tcp,
            ip: Ipv4Addr::LOCALHOST,
            port: 8080,
        };
        assert_eq!(r.line(), "tcp 127.0.0.1 8080\n");
        assert_eq!(Request::parse(&r.line()), Ok(r));
        let u = Request::Listen {
            proto: Proto::Udp,
            ip: Ipv4Addr::UNSPECIFIED,
            port: 5353,
        };
        assert_eq!(u.line(), "udp 0.0.0.0 5353\n");
        assert_eq!(Request::parse(&u.line()), Ok(u));
        let d = Request::Dial {
            host: "registry.local".into(),
            port: 5000,
        };
        assert_eq!(d.line(), "dial registry.local 5000\n");
        assert_eq!(Request::parse(&d.line()), Ok(d));
        assert_eq!(
            Request::parse("sctp 0.0.0.0 53\n"),
            Err("protocol sctp is not supported".into())
        );
        assert!(Request::parse("tcp 1.2.3 80").is_err());
        assert_eq!(parse_reply(&reply_line(&Ok(80))), Ok(80));
        assert_eq!(
            parse_reply(&reply_line(&Err("address in use\nx".into()))),
            Err("address in use x".into())
        );
        assert!(parse_reply("what").is_err());
    }

    #[test]
    fn low_ports_say_why() {
        assert_eq!(
            bind_error(nix::errno::Errno::EACCES, 80, Some(1024)),
            "a rootless daemon may not bind port 80, below net.ipv4.ip_unprivileged_port_start (1024): publish a port from 1024 up, or lower that sysctl"
        );
        assert_eq!(
            bind_error(nix::errno::Errno::EADDRINUSE, 8080, Some(1024)),
            "address already in use"
        );
    }

    #[test]
    fn a_socket_crosses_to_the_asker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ports.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || serve(listener));
        let (fd, port) = request(
            &path,
            &Request::Listen {
                proto: Proto::Tcp,
                ip: Ipv4Addr::LOCALHOST,
                port: 0,
            },
        )
        .expect("a listener");
        assert!(port > 0);
        let listener = std::net::TcpListener::from(fd);
        let client = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        let (_, from) = listener.accept().expect("accept");
        assert_eq!(from, client.local_addr().expect("addr"));
        // And a connection made by the helper.
        let (fd, _) = request(
            &path,
            &Request::Dial {
                host: "127.0.0.1".into(),
                port,
            },
        )
        .expect("a connection");
        let dialed = std::net::TcpStream::from(fd);
        let (_, from) = listener.accept().expect("accept");
        assert_eq!(from, dialed.local_addr().expect("addr"));
        let refused = request(
            &path,
            &Request::Listen {
                proto: Proto::Tcp,
                ip: Ipv4Addr::LOCALHOST,
                port,
            },
        );
        assert!(refused.is_err(), "the port is taken");
        // A bound UDP socket: a datagram sent to its port arrives on it.
        let (fd, port) = request(
            &path,
            &Request::Listen {
                proto: Proto::Udp,
                ip: Ipv4Addr::LOCALHOST,
                port: 0,
            },
        )
        .expect("a UDP socket");
        let bound = std::net::UdpSocket::from(fd);
        let sender = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        sender
            .send_to(b"ping", (Ipv4Addr::LOCALHOST, port))
            .expect("send");
        let mut buf = [0u8; 8];
        let (n, from) = bound.recv_from(&mut buf).expect("recv");
        assert_eq!(
            (&buf[..n], from),
            (&b"ping"[..], sender.local_addr().expect("addr"))
        );
    }
}
