//! The container service: owns every container record, its state and its
//! per-container monitor.

pub mod attach;
pub mod changes;
mod check;
pub mod create;
pub mod exec;
mod fs;
pub mod health;
mod health_run;
mod lifecycle;
pub mod links;
pub mod log_driver;
pub mod logs;
mod monitor;
pub mod mounts;
pub mod network_mode;
pub mod network_use;
pub mod options;
pub mod record;
pub mod resources;
pub mod restart;
pub mod runtime;
mod top;
mod view;
mod volumes_use;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use berth_api::container::{ContainerInspect, ContainerSummary, CreateRequest, WaitResponse};
use tokio::sync::watch;

use crate::events::{Event, Events};
use crate::images::ImageService;
use crate::paths::ContainerPaths;
use crate::{ids, time, EngineConfig, Error};
pub use record::{ContainerRecord, Snapshot, Status};

/// One live container: its record, the state published to waiters, and a lock
/// that serialises lifecycle operations (start, remove).
pub struct Container {
    pub paths: ContainerPaths,
    record: Mutex<ContainerRecord>,
    state: watch::Sender<Snapshot>,
    op: tokio::sync::Mutex<()>,
    /// Log readers (attach, logs -f) still delivering output; removal waits
    /// for them so a `--rm` container's last output is not lost.
    readers: watch::Sender<usize>,
    /// Bumped each time a monitor is spawned: attaches made before start
    /// wait for it, then connect to the monitor's socket.
    spawned: watch::Sender<u64>,
    /// Attaches waiting for the next start (the monitor then holds the
    /// program until the first one connects, so no output is missed).
    pending_attaches: watch::Sender<usize>,
    /// Held while the record file is written, and by removal while the
    /// directory goes; `true` once it is going, so late writers (an exit
    /// handler racing `rm -f`) skip the file instead of refilling the
    /// directory being deleted.
    persist: Mutex<bool>,
}

/// Counts one log reader for as long as it lives.
pub struct ReaderGuard(Arc<Container>);

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.0.readers.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Container {
    /// Registers a log reader; removal waits until its guard is dropped.
    pub fn reader(self: &Arc<Self>) -> ReaderGuard {
        self.readers.send_modify(|n| *n += 1);
        ReaderGuard(self.clone())
    }

    /// Waits until no log reader is active, at most `limit`.
    async fn readers_drained(&self, limit: std::time::Duration) {
        let mut rx = self.readers.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n == 0)).await;
    }

    fn new(paths: ContainerPaths, record: ContainerRecord) -> Arc<Container> {
        let snapshot = Snapshot {
            status: record.status,
            exit_code: record.exit_code,
            exits: 0,
            removed: false,
        };
        Arc::new(Container {
            paths,
            record: Mutex::new(record),
            state: watch::channel(snapshot).0,
            op: tokio::sync::Mutex::new(()),
            readers: watch::channel(0).0,
            spawned: watch::channel(0).0,
            pending_attaches: watch::channel(0).0,
            persist: Mutex::new(false),
        })
    }

    /// A copy of the record.
    pub fn record(&self) -> ContainerRecord {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ContainerRecord> {
        // A panic while holding the lock leaves a consistent record (every
        // update is a plain field assignment), so poisoning is ignored.
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.state.subscribe()
    }

    /// Applies `f` to the record, persists it and publishes the new state.
    fn update(&self, exited: bool, f: impl FnOnce(&mut ContainerRecord)) -> Result<(), Error> {
        self.update_announced(exited, f, |_| {})
    }

    /// [`update`](Self::update), with `announce` run on the new record
    /// before anyone waiting on the container's state is woken: the `die`
    /// event comes before whatever a waiter does next (`rm -f`'s
    /// `destroy`, `stop`'s `stop`), as Docker orders them.
    fn update_announced(
        &self,
        exited: bool,
        f: impl FnOnce(&mut ContainerRecord),
        announce: impl FnOnce(&ContainerRecord),
    ) -> Result<(), Error> {
        let (status, exit_code, bytes, snapshot) = {
            let mut rec = self.lock();
            f(&mut rec);
            let bytes = serde_json::to_vec_pretty(&*rec)
                .map_err(|e| Error::Internal(format!("serialising container record: {e}")))?;
            (rec.status, rec.exit_code, bytes, rec.clone())
        };
        announce(&snapshot);
        self.state.send_modify(|s| {
            s.status = status;
            s.exit_code = exit_code;
            if exited {
                s.exits += 1;
            }
        });
        let removing = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        if *removing {
            return Ok(());
        }
        crate::fsutil::write_atomic(&self.paths.record(), &bytes)
    }
}

