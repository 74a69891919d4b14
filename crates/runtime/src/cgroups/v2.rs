//! cgroup v2: one unified hierarchy.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fs::{self, keyed, read, read_limit, read_u64, write};
use super::{CgroupError, DeviceRule, Limit, Limits, Result, Roots, Stats};

/// Controllers a container's cgroup uses, where the kernel offers them.
const WANTED: [&str; 6] = ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"];

/// A container's cgroup on the unified hierarchy.
#[derive(Debug, Clone)]
pub struct V2 {
    root: PathBuf,
    rel: PathBuf,
    proc: PathBuf,
    warnings: Vec<String>,
}

fn max_or(l: Limit) -> String {
    match l {
        Limit::Max => "max".into(),
        Limit::Value(v) => v.to_string(),
    }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), linearly.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000), linearly.
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + ((w - 10) * 9999) / 990
}

fn controllers(dir: &Path) -> Result<Vec<String>> {
    Ok(read(&dir.join("cgroup.controllers"))?
        .split_whitespace()
        .map(String::from)
        .collect())
}

impl V2 {
    pub(super) fn new(roots: &Roots, root: PathBuf, rel: PathBuf) -> V2 {
        V2 {
            root,
            rel,
            proc: roots.proc.clone(),
            warnings: Vec::new(),
        }
    }

