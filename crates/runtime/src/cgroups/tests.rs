use super::*;
use std::path::Path;

const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

fn gib(n: i64) -> i64 {
    n * 1024 * 1024
}

#[test]
fn hybrid_layout_is_v1() {
    let Some(Layout::V1(mounts)) = parse_mountinfo(HYBRID) else {
        panic!("not v1");
    };
    let names: Vec<String> = mounts.iter().map(|m| m.controllers.join(",")).collect();
    assert_eq!(
        names,
        ["cpu", "cpuacct", "cpuset", "memory", "name=systemd"]
    );
    assert_eq!(mounts[3].mount_point, Path::new("/sys/fs/cgroup/memory"));
}

#[test]
fn unified_layout_and_escapes() {
    let text = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n\
                31 23 0:27 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n";
    assert_eq!(
        parse_mountinfo(text),
        Some(Layout::V2("/sys/fs/cgroup".into()))
    );
    assert_eq!(unescape("/tmp/a\\040b\\134"), "/tmp/a b\\");
    assert_eq!(parse_mountinfo("1 2 0:1 / / rw - ext4 /dev/x rw\n"), None);
    // Only a named hierarchy (no controller) is not v1.
    let named = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                 41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    assert_eq!(
        parse_mountinfo(named),
        Some(Layout::V2("/sys/fs/cgroup/unified".into()))
    );
}

#[test]
fn dockers_translations() {
    let r = Resources {
        nano_cpus: Some(500_000_000),
        memory: Some(gib(32)),
        ..Default::default()
    };
    let l = r.limits(true);
    assert_eq!(l.quota, Some(Limit::Value(50_000)));
    assert_eq!(l.period, Some(100_000));
    assert_eq!(l.memory_swap, Some(Limit::Value(2 * gib(32) as u64)));
    assert_eq!(r.limits(false).memory_swap, None);
    // `-m` near i64::MAX: twice it does not fit; swap is left unlimited
    // rather than written as a negative number that fails the start.
    let huge = Resources {
        memory: Some(i64::MAX),
        ..Default::default()
    };
    assert_eq!(huge.limits(true).memory_swap, Some(Limit::Max));
    let r = Resources {
        memory: Some(gib(32)),
        memory_swap: Some(-1),
        pids_limit: Some(0),
        cpu_shares: Some(1),
        ..Default::default()
    };
    let l = r.limits(true);
    assert_eq!(l.memory_swap, Some(Limit::Max));
    assert_eq!(l.pids, Some(Limit::Max));
    assert_eq!(l.shares, Some(2));
    assert_eq!(v2::shares_to_weight(1024), 39);
    assert_eq!(v2::shares_to_weight(2), 1);
    assert_eq!(v2::shares_to_weight(262_144), 10_000);
    assert_eq!(v2::blkio_to_io_weight(500), 4950);
    assert_eq!(v2::blkio_to_io_weight(10), 1);
    assert_eq!(v2::blkio_to_io_weight(1000), 10_000);
}

#[test]
fn oci_round_trip() {
    let r = Resources {
        memory: Some(gib(64)),
        memory_reservation: Some(gib(16)),
        nano_cpus: Some(1_500_000_000),
        cpuset_cpus: Some("0".into()),
        pids_limit: Some(20),
        blkio_weight: Some(300),
        oom_kill_disable: Some(true),
        ..Default::default()
    };
    let oci = r.to_oci().unwrap().unwrap();
    let back = Resources::from_oci(&oci);
    assert_eq!(back.limits(true), r.limits(true));
    assert_eq!(back.cpu_quota, Some(150_000));
    assert_eq!(back.memory_swap, Some(gib(128)));
    assert_eq!(Resources::default().to_oci().unwrap(), None);
}

