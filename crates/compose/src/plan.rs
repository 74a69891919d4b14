//! The plan of `up` (pure, printable): from the project and the
//! containers, networks and volumes that exist, what to create, recreate,
//! start or remove, service by service in dependency order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::convert;
use crate::error::Error;
use crate::loader::Project;

/// A container of the project as listed by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub hash: String,
    pub image_id: String,
    /// `running`, `exited`, `created`, `paused`...
    pub state: String,
    pub oneoff: bool,
}

/// What `up` was asked.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services named on the command line (with their dependencies); all
    /// when empty.
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// `--scale service=n`.
    pub scale: BTreeMap<String, u32>,
    /// `--no-deps`: not the dependencies of the named services.
    pub no_deps: bool,
    /// `create`: make the containers, start nothing.
    pub no_start: bool,
}

/// One step for a service's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create {
        number: u32,
        name: String,
    },
    Recreate {
        number: u32,
        old: Observed,
    },
    Start(Observed),
    /// Running, restarted because a dependency with `restart: true` was
    /// recreated.
    Restart(Observed),
    Running(Observed),
    Remove(Observed),
}

/// A service's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub service: String,
    pub steps: Vec<Step>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Networks to create: (key, engine name).
    pub networks: Vec<(String, String)>,
    /// Volumes to create.
    pub volumes: Vec<(String, String)>,
    /// Services by start level.
    pub levels: Vec<Vec<ServicePlan>>,
    /// Containers of services no longer in the files.
    pub orphans: Vec<Observed>,
    pub remove_orphans: bool,
}

