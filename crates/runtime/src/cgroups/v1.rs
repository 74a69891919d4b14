//! cgroup v1: one directory per mounted hierarchy.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fs::{self, keyed, read, read_limit, read_u64, write};
use super::{CgroupError, DeviceRule, Limit, Limits, Result, Roots, Stats, V1Mount};

/// A container's cgroup on v1 hierarchies.
#[derive(Debug, Clone)]
pub struct V1 {
    mounts: Vec<V1Mount>,
    rel: PathBuf,
    proc: PathBuf,
    warnings: Vec<String>,
}

fn limit_text(l: Limit) -> String {
    match l {
        Limit::Max => "-1".into(),
        Limit::Value(v) => v.to_string(),
    }
}

impl V1 {
    pub(super) fn new(roots: &Roots, mounts: Vec<V1Mount>, rel: PathBuf) -> V1 {
        V1 {
            mounts,
            rel,
            proc: roots.proc.clone(),
            warnings: Vec::new(),
        }
    }

    pub(super) fn create(
        roots: &Roots,
        mounts: Vec<V1Mount>,
        rel: PathBuf,
        limits: &Limits,
        devices: Option<&[DeviceRule]>,
    ) -> Result<V1> {
        let mut cg = V1::new(roots, mounts, rel);
        let mut made = Vec::new();
        let res = (|| {
            for m in &cg.mounts {
                made.extend(fs::mkdir_chain(&m.mount_point, &cg.rel)?);
            }
            if let Some(root) = cg.mount_point("cpuset") {
                copy_cpuset(&root, &cg.rel)?;
            }
            cg.warnings = cg.apply(limits)?;
            if let Some(rules) = devices {
                cg.apply_devices(rules)?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => Ok(cg),
            Err(e) => {
                fs::remove_made(&made);
                Err(e)
            }
        }
    }

    fn mount_point(&self, controller: &str) -> Option<PathBuf> {
        self.mounts
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
            .map(|m| m.mount_point.clone())
    }

    pub(super) fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        self.mount_point(controller).map(|m| m.join(&self.rel))
    }

    fn need(&self, controller: &str) -> Result<PathBuf> {
        self.controller_dir(controller)
            .ok_or_else(|| CgroupError::ControllerMissing {
                controller: controller.to_string(),
                path: self.rel.clone(),
            })
    }

    pub(super) fn main_dir(&self) -> PathBuf {
        self.controller_dir("memory")
            .or_else(|| self.controller_dir("pids"))
            .or_else(|| self.mounts.first().map(|m| m.mount_point.join(&self.rel)))
            .unwrap_or_default()
    }

    pub(super) fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for m in &self.mounts {
            let d = m.mount_point.join(&self.rel);
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        dirs
    }

    pub(super) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(super) fn proc_root(&self) -> &Path {
        &self.proc
    }

    pub(super) fn add(&self, pid: &str) -> Result<()> {
        self.dirs()
            .iter()
            .try_for_each(|d| write(&d.join("cgroup.procs"), pid))
    }

    /// Writes every limit that is set; returns warnings for the ones this
    /// kernel cannot apply.
    pub(super) fn apply(&self, l: &Limits) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if l.memory.is_some()
            || l.memory_swap.is_some()
            || l.reservation.is_some()
            || l.oom_kill_disable.is_some()
            || l.swappiness.is_some()
        {
            let dir = self.need("memory")?;
            let mut swap = l.memory_swap;
            if swap.is_some() && !dir.join("memory.memsw.limit_in_bytes").exists() {
                warnings.push(
                    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                        .to_string(),
                );
                swap = None;
            }
            set_memory(&dir, l.memory, swap)?;
            if let Some(r) = l.reservation {
                write(&dir.join("memory.soft_limit_in_bytes"), &limit_text(r))?;
            }
            if let Some(d) = l.oom_kill_disable {
                write(&dir.join("memory.oom_control"), if d { "1" } else { "0" })?;
            }
            if let Some(s) = l.swappiness {
                write(&dir.join("memory.swappiness"), &s.to_string())?;
            }
        }
        if l.shares.is_some() || l.period.is_some() || l.quota.is_some() {
            let dir = self.need("cpu")?;
            if let Some(s) = l.shares {
                write(&dir.join("cpu.shares"), &s.to_string())?;
            }
            if let Some(p) = l.period {
                write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
            }
            if let Some(q) = l.quota {
                write(&dir.join("cpu.cfs_quota_us"), &limit_text(q))?;
            }
        }
        if l.cpus.is_some() || l.mems.is_some() {
            let dir = self.need("cpuset")?;
            if let Some(c) = &l.cpus {
                write(&dir.join("cpuset.cpus"), c)?;
            }
            if let Some(m) = &l.mems {
                write(&dir.join("cpuset.mems"), m)?;
            }
        }
        if let Some(p) = l.pids {
            let dir = self.need("pids")?;
            let text = match p {
                Limit::Max => "max".to_string(),
                Limit::Value(v) => v.to_string(),
            };
            write(&dir.join("pids.max"), &text)?;
        }
        if let Some(w) = l.blkio_weight {
            let file = self.controller_dir("blkio").and_then(|d| {
                ["blkio.weight", "blkio.bfq.weight"]
                    .iter()
                    .map(|f| d.join(f))
                    .find(|p| p.exists())
            });
            match file {
                Some(f) => write(&f, &w.to_string())?,
                None => warnings.push(
                    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                        .to_string(),
                ),
            }
        }
        Ok(warnings)
    }

