//! Resource limits, statistics, freezing and teardown of a container's
//! cgroup, on cgroup v1 and v2 alike.
//!
//! Every container gets `<hierarchy root>/<parent>/<id>` in each mounted
//! hierarchy, where `<parent>` is the engine-owned parent (`berth` by
//! default). Nothing outside that subtree is ever written to, and no process
//! but the container's own is ever moved. Which version is in use is read
//! from a mountinfo file: v1 when any v1 controller is mounted (this covers
//! "hybrid" machines, whose cgroup2 mount holds no controllers), else v2.
//!
//! The roots are parameters ([`Roots`]) so tests point them at a tempdir.
//!
//! The monitor calls [`create_for_spec`] before it forks the container, the
//! container's first process joins with [`Cgroup::add_self`] before anything
//! of the user's runs, and after the container's end the monitor asks
//! [`Cgroup::oom_killed`] and calls [`Cgroup::remove`]. The engine reaches a
//! running container's cgroup with [`Cgroup::open`].

mod delegation;
mod features;
mod fs;
mod resources;
mod v1;
mod v2;

pub use delegation::{delegated, Delegated};
pub use features::{features, features_under, Features};

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, Spec};
use serde::{Deserialize, Serialize};

pub use resources::Resources;
pub(crate) use resources::{Limit, Limits};
pub use v1::V1;
pub use v2::V2;

/// Docker's default CFS period (µs), used to turn `--cpus` into a quota.
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;
/// The default engine-owned parent cgroup.
pub const DEFAULT_PARENT: &str = "berth";

/// One rule of the v1 devices controller (`linux.resources.devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a`, `c` or `b`.
    pub kind: char,
    /// `None` is `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `rwm`.
    pub access: String,
}

impl DeviceRule {
    /// The line written to `devices.allow` / `devices.deny`.
    pub fn line(&self) -> String {
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        if self.kind == 'a' {
            return "a".to_string();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }

    /// From the OCI form.
    pub fn from_oci(d: &LinuxDeviceCgroup) -> DeviceRule {
        use oci_spec::runtime::LinuxDeviceType as T;
        DeviceRule {
            allow: d.allow(),
            kind: match d.typ() {
                Some(T::C) | Some(T::U) => 'c',
                Some(T::B) => 'b',
                _ => 'a',
            },
            major: d.major(),
            minor: d.minor(),
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
        }
    }
}

/// What a container's cgroup is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupConfig {
    /// The engine-owned parent, relative to each hierarchy root (`berth`).
    pub parent: String,
    /// The container's leaf name (its id).
    pub id: String,
    pub resources: Resources,
    /// Device access rules (cgroup v1); `None` leaves device access alone.
    pub devices: Option<Vec<DeviceRule>>,
}

/// Where the kernel's files are: `<proc>/self/mountinfo` names the cgroup
/// mounts, `<proc>/stat` gives the host's cpu time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            proc: PathBuf::from("/proc"),
        }
    }
}

/// Errors from cgroup operations.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("reading {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing {value:?} to {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("creating cgroup {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no cgroup hierarchy is mounted according to {}", .0.display())]
    NoHierarchy(PathBuf),
    #[error("invalid cgroup name {0:?}: components must be non-empty and not . or ..")]
    BadName(String),
    #[error("cgroup {} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("the cgroup controller {controller} is not available in {} (not enabled by its parent; a delegated subtree has only the controllers delegated to it)", .path.display())]
    ControllerMissing { controller: String, path: PathBuf },
    #[error("{0}")]
    Invalid(String),
    #[error("freezing {}: still {state:?} after {waited_ms} ms", .path.display())]
    FreezeTimeout {
        path: PathBuf,
        state: String,
        waited_ms: u64,
    },
    #[error("removing the cgroup: {}", .0.join("; "))]
    Remove(Vec<String>),
}

pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// One v1 hierarchy: the controllers it carries and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
}

/// The cgroup layout of a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// v1 hierarchies (one or more controllers each, `name=` ones included).
    V1(Vec<V1Mount>),
    /// The unified hierarchy's mount point.
    V2(PathBuf),
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4);
        if b[i] == b'\\' {
            if let Some(oct) = oct.filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c))) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the cgroup layout from mountinfo text.