/// The services to act on: the named ones and what they depend on (all
/// when none is named).
pub fn selected(p: &Project, named: &[String], no_deps: bool) -> Result<BTreeSet<String>, Error> {
    if named.is_empty() {
        return Ok(p.services.keys().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(n) = todo.pop() {
        let s = p
            .services
            .get(&n)
            .ok_or_else(|| Error::Project(format!("no such service: {n}")))?;
        if out.insert(n.clone()) && !no_deps {
            todo.extend(crate::order::dependencies(s, &p.services));
        }
    }
    Ok(out)
}

/// Whether a service restarts because a dependency it declares with
/// `restart: true` was recreated.
fn restart_for_dependency(s: &crate::model::Service, recreated: &BTreeSet<String>) -> bool {
    s.depends_on
        .iter()
        .any(|(dep, d)| d.restart && recreated.contains(dep))
}

/// Plans `up`.
pub fn plan_up(
    p: &Project,
    observed: &[Observed],
    existing_networks: &BTreeSet<String>,
    existing_volumes: &BTreeSet<String>,
    image_ids: &BTreeMap<String, String>,
    opts: &UpOptions,
) -> Result<Plan, Error> {
    let chosen = selected(p, &opts.services, opts.no_deps)?;
    let mut plan = Plan {
        remove_orphans: opts.remove_orphans,
        ..Plan::default()
    };
    for (key, n) in &p.networks {
        let name = convert::network_name(p, key);
        let used = chosen
            .iter()
            .filter_map(|s| p.services.get(s))
            .any(|s| convert::networks_in_order(s).contains(key));
        if used && !n.external && !existing_networks.contains(&name) {
            plan.networks.push((key.clone(), name));
        }
    }
    for (key, v) in &p.volumes {
        let name = convert::volume_name(p, key);
        if !v.external && !existing_volumes.contains(&name) {
            plan.volumes.push((key.clone(), name));
        }
    }
    let mut recreated: BTreeSet<String> = BTreeSet::new();
    for level in p.start_order()? {
        let mut out = Vec::new();
        for service in level.iter().filter(|s| chosen.contains(*s)) {
            let s = &p.services[service];
            let want = opts
                .scale
                .get(service)
                .copied()
                .unwrap_or_else(|| convert::replicas(s));
            if s.container_name.is_some() && want > 1 {
                return Err(Error::Project(format!(
                    "service {service:?} has a container_name and cannot be scaled to {want}"
                )));
            }
            let hash = convert::config_hash(s);
            let mut have: Vec<&Observed> = observed
                .iter()
                .filter(|o| &o.service == service && !o.oneoff)
                .collect();
            have.sort_by_key(|o| o.number);
            let mut steps = Vec::new();
            let mut numbers = BTreeSet::new();
            for (i, o) in have.iter().enumerate() {
                if i as u32 >= want {
                    steps.push(Step::Remove((*o).clone()));
                    continue;
                }
                numbers.insert(o.number);
                let image_changed = image_ids.get(service).is_some_and(|id| {
                    !id.is_empty() && !o.image_id.is_empty() && *id != o.image_id
                });
                let stale = o.hash != hash || image_changed;
                if opts.force_recreate || (stale && !opts.no_recreate) {
                    steps.push(Step::Recreate {
                        number: o.number,
                        old: (*o).clone(),
                    });
                } else if o.state == "running" && restart_for_dependency(s, &recreated) {
                    steps.push(Step::Restart((*o).clone()));
                } else if o.state == "running" || opts.no_start {
                    steps.push(Step::Running((*o).clone()));
                } else {
                    steps.push(Step::Start((*o).clone()));
                }
            }
            let mut next = 1;
            while (numbers.len() as u32) < want {
                while numbers.contains(&next) {
                    next += 1;
                }
                numbers.insert(next);
                steps.push(Step::Create {
                    number: next,
                    name: convert::container_name(p, service, s, next),
                });
            }
            if steps.iter().any(|st| matches!(st, Step::Recreate { .. })) {
                recreated.insert(service.clone());
            }
            out.push(ServicePlan {
                service: service.clone(),
                steps,
            });
        }
        if !out.is_empty() {
            plan.levels.push(out);
        }
    }
    let known: BTreeSet<&String> = p.services.keys().chain(p.disabled.keys()).collect();
    plan.orphans = observed
        .iter()
        .filter(|o| !o.oneoff && !known.contains(&o.service))
        .cloned()
        .collect();
    Ok(plan)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (_, n) in &self.networks {
            writeln!(f, "create network {n}")?;
        }
        for (_, v) in &self.volumes {
            writeln!(f, "create volume {v}")?;
        }
        for (i, level) in self.levels.iter().enumerate() {
            for sp in level {
                for step in &sp.steps {
                    match step {
                        Step::Create { name, .. } => writeln!(f, "{i}: create and start {name}")?,
                        Step::Recreate { old, .. } => writeln!(f, "{i}: recreate {}", old.name)?,
                        Step::Start(o) => writeln!(f, "{i}: start {}", o.name)?,
                        Step::Restart(o) => writeln!(f, "{i}: restart {}", o.name)?,
                        Step::Running(o) => writeln!(f, "{i}: keep {}", o.name)?,
                        Step::Remove(o) => writeln!(f, "{i}: remove {}", o.name)?,
                    }
                }
            }
        }
        for o in &self.orphans {
            if self.remove_orphans {
                writeln!(f, "remove orphan {}", o.name)?;
            } else {
                writeln!(f, "orphan {} (kept)", o.name)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dependency, Service};
    use std::path::PathBuf;

    fn project() -> Project {
        let svc = |deps: &[&str], env: &str| Service {
            image: Some("busybox".into()),
            environment: [("MODE".to_string(), Some(env.to_string()))].into(),
            depends_on: deps
                .iter()
                .map(|d| (d.to_string(), Dependency::default()))
                .collect(),
            ..Service::default()
        };
        Project {
            name: "app".into(),
            working_dir: PathBuf::from("/w"),
            config_files: vec![PathBuf::from("/w/compose.yaml")],
            services: [
                ("db".to_string(), svc(&[], "a")),
                ("web".to_string(), svc(&["db"], "b")),
            ]
            .into(),
            disabled: BTreeMap::new(),
            networks: [("default".to_string(), Default::default())].into(),
            volumes: [("data".to_string(), Default::default())].into(),
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
            variables: BTreeMap::new(),
        }
    }

    /// Plans against a project whose network and volume exist.
    fn plan_existing(p: &Project, observed: &[Observed], opts: &UpOptions) -> Plan {
        let nets: BTreeSet<String> = ["app_default".to_string()].into();
        let vols: BTreeSet<String> = ["app_data".to_string()].into();
        plan_up(p, observed, &nets, &vols, &BTreeMap::new(), opts).unwrap()
    }

    fn change_env(p: &mut Project, service: &str) {
        if let Some(s) = p.services.get_mut(service) {
            s.environment.insert("MODE".into(), Some("changed".into()));
        }
    }

    fn seen(p: &Project, service: &str, state: &str) -> Observed {
        Observed {
            id: format!("id-{service}"),
            name: format!("app-{service}-1"),
            service: service.into(),
            number: 1,
            hash: convert::config_hash(&p.services[service]),
            image_id: String::new(),
            state: state.into(),
            oneoff: false,
        }
    }

    #[test]
    fn fresh_project_creates_everything_in_order() {
        let p = project();
        let plan = plan_up(
            &p,
            &[],
            &BTreeSet::new(),
            &BTreeSet::new(),
            &BTreeMap::new(),
            &UpOptions::default(),
        )
        .unwrap();
        assert_eq!(
            plan.to_string(),
            "create network app_default\ncreate volume app_data\n0: create and start app-db-1\n1: create and start app-web-1\n"
        );
    }

    #[test]
    fn only_changed_services_are_recreated() {
        let mut p = project();
        let observed = vec![seen(&p, "db", "running"), seen(&p, "web", "exited")];
        change_env(&mut p, "web");
        let plan = plan_existing(&p, &observed, &UpOptions::default());
        assert_eq!(
            plan.to_string(),
            "0: keep app-db-1\n1: recreate app-web-1\n"
        );
        // A dependency recreated restarts dependents that ask for it.
        let mut q = project();
        if let Some(d) = q
            .services
            .get_mut("web")
            .and_then(|w| w.depends_on.get_mut("db"))
        {
            d.restart = true;
        }
        let running = vec![seen(&q, "db", "running"), seen(&q, "web", "running")];
        change_env(&mut q, "db");
        let plan = plan_existing(&q, &running, &UpOptions::default());
        assert_eq!(
            plan.to_string(),
            "0: recreate app-db-1\n1: restart app-web-1\n"
        );
        let scaled = UpOptions {
            scale: [("db".to_string(), 2)].into(),
            services: vec!["db".into()],
            remove_orphans: true,
            ..UpOptions::default()
        };
        let mut with_orphan = observed.clone();
        let mut gone = seen(&p, "db", "running");
        gone.service = "old".into();
        gone.name = "app-old-1".into();
        with_orphan.push(gone);
        let plan = plan_existing(&p, &with_orphan, &scaled);
        assert_eq!(
            plan.to_string(),
            "0: keep app-db-1\n0: create and start app-db-2\nremove orphan app-old-1\n"
        );
    }
}
