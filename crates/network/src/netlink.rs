//! Links, addresses and routes over rtnetlink, synchronously: one socket
//! per [`Netlink`], in the network namespace of the thread that opened it
//! (so opening one inside a container's namespace configures that one).

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::Error;

/// An rtnetlink socket.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink, Error> {
        let io = |e: std::io::Error| Error::NetlinkIo(e.to_string());
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
        socket.bind_auto().map_err(io)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(io)?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends one request and waits for its answer: the messages it
    /// returns (for gets) or its acknowledgement.
    fn request(
        &mut self,
        op: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Error> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let io = |e: std::io::Error| Error::NetlinkIo(e.to_string());
        self.socket.send(&buf, 0).map_err(io)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(io)?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| Error::NetlinkIo(format!("{op}: undecodable answer: {e}")))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number == self.seq {
                    match reply.payload {
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                None => Ok(out),
                                Some(code) => Err(Error::Netlink {
                                    op: op.to_string(),
                                    errno: -code.get(),
                                }),
                            };
                        }
                        NetlinkPayload::Done(_) => return Ok(out),
                        NetlinkPayload::InnerMessage(m) => {
                            out.push(m);
                            if flags & NLM_F_ACK == 0 && reply.header.flags & 2 == 0 {
                                return Ok(out);
                            }
                        }
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// The index of link `name`, if it exists.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, Error> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            &format!("finding link {name}"),
            RouteNetlinkMessage::GetLink(msg),
            0,
        ) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(Error::Netlink { errno, .. }) if errno == libc::ENODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Names of all links.
    pub fn link_names(&mut self) -> Result<Vec<String>, Error> {
        let msg = LinkMessage::default();
        let replies = self.request(
            "listing links",
            RouteNetlinkMessage::GetLink(msg),
            netlink_packet_core::NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// Creates bridge `name` (down).
    pub fn add_bridge(&mut self, name: &str) -> Result<u32, Error> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(
            &format!("creating bridge {name}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.link_index(name)?
            .ok_or_else(|| Error::NetlinkIo(format!("bridge {name} vanished after creation")))
    }

    /// Creates a veth pair: `host` here, `peer` (with `peer_mac`) in the
    /// network namespace open at `peer_netns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_netns: RawFd,
        peer_mac: [u8; 6],
    ) -> Result<u32, Error> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg.attributes.push(LinkAttribute::NetNsFd(peer_netns));
        peer_msg
            .attributes
            .push(LinkAttribute::Address(peer_mac.to_vec()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.request(
            &format!("creating veth {host}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.link_index(host)?
            .ok_or_else(|| Error::NetlinkIo(format!("veth {host} vanished after creation")))
    }

    fn set_link(
        &mut self,
        op: &str,
        index: u32,
        f: impl FnOnce(&mut LinkMessage),
    ) -> Result<(), Error> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        f(&mut msg);
        self.request(op, RouteNetlinkMessage::SetLink(msg), NLM_F_ACK)
            .map(drop)
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<(), Error> {
        self.set_link("bringing a link up", index, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Makes link `index` a port of bridge `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<(), Error> {
        self.set_link("attaching a link to its bridge", index, |m| {
            m.attributes.push(LinkAttribute::Controller(master));
        })
    }

    /// Deletes link `index` (a veth's peer goes with it).
    pub fn delete_link(&mut self, index: u32) -> Result<(), Error> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.request(
            "deleting a link",
            RouteNetlinkMessage::DelLink(msg),
            NLM_F_ACK,
        )
        .map(drop)
    }

    /// Deletes link `name` if it exists; says whether it did.
    pub fn delete_link_named(&mut self, name: &str) -> Result<bool, Error> {
        match self.link_index(name)? {
            Some(i) => self.delete_link(i).map(|_| true),
            None => Ok(false),
        }
    }

    /// Adds `ip/prefix` to link `index` (an existing one is fine). An IPv6
    /// address is usable at once: no duplicate address detection, as the
    /// addresses on a bridge are handed out by berth alone.
    pub fn add_address(
        &mut self,
        index: u32,
        ip: impl Into<IpAddr>,
        prefix: u8,
    ) -> Result<(), Error> {
        let ip = ip.into();
        let mut msg = AddressMessage::default();
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(ip));
        match ip {
            IpAddr::V4(v4) => {
                msg.header.family = AddressFamily::Inet;
                let bcast = u32::from(v4) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
                msg.attributes
                    .push(AddressAttribute::Broadcast(Ipv4Addr::from(bcast)));
            }
            IpAddr::V6(_) => {
                msg.header.family = AddressFamily::Inet6;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match self.request(
            &format!("adding address {ip}/{prefix}"),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(Error::Netlink { errno, .. }) if errno == libc::EEXIST => Ok(()),
            other => other.map(drop),
        }
    }

    /// Adds the default route (of the gateway's family) through `gateway`.
    pub fn add_default_route(&mut self, gateway: impl Into<IpAddr>) -> Result<(), Error> {
        let gateway = gateway.into();
        let mut msg = RouteMessage::default();
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.header.address_family = match gateway {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        self.request(
            &format!("adding the default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }
}