pub fn parse_mountinfo(text: &str) -> Option<Layout> {
    let mut v1 = Vec::new();
    let mut v2 = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = match left.split(' ').nth(4) {
            Some(m) => PathBuf::from(unescape(m)),
            None => continue,
        };
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let _source = r.next();
        let super_opts = r.next().unwrap_or_default();
        match fstype {
            "cgroup" => {
                let controllers: Vec<String> = super_opts
                    .split(',')
                    .filter(|o| {
                        !matches!(
                            *o,
                            "rw" | "ro"
                                | "noprefix"
                                | "clone_children"
                                | "xattr"
                                | "cpuset_v2_mode"
                        ) && !o.starts_with("release_agent=")
                    })
                    .map(String::from)
                    .collect();
                if !controllers.is_empty()
                    && !v1.iter().any(|m: &V1Mount| m.controllers == controllers)
                {
                    v1.push(V1Mount {
                        controllers,
                        mount_point,
                    });
                }
            }
            "cgroup2" if v2.is_none() => v2 = Some(mount_point),
            _ => {}
        }
    }
    if v1
        .iter()
        .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")))
    {
        Some(Layout::V1(v1))
    } else {
        v2.map(Layout::V2)
    }
}

impl Roots {
    /// The layout of the cgroup mounts.
    pub fn layout(&self) -> Result<Layout> {
        let path = self.proc.join("self/mountinfo");
        let text = fs::read(&path)?;
        parse_mountinfo(&text).ok_or(CgroupError::NoHierarchy(path))
    }
}

/// The names of the cgroups directly under `parent` (in the main
/// hierarchy): the containers' cgroups an engine made there. Empty when
/// the parent does not exist.
pub fn children(parent: &str) -> Result<Vec<String>> {
    let roots = Roots::default();
    let mut rel = relative(parent, "child")?;
    rel.pop();
    let dir = match roots.layout()? {
        Layout::V1(mounts) => V1::new(&roots, mounts, rel).main_dir(),
        Layout::V2(root) => V2::new(&roots, root, rel).main_dir(),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    Ok(out)
}

/// Checks a parent or id and returns it as a relative path.
fn relative(parent: &str, id: &str) -> Result<PathBuf> {
    let mut rel = PathBuf::new();
    for part in parent.trim_start_matches('/').split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(CgroupError::BadName(parent.to_string()));
        }
        rel.push(part);
    }
    if id.is_empty() || id == "." || id == ".." || id.contains('/') {
        return Err(CgroupError::BadName(id.to_string()));
    }
    rel.push(id);
    Ok(rel)
}

/// Statistics for `docker stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Bytes in use (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_usage: u64,
    /// The limit, `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Page cache (v1 `total_cache`, v2 `file`).
    pub memory_cache: u64,
    /// The full `memory.stat` as name → value.
    pub memory_stat: BTreeMap<String, u64>,
    /// CPU time used by the container, ns.
    pub cpu_total_ns: u64,
    /// Per cpu, ns (v1 only; empty when not cheap to read).
    pub cpu_per_cpu_ns: Vec<u64>,
    /// User and system time, ns.
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    /// The host's total cpu time from `/proc/stat`, ns (Docker's
    /// `system_cpu_usage`).
    pub system_cpu_ns: u64,
    /// Number of cpus listed in `/proc/stat`.
    pub online_cpus: u32,
    pub pids_current: u64,
    /// `None` when unlimited.
    pub pids_limit: Option<u64>,
    pub blkio_read_bytes: u64,
    pub blkio_write_bytes: u64,
}

/// A container's cgroup on either version.
#[derive(Debug, Clone)]
pub enum Cgroup {
    V1(V1),
    V2(V2),
}

macro_rules! each {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Cgroup::V1($c) => $e,
            Cgroup::V2($c) => $e,
        }
    };
}

impl Cgroup {
    /// Creates the container's cgroup (and the parent where missing) in the
    /// real hierarchies and applies its limits.
    pub fn create(cfg: &CgroupConfig) -> Result<Cgroup> {
        Cgroup::create_in(&Roots::default(), cfg)
    }

