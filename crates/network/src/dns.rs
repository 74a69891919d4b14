//! The embedded DNS server of a user network: it answers the names of the
//! network's containers (names, aliases, short ids) from a shared table,
//! and the names of a container's links to that container alone, and
//! forwards every other question to the host's resolvers. It listens on the
//! network's gateway address, port 53, UDP and TCP. Deciding the answer is
//! pure ([`answer`]); the sockets are in [`serve`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::Error;

/// Names (lower case, no trailing dot) to addresses, for one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// What every container of the network resolves (IPv4 addresses give
    /// A records, IPv6 ones AAAA).
    pub all: HashMap<String, Vec<IpAddr>>,
    /// What only the container with the key address resolves (its links),
    /// before `all`.
    pub scoped: HashMap<Ipv4Addr, HashMap<String, Vec<IpAddr>>>,
}

impl Names {
    /// The answer for a query from `peer`.
    pub fn answer(&self, query: &[u8], peer: IpAddr) -> Answer {
        let own = match peer {
            IpAddr::V4(ip) => self.scoped.get(&ip),
            IpAddr::V6(_) => None,
        };
        match own.map(|names| answer(query, names)) {
            Some(Answer::Local(bytes)) => Answer::Local(bytes),
            _ => answer(query, &self.all),
        }
    }
}

/// The table a server answers from; the engine rewrites it.
pub type Table = Arc<RwLock<Names>>;