/// The `die` event of a container that just exited.
fn die_event(rec: &ContainerRecord) -> Event {
    event("die", rec).with("exitCode", rec.exit_code.to_string())
}

/// A container event with Docker's attributes (image, name, labels).
fn event(action: &str, rec: &ContainerRecord) -> Event {
    Event::container(
        action,
        &rec.id,
        &rec.image_name,
        &rec.name,
        &rec.config.labels,
    )
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Arc<Container>>,
    /// name (without slash) -> id
    names: HashMap<String, String>,
}

/// Which state change `wait` returns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl std::str::FromStr for WaitCondition {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::InvalidArgument(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

/// Options of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub filters: HashMap<String, Vec<String>>,
}

#[derive(Clone)]
pub struct ContainerService {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<EngineConfig>,
    images: ImageService,
    events: Events,
    table: RwLock<Table>,
    execs: exec::ExecTable,
    /// Volumes, binds and tmpfs of containers.
    volume_use: volumes_use::VolumeUse,
    /// A container's own endpoints.
    network_use: network_use::NetworkUse,
    /// Starts, signals and watches the containers' processes.
    runtime: Arc<dyn runtime::ContainerRuntime>,
}

impl ContainerService {
    pub async fn open(
        config: Arc<EngineConfig>,
        images: ImageService,
        events: Events,
        volumes: crate::volumes::VolumeService,
        networks: crate::networks::NetworkService,
        runtime: Arc<dyn runtime::ContainerRuntime>,
    ) -> Result<ContainerService, Error> {
        let volume_use = volumes_use::VolumeUse {
            snapshots: images.snapshots().clone(),
            ignore_chown_errors: config.storage.ignore_chown_errors,
            volumes,
        };
        let svc = ContainerService {
            inner: Arc::new(Inner {
                config,
                images,
                events,
                table: RwLock::new(Table::default()),
                execs: exec::ExecTable::default(),
                volume_use,
                network_use: network_use::NetworkUse { networks },
                runtime,
            }),
        };
        let to_start = svc.load_existing()?;
        svc.inner.volume_use.volumes.reconcile();
        svc.inner.network_use.networks.reconcile();
        for id in to_start {
            let svc = svc.clone();
            tokio::spawn(async move {
                if let Err(e) = svc.start(&id).await {
                    tracing::warn!(%id, error = %e, "starting container by its restart policy failed");
                }
            });
        }
        Ok(svc)
    }

    /// Publishes a container event.
    fn publish(&self, action: &str, rec: &ContainerRecord) {
        self.inner.events.publish(event(action, rec));
    }

