//! `system check`'s part for containers: records that do not load, images
//! gone from under containers, running containers without a process,
//! stopped ones with processes, cgroups and mounts no container owns.
//! Repair kills the processes of exited containers, removes cgroups no
//! container owns and unmounts what no running container uses; it never
//! removes a container or its files (`rm` is the user's choice).

use std::collections::HashSet;

use berth_image::check::Problem;

use super::record::Status;
use super::ContainerService;

fn problem(object: String, message: impl Into<String>, repaired: bool) -> Problem {
    Problem {
        object,
        message: message.into(),
        repaired,
    }
}

impl ContainerService {
    /// Checks every container; see the module documentation.
    pub async fn check(&self, repair: bool) -> Vec<Problem> {
        let containers: Vec<_> = self.table().by_id.values().cloned().collect();
        let mut out = Vec::new();
        let root = self.inner.config.paths.containers_root();
        let known: HashSet<String> = containers.iter().map(|c| c.record().id).collect();
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if !known.contains(&id) {
                    out.push(problem(
                        format!("container {id}"),
                        "its record is unreadable; the container is not listed",
                        false,
                    ));
                }
            }
        }
        let runtime = self.inner.runtime.clone();
        let mut running = HashSet::new();
        for c in &containers {
            let rec = c.record();
            let object = format!("container {}", rec.id);
            if self.inner.images.resolve(&rec.image_id).await.is_err() {
                out.push(problem(
                    object.clone(),
                    format!("its image {} is gone", rec.image_id),
                    false,
                ));
            }
            match rec.status {
                Status::Running | Status::Paused => {
                    running.insert(rec.id.clone());
                    if !runtime.alive(rec.pid) {
                        out.push(problem(
                            object,
                            format!("recorded as running, but its process {} is gone", rec.pid),
                            false,
                        ));
                    }
                }
                // Created, Restarting and Removing may be mid-operation:
                // their processes are left alone.
                Status::Exited | Status::Dead => {
                    let pids = runtime.leftover_pids(&rec.id);
                    if pids.is_empty() {
                        continue;
                    }
                    let fixed = repair && {
                        let (runtime, id) = (runtime.clone(), rec.id.clone());
                        tokio::task::spawn_blocking(move || runtime.remove_leftovers(&id))
                            .await
                            .is_ok_and(|r| r.is_ok())
                    };
                    out.push(problem(
                        object,
                        format!("stopped, but {} processes run in its cgroup", pids.len()),
                        fixed,
                    ));
                }
                _ => {
                    running.insert(rec.id.clone());
                }
            }
        }
        let parent = &self.inner.config.cgroup_parent;
        for name in runtime.cgroups() {
            if known.contains(&name) {
                continue;
            }
            let fixed = repair && {
                let (runtime, name) = (runtime.clone(), name.clone());
                tokio::task::spawn_blocking(move || runtime.remove_leftovers(&name))
                    .await
                    .is_ok_and(|r| r.is_ok())
            };
            out.push(problem(
                format!("cgroup {parent}/{name}"),
                "no container owns it",
                fixed,
            ));
        }
        for mount_point in runtime.mounts_below(&root) {
            let Ok(rest) = mount_point.strip_prefix(&root) else {
                continue;
            };
            let Some(id) = rest.iter().next().map(|c| c.to_string_lossy().into_owned()) else {
                continue;
            };
            if running.contains(&id) {
                continue;
            }
            let fixed = repair && runtime.unmount(&mount_point).is_ok();
            out.push(problem(
                format!("mount {}", mount_point.display()),
                if known.contains(&id) {
                    "its container is not running"
                } else {
                    "no container owns it"
                },
                fixed,
            ));
        }
        out
    }
}
