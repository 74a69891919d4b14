//! The volume service: local-driver volumes under `<root>/volumes/<name>/`
//! (`_data` holds the content, `volume.json` the metadata).
//!
//! A volume created with driver options (`type`, `device`, `o`) is mounted
//! on its `_data` on the host when its first container starts and unmounted
//! when its last one stops, as Docker's local driver does; which containers
//! hold it is counted here ([`VolumeService::acquire`], [`VolumeService::release`]).
//!
//! Which containers use a volume at all (created or running) is recorded
//! here too, as claims ([`VolumeService::claim`], [`VolumeService::unclaim`]),
//! under the same lock as creation and removal: `volume rm` and `volume
//! prune` check the claims and remove with nothing changing in between, so
//! a container being created can never lose the volume it just claimed.

pub mod driver_opts;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::events::{Event, Events};
use crate::filters::Args;
use crate::{ids, time, Error};

/// A volume, as the API shows it and as `volume.json` keeps it.
pub use berth_api::volume::Volume;

/// Whether the volume is anonymous: Docker labels those
/// `com.docker.volume.anonymous`.
pub fn is_anonymous(v: &Volume) -> bool {
    v.labels.contains_key(ANONYMOUS_LABEL)
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's volume name rule.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[derive(Clone)]
pub struct VolumeService {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    events: Events,
    /// The claims: which containers use each volume. Held while a volume is
    /// created, claimed, removed or pruned, so two requests cannot race on
    /// one name and no claim comes between a check and a removal.
    claims: Mutex<Claims>,
    /// Containers holding each mounted volume (volumes with options only).
    active: Mutex<HashMap<String, BTreeSet<String>>>,
}

type Claims = HashMap<String, BTreeSet<String>>;

/// What `volume prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// A volume a container claimed, and whether the claim created it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub volume: Volume,
    pub created: bool,
}

const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

