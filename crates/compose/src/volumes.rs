//! A service's `volumes:` in both syntaxes: `[source:]target[:mode]` or the
//! long mapping. A source that is a path (`.`, `/`, `~`) is a bind mount,
//! a name a named volume, none an anonymous volume.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One mount of a service, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceVolume {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_host_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
    /// `enabled` (the default) is the only recursive mode here.
    #[serde(
        default,
        deserialize_with = "recursive",
        skip_serializing_if = "Option::is_none"
    )]
    pub recursive: Option<String>,
}

fn recursive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(m) if m != "enabled" => Err(D::Error::custom(format!(
            "bind recursive mode {m:?} is not supported yet"
        ))),
        other => Ok(other),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsOptions {
    #[serde(
        default,
        deserialize_with = "crate::de::bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<i64>,
}

fn is_path(s: &str) -> bool {
    s.starts_with('.') || s.starts_with('/') || s.starts_with('~')
}

/// Parses the short syntax.
pub fn parse_short(spec: &str) -> Result<ServiceVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] if t.starts_with('/') => (*s, *t, ""),
        [t, m] if t.starts_with('/') => ("", *t, *m),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(format!("invalid volume {spec:?}")),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "invalid volume {spec:?}: the target {target:?} is not an absolute path"
        ));
    }
    let mut v = ServiceVolume {
        kind: if source.is_empty() {
            "volume".into()
        } else if is_path(source) {
            "bind".into()
        } else {
            "volume".into()
        },
        source: source.to_string(),
        target: target.to_string(),
        read_only: false,
        bind: None,
        volume: None,
        tmpfs: None,
        consistency: None,
    };
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "nocopy" => v.volume.get_or_insert_with(Default::default).nocopy = true,
            "z" | "Z" => v.bind.get_or_insert_with(Default::default).selinux = Some(m.into()),
            "consistent" | "cached" | "delegated" => v.consistency = Some(m.into()),
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                v.bind.get_or_insert_with(Default::default).propagation = Some(m.into())
            }
            other => return Err(format!("invalid mode {other:?} in volume {spec:?}")),
        }
    }
    if v.kind == "bind" {
        v.bind.get_or_insert_with(Default::default).create_host_path = Some(true);
    }
    Ok(v)
}

/// `volumes:` of a service as a list of [`ServiceVolume`]s.
pub fn volumes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ServiceVolume>, D::Error> {
    let v = Value::deserialize(d)?;
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(D::Error::custom("must be a list")),
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::String(s) => parse_short(&s).map_err(D::Error::custom),
            Value::Object(_) => {
                let v: ServiceVolume = serde_json::from_value(i).map_err(D::Error::custom)?;
                if !matches!(v.kind.as_str(), "volume" | "bind" | "tmpfs") {
                    return Err(D::Error::custom(format!(
                        "volume type {:?} is not supported (volume, bind, tmpfs)",
                        v.kind
                    )));
                }
                if v.kind == "bind" && v.source.is_empty() {
                    return Err(D::Error::custom("a bind mount needs a source"));
                }
                Ok(v)
            }
            _ => Err(D::Error::custom("a volume is a string or a mapping")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_syntax() {
        let v = parse_short("data:/var/lib/data:ro").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.source.as_str(), v.read_only),
            ("volume", "data", true)
        );
        let v = parse_short("./src:/src").unwrap();
        assert_eq!((v.kind.as_str(), v.source.as_str()), ("bind", "./src"));
        let v = parse_short("/cache").unwrap();
        assert_eq!((v.kind.as_str(), v.source.as_str()), ("volume", ""));
        let v = parse_short("/host:/ctr:rw,rshared").unwrap();
        assert_eq!(v.bind.unwrap().propagation.as_deref(), Some("rshared"));
        assert!(parse_short("data:relative").is_err());
        assert!(parse_short("a:/b:bogus").is_err());
    }
}
