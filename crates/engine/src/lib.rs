//! The daemon's domain: every use case behind the Engine API, over
//! services that each own one kind of state — images ([`images`]), containers
//! ([`container`], with their logs, exec and attach), volumes ([`volumes`]),
//! networks ([`networks`]) — plus builds ([`build`]), pull and push
//! ([`pull`], [`push`]), events ([`events`]) and use cases that span
//! services as [`Engine`] methods ([`disk_usage`]). Every path it writes is
//! built in [`paths`]; file helpers (the one atomic write) are in
//! [`fsutil`].
//!
//! The server crate translates HTTP into calls on [`Engine`]; this crate
//! never sees HTTP. Errors carry an [`ErrorKind`] that the server maps to a
//! status code in one table.

pub mod build;
pub mod check;
pub mod container;
pub mod disk_usage;
pub mod error;
pub mod events;
pub mod filters;
pub mod fsutil;
pub mod history;
pub mod ids;
pub mod images;
pub mod login;
pub mod monitor_io;
pub mod networks;
pub mod paths;
pub mod pull;
pub mod push;
pub mod snapshots;
pub mod system;
pub mod time;
pub mod volumes;

use std::sync::Arc;

pub use berth_image::StoreOptions;
pub use error::{Error, ErrorKind};
pub use paths::Paths;

/// Engine settings from the daemon's command line.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub paths: Paths,
    /// The binary re-executed as the per-container monitor (`berth __monitor`).
    pub monitor_exe: std::path::PathBuf,
    /// The engine-owned parent cgroup every container lives under.
    pub cgroup_parent: String,
    /// Bridge name, `--bip` and firewall table.
    pub network: networks::NetSettings,
    /// Registries reached over plain HTTP (`--insecure-registry`), besides
    /// loopback ones.
    pub insecure_registries: Vec<String>,
    /// How the image store keeps layers' owners.
    pub storage: berth_image::StoreOptions,
    /// Overlays served by `fuse-overlayfs` rather than the kernel
    /// (`--storage-driver fuse-overlayfs`, or a rootless daemon whose
    /// kernel refuses overlayfs in a user namespace).
    pub fuse_overlay: bool,
    /// An ordinary user's daemon: what differs. `None` for root's.
    pub rootless: Option<RootlessConfig>,
    /// `--userns-remap`: each container gets a user namespace of its own
    /// with these maps (unless it asks for `--userns host`).
    pub userns_remap: Option<UsernsRemap>,
}

/// A root daemon's `--userns-remap`.
#[derive(Debug, Clone)]
pub struct UsernsRemap {
    /// The user and group whose subordinate ranges make the maps
    /// (`dockremap` for `default`, as Docker).
    pub user: String,
    pub group: String,
    pub maps: berth_runtime::spec::UserNamespace,
}

/// What differs for a daemon of an ordinary user, run in a user namespace
/// it owns (see `berth::rootless`).
#[derive(Debug, Clone)]
pub struct RootlessConfig {
    /// The helper outside the daemon's network namespace that binds
    /// published ports on the host (`berth_network::hostports`).
    pub ports_socket: std::path::PathBuf,
    /// Why containers get no cgroup, so resource limits are refused;
    /// `None` when a delegated cgroup v2 subtree holds them (then
    /// `cgroup_parent` lies in it).
    pub no_cgroups: Option<String>,
    /// What does not work in this setting, for `info`.
    pub warnings: Vec<String>,
}

impl EngineConfig {
    /// Why resource limits cannot be applied; `None` when they can.
    pub fn limits_refused(&self) -> Option<&str> {
        self.rootless.as_ref().and_then(|r| r.no_cgroups.as_deref())
    }

    /// A container's overlay: its image's layers (lowest first) under its
    /// writable directories, mounted as this daemon mounts overlays.
    pub fn overlay(
        &self,
        lower: Vec<std::path::PathBuf>,
        upper: std::path::PathBuf,
        work: std::path::PathBuf,
    ) -> berth_runtime::mounts::Overlay {
        berth_runtime::mounts::Overlay {
            lower,
            upper,
            work,
            userxattr: self.storage.user_xattrs,
            fuse: self.fuse_overlay,
        }
    }

    /// The user namespace of a container with `HostConfig.UsernsMode`
    /// `mode`: the remapped one, unless the daemon does not remap or the
    /// container asks for the host's (`host`).
    pub fn userns_for(&self, mode: &str) -> Option<berth_runtime::spec::UserNamespace> {
        self.userns_remap
            .as_ref()
            .filter(|_| mode != "host")
            .map(|r| r.maps.clone())
    }