impl VolumeService {
    pub fn open(root: PathBuf, events: Events) -> Result<VolumeService, Error> {
        std::fs::create_dir_all(&root).map_err(Error::io("creating", &root))?;
        Ok(VolumeService {
            inner: Arc::new(Inner {
                root,
                events,
                claims: Mutex::new(HashMap::new()),
                active: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.inner.root.join(name)
    }

    /// The directory a container mounts.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    fn read(&self, name: &str) -> Result<Volume, Error> {
        let path = self.dir(name).join("volume.json");
        let bytes = std::fs::read(&path).map_err(|_| Error::NoSuchVolume(name.to_string()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("volume record {}: {e}", path.display())))
    }

    pub fn inspect(&self, name: &str) -> Result<Volume, Error> {
        self.read(name)
    }

    /// Creates a volume (a random name when `name` is empty); an existing
    /// volume of that name is returned as it is, as Docker does.
    pub fn create(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume, Error> {
        let _claims = self.claims();
        self.create_locked(name, labels, options, anonymous)
    }

    /// Container `holder` uses volume `name`, created as [`Self::create`]
    /// does when it does not exist yet.
    pub fn claim(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
        holder: &str,
    ) -> Result<Claimed, Error> {
        let mut claims = self.claims();
        let created = name.is_empty() || self.read(name).is_err();
        let volume = self.create_locked(name, labels, options, anonymous)?;
        claims
            .entry(volume.name.clone())
            .or_default()
            .insert(holder.to_string());
        Ok(Claimed { volume, created })
    }

    /// Records that container `holder` uses volume `name` (at daemon start,
    /// from the containers' records).
    pub fn adopt(&self, name: &str, holder: &str) {
        self.claims()
            .entry(name.to_string())
            .or_default()
            .insert(holder.to_string());
    }

    /// Container `holder` no longer uses volume `name`; with `remove_unused`
    /// (an anonymous volume of a container removed with `-v` or `--rm`)
    /// the volume goes too when no other container uses it.
    pub fn unclaim(&self, name: &str, holder: &str, remove_unused: bool) -> Result<(), Error> {
        let mut claims = self.claims();
        if let Some(holders) = claims.get_mut(name) {
            holders.remove(holder);
            if holders.is_empty() {
                claims.remove(name);
            }
        }
        if remove_unused && !claims.contains_key(name) && self.read(name).is_ok() {
            self.remove_unclaimed(name)?;
        }
        Ok(())
    }

    /// The containers using volume `name`, sorted.
    pub fn users(&self, name: &str) -> Vec<String> {
        self.claims()
            .get(name)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        self.inner.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the volume; the caller holds the claims lock.
    fn create_locked(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume, Error> {
        let name = if name.is_empty() {
            ids::new_id()
        } else {
            name.to_string()
        };
        if !valid_name(&name) {
            return Err(Error::InvalidArgument(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if let Ok(existing) = self.read(&name) {
            return Ok(existing);
        }
        driver_opts::validate(&options)?;
        let mut labels = labels;
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let dir = self.dir(&name);
        let data = dir.join("_data");
        let volume = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: data.display().to_string(),
            created_at: time::now(),
            labels,
            options,
            scope: "local".into(),
        };
        let result = (|| {
            std::fs::create_dir_all(&data).map_err(Error::io("creating", &data))?;
            let bytes = serde_json::to_vec_pretty(&volume)
                .map_err(|e| Error::Internal(format!("serialising volume: {e}")))?;
            crate::fsutil::write_atomic(&dir.join("volume.json"), &bytes)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.inner.events.publish(Event::volume("create", &name));
        Ok(volume)
    }

    pub fn list(&self) -> Result<Vec<Volume>, Error> {
        let entries =
            std::fs::read_dir(&self.inner.root).map_err(Error::io("reading", &self.inner.root))?;
        let mut out: Vec<Volume> = entries
            .flatten()
            .filter_map(|e| self.read(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `DELETE /volumes/{name}`: a volume a container uses is a conflict
    /// naming the containers (also with `force`, as Docker); `force` makes a
    /// missing volume no error. Off the async workers.
    pub async fn remove(&self, name: &str, force: bool) -> Result<(), Error> {
        let svc = self.clone();
        let name = name.to_string();
        crate::fsutil::blocking(move || {
            let claims = svc.claims();
            match svc.read(&name) {
                Err(Error::NoSuchVolume(_)) if force => return Ok(()),
                other => other?,
            };
            if let Some(users) = claims.get(&name).filter(|u| !u.is_empty()) {
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                return Err(Error::Conflict {
                    message: format!("remove {name}: volume is in use - [{}]", users.join(", ")),
                });
            }
            svc.remove_unclaimed(&name)
        })
        .await
    }

    /// Removes a volume no container claims; the caller holds the claims
    /// lock.
    fn remove_unclaimed(&self, name: &str) -> Result<(), Error> {
        let data = self.data_dir(name);
        if is_mounted(&data) {
            unmount(name, &data)?;
        }
        let dir = self.dir(name);
        std::fs::remove_dir_all(&dir).map_err(Error::io("removing", &dir))?;
        self.inner.events.publish(Event::volume("destroy", name));
        Ok(())
    }

    /// `POST /volumes/prune`: removes the unused local volumes without
    /// driver options, anonymous ones only unless the `all` filter, of those
    /// `label` and `label!` select; returns their names and the bytes they
    /// held. The claims are held throughout, so no container claims a
    /// volume being pruned. Every volume that can go goes; a failure is
    /// returned, naming each volume that could not be removed. Off the
    /// async workers.
    pub async fn prune(&self, args: Args) -> Result<Pruned, Error> {
        let svc = self.clone();
        crate::fsutil::blocking(move || {
            let claims = svc.claims();
            let candidates = svc.prune_candidates(&args, &|n| claims.contains_key(n))?;
            let mut pruned = Pruned::default();
            let mut failures = Vec::new();
            for v in candidates {
                let size = crate::fsutil::dir_size(Path::new(&v.mountpoint));
                match svc.remove_unclaimed(&v.name) {
                    Ok(()) => {
                        pruned.reclaimed += size;
                        pruned.deleted.push(v.name);
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
            if !failures.is_empty() {
                return Err(Error::Internal(format!(
                    "volume prune removed {} volume(s) but not all: {}",
                    pruned.deleted.len(),
                    failures.join("; ")
                )));
            }
            Ok(pruned)
        })
        .await
    }

    /// `GET /volumes`: the volumes `args` select (`dangling`, `name` as a
    /// regular expression, `driver`, `label`), given which volumes
    /// containers use.
    pub async fn list_filtered(&self, args: Args) -> Result<Vec<Volume>, Error> {
        let svc = self.clone();
        crate::fsutil::blocking(move || {
            let used = |name: &str| svc.claims().contains_key(name);
            svc.select(&args, &used)
        })
        .await
    }

    fn select(&self, args: &Args, used: &dyn Fn(&str) -> bool) -> Result<Vec<Volume>, Error> {
        args.validate(&["dangling", "name", "driver", "label"])?;
        let dangling = match args.contains("dangling") {
            true => Some(args.bool_or("dangling", false)?),
            false => None,
        };
        Ok(self
            .list()?
            .into_iter()
            .filter(|v| {
                (!args.contains("driver") || args.exact("driver", &v.driver))
                    && (!args.contains("name") || args.matches("name", &v.name))
                    && args.labels_match("label", &v.labels)
                    && dangling.is_none_or(|d| d != used(&v.name))
            })
            .collect())
    }

    /// The volumes `POST /volumes/prune` removes: unused local volumes
    /// without driver options, anonymous ones only unless `all`, of those
    /// `label` and `label!` select.
    fn prune_candidates(
        &self,
        args: &Args,
        used: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Volume>, Error> {
        args.validate(&["label", "label!", "all"])?;
        let all = match args.get("all") {
            [] => false,
            [v] => go_bool(v).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "invalid filter 'all': strconv.ParseBool: parsing \"{v}\": invalid syntax"
                ))
            })?,
            more => {
                return Err(Error::InvalidArgument(format!(
                    "invalid filter 'all=[{}]': only one value is expected",
                    more.join(" ")
                )))
            }
        };
        Ok(self
            .list()?
            .into_iter()
            .filter(|v| {
                v.driver == "local"
                    && v.options.is_empty()
                    && !used(&v.name)
                    && (all || is_anonymous(v))
                    && args.labels_select(&v.labels)
            })
            .collect())
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<String>>> {
        self.inner.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Container `holder` starts using volume `name`: a volume with driver
    /// options is mounted on its `_data` if it is not yet.
    pub fn acquire(&self, name: &str, holder: &str) -> Result<(), Error> {
        let v = self.read(name)?;
        let Some(plan) = driver_opts::plan(&v.options) else {
            return Ok(());
        };
        let mut active = self.active();
        let data = self.data_dir(name);
        if !is_mounted(&data) {
            mount(name, &plan, &data)?;
        }
        active
            .entry(name.to_string())
            .or_default()
            .insert(holder.to_string());
        Ok(())
    }

    /// Container `holder` stopped using volume `name`: when no container
    /// holds it any more, its mount goes.
    pub fn release(&self, name: &str, holder: &str) {
        let mut active = self.active();
        let Some(holders) = active.get_mut(name) else {
            return;
        };
        holders.remove(holder);
        if !holders.is_empty() {
            return;
        }
        active.remove(name);
        let data = self.data_dir(name);
        if is_mounted(&data) {
            if let Err(e) = unmount(name, &data) {
                tracing::warn!(volume = %name, error = %e, "unmounting volume failed");
            }
        }
    }

    /// At daemon start, after running containers re-acquired their volumes:
    /// unmounts volumes left mounted by containers that are gone.
    pub fn reconcile(&self) {
        let active = self.active();
        for v in self.list().unwrap_or_default() {
            let data = self.data_dir(&v.name);
            if !active.contains_key(&v.name) && is_mounted(&data) {
                if let Err(e) = unmount(&v.name, &data) {
                    tracing::warn!(volume = %v.name, error = %e, "unmounting stale volume failed");
                }
            }
        }
    }
}

fn is_mounted(path: &Path) -> bool {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    berth_runtime::mountinfo::is_mount_point(&berth_runtime::mountinfo::read(), &real)
}

/// Mounts a volume's file system (or bind) on its `_data`.
fn mount(name: &str, plan: &driver_opts::MountPlan, data: &Path) -> Result<(), Error> {
    use nix::mount::{mount, MsFlags};
    let fail = |e: nix::errno::Errno| {
        Error::InvalidArgument(format!(
            "failed to mount local volume {name}: mount {} on {} (type {}, flags {:#x}, data {:?}): {}",
            plan.device,
            data.display(),
            plan.fstype,
            plan.flags.bits(),
            plan.data,
            berth_runtime::errno::errno_text(e)
        ))
    };
    if plan.is_bind() {
        let bind = MsFlags::MS_BIND | (plan.flags & MsFlags::MS_REC);
        mount(
            Some(plan.device.as_str()),
            data,
            None::<&str>,
            bind,
            None::<&str>,
        )
        .map_err(fail)?;
        let rest = plan.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !rest.is_empty() {
            let remount = rest | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
            if let Err(e) = mount(None::<&str>, data, None::<&str>, remount, None::<&str>) {
                let _ = nix::mount::umount2(data, nix::mount::MntFlags::MNT_DETACH);
                return Err(fail(e));
            }
        }
        return Ok(());
    }
    let fs_data = (!plan.data.is_empty()).then_some(plan.data.as_str());
    mount(
        Some(plan.device.as_str()),
        data,
        Some(plan.fstype.as_str()),
        plan.flags,
        fs_data,
    )
    .map_err(fail)
}

fn unmount(name: &str, data: &Path) -> Result<(), Error> {
    nix::mount::umount2(data, nix::mount::MntFlags::MNT_DETACH).map_err(|e| {
        Error::Internal(format!(
            "unmounting volume {name} at {}: {}",
            data.display(),
            berth_runtime::errno::errno_text(e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(dir: &tempfile::TempDir) -> VolumeService {
        VolumeService::open(dir.path().join("volumes"), Events::default()).unwrap()
    }

    fn sorted(volumes: Vec<Volume>) -> Vec<String> {
        let mut n: Vec<String> = volumes.into_iter().map(|v| v.name).collect();
        n.sort();
        n
    }

    #[tokio::test]
    async fn create_list_filter_remove() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let v = svc
            .create(
                "data",
                BTreeMap::from([("team".into(), "a".into())]),
                BTreeMap::new(),
                false,
            )
            .unwrap();
        assert!(Path::new(&v.mountpoint).is_dir());
        assert_eq!(
            svc.create("data", BTreeMap::new(), BTreeMap::new(), false)
                .unwrap(),
            v
        );
        let anon = svc
            .create("", BTreeMap::new(), BTreeMap::new(), true)
            .unwrap();
        assert_eq!(anon.name.len(), 64);
        svc.create("other", BTreeMap::new(), BTreeMap::new(), false)
            .unwrap();
        svc.adopt("data", "web");
        let args = Args::of;
        let names = |pairs: &'static [(&'static str, &'static str)]| {
            let svc = svc.clone();
            async move { sorted(svc.list_filtered(args(pairs)).await.unwrap()) }
        };
        assert_eq!(
            names(&[("dangling", "true")]).await,
            [anon.name.clone(), "other".into()]
        );
        assert_eq!(names(&[("dangling", "false")]).await, ["data"]);
        assert_eq!(names(&[("label", "team=a")]).await, ["data"]);
        // Not `^d`: the anonymous volume's random hex name starts with `d`
        // one time in sixteen.
        assert_eq!(names(&[("name", "^dat")]).await, ["data"]);
        assert_eq!(names(&[("name", "th")]).await, ["other"]);
        assert_eq!(names(&[("driver", "local")]).await.len(), 3);
        assert!(names(&[("driver", "loc")]).await.is_empty());
        let err = |r: Result<Vec<Volume>, Error>| r.unwrap_err().to_string();
        assert_eq!(
            err(svc.list_filtered(args(&[("until", "1h")])).await),
            "invalid filter 'until'"
        );
        assert_eq!(
            err(svc.list_filtered(args(&[("dangling", "x")])).await),
            "invalid filter 'dangling=[x]'"
        );
        let used = |n: &str| n == "data";
        let pruned =
            |pairs: &[(&str, &str)]| sorted(svc.prune_candidates(&args(pairs), &used).unwrap());
        assert_eq!(pruned(&[]), std::slice::from_ref(&anon.name));
        assert_eq!(
            pruned(&[("all", "true")]),
            [anon.name.clone(), "other".into()]
        );
        assert_eq!(
            pruned(&[("all", "1"), ("label!", "com.docker.volume.anonymous")]),
            ["other"]
        );
        assert_eq!(
            svc.prune_candidates(&args(&[("all", "yes")]), &used)
                .unwrap_err()
                .to_string(),
            "invalid filter 'all': strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        let in_use = svc.remove("data", true).await.unwrap_err();
        assert_eq!(in_use.to_string(), "remove data: volume is in use - [web]");
        assert_eq!(in_use.kind(), crate::ErrorKind::Conflict);
        svc.unclaim("data", "web", false).unwrap();
        svc.remove("data", false).await.unwrap();
        assert!(!dir.path().join("volumes/data").exists());
        assert!(matches!(svc.inspect("data"), Err(Error::NoSuchVolume(_))));
        assert!(matches!(
            svc.remove("data", false).await,
            Err(Error::NoSuchVolume(_))
        ));
        svc.remove("data", true).await.unwrap();
        assert!(svc
            .create("/abs", BTreeMap::new(), BTreeMap::new(), false)
            .is_err());
    }

    #[test]
    fn claims_create_count_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let a = svc
            .claim("", BTreeMap::new(), BTreeMap::new(), true, "c1")
            .unwrap();
        assert!(a.created && is_anonymous(&a.volume));
        let again = svc
            .claim(
                &a.volume.name,
                BTreeMap::new(),
                BTreeMap::new(),
                false,
                "c2",
            )
            .unwrap();
        assert!(!again.created);
        assert_eq!(svc.users(&a.volume.name), ["c1", "c2"]);
        // Another user keeps it, even when asked to remove it unused.
        svc.unclaim(&a.volume.name, "c1", true).unwrap();
        assert!(svc.inspect(&a.volume.name).is_ok());
        svc.unclaim(&a.volume.name, "c2", true).unwrap();
        assert!(matches!(
            svc.inspect(&a.volume.name),
            Err(Error::NoSuchVolume(_))
        ));
        assert!(svc.users(&a.volume.name).is_empty());
    }

    #[tokio::test]
    async fn prune_removes_unclaimed_and_reports_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let kept = svc
            .claim("", BTreeMap::new(), BTreeMap::new(), true, "c1")
            .unwrap()
            .volume;
        let free = svc
            .create("", BTreeMap::new(), BTreeMap::new(), true)
            .unwrap();
        std::fs::write(Path::new(&free.mountpoint).join("f"), [1u8; 100]).unwrap();
        svc.create("named", BTreeMap::new(), BTreeMap::new(), false)
            .unwrap();
        let pruned = svc.prune(Args::default()).await.unwrap();
        assert_eq!(pruned.deleted, std::slice::from_ref(&free.name));
        assert_eq!(pruned.reclaimed, 100);
        assert!(svc.inspect(&kept.name).is_ok() && svc.inspect("named").is_ok());
        let all = svc.prune(Args::of(&[("all", "true")])).await.unwrap();
        assert_eq!(all.deleted, ["named"]);
        assert!(svc.prune(Args::of(&[("all", "x")])).await.is_err());
    }
}