    /// [`Cgroup::create`] under other roots. On failure nothing that was
    /// made is left behind.
    pub fn create_in(roots: &Roots, cfg: &CgroupConfig) -> Result<Cgroup> {
        cfg.resources.validate().map_err(CgroupError::Invalid)?;
        let rel = relative(&cfg.parent, &cfg.id)?;
        let limits = cfg.resources.limits(true);
        match roots.layout()? {
            Layout::V1(mounts) => {
                V1::create(roots, mounts, rel, &limits, cfg.devices.as_deref()).map(Cgroup::V1)
            }
            Layout::V2(root) => {
                V2::create(roots, root, rel, &limits, cfg.devices.as_deref()).map(Cgroup::V2)
            }
        }
    }

    /// Opens an existing container cgroup.
    pub fn open(parent: &str, id: &str) -> Result<Cgroup> {
        Cgroup::open_in(&Roots::default(), parent, id)
    }

    /// [`Cgroup::open`] under other roots.
    pub fn open_in(roots: &Roots, parent: &str, id: &str) -> Result<Cgroup> {
        let rel = relative(parent, id)?;
        let cg = match roots.layout()? {
            Layout::V1(mounts) => Cgroup::V1(V1::new(roots, mounts, rel)),
            Layout::V2(root) => Cgroup::V2(V2::new(roots, root, rel)),
        };
        let dir = cg.dir();
        if !dir.is_dir() {
            return Err(CgroupError::NotFound(dir));
        }
        Ok(cg)
    }

    /// The main directory of the cgroup (v1: the memory hierarchy's, or the
    /// first one's).
    pub fn dir(&self) -> PathBuf {
        each!(self, c => c.main_dir())
    }

    /// Every directory of the cgroup (one per v1 hierarchy).
    pub fn dirs(&self) -> Vec<PathBuf> {
        each!(self, c => c.dirs())
    }

    /// The directory of one v1 controller (`cpu`, `memory`, ...); on v2 the
    /// one directory.
    pub fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        match self {
            Cgroup::V1(c) => c.controller_dir(controller),
            Cgroup::V2(c) => Some(c.main_dir()),
        }
    }

    /// Limits the kernel here cannot apply, skipped when they were set
    /// (Docker warns about these and goes on).
    pub fn warnings(&self) -> &[String] {
        each!(self, c => c.warnings())
    }

    /// Moves `pid` into the cgroup.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        each!(self, c => c.add(&pid.to_string()))
    }

    /// Moves the calling process into the cgroup (used by the container's
    /// first process before it runs anything of the user's).
    pub fn add_self(&self) -> Result<()> {
        each!(self, c => c.add("0"))
    }

    /// Stops every process of the cgroup and waits until they are stopped.
    pub fn freeze(&self) -> Result<()> {
        each!(self, c => c.freeze())
    }

    /// Lets the processes of a frozen cgroup run again.
    pub fn thaw(&self) -> Result<()> {
        each!(self, c => c.thaw())
    }

    /// Changes limits (`docker update`): only the values that are set are
    /// written. Returns warnings about limits this kernel cannot apply.
    pub fn update(&self, resources: &Resources) -> Result<Vec<String>> {
        resources.validate().map_err(CgroupError::Invalid)?;
        let limits = resources.limits(false);
        each!(self, c => c.apply(&limits))
    }

    /// What `docker stats` shows.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = each!(self, c => c.stats())?;
        let proc_stat = fs::read(&self.proc_root().join("stat"))?;
        let (system, cpus) = system_cpu(&proc_stat);
        s.system_cpu_ns = system;
        s.online_cpus = cpus;
        Ok(s)
    }

    /// The processes in the cgroup (pids as seen from the caller).
    pub fn pids(&self) -> Result<Vec<i32>> {
        each!(self, c => c.pids())
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        each!(self, c => c.oom_kills()).unwrap_or(0) > 0
    }

    /// Kills what is left in the cgroup and removes its directories. Goes on
    /// past errors and reports them all.
    pub fn remove(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let Err(e) = self.kill_all() {
            errors.push(e.to_string());
        }
        for dir in self.dirs() {
            if let Err(e) = fs::rmdir_retry(&dir) {
                errors.push(format!("removing {}: {e}", dir.display()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Remove(errors))
        }
    }

    fn proc_root(&self) -> PathBuf {
        each!(self, c => c.proc_root().to_path_buf())
    }

    /// SIGKILLs every process still in the cgroup. A pid is signalled only
    /// through a pidfd opened while `/proc/<pid>/cgroup` names this cgroup,
    /// so a recycled pid of someone else's is never hit.
    fn kill_all(&self) -> Result<()> {
        if let Cgroup::V2(c) = self {
            if c.kill_via_cgroup_kill()? {
                return fs::wait_empty(|| self.pids());
            }
        }
        for _ in 0..50 {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                self.kill_if_member(pid);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let left = self.pids()?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Invalid(format!(
                "processes {left:?} are still in the cgroup"
            )))
        }
    }

    fn kill_if_member(&self, pid: i32) {
        use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
        let Some(p) = Pid::from_raw(pid) else {
            return;
        };
        let Ok(fd) = pidfd_open(p, PidfdFlags::empty()) else {
            return;
        };
        let member = std::fs::read_to_string(self.proc_root().join(format!("{pid}/cgroup")))
            .map(|text| each!(self, c => c.is_member(&text)))
            .unwrap_or(false);
        if member {
            let _ = pidfd_send_signal(&fd, Signal::KILL);
        }
    }
}