#[test]
fn validation_uses_dockers_words() {
    let bad = |r: Resources| r.validate().unwrap_err();
    assert_eq!(
        bad(Resources {
            nano_cpus: Some(1),
            cpu_quota: Some(5000),
            ..Default::default()
        }),
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    );
    assert_eq!(
        bad(Resources {
            nano_cpus: Some(1),
            cpu_period: Some(5000),
            ..Default::default()
        }),
        "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    );
    assert_eq!(
        bad(Resources {
            memory: Some(1024),
            ..Default::default()
        }),
        "Minimum memory limit allowed is 6MB"
    );
    assert!(bad(Resources {
        memory: Some(gib(64)),
        memory_swap: Some(gib(32)),
        ..Default::default()
    })
    .contains("memoryswap limit should be larger"));
    assert!(bad(Resources {
        memory_swap: Some(gib(32)),
        ..Default::default()
    })
    .contains("always set the Memory limit"));
    assert!(bad(Resources {
        blkio_weight: Some(5),
        ..Default::default()
    })
    .contains("blkio weight"));
    assert!(bad(Resources {
        cpuset_cpus: Some("0-a".into()),
        ..Default::default()
    })
    .contains("cpuset cpus"));
    assert!(bad(Resources {
        cpu_period: Some(10),
        ..Default::default()
    })
    .contains("cfs period"));
    Resources {
        cpu_quota: Some(-1),
        memory_swap: Some(-1),
        ..Default::default()
    }
    .validate()
    .unwrap();
}

#[test]
fn names_stay_relative() {
    assert_eq!(relative("berth", "abc").unwrap(), Path::new("berth/abc"));
    assert_eq!(relative("/a/b", "c").unwrap(), Path::new("a/b/c"));
    assert!(relative("berth/..", "x").is_err());
    assert!(relative("berth", "a/b").is_err());
    assert!(relative("berth", "").is_err());
    assert!(relative("", "x").is_err());
}

#[test]
fn system_cpu_from_proc_stat() {
    let stat = "cpu  10 1 5 100 2 0 1 7 0 0\ncpu0 5 0 2 50 1 0 0 0 0 0\ncpu1 5 1 3 50 1 0 1 0 0 0\nintr 1\n";
    assert_eq!(system_cpu(stat), (119 * 10_000_000, 2));
}

/// A fake v2 tree: the files the kernel would show, in a tempdir.
struct FakeV2 {
    _dir: tempfile::TempDir,
    roots: Roots,
    root: PathBuf,
}

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn fake_v2(leaf_controllers: &str) -> FakeV2 {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cgroup");
    let proc = dir.path().join("proc");
    put(
        &proc.join("self/mountinfo"),
        &format!("30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n", root.display()),
    );
    put(
        &proc.join("stat"),
        "cpu  1 0 1 0 0 0 0 0\ncpu0 1 0 1 0 0 0 0\n",
    );
    put(
        &root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids",
    );
    put(&root.join("cgroup.subtree_control"), "cpu memory pids");
    let parent = root.join("berth");
    put(
        &parent.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids",
    );
    put(&parent.join("cgroup.subtree_control"), "");
    let leaf = parent.join("c1");
    put(&leaf.join("cgroup.controllers"), leaf_controllers);
    for f in [
        "cgroup.procs",
        "cgroup.freeze",
        "memory.max",
        "memory.swap.max",
        "memory.low",
        "cpu.weight",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "io.weight",
    ] {
        put(&leaf.join(f), "");
    }
    put(&leaf.join("cpu.max"), "max 100000\n");
    put(&leaf.join("cgroup.events"), "populated 1\nfrozen 1\n");
    put(&leaf.join("memory.current"), "4096\n");
    put(&leaf.join("memory.stat"), "anon 1024\nfile 2048\n");
    put(
        &leaf.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    );
    put(
        &leaf.join("cpu.stat"),
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
    );
    put(&leaf.join("pids.current"), "3\n");
    put(
        &leaf.join("io.stat"),
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
    );
    FakeV2 {
        roots: Roots { proc },
        root,
        _dir: dir,
    }
}

fn cfg(resources: Resources) -> CgroupConfig {
    CgroupConfig {
        parent: "berth".into(),
        id: "c1".into(),
        resources,
        devices: None,
    }
}

fn text(p: PathBuf) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn v2_limits_on_a_fake_tree() {
    let fake = fake_v2("cpuset cpu io memory hugetlb pids");
    let cg = Cgroup::create_in(
        &fake.roots,
        &cfg(Resources {
            memory: Some(gib(32)),
            memory_swap: Some(gib(48)),
            memory_reservation: Some(gib(8)),
            nano_cpus: Some(500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1".into()),
            cpuset_mems: Some("0".into()),
            pids_limit: Some(20),
            blkio_weight: Some(500),
            oom_kill_disable: Some(true),
            ..Default::default()
        }),
    )
    .unwrap();
    let leaf = fake.root.join("berth/c1");
    assert_eq!(cg.dir(), leaf);
    assert_eq!(text(leaf.join("memory.max")), gib(32).to_string());
    assert_eq!(text(leaf.join("memory.swap.max")), gib(16).to_string());
    assert_eq!(text(leaf.join("memory.low")), gib(8).to_string());
    assert_eq!(text(leaf.join("cpu.max")), "50000 100000");
    assert_eq!(text(leaf.join("cpu.weight")), "20");
    assert_eq!(text(leaf.join("cpuset.cpus")), "0-1");
    assert_eq!(text(leaf.join("cpuset.mems")), "0");
    assert_eq!(text(leaf.join("pids.max")), "20");
    assert_eq!(text(leaf.join("io.weight")), "default 4950");
    assert_eq!(
        text(fake.root.join("berth/cgroup.subtree_control")),
        "+cpu +cpuset +io +memory +pids +hugetlb"
    );
    // The system's root is never written.
    assert_eq!(
        text(fake.root.join("cgroup.subtree_control")),
        "cpu memory pids"
    );
    assert_eq!(cg.warnings().len(), 1, "{:?}", cg.warnings());
    assert!(cg.warnings()[0].contains("OomKillDisable"));

    cg.add_pid(42).unwrap();
    assert_eq!(text(leaf.join("cgroup.procs")), "42");
    cg.freeze().unwrap();
    assert_eq!(text(leaf.join("cgroup.freeze")), "1");
    assert!(cg.oom_killed());

    let s = cg.stats().unwrap();
    assert_eq!(s.memory_usage, 4096);
    assert_eq!(s.memory_limit, Some(gib(32) as u64));
    assert_eq!(s.memory_cache, 2048);
    assert_eq!(
        (s.cpu_total_ns, s.cpu_user_ns, s.cpu_system_ns),
        (1_500_000, 1_000_000, 500_000)
    );
    assert_eq!((s.pids_current, s.pids_limit), (3, Some(20)));
    assert_eq!((s.blkio_read_bytes, s.blkio_write_bytes), (101, 202));
    assert_eq!((s.system_cpu_ns, s.online_cpus), (20_000_000, 1));

    // update writes only what is set; a quota alone keeps the period.
    cg.update(&Resources {
        cpu_quota: Some(20_000),
        memory_swap: Some(-1),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(text(leaf.join("cpu.max")), "20000 100000");
    assert_eq!(text(leaf.join("memory.swap.max")), "max");
    assert_eq!(text(leaf.join("memory.max")), gib(32).to_string());

    let opened = Cgroup::open_in(&fake.roots, "berth", "c1").unwrap();
    assert_eq!(opened.dir(), leaf);
    assert!(matches!(
        Cgroup::open_in(&fake.roots, "berth", "nope"),
        Err(CgroupError::NotFound(_))
    ));
}

#[test]
fn v2_missing_controller_is_an_error() {
    let fake = fake_v2("cpu memory");
    let err = Cgroup::create_in(
        &fake.roots,
        &cfg(Resources {
            pids_limit: Some(5),
            ..Default::default()
        }),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CgroupError::ControllerMissing { controller, .. } if controller == "pids"),
        "{err}"
    );
}

#[test]
fn v2_leaves_another_users_directories_alone() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test gives a fake tree's directory to another user: run it as root");
    }
    // A delegated subtree seen from inside: the directories above it
    // belong to someone else (a rootless daemon sees them as nobody's).
    let fake = fake_v2("cpu memory pids");
    let above = fake.root.join("user.slice");
    put(&above.join("cgroup.controllers"), "cpu memory pids");
    put(&above.join("cgroup.subtree_control"), "memory");
    std::fs::rename(fake.root.join("berth"), above.join("berth")).unwrap();
    std::os::unix::fs::chown(&above, Some(4242), Some(4242)).unwrap();
    let cg = Cgroup::create_in(
        &fake.roots,
        &CgroupConfig {
            parent: "user.slice/berth".into(),
            ..cfg(Resources {
                memory: Some(gib(64)),
                ..Default::default()
            })
        },
    )
    .unwrap();
    assert_eq!(cg.dir(), above.join("berth/c1"));
    assert_eq!(text(above.join("cgroup.subtree_control")), "memory");
    assert_eq!(
        text(above.join("berth/cgroup.subtree_control")),
        "+cpu +cpuset +io +memory +pids +hugetlb"
    );
    assert_eq!(text(above.join("berth/c1/memory.max")), gib(64).to_string());
}

#[test]
fn v2_membership_and_spec_config() {
    let fake = fake_v2("cpu memory pids");
    let cg = Cgroup::open_in(&fake.roots, "berth", "c1").unwrap();
    let Cgroup::V2(v2) = &cg else { panic!() };
    assert!(v2.is_member("0::/berth/c1\n"));
    assert!(!v2.is_member("0::/berth/c10\n"));

    let mut linux = oci_spec::runtime::Linux::default();
    linux.set_cgroups_path(Some("berth/sub/abc".into()));
    linux.set_resources(
        Resources {
            pids_limit: Some(7),
            ..Default::default()
        }
        .to_oci()
        .unwrap(),
    );
    let mut spec = Spec::default();
    spec.set_linux(Some(linux));
    let c = config_for_spec(&spec).unwrap().unwrap();
    assert_eq!((c.parent.as_str(), c.id.as_str()), ("berth/sub", "abc"));
    assert_eq!(c.resources.pids_limit, Some(7));
}

/// Removes a test parent from every hierarchy, even when the test failed.
struct ParentGuard {
    parent: String,
    cgroups: Vec<Cgroup>,
}

impl Drop for ParentGuard {
    fn drop(&mut self) {
        for c in &self.cgroups {
            let _ = c.remove();
        }
        if let Err(e) = remove_parent(&Roots::default(), &self.parent) {
            eprintln!("cleaning up test cgroups: {e}");
        }
    }
}

pub(crate) fn unique_parent() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("berth-test-{}-{nanos}", std::process::id())
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test creates real cgroups and must run as root"
    );
}

