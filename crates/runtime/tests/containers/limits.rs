//! End-to-end tests of resource limits, security defaults and container
//! options: cgroups, seccomp, capabilities, read-only roots, devices,
//! sysctls, ulimits, namespaces and `--init`.

use std::time::{Duration, Instant};

use berth_runtime::cgroups::Cgroup;
use berth_runtime::spec::{NsMode, Seccomp, Ulimit};

use crate::fixture::{run, run_with, Fixture, Run};

/// What `/probe <what>` does inside a container (this binary, re-run).
#[allow(unsafe_code)] // keyctl(2) has no safe wrapper
pub fn probe_main(what: &str) -> ! {
    let result = match what {
        // KEYCTL_GET_KEYRING_ID of the session keyring, no creation.
        "keyctl" => {
            // SAFETY: keyctl with integer arguments only.
            let rc = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) };
            if rc < 0 {
                Err(nix::errno::Errno::last())
            } else {
                Ok(())
            }
        }
        "unshare" => nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS),
        other => {
            println!("unknown probe {other}");
            std::process::exit(2)
        }
    };
    match result {
        Ok(()) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e}"),
    }
    std::process::exit(0)
}

fn with_probe(fx: &Fixture, r: &mut Run) {
    r.lower = Some(vec![fx.base.clone(), fx.probe.clone()]);
}

pub fn oom_kill(fx: &Fixture) {
    let mut r = Run::new("oom", fx, &["sh", "-c", "x=a; while :; do x=$x$x; done"]);
    r.opts.resources.memory = Some(32 << 20);
    let out = run(fx, r);
    assert_eq!(out.exit_code(), 137);
    assert!(out.oom_killed(), "the monitor did not report an OOM kill");
}

pub fn no_oom_without_limit(fx: &Fixture) {
    let out = run(fx, Run::new("nooom", fx, &["true"]));
    assert_eq!(out.exit_code(), 0);
    assert!(!out.oom_killed());
}

pub fn pids_limit_stops_fork_loop(fx: &Fixture) {
    // The subshell dies when it cannot fork; the count uses builtins only.
    let script = "(i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done); \
                  n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n";
    let mut r = Run::new("pids", fx, &["sh", "-c", script]);
    r.opts.resources.pids_limit = Some(20);
    let out = run(fx, r);
    let err = out.stream("stderr");
    assert!(err.contains("fork"), "no fork failure reported: {err:?}");
    let stdout = out.stdout();
    let count: u32 = stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process count in {stdout:?}"));
    assert!(
        (15..=20).contains(&count),
        "{count} processes under pids.max 20"
    );
}

pub fn cpus_become_cfs_quota(fx: &Fixture) {
    let mut r = Run::new("cpus", fx, &["sleep", "5"]);
    r.opts.resources.nano_cpus = Some(500_000_000);
    let parent = r.opts.cgroup_parent.clone();
    let mut seen = None;
    let out = run_with(fx, r, &mut |pid| {
        let cg = Cgroup::open(&parent, "cpus").unwrap();
        assert!(
            cg.pids().unwrap().contains(&pid),
            "pid 1 is not in its cgroup"
        );
        let values = match cg.controller_dir("cpu") {
            Some(d) if d.join("cpu.cfs_quota_us").exists() => (
                std::fs::read_to_string(d.join("cpu.cfs_quota_us")).unwrap(),
                std::fs::read_to_string(d.join("cpu.cfs_period_us")).unwrap(),
            ),
            _ => {
                let max = std::fs::read_to_string(cg.dir().join("cpu.max")).unwrap();
                let (q, p) = max.trim().split_once(' ').unwrap();
                (q.to_string(), p.to_string())
            }
        };
        seen = Some((values.0.trim().to_string(), values.1.trim().to_string()));
        let stats = cg.stats().unwrap();
        assert_eq!(stats.pids_current, 1);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    });
    assert_eq!(out.exit_code(), 137);
    assert_eq!(seen, Some(("50000".to_string(), "100000".to_string())));
}

pub fn seccomp_default(fx: &Fixture) {
    let mut r = Run::new(
        "seccomp",
        fx,
        &[
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; unshare -u true 2>/dev/null || echo unshare refused; \
             mount -t tmpfs none /tmp 2>/dev/null || echo mount refused; /probe keyctl; /probe unshare",
        ],
    );
    with_probe(fx, &mut r);
    let out = run(fx, r);
    assert_eq!(
        out.stdout(),
        "Seccomp:\t2\nunshare refused\nmount refused\nkeyctl: EPERM: Operation not permitted\nunshare: EPERM: Operation not permitted\n"
    );
    // The compiled filter was cached for the next container.
    let cache = fx.path().join("seccomp-cache");
    let cached = std::fs::read_dir(&cache).unwrap().count();
    assert!(cached >= 1, "nothing cached in {}", cache.display());
}

