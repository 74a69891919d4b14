//! From a container record to the runtime's `SpecOptions`: Docker's
//! HostConfig meanings (0 = unset, -1 = unlimited) turned into options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_api::container::{HostConfig, Resources as ApiResources};
use berth_runtime::cgroups::Resources;
use berth_runtime::rlimit::Ulimit;
use berth_runtime::spec::{Namespaces, NsMode, Seccomp, SpecOptions};

use super::{create, ContainerRecord};
use crate::Error;

/// Docker's default PATH, part of the daemon environment.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn set<T: PartialEq + Default>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

pub fn resources(r: &ApiResources) -> Resources {
    Resources {
        memory: set(r.memory),
        memory_swap: set(r.memory_swap),
        memory_reservation: set(r.memory_reservation),
        nano_cpus: set(r.nano_cpus),
        cpu_shares: set(r.cpu_shares).map(|v| v.max(0) as u64),
        cpu_quota: set(r.cpu_quota),
        cpu_period: set(r.cpu_period).map(|v| v.max(0) as u64),
        cpuset_cpus: set(r.cpuset_cpus.clone()),
        cpuset_mems: set(r.cpuset_mems.clone()),
        pids_limit: r.pids_limit.filter(|p| *p != 0),
        blkio_weight: set(r.blkio_weight),
        oom_kill_disable: r.oom_kill_disable.filter(|d| *d),
        memory_swappiness: r.memory_swappiness.filter(|s| *s != -1),
    }
}

/// `seccomp=unconfined` or `seccomp=<profile JSON>` (the docker CLI sends
/// the file's contents); the last one wins.
pub fn seccomp(hc: &HostConfig) -> Result<Seccomp, Error> {
    let mut mode = Seccomp::Default;
    for opt in &hc.security_opt {
        let Some(value) = opt
            .strip_prefix("seccomp=")
            .or_else(|| opt.strip_prefix("seccomp:"))
        else {
            continue;
        };
        mode = match value {
            "unconfined" => Seccomp::Unconfined,
            v if v.trim_start().starts_with('{') => Seccomp::Profile(v.to_string()),
            v => {
                return Err(Error::InvalidArgument(format!(
                    "opening seccomp profile ({v}) failed: the client must send the profile's JSON"
                )))
            }
        };
    }
    Ok(mode)
}

/// A namespace mode string (`""`, `private`, `host`, `container:<id>`);
/// `join` turns a container into its `/proc/<pid>/ns/<kind>` path.
pub fn ns_mode(
    mode: &str,
    kind: &str,
    join: &dyn Fn(&str) -> Result<i64, Error>,
) -> Result<NsMode, Error> {
    match mode {
        "" | "private" | "shareable" | "default" | "none" | "bridge" => Ok(NsMode::Private),
        "host" => Ok(NsMode::Host),
        m => match m.strip_prefix("container:") {
            Some(other) => {
                let pid = join(other)?;
                Ok(NsMode::Join(PathBuf::from(format!(
                    "/proc/{pid}/ns/{kind}"
                ))))
            }
            None => Err(Error::InvalidArgument(format!("invalid {kind} mode: {m}"))),
        },
    }
}

/// Refuses resource limits a daemon cannot apply (`refused`: why, from
/// [`crate::EngineConfig::limits_refused`]) instead of ignoring them.
pub fn check_limits(refused: Option<&str>, hc: &ApiResources) -> Result<(), Error> {
    match refused {
        Some(why) if resources(hc) != Resources::default() => Err(Error::InvalidArgument(format!(
            "resource limits cannot be applied: {why}"
        ))),
        _ => Ok(()),
    }
}