    pub(super) fn create(
        roots: &Roots,
        root: PathBuf,
        rel: PathBuf,
        limits: &Limits,
        devices: Option<&[DeviceRule]>,
    ) -> Result<V2> {
        let mut cg = V2::new(roots, root, rel);
        let made = fs::mkdir_chain(&cg.root, &cg.rel)?;
        let res = (|| {
            cg.enable_controllers()?;
            let mut warnings = cg.check_controllers(limits)?;
            warnings.extend(cg.apply(limits)?);
            if devices.is_some_and(|d| !d.iter().all(|r| r.allow && r.kind == 'a')) {
                warnings.push(
                    "device access rules are not enforced on cgroup v2 by this runtime".to_string(),
                );
            }
            cg.warnings = warnings;
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

    /// Enables the wanted controllers in each directory between the root and
    /// the leaf (the engine's own parent chain). The root's
    /// `cgroup.subtree_control` belongs to the system and is never written,
    /// nor is that of a directory another user owns (above a rootless
    /// daemon's delegated subtree: what its owner enabled there is what the
    /// subtree gets).
    fn enable_controllers(&self) -> Result<()> {
        let euid = nix::unistd::geteuid().as_raw();
        let mut dir = self.root.clone();
        let parts: Vec<_> = self.rel.components().collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir.push(part);
            if std::fs::metadata(&dir).is_ok_and(|m| m.uid() != euid) {
                continue;
            }
            let available = controllers(&dir)?;
            let enabled = read(&dir.join("cgroup.subtree_control"))?;
            let enabled: Vec<&str> = enabled.split_whitespace().collect();
            let missing: Vec<String> = WANTED
                .iter()
                .filter(|c| available.iter().any(|a| a == *c) && !enabled.contains(c))
                .map(|c| format!("+{c}"))
                .collect();
            if !missing.is_empty() {
                write(&dir.join("cgroup.subtree_control"), &missing.join(" "))?;
            }
        }
        Ok(())
    }

    /// Errors when a limit needs a controller the leaf does not have.
    fn check_controllers(&self, l: &Limits) -> Result<Vec<String>> {
        let have = controllers(&self.main_dir())?;
        let need = |c: &str, wanted: bool| -> Result<()> {
            if wanted && !have.iter().any(|h| h == c) {
                return Err(CgroupError::ControllerMissing {
                    controller: c.to_string(),
                    path: self.main_dir(),
                });
            }
            Ok(())
        };
        need(
            "memory",
            l.memory.is_some() || l.memory_swap.is_some() || l.reservation.is_some(),
        )?;
        need(
            "cpu",
            l.shares.is_some() || l.quota.is_some() || l.period.is_some(),
        )?;
        need("cpuset", l.cpus.is_some() || l.mems.is_some())?;
        need("pids", l.pids.is_some())?;
        let mut warnings = Vec::new();
        if l.blkio_weight.is_some() && !have.iter().any(|h| h == "io") {
            warnings.push(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                    .to_string(),
            );
        }
        Ok(warnings)
    }

    pub(super) fn main_dir(&self) -> PathBuf {
        self.root.join(&self.rel)
    }

    pub(super) fn dirs(&self) -> Vec<PathBuf> {
        vec![self.main_dir()]
    }

    pub(super) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(super) fn proc_root(&self) -> &Path {
        &self.proc
    }

    pub(super) fn add(&self, pid: &str) -> Result<()> {
        write(&self.main_dir().join("cgroup.procs"), pid)
    }

    pub(super) fn apply(&self, l: &Limits) -> Result<Vec<String>> {
        let dir = self.main_dir();
        let mut warnings = Vec::new();
        if let Some(m) = l.memory {
            write(&dir.join("memory.max"), &max_or(m))?;
        }
        if let Some(s) = l.memory_swap {
            // v1's memory+swap becomes swap alone.
            let swap = match (s, l.memory) {
                (Limit::Max, _) => Some(Limit::Max),
                (Limit::Value(total), Some(Limit::Value(m))) => {
                    Some(Limit::Value(total.saturating_sub(m)))
                }
                (Limit::Value(total), _) => {
                    let current = read_limit(&dir.join("memory.max"))?;
                    current.map(|m| Limit::Value(total.saturating_sub(m)))
                }
            };
            let file = dir.join("memory.swap.max");
            match swap {
                Some(v) if file.exists() => write(&file, &max_or(v))?,
                Some(_) => warnings.push(
                    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                        .to_string(),
                ),
                None => {}
            }
        }
        if let Some(r) = l.reservation {
            write(&dir.join("memory.low"), &max_or(r))?;
        }
        if l.swappiness.is_some() {
            warnings.push(
                "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded."
                    .to_string(),
            );
        }
        if l.oom_kill_disable == Some(true) {
            warnings.push(
                "Your kernel does not support OomKillDisable. OomKillDisable discarded."
                    .to_string(),
            );
        }
        if let Some(s) = l.shares {
            write(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        if l.quota.is_some() || l.period.is_some() {
            let file = dir.join("cpu.max");
            let current = read(&file).unwrap_or_default();
            let mut cur = current.split_whitespace();
            let cur_quota = cur.next().unwrap_or("max").to_string();
            let cur_period = cur.next().unwrap_or("100000").to_string();
            let quota = l.quota.map(max_or).unwrap_or(cur_quota);
            let period = l.period.map(|p| p.to_string()).unwrap_or(cur_period);
            write(&file, &format!("{quota} {period}"))?;
        }
        if let Some(c) = &l.cpus {
            write(&dir.join("cpuset.cpus"), c)?;
        }
        if let Some(m) = &l.mems {
            write(&dir.join("cpuset.mems"), m)?;
        }
        if let Some(p) = l.pids {
            write(&dir.join("pids.max"), &max_or(p))?;
        }
        if let Some(w) = l.blkio_weight {
            let bfq = dir.join("io.bfq.weight");
            let io = dir.join("io.weight");
            if bfq.exists() {
                write(&bfq, &w.to_string())?;
            } else if io.exists() {
                write(&io, &format!("default {}", blkio_to_io_weight(w)))?;
            } else if !warnings.iter().any(|w| w.contains("Block I/O")) {
                warnings.push(
                    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                        .to_string(),
                );
            }
        }
        Ok(warnings)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let dir = self.main_dir();
        let want = if frozen { "1" } else { "0" };
        write(&dir.join("cgroup.freeze"), want)?;
        let mut waited = Duration::ZERO;
        let mut delay = Duration::from_millis(1);
        loop {
            let events = keyed(&read(&dir.join("cgroup.events"))?);
            let state = events.get("frozen").copied().unwrap_or(0);
            if state.to_string() == want {
                return Ok(());
            }
            if waited >= Duration::from_secs(2) {
                if frozen {
                    let _ = write(&dir.join("cgroup.freeze"), "0");
                }
                return Err(CgroupError::FreezeTimeout {
                    path: dir,
                    state: format!("frozen {state}"),
                    waited_ms: waited.as_millis() as u64,
                });
            }
            std::thread::sleep(delay);
            waited += delay;
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    pub(super) fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    pub(super) fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    pub(super) fn stats(&self) -> Result<Stats> {
        let d = self.main_dir();
        let mut s = Stats::default();
        if d.join("memory.current").exists() {
            s.memory_usage = read_u64(&d.join("memory.current"))?;
            s.memory_limit = read_limit(&d.join("memory.max"))?;
            s.memory_stat = keyed(&read(&d.join("memory.stat"))?);
            s.memory_cache = s.memory_stat.get("file").copied().unwrap_or(0);
        }
        let cpu = keyed(&read(&d.join("cpu.stat"))?);
        s.cpu_total_ns = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
        s.cpu_user_ns = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
        s.cpu_system_ns = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
        if d.join("pids.current").exists() {
            s.pids_current = read_u64(&d.join("pids.current"))?;
            s.pids_limit = read_limit(&d.join("pids.max"))?;
        }
        if let Ok(text) = read(&d.join("io.stat")) {
            for line in text.lines() {
                for field in line.split_whitespace().skip(1) {
                    if let Some((k, v)) = field.split_once('=') {
                        let v: u64 = v.parse().unwrap_or(0);
                        match k {
                            "rbytes" => s.blkio_read_bytes += v,
                            "wbytes" => s.blkio_write_bytes += v,
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(s)
    }

    pub(super) fn pids(&self) -> Result<Vec<i32>> {
        let file = self.main_dir().join("cgroup.procs");
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok(fs::parse_pids(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(CgroupError::Read { path: file, source }),
        }
    }

    pub(super) fn oom_kills(&self) -> Result<u64> {
        let text = read(&self.main_dir().join("memory.events"))?;
        Ok(keyed(&text).get("oom_kill").copied().unwrap_or(0))
    }

    pub(super) fn is_member(&self, text: &str) -> bool {
        let want = format!("0::/{}", self.rel.display());
        text.lines().any(|l| l == want)
    }

    /// Kills everything in the cgroup with `cgroup.kill` (Linux 5.14+);
    /// `false` when the kernel has no such file.
    pub(super) fn kill_via_cgroup_kill(&self) -> Result<bool> {
        let file = self.main_dir().join("cgroup.kill");
        if !file.exists() || self.pids()?.is_empty() {
            return Ok(false);
        }
        write(&file, "1")?;
        Ok(true)
    }
}
