//! `system check`'s part for containers: records that do not load, images
//! gone from under containers, running containers without a process,
//! stopped ones with processes, cgroups and mounts no container owns.
//! Repair kills the processes of exited containers, removes cgroups no
//! container owns and unmounts what no running container uses; it never
//! removes a container or its files (`rm` is the user's choice).

use std::collections::HashSet;

use berth_image::check::Problem;
use berth_runtime::cgroups::{children, Cgroup};
use nix::mount::{umount2, MntFlags};

use super::record::Status;
use super::{monitor, ContainerService};

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
        let parent = self.inner.config.cgroup_parent.clone();
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
            let pids = || {
                Cgroup::open(&parent, &rec.id)
                    .and_then(|cg| cg.pids())
                    .unwrap_or_default()
            };
            match rec.status {
                Status::Running | Status::Paused => {
                    running.insert(rec.id.clone());
                    if !std::path::Path::new(&format!("/proc/{}", rec.pid)).exists() {
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
                    let pids = pids();
                    if pids.is_empty() {
                        continue;
                    }
                    let fixed = repair && {
                        let id = rec.id.clone();
                        let parent = parent.clone();
                        tokio::task::spawn_blocking(move || monitor::stop_strays(&parent, &id))
                            .await
                            .is_ok()
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
        for name in children(&parent).unwrap_or_default() {
            if known.contains(&name) {
                continue;
            }
            let fixed = repair && {
                let (parent, name) = (parent.clone(), name.clone());
                tokio::task::spawn_blocking(move || {
                    monitor::stop_strays(&parent, &name);
                    Cgroup::open(&parent, &name).is_err()
                })
                .await
                .unwrap_or(false)
            };
            out.push(problem(
                format!("cgroup {parent}/{name}"),
                "no container owns it",
                fixed,
            ));
        }
        for entry in berth_runtime::mountinfo::read() {
            let Ok(rest) = entry.mount_point.strip_prefix(&root) else {
                continue;
            };
            let Some(id) = rest.iter().next().map(|c| c.to_string_lossy().into_owned()) else {
                continue;
            };
            if running.contains(&id) {
                continue;
            }
            let fixed = repair && umount2(&entry.mount_point, MntFlags::MNT_DETACH).is_ok();
            out.push(problem(
                format!("mount {}", entry.mount_point.display()),
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
