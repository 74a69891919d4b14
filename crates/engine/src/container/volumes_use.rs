//! Containers and volumes: creating a container's volumes and host dirs,
//! the OCI mounts at start, which containers use a volume, and filling a
//! new volume from the image. [`VolumeUse`] is the container service's
//! collaborator for all of it, with the volume service and the image
//! trees as its own state; it knows other containers only through what
//! its caller hands it.

use std::sync::Arc;

use oci_spec::runtime::{Mount, MountBuilder};

use super::mounts::{self, MountKind, MountPoint, Recursive};
use super::ContainerRecord;
use crate::snapshots::Snapshots;
use crate::volumes::VolumeService;
use crate::Error;

/// What containers do with volumes (see the module documentation).
pub(super) struct VolumeUse {
    pub volumes: VolumeService,
    /// The image trees new volumes are filled from.
    pub snapshots: Arc<dyn Snapshots>,
    /// The store's `ignore_chown_errors`, for files copied into volumes.
    pub ignore_chown_errors: bool,
}

impl VolumeUse {
    /// Plans the container's mounts and creates what they need: named and
    /// anonymous volumes, and (for `-v`) missing host directories.
    /// `record_of` finds the containers `--volumes-from` names.
    pub(super) fn prepare_mounts(
        &self,
        rec: &ContainerRecord,
        record_of: &dyn Fn(&str) -> Result<ContainerRecord, Error>,
    ) -> Result<Vec<MountPoint>, Error> {
        let mut planned = mounts::plan(&rec.host_config, rec.config.volumes.as_ref())?;
        // --volumes-from: the other container's volumes and binds, on the
        // same paths, read-only with `:ro`, never its tmpfs.
        for from in &rec.host_config.volumes_from {
            let (name, mode) = match from.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, m),
                _ => (from.as_str(), ""),
            };
            let other = record_of(name)?;
            for m in other.mounts.iter().filter(|m| m.kind != MountKind::Tmpfs) {
                if planned.iter().any(|p| p.target == m.target) {
                    continue;
                }
                let mut m = m.clone();
                m.anonymous = false;
                m.create_host_dir = false;
                m.chown = false;
                match mode {
                    "ro" => m.read_only = true,
                    "rw" => m.read_only = false,
                    _ => {}
                }
                planned.push(m);
            }
        }
        let mut claimed: Vec<(String, bool)> = Vec::new();
        let result = (|| {
            for m in planned.iter_mut() {
                match m.kind {
                    MountKind::Volume => {
                        let exists =
                            !m.source.is_empty() && self.volumes.inspect(&m.source).is_ok();
                        // `--volume-driver` names the driver of the volumes
                        // the container makes; only `local` exists here.
                        let driver = rec.host_config.volume_driver.as_str();
                        if !exists && !matches!(driver, "" | "local") {
                            return Err(Error::PathNotFound {
                                message: format!(
                                    "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
                                ),
                            });
                        }
                        let c = self.volumes.claim(
                            &m.source,
                            m.volume_labels.clone(),
                            m.volume_options.clone(),
                            m.anonymous,
                            &rec.id,
                        )?;
                        claimed.push((c.volume.name.clone(), c.created));
                        m.source = c.volume.name;
                    }
                    MountKind::Bind => {
                        let path = std::path::Path::new(&m.source);
                        if !path.exists() {
                            if !m.create_host_dir {
                                return Err(Error::InvalidArgument(format!(
                                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                    m.source
                                )));
                            }
                            std::fs::create_dir_all(path).map_err(Error::io("creating", path))?;
                        }
                    }
                    MountKind::Tmpfs => {}
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            // Undo: no claim stays, and the volumes this create made go.
            for (name, created) in claimed {
                if let Err(e) = self.volumes.unclaim(&name, &rec.id, created) {
                    tracing::warn!(volume = %name, error = %e, "undoing a volume of a failed create");
                }
            }
            return Err(e);
        }
        Ok(planned)
    }

    /// The OCI mounts for the container's volumes, binds and tmpfs.
    /// The container's mounts as OCI mounts; with `idmap` (a remapped
    /// container) named volumes are idmapped binds, so their files keep
    /// the owners the container gives them.
    pub(super) fn oci_mounts(
        &self,
        rec: &ContainerRecord,
        idmap: bool,
    ) -> Result<Vec<Mount>, Error> {
        let mut out = Vec::new();
        for m in &rec.mounts {
            let bind = if m.recursive == Recursive::Disabled {
                "bind"
            } else {
                "rbind"
            };
            let (typ, source, mut options) = match m.kind {
                MountKind::Volume => {
                    // Checked now for Docker's error; opened inside the
                    // volume by the runtime when it mounts.
                    self.volume_source(m)?;
                    let mut o = vec![bind.to_string()];
                    if idmap {
                        o.push(berth_runtime::remap::IDMAP_OPTION.to_string());
                    }
                    if !m.subpath.is_empty() {
                        o.push(format!(
                            "{}{}",
                            berth_runtime::mounts::SUBPATH_OPTION,
                            m.subpath
                        ));
                    }
                    (
                        "bind",
                        self.volumes.data_dir(&m.source).display().to_string(),
                        o,
                    )
                }
                MountKind::Bind => {
                    check_host_propagation(&m.source, &m.propagation)?;
                    ("bind", m.source.clone(), vec![bind.to_string()])
                }
                MountKind::Tmpfs => {
                    let mut o = vec![
                        "nosuid".to_string(),
                        "nodev".to_string(),
                        "noexec".to_string(),
                    ];
                    o.extend(
                        m.options
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                    );
                    ("tmpfs", "tmpfs".to_string(), o)
                }
            };
            if m.kind != MountKind::Tmpfs {
                options.push(if m.propagation.is_empty() {
                    "rprivate".to_string()
                } else {
                    m.propagation.clone()
                });
            }
            if m.read_only {
                options.push(readonly_option(m)?.into());
            }
            let mount = MountBuilder::default()
                .destination(&m.target)
                .typ(typ)
                .source(source)
                .options(options)
                .build()
                .map_err(|e| Error::Internal(format!("building the {} mount: {e}", m.target)))?;
            out.push(mount);
        }
        Ok(out)
    }

    /// What a volume mount binds: the volume's data, or its subpath resolved
    /// inside it (symlinks cannot lead out), which must exist.
    fn volume_source(&self, m: &MountPoint) -> Result<std::path::PathBuf, Error> {
        let data = self.volumes.data_dir(&m.source);
        if m.subpath.is_empty() {
            return Ok(data);
        }
        let path = berth_runtime::mounts::secure_join(&data, std::path::Path::new(&m.subpath))
            .map_err(Error::io("resolving the subpath of", &data))?;
        if !path.exists() {
            return Err(Error::InvalidArgument(format!(
                "cannot access path {}: no such file or directory (subpath {} of volume {})",
                path.display(),
                m.subpath,
                m.source
            )));
        }
        Ok(path)
    }

    /// Mounts the container's volumes that have driver options (counted per
    /// container); on failure, releases what it took.
    pub(super) fn acquire_volumes(&self, rec: &ContainerRecord) -> Result<(), Error> {
        let volumes: Vec<&str> = rec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .map(|m| m.source.as_str())
            .collect();
        for (i, name) in volumes.iter().enumerate() {
            if let Err(e) = self.volumes.acquire(name, &rec.id) {
                for taken in &volumes[..i] {
                    self.volumes.release(taken, &rec.id);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// The container no longer runs: its hold on its volumes goes.
    pub(super) fn release_volumes(&self, rec: &ContainerRecord) {
        for m in rec.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            self.volumes.release(&m.source, &rec.id);
        }
    }

    /// At daemon start: the container's volumes are claimed again.
    pub(super) fn adopt_volumes(&self, rec: &ContainerRecord) {
        for m in rec.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            self.volumes.adopt(&m.source, &rec.id);
        }
    }

    /// The container no longer claims its volumes (it is being removed, or
    /// its create failed after the mounts were planned); with `volumes`
    /// (`rm -v`, `--rm`) its anonymous volumes no other container uses go.
    pub(super) fn unclaim_volumes(&self, rec: &ContainerRecord, volumes: bool) {
        for m in rec.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            let remove = volumes && m.anonymous;
            if let Err(e) = self.volumes.unclaim(&m.source, &rec.id, remove) {
                tracing::warn!(volume = %m.source, error = %e, "anonymous volume kept");
            }
        }
    }

    /// `Mounts` in container inspect.
    pub(super) fn inspect_mounts(&self, rec: &ContainerRecord) -> Vec<serde_json::Value> {
        rec.mounts
            .iter()
            .map(|m| {
                let (typ, source, name) = match m.kind {
                    MountKind::Volume => ("volume", self.volumes.data_dir(&m.source).display().to_string(), Some(m.source.clone())),
                    MountKind::Bind => ("bind", m.source.clone(), None),
                    MountKind::Tmpfs => ("tmpfs", String::new(), None),
                };
                let mut v = serde_json::json!({
                    "Type": typ,
                    "Source": source,
                    "Destination": m.target,
                    "Mode": if m.read_only { "ro" } else { "" },
                    "RW": !m.read_only,
                    "Propagation": if m.kind == MountKind::Bind { if m.propagation.is_empty() { "rprivate" } else { m.propagation.as_str() } } else { "" },
                });
                if let Some(n) = name {
                    v["Name"] = serde_json::Value::String(n);
                    v["Driver"] = serde_json::Value::String("local".into());
                }
                v
            })
            .collect()
    }
}

/// Whether a kernel release (`6.1.0-13-amd64`) is at least `major.minor`.
fn release_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// Recursive read-only mounts need `mount_setattr(2)`: Linux 5.12.
fn kernel_has_rro() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    release_at_least(release.trim(), 5, 12)
}

/// The OCI option that makes a read-only mount read-only: `rro` (submounts
/// too) by default where the kernel can and propagation is private, as
/// Docker; `ro` for `bind-recursive=writable|disabled`.
fn readonly_option(m: &MountPoint) -> Result<&'static str, Error> {
    if m.kind == MountKind::Tmpfs {
        return Ok("ro");
    }
    let private = matches!(m.propagation.as_str(), "" | "private" | "rprivate");
    match m.recursive {
        Recursive::Readonly if kernel_has_rro() => Ok("rro"),
        Recursive::Readonly => Err(Error::InvalidArgument(format!(
            "mount {}: bind-recursive=readonly needs Linux 5.12 or later (mount_setattr)",
            m.target
        ))),
        Recursive::Enabled if private && kernel_has_rro() => Ok("rro"),
        _ => Ok("ro"),
    }
}

