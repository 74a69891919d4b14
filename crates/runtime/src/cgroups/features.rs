//! What the machine's cgroups can limit, as `docker info` reports it
//! (`MemoryLimit`, `SwapLimit`, `CpuCfsPeriod`, ...): on v1 from the
//! hierarchies mounted and the files their roots carry, on v2 from the
//! controllers the unified root offers (swap with memory, as dockerd
//! assumes there).

use std::path::Path;

use super::Layout;

/// The limits the kernel's cgroups support here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub oom_kill_disable: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    pub cpu_shares: bool,
    pub cpuset: bool,
    pub pids_limit: bool,
}

/// Reads the features of `layout`; `exists` and `read` see the files (the
/// real filesystem, or a fixture in tests).
pub fn features(
    layout: &Layout,
    exists: &dyn Fn(&Path) -> bool,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Features {
    match layout {
        Layout::V1(mounts) => {
            let dir = |c: &str| {
                mounts
                    .iter()
                    .find(|m| m.controllers.iter().any(|x| x == c))
                    .map(|m| m.mount_point.clone())
            };
            let has = |c: &str, file: &str| dir(c).is_some_and(|d| exists(&d.join(file)));
            Features {
                memory_limit: has("memory", "memory.limit_in_bytes"),
                swap_limit: has("memory", "memory.memsw.limit_in_bytes"),
                oom_kill_disable: has("memory", "memory.oom_control"),
                cpu_cfs_period: has("cpu", "cpu.cfs_period_us"),
                cpu_cfs_quota: has("cpu", "cpu.cfs_quota_us"),
                cpu_shares: has("cpu", "cpu.shares"),
                cpuset: has("cpuset", "cpuset.cpus"),
                pids_limit: has("pids", "pids.max") || dir("pids").is_some(),
            }
        }
        Layout::V2(root) => {
            let controllers = read(&root.join("cgroup.controllers")).unwrap_or_default();
            let on = |c: &str| controllers.split_whitespace().any(|x| x == c);
            Features {
                memory_limit: on("memory"),
                swap_limit: on("memory"),
                oom_kill_disable: false,
                cpu_cfs_period: on("cpu"),
                cpu_cfs_quota: on("cpu"),
                cpu_shares: on("cpu"),
                cpuset: on("cpuset"),
                pids_limit: on("pids"),
            }
        }
    }
}

/// The features of the cgroups made under `dir` (relative to the
/// hierarchy's root: on v2 its `cgroup.controllers` says what its children
/// may use, so a delegated subtree offers only what was delegated; v1's
/// limits are per hierarchy). None when no hierarchy is mounted.
pub fn features_under(roots: &super::Roots, dir: &Path) -> Features {
    let layout = match roots.layout() {
        Ok(Layout::V2(root)) => Layout::V2(root.join(dir)),
        Ok(v1) => v1,
        Err(_) => return Features::default(),
    };
    features(&layout, &|p| p.exists(), &|p| {
        std::fs::read_to_string(p).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::V1Mount;
    use std::path::PathBuf;

    #[test]
    fn v1_from_files_v2_from_controllers() {
        let mounts = vec![
            V1Mount {
                controllers: vec!["memory".into()],
                mount_point: PathBuf::from("/cg/memory"),
            },
            V1Mount {
                controllers: vec!["cpu".into(), "cpuacct".into()],
                mount_point: PathBuf::from("/cg/cpu,cpuacct"),
            },
            V1Mount {
                controllers: vec!["pids".into()],
                mount_point: PathBuf::from("/cg/pids"),
            },
        ];
        let files = [
            "/cg/memory/memory.limit_in_bytes",
            "/cg/memory/memory.oom_control",
            "/cg/cpu,cpuacct/cpu.shares",
            "/cg/cpu,cpuacct/cpu.cfs_quota_us",
            "/cg/cpu,cpuacct/cpu.cfs_period_us",
            "/cg/pids/pids.max",
        ];
        let f = features(
            &Layout::V1(mounts),
            &|p| files.iter().any(|f| Path::new(f) == p),
            &|_| None,
        );
        assert_eq!(
            f,
            Features {
                memory_limit: true,
                swap_limit: false,
                oom_kill_disable: true,
                cpu_cfs_period: true,
                cpu_cfs_quota: true,
                cpu_shares: true,
                cpuset: false,
                pids_limit: true,
            }
        );
        let f = features(&Layout::V2(PathBuf::from("/cg")), &|_| false, &|p| {
            (p == Path::new("/cg/cgroup.controllers")).then(|| "cpuset cpu io memory pids\n".into())
        });
        assert!(f.memory_limit && f.swap_limit && f.cpu_shares && f.cpuset && f.pids_limit);
        assert!(!f.oom_kill_disable);
    }
}
