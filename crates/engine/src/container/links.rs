//! Legacy container links (`--link name:alias`, `HostConfig.Links`) on the
//! default bridge, as Docker makes them: the linked container's address in
//! `/etc/hosts` under the alias, its id and name, and the `ALIAS_*`
//! environment (`ALIAS_NAME`, `ALIAS_PORT_80_TCP...`, `ALIAS_ENV_*`). On a
//! user network a link is a name only the linking container resolves (see
//! the embedded DNS). Links are recorded in Docker's form
//! `/target:/container/alias`; the pure parts are here.

use std::net::Ipv4Addr;

use crate::Error;

/// One link: the linked container's name and the alias it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

impl Link {
    /// `name`, `name:alias`, or the recorded `/name:/container/alias`.
    pub fn parse(text: &str) -> Result<Link, Error> {
        let (target, alias) = match text.split_once(':') {
            Some((t, a)) => (t, a.rsplit('/').next().unwrap_or(a)),
            None => (text, text),
        };
        let target = target.trim_start_matches('/');
        let alias = alias.trim_start_matches('/');
        if target.is_empty() || alias.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "invalid link {text:?}: use NAME or NAME:ALIAS"
            )));
        }
        Ok(Link {
            target: target.to_string(),
            alias: alias.to_string(),
        })
    }

    /// Docker's recorded form, for container `owner`.
    pub fn recorded(&self, owner: &str) -> String {
        format!("/{}:/{owner}/{}", self.target, self.alias)
    }
}

/// What a link needs of the linked container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub id: String,
    pub name: String,
    pub ip: Ipv4Addr,
    /// Exposed ports as `80/tcp`.
    pub exposed: Vec<String>,
    /// Its `Config.Env`.
    pub env: Vec<String>,
}

/// The environment one link gives the linking container `owner`, in
/// Docker's order and names.
pub fn link_env(owner: &str, alias: &str, t: &LinkTarget) -> Vec<String> {
    let prefix = alias.to_ascii_uppercase().replace('-', "_");
    let mut out = vec![format!("{prefix}_NAME=/{owner}/{alias}")];
    let mut ports: Vec<(u32, String)> = t
        .exposed
        .iter()
        .filter_map(|p| {
            let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some((n.parse().ok()?, proto.to_string()))
        })
        .collect();
    ports.sort();
    if let Some((n, proto)) = ports.first() {
        out.push(format!("{prefix}_PORT={proto}://{}:{n}", t.ip));
    }
    for (n, proto) in &ports {
        let p = format!("{prefix}_PORT_{n}_{}", proto.to_ascii_uppercase());
        out.push(format!("{p}={proto}://{}:{n}", t.ip));
        out.push(format!("{p}_ADDR={}", t.ip));
        out.push(format!("{p}_PORT={n}"));
        out.push(format!("{p}_PROTO={proto}"));
    }
    for e in &t.env {
        let Some((name, value)) = e.split_once('=') else {
            continue;
        };
        if name == "HOME" || name == "PATH" {
            continue;
        }
        out.push(format!("{prefix}_ENV_{name}={value}"));
    }
    out
}

/// The `/etc/hosts` names of a link's line: the alias, the short id, the
/// name (as Docker writes them).
pub fn hosts_names(alias: &str, t: &LinkTarget) -> String {
    let short = &t.id[..t.id.len().min(12)];
    let mut names = vec![alias.to_string(), short.to_string()];
    if t.name != alias {
        names.push(t.name.clone());
    }
    names.join(" ")
}

impl super::ContainerService {
    /// Checks a create request's links (each linked container must exist)
    /// and gives them in Docker's recorded form for container `owner`.
    pub(super) fn record_links(
        &self,
        owner: &str,
        hc: &berth_api::container::HostConfig,
    ) -> Result<Vec<String>, Error> {
        if hc.links.is_empty() {
            return Ok(Vec::new());
        }
        if super::network_mode::mode(hc) != super::network_mode::Mode::Networks {
            return Err(Error::InvalidArgument(format!(
                "conflicting options: links cannot be used with network mode {}",
                hc.network_mode
            )));
        }
        hc.links
            .iter()
            .map(|text| {
                let link = Link::parse(text)?;
                self.get(&link.target).map_err(|_| Error::PathNotFound {
                    message: format!(
                        "could not get container for {}: No such container: {}",
                        link.target, link.target
                    ),
                })?;
                Ok(link.recorded(owner))
            })
            .collect()
    }