/// Docker's check before a shared or slave bind: the host mount holding
/// the source must itself be shared (or, for slave, shared or slave), or
/// the propagation could never happen.
fn check_host_propagation(source: &str, propagation: &str) -> Result<(), Error> {
    let need_shared = matches!(propagation, "shared" | "rshared");
    let need_slave = matches!(propagation, "slave" | "rslave");
    if !need_shared && !need_slave {
        return Ok(());
    }
    let path = std::fs::canonicalize(source).map_err(Error::io("resolving", source))?;
    let table = berth_runtime::mountinfo::read();
    let Some(holder) = berth_runtime::mountinfo::containing(&table, &path) else {
        return Ok(());
    };
    let ok = holder.shared || (need_slave && holder.slave);
    if ok {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "path {source} is mounted on {} but it is not a shared{} mount",
        holder.mount_point.display(),
        if need_slave { " or slave" } else { "" }
    )))
}

/// `uid[:gid]` or `name[:group]` resolved in the image's passwd and group
/// files (read inside `root`, the mounted image).
fn resolve_user(root: &std::path::Path, user: &str) -> Option<(u32, u32)> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap_or_default();
    let passwd = read("etc/passwd");
    let (uid, primary) = match u.parse::<u32>() {
        Ok(n) => (
            n,
            passwd
                .lines()
                .find(|l| l.split(':').nth(2) == Some(u))
                .and_then(|l| l.split(':').nth(3)?.parse().ok()),
        ),
        Err(_) => {
            let line = passwd.lines().find(|l| l.split(':').next() == Some(u))?;
            let mut f = line.split(':').skip(2);
            (f.next()?.parse().ok()?, f.next()?.parse().ok())
        }
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => read("etc/group")
                .lines()
                .find(|l| l.split(':').next() == Some(g))?
                .split(':')
                .nth(2)?
                .parse()
                .ok()?,
        },
        None => primary.unwrap_or(uid),
    };
    Some((uid, gid))
}

