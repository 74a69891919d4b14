//! Published ports: what `PortBindings`, `PublishAllPorts` and the exposed
//! ports ask for (pure), and the host sockets that hold each host port for
//! as long as its container runs, so a port already taken fails the start
//! with a clear error and an ephemeral port is one the kernel picked.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use berth_api::container::HostConfig;
use berth_network::nft::Proto;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::host::{Hold, NetworkHost};
use crate::Error;

/// One port to publish, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub ctr_port: u16,
    /// `None`: every host address.
    pub host_ip: Option<Ipv4Addr>,
    /// Inclusive range; `(0, 0)` asks for an ephemeral port.
    pub host_ports: (u16, u16),
}

/// One port as published, kept in the container record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Published {
    pub proto: String,
    pub ctr_port: u16,
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
}

impl Published {
    pub fn proto(&self) -> Proto {
        if self.proto == "udp" {
            Proto::Udp
        } else {
            Proto::Tcp
        }
    }
    /// `0.0.0.0` when on every address, as Docker shows it.
    pub fn host_ip_text(&self) -> String {
        self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
    }
}

/// `"80/tcp"`, `"53/udp"` or `"80"` as port and protocol.
pub fn parse_port_key(key: &str) -> Result<(u16, Proto), Error> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => {
            return Err(Error::InvalidArgument(format!(
                "publishing sctp port {port} is not supported yet"
            )))
        }
        other => return Err(Error::InvalidArgument(format!("invalid proto: {other}"))),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::InvalidArgument(format!("invalid port: {key}")))?;
    Ok((port, proto))
}

fn parse_host_ports(text: &str) -> Result<(u16, u16), Error> {
    let bad = || Error::InvalidArgument(format!("invalid host port: {text}"));
    if text.is_empty() {
        return Ok((0, 0));
    }
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_host_ip(text: &str) -> Result<Option<Ipv4Addr>, Error> {
    match text {
        "" | "0.0.0.0" => Ok(None),
        t => match t.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => Ok(Some(ip)),
            Ok(std::net::IpAddr::V6(_)) => Err(Error::InvalidArgument(format!(
                "publishing on IPv6 address {t} is not supported yet"
            ))),
            Err(_) => Err(Error::InvalidArgument(format!("invalid host IP: {t}"))),
        },
    }
}

/// Every port the container publishes: its bindings, then (with `-P`) its
/// other exposed ports on ephemeral host ports. IPv6 wildcard bindings
/// (`::`, which clients add beside `0.0.0.0`) are skipped.
pub fn requests(
    hc: &HostConfig,
    exposed: Option<&BTreeMap<String, Value>>,
) -> Result<Vec<PortRequest>, Error> {
    let mut out = Vec::new();
    for (key, bindings) in &hc.port_bindings {
        let (ctr_port, proto) = parse_port_key(key)?;
        let bindings = bindings.clone().unwrap_or_default();
        let bindings = if bindings.is_empty() {
            vec![Default::default()]
        } else {
            bindings
        };
        for b in bindings {
            if b.host_ip == "::" {
                continue;
            }
            out.push(PortRequest {
                proto,
                ctr_port,
                host_ip: parse_host_ip(&b.host_ip)?,
                host_ports: parse_host_ports(&b.host_port)?,
            });
        }
    }
    if hc.publish_all_ports {
        for key in exposed
            .map(|e| e.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let (ctr_port, proto) = parse_port_key(&key)?;
            if out
                .iter()
                .any(|r| r.ctr_port == ctr_port && r.proto == proto)
            {
                continue;
            }
            out.push(PortRequest {
                proto,
                ctr_port,
                host_ip: None,
                host_ports: (0, 0),
            });
        }
    }
    Ok(out)
}

