//! Resource limits with Docker's meanings, their validation, Docker's
//! translations, and the OCI `linux.resources` form.

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use super::DEFAULT_CPU_PERIOD;

/// Resource limits with the meanings of Docker's `HostConfig`. `None` (and,
/// where Docker says so, 0) leaves a limit unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `--memory`, bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`: memory plus swap, bytes; -1 is unlimited; unset with
    /// `memory` set means twice `memory`.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation` (soft limit), bytes.
    pub memory_reservation: Option<i64>,
    /// `--cpus` × 10⁹.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares` (relative weight, 1024 is the default).
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota`, µs per period; -1 is unlimited.
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`, µs.
    pub cpu_period: Option<u64>,
    /// `--cpuset-cpus`, e.g. `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; 0 or -1 is unlimited.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`, 10 to 1000 (0 is unset).
    pub blkio_weight: Option<u16>,
    /// `--oom-kill-disable` (cgroup v1 only).
    pub oom_kill_disable: Option<bool>,
    /// `--memory-swappiness`, 0 to 100 (cgroup v1 only); -1 or unset keeps
    /// the parent's.
    #[serde(default)]
    pub memory_swappiness: Option<i64>,
}

/// A limit that may be "unlimited".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Max,
    Value(u64),
}

impl Limit {
    fn from_i64(v: i64) -> Limit {
        if v < 0 {
            Limit::Max
        } else {
            Limit::Value(v as u64)
        }
    }
}

/// [`Resources`] after Docker's translations: what to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub memory: Option<Limit>,
    /// Memory plus swap.
    pub memory_swap: Option<Limit>,
    pub reservation: Option<Limit>,
    pub shares: Option<u64>,
    pub quota: Option<Limit>,
    pub period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub pids: Option<Limit>,
    pub blkio_weight: Option<u16>,
    pub oom_kill_disable: Option<bool>,
    pub swappiness: Option<u64>,
}

