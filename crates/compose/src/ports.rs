//! `ports:` in both syntaxes: `"[[host_ip:]published:]target[/protocol]"`
//! (ranges allowed, IPv6 host addresses in brackets), a bare number, or the
//! long mapping.

use berth_api::ports::{PortRange, PortSpec};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One published (or only exposed) port, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// The container port, or a range (`8000-8010`).
    #[serde(deserialize_with = "target", serialize_with = "port_number")]
    pub target: String,
    /// The host port or range; empty: an ephemeral port.
    #[serde(
        default,
        deserialize_with = "published",
        skip_serializing_if = "String::is_empty"
    )]
    pub published: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

/// A single port is written as a number (as `docker compose config`
/// does), a range as text.
fn port_number<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    match v.parse::<u16>() {
        Ok(n) => s.serialize_u16(n),
        Err(_) => s.serialize_str(v),
    }
}

fn tcp() -> String {
    "tcp".into()
}

fn target<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    crate::de::text(d)?.ok_or_else(|| D::Error::custom("target is required"))
}

fn published<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(crate::de::text(d)?.unwrap_or_default())
}

fn is_range(s: &str) -> bool {
    PortRange::parse(s).is_ok()
}

/// Parses the short syntax (Docker's grammar, [`berth_api::ports`]).
pub fn parse_short(spec: &str) -> Result<Port, String> {
    let p = PortSpec::parse(spec).map_err(|e| format!("invalid port {spec:?}: {e}"))?;
    Ok(Port {
        target: p.container.to_string(),
        published: p.host.map(|h| h.to_string()).unwrap_or_default(),
        host_ip: p.host_ip,
        protocol: p.proto,
        mode: None,
        name: None,
        app_protocol: None,
    })
}

/// `ports:` as a list of [`Port`]s.
pub fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Port>, D::Error> {
    let v = Value::deserialize(d)?;
    let Value::Array(items) = v else {
        return match v {
            Value::Null => Ok(Vec::new()),
            _ => Err(D::Error::custom("must be a list")),
        };
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::Number(n) => parse_short(&n.to_string()).map_err(D::Error::custom),
            Value::String(s) => parse_short(&s).map_err(D::Error::custom),
            Value::Object(_) => {
                let p: Port = serde_json::from_value(i).map_err(D::Error::custom)?;
                if !is_range(&p.target) || (!p.published.is_empty() && !is_range(&p.published)) {
                    return Err(D::Error::custom(format!(
                        "invalid port {}:{}",
                        p.published, p.target
                    )));
                }
                Ok(p)
            }
            _ => Err(D::Error::custom(
                "a port is a number, a string or a mapping",
            )),
        })
        .collect()
}

/// The ports of a range (`8000-8002`: three), or the one port; none for
/// text that is not a port or range.
pub fn expand(range: &str) -> Vec<u16> {
    PortRange::parse(range)
        .map(|r| r.ports().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, String, String) {
        let p = parse_short(s).unwrap();
        (p.host_ip, p.published, p.target, p.protocol)
    }

    #[test]
    fn short_syntax() {
        let s = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_string(), b.to_string(), c.to_string(), d.to_string())
        };
        assert_eq!(p("80"), s("", "", "80", "tcp"));
        assert_eq!(p("8080:80"), s("", "8080", "80", "tcp"));
        assert_eq!(
            p("127.0.0.1:18081:80"),
            s("127.0.0.1", "18081", "80", "tcp")
        );
        assert_eq!(p("127.0.0.1::80/udp"), s("127.0.0.1", "", "80", "udp"));
        assert_eq!(p("[::1]:8080:80"), s("::1", "8080", "80", "tcp"));
        assert_eq!(p("9000-9001:90-91"), s("", "9000-9001", "90-91", "tcp"));
        for bad in ["x", "80/icmp", "1:2:3:4", "70000", "a:80"] {
            assert!(parse_short(bad).is_err(), "{bad}");
        }
        assert_eq!(expand("90-92"), vec![90, 91, 92]);
        assert_eq!(expand("90"), vec![90]);
    }
}