#[test]
fn real_cgroup_limits_processes_and_removal() {
    require_root();
    let parent = unique_parent();
    let mut guard = ParentGuard {
        parent: parent.clone(),
        cgroups: Vec::new(),
    };
    let cg = Cgroup::create(&CgroupConfig {
        parent: parent.clone(),
        id: "c1".into(),
        resources: Resources {
            memory: Some(gib(32)),
            memory_reservation: Some(gib(16)),
            nano_cpus: Some(500_000_000),
            cpu_shares: Some(512),
            pids_limit: Some(20),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        },
        devices: None,
    })
    .unwrap();
    guard.cgroups.push(cg.clone());
    match &cg {
        Cgroup::V1(_) => {
            let cpu = cg.controller_dir("cpu").unwrap();
            assert_eq!(text(cpu.join("cpu.cfs_quota_us")).trim(), "50000");
            assert_eq!(text(cpu.join("cpu.cfs_period_us")).trim(), "100000");
            assert_eq!(text(cpu.join("cpu.shares")).trim(), "512");
            let mem = cg.controller_dir("memory").unwrap();
            assert_eq!(
                text(mem.join("memory.limit_in_bytes")).trim(),
                gib(32).to_string()
            );
            if mem.join("memory.memsw.limit_in_bytes").exists() {
                assert_eq!(
                    text(mem.join("memory.memsw.limit_in_bytes")).trim(),
                    gib(64).to_string()
                );
            }
            let cpuset = cg.controller_dir("cpuset").unwrap();
            assert_eq!(text(cpuset.join("cpuset.cpus")).trim(), "0");
            assert!(!text(cpuset.join("cpuset.mems")).trim().is_empty());
            let parent_cpuset = cpuset.parent().unwrap();
            assert!(!text(parent_cpuset.join("cpuset.cpus")).trim().is_empty());
        }
        Cgroup::V2(_) => {
            assert_eq!(text(cg.dir().join("cpu.max")).trim(), "50000 100000");
        }
    }

    let mut child = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let moved = cg.add_pid(pid);
    if moved.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    moved.unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    cg.freeze().unwrap();
    cg.thaw().unwrap();
    let s = cg.stats().unwrap();
    assert_eq!(s.memory_limit, Some(gib(32) as u64));
    assert_eq!((s.pids_current, s.pids_limit), (1, Some(20)));
    assert!(s.system_cpu_ns > 0 && s.online_cpus > 0);
    assert!(!cg.oom_killed());
    cg.update(&Resources {
        pids_limit: Some(30),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(cg.stats().unwrap().pids_limit, Some(30));

    let opened = Cgroup::open(&parent, "c1").unwrap();
    assert_eq!(opened.dirs(), cg.dirs());
    opened.remove().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    for d in cg.dirs() {
        assert!(!d.exists(), "{} remains", d.display());
    }
    // Removing again is fine (already gone).
    cg.remove().unwrap();
}

#[test]
fn real_cgroup_failed_creation_leaves_nothing() {
    require_root();
    let parent = unique_parent();
    let _guard = ParentGuard {
        parent: parent.clone(),
        cgroups: Vec::new(),
    };
    let err = Cgroup::create(&CgroupConfig {
        parent: parent.clone(),
        id: "bad".into(),
        resources: Resources {
            cpuset_cpus: Some("999".into()),
            ..Default::default()
        },
        devices: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("cpuset.cpus"), "{err}");
    let roots: Vec<PathBuf> = match Roots::default().layout().unwrap() {
        Layout::V1(mounts) => mounts.into_iter().map(|m| m.mount_point).collect(),
        Layout::V2(root) => vec![root],
    };
    for r in roots {
        assert!(!r.join(&parent).exists(), "{} remains", r.display());
    }
}