/// Time to live of local answers: short, as records change with containers.
const TTL: u32 = 10;

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Send these bytes back.
    Local(Vec<u8>),
    /// Not ours: ask the upstream resolvers.
    Forward,
    /// Not a DNS message: drop it.
    Ignore,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Answers `query` from `names` when it asks for one of them (A or AAAA
/// records, or no data for other types of a known name), else says to
/// forward.
pub fn answer(query: &[u8], names: &HashMap<String, Vec<IpAddr>>) -> Answer {
    let Ok(msg) = Message::from_vec(query) else {
        return Answer::Ignore;
    };
    if msg.metadata.message_type != MessageType::Query {
        return Answer::Ignore;
    }
    let Some(q) = msg.queries.first() else {
        return Answer::Forward;
    };
    let Some(addrs) = names.get(&key(&q.name().to_ascii())) else {
        return Answer::Forward;
    };
    let mut reply = Message::response(msg.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = msg.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.metadata.response_code = ResponseCode::NoError;
    reply.add_query(q.clone());
    let any = q.query_type() == RecordType::ANY;
    for ip in addrs {
        let data = match ip {
            IpAddr::V4(v4) if any || q.query_type() == RecordType::A => RData::A(A(*v4)),
            IpAddr::V6(v6) if any || q.query_type() == RecordType::AAAA => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        reply.add_answer(Record::from_rdata(q.name().clone(), TTL, data));
    }
    match reply.to_vec() {
        Ok(bytes) => Answer::Local(bytes),
        Err(_) => Answer::Ignore,
    }
}

/// A SERVFAIL for `query` (no upstream answered).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let mut reply = Message::error_msg(msg.metadata.id, OpCode::Query, ResponseCode::ServFail);
    reply.metadata.recursion_desired = msg.metadata.recursion_desired;
    for q in msg.queries {
        reply.add_query(q);
    }
    reply.to_vec().ok()
}

/// Asks each upstream in turn over UDP; the first answer wins.
async fn forward(query: &[u8], upstream: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in upstream {
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.send_to(query, server).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65535];
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await
        {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

async fn respond(
    query: Vec<u8>,
    peer: IpAddr,
    table: &Table,
    upstream: &[SocketAddr],
) -> Option<Vec<u8>> {
    let decided = {
        let names = table.read().unwrap_or_else(|p| p.into_inner());
        names.answer(&query, peer)
    };
    match decided {
        Answer::Local(bytes) => Some(bytes),
        Answer::Ignore => None,
        Answer::Forward => match forward(&query, upstream).await {
            Some(bytes) => Some(bytes),
            None => servfail(&query),
        },
    }
}

/// A running server; it stops when dropped.
pub struct Server {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Serves `table` on `addr:53` (UDP and TCP), forwarding to `upstream`;
/// the sockets are bound before this returns and served on `runtime`.
pub fn serve(
    runtime: &tokio::runtime::Handle,
    addr: Ipv4Addr,
    table: Table,
    upstream: Vec<SocketAddr>,
) -> Result<Server, Error> {
    let at = SocketAddr::new(IpAddr::V4(addr), 53);
    let bind_err = |e| Error::io("binding DNS on", at.to_string())(e);
    let udp = std::net::UdpSocket::bind(at).map_err(bind_err)?;
    let tcp = std::net::TcpListener::bind(at).map_err(bind_err)?;
    udp.set_nonblocking(true).map_err(bind_err)?;
    tcp.set_nonblocking(true).map_err(bind_err)?;
    let _entered = runtime.enter();
    let udp = UdpSocket::from_std(udp).map_err(bind_err)?;
    let tcp = TcpListener::from_std(tcp).map_err(bind_err)?;
    let upstream = Arc::new(upstream);
    let udp = Arc::new(udp);
    let udp_task = {
        let (table, upstream) = (table.clone(), upstream.clone());
        runtime.spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                let query = buf[..n].to_vec();
                let (udp, table, upstream) = (udp.clone(), table.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Some(reply) = respond(query, peer.ip(), &table, &upstream).await {
                        let _ = udp.send_to(&reply, peer).await;
                    }
                });
            }
        })
    };
    let tcp_task = runtime.spawn(async move {
        loop {
            let Ok((mut stream, peer)) = tcp.accept().await else {
                continue;
            };
            let (table, upstream) = (table.clone(), upstream.clone());
            tokio::spawn(async move {
                loop {
                    let mut len = [0u8; 2];
                    if stream.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let Some(reply) = respond(query, peer.ip(), &table, &upstream).await else {
                        return;
                    };
                    let Ok(n) = u16::try_from(reply.len()) else {
                        return;
                    };
                    if stream.write_all(&n.to_be_bytes()).await.is_err()
                        || stream.write_all(&reply).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(Server {
        tasks: vec![udp_task, tcp_task],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new(77, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn names() -> HashMap<String, Vec<IpAddr>> {
        HashMap::from([
            ("db".to_string(), vec![Ipv4Addr::new(10, 5, 0, 2).into()]),
            (
                "dual".to_string(),
                vec![
                    Ipv4Addr::new(10, 5, 0, 3).into(),
                    "fd00:5::3".parse::<std::net::Ipv6Addr>().unwrap().into(),
                ],
            ),
        ])
    }

    #[test]
    fn answers_known_names_and_forwards_the_rest() {
        let Answer::Local(bytes) = answer(&query("DB.", RecordType::A), &names()) else {
            panic!("db is ours");
        };
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!(reply.metadata.id, 77);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert!(reply.metadata.recursion_desired && reply.metadata.recursion_available);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(
            &reply.answers[0].data,
            &RData::A(A(Ipv4Addr::new(10, 5, 0, 2)))
        );
        let Answer::Local(bytes) = answer(&query("db", RecordType::AAAA), &names()) else {
            panic!("a known name answers every type");
        };
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.answers.is_empty());
        let Answer::Local(bytes) = answer(&query("dual.", RecordType::AAAA), &names()) else {
            panic!("dual is ours");
        };
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(
            &reply.answers[0].data,
            &RData::AAAA(AAAA("fd00:5::3".parse().unwrap()))
        );
        let Answer::Local(bytes) = answer(&query("dual.", RecordType::A), &names()) else {
            panic!("dual is ours");
        };
        assert_eq!(Message::from_vec(&bytes).unwrap().answers.len(), 1);
        assert_eq!(
            answer(&query("debian.org.", RecordType::A), &names()),
            Answer::Forward
        );
        assert_eq!(answer(b"junk", &names()), Answer::Ignore);
        let servfail = Message::from_vec(&servfail(&query("x.", RecordType::A)).unwrap()).unwrap();
        assert_eq!(servfail.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(servfail.metadata.id, 77);
    }

    #[test]
    fn links_resolve_for_their_container_alone() {
        let web = Ipv4Addr::new(10, 5, 0, 3);
        let table = Names {
            all: names(),
            scoped: HashMap::from([(
                web,
                HashMap::from([("bar".to_string(), vec![Ipv4Addr::new(10, 5, 0, 2).into()])]),
            )]),
        };
        let asked =
            |peer: Ipv4Addr, name: &str| table.answer(&query(name, RecordType::A), peer.into());
        let Answer::Local(bytes) = asked(web, "bar") else {
            panic!("the link resolves for its container");
        };
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!(
            &reply.answers[0].data,
            &RData::A(A(Ipv4Addr::new(10, 5, 0, 2)))
        );
        assert!(
            matches!(asked(web, "db"), Answer::Local(_)),
            "the network's names too"
        );
        assert_eq!(asked(Ipv4Addr::new(10, 5, 0, 9), "bar"), Answer::Forward);
    }
}