/// `chown -R` without following symlinks.
fn chown_tree(dir: &std::path::Path, uid: u32, gid: u32) -> Result<(), Error> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(Error::io("chowning", dir))?;
    let entries = std::fs::read_dir(dir).map_err(Error::io("reading", dir))?;
    for e in entries.flatten() {
        let path = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            chown_tree(&path, uid, gid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .map_err(Error::io("chowning", &path))?;
        }
    }
    Ok(())
}

impl VolumeUse {
    /// Before a start: fills empty volumes from the image's content at their
    /// mount path (unless `nocopy`), as Docker does, and chowns `:U`
    /// volumes to the container's user. The image's tree is at `view` (a
    /// path of the container's) for the duration; paths are resolved
    /// inside it.
    pub(super) async fn populate_volumes(
        &self,
        view: std::path::PathBuf,
        rec: &ContainerRecord,
        layers: &[std::path::PathBuf],
    ) -> Result<(), Error> {
        let empty = |dir: &std::path::Path| {
            std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
        };
        let work: Vec<(MountPoint, std::path::PathBuf, bool)> = rec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .map(|m| {
                let data = self.volumes.data_dir(&m.source);
                let copy = !m.no_copy && empty(&data);
                (m.clone(), data, copy)
            })
            .filter(|(m, _, copy)| *copy || m.chown)
            .collect();
        if work.is_empty() {
            return Ok(());
        }
        let layers = layers.to_vec();
        let user = rec.config.user.clone();
        let snapshots = self.snapshots.clone();
        let ignore_chown_errors = self.ignore_chown_errors;
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            let mounted = snapshots.view(&layers, &view)?;
            let root = mounted.path().to_path_buf();
            for (m, data, copy) in &work {
                if *copy {
                    let mut tar = Vec::new();
                    match berth_image::fsops::archive_path(
                        &root,
                        &format!("{}/.", m.target),
                        &mut tar,
                    ) {
                        Ok(_) => {
                            let opts = berth_image::fsops::ExtractOptions {
                                ignore_chown_errors,
                                ..Default::default()
                            };
                            berth_image::fsops::extract_into(
                                data,
                                "/",
                                &mut tar.as_slice(),
                                &opts,
                            )?;
                        }
                        Err(e) if e.kind() == berth_image::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if m.chown {
                    let (uid, gid) = if user.is_empty() {
                        (0, 0)
                    } else {
                        resolve_user(&root, &user).ok_or_else(|| {
                            Error::InvalidArgument(format!(
                                "unable to find user {user} for the :U volume {}",
                                m.source
                            ))
                        })?
                    };
                    chown_tree(data, uid, gid)?;
                }
            }
            drop(mounted);
            let _ = std::fs::remove_dir(&view);
            Ok(())
        })
        .await
        .map_err(|e| Error::Internal(format!("volume task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_release_comparison() {
        assert!(release_at_least("6.18.44-fc-v669", 5, 12));
        assert!(release_at_least("5.12.0", 5, 12));
        assert!(!release_at_least("5.11.9-generic", 5, 12));
        assert!(!release_at_least("4.19.0", 5, 12));
        assert!(!release_at_least("", 5, 12));
    }
}
