//! `GET /images/json` as Docker's daemon answers it: which images show,
//! under which names, for the `all` flag and every documented filter
//! (`dangling`, `label`, `before`, `since`, `reference`, `until`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use berth_image::{ImageInfo, Reference};

use crate::filters::Args;
use crate::{time, Error};

const ACCEPTED: &[&str] = &["dangling", "label", "before", "since", "reference", "until"];

/// A parsed image list filter.
#[derive(Debug)]
pub struct Filter {
    args: Args,
    dangling_only: bool,
    /// Created strictly before this (the oldest of `before` and `until`).
    before: Option<DateTime<Utc>>,
    /// Created strictly after this (the newest `since`).
    since: Option<DateTime<Utc>>,
}

fn created(i: &ImageInfo) -> Option<DateTime<Utc>> {
    i.created.as_deref().and_then(time::parse)
}

impl Filter {
    /// Checks `args` as Docker does; `image` looks up the images `before`
    /// and `since` name.
    pub fn parse(
        args: Args,
        image: &dyn Fn(&str) -> Result<ImageInfo, Error>,
    ) -> Result<Filter, Error> {
        args.validate(ACCEPTED)?;
        let dangling_only = args.bool_or("dangling", false)?;
        for pattern in args.get("reference") {
            if !glob::valid(pattern) {
                return Err(Error::InvalidArgument("syntax error in pattern".into()));
            }
        }
        let oldest = |a: Option<DateTime<Utc>>, b: DateTime<Utc>| Some(a.map_or(b, |a| a.min(b)));
        let mut before = None;
        for name in args.get("before") {
            if let Some(t) = created(&image(name)?) {
                before = oldest(before, t);
            }
        }
        for v in args.get("until") {
            let t = time::parse_docker(v).map_err(|e| {
                Error::InvalidArgument(format!("invalid value for 'until' filter: {e}"))
            })?;
            before = oldest(before, t);
        }
        let mut since: Option<DateTime<Utc>> = None;
        for name in args.get("since") {
            if let Some(t) = created(&image(name)?) {
                since = Some(since.map_or(t, |s| s.max(t)));
            }
        }
        Ok(Filter {
            args,
            dangling_only,
            before,
            since,
        })
    }

    /// True when `name` (a familiar tag or digest reference) matches a
    /// `reference` pattern, in any of the forms Docker compares.
    fn reference_matches(&self, name: &str) -> bool {
        let Ok(r) = Reference::parse_normalized(name) else {
            return false;
        };
        let mut full = r.name();
        if let Some(t) = r.tag() {
            full = format!("{full}:{t}");
        }
        let targets = [r.familiar(), r.familiar_name(), full, r.name()];
        self.args
            .get("reference")
            .iter()
            .any(|p| targets.iter().any(|t| glob::matches(p, t)))
    }