    /// The parent of containers' cgroups; `None` when they get none.
    pub fn cgroups(&self) -> Option<&str> {
        match self.limits_refused() {
            None => Some(&self.cgroup_parent),
            Some(_) => None,
        }
    }
}

/// The engine: a handful of services, each owning its own store.
#[derive(Clone)]
pub struct Engine {
    pub images: images::ImageService,
    pub containers: container::ContainerService,
    pub events: events::Events,
    pub volumes: volumes::VolumeService,
    pub networks: networks::NetworkService,
    pub config: Arc<EngineConfig>,
    /// The daemon's ID, kept in the root across restarts.
    pub id: Arc<str>,
    /// The hold on the root, for as long as any clone of the engine lives.
    _root_lock: Arc<system::RootLock>,
}

/// What the engine does its kernel work through: the real kernel for the
/// daemon, in-memory fakes in tests.
#[derive(Clone)]
pub struct Hosts {
    /// Bridges, namespaces, veths, ports, firewall, DNS servers.
    pub network: Arc<dyn networks::NetworkHost>,
    /// The containers' processes: monitors started, signalled, watched.
    pub runtime: Arc<dyn container::runtime::ContainerRuntime>,
    /// Read-only trees of images for the daemon's own reading.
    pub snapshots: Arc<dyn snapshots::Snapshots>,
    /// How registries are reached.
    pub dialer: berth_registry::dial::Dialer,
}

impl Hosts {
    /// The real kernel (needs root, or a rootless daemon's user namespace),
    /// with the configured monitor, cgroup parent and host ports. Call from within the
    /// tokio runtime the DNS servers should run on.
    pub fn linux(config: &EngineConfig) -> Hosts {
        Hosts {
            network: Arc::new(networks::LinuxHost {
                runtime: tokio::runtime::Handle::current(),
                host_ports: config.rootless.as_ref().map(|r| r.ports_socket.clone()),
            }),
            runtime: Arc::new(container::runtime::LinuxRuntime {
                monitor_exe: config.monitor_exe.clone(),
                cgroup_parent: config.cgroup_parent.clone(),
                cgroups: config.cgroups().is_some(),
            }),
            snapshots: Arc::new(snapshots::MountSnapshots {
                userxattr: config.storage.user_xattrs,
                fuse: config.fuse_overlay,
            }),
            dialer: match &config.rootless {
                None => berth_registry::dial::Dialer::direct(),
                Some(r) => networks::rootless_dialer(r.ports_socket.clone()),
            },
        }
    }
}

impl Engine {
    /// Opens the stores under the configured roots and re-adopts containers
    /// left by an earlier daemon, on the real kernel.
    pub async fn open(config: EngineConfig) -> Result<Engine, Error> {
        let hosts = Hosts::linux(&config);
        Self::open_with(config, hosts).await
    }

    /// [`Engine::open`] over the given hosts.
    pub async fn open_with(config: EngineConfig, hosts: Hosts) -> Result<Engine, Error> {
        config.paths.create_dirs()?;
        let root_lock = Arc::new(system::lock_root(&config.paths.lock_file())?);
        let id: Arc<str> = system::engine_id(&config.paths.engine_id_file())?.into();
        let config = Arc::new(config);
        let events = events::Events::default();
        let images = images::ImageService::open(
            &config.paths,
            config.storage,
            hosts.snapshots.clone(),
            events.clone(),
            hosts.dialer.clone(),
        )
        .await?;
        // Downloads an earlier daemon left unfinished.
        pull::remove_partials(&images.store().root().join("downloads"));
        let volumes = volumes::VolumeService::open(config.paths.volumes_root(), events.clone())?;
        let networks = {
            let (dir, netns) = (config.paths.networks_root(), config.paths.netns_root());
            let (settings, events) = (config.network.clone(), events.clone());
            let host = hosts.network.clone();
            tokio::task::spawn_blocking(move || {
                networks::NetworkService::open(dir, netns, settings, events, host)
            })
            .await
            .map_err(|e| Error::Internal(format!("network setup task failed: {e}")))??
        };
        let containers = container::ContainerService::open(
            config.clone(),
            images.clone(),
            events.clone(),
            volumes.clone(),
            networks.clone(),
            hosts.runtime.clone(),
        )
        .await?;
        let engine = Engine {
            images,
            containers,
            events,
            volumes,
            networks,
            config,
            id,
            _root_lock: root_lock,
        };
        build::remove_left_steps(&engine).await;
        // In the background: the daemon serves meanwhile.
        let checked = engine.clone();
        tokio::spawn(async move { check::at_start(&checked).await });
        Ok(engine)
    }
}
