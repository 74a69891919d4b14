//! The `filters` argument of Docker's list and prune endpoints, with the
//! matching rules its daemon applies to each kind of filter: regular
//! expressions for names, exact values for drivers, every `label` term at
//! once, booleans given as `true`/`1`/`false`/`0`, and times as
//! [`crate::time::parse_docker`] reads them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::Error;

/// A name to value map of labels, whichever map type holds them.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// One request's filters: each key with its values, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    fields: BTreeMap<String, Vec<String>>,
}

impl From<&HashMap<String, Vec<String>>> for Args {
    fn from(m: &HashMap<String, Vec<String>>) -> Self {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, vs) in m {
            let mut vs = vs.clone();
            vs.sort();
            vs.dedup();
            fields.insert(k.clone(), vs);
        }
        Args { fields }
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

impl Args {
    /// Docker's `invalid filter 'k'` for any key outside `accepted`.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), Error> {
        match self.fields.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.fields.get(key).map_or(&[], Vec::as_slice)
    }

    /// Filters from `key`, `value` pairs (tests build them so).
    #[cfg(test)]
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Args {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Args::from(&m)
    }

    /// Adds a term, as Docker's prune adds one for anonymous volumes.
    pub fn add(&mut self, key: &str, value: &str) {
        let vs = self.fields.entry(key.to_string()).or_default();
        if !vs.iter().any(|v| v == value) {
            vs.push(value.to_string());
        }
    }

    /// True when `source` equals one of the values or one of them, as a
    /// regular expression, matches somewhere in it (values that are not
    /// valid expressions match only exactly).
    pub fn matches(&self, key: &str, source: &str) -> bool {
        self.get(key)
            .iter()
            .any(|v| v == source || pattern(v).is_ok_and(|re| re.is_match(source)))
    }

    /// True when `source` equals one of the values.
    pub fn exact(&self, key: &str, source: &str) -> bool {
        self.get(key).iter().any(|v| v == source)
    }

    /// True when every `k` or `k=v` term under `key` holds in `labels`
    /// (and when there is none).
    pub fn labels_match(&self, key: &str, labels: &dyn Labels) -> bool {
        self.get(key).iter().all(|t| match t.split_once('=') {
            Some((k, v)) => labels.label(k) == Some(v),
            None => labels.label(t).is_some(),
        })
    }

    /// `label` holds and `label!` does not: the pair Docker's prune takes.
    pub fn labels_select(&self, labels: &dyn Labels) -> bool {
        self.labels_match("label", labels)
            && (!self.contains("label!") || !self.labels_match("label!", labels))
    }

    /// A boolean filter: absent gives `default`; `true`/`1` or
    /// `false`/`0`, not both, otherwise Docker's invalid filter error.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, Error> {
        let Some(vs) = self.fields.get(key) else {
            return Ok(default);
        };
        let is = |a: &str, b: &str| vs.iter().any(|v| v == a || v == b);
        let (t, f) = (is("true", "1"), is("false", "0"));
        if t == f {
            return Err(invalid(if vs.is_empty() {
                format!("invalid filter '{key}'")
            } else {
                format!("invalid filter '{key}=[{}]'", vs.join(" "))
            }));
        }
        Ok(t)
    }

    /// A single boolean with Docker's message for networks and volumes'
    /// `dangling`.
    pub fn dangling(&self) -> Result<Option<bool>, Error> {
        let vs = self.get("dangling");
        match vs {
            [] => Ok(None),
            [v] => match v.as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(invalid(
                    "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")".into(),
                )),
            },
            _ => Err(invalid(
                "got more than one value for filter key \"dangling\"".into(),
            )),
        }
    }

    /// The single `until` time of a prune, if given.
    pub fn until(&self) -> Result<Option<DateTime<Utc>>, Error> {
        match self.get("until") {
            [] => Ok(None),
            [v] => crate::time::parse_docker(v).map(Some).map_err(invalid),
            _ => Err(invalid("more than one until filter specified".into())),
        }
    }
}

/// Nesting and compiled-size limits for the regular expressions clients send
/// in filters: the regex compiler recurses once per nested group or
/// repetition, and the crate's own nesting limit still lets a 2 KiB pattern
/// such as `a` followed by a thousand `?` overflow a 2 MiB worker stack.
const PATTERN_NEST_LIMIT: u32 = 64;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a client's filter value (`name=^web`) as a regular expression,
/// within [`PATTERN_NEST_LIMIT`] and [`PATTERN_SIZE_LIMIT`].
pub fn pattern(value: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(value)
        .nest_limit(PATTERN_NEST_LIMIT)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Args {
        Args::of(pairs)
    }

    #[test]
    fn deeply_nested_patterns_are_refused_not_compiled() {
        // `a` then 2,000 `?` compiled recursively and overflowed a 2 MiB
        // stack (found by the api_request fuzz target through `name=`).
        let hostile = format!("a{}", "?".repeat(2000));
        let nested = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let a = args(&[("name", &hostile)]);
                (
                    pattern(&hostile).is_err(),
                    pattern(&nested).is_err(),
                    a.matches("name", "a"),
                    a.matches("name", &hostile),
                    pattern(&format!("{}a{}", "(".repeat(20), ")".repeat(20))).is_ok(),
                )
            })
            .expect("spawning the test thread")
            .join()
            .expect("the test thread finished");
        assert_eq!(outcome, (true, true, false, true, true));
        assert!(pattern("x{1000}{1000}").is_err(), "size limit");
    }

    #[test]
    fn matching_rules() {
        let a = args(&[("name", "^web"), ("name", "[")]);
        assert!(a.matches("name", "web-1"));
        assert!(
            a.matches("name", "["),
            "an invalid expression still matches exactly"
        );
        assert!(!a.matches("name", "db-web"));
        assert!(!a.exact("name", "web-1"));
        let labels: HashMap<String, String> = [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "".to_string()),
        ]
        .into();
        assert!(args(&[("label", "a=1"), ("label", "b")]).labels_match("label", &labels));
        assert!(!args(&[("label", "a=1"), ("label", "c")]).labels_match("label", &labels));
        assert!(!args(&[("label", "a=2")]).labels_match("label", &labels));
        assert!(args(&[]).labels_select(&labels));
        assert!(!args(&[("label!", "a")]).labels_select(&labels));
        assert!(args(&[("label!", "a=2")]).labels_select(&labels));
    }

    #[test]
    fn validation_texts() {
        let err = |r: Result<bool, Error>| r.unwrap_err().to_string();
        assert_eq!(
            args(&[("colour", "red")])
                .validate(&["name"])
                .unwrap_err()
                .to_string(),
            "invalid filter 'colour'"
        );
        assert!(args(&[("dangling", "1")])
            .bool_or("dangling", false)
            .unwrap());
        assert!(!args(&[]).bool_or("dangling", false).unwrap());
        assert_eq!(
            err(args(&[("dangling", "maybe")]).bool_or("dangling", false)),
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(
            err(args(&[("dangling", "true"), ("dangling", "0")]).bool_or("dangling", false)),
            "invalid filter 'dangling=[0 true]'"
        );
        assert_eq!(
            args(&[("dangling", "yes")]).dangling().unwrap_err().to_string(),
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"
        );
        assert_eq!(args(&[("dangling", "0")]).dangling().unwrap(), Some(false));
        assert!(args(&[("until", "1h"), ("until", "2h")]).until().is_err());
        assert!(args(&[("until", "1h")]).until().unwrap().is_some());
    }
}
