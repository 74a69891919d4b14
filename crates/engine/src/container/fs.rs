//! The container's filesystem from the outside: `cp` (archive stat, get,
//! put), `export` and `commit`. A running container's root is reached
//! through `/proc/<pid>/root`; a stopped (or never started) one's overlay
//! is mounted for the duration of the operation, with its volumes and
//! bind mounts on their paths as Docker mounts them, and unmounted on
//! every path.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::fsops::{self, ExtractOptions, PathStat};
use berth_image::CommitOptions;
use nix::mount::{umount2, MntFlags};

use super::{Container, ContainerService};
use crate::{ids, Error};

/// The overlay mounted at a stopped container's rootfs; unmounted on drop.
pub(super) struct TempMount {
    target: PathBuf,
}

impl TempMount {
    fn overlay(
        overlay: &berth_runtime::mounts::Overlay,
        target: &Path,
    ) -> Result<TempMount, Error> {
        std::fs::create_dir_all(target).map_err(Error::io("creating", target))?;
        berth_runtime::mounts::mount_overlay(&berth_runtime::sys::RealSys, overlay, target)
            .map_err(|e| {
                Error::Internal(format!(
                    "mounting the container's rootfs at {}: {e}",
                    target.display()
                ))
            })?;
        Ok(TempMount {
            target: target.to_path_buf(),
        })
    }
}

impl Drop for TempMount {
    fn drop(&mut self) {
        if let Err(e) = umount2(&self.target, MntFlags::MNT_DETACH) {
            tracing::warn!(target = %self.target.display(), error = %e, "unmounting a container rootfs failed");
        }
    }
}