    fn apply_devices(&self, rules: &[DeviceRule]) -> Result<()> {
        let dir = self.need("devices")?;
        for r in rules {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&dir.join(file), &r.line())?;
        }
        Ok(())
    }

    fn freezer_state(&self, dir: &Path) -> Result<String> {
        Ok(read(&dir.join("freezer.state"))?.trim().to_string())
    }

    fn set_freezer(&self, want: &str) -> Result<()> {
        let dir = self.need("freezer")?;
        write(&dir.join("freezer.state"), want)?;
        let mut waited = Duration::ZERO;
        let mut delay = Duration::from_millis(1);
        loop {
            let state = self.freezer_state(&dir)?;
            if state == want {
                return Ok(());
            }
            if waited >= Duration::from_secs(2) {
                if want == "FROZEN" {
                    let _ = write(&dir.join("freezer.state"), "THAWED");
                }
                return Err(CgroupError::FreezeTimeout {
                    path: dir,
                    state,
                    waited_ms: waited.as_millis() as u64,
                });
            }
            // Writing again nudges tasks that were forking while freezing.
            std::thread::sleep(delay);
            waited += delay;
            delay = (delay * 2).min(Duration::from_millis(50));
            write(&dir.join("freezer.state"), want)?;
        }
    }

    pub(super) fn freeze(&self) -> Result<()> {
        self.set_freezer("FROZEN")
    }

    pub(super) fn thaw(&self) -> Result<()> {
        self.set_freezer("THAWED")
    }

    pub(super) fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Some(d) = self.controller_dir("memory") {
            s.memory_usage = read_u64(&d.join("memory.usage_in_bytes"))?;
            s.memory_limit = read_limit(&d.join("memory.limit_in_bytes"))?;
            s.memory_stat = keyed(&read(&d.join("memory.stat"))?);
            s.memory_cache = s
                .memory_stat
                .get("total_cache")
                .or_else(|| s.memory_stat.get("cache"))
                .copied()
                .unwrap_or(0);
        }
        if let Some(d) = self.controller_dir("cpuacct") {
            s.cpu_total_ns = read_u64(&d.join("cpuacct.usage"))?;
            if let Ok(per) = read(&d.join("cpuacct.usage_percpu")) {
                s.cpu_per_cpu_ns = per
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
            }
            match (
                read_u64(&d.join("cpuacct.usage_user")),
                read_u64(&d.join("cpuacct.usage_sys")),
            ) {
                (Ok(u), Ok(sys)) => {
                    s.cpu_user_ns = u;
                    s.cpu_system_ns = sys;
                }
                _ => {
                    let st = keyed(&read(&d.join("cpuacct.stat"))?);
                    s.cpu_user_ns = st.get("user").copied().unwrap_or(0) * 10_000_000;
                    s.cpu_system_ns = st.get("system").copied().unwrap_or(0) * 10_000_000;
                }
            }
        }
        if let Some(d) = self.controller_dir("pids") {
            s.pids_current = read_u64(&d.join("pids.current"))?;
            s.pids_limit = read_limit(&d.join("pids.max"))?;
        }
        if let Some(d) = self.controller_dir("blkio") {
            let text = read(&d.join("blkio.throttle.io_service_bytes_recursive"))
                .or_else(|_| read(&d.join("blkio.io_service_bytes_recursive")))
                .unwrap_or_default();
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if let [_, op, v] = f.as_slice() {
                    let v: u64 = v.parse().unwrap_or(0);
                    match *op {
                        "Read" => s.blkio_read_bytes += v,
                        "Write" => s.blkio_write_bytes += v,
                        _ => {}
                    }
                }
            }
        }
        Ok(s)
    }

    pub(super) fn pids(&self) -> Result<Vec<i32>> {
        let dir = self.main_dir();
        match std::fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(text) => Ok(fs::parse_pids(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(CgroupError::Read {
                path: dir.join("cgroup.procs"),
                source,
            }),
        }
    }

    pub(super) fn oom_kills(&self) -> Result<u64> {
        let dir = self.need("memory")?;
        let text = read(&dir.join("memory.oom_control"))?;
        Ok(keyed(&text).get("oom_kill").copied().unwrap_or(0))
    }

    /// Whether `/proc/<pid>/cgroup` text puts the process in this cgroup.
    pub(super) fn is_member(&self, text: &str) -> bool {
        let want = format!("/{}", self.rel.display());
        text.lines()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .any(|p| p == want)
    }
}

/// Sets memory and memory+swap in the order the kernel accepts (memsw may
/// never be below the memory limit).
fn set_memory(dir: &Path, memory: Option<Limit>, swap: Option<Limit>) -> Result<()> {
    let mem_file = dir.join("memory.limit_in_bytes");
    let swap_file = dir.join("memory.memsw.limit_in_bytes");
    match (memory, swap) {
        (Some(m), Some(s)) => {
            if write(&mem_file, &limit_text(m)).is_err() {
                write(&swap_file, &limit_text(s))?;
                write(&mem_file, &limit_text(m))
            } else {
                write(&swap_file, &limit_text(s))
            }
        }
        (Some(m), None) => write(&mem_file, &limit_text(m)),
        (None, Some(s)) => write(&swap_file, &limit_text(s)),
        (None, None) => Ok(()),
    }
}

/// A new cpuset cgroup starts with no cpus and no memory nodes, and no task
/// can join it then: fill each directory of the chain (the engine's parent
/// first) from its parent's values where it is empty.
fn copy_cpuset(root: &Path, rel: &Path) -> Result<()> {
    let mut parent = root.to_path_buf();
    for part in rel.components() {
        let dir = parent.join(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = read(&dir.join(file))?;
            if own.trim().is_empty() {
                let from = read(&parent.join(file))?;
                write(&dir.join(file), from.trim())?;
            }
        }
        parent = dir;
    }
    Ok(())
}