/// Docker's `system_cpu_usage` (user through softirq of the `cpu` line, in
/// ns) and the number of `cpuN` lines.
fn system_cpu(stat: &str) -> (u64, u32) {
    // USER_HZ is 100 on every Linux architecture Docker supports.
    const NS_PER_TICK: u64 = 10_000_000;
    let mut total = 0;
    let mut cpus = 0;
    for line in stat.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                total = f.take(7).filter_map(|v| v.parse::<u64>().ok()).sum::<u64>() * NS_PER_TICK;
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// The cgroup named by a spec's `linux.cgroupsPath` (`<parent>/<id>`), with
/// its resources and device rules. `None` when the spec has no cgroups path.
pub fn config_for_spec(spec: &Spec) -> Result<Option<CgroupConfig>> {
    let Some(linux) = spec.linux() else {
        return Ok(None);
    };
    let Some(path) = linux.cgroups_path() else {
        return Ok(None);
    };
    let text = path.to_string_lossy();
    let text = text.trim_start_matches('/');
    let (parent, id) = text
        .rsplit_once('/')
        .ok_or_else(|| CgroupError::BadName(text.to_string()))?;
    let resources = linux.resources().as_ref();
    Ok(Some(CgroupConfig {
        parent: parent.to_string(),
        id: id.to_string(),
        resources: resources.map(Resources::from_oci).unwrap_or_default(),
        devices: resources
            .and_then(|r| r.devices().as_ref())
            .map(|d| d.iter().map(DeviceRule::from_oci).collect()),
    }))
}

/// For the monitor: creates the cgroup a spec asks for (before forking the
/// container). `None` when the spec names none.
pub fn create_for_spec(spec: &Spec) -> Result<Option<Cgroup>> {
    match config_for_spec(spec)? {
        Some(cfg) => Cgroup::create(&cfg).map(Some),
        None => Ok(None),
    }
}

/// Every cgroup mount point in mountinfo text (v1 hierarchies and any
/// cgroup2 mount, also the controller-less one of a hybrid machine).
pub fn all_mount_points(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if !matches!(right.split(' ').next(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        if let Some(m) = left.split(' ').nth(4) {
            let m = PathBuf::from(unescape(m));
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// Removes the engine-owned parent `parent` (and its own parents, up to the
/// hierarchy root) from every cgroup mount, where empty. Other runtimes given
/// the same cgroups path (runc, as a test oracle) also create it in the
/// cgroup2 mount of a hybrid machine, so that one is covered too. For tests
/// and for an engine that is being uninstalled.
pub fn remove_parent(roots: &Roots, parent: &str) -> Result<()> {
    let rel = relative(parent, "x")?;
    let rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let mountinfo = roots.proc.join("self/mountinfo");
    let roots_dirs = all_mount_points(&fs::read(&mountinfo)?);
    let mut errors = Vec::new();
    for root in roots_dirs {
        let mut rel = rel.clone();
        loop {
            let dir = root.join(&rel);
            match std::fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => errors.push(format!("removing {}: {e}", dir.display())),
            }
            if !rel.pop() || rel.as_os_str().is_empty() {
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CgroupError::Remove(errors))
    }
}

#[cfg(test)]
mod tests;