impl ContainerService {
    /// Runs `f` with the container's root directory on the blocking pool.
    async fn with_root<T, F>(&self, c: &Arc<Container>, f: F) -> Result<T, Error>
    where
        F: FnOnce(&Path) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let _op = c.op.lock().await;
        let rec = c.record();
        if rec.status.is_running() && rec.pid > 0 {
            // Seen from the host, a remapped container's files carry the
            // shifted ids and new ones cannot be made with its own.
            if self
                .inner
                .config
                .userns_for(&rec.host_config.userns_mode)
                .is_some()
            {
                return Err(Error::NotImplemented(format!(
                    "copying files of running container {} is not supported yet with --userns-remap: stop it first",
                    rec.name.trim_start_matches('/')
                )));
            }
            let root = PathBuf::from(format!("/proc/{}/root", rec.pid));
            return tokio::task::spawn_blocking(move || f(&root))
                .await
                .map_err(|e| Error::Internal(format!("filesystem task failed: {e}")))?;
        }
        let layers = self.inner.images.layer_dirs(&rec.image_id).await?;
        let mounts: Vec<oci_spec::runtime::Mount> = self
            .inner
            .volume_use
            .oci_mounts(&rec, false)?
            .into_iter()
            .filter(|m| m.typ().as_deref() == Some("bind"))
            .collect();
        self.inner.volume_use.acquire_volumes(&rec)?;
        let paths = c.paths.clone();
        let config = self.inner.config.clone();
        let result = tokio::task::spawn_blocking(move || {
            for dir in [paths.upper(), paths.work()] {
                std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
            }
            let overlay = config.overlay(layers, paths.upper(), paths.work());
            let mounted = TempMount::overlay(&overlay, &paths.rootfs())?;
            for m in &mounts {
                berth_runtime::mounts::mount_one(&berth_runtime::sys::RealSys, &mounted.target, m)
                    .map_err(|e| {
                        Error::Internal(format!(
                            "mounting {} for the operation: {e}",
                            m.destination().display()
                        ))
                    })?;
            }
            let result = f(&mounted.target);
            drop(mounted);
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("filesystem task failed: {e}")));
        self.inner.volume_use.release_volumes(&rec);
        result?
    }

    fn not_found(e: Error, path: &str, container: &str) -> Error {
        match e {
            Error::Fs(fe) if fe.kind() == berth_image::ErrorKind::NotFound => Error::PathNotFound {
                message: format!("Could not find the file {path} in container {container}"),
            },
            other => other,
        }
    }

    /// `HEAD /containers/{id}/archive`.
    pub async fn stat_path(&self, name_or_id: &str, path: &str) -> Result<PathStat, Error> {
        let c = self.get(name_or_id)?;
        let p = path.to_string();
        self.with_root(&c, move |root| Ok(fsops::stat_path(root, &p)?))
            .await
            .map_err(|e| Self::not_found(e, path, name_or_id))
    }

    /// `GET /containers/{id}/archive`: writes the tar to `w` (a blocking
    /// writer bridged to the response) after the path is known to exist.
    pub async fn archive_path(
        &self,
        name_or_id: &str,
        path: &str,
        mut w: Box<dyn Write + Send>,
    ) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let p = path.to_string();
        self.with_root(&c, move |root| {
            fsops::archive_path(root, &p, &mut w)?;
            w.flush().map_err(Error::io("writing archive", "-"))
        })
        .await
        .map_err(|e| Self::not_found(e, path, name_or_id))
    }

    /// `PUT /containers/{id}/archive`.
    pub async fn extract_to(
        &self,
        name_or_id: &str,
        path: &str,
        mut r: Box<dyn Read + Send>,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    ) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        if rec.host_config.readonly_rootfs {
            return Err(Error::Conflict {
                message: "container rootfs is marked read-only".into(),
            });
        }
        let p = path.to_string();
        let opts = ExtractOptions {
            no_overwrite_dir_non_dir,
            copy_uid_gid,
            user: rec.config.user.clone(),
            ignore_chown_errors: self.inner.config.storage.ignore_chown_errors,
            ..Default::default()
        };
        self.with_root(&c, move |root| {
            fsops::extract_into(root, &p, &mut r, &opts)?;
            Ok(())
        })
        .await
        .map_err(|e| Self::not_found(e, path, name_or_id))
    }

    /// `GET /containers/{id}/export`.
    pub async fn export(
        &self,
        name_or_id: &str,
        mut w: Box<dyn Write + Send>,
    ) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        self.with_root(&c, move |root| {
            fsops::export_root(root, &mut w, &[])?;
            w.flush().map_err(Error::io("writing archive", "-"))
        })
        .await
    }

    /// `POST /commit`: the container's changes as a new image layer.
    pub async fn commit(
        &self,
        name_or_id: &str,
        reference: Option<String>,
        author: String,
        comment: String,
        changes: Vec<String>,
        pause: bool,
    ) -> Result<String, Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        // Docker pauses a running container while its changes are read, so
        // the layer is a consistent snapshot.
        let mut paused = pause && rec.status == super::Status::Running;
        if paused {
            if let Err(e) = self.pause_as(&rec.id, true).await {
                // A container that exited meanwhile needs no pausing: its
                // cgroup may be gone a moment before its exit is recorded.
                let exited = !c.record().status.is_running()
                    || super::lifecycle::exited_within(&c, std::time::Duration::from_secs(2)).await;
                if !exited {
                    return Err(e);
                }
                paused = false;
            }
        }
        let diff = c
            .paths
            .dir()
            .join(format!("commit-{}.tar", ids::short(&ids::new_id())));
        let upper = c.paths.upper();
        let diff_path = diff.clone();
        let write = tokio::task::spawn_blocking(move || -> Result<(), Error> {
            std::fs::create_dir_all(&upper).map_err(Error::io("creating", &upper))?;
            let mut f =
                std::fs::File::create(&diff_path).map_err(Error::io("creating", &diff_path))?;
            berth_image::diff::write_diff_tar(&upper, &mut f)?;
            f.sync_all().map_err(Error::io("writing", &diff_path))
        })
        .await
        .map_err(|e| Error::Internal(format!("commit task failed: {e}")))?;
        let result = match write {
            Ok(()) => {
                let mut config = serde_json::to_value(&rec.config)
                    .map_err(|e| Error::Internal(format!("serialising container config: {e}")))?;
                config["Image"] = serde_json::Value::String(rec.image_id.clone());
                let opts = CommitOptions {
                    parent: rec.image_id.clone(),
                    diff: diff.clone(),
                    config,
                    changes,
                    author,
                    comment,
                    reference,
                    container_id: rec.id.clone(),
                    ..CommitOptions::default()
                };
                self.inner.images.commit(opts).await
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&diff);
        if paused {
            if let Err(e) = self.unpause(&rec.id).await {
                tracing::warn!(id = %rec.id, error = %e, "unpausing after commit failed");
            }
        }
        let info = result?;
        self.publish("commit", &rec);
        Ok(info.id)
    }
}