    /// The images to list, each with only the names the filter lets
    /// through, newest first.
    pub fn select(&self, images: &[ImageInfo], all: bool) -> Vec<ImageInfo> {
        let parents: HashSet<&str> = images
            .iter()
            .map(|i| i.parent.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        let by_reference = self.args.contains("reference");
        let mut out: Vec<ImageInfo> = images
            .iter()
            .filter_map(|i| {
                let has_children = parents.contains(i.id.as_str());
                if self.dangling_only && has_children {
                    return None;
                }
                let when = created(i);
                if self.before.is_some_and(|b| when.is_none_or(|c| c >= b))
                    || self.since.is_some_and(|s| when.is_none_or(|c| c <= s))
                    || !self.args.labels_match("label", &i.labels)
                {
                    return None;
                }
                let mut i = i.clone();
                if by_reference {
                    i.repo_tags.retain(|t| self.reference_matches(t));
                    i.repo_digests.retain(|d| self.reference_matches(d));
                }
                if i.repo_tags.is_empty() && i.repo_digests.is_empty() {
                    // `dangling=false` hides them, so does a reference.
                    let hidden_by_filter =
                        by_reference || (self.args.contains("dangling") && !self.dangling_only);
                    let shown = (all || !has_children) && !hidden_by_filter;
                    return shown.then_some(i);
                }
                if self.dangling_only && !i.repo_tags.is_empty() {
                    return None;
                }
                Some(i)
            })
            .collect();
        out.sort_by(|a, b| created(b).cmp(&created(a)).then(a.id.cmp(&b.id)));
        out
    }
}

/// Go's `path.Match`: `*` is any run of characters but `/`, `?` one such
/// character, `[...]` a class (`^` negates, `a-z` ranges), `\` escapes.
mod glob {
    pub fn valid(pattern: &str) -> bool {
        // A pattern is well formed when it can be matched to the end.
        let p: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                '\\' => {
                    if i + 1 >= p.len() {
                        return false;
                    }
                    i += 2;
                }
                '[' => match class(&p[i..], None) {
                    Some((_, used)) => i += used,
                    None => return false,
                },
                _ => i += 1,
            }
        }
        true
    }

    /// Reads the class at the start of `p`; with `c`, whether it matches.
    /// Returns the match and the characters the class took.
    fn class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
        let mut i = 1;
        let negate = p.get(i) == Some(&'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let ch = *p.get(i)?;
            if ch == ']' && !first {
                i += 1;
                break;
            }
            first = false;
            let lo = if ch == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                ch
            };
            i += 1;
            let mut hi = lo;
            if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&n| n != ']') {
                i += 1;
                hi = if p[i] == '\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    p[i]
                };
                i += 1;
            }
            if c.is_some_and(|c| lo <= c && c <= hi) {
                matched = true;
            }
        }
        Some((matched != negate, i))
    }

    pub fn matches(pattern: &str, text: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        m(&p, &t)
    }

    fn m(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| m(&p[1..], &t[i..])),
            Some('?') => t.first().is_some_and(|&c| c != '/') && m(&p[1..], &t[1..]),
            Some('[') => match t.first() {
                Some(&c) if c != '/' => match class(p, Some(c)) {
                    Some((true, used)) => m(&p[used..], &t[1..]),
                    _ => false,
                },
                _ => false,
            },
            Some('\\') => p.get(1).is_some_and(|&e| t.first() == Some(&e)) && m(&p[2..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && m(&p[1..], &t[1..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn img(
        id: &str,
        created: &str,
        tags: &[&str],
        parent: &str,
        labels: &[(&str, &str)],
    ) -> ImageInfo {
        ImageInfo {
            id: id.into(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: Vec::new(),
            created: Some(created.into()),
            size: 1,
            layers: Vec::new(),
            parent: parent.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn images() -> Vec<ImageInfo> {
        vec![
            img(
                "sha256:base",
                "2026-01-01T00:00:00Z",
                &["busybox:latest"],
                "",
                &[],
            ),
            img(
                "sha256:step",
                "2026-01-02T00:00:00Z",
                &[],
                "sha256:base",
                &[],
            ),
            img(
                "sha256:app",
                "2026-01-03T00:00:00Z",
                &["app:1", "localhost:5000/app:1"],
                "sha256:step",
                &[("tier", "web")],
            ),
            img(
                "sha256:old",
                "2026-01-04T00:00:00Z",
                &[],
                "",
                &[("tier", "db")],
            ),
        ]
    }

    fn select(pairs: &[(&str, &str)], all: bool) -> Result<Vec<String>, Error> {
        let imgs = images();
        let find = |name: &str| {
            imgs.iter()
                .find(|i| i.id == name || i.repo_tags.iter().any(|t| t == name))
                .cloned()
                .ok_or_else(|| Error::InvalidArgument(format!("No such image: {name}")))
        };
        let f = Filter::parse(Args::of(pairs), &find)?;
        Ok(f.select(&imgs, all)
            .iter()
            .map(|i| {
                let names = i.repo_tags.join(",");
                format!("{}[{names}]", i.id.trim_start_matches("sha256:"))
            })
            .collect())
    }

    #[test]
    fn dockers_image_filters() {
        let ok = |pairs: &[(&str, &str)], all: bool| select(pairs, all).expect("filter");
        assert_eq!(
            ok(&[], false),
            [
                "old[]",
                "app[app:1,localhost:5000/app:1]",
                "base[busybox:latest]"
            ]
        );
        assert_eq!(ok(&[], true).len(), 4, "all shows intermediate steps");
        assert_eq!(ok(&[("dangling", "true")], false), ["old[]"]);
        assert_eq!(ok(&[("dangling", "true")], true), ["old[]"]);
        assert_eq!(
            ok(&[("dangling", "false")], true),
            ["app[app:1,localhost:5000/app:1]", "base[busybox:latest]"]
        );
        assert_eq!(
            ok(&[("label", "tier")], false),
            ["old[]", "app[app:1,localhost:5000/app:1]"]
        );
        assert_eq!(
            ok(&[("label", "tier=web")], false),
            ["app[app:1,localhost:5000/app:1]"]
        );
        assert_eq!(ok(&[("before", "app:1")], false), ["base[busybox:latest]"]);
        assert_eq!(
            ok(&[("since", "busybox:latest")], false),
            ["old[]", "app[app:1,localhost:5000/app:1]"]
        );
        assert_eq!(
            ok(&[("until", "2026-01-02T12:00:00Z")], false),
            ["base[busybox:latest]"]
        );
        assert_eq!(ok(&[("reference", "app")], false), ["app[app:1]"]);
        assert_eq!(
            ok(&[("reference", "*/app:*")], false),
            ["app[localhost:5000/app:1]"]
        );
        assert_eq!(
            ok(&[("reference", "docker.io/library/busybox")], false),
            ["base[busybox:latest]"]
        );
        assert_eq!(
            ok(&[("reference", "busy?ox:[a-m]*")], false),
            ["base[busybox:latest]"]
        );
        assert!(ok(&[("reference", "nothing")], false).is_empty());
    }

    #[test]
    fn bad_image_filters() {
        let err = |pairs: &[(&str, &str)]| select(pairs, false).unwrap_err().to_string();
        assert_eq!(err(&[("colour", "red")]), "invalid filter 'colour'");
        assert_eq!(
            err(&[("dangling", "maybe")]),
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(err(&[("before", "nope")]), "No such image: nope");
        assert_eq!(err(&[("reference", "a[")]), "syntax error in pattern");
        assert!(err(&[("until", "soon")]).starts_with("invalid value for 'until' filter: "));
    }
}