/// Takes a host port for `req` through `host` (which binds, without
/// listening, a socket on it, so nothing else can take it while the
/// container runs; traffic never reaches it: the firewall rewrites it to
/// the container first): the first free one of its range, or one the
/// kernel picks.
pub fn reserve(host: &dyn NetworkHost, req: &PortRequest) -> Result<(Published, Hold), Error> {
    let ip = req.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let (lo, hi) = req.host_ports;
    let mut last = None;
    for port in lo..=hi {
        match host.hold_port(req.proto, ip, port) {
            Ok((fd, got)) => {
                let published = Published {
                    proto: req.proto.as_str().to_string(),
                    ctr_port: req.ctr_port,
                    host_ip: req.host_ip,
                    host_port: got,
                };
                return Ok((published, fd));
            }
            Err(e) => last = Some(e),
        }
    }
    let errno = last.unwrap_or_default();
    let wanted = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    };
    let why = if errno.is_empty() || errno.contains("in use") {
        format!("port is already allocated ({errno})")
    } else {
        errno
    };
    Err(Error::Conflict {
        message: format!(
            "driver failed programming external connectivity: Bind for {ip}:{wanted} failed: {why}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::container::PortBinding;
    use serde_json::json;

    fn hc(bindings: &[(&str, &[(&str, &str)])], all: bool) -> HostConfig {
        HostConfig {
            port_bindings: bindings
                .iter()
                .map(|(k, bs)| {
                    (
                        k.to_string(),
                        Some(
                            bs.iter()
                                .map(|(ip, port)| PortBinding {
                                    host_ip: ip.to_string(),
                                    host_port: port.to_string(),
                                })
                                .collect(),
                        ),
                    )
                })
                .collect(),
            publish_all_ports: all,
            ..Default::default()
        }
    }

    #[test]
    fn requests_from_bindings_and_publish_all() {
        let h = hc(
            &[
                ("80/tcp", &[("", "18080"), ("::", "18080")]),
                ("53/udp", &[("127.0.0.1", "")]),
                ("9000", &[("", "9000-9010")]),
            ],
            true,
        );
        let exposed = BTreeMap::from([
            ("80/tcp".to_string(), json!({})),
            ("443/tcp".to_string(), json!({})),
        ]);
        let r = requests(&h, Some(&exposed)).unwrap();
        assert_eq!(
            r,
            vec![
                PortRequest {
                    proto: Proto::Udp,
                    ctr_port: 53,
                    host_ip: Some(Ipv4Addr::LOCALHOST),
                    host_ports: (0, 0)
                },
                PortRequest {
                    proto: Proto::Tcp,
                    ctr_port: 80,
                    host_ip: None,
                    host_ports: (18080, 18080)
                },
                PortRequest {
                    proto: Proto::Tcp,
                    ctr_port: 9000,
                    host_ip: None,
                    host_ports: (9000, 9010)
                },
                PortRequest {
                    proto: Proto::Tcp,
                    ctr_port: 443,
                    host_ip: None,
                    host_ports: (0, 0)
                },
            ]
        );
        assert!(requests(&hc(&[("80/sctp", &[])], false), None).is_err());
        assert!(requests(&hc(&[("0/tcp", &[])], false), None).is_err());
        assert!(requests(&hc(&[("80/tcp", &[("", "90-80")])], false), None).is_err());
        assert!(requests(&hc(&[("80/tcp", &[("::1", "80")])], false), None)
            .unwrap_err()
            .to_string()
            .contains("IPv6"));
    }

    #[test]
    fn reserves_ports_and_reports_conflicts() {
        let eph = PortRequest {
            proto: Proto::Tcp,
            ctr_port: 80,
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_ports: (0, 0),
        };
        let host = super::super::host::FakeHost::default();
        let (p, _fd) = reserve(&host, &eph).unwrap();
        assert!(p.host_port > 0);
        let same = PortRequest {
            host_ports: (p.host_port, p.host_port),
            ..eph.clone()
        };
        let err = reserve(&host, &same).unwrap_err().to_string();
        assert!(err.contains("port is already allocated"), "{err}");
        let range = PortRequest {
            host_ports: (p.host_port, p.host_port.saturating_add(5)),
            ..eph
        };
        let (q, _fd2) = reserve(&host, &range).unwrap();
        drop(_fd);
        // Given back when dropped.
        reserve(&host, &same).unwrap();
        assert_ne!(q.host_port, p.host_port);
    }
}