pub fn seccomp_unconfined_and_custom(fx: &Fixture) {
    let mut r = Run::new(
        "unconfined",
        fx,
        &["sh", "-c", "grep Seccomp: /proc/self/status; /probe keyctl"],
    );
    with_probe(fx, &mut r);
    r.opts.seccomp = Seccomp::Unconfined;
    let out = run(fx, r);
    let s = out.stdout();
    assert!(s.starts_with("Seccomp:\t0\n"), "{s}");
    assert!(!s.contains("EPERM"), "{s}");

    let mut r = Run::new(
        "customseccomp",
        fx,
        &[
            "sh",
            "-c",
            "mkdir /x 2>&1; echo rc=$?; touch /y && echo touched",
        ],
    );
    r.opts.seccomp = Seccomp::Profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#
            .into(),
    );
    let out = run(fx, r);
    let s = out.stdout();
    assert!(s.contains("Permission denied") && s.contains("rc=1"), "{s}");
    assert!(s.ends_with("touched\n"), "{s}");
}

pub fn seccomp_with_no_new_privileges(fx: &Fixture) {
    let mut r = Run::new(
        "seccompnnp",
        fx,
        &[
            "sh",
            "-c",
            "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
        ],
    );
    r.opts.no_new_privileges = true;
    r.opts.user = "1000".into();
    let out = run(fx, r);
    assert_eq!(out.stdout(), "NoNewPrivs:\t1\nSeccomp:\t2\n");
}

pub fn net_admin_needs_the_capability(fx: &Fixture) {
    // In the container's own network namespace: nothing on the host changes.
    let cmd = &[
        "sh",
        "-c",
        "ip link add br0 type bridge 2>/dev/null && echo added || echo refused",
    ];
    let out = run(fx, Run::new("nonetadmin", fx, cmd));
    assert_eq!(out.stdout(), "refused\n");
    let mut r = Run::new("netadmin", fx, cmd);
    r.opts.cap_add = vec!["NET_ADMIN".into()];
    let out = run(fx, r);
    assert_eq!(out.stdout(), "added\n");
    let mut r = Run::new(
        "dropall",
        fx,
        &["sh", "-c", "grep CapEff /proc/self/status"],
    );
    r.opts.cap_drop = vec!["ALL".into()];
    r.opts.cap_add = vec!["kill".into()];
    let out = run(fx, r);
    assert_eq!(out.stdout(), "CapEff:\t0000000000000020\n");
}

pub fn privileged(fx: &Fixture) {
    let mut r = Run::new(
        "privileged",
        fx,
        &[
            "sh",
            "-c",
            "mount -t tmpfs none /tmp && echo mounted; grep Seccomp: /proc/self/status; \
             grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
             cat /proc/keys >/dev/null && echo keys-visible; [ -e /dev/zero ] && echo has-devices",
        ],
    );
    r.opts.privileged = true;
    let out = run(fx, r);
    assert_eq!(
        out.stdout(),
        "mounted\nSeccomp:\t0\nrw\nkeys-visible\nhas-devices\n"
    );
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_bnd = own.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    let mut r = Run::new("privcaps", fx, &["grep", "CapBnd", "/proc/self/status"]);
    r.opts.privileged = true;
    let out = run(fx, r);
    assert_eq!(out.stdout().trim_end(), own_bnd);
}

pub fn read_only_root_with_tmpfs(fx: &Fixture) {
    let mut r = Run::new(
        "readonly",
        fx,
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null || echo root-ro; touch /run/x && echo run-rw; \
             touch /tmp/x && echo tmp-rw; grep -E ' /(run|tmp) ' /proc/mounts | cut -d' ' -f2,4",
        ],
    );
    r.opts.readonly_rootfs = true;
    r.opts.tmpfs = vec![
        ("/run".into(), String::new()),
        ("/tmp".into(), "size=1m,mode=1777".into()),
    ];
    let out = run(fx, r);
    assert_eq!(
        out.stdout(),
        "root-ro\nrun-rw\ntmp-rw\n/run rw,nosuid,nodev,noexec,relatime\n\
         /tmp rw,nosuid,nodev,noexec,relatime,size=1024k\n"
    );
}

