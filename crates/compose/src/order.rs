//! The order services start in: what a service depends on (`depends_on`,
//! `network_mode: service:x`, `volumes_from`, `links`) starts first.
//! Services of one level need nothing from each other. Cycles are errors
//! that name them.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::model::Service;

/// The services `s` needs started before it (those in the project).
pub fn dependencies(s: &Service, known: &BTreeMap<String, Service>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = s.depends_on.keys().cloned().collect();
    if let Some(other) = s
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        out.insert(other.to_string());
    }
    for v in &s.volumes_from {
        if !v.starts_with("container:") {
            out.insert(v.split(':').next().unwrap_or(v).to_string());
        }
    }
    for l in &s.links {
        out.insert(l.split(':').next().unwrap_or(l).to_string());
    }
    out.retain(|d| known.contains_key(d));
    out
}

/// Levels of services, each needing only earlier levels.
pub fn levels(services: &BTreeMap<String, Service>) -> Result<Vec<Vec<String>>, Error> {
    let deps: BTreeMap<&String, BTreeSet<String>> = services
        .iter()
        .map(|(n, s)| (n, dependencies(s, services)))
        .collect();
    if let Some(cycle) = find_cycle(&deps) {
        return Err(Error::Project(format!(
            "dependency cycle detected: {}",
            cycle.join(" -> ")
        )));
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < services.len() {
        let level: Vec<String> = deps
            .iter()
            .filter(|(n, d)| !done.contains(n.as_str()) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| (*n).clone())
            .collect();
        if level.is_empty() {
            return Err(Error::Project("dependency cycle detected".into()));
        }
        done.extend(level.iter().cloned());
        out.push(level);
    }
    Ok(out)
}

fn find_cycle(deps: &BTreeMap<&String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        deps: &BTreeMap<&String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        let name = n.to_string();
        for d in deps.get(&name).into_iter().flatten() {
            if let Some(c) = visit(d, deps, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in deps.keys() {
        if let Some(c) = visit(n, deps, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dependency;

    fn svc(deps: &[&str]) -> Service {
        Service {
            image: Some("x".into()),
            depends_on: deps
                .iter()
                .map(|d| (d.to_string(), Dependency::default()))
                .collect(),
            ..Service::default()
        }
    }

    #[test]
    fn levels_and_cycles() {
        let mut s = BTreeMap::new();
        s.insert("client".to_string(), svc(&["web1", "web2"]));
        s.insert("web1".to_string(), svc(&[]));
        s.insert("web2".to_string(), svc(&["db"]));
        s.insert("db".to_string(), svc(&[]));
        assert_eq!(
            levels(&s).unwrap(),
            vec![
                vec!["db".to_string(), "web1".to_string()],
                vec!["web2".to_string()],
                vec!["client".to_string()]
            ]
        );
        s.insert("db".to_string(), svc(&["client"]));
        let e = levels(&s).unwrap_err().to_string();
        assert_eq!(
            e,
            "dependency cycle detected: client -> web2 -> db -> client"
        );
    }
}