    /// The linked containers of a container that starts on the default
    /// bridge, with what its links need of them; they must be running.
    pub(super) fn link_targets(
        &self,
        rec: &super::ContainerRecord,
    ) -> Result<Vec<(Link, LinkTarget)>, Error> {
        let on_bridge = rec
            .endpoints
            .first()
            .is_some_and(|e| e.network_name == "bridge");
        if rec.host_config.links.is_empty() || !on_bridge {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for text in &rec.host_config.links {
            let link = Link::parse(text)?;
            let not_running = || {
                Error::InvalidArgument(format!(
                    "Cannot link to a non running container: /{} AS /{}/{}",
                    link.target, rec.name, link.alias
                ))
            };
            let target = self.get(&link.target).map_err(|_| not_running())?.record();
            if !target.status.is_running() {
                return Err(not_running());
            }
            let ip = target
                .endpoints
                .iter()
                .find(|e| e.network_name == "bridge")
                .and_then(|e| e.ip)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        link.target
                    ))
                })?;
            let exposed = target
                .config
                .exposed_ports
                .as_ref()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            out.push((
                link,
                LinkTarget {
                    id: target.id.clone(),
                    name: target.name.clone(),
                    ip,
                    exposed,
                    env: target.config.env.clone(),
                },
            ));
        }
        Ok(out)
    }

    /// `DELETE /containers/{owner}/{alias}?link=1`: forgets the link.
    pub fn remove_link(&self, owner: &str, alias: &str) -> Result<(), Error> {
        let c = self.get(owner)?;
        let rec = c.record();
        let before = rec.host_config.links.len();
        let keep: Vec<String> = rec
            .host_config
            .links
            .iter()
            .filter(|l| Link::parse(l).map(|l| l.alias != alias).unwrap_or(true))
            .cloned()
            .collect();
        if keep.len() == before {
            return Err(Error::NoSuchContainer(format!("{owner}/{alias}")));
        }
        c.update(false, |r| r.host_config.links = keep)?;
        Ok(())
    }

    /// `/linker/alias` names other containers' links give `rec` (what
    /// Docker lists under `Names`).
    pub(super) fn link_names(&self, rec: &super::ContainerRecord) -> Vec<String> {
        let mut out: Vec<String> = self
            .table()
            .by_id
            .values()
            .map(|c| c.record())
            .flat_map(|other| {
                other
                    .host_config
                    .links
                    .iter()
                    .filter_map(|l| Link::parse(l).ok())
                    .filter(|l| l.target == rec.name || l.target == rec.id)
                    .map(|l| format!("/{}/{}", other.name, l.alias))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let l = Link::parse("db:store").unwrap();
        assert_eq!((l.target.as_str(), l.alias.as_str()), ("db", "store"));
        assert_eq!(l.recorded("web"), "/db:/web/store");
        assert_eq!(Link::parse("/db:/web/store").unwrap(), l);
        let same = Link::parse("db").unwrap();
        assert_eq!(same.alias, "db");
        assert!(Link::parse(":x").is_err());
    }

    #[test]
    fn dockers_environment_and_hosts_line() {
        let t = LinkTarget {
            id: "0123456789abcdef".into(),
            name: "db".into(),
            ip: Ipv4Addr::new(172, 17, 0, 5),
            exposed: vec!["6379/tcp".into(), "53/udp".into()],
            env: vec!["PATH=/bin".into(), "FOO=1".into(), "HOME=/root".into()],
        };
        assert_eq!(
            link_env("web", "my-db", &t),
            vec![
                "MY_DB_NAME=/web/my-db",
                "MY_DB_PORT=udp://172.17.0.5:53",
                "MY_DB_PORT_53_UDP=udp://172.17.0.5:53",
                "MY_DB_PORT_53_UDP_ADDR=172.17.0.5",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_6379_TCP=tcp://172.17.0.5:6379",
                "MY_DB_PORT_6379_TCP_ADDR=172.17.0.5",
                "MY_DB_PORT_6379_TCP_PORT=6379",
                "MY_DB_PORT_6379_TCP_PROTO=tcp",
                "MY_DB_ENV_FOO=1",
            ]
        );
        assert_eq!(hosts_names("my-db", &t), "my-db 0123456789ab db");
        assert_eq!(hosts_names("db", &t), "db 0123456789ab");
    }
}
