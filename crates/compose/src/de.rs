//! Deserializers for the short and long syntaxes of compose fields: each
//! reads the field as written and returns its one normalized form.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A scalar as text (`8080`, `true`, `"x"`); `None` for null.
pub(crate) fn scalar_text(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::Bool(b) => Some(Some(b.to_string())),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn expected<E: serde::de::Error>(v: &Value, what: &str) -> E {
    E::custom(format!("must be {what}, not {}", kind(v)))
}

/// List items that are strings or numbers, as text.
fn strings<E: serde::de::Error>(items: &[Value]) -> Result<Vec<String>, E> {
    items
        .iter()
        .map(|i| match scalar_text(i) {
            Some(Some(s)) => Ok(s),
            _ => Err(expected(i, "a string")),
        })
        .collect()
}

/// A string or a number, as text.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(expected(&other, "a string or a number")),
    }
}

/// A string (shell-split) or a list of strings: `command`, `entrypoint`.
pub fn command<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        Value::String(s) => shell_words::split(&s)
            .map(Some)
            .map_err(|e| D::Error::custom(format!("cannot split {s:?}: {e}"))),
        Value::Array(items) => strings(&items).map(Some),
        other => Err(expected(&other, "a string or a list of strings")),
    }
}

/// A string or a list of strings (`dns`, `tmpfs`, `env_file` paths...).
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => strings(&items),
        other => Err(expected(&other, "a string or a list of strings")),
    }
}

/// A list of strings or numbers (`expose`, `cap_add`...).
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => strings(&items),
        other => Err(expected(&other, "a list")),
    }
}

/// A mapping or a list of `KEY=VALUE` (`environment`, `labels`, `args`,
/// `sysctls`); in the list form a bare `KEY` (and in the mapping a null)
/// has no value.
pub fn dict<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    let v = Value::deserialize(d)?;
    dict_of(&v).map_err(D::Error::custom)
}

pub(crate) fn dict_of(v: &Value) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, val) in m {
                match scalar_text(val) {
                    Some(t) => {
                        out.insert(k.clone(), t);
                    }
                    None => return Err(format!("{k} must be a string, number, boolean or null")),
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                let Some(Some(s)) = scalar_text(i) else {
                    return Err(format!("list items must be strings, not {}", kind(i)));
                };
                match s.split_once('=') {
                    Some((k, val)) => out.insert(k.to_string(), Some(val.to_string())),
                    None => out.insert(s, None),
                };
            }
        }
        other => {
            return Err(format!(
                "must be a mapping or a list of KEY=VALUE, not {}",
                kind(other)
            ))
        }
    }
    Ok(out)
}

/// Like [`dict`], with every key given a value (`labels`).
pub fn labels<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(dict(d)?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// A size in bytes: a number or `512m`, `1g`, `1.5GB`.
pub fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid size {n}"))),
        Value::String(s) => parse_bytes(s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid size {s:?}"))),
        other => Err(expected(other, "a size")),
    }
}

/// `512`, `64k`, `512m`, `1g`, `1.5gb` (binary units, as Docker's).
pub fn parse_bytes(s: &str) -> Option<i64> {
    berth_api::units::ram_in_bytes(s)
}

/// A number given as a number or as text, of the kind `what` names.
fn number<'de, D: Deserializer<'de>, T: std::str::FromStr>(
    d: D,
    what: &str,
    from_json: impl Fn(&serde_json::Number) -> Option<T>,
) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => from_json(n)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("must be {what}, not {n}"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("must be {what}, not {s:?}"))),
        other => Err(expected(other, what)),
    }
}

/// A number or a numeric string (`cpus: "0.5"`).
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    number(d, "a number", serde_json::Number::as_f64)
}

/// An integer or an integer string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    number(d, "an integer", serde_json::Number::as_i64)
}

/// A Go duration (`1m30s`), checked, kept as written.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) => berth_api::units::go_duration_ns(s)
            .map(|_| Some(s.clone()))
            .ok_or_else(|| D::Error::custom(format!("invalid duration {s:?}"))),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(Some("0s".into())),
        other => Err(expected(other, "a duration such as 30s")),
    }
}

/// `extra_hosts`: a list of `host:ip` / `host=ip`, or a mapping; always
/// `host:ip`.
pub fn extra_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Object(_) => Ok(dict_of(&v)
            .map_err(D::Error::custom)?
            .into_iter()
            .map(|(k, ip)| format!("{k}:{}", ip.unwrap_or_default()))
            .collect()),
        _ => {
            let items: Vec<String> = list(v).map_err(D::Error::custom)?;
            Ok(items
                .into_iter()
                .map(|h| match h.split_once('=') {
                    Some((k, ip)) if !k.contains(':') => format!("{k}:{ip}"),
                    _ => h,
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dicts_from_both_forms() {
        let m = dict_of(&json!({"A": 1, "B": null, "C": true})).unwrap();
        assert_eq!(m["A"].as_deref(), Some("1"));
        assert_eq!(m["B"], None);
        assert_eq!(m["C"].as_deref(), Some("true"));
        let l = dict_of(&json!(["A=1=2", "B", "C="])).unwrap();
        assert_eq!(l["A"].as_deref(), Some("1=2"));
        assert_eq!(l["B"], None);
        assert_eq!(l["C"].as_deref(), Some(""));
        assert!(dict_of(&json!("x")).unwrap_err().contains("not a string"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1.5GB"), Some(3 << 29));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("lots"), None);
    }
}