impl Resources {
    /// Checks the values as Docker does, with Docker's wording.
    pub fn validate(&self) -> Result<(), String> {
        let memory = self.memory.unwrap_or(0);
        if memory < 0 {
            return Err("invalid memory limit: it cannot be negative".into());
        }
        if memory > 0 && memory < 6 * 1024 * 1024 {
            return Err("Minimum memory limit allowed is 6MB".into());
        }
        match self.memory_swap {
            Some(s) if s > 0 && memory == 0 => {
                return Err(
                    "You should always set the Memory limit when using Memoryswap limit, see usage"
                        .into(),
                )
            }
            Some(s) if s > 0 && s < memory => {
                return Err(
                    "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
                )
            }
            Some(s) if s < -1 => return Err(format!("invalid memory swap limit {s}")),
            _ => {}
        }
        if let Some(r) = self.memory_reservation {
            if r < 0 {
                return Err("invalid memory reservation: it cannot be negative".into());
            }
            if memory > 0 && r > memory {
                return Err(
                    "Minimum memory limit can not be less than memory reservation limit, see usage"
                        .into(),
                );
            }
        }
        if let Some(n) = self.nano_cpus.filter(|n| *n != 0) {
            if n < 0 {
                return Err("invalid CPU count: it cannot be negative".into());
            }
            if self.cpu_period.is_some_and(|p| p != 0) {
                return Err(
                    "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
                );
            }
            if self.cpu_quota.is_some_and(|q| q != 0) {
                return Err(
                    "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
                );
            }
        }
        if let Some(p) = self.cpu_period.filter(|p| *p != 0) {
            if !(1000..=1_000_000).contains(&p) {
                return Err(
                    "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                        .into(),
                );
            }
        }
        if let Some(q) = self.cpu_quota {
            if q > 0 && q < 1000 {
                return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
            }
            if q < -1 {
                return Err(format!("invalid CPU quota {q}"));
            }
        }
        if let Some(s) = self.memory_swappiness.filter(|s| *s != -1) {
            if !(0..=100).contains(&s) {
                return Err(format!(
                    "Invalid value: {s}, valid memory swappiness range is 0-100"
                ));
            }
        }
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return Err("Range of blkio weight is from 10 to 1000".into());
            }
        }
        for (what, v) in [("cpus", &self.cpuset_cpus), ("mems", &self.cpuset_mems)] {
            if let Some(v) = v {
                if !valid_cpu_list(v) {
                    return Err(format!("Invalid value {v} for cpuset {what}"));
                }
            }
        }
        Ok(())
    }

    /// Docker's translations: `--cpus` to quota and period, the default
    /// swap of twice the memory (at creation only: `default_swap`), shares
    /// clamped to the kernel's range.
    pub(crate) fn limits(&self, default_swap: bool) -> Limits {
        let memory = self.memory.filter(|m| *m > 0);
        let memory_swap = match (self.memory_swap, memory) {
            (Some(s), _) if s != 0 => Some(Limit::from_i64(s)),
            // Twice a huge memory limit does not fit the kernel's signed
            // value: no swap limit then, as for unlimited.
            (_, Some(m)) if default_swap => Some(match m.checked_mul(2) {
                Some(twice) => Limit::Value(twice as u64),
                None => Limit::Max,
            }),
            _ => None,
        };
        let (quota, period) = match self.nano_cpus.filter(|n| *n > 0) {
            Some(n) => (
                Some(Limit::Value(
                    (n as u128 * DEFAULT_CPU_PERIOD as u128 / 1_000_000_000) as u64,
                )),
                Some(DEFAULT_CPU_PERIOD),
            ),
            None => (
                self.cpu_quota.filter(|q| *q != 0).map(Limit::from_i64),
                self.cpu_period.filter(|p| *p != 0),
            ),
        };
        Limits {
            memory: memory.map(|m| Limit::Value(m as u64)),
            memory_swap,
            reservation: self
                .memory_reservation
                .filter(|r| *r > 0)
                .map(|r| Limit::Value(r as u64)),
            shares: self
                .cpu_shares
                .filter(|s| *s != 0)
                .map(|s| s.clamp(2, 262_144)),
            quota,
            period,
            cpus: self.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            mems: self.cpuset_mems.clone().filter(|s| !s.is_empty()),
            pids: self.pids_limit.map(Limit::from_i64).map(|l| match l {
                Limit::Value(0) => Limit::Max,
                other => other,
            }),
            blkio_weight: self.blkio_weight.filter(|w| *w != 0),
            oom_kill_disable: self.oom_kill_disable,
            swappiness: self
                .memory_swappiness
                .filter(|s| (0..=100).contains(s))
                .map(|s| s as u64),
        }
    }

    /// The OCI `linux.resources` for these limits (without devices).
    pub fn to_oci(&self) -> Result<Option<LinuxResources>, oci_spec::OciSpecError> {
        use oci_spec::runtime::{
            LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
        };
        let l = self.limits(true);
        let as_i64 = |l: Limit| match l {
            Limit::Max => -1,
            Limit::Value(v) => v as i64,
        };
        let mut res = LinuxResources::default();
        if l.memory.is_some()
            || l.memory_swap.is_some()
            || l.reservation.is_some()
            || l.oom_kill_disable.is_some()
            || l.swappiness.is_some()
        {
            let mut m = LinuxMemoryBuilder::default().build()?;
            m.set_swappiness(l.swappiness);
            m.set_limit(l.memory.map(as_i64));
            m.set_swap(l.memory_swap.map(as_i64));
            m.set_reservation(l.reservation.map(as_i64));
            m.set_disable_oom_killer(l.oom_kill_disable);
            res.set_memory(Some(m));
        }
        if l.shares.is_some()
            || l.quota.is_some()
            || l.period.is_some()
            || l.cpus.is_some()
            || l.mems.is_some()
        {
            let mut c = LinuxCpuBuilder::default().build()?;
            c.set_shares(l.shares);
            c.set_quota(l.quota.map(as_i64));
            c.set_period(l.period);
            c.set_cpus(l.cpus.clone());
            c.set_mems(l.mems.clone());
            res.set_cpu(Some(c));
        }
        if let Some(p) = l.pids {
            res.set_pids(Some(LinuxPidsBuilder::default().limit(as_i64(p)).build()?));
        }
        if let Some(w) = l.blkio_weight {
            res.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build()?));
        }
        let empty = res.memory().is_none()
            && res.cpu().is_none()
            && res.pids().is_none()
            && res.block_io().is_none();
        Ok((!empty).then_some(res))
    }

    /// The inverse of [`Resources::to_oci`]: what the monitor reads back from
    /// `config.json`. `--cpus` comes back as quota and period.
    pub fn from_oci(res: &LinuxResources) -> Resources {
        let mut r = Resources::default();
        if let Some(m) = res.memory() {
            r.memory = m.limit();
            r.memory_swap = m.swap();
            r.memory_reservation = m.reservation();
            r.oom_kill_disable = m.disable_oom_killer();
            r.memory_swappiness = m.swappiness().map(|s| s as i64);
        }
        if let Some(c) = res.cpu() {
            r.cpu_shares = c.shares();
            r.cpu_quota = c.quota();
            r.cpu_period = c.period();
            r.cpuset_cpus = c.cpus().clone();
            r.cpuset_mems = c.mems().clone();
        }
        if let Some(p) = res.pids() {
            r.pids_limit = Some(p.limit());
        }
        if let Some(b) = res.block_io() {
            r.blkio_weight = b.weight();
        }
        r
    }
}

fn valid_cpu_list(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|part| {
            let mut it = part.splitn(2, '-');
            let a = it.next().unwrap_or_default();
            let ok = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
            match it.next() {
                Some(b) => ok(a) && ok(b),
                None => ok(a),
            }
        })
}