    fn table(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.inner.table.read().unwrap_or_else(|p| p.into_inner())
    }
    fn table_mut(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the records of an earlier daemon. A container that was running
    /// is re-adopted: its exit is picked up from the monitor's exit file.
    /// Returns the containers whose restart policy starts them with the daemon.
    fn load_existing(&self) -> Result<Vec<String>, Error> {
        let mut to_start = Vec::new();
        let root = self.inner.config.paths.containers_root();
        let entries = std::fs::read_dir(&root).map_err(Error::io("reading", &root))?;
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let paths = self.inner.config.paths.container(&id);
            let Ok(bytes) = std::fs::read(paths.record()) else {
                tracing::warn!(%id, "container directory without a record; removing it");
                let _ = std::fs::remove_dir_all(paths.dir());
                continue;
            };
            let mut record: ContainerRecord = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "unreadable container record; skipping");
                    continue;
                }
            };
            if record.status == Status::Removing {
                record.set_status(Status::Dead);
            }
            if record.status == Status::Restarting {
                record.set_status(Status::Exited);
            }
            let policy = restart::RestartPolicy::parse(&record.host_config.restart_policy)
                .unwrap_or(restart::RestartPolicy::No);
            if !matches!(record.status, Status::Running | Status::Paused)
                && policy.starts_with_daemon(record.manually_stopped)
            {
                to_start.push(id.clone());
            }
            // A paused container runs too (frozen): it is re-adopted like a
            // running one, and its exit (or its absence) is picked up.
            let running = matches!(record.status, Status::Running | Status::Paused);
            if !running {
                // A daemon killed between starting a container and
                // recording it: its processes are stopped, so it is a
                // created (or exited) container again.
                let stopped = self
                    .inner
                    .runtime
                    .remove_leftovers(&record.id)
                    .unwrap_or_else(|e| {
                        tracing::warn!(id = %record.id, error = %e, "removing the cgroup of a container that was not running failed");
                        0
                    });
                if stopped > 0 {
                    tracing::warn!(id = %record.id, processes = stopped, "stopped the processes of a container whose start was not recorded");
                }
            }
            self.inner.volume_use.adopt_volumes(&record);
            let container = Container::new(paths, record.clone());
            {
                let mut t = self.table_mut();
                t.names.insert(record.name.clone(), id.clone());
                t.by_id.insert(id, container.clone());
            }
            remove_commit_leftovers(container.paths.dir());
            if running && record.paused_for_commit {
                // A commit's pause, cut short by a killed daemon.
                let thawed = self.inner.runtime.thaw(&record.id);
                match thawed {
                    Ok(()) => {
                        if let Err(e) = container.update(false, |r| {
                            r.set_status(Status::Running);
                            r.paused_for_commit = false;
                        }) {
                            tracing::warn!(id = %record.id, error = %e, "recording the unpause after an interrupted commit failed");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(id = %record.id, error = %e, "thawing a container an interrupted commit paused failed")
                    }
                }
            }
            if running {
                if let Err(e) = self.inner.volume_use.acquire_volumes(&record) {
                    tracing::warn!(id = %record.id, error = %e, "re-mounting the volumes of a running container failed");
                }
                if !record.sandbox_key.is_empty() {
                    self.inner.network_use.networks.restore(
                        &record.id,
                        &record.name,
                        &record.endpoints,
                        &record.ports,
                    );
                }
                monitor::readopt(self.clone(), container);
            }
        }
        Ok(to_start)
    }

    /// The host pid of a running container, for joining its namespaces.
    pub fn running_pid(&self, name_or_id: &str) -> Result<i64, Error> {
        let rec = self.get(name_or_id)?.record();
        if !rec.status.is_running() || rec.pid <= 0 {
            return Err(Error::Conflict {
                message: format!(
                    "cannot join namespace of a non running container {}",
                    rec.id
                ),
            });
        }
        Ok(rec.pid)
    }

    /// Finds a container by full id, name (with or without `/`), or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Arc<Container>, Error> {
        let t = self.table();
        let key = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if let Some(c) = t.by_id.get(key) {
            return Ok(c.clone());
        }
        if let Some(id) = t.names.get(key) {
            if let Some(c) = t.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_hexdigit()) {
            let mut matches = t.by_id.iter().filter(|(id, _)| id.starts_with(key));
            if let Some((_, c)) = matches.next() {
                if matches.next().is_some() {
                    return Err(Error::InvalidArgument(format!(
                        "multiple IDs found with provided prefix: {key}"
                    )));
                }
                return Ok(c.clone());
            }
        }
        Err(Error::NoSuchContainer(name_or_id.to_string()))
    }

    /// `POST /containers/create`.
    pub async fn create(
        &self,
        req: CreateRequest,
        name: Option<String>,
    ) -> Result<(String, Vec<String>), Error> {
        create::validate(&req)?;
        if self.inner.config.userns_remap.is_some() {
            create::check_remapped(&req.host_config)?;
        }
        if req.config.image.is_empty() {
            return Err(Error::InvalidArgument(
                "config cannot be empty in order to create a container".into(),
            ));
        }
        let image = self.inner.images.resolve(&req.config.image).await?;
        let image_config = self.inner.images.config_json(&image.id).await?;
        let mut config = create::merge_image_config(&req.config, &image_config);
        let (path, args) = create::command(&config)?;
        let id = ids::new_id();
        let endpoints = self.inner.network_use.plan_endpoints(
            &req.host_config,
            req.networking_config.as_ref(),
            req.config.mac_address.as_deref(),
            &|name| self.get(name).map(|_| ()),
        )?;
        if config.hostname.is_empty() {
            config.hostname = if req.host_config.network_mode == "host" {
                network_use::HostFiles::read().hostname
            } else {
                ids::short(&id).to_string()
            };
        }
        self.check_runtime_options(&id, &config, &req.host_config, &path, &args)?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.strip_prefix('/').unwrap_or(&n).to_string();
                if !ids::valid_name(&n) {
                    return Err(Error::InvalidArgument(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                n
            }
            None => self.unused_random_name(),
        };
        let mut host_config = req.host_config;
        if host_config.runtime.is_empty() {
            host_config.runtime = create::RUNTIME.to_string();
        }
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = log_driver::DEFAULT_DRIVER.to_string();
        }
        host_config.links = self.record_links(&name, &host_config)?;
        let mut endpoints = endpoints;
        // On a user network a link is a name this container resolves.
        if let Some(primary) = endpoints.first_mut().filter(|e| e.network_name != "bridge") {
            for l in &host_config.links {
                let l = links::Link::parse(l)?;
                primary.links.push(format!("{}:{}", l.target, l.alias));
            }
        }
        let record = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: time::now(),
            image_name: req.config.image.clone(),
            image_id: image.id.clone(),
            config,
            host_config: berth_api::container::HostConfig {
                // Docker records its default size.
                shm_size: match host_config.shm_size {
                    0 => create::DEFAULT_SHM_SIZE,
                    n => n,
                },
                ..host_config
            },
            path,
            args,
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: time::ZERO.into(),
            finished_at: time::ZERO.into(),
            restart_count: 0,
            manually_stopped: false,
            paused_for_commit: false,
            oom_killed: false,
            mounts: Vec::new(),
            health: None,
            restart_delay_ms: 0,
            endpoints,
            ports: Vec::new(),
            sandbox_key: String::new(),
        };
        let paths = self.inner.config.paths.container(&id);
        {
            let mut t = self.table_mut();
            if let Some(other) = t.names.get(&name) {
                return Err(Error::Conflict {
                    message: format!(
                        "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    ),
                });
            }
            t.names.insert(name.clone(), id.clone());
        }
        let mut record = record;
        record.mounts = match self
            .inner
            .volume_use
            .prepare_mounts(&record, &|name| self.get(name).map(|c| c.record()))
        {
            Ok(m) => m,
            Err(e) => {
                self.table_mut().names.remove(&name);
                return Err(e);
            }
        };
        let persisted = std::fs::create_dir_all(paths.dir())
            .map_err(Error::io("creating", paths.dir()))
            .and_then(|()| {
                let bytes = serde_json::to_vec_pretty(&record)
                    .map_err(|e| Error::Internal(format!("serialising container record: {e}")))?;
                crate::fsutil::write_atomic(&paths.record(), &bytes)
            });
        if let Err(e) = persisted {
            self.table_mut().names.remove(&name);
            let _ = std::fs::remove_dir_all(paths.dir());
            self.inner.volume_use.unclaim_volumes(&record, true);
            return Err(e);
        }
        self.publish("create", &record);
        let container = Container::new(paths, record);
        self.table_mut().by_id.insert(id.clone(), container);
        Ok((id, Vec::new()))
    }

    /// Builds the runtime spec once at create time, so a bad capability,
    /// sysctl, device or limit is a 400 now rather than a failed start.
    fn check_runtime_options(
        &self,
        id: &str,
        config: &berth_api::container::ContainerConfig,
        host_config: &berth_api::container::HostConfig,
        path: &str,
        args: &[String],
    ) -> Result<(), Error> {
        options::check_limits(self.inner.config.limits_refused(), &host_config.resources)?;
        let probe = ContainerRecord {
            id: id.to_string(),
            name: String::new(),
            created: String::new(),
            image_name: String::new(),
            image_id: String::new(),
            config: config.clone(),
            host_config: host_config.clone(),
            path: path.to_string(),
            args: args.to_vec(),
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            restart_count: 0,
            manually_stopped: false,
            paused_for_commit: false,
            oom_killed: false,
            mounts: Vec::new(),
            health: None,
            restart_delay_ms: 0,
            endpoints: Vec::new(),
            ports: Vec::new(),
            sandbox_key: String::new(),
        };
        // Joined containers must exist; whether they run is checked at start.
        let exists = |name: &str| self.get(name).map(|_| 1);
        let opts = options::spec_options(&probe, "/".into(), &self.inner.config, None, &exists)?;
        berth_runtime::spec::build_spec(&opts)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(())
    }

    fn unused_random_name(&self) -> String {
        let t = self.table();
        loop {
            let n = ids::random_name();
            if !t.names.contains_key(&n) {
                return n;
            }
        }
    }

    /// `POST /containers/{id}/start`.
    pub async fn start(&self, name_or_id: &str) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if rec.status.is_running() {
            return Err(Error::AlreadyRunning(rec.id));
        }
        if !rec.status.can_start() {
            return Err(Error::Conflict {
                message: format!(
                    "cannot start container {}: it is {}",
                    rec.id,
                    rec.status.as_str()
                ),
            });
        }
        c.update(false, |r| r.manually_stopped = false)?;
        let layers = self.inner.images.layer_dirs(&rec.image_id).await?;
        self.inner.volume_use.acquire_volumes(&rec)?;
        let started = async {
            self.inner.network_use.attach_networks(&c).await?;
            let rec = c.record();
            let view = c.paths.bundle().join("image-view");
            (self.inner.volume_use)
                .populate_volumes(view, &rec, &layers)
                .await?;
            monitor::start(self, &c, &rec, layers).await
        }
        .await;
        if let Err(e) = started {
            self.inner.network_use.detach_networks(&c).await;
            self.inner.volume_use.release_volumes(&rec);
            // Whatever failed (the program, a mount, a network), `--rm`
            // removes the container; the lifecycle lock is held here, so
            // after this returns.
            let (svc, c) = (self.clone(), c.clone());
            tokio::spawn(async move { svc.on_start_failed(&c).await });
            return Err(e);
        }
        self.publish("start", &c.record());
        self.start_health(&c).await;
        Ok(())
    }

    /// `start` as a boxed future with a nameable type: restarts start
    /// containers from tasks that run when a container exits, which would
    /// otherwise make the future's type recursive.
    pub(crate) fn start_boxed(
        &self,
        id: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send>> {
        let svc = self.clone();
        Box::pin(async move { svc.start(&id).await })
    }

    /// Called when a start failed before the user's program ran.
    async fn on_start_failed(&self, c: &Arc<Container>) {
        let rec = c.record();
        if rec.host_config.auto_remove {
            if let Err(e) = self.remove(&rec.id, true, true).await {
                if e.kind() != crate::ErrorKind::NotFound {
                    tracing::warn!(id = %rec.id, error = %e, "auto-removing container failed");
                }
            }
        }
    }

    /// Called when a container stopped: removes it when it asked for `--rm`,
    /// else restarts it when its policy says so.
    async fn on_exit(&self, c: &Arc<Container>) {
        self.inner.network_use.detach_networks(c).await;
        let rec = c.record();
        self.inner.volume_use.release_volumes(&rec);
        if rec.host_config.auto_remove {
            if let Err(e) = self.remove(&rec.id, true, true).await {
                if e.kind() != crate::ErrorKind::NotFound {
                    tracing::warn!(id = %rec.id, error = %e, "auto-removing container failed");
                }
            }
            return;
        }
        lifecycle::restart_by_policy(self, c);
    }

    /// `POST /containers/{id}/wait`.
    pub async fn wait(
        &self,
        name_or_id: &str,
        condition: WaitCondition,
    ) -> Result<WaitResponse, Error> {
        let c = self.get(name_or_id)?;
        let mut rx = c.subscribe();
        let first = rx.borrow_and_update().clone();
        let done = |s: &Snapshot| match condition {
            WaitCondition::NotRunning => !s.status.is_running(),
            WaitCondition::NextExit => s.exits > first.exits,
            WaitCondition::Removed => s.removed,
        };
        drop(c);
        let mut last = first.clone();
        loop {
            if done(&last) {
                break;
            }
            if rx.changed().await.is_err() {
                break;
            }
            last = rx.borrow_and_update().clone();
        }
        Ok(WaitResponse {
            status_code: last.exit_code,
            error: None,
        })
    }

    /// `DELETE /containers/{id}`.
    /// `DELETE /containers/{id}`; `volumes` also removes its anonymous volumes.
    pub async fn remove(&self, name_or_id: &str, force: bool, volumes: bool) -> Result<(), Error> {
        let c = self.get(name_or_id)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        if rec.status == Status::Removing {
            return Err(Error::Conflict {
                message: format!("removal of container {} is already in progress", rec.id),
            });
        }
        if (rec.status.is_running() || rec.status == Status::Restarting) && !force {
            return Err(Error::Conflict {
                message: format!(
                    "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                    rec.name,
                    rec.status.as_str()
                ),
            });
        }
        if rec.status.is_running() {
            self.thaw_if_paused(&c).await?;
            self.publish_kill(&rec, nix::sys::signal::Signal::SIGKILL);
            monitor::kill_and_wait(self, &c, libc::SIGKILL).await?;
        }
        c.readers_drained(std::time::Duration::from_secs(5)).await;
        // The exit handler does this too; doing it here (both are
        // idempotent) means nothing of the container's network or volume
        // mounts outlives the answer to `rm`.
        self.inner.network_use.detach_networks(&c).await;
        self.inner.volume_use.release_volumes(&c.record());
        let _ = c.update(false, |r| {
            r.set_status(Status::Removing);
        });
        let dir = c.paths.dir().to_path_buf();
        let doomed = c.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut removing = doomed.persist.lock().unwrap_or_else(|p| p.into_inner());
            *removing = true;
            let result = std::fs::remove_dir_all(&dir).map_err(Error::io("removing", dir));
            *removing = result.is_ok();
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("removal task failed: {e}")))?;
        if let Err(e) = removed {
            let _ = c.update(false, |r| {
                r.set_status(Status::Dead);
            });
            return Err(e);
        }
        {
            let mut t = self.table_mut();
            t.by_id.remove(&rec.id);
            if t.names.get(&rec.name) == Some(&rec.id) {
                t.names.remove(&rec.name);
            }
        }
        c.state.send_modify(|s| s.removed = true);
        self.forget_execs(&rec.id);
        self.inner.volume_use.unclaim_volumes(&rec, volumes);
        self.publish("destroy", &rec);
        Ok(())
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, name_or_id: &str) -> Result<ContainerInspect, Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        let mut out = view::inspect(&rec, &c.paths);
        out.mounts = self.inner.volume_use.inspect_mounts(&rec);
        out.network_settings = self.inner.network_use.network_settings(&rec);
        let execs = self.exec_ids(&rec.id);
        out.exec_ids = (!execs.is_empty()).then_some(execs);
        Ok(out)
    }

    /// `GET /containers/json`.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>, Error> {
        let mut filter = view::Filter::parse(&opts.filters)?;
        filter.resolve(&|name| Ok(self.get(name)?.record().created))?;
        let mut records: Vec<ContainerRecord> =
            self.table().by_id.values().map(|c| c.record()).collect();
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let now = chrono::Utc::now();
        let mut out: Vec<ContainerSummary> = records
            .iter()
            .filter(|r| opts.all || r.status.is_running() || filter.mentions_status())
            .filter(|r| filter.matches(r))
            .map(|r| {
                let mut s = view::summary(r, now);
                s.names.extend(self.link_names(r));
                s.ports = network_use::NetworkUse::ports_json(r);
                s.network_settings =
                    serde_json::json!({ "Networks": self.inner.network_use.endpoints_json(r) });
                s
            })
            .collect();
        if let Some(limit) = opts.limit {
            out.truncate(limit);
        }
        Ok(out)
    }

    /// Whether any container uses the image; its id if so.
    pub fn user_of_image(&self, image_id: &str) -> Option<String> {
        self.table()
            .by_id
            .values()
            .map(|c| c.record())
            .find(|r| r.image_id == image_id)
            .map(|r| r.id)
    }

    /// Counts by status for `/info`: (total, running, stopped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let t = self.table();
        let total = t.by_id.len();
        let running = t
            .by_id
            .values()
            .filter(|c| c.record().status.is_running())
            .count();
        (total, running, total - running)
    }
}

/// Removes the layer tars (`commit-*.tar`) of commits a killed daemon left
/// in a container's directory.
fn remove_commit_leftovers(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("commit-") && name.ends_with(".tar") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
