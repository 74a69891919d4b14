//! The filters of `GET /networks` and `POST /networks/prune`, with the
//! rules Docker's daemon applies: `name` and `id` as regular expressions,
//! `driver` and `scope` exact, every `label` term at once, `type` of
//! `builtin` or `custom`, `dangling` by whether containers use it.

use chrono::{DateTime, Utc};

use super::record::NetworkRecord;
use crate::filters::Args;
use crate::{time, Error};

#[derive(Debug)]
pub struct Filter {
    args: Args,
    /// `Some(true)`: unused custom networks only; `Some(false)`: the
    /// others.
    dangling: Option<bool>,
    until: Option<DateTime<Utc>>,
}

impl Filter {
    /// A list filter.
    pub fn list(args: Args) -> Result<Filter, Error> {
        args.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        Filter::new(args)
    }

    /// A prune filter: it selects only unused custom networks.
    pub fn prune(args: Args) -> Result<Filter, Error> {
        args.validate(&["label", "label!", "until"])?;
        let mut f = Filter::new(args)?;
        f.dangling = Some(true);
        Ok(f)
    }

    fn new(args: Args) -> Result<Filter, Error> {
        let dangling = args.dangling()?;
        if let Some(t) = args
            .get("type")
            .iter()
            .find(|t| !matches!(t.as_str(), "builtin" | "custom"))
        {
            return Err(Error::InvalidArgument(format!(
                "invalid filter: 'type'='{t}'"
            )));
        }
        let until = args.until()?;
        Ok(Filter {
            args,
            dangling,
            until,
        })
    }

    /// Whether network `n` (which containers use when `in_use`) passes.
    pub fn matches(&self, n: &NetworkRecord, in_use: bool) -> bool {
        let a = &self.args;
        let builtin = n.builtin();
        (!a.contains("driver") || a.exact("driver", n.driver.as_str()))
            && (!a.contains("name") || a.matches("name", &n.name))
            && (!a.contains("id") || a.matches("id", &n.id))
            && a.labels_match("label", &n.labels)
            && (!a.contains("label!") || !a.labels_match("label!", &n.labels))
            && (!a.contains("scope") || a.exact("scope", "local"))
            && self.dangling.is_none_or(|d| d == (!builtin && !in_use))
            && a.get("type")
                .first()
                .is_none_or(|t| (t == "builtin") == builtin)
            && self
                .until
                .is_none_or(|u| time::parse(&n.created).is_some_and(|c| c <= u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn net(
        name: &str,
        driver: &str,
        default_bridge: bool,
        labels: &[(&str, &str)],
    ) -> NetworkRecord {
        serde_json::from_value(serde_json::json!({
            "id": format!("{name}-0123456789abcdef"), "name": name, "driver": driver,
            "created": "2026-01-02T00:00:00Z", "internal": false, "attachable": false,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>(),
            "options": {}, "subnet": null, "gateway": null, "ip_range": null,
            "aux_addresses": {}, "bridge": "br0", "default_bridge": default_bridge,
        }))
        .expect("record")
    }

    fn args(pairs: &[(&str, &str)]) -> Args {
        Args::of(pairs)
    }

    #[test]
    fn dockers_network_filters() {
        let nets = [
            (net("bridge", "bridge", true, &[]), true),
            (net("host", "host", false, &[]), false),
            (
                net("front", "bridge", false, &[("env", "prod"), ("team", "a")]),
                true,
            ),
            (net("back", "bridge", false, &[("env", "dev")]), false),
        ];
        let names = |pairs: &[(&str, &str)]| -> Vec<&str> {
            let f = Filter::list(args(pairs)).expect("filter");
            nets.iter()
                .filter(|(n, used)| f.matches(n, *used))
                .map(|(n, _)| n.name.as_str())
                .collect()
        };
        assert_eq!(names(&[]), ["bridge", "host", "front", "back"]);
        assert_eq!(names(&[("name", "^b")]), ["bridge", "back"]);
        assert_eq!(names(&[("name", "ack")]), ["back"]);
        assert_eq!(names(&[("id", "ront-01")]), ["front"]);
        assert_eq!(names(&[("driver", "bridge")]), ["bridge", "front", "back"]);
        assert_eq!(names(&[("driver", "bri")]), Vec::<&str>::new());
        assert_eq!(names(&[("type", "custom")]), ["front", "back"]);
        assert_eq!(names(&[("type", "builtin")]), ["bridge", "host"]);
        assert_eq!(names(&[("dangling", "true")]), ["back"]);
        assert_eq!(names(&[("dangling", "0")]), ["bridge", "host", "front"]);
        assert_eq!(names(&[("label", "env")]), ["front", "back"]);
        assert_eq!(
            names(&[("label", "env=prod"), ("label", "team")]),
            ["front"]
        );
        assert_eq!(names(&[("scope", "local")]).len(), 4);
        assert!(names(&[("scope", "swarm")]).is_empty());
        let pruned = |pairs: &[(&str, &str)]| -> Vec<&str> {
            let f = Filter::prune(args(pairs)).expect("filter");
            nets.iter()
                .filter(|(n, used)| f.matches(n, *used))
                .map(|(n, _)| n.name.as_str())
                .collect()
        };
        assert_eq!(pruned(&[]), ["back"]);
        assert!(pruned(&[("label!", "env=dev")]).is_empty());
        assert!(pruned(&[("until", "2026-01-01T00:00:00Z")]).is_empty());
        assert_eq!(pruned(&[("until", "2026-01-03T00:00:00Z")]), ["back"]);
    }

    #[test]
    fn bad_network_filters() {
        let err = |pairs: &[(&str, &str)]| Filter::list(args(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("colour", "x")]), "invalid filter 'colour'");
        assert_eq!(err(&[("type", "fancy")]), "invalid filter: 'type'='fancy'");
        assert_eq!(
            err(&[("dangling", "yes")]),
            "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"
        );
        assert_eq!(
            Filter::prune(args(&[("driver", "bridge")]))
                .unwrap_err()
                .to_string(),
            "invalid filter 'driver'"
        );
    }
}