/// Everything the runtime needs to build the container's spec.
/// `cgroup_parent`: `None` when containers get no cgroup (rootless).
/// The container's sysctls: its own over Docker's defaults for a network
/// namespace of its own: any port may be bound without
/// `CAP_NET_BIND_SERVICE`, and (outside user namespaces, where the whole
/// group range cannot be written) ICMP echo sockets need no `CAP_NET_RAW`.
fn sysctls(hc: &HostConfig, userns: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let own_network = hc.network_mode != "host" && !hc.network_mode.starts_with("container:");
    if own_network {
        out.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
        if !userns {
            out.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
        }
    }
    out.extend(hc.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// The container's cgroup parent and user namespace come from `config`.
pub fn spec_options(
    rec: &ContainerRecord,
    rootfs: PathBuf,
    config: &crate::EngineConfig,
    seccomp_cache_dir: Option<PathBuf>,
    join: &dyn Fn(&str) -> Result<i64, Error>,
) -> Result<SpecOptions, Error> {
    let hc = &rec.host_config;
    let cgroup_parent = config.cgroups();
    let own_userns = config.userns_for(&hc.userns_mode);
    let in_userns = own_userns.is_some() || config.rootless.is_some();
    Ok(SpecOptions {
        args: std::iter::once(rec.path.clone())
            .chain(rec.args.iter().cloned())
            .collect(),
        env: create::merge_env(
            &[
                DEFAULT_PATH.to_string(),
                format!("HOSTNAME={}", rec.config.hostname),
            ],
            &rec.config.env,
        ),
        cwd: if rec.config.working_dir.is_empty() {
            "/".into()
        } else {
            rec.config.working_dir.clone()
        },
        user: rec.config.user.clone(),
        hostname: rec.config.hostname.clone(),
        no_new_privileges: create::wants_no_new_privileges(hc),
        rootfs,
        id: if cgroup_parent.is_some() {
            rec.id.clone()
        } else {
            String::new()
        },
        cgroup_parent: cgroup_parent.unwrap_or_default().to_string(),
        resources: resources(&hc.resources),
        cap_add: hc.cap_add.clone(),
        cap_drop: hc.cap_drop.clone(),
        privileged: hc.privileged,
        seccomp: seccomp(hc)?,
        seccomp_cache_dir,
        readonly_rootfs: hc.readonly_rootfs,
        shm_size: u64::try_from(hc.shm_size).unwrap_or(0),
        tmpfs: hc
            .tmpfs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        devices: hc
            .devices
            .iter()
            .map(|d| {
                let ctr = if d.path_in_container.is_empty() {
                    &d.path_on_host
                } else {
                    &d.path_in_container
                };
                let perms = if d.cgroup_permissions.is_empty() {
                    "rwm"
                } else {
                    &d.cgroup_permissions
                };
                format!("{}:{ctr}:{perms}", d.path_on_host)
            })
            .collect(),
        device_cgroup_rules: hc.device_cgroup_rules.clone(),
        group_add: hc.group_add.clone(),
        sysctls: sysctls(hc, in_userns),
        ulimits: hc
            .ulimits
            .iter()
            .map(|u| Ulimit {
                name: u.name.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        namespaces: Namespaces {
            pid: ns_mode(&hc.pid_mode, "pid", join)?,
            ipc: ns_mode(&hc.ipc_mode, "ipc", join)?,
            uts: ns_mode(&hc.uts_mode, "uts", join)?,
            net: match hc.network_mode.as_str() {
                "host" => NsMode::Host,
                m if m.starts_with("container:") => ns_mode(m, "net", join)?,
                _ if !rec.sandbox_key.is_empty() => {
                    NsMode::Prepared(rec.sandbox_key.clone().into())
                }
                _ => NsMode::Private,
            },
        },
        init: hc.init == Some(true),
        annotations: hc.annotations.clone(),
        tty: rec.config.tty,
        userns: own_userns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_zero_values_are_unset() {
        let r = resources(&ApiResources {
            memory: 32 << 20,
            pids_limit: Some(0),
            oom_kill_disable: Some(false),
            ..Default::default()
        });
        assert_eq!(r.memory, Some(32 << 20));
        assert_eq!(r.pids_limit, None);
        assert_eq!(r.oom_kill_disable, None);
        assert_eq!(r.nano_cpus, None);
        let swap = resources(&ApiResources {
            memory_swap: -1,
            ..Default::default()
        });
        assert_eq!(swap.memory_swap, Some(-1));
    }

    #[test]
    fn seccomp_options() {
        let hc = |opts: &[&str]| HostConfig {
            security_opt: opts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(seccomp(&hc(&[])).unwrap(), Seccomp::Default);
        assert_eq!(
            seccomp(&hc(&["seccomp=unconfined"])).unwrap(),
            Seccomp::Unconfined
        );
        assert!(matches!(
            seccomp(&hc(&["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"])).unwrap(),
            Seccomp::Profile(_)
        ));
        assert!(seccomp(&hc(&["seccomp=/path/file.json"])).is_err());
    }

    #[test]
    fn namespace_modes() {
        let join = |name: &str| {
            if name == "web" {
                Ok(42)
            } else {
                Err(Error::NoSuchContainer(name.into()))
            }
        };
        assert_eq!(ns_mode("", "pid", &join).unwrap(), NsMode::Private);
        assert_eq!(ns_mode("host", "pid", &join).unwrap(), NsMode::Host);
        assert_eq!(
            ns_mode("container:web", "ipc", &join).unwrap(),
            NsMode::Join("/proc/42/ns/ipc".into())
        );
        assert!(ns_mode("container:nope", "ipc", &join).is_err());
        assert!(ns_mode("weird", "uts", &join).is_err());
    }
}
