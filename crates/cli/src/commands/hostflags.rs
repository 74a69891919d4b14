//! Parsing of the resource and security flags of `run`/`create` into the
//! API's HostConfig, with docker's syntax and error messages. Pure.

use std::collections::BTreeMap;

use berth_api::container::{DeviceMapping, Resources, Ulimit};

/// Docker's `RAMInBytes` with the docker CLI's error.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    berth_api::units::ram_in_bytes(s).ok_or_else(|| format!("invalid size: '{s}'"))
}

/// `--cpus 1.5` as NanoCpus.
pub fn nano_cpus(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("failed to parse {s} as a rational number"))?;
    if v < 0.0 {
        return Err(format!("invalid value: {s}"));
    }
    Ok((v * 1e9).round() as i64)
}

/// `--device /dev/x[:/dev/y][:rwm]`.
pub fn device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let perms_ok = |p: &str| !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, x] if perms_ok(x) => (*h, *h, *x),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if perms_ok(p) => (*h, *c, *p),
        _ => return Err(format!("invalid device specification: {s}")),
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        return Err(format!(
            "invalid device specification: {s}: paths must be absolute"
        ));
    }
    Ok(DeviceMapping {
        path_on_host: host.to_string(),
        path_in_container: ctr.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// `--ulimit nofile=1024[:2048]`.
pub fn ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = match values.split_once(':') {
        Some((a, b)) => (a, b),
        None => (values, values),
    };
    let parse = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = (parse(soft)?, parse(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--tmpfs /path[:options]` into HostConfig.Tmpfs.
pub fn tmpfs(list: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for t in list {
        let (path, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
        if !path.starts_with('/') {
            return Err(format!(
                "invalid tmpfs mount: {t}: the path must be absolute"
            ));
        }
        out.insert(path.to_string(), opts.to_string());
    }
    Ok(out)
}

/// `--sysctl k=v` into HostConfig.Sysctls.
pub fn sysctls(list: &[String]) -> Result<BTreeMap<String, String>, String> {
    list.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("sysctl '{s}' is not allowed: expected key=value"))
        })
        .collect()
}

/// Go's `time.ParseDuration`: `1s`, `500ms`, `1m30s`, `1.5h`; as nanoseconds.
pub fn go_duration(s: &str) -> Result<i64, String> {
    berth_api::units::go_duration_ns(s).ok_or_else(|| format!("time: invalid duration \"{s}\""))
}

/// The health check flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HealthFlags {
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
}

impl HealthFlags {
    /// `Config.Healthcheck`, or None when no flag was given.
    pub fn to_healthcheck(&self) -> Result<Option<serde_json::Value>, String> {
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        if self.no_healthcheck {
            if any {
                return Err("--no-healthcheck conflicts with --health-* options".into());
            }
            return Ok(Some(serde_json::json!({"Test": ["NONE"]})));
        }
        if !any {
            return Ok(None);
        }
        let dur = |v: &Option<String>, flag: &str| -> Result<i64, String> {
            match v {
                None => Ok(0),
                Some(s) => {
                    let n = go_duration(s)?;
                    if n < 0 {
                        return Err(format!("{flag} cannot be negative"));
                    }
                    Ok(n)
                }
            }
        };
        let mut hc = serde_json::json!({
            "Interval": dur(&self.health_interval, "--health-interval")?,
            "Timeout": dur(&self.health_timeout, "--health-timeout")?,
            "StartPeriod": dur(&self.health_start_period, "--health-start-period")?,
            "Retries": self.health_retries.unwrap_or(0),
        });
        if let Some(cmd) = &self.health_cmd {
            hc["Test"] = serde_json::json!(["CMD-SHELL", cmd]);
        }
        Ok(Some(hc))
    }
}

/// The resource flags as given on the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResourceFlags {
    /// Memory limit (e.g. 32m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit: -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS quota (microseconds).
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS period (microseconds).
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune the container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO relative weight, 10 to 1000.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Disable the OOM killer.
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune container memory swappiness (0 to 100; -1: the host's).
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
}

impl ResourceFlags {
    pub fn to_resources(&self) -> Result<Resources, String> {
        let bytes = |v: &Option<String>| v.as_deref().map(ram_in_bytes).transpose();
        let memory_swap = match self.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            other => other.map(ram_in_bytes).transpose()?,
        };
        if let Some(w) = self.blkio_weight {
            if w != 0 && !(10..=1000).contains(&w) {
                return Err(format!(
                    "invalid --blkio-weight {w}: the range is from 10 to 1000"
                ));
            }
        }
        let nano_cpus = self
            .cpus
            .as_deref()
            .map(nano_cpus)
            .transpose()?
            .unwrap_or(0);
        if nano_cpus != 0 && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return Err(
                "conflicting options: Nano CPUs and CPU Period/Quota cannot both be set".into(),
            );
        }
        Ok(Resources {
            memory: bytes(&self.memory)?.unwrap_or(0),
            memory_swap: memory_swap.unwrap_or(0),
            memory_reservation: bytes(&self.memory_reservation)?.unwrap_or(0),
            nano_cpus,
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight.unwrap_or(0),
            oom_kill_disable: self.oom_kill_disable.then_some(true),
            memory_swappiness: self.memory_swappiness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("32m").unwrap(), 32 * 1024 * 1024);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512").unwrap(), 512);
        assert_eq!(ram_in_bytes("64kb").unwrap(), 65536);
        assert_eq!(ram_in_bytes("1.5g").unwrap(), 3 << 29);
        assert!(ram_in_bytes("12x").is_err());
        assert!(ram_in_bytes("m").is_err());
    }

    #[test]
    fn cpus_and_devices() {
        assert_eq!(nano_cpus("0.5").unwrap(), 500_000_000);
        assert!(nano_cpus("x").is_err());
        let d = device("/dev/fuse").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = device("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/xvda", "r")
        );
        assert_eq!(device("/dev/null:rw").unwrap().cgroup_permissions, "rw");
        assert!(device("dev/null").is_err());
    }

    #[test]
    fn ulimits_and_tmpfs() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(ulimit("nproc=10").unwrap().hard, 10);
        assert!(ulimit("nofile=2:1").is_err());
        assert!(ulimit("nofile").is_err());
        let t = tmpfs(&["/run:size=64m".into(), "/tmp".into()]).unwrap();
        assert_eq!(t["/run"], "size=64m");
        assert_eq!(t["/tmp"], "");
        assert!(tmpfs(&["rel".into()]).is_err());
    }

    #[test]
    fn durations_and_health() {
        assert_eq!(go_duration("1s").unwrap(), 1_000_000_000);
        assert_eq!(go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(go_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(go_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert!(go_duration("10").is_err());
        assert!(go_duration("1x").is_err());
        let f = HealthFlags {
            health_cmd: Some("test -f /tmp/ok".into()),
            health_interval: Some("1s".into()),
            ..Default::default()
        };
        let hc = f.to_healthcheck().unwrap().unwrap();
        assert_eq!(hc["Test"][1], "test -f /tmp/ok");
        assert_eq!(hc["Interval"], 1_000_000_000i64);
        let none = HealthFlags {
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(none.to_healthcheck().unwrap().unwrap()["Test"][0], "NONE");
        assert_eq!(HealthFlags::default().to_healthcheck().unwrap(), None);
    }

    #[test]
    fn resources() {
        let f = ResourceFlags {
            memory: Some("32m".into()),
            cpus: Some("0.5".into()),
            pids_limit: Some(20),
            ..Default::default()
        };
        let r = f.to_resources().unwrap();
        assert_eq!(
            (r.memory, r.nano_cpus, r.pids_limit),
            (32 << 20, 500_000_000, Some(20))
        );
        let bad = ResourceFlags {
            cpus: Some("1".into()),
            cpu_quota: Some(5000),
            ..Default::default()
        };
        assert!(bad.to_resources().is_err());
        let swap = ResourceFlags {
            memory_swap: Some("-1".into()),
            ..Default::default()
        };
        assert_eq!(swap.to_resources().unwrap().memory_swap, -1);
    }
}
