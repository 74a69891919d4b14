//! Docker's port grammar, one parser for `-p`/`--publish`, `--expose` and
//! compose's `ports:` short syntax: `[[host_ip:][host_port]:]container_port[/proto]`,
//! ports or ranges (`8000-8001`), IPv6 host addresses in brackets
//! (`[::1]:8080:80`), protocols `tcp` (the default), `udp` and `sctp`.
//! Errors use the docker CLI's words. Pure.

use std::fmt;

use crate::container::PortBinding;

/// One port or an inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    /// `80` or `8000-8010`; port 0 and reversed ranges are refused.
    pub fn parse(text: &str) -> Result<PortRange, String> {
        let bad = || format!("invalid port range: {text}");
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let start: u16 = a.parse().map_err(|_| bad())?;
        let end: u16 = b.parse().map_err(|_| bad())?;
        if start == 0 || end < start {
            return Err(bad());
        }
        Ok(PortRange { start, end })
    }

    /// How many ports past the first the range holds.
    pub fn span(&self) -> u16 {
        self.end - self.start
    }

    pub fn ports(&self) -> std::ops::RangeInclusive<u16> {
        self.start..=self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One parsed port specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The host address to bind, without brackets; empty: every address.
    pub host_ip: String,
    /// The host port(s); `None`: ephemeral ports.
    pub host: Option<PortRange>,
    pub container: PortRange,
    /// `tcp`, `udp` or `sctp`.
    pub proto: String,
}

impl PortSpec {
    /// Parses `[[host_ip:][host_port]:]container_port[/proto]`.
    pub fn parse(spec: &str) -> Result<PortSpec, String> {
        let (rest, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(format!("invalid proto: {proto}"));
        }
        let (host_ip, rest) = if let Some(stripped) = rest.strip_prefix('[') {
            let (ip, after) = stripped
                .split_once("]:")
                .ok_or_else(|| format!("invalid IP address in {spec}"))?;
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("invalid IP address: {ip}"));
            }
            (ip.to_string(), after)
        } else {
            match rest.matches(':').count() {
                0 | 1 => (String::new(), rest),
                2 => {
                    let (ip, after) = rest.split_once(':').unwrap_or(("", rest));
                    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
                        return Err(format!("invalid IP address: {ip}"));
                    }
                    (ip.to_string(), after)
                }
                _ => return Err(format!("invalid port specification: {spec}")),
            }
        };
        let (host, container) = match rest.split_once(':') {
            Some((h, c)) => (h, c),
            None => ("", rest),
        };
        let container = PortRange::parse(container)?;
        let host = match host {
            "" => None,
            h => Some(PortRange::parse(h)?),
        };
        if let Some(h) = host {
            if container.span() > 0 && h.span() != container.span() {
                return Err(format!(
                    "invalid ranges specified for container and host ports: {spec}"
                ));
            }
        }
        Ok(PortSpec {
            host_ip,
            host,
            container,
            proto: proto.to_string(),
        })
    }

    /// The spec as `("80/tcp", binding)` pairs, one per container port, as
    /// the docker CLI puts them in `PortBindings`: a host range for one
    /// container port stays a range (the daemon picks a free port in it);
    /// equal ranges pair up port by port.
    pub fn bindings(&self) -> Vec<(String, PortBinding)> {
        let host_port = |i: u16| match self.host {
            None => String::new(),
            Some(h) if self.container.span() == 0 => h.to_string(),
            Some(h) => (h.start + i).to_string(),
        };
        self.container
            .ports()
            .enumerate()
            .map(|(i, c)| {
                (
                    format!("{c}/{}", self.proto),
                    PortBinding {
                        host_ip: self.host_ip.clone(),
                        host_port: host_port(i as u16),
                    },
                )
            })
            .collect()
    }
}

/// `--expose 80`, `--expose 7000-7002/udp` as port keys (`80/tcp`).
pub fn parse_expose(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let range = PortRange::parse(ports)?;
    Ok(range.ports().map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> (String, String, String, String) {
        let p = PortSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let host = p.host.map(|h| h.to_string()).unwrap_or_default();
        (p.host_ip, host, p.container.to_string(), p.proto)
    }

    fn t(a: &str, b: &str, c: &str, d: &str) -> (String, String, String, String) {
        (a.into(), b.into(), c.into(), d.into())
    }

    #[test]
    fn the_grammar() {
        assert_eq!(spec("80"), t("", "", "80", "tcp"));
        assert_eq!(spec("8080:80"), t("", "8080", "80", "tcp"));
        assert_eq!(spec(":80"), t("", "", "80", "tcp"));
        assert_eq!(
            spec("127.0.0.1:18081:80"),
            t("127.0.0.1", "18081", "80", "tcp")
        );
        assert_eq!(spec("127.0.0.1::80/udp"), t("127.0.0.1", "", "80", "udp"));
        assert_eq!(spec("[::1]:8080:80"), t("::1", "8080", "80", "tcp"));
        assert_eq!(spec("[::1]::80/sctp"), t("::1", "", "80", "sctp"));
        assert_eq!(spec("9000-9001:90-91"), t("", "9000-9001", "90-91", "tcp"));
        assert_eq!(spec("9000-9009:90"), t("", "9000-9009", "90", "tcp"));
    }

    #[test]
    fn errors_in_the_docker_clis_words() {
        let err = |s: &str| PortSpec::parse(s).unwrap_err();
        assert_eq!(err("80/icmp"), "invalid proto: icmp");
        assert_eq!(err("x"), "invalid port range: x");
        assert_eq!(err("70000"), "invalid port range: 70000");
        assert_eq!(err("0"), "invalid port range: 0");
        assert_eq!(err("91-90"), "invalid port range: 91-90");
        assert_eq!(err("a:80"), "invalid port range: a");
        assert_eq!(err("1:2:3:4"), "invalid port specification: 1:2:3:4");
        assert_eq!(err("300.1.1.1:80:80"), "invalid IP address: 300.1.1.1");
        assert_eq!(err("[::1:80:80"), "invalid IP address in [::1:80:80");
        assert_eq!(err("[1.2.3.4]:80:80"), "invalid IP address: 1.2.3.4");
        assert_eq!(
            err("9000-9002:90-91"),
            "invalid ranges specified for container and host ports: 9000-9002:90-91"
        );
    }

    #[test]
    fn bindings_as_the_docker_cli_makes_them() {
        let keys = |s: &str| -> Vec<(String, String, String)> {
            PortSpec::parse(s)
                .unwrap()
                .bindings()
                .into_iter()
                .map(|(k, b)| (k, b.host_ip, b.host_port))
                .collect()
        };
        let b = |k: &str, ip: &str, p: &str| (k.to_string(), ip.to_string(), p.to_string());
        assert_eq!(keys("80"), [b("80/tcp", "", "")]);
        assert_eq!(
            keys("127.0.0.1:8080:80/udp"),
            [b("80/udp", "127.0.0.1", "8080")]
        );
        assert_eq!(
            keys("8000-8001:80-81"),
            [b("80/tcp", "", "8000"), b("81/tcp", "", "8001")]
        );
        assert_eq!(keys("8000-8009:80"), [b("80/tcp", "", "8000-8009")]);
        assert_eq!(keys("80-81"), [b("80/tcp", "", ""), b("81/tcp", "", "")]);
    }

    #[test]
    fn expose() {
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(
            parse_expose("7000-7001/udp").unwrap(),
            ["7000/udp", "7001/udp"]
        );
        assert_eq!(parse_expose("80/icmp").unwrap_err(), "invalid proto: icmp");
    }
}
