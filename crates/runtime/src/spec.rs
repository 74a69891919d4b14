//! Builds the OCI runtime spec for one container with Docker's defaults.
//!
//! [`build_spec`] is pure: the same [`SpecOptions`] always give the same spec,
//! and [`to_json`] serialises it deterministically (capability sets and maps
//! sorted), so the result can be compared with golden files and read by
//! Debian's `runc` as a test oracle.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::USER_ANNOTATION;

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
}

impl From<oci_spec::OciSpecError> for Error {
    fn from(e: oci_spec::OciSpecError) -> Self {
        Error::Oci(e)
    }
}

/// What the engine knows about a container that shapes its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

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

fn env_with_path(env: &[String]) -> Result<Vec<String>, Error> {
    for e in env {
        match e.split_once('=') {
            Some((name, _)) if !name.is_empty() => {}
            _ => return Err(Error::InvalidEnv(e.clone())),
        }
    }
    let has_path = env.iter().any(|e| e.starts_with("PATH="));
    let mut out = Vec::with_capacity(env.len() + 1);
    if !has_path {
        out.push(DEFAULT_PATH_ENV.to_string());
    }
    out.extend(env.iter().cloned());
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
/// cgroup support).
pub fn default_mounts() -> Result<Vec<Mount>, Error> {
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
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
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

/// Builds the spec for a container. Pure.
pub fn build_spec(opts: &SpecOptions) -> Result<Spec, Error> {
    if opts.args.is_empty() {
        return Err(Error::NoCommand);
    }
    let cwd = if opts.cwd.is_empty() { "/" } else { &opts.cwd };
    if !cwd.starts_with('/') {
        return Err(Error::RelativeCwd(cwd.to_string()));
    }
    let user = parse_user(&opts.user)?;
    let caps: HashSet<Capability> = DEFAULT_CAPABILITIES.iter().copied().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
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
    process_user.set_additional_gids(known_gid.map(|g| vec![g]));
    let mut process = ProcessBuilder::default()
        .terminal(false)
        .user(process_user)
        .args(opts.args.clone())
        .env(env_with_path(&opts.env)?)
        .cwd(cwd)
        .capabilities(capabilities)
        .oom_score_adj(0)
        .build()?;
    process.set_rlimits(None);
    process.set_console_size(None);
    process.set_apparmor_profile(None);
    process.set_selinux_label(None);
    process.set_scheduler(None);
    process.set_io_priority(None);
    process.set_exec_cpu_affinity(None);
    process.set_command_line(None);
    process.set_no_new_privileges(opts.no_new_privileges.then_some(true));

    let namespaces = [
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .collect::<Result<Vec<_>, _>>()?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?;
    linux.set_resources(None);
    linux.set_devices(None);
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_sysctl(None);
    linux.set_cgroups_path(None);
    linux.set_rootfs_propagation(None);
    linux.set_mount_label(None);

    // Always present, even empty: its presence asks the runtime to resolve
    // the user inside the container as Docker does.
    let annotations = HashMap::from([(USER_ANNOTATION.to_string(), opts.user.clone())]);
    let mut spec = SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path(opts.rootfs.clone())
                .readonly(false)
                .build()?,
        )
        .mounts(default_mounts()?)
        .process(process)
        .linux(linux)
        .build()?;
    spec.set_hostname((!opts.hostname.is_empty()).then(|| opts.hostname.clone()));
    spec.set_annotations(Some(annotations));
    Ok(spec)
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
mod tests {
    use super::*;

    fn opts() -> SpecOptions {
        SpecOptions {
            args: vec!["sh".into()],
            rootfs: "/r".into(),
            ..Default::default()
        }
    }

    #[test]
    fn parses_user_forms() {
        let p = |s| parse_user(s).unwrap();
        assert_eq!(
            p(""),
            UserSpec {
                uid: None,
                gid: None
            }
        );
        assert_eq!(
            p("1000"),
            UserSpec {
                uid: Some(1000),
                gid: None
            }
        );
        assert_eq!(
            p("1000:50"),
            UserSpec {
                uid: Some(1000),
                gid: Some(50)
            }
        );
        assert_eq!(
            p("bob"),
            UserSpec {
                uid: None,
                gid: None
            }
        );
        assert_eq!(
            p("bob:7"),
            UserSpec {
                uid: None,
                gid: Some(7)
            }
        );
        assert_eq!(
            p("7:staff"),
            UserSpec {
                uid: Some(7),
                gid: None
            }
        );
        assert!(parse_user("4294967296").is_err());
        assert!(parse_user("2147483648").is_err());
        assert!(parse_user(":5").is_err());
    }

    #[test]
    fn path_added_only_when_missing() {
        let spec = build_spec(&SpecOptions {
            env: vec!["A=1".into()],
            ..opts()
        })
        .unwrap();
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert_eq!(env, vec![DEFAULT_PATH_ENV.to_string(), "A=1".into()]);
        let spec = build_spec(&SpecOptions {
            env: vec!["PATH=/x".into()],
            ..opts()
        })
        .unwrap();
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert_eq!(env, vec!["PATH=/x".to_string()]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            build_spec(&SpecOptions {
                args: vec![],
                ..opts()
            }),
            Err(Error::NoCommand)
        ));
        assert!(matches!(
            build_spec(&SpecOptions {
                cwd: "rel".into(),
                ..opts()
            }),
            Err(Error::RelativeCwd(_))
        ));
        assert!(matches!(
            build_spec(&SpecOptions {
                env: vec!["=x".into()],
                ..opts()
            }),
            Err(Error::InvalidEnv(_))
        ));
    }

    #[test]
    fn no_new_privileges_only_when_asked() {
        let spec = build_spec(&opts()).unwrap();
        assert_eq!(spec.process().as_ref().unwrap().no_new_privileges(), None);
        let spec = build_spec(&SpecOptions {
            no_new_privileges: true,
            ..opts()
        })
        .unwrap();
        assert_eq!(
            spec.process().as_ref().unwrap().no_new_privileges(),
            Some(true)
        );
    }

    #[test]
    fn default_capabilities_match_docker_mask() {
        let mask: u64 = DEFAULT_CAPABILITIES
            .iter()
            .map(|c| crate::caps::index(*c).unwrap())
            .map(|i| 1u64 << i)
            .sum();
        assert_eq!(format!("{mask:016x}"), "00000000a80425fb");
    }
}
