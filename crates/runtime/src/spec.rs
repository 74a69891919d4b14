//! Builds the OCI runtime spec for one container with Docker's defaults.
//!
//! [`build_spec`] is pure: the same [`SpecOptions`] always give the same spec,
//! and [`to_json`] serialises it deterministically (capability sets and maps
//! sorted), so the result can be compared with golden files and read by
//! Debian's `runc` as a test oracle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDevice, LinuxDeviceBuilder,
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxNamespace,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResources, LinuxSeccomp, Mount, MountBuilder,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

pub use crate::cgroups::Resources;
use crate::devices::HostDevice;
pub use crate::rlimit::Ulimit;
use crate::{GROUPS_ANNOTATION, INIT_ANNOTATION, SECCOMP_CACHE_ANNOTATION, USER_ANNOTATION};

/// Docker's default `PATH`, used when the given environment has none.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The OCI runtime-spec version written into `config.json`.
pub const OCI_VERSION: &str = "1.0.2";

/// Docker's default capability set (granted to root in the container).
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths Docker hides from the container.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in the container.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Errors from building a spec.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container has no command to run.
    #[error("no command specified")]
    NoCommand,
    /// The `-u` value is malformed or out of range.
    #[error("invalid user {user:?}: {reason}")]
    InvalidUser { user: String, reason: &'static str },
    /// An environment entry has no `=` or an empty name.
    #[error("invalid device cgroup format '{0}'")]
    DeviceCgroupRule(String),
    #[error("invalid environment variable {0:?}")]
    InvalidEnv(String),
    /// The working directory is not absolute.
    #[error("the working directory {0:?} is invalid, it needs to be an absolute path")]
    RelativeCwd(String),
    /// oci-spec refused a value (a bug in this module).
    #[error("building the oci spec")]
    Oci(#[source] oci_spec::OciSpecError),
    /// Serialising the spec failed.
    #[error("serialising the oci spec")]
    Json(#[source] serde_json::Error),
    /// `--cap-add`/`--cap-drop` named something wrong.
    #[error(transparent)]
    Capability(#[from] crate::caps::CapsError),
    /// A resource limit is out of range or conflicts with another.
    #[error("{0}")]
    Resources(String),
    /// The cgroup parent or container id cannot name a cgroup.
    #[error("invalid cgroup name: {0}")]
    CgroupName(String),
    /// The seccomp profile cannot be used.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::profile::ProfileError),
    /// A `--device` is malformed or missing.
    #[error("{0}")]
    Device(String),
    /// A `--sysctl` is not allowed.
    #[error("{0}")]
    Sysctl(String),
    /// A `--ulimit` is malformed or too high.
    #[error("{0}")]
    Ulimit(String),
    /// A `--tmpfs` is malformed.
    #[error("invalid tmpfs mount {0:?}: the target must be an absolute path other than /")]
    Tmpfs(String),
    /// A namespace to join is not an absolute path.
    #[error("invalid {kind} namespace path {path:?}: it must be absolute")]
    Namespace { kind: &'static str, path: PathBuf },
}

impl From<oci_spec::OciSpecError> for Error {
    fn from(e: oci_spec::OciSpecError) -> Self {
        Error::Oci(e)
    }
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A profile in Docker's JSON format.
    Profile(String),
}

/// How a container gets one of its namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NsMode {
    /// A new namespace of its own.
    #[default]
    Private,
    /// The host's (no namespace of its own).
    Host,
    /// Another one's, by path (`/proc/<pid>/ns/<kind>`).
    Join(PathBuf),
    /// One made for this container beforehand (a network namespace the
    /// engine wired up), joined by path but the container's own.
    Prepared(PathBuf),
}

impl NsMode {
    /// Whether the container has the namespace to itself (its namespaced
    /// sysctls may be set).
    pub fn is_own(&self) -> bool {
        matches!(self, NsMode::Private | NsMode::Prepared(_))
    }
}

/// `--pid`, `--ipc`, `--uts`, `--network` as namespace modes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub pid: NsMode,
    pub ipc: NsMode,
    pub uts: NsMode,
    pub net: NsMode,
}

/// What the engine knows about a container that shapes its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecOptions {
    /// The command and its arguments (entrypoint + cmd, already combined).
    pub args: Vec<String>,
    /// `NAME=value` entries; a default `PATH` is added when none is given.
    pub env: Vec<String>,
    /// Working directory; empty means `/`.
    pub cwd: String,
    /// `docker run -u`: `""`, `uid`, `uid:gid`, `name`, `name:group`.
    pub user: String,
    /// The container's hostname; empty leaves the spec without one.
    pub hostname: String,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// Where the root filesystem will be (the overlay mount point).
    pub rootfs: PathBuf,
    /// The container id, the name of its cgroup; empty means no cgroup.
    pub id: String,
    /// The engine-owned parent cgroup (`berth`).
    pub cgroup_parent: String,
    /// Resource limits with Docker's meanings.
    pub resources: Resources,
    /// `--cap-add`, names with or without `CAP_`, or `ALL`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`, names with or without `CAP_`, or `ALL`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt seccomp=`.
    pub seccomp: Seccomp,
    /// Where compiled seccomp filters are cached (the engine's state dir).
    pub seccomp_cache_dir: Option<PathBuf>,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// `--shm-size` in bytes; 0 keeps Docker's 64 MiB.
    pub shm_size: u64,
    /// `--tmpfs target[:options]` as (target, options such as `size=64m,mode=1777`).
    pub tmpfs: Vec<(String, String)>,
    /// `--device /dev/host[:/dev/ctr[:rwm]]`.
    pub devices: Vec<String>,
    /// `--device-cgroup-rule 'c 1:3 rwm'`: more devices the container may
    /// use (or create).
    pub device_cgroup_rules: Vec<String>,
    /// `--group-add`: group names or numbers.
    pub group_add: Vec<String>,
    /// `--sysctl`.
    pub sysctls: BTreeMap<String, String>,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--pid`, `--ipc`, `--uts`, `--network` namespaces.
    pub namespaces: Namespaces,
    /// `--init`: a minimal init of the runtime's own runs as pid 1.
    pub init: bool,
    /// `HostConfig.Annotations`: the user's OCI annotations; keys under
    /// `berth.` are the runtime's own and never taken from here.
    pub annotations: BTreeMap<String, String>,
    /// `-t`: the process gets a terminal.
    pub tty: bool,
    /// A user namespace of its own with these maps (`--userns-remap`);
    /// `None`: the daemon's.
    pub userns: Option<UserNamespace>,
}

/// The maps of a container's own user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNamespace {
    pub uids: Vec<crate::subid::IdRange>,
    pub gids: Vec<crate::subid::IdRange>,
}

impl Default for SpecOptions {
    fn default() -> Self {
        SpecOptions {
            args: Vec::new(),
            env: Vec::new(),
            cwd: String::new(),
            user: String::new(),
            hostname: String::new(),
            no_new_privileges: false,
            rootfs: PathBuf::new(),
            id: String::new(),
            cgroup_parent: crate::cgroups::DEFAULT_PARENT.to_string(),
            resources: Resources::default(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            seccomp: Seccomp::Default,
            seccomp_cache_dir: None,
            readonly_rootfs: false,
            shm_size: 0,
            tmpfs: Vec::new(),
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
            group_add: Vec::new(),
            sysctls: BTreeMap::new(),
            ulimits: Vec::new(),
            namespaces: Namespaces::default(),
            init: false,
            annotations: BTreeMap::new(),
            tty: false,
            userns: None,
        }
    }
}

mod host;
pub use host::{kernel_version, FixedHost, Host, RealHost};

/// A `-u` value split into its parts, as far as can be known outside the
/// container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// Numeric uid, or `None` when the user is a name.
    pub uid: Option<u32>,
    /// Numeric gid, or `None` when absent or a name.
    pub gid: Option<u32>,
}

/// Docker's range for numeric ids.
const MAX_ID: u64 = 2_147_483_647;

fn parse_id(user: &str, part: &str) -> Result<Option<u32>, Error> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match part.parse::<u64>() {
        Ok(n) if n <= MAX_ID => Ok(Some(n as u32)),
        _ => Err(Error::InvalidUser {
            user: user.to_string(),
            reason: "uids and gids must be in range 0-2147483647",
        }),
    }
}

/// Splits a `-u` value into its numeric parts.
pub fn parse_user(user: &str) -> Result<UserSpec, Error> {
    let mut parts = user.splitn(2, ':');
    let name = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    if name.is_empty() && !group.is_empty() {
        return Err(Error::InvalidUser {
            user: user.to_string(),
            reason: "a group needs a user",
        });
    }
    Ok(UserSpec {
        uid: parse_id(user, name)?,
        gid: parse_id(user, group)?,
    })
}

/// The process environment: a name without `=` unsets that variable (as
/// Docker treats such entries), and `PATH` gets its default when unset.
fn env_with_path(env: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::with_capacity(env.len() + 1);
    for e in env {
        match e.split_once('=') {
            Some((name, _)) if !name.is_empty() => out.push(e.clone()),
            None if !e.is_empty() => {
                out.retain(|o| o.split_once('=').map(|(k, _)| k) != Some(e.as_str()));
            }
            _ => return Err(Error::InvalidEnv(e.clone())),
        }
    }
    let path_unset = env.iter().any(|e| e == "PATH");
    if !path_unset && !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, DEFAULT_PATH_ENV.to_string());
    }
    Ok(out)
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, Error> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// Docker's default mounts (without `/sys/fs/cgroup`, which arrives with
/// cgroup namespaces). `/sys` is read-only unless `privileged`.
pub fn default_mounts_for(privileged: bool) -> Result<Vec<Mount>, Error> {
    let sys_opts: &[&str] = if privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount("/sys", "sysfs", "sysfs", sys_opts)?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        )?,
    ])
}

/// Docker's default mounts for an unprivileged container.
pub fn default_mounts() -> Result<Vec<Mount>, Error> {
    default_mounts_for(false)
}

/// Flags that come in pairs: the later one of a pair wins.
const FLAG_PAIRS: [(&str, &str); 10] = [
    ("ro", "rw"),
    ("noexec", "exec"),
    ("nosuid", "suid"),
    ("nodev", "dev"),
    ("noatime", "atime"),
    ("nodiratime", "diratime"),
    ("relatime", "norelatime"),
    ("strictatime", "nostrictatime"),
    ("sync", "async"),
    ("mand", "nomand"),
];

/// Docker's options for a `--tmpfs` mount: `noexec,nosuid,nodev` unless
/// overridden, then the given ones (a later value of a key or of a flag
/// pair replaces an earlier one).
pub fn tmpfs_options(given: &str) -> Vec<String> {
    let mut out: Vec<String> = ["noexec", "nosuid", "nodev"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for opt in given.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if let Some((a, b)) = FLAG_PAIRS.iter().find(|(a, b)| opt == *a || opt == *b) {
            out.retain(|o| o != a && o != b);
        } else {
            let key = opt.split_once('=').map_or(opt, |(k, _)| k);
            out.retain(|o| o.split_once('=').map_or(o.as_str(), |(k, _)| k) != key);
        }
        out.push(opt.to_string());
    }
    out.push("rprivate".into());
    out
}

fn namespace(
    typ: LinuxNamespaceType,
    kind: &'static str,
    mode: &NsMode,
) -> Result<Option<LinuxNamespace>, Error> {
    match mode {
        NsMode::Host => Ok(None),
        NsMode::Private => Ok(Some(LinuxNamespaceBuilder::default().typ(typ).build()?)),
        NsMode::Join(path) | NsMode::Prepared(path) => {
            if !path.is_absolute() {
                return Err(Error::Namespace {
                    kind,
                    path: path.clone(),
                });
            }
            Ok(Some(
                LinuxNamespaceBuilder::default()
                    .typ(typ)
                    .path(path.clone())
                    .build()?,
            ))
        }
    }
}

fn device_type(kind: char) -> LinuxDeviceType {
    match kind {
        'b' => LinuxDeviceType::B,
        'c' => LinuxDeviceType::C,
        'p' => LinuxDeviceType::P,
        _ => LinuxDeviceType::A,
    }
}

fn cgroup_rule(
    allow: bool,
    kind: char,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup, Error> {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .access(access.to_string());
    if kind != 'a' {
        b = b.typ(device_type(kind));
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    Ok(b.build()?)
}

/// One `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS`, where the type
/// is `a`, `b` or `c`, a number may be `*` and access is some of `rwm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCgroupRule {
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// Parses a rule as Docker checks it; the error is Docker's.
pub fn parse_device_cgroup_rule(rule: &str) -> Result<DeviceCgroupRule, Error> {
    let bad = || Error::DeviceCgroupRule(rule.to_string());
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = parts[..] else {
        return Err(bad());
    };
    let kind = match kind {
        "a" | "b" | "c" => kind.chars().next().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>, Error> {
        match n {
            "*" => Ok(None),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse().map(Some).map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    };
    let valid_access =
        (1..=3).contains(&access.len()) && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
    if !valid_access {
        return Err(bad());
    }
    Ok(DeviceCgroupRule {
        kind,
        major: number(major)?,
        minor: number(minor)?,
        access: access.to_string(),
    })
}

/// The devices controller's rules every container gets: nothing, then the
/// standard nodes, mknod of anything, and the pseudo terminals.
pub fn default_device_rules() -> Result<Vec<LinuxDeviceCgroup>, Error> {
    let mut rules = vec![cgroup_rule(false, 'a', None, None, "rwm")?];
    for (kind, major, minor, access) in [
        ('c', None, None, "m"),
        ('b', None, None, "m"),
        ('c', Some(1), Some(3), "rwm"),
        ('c', Some(1), Some(5), "rwm"),
        ('c', Some(1), Some(7), "rwm"),
        ('c', Some(1), Some(8), "rwm"),
        ('c', Some(1), Some(9), "rwm"),
        ('c', Some(5), Some(0), "rwm"),
        ('c', Some(5), Some(1), "rwm"),
        ('c', Some(5), Some(2), "rwm"),
        ('c', Some(136), None, "rwm"),
    ] {
        rules.push(cgroup_rule(true, kind, major, minor, access)?);
    }
    Ok(rules)
}

fn linux_device(d: &HostDevice, path: PathBuf) -> Result<LinuxDevice, Error> {
    Ok(LinuxDeviceBuilder::default()
        .path(path)
        .typ(device_type(d.kind))
        .major(d.major as i64)
        .minor(d.minor as i64)
        .file_mode(d.mode)
        .uid(d.uid)
        .gid(d.gid)
        .build()?)
}

/// Device nodes and cgroup rules: every host device for `--privileged`,
/// else the defaults plus each `--device`.
fn devices(
    opts: &SpecOptions,
    host: &dyn Host,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), Error> {
    if opts.privileged {
        let nodes = host
            .all_devices()
            .iter()
            .map(|d| linux_device(d, d.path.clone()))
            .collect::<Result<_, _>>()?;
        return Ok((nodes, vec![cgroup_rule(true, 'a', None, None, "rwm")?]));
    }
    let mut nodes = Vec::new();
    let mut rules = default_device_rules()?;
    for rule in &opts.device_cgroup_rules {
        let r = parse_device_cgroup_rule(rule)?;
        rules.push(cgroup_rule(true, r.kind, r.major, r.minor, &r.access)?);
    }
    for spec in &opts.devices {
        let req = crate::devices::parse_device(spec).map_err(Error::Device)?;
        for d in host.device(&req.host).map_err(Error::Device)? {
            let path = match d.path.strip_prefix(&req.host) {
                Ok(rest) if !rest.as_os_str().is_empty() => req.container.join(rest),
                _ => req.container.clone(),
            };
            nodes.push(linux_device(&d, path)?);
            rules.push(cgroup_rule(
                true,
                d.kind,
                Some(d.major as i64),
                Some(d.minor as i64),
                &req.access,
            )?);
        }
    }
    Ok((nodes, rules))
}

fn seccomp_section(
    opts: &SpecOptions,
    caps: &HashSet<Capability>,
    host: &dyn Host,
) -> Result<Option<LinuxSeccomp>, Error> {
    use crate::seccomp::{default, profile};
    let profile = match &opts.seccomp {
        Seccomp::Unconfined => return Ok(None),
        Seccomp::Default if opts.privileged => return Ok(None),
        Seccomp::Default => default::profile(),
        Seccomp::Profile(json) => profile::parse(json)?,
    };
    Ok(Some(profile::resolve(&profile, caps, host.target())?))
}

fn cgroups_path(opts: &SpecOptions) -> Result<Option<PathBuf>, Error> {
    if opts.id.is_empty() {
        if opts.resources != Resources::default() {
            return Err(Error::CgroupName(
                "resource limits need a container id to name the cgroup".into(),
            ));
        }
        return Ok(None);
    }
    let parent = opts.cgroup_parent.trim_matches('/');
    let bad = |p: &str| p.is_empty() || p == "." || p == "..";
    if parent.split('/').any(bad) || bad(&opts.id) || opts.id.contains('/') {
        return Err(Error::CgroupName(format!(
            "{}/{}",
            opts.cgroup_parent, opts.id
        )));
    }
    // Absolute, so other runtimes (runc as a test oracle) place it under the
    // hierarchy root too, not under their own cgroup.
    Ok(Some(PathBuf::from(format!("/{parent}/{}", opts.id))))
}

/// The `--group-add` names a spec carries (in [`GROUPS_ANNOTATION`]), to
/// be resolved in the container's `/etc/group`; numeric ones are in
/// `process.user.additionalGids`.
pub fn group_names(spec: &Spec) -> Vec<String> {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(GROUPS_ANNOTATION))
        .filter(|n| !n.is_empty())
        .map(|n| n.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Builds the spec for a container on this machine.
pub fn build_spec(opts: &SpecOptions) -> Result<Spec, Error> {
    build_spec_with(opts, &RealHost)
}

/// Builds the spec for a container on `host`. Pure given the host.
pub fn build_spec_with(opts: &SpecOptions, host: &dyn Host) -> Result<Spec, Error> {
    if opts.args.is_empty() {
        return Err(Error::NoCommand);
    }
    let cwd = if opts.cwd.is_empty() { "/" } else { &opts.cwd };
    if !cwd.starts_with('/') {
        return Err(Error::RelativeCwd(cwd.to_string()));
    }
    let user = parse_user(&opts.user)?;
    let held = host.bounding_set();
    let caps = crate::caps::resolve(
        &DEFAULT_CAPABILITIES,
        &opts.cap_add,
        &opts.cap_drop,
        opts.privileged,
        &held,
    )?;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps.clone())
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()?;
    let mut process_user = UserBuilder::default()
        .uid(user.uid.unwrap_or(0))
        .gid(user.gid.unwrap_or(0))
        .build()?;
    // Docker lists the primary group as a supplementary one too. Where the
    // primary group is known here (no user: root; `uid:gid`), say so in the
    // spec, so runtimes that ignore our annotation (runc) agree.
    let known_gid = match (opts.user.is_empty(), user.uid, user.gid) {
        (true, _, _) => Some(0),
        (false, Some(_), Some(gid)) => Some(gid),
        _ => None,
    };
    let mut gids: Vec<u32> = known_gid.into_iter().collect();
    let mut group_names = Vec::new();
    for g in &opts.group_add {
        match parse_id(g, g)? {
            Some(n) if !gids.contains(&n) => gids.push(n),
            Some(_) => {}
            None => group_names.push(g.clone()),
        }
    }
    process_user.set_additional_gids((!gids.is_empty()).then_some(gids));

    let rlimits = crate::rlimit::to_oci(
        &opts.ulimits,
        &|t| host.hard_limit(t),
        held.contains(&Capability::SysResource),
    )
    .map_err(Error::Ulimit)?;
    let mut process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(process_user)
        .args(opts.args.clone())
        .env(env_with_path(&opts.env)?)
        .cwd(cwd)
        .capabilities(capabilities)
        .oom_score_adj(0)
        .build()?;
    process.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    process.set_console_size(None);
    process.set_apparmor_profile(None);
    process.set_selinux_label(None);
    process.set_scheduler(None);
    process.set_io_priority(None);
    process.set_exec_cpu_affinity(None);
    process.set_command_line(None);
    process.set_no_new_privileges(opts.no_new_privileges.then_some(true));

    let ns = &opts.namespaces;
    let namespaces: Vec<LinuxNamespace> = [
        namespace(LinuxNamespaceType::Mount, "mount", &NsMode::Private)?,
        namespace(LinuxNamespaceType::Network, "network", &ns.net)?,
        namespace(LinuxNamespaceType::Uts, "uts", &ns.uts)?,
        namespace(LinuxNamespaceType::Pid, "pid", &ns.pid)?,
        namespace(LinuxNamespaceType::Ipc, "ipc", &ns.ipc)?,
    ]
    .into_iter()
    .flatten()
    .chain(
        opts.userns
            .as_ref()
            .map(|_| namespace(LinuxNamespaceType::User, "user", &NsMode::Private))
            .transpose()?
            .flatten(),
    )
    .collect();
    for name in opts.sysctls.keys() {
        crate::sysctl::validate(name, |n| {
            let mode = match n {
                crate::sysctl::SysctlNs::Ipc => &ns.ipc,
                crate::sysctl::SysctlNs::Net => &ns.net,
                crate::sysctl::SysctlNs::Uts => &ns.uts,
            };
            mode.is_own()
        })
        .map_err(Error::Sysctl)?;
    }

    opts.resources.validate().map_err(Error::Resources)?;
    let (device_nodes, device_rules) = devices(opts, host)?;
    let mut resources = opts
        .resources
        .to_oci()?
        .unwrap_or_else(LinuxResources::default);
    resources.set_devices(Some(device_rules));

    let mut linux = LinuxBuilder::default().namespaces(namespaces).build()?;
    if !opts.privileged {
        linux.set_masked_paths(Some(MASKED_PATHS.iter().map(|s| s.to_string()).collect()));
        linux.set_readonly_paths(Some(READONLY_PATHS.iter().map(|s| s.to_string()).collect()));
    } else {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    }
    linux.set_resources(Some(resources));
    linux.set_devices((!device_nodes.is_empty()).then_some(device_nodes));
    let maps = |f: fn(&UserNamespace) -> &[crate::subid::IdRange]| {
        opts.userns.as_ref().map(|u| id_mappings(f(u))).transpose()
    };
    linux.set_uid_mappings(maps(|u| &u.uids)?);
    linux.set_gid_mappings(maps(|u| &u.gids)?);
    linux.set_sysctl((!opts.sysctls.is_empty()).then(|| {
        opts.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    }));
    linux.set_cgroups_path(cgroups_path(opts)?);
    linux.set_rootfs_propagation(None);
    linux.set_mount_label(None);
    linux.set_seccomp(seccomp_section(opts, &caps, host)?);

    let mut mounts = default_mounts_for(opts.privileged)?;
    if opts.shm_size > 0 {
        let size = format!("size={}", opts.shm_size);
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/dev/shm") {
                let options = m
                    .options()
                    .iter()
                    .flatten()
                    .map(|o| {
                        if o.starts_with("size=") {
                            size.clone()
                        } else {
                            o.clone()
                        }
                    })
                    .collect();
                m.set_options(Some(options));
            }
        }
    }
    for (target, options) in &opts.tmpfs {
        if !target.starts_with('/') || target.trim_end_matches('/').is_empty() {
            return Err(Error::Tmpfs(target.clone()));
        }
        mounts.retain(|m| m.destination() != Path::new(target));
        let options = tmpfs_options(options);
        let refs: Vec<&str> = options.iter().map(String::as_str).collect();
        mounts.push(mount(target, "tmpfs", "tmpfs", &refs)?);
    }

    // Always present, even empty: its presence asks the runtime to resolve
    // the user inside the container as Docker does.
    let mut annotations: HashMap<String, String> = opts
        .annotations
        .iter()
        .filter(|(k, _)| !k.starts_with(crate::RESERVED_ANNOTATION_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.insert(USER_ANNOTATION.to_string(), opts.user.clone());
    if !group_names.is_empty() {
        annotations.insert(GROUPS_ANNOTATION.to_string(), group_names.join(","));
    }
    if opts.init {
        annotations.insert(INIT_ANNOTATION.to_string(), "true".to_string());
    }
    if let Some(dir) = &opts.seccomp_cache_dir {
        annotations.insert(
            SECCOMP_CACHE_ANNOTATION.to_string(),
            dir.display().to_string(),
        );
    }
    let mut spec = SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path(opts.rootfs.clone())
                .readonly(opts.readonly_rootfs)
                .build()?,
        )
        .mounts(mounts)
        .process(process)
        .linux(linux)
        .build()?;
    let own_uts = ns.uts == NsMode::Private;
    spec.set_hostname((own_uts && !opts.hostname.is_empty()).then(|| opts.hostname.clone()));
    spec.set_annotations(Some(annotations));
    Ok(spec)
}

/// OCI id mappings from map lines.
fn id_mappings(
    ranges: &[crate::subid::IdRange],
) -> Result<Vec<oci_spec::runtime::LinuxIdMapping>, Error> {
    ranges
        .iter()
        .map(|r| {
            Ok(oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(r.inside)
                .host_id(r.outside)
                .size(r.size)
                .build()?)
        })
        .collect()
}

/// Sorts what `oci-spec` keeps in hash sets and maps, so equal specs
/// serialise to equal text.
fn canonicalize(value: &mut serde_json::Value, parent_key: &str) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if matches!(parent_key, "annotations" | "sysctl") {
                map.sort_keys();
            }
            for (k, v) in map.iter_mut() {
                canonicalize(v, k);
            }
        }
        Value::Array(items) => {
            if matches!(
                parent_key,
                "bounding" | "effective" | "permitted" | "inheritable" | "ambient"
            ) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            for v in items.iter_mut() {
                canonicalize(v, "");
            }
        }
        _ => {}
    }
}

/// Serialises a spec as pretty, deterministic JSON (what `config.json` holds).
pub fn to_json(spec: &Spec) -> Result<String, Error> {
    let mut value = serde_json::to_value(spec).map_err(Error::Json)?;
    canonicalize(&mut value, "");
    let mut text = serde_json::to_string_pretty(&value).map_err(Error::Json)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests;