pub fn devices_and_the_devices_cgroup(fx: &Fixture) {
    let mut r = Run::new(
        "device",
        fx,
        &[
            "sh",
            "-c",
            "stat -c '%t:%T %a' /dev/myzero; head -c 3 /dev/myzero | wc -c; \
             mknod /tmp/mem c 1 1 && { head -c 1 /tmp/mem >/dev/null 2>&1 || echo mem-denied; }",
        ],
    );
    r.opts.devices = vec!["/dev/zero:/dev/myzero:rw".into()];
    let out = run(fx, r);
    let zero_mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata("/dev/zero").unwrap().permissions().mode() & 0o777
    };
    let uses_devices_cgroup = matches!(
        berth_runtime::cgroups::Roots::default().layout().unwrap(),
        berth_runtime::cgroups::Layout::V1(m) if m.iter().any(|m| m.controllers.iter().any(|c| c == "devices"))
    );
    let mut want = format!("1:5 {zero_mode:o}\n3\n");
    if uses_devices_cgroup {
        want.push_str("mem-denied\n");
    }
    assert_eq!(out.stdout(), want, "stderr: {}", out.stream("stderr"));
}

pub fn groups_sysctls_ulimits(fx: &Fixture) {
    let mut r = Run::new(
        "groupsetc",
        fx,
        &[
            "sh",
            "-c",
            "id -G; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni; \
             ulimit -n; ulimit -Hn",
        ],
    );
    r.opts.group_add = vec!["wheel".into(), "4242".into()];
    r.opts.sysctls = [
        (
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "80".to_string(),
        ),
        ("kernel.shmmni".to_string(), "2048".to_string()),
    ]
    .into();
    r.opts.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 512,
        hard: 1024,
    }];
    let out = run(fx, r);
    assert_eq!(out.stdout(), "0 10 4242\n80\n2048\n512\n1024\n");
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    assert_ne!(host.trim(), "80", "the host's sysctl changed");
}

pub fn host_and_joined_namespaces(fx: &Fixture) {
    let mut r = Run::new(
        "hostns",
        fx,
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/pid; readlink /proc/self/ns/uts",
        ],
    );
    r.opts.namespaces.pid = NsMode::Host;
    r.opts.namespaces.uts = NsMode::Host;
    let out = run(fx, r);
    assert_eq!(out.exit_code(), 0, "stderr: {}", out.stream("stderr"));
    let host_pid = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    assert_eq!(
        out.stdout(),
        format!("{}\n{}\n", host_pid.display(), host_uts.display())
    );

    // A network namespace kept by a bind mount in the fixture's directory.
    let nsfile = fx.path().join("netns-joined");
    std::fs::File::create(&nsfile).unwrap();
    let status = std::process::Command::new("unshare")
        .arg(format!("--net={}", nsfile.display()))
        .arg("true")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "unshare --net={} failed",
        nsfile.display()
    );
    let _unmount = Unmount(nsfile.clone());
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&nsfile).unwrap().ino()
    };
    let mut r = Run::new("netjoiner", fx, &["readlink", "/proc/self/ns/net"]);
    r.opts.namespaces.net = NsMode::Join(nsfile.clone());
    let out = run(fx, r);
    assert_eq!(out.stdout(), format!("net:[{inode}]\n"));
}

/// Detaches a mount when dropped (even when the test failed).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

pub fn init_is_pid_one(fx: &Fixture) {
    let mut r = Run::new("init", fx, &["sh", "-c", "sleep 100 & sleep 100 & echo $$"]);
    r.opts.init = true;
    let out = run(fx, r);
    assert_eq!(out.exit_code(), 0);
    let pid = out.stdout();
    assert_ne!(pid.trim(), "1", "the program is pid 1");
    assert!(!pid.trim().is_empty());

    let mut r = Run::new("initexit", fx, &["sh", "-c", "exit 7"]);
    r.opts.init = true;
    assert_eq!(run(fx, r).exit_code(), 7);

    let mut r = Run::new("initmissing", fx, &["nosuchcmd"]);
    r.opts.init = true;
    let out = run(fx, r);
    assert!(
        matches!(
            out.events.as_slice(),
            [berth_runtime::monitor::MonitorEvent::Failed { exit_code: 127, .. }]
        ),
        "{:?}",
        out.events
    );
}

pub fn init_reaps_zombies(fx: &Fixture) {
    let script = "for i in 1 2 3; do (sleep 0.1 &); done; sleep 0.6; \
                  for f in /proc/[0-9]*/stat; do cut -d' ' -f3 $f; done | grep -c Z";
    let mut r = Run::new("zombies", fx, &["sh", "-c", script]);
    r.opts.init = true;
    let out = run(fx, r);
    assert_eq!(out.stdout(), "0\n");
}

pub fn init_forwards_sigterm(fx: &Fixture) {
    let mut r = Run::new("initterm", fx, &["sh", "-c", "sleep 100"]);
    r.opts.init = true;
    let started = Instant::now();
    let out = run_with(fx, r, &mut |pid| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    });
    assert_eq!(out.exit_code(), 143);
    assert!(started.elapsed() < Duration::from_secs(10));
}
