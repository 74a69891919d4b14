//! The network files a container sees, rendered from data (pure):
//! `/etc/hosts` and `/etc/resolv.conf`, with Docker's rules.

use std::net::IpAddr;

/// The lines every `/etc/hosts` starts with.
const HOSTS_HEADER: &str = "127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
";

/// `/etc/hosts`: the standard entries, `--add-host` entries (`name`, `ip`)
/// in order, then the container's own addresses (IPv4, then IPv6 on a
/// dual-stack network) with its names (its hostname and, when it differs,
/// the short one).
pub fn hosts(extra: &[(String, String)], own_ips: &[IpAddr], names: &[String]) -> String {
    let mut out = String::from(HOSTS_HEADER);
    for (name, ip) in extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    if !names.is_empty() {
        for ip in own_ips {
            out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
        }
    }
    out
}

/// What a host's `/etc/resolv.conf` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Reads resolv.conf text: `nameserver`, `search` (and `domain`), `options`.
    pub fn parse(text: &str) -> ResolvConf {
        let mut out = ResolvConf::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => out.nameservers.extend(words.next().map(str::to_string)),
                Some("search") | Some("domain") => {
                    out.search = words.map(str::to_string).collect();
                }
                Some("options") => out.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        out
    }

    /// The nameservers that are not on loopback: a container's loopback is
    /// its own, so the host's `127.0.0.53` would answer nothing there.
    pub fn without_loopback(&self) -> Vec<String> {
        self.nameservers
            .iter()
            .filter(|n| {
                !n.parse::<IpAddr>()
                    .map(|ip| ip.is_loopback())
                    .unwrap_or(false)
            })
            .cloned()
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.search.is_empty() {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        for n in &self.nameservers {
            out.push_str(&format!("nameserver {n}\n"));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

/// The public resolvers Docker falls back to when the host has only
/// loopback ones.
pub const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// `--dns`, `--dns-search`, `--dns-option`: each replaces the host's
/// value when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsOverrides {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// How the container reaches a resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// The host's nameservers, loopback ones dropped (the default bridge).
    Host,
    /// The host's file as it is (`--network host`).
    HostVerbatim,
    /// Berth's embedded server at this address (user networks).
    Embedded(IpAddr),
}

/// A container's `/etc/resolv.conf` from the host's and the overrides.
pub fn resolv_conf(host: &ResolvConf, resolver: &Resolver, o: &DnsOverrides) -> String {
    let mut conf = host.clone();
    conf.nameservers = match resolver {
        Resolver::Embedded(ip) => vec![ip.to_string()],
        _ if !o.servers.is_empty() => o.servers.clone(),
        Resolver::HostVerbatim => host.nameservers.clone(),
        Resolver::Host => {
            let kept = host.without_loopback();
            if kept.is_empty() {
                FALLBACK_NAMESERVERS.iter().map(|s| s.to_string()).collect()
            } else {
                kept
            }
        }
    };
    if !o.search.is_empty() {
        conf.search = if o.search == ["."] {
            Vec::new()
        } else {
            o.search.clone()
        };
    }
    if !o.options.is_empty() {
        conf.options = o.options.clone();
    }
    conf.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # office\noptions edns0 trust-ad\n";

    #[test]
    fn hosts_file() {
        let extra = vec![("db.local".to_string(), "10.1.2.3".to_string())];
        let names = vec!["abc123".to_string()];
        let text = hosts(&extra, &["172.17.0.2".parse().unwrap()], &names);
        assert_eq!(
            text,
            format!("{HOSTS_HEADER}10.1.2.3\tdb.local\n172.17.0.2\tabc123\n")
        );
        assert_eq!(hosts(&[], &[], &names), HOSTS_HEADER);
        let dual = hosts(
            &[],
            &["10.9.0.2".parse().unwrap(), "fd00:9::2".parse().unwrap()],
            &names,
        );
        assert_eq!(
            dual,
            format!("{HOSTS_HEADER}10.9.0.2\tabc123\nfd00:9::2\tabc123\n")
        );
    }

    #[test]
    fn resolv_for_each_mode() {
        let host = ResolvConf::parse(HOST);
        assert_eq!(host.nameservers, vec!["127.0.0.53", "10.0.0.2"]);
        let none = DnsOverrides::default();
        assert_eq!(
            resolv_conf(&host, &Resolver::Host, &none),
            "search corp.example\nnameserver 10.0.0.2\noptions edns0 trust-ad\n"
        );
        assert_eq!(
            resolv_conf(
                &host,
                &Resolver::Embedded("10.5.0.1".parse().unwrap()),
                &none
            ),
            "search corp.example\nnameserver 10.5.0.1\noptions edns0 trust-ad\n"
        );
        assert_eq!(
            resolv_conf(&host, &Resolver::HostVerbatim, &none),
            "search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0 trust-ad\n"
        );
        let only_loopback = ResolvConf::parse("nameserver 127.0.0.53\n");
        assert_eq!(
            resolv_conf(&only_loopback, &Resolver::Host, &none),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let o = DnsOverrides {
            servers: vec!["9.9.9.9".into()],
            search: vec!["a.example".into(), "b.example".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(&host, &Resolver::Host, &o),
            "search a.example b.example\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
        let dot = DnsOverrides {
            search: vec![".".into()],
            ..Default::default()
        };
        assert!(!resolv_conf(&host, &Resolver::Host, &dot).contains("search"));
    }
}
