//! Resource limits and security defaults through `berth run`.

use std::time::Duration;

use crate::harness::{stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "exec_seccomp_filter_comes_from_the_host",
        exec_seccomp_filter_comes_from_the_host,
    ),
    ("oom_kill_is_137_and_recorded", oom_kill_is_137_and_recorded),
    ("pids_limit_stops_fork_loop", pids_limit_stops_fork_loop),
    ("cpus_show_in_cgroup_files", cpus_show_in_cgroup_files),
    (
        "default_container_is_confined",
        default_container_is_confined,
    ),
    ("cap_add_and_privileged_widen", cap_add_and_privileged_widen),
    ("read_only_with_tmpfs", read_only_with_tmpfs),
    ("shm_size", shm_size),
    ("init_reaps_and_forwards", init_reaps_and_forwards),
    (
        "bad_security_options_fail_at_create",
        bad_security_options_fail_at_create,
    ),
    ("pause_unpause_stats_update", pause_unpause_stats_update),
];

fn oom_kill_is_137_and_recorded(ctx: &Ctx) {
    // The largest memory limit the API takes starts (its default swap of
    // twice as much does not fit and is left unlimited).
    ctx.ok(&[
        "run",
        "--rm",
        "-m",
        "9223372036854775807",
        "busybox",
        "true",
    ]);
    let loop_cmd = "x=a; while :; do x=$x$x; done";
    let out = ctx.berth(&["run", "--rm", "-m", "32m", "busybox", "sh", "-c", loop_cmd]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    let out = ctx.berth(&[
        "run", "--name", "oomer", "-m", "32m", "busybox", "sh", "-c", loop_cmd,
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
            "oomer"
        ]),
        "true 137\n"
    );
    let id = ctx
        .ok(&["inspect", "-f", "{{.Id}}", "oomer"])
        .trim()
        .to_string();
    ctx.ok(&["rm", "oomer"]);
    let leftover: Vec<_> = ctx
        .our_cgroups()
        .iter()
        .map(|p| p.join(&id))
        .filter(|p| p.exists())
        .collect();
    assert!(
        leftover.is_empty(),
        "cgroups left after removal: {leftover:?}"
    );
}

fn pids_limit_stops_fork_loop(ctx: &Ctx) {
    // Start 40 sleepers; with a limit of 20 the shell's forks start failing.
    let script = "n=0; i=0; while [ $i -lt 40 ]; do sleep 5 & if [ $? -eq 0 ]; then n=$((n+1)); fi; i=$((i+1)); done; \
                  ls /proc | grep -c '^[0-9]'";
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let count: usize = stdout(&out)
        .trim()
        .lines()
        .last()
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(999);
    assert!(
        count <= 20,
        "processes in the container: {count}\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("can't fork")
            || stderr(&out).contains("Resource temporarily unavailable"),
        "{}",
        stderr(&out)
    );
}

fn cpus_show_in_cgroup_files(ctx: &Ctx) {
    let id = ctx
        .ok(&[
            "run", "-d", "--cpus", "0.5", "--memory", "64m", "busybox", "sleep", "100",
        ])
        .trim()
        .to_string();
    let cpu = ctx
        .our_cgroups()
        .into_iter()
        .map(|p| p.join(&id))
        .find(|p| p.join("cpu.cfs_quota_us").exists() || p.join("cpu.max").exists())
        .expect("the container's cpu cgroup");
    if cpu.join("cpu.cfs_quota_us").exists() {
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.cfs_quota_us"))
                .expect("quota")
                .trim(),
            "50000"
        );
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.cfs_period_us"))
                .expect("period")
                .trim(),
            "100000"
        );
    } else {
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.max"))
                .expect("cpu.max")
                .trim(),
            "50000 100000"
        );
    }
    let pid = ctx.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    let procs = std::fs::read_to_string(cpu.join("cgroup.procs")).expect("procs");
    assert!(
        procs.lines().any(|l| l == pid.trim()),
        "the container's pid is in its cgroup"
    );
    ctx.ok(&["rm", "-f", &id]);
    assert!(!cpu.exists(), "cgroup {} left after rm -f", cpu.display());
}

fn default_container_is_confined(ctx: &Ctx) {
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status"
        ]),
        "Seccomp:\t2\n"
    );
    let unconfined = ctx.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(unconfined, "Seccomp:\t0\n");
    for (what, cmd) in [
        ("unshare", "unshare -n true"),
        ("mount", "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x"),
        ("ip link add", "ip link add br9 type bridge"),
    ] {
        let out = ctx.berth(&["run", "--rm", "busybox", "sh", "-c", cmd]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{what} must fail in a default container"
        );
    }
}

fn cap_add_and_privileged_widen(ctx: &Ctx) {
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "ip",
        "link",
        "add",
        "br9",
        "type",
        "bridge",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "NET_ADMIN allows ip link add: {}",
        stderr(&out)
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && grep Seccomp: /proc/self/status",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "privileged mount: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "Seccomp:\t0\n");
    let bnd = ctx.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "KILL",
        "busybox",
        "grep",
        "CapBnd",
        "/proc/self/status",
    ]);
    assert_eq!(bnd, "CapBnd:\t0000000000000020\n");
}

fn read_only_with_tmpfs(ctx: &Ctx) {
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f && touch /etc/x",
    ]);
    assert_eq!(stdout(&out), "ok\n");
    assert_ne!(out.status.code(), Some(0), "root is read-only");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
}

/// `--shm-size` sizes `/dev/shm`; Docker's 64 MiB otherwise, recorded in
/// `HostConfig.ShmSize` either way.
fn shm_size(ctx: &Ctx) {
    let df = "df -k /dev/shm | tail -1 | awk '{print $2}'";
    let out = ctx.ok(&["run", "--rm", "--shm-size", "8m", "busybox", "sh", "-c", df]);
    assert_eq!(out, "8192\n");
    let id = ctx
        .ok(&["create", "busybox", "sh", "-c", df])
        .trim()
        .to_string();
    let recorded = ctx.ok(&["inspect", "-f", "{{.HostConfig.ShmSize}}", &id]);
    assert_eq!(recorded, "67108864\n");
    ctx.ok(&["start", &id]);
    ctx.ok(&["wait", &id]);
    assert_eq!(ctx.ok(&["logs", &id]), "65536\n");
    ctx.ok(&["rm", &id]);
    let bad = ctx.berth(&["run", "--rm", "--shm-size", "lots", "busybox", "true"]);
    assert_eq!(bad.status.code(), Some(125), "{}", stderr(&bad));
}

fn init_reaps_and_forwards(ctx: &Ctx) {
    assert_ne!(
        ctx.ok(&["run", "--rm", "--init", "busybox", "sh", "-c", "echo $$"]),
        "1\n"
    );
    ctx.ok(&[
        "run", "-d", "--name", "inited", "--init", "busybox", "sleep", "100",
    ]);
    let t0 = std::time::Instant::now();
    ctx.ok(&["stop", "-t", "5", "inited"]);
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "SIGTERM reached sleep through the init"
    );
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.ExitCode}}", "inited"]),
        "143\n"
    );
    ctx.ok(&["rm", "inited"]);
}

fn bad_security_options_fail_at_create(ctx: &Ctx) {
    for (flags, needle) in [
        (vec!["--cap-add", "NOT_A_CAP"], "NOT_A_CAP"),
        (vec!["--sysctl", "kernel.hostname_nope=1"], "sysctl"),
        (vec!["--ulimit", "nofile=30000:30000"], "20000"),
        (vec!["--device", "/dev/does-not-exist"], "does-not-exist"),
    ] {
        let mut args = vec!["create"];
        args.extend(flags.iter().copied());
        args.extend(["busybox", "true"]);
        let out = ctx.berth(&args);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{flags:?}: {}", stderr(&out));
    }
}

fn pause_unpause_stats_update(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "pausable",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
    ]);
    ctx.ok(&["pause", "pausable"]);
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
            "pausable"
        ]),
        "paused true true\n"
    );
    let ps = ctx.ok(&["ps", "--filter", "name=pausable", "--format", "{{.Status}}"]);
    assert!(ps.contains("(Paused)"), "{ps}");
    let out = ctx.berth(&["pause", "pausable"]);
    assert_eq!(out.status.code(), Some(1), "pausing twice is an error");
    ctx.ok(&["unpause", "pausable"]);
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Status}}", "pausable"]),
        "running\n"
    );
    let stats = ctx.ok(&["stats", "--no-stream", "pausable"]);
    let mut lines = stats.lines();
    let header = lines.next().expect("header");
    assert!(
        header.contains("MEM USAGE / LIMIT") && header.contains("PIDS"),
        "{stats}"
    );
    let row = lines.next().expect("row");
    assert!(
        row.contains("pausable") && row.contains("/ 64MiB"),
        "{stats}"
    );
    let json = ctx.ok(&["stats", "--no-stream", "--format", "{{json .}}", "pausable"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("stats json");
    assert!(
        v["PIDs"]
            .as_str()
            .expect("pids")
            .parse::<u32>()
            .expect("number")
            >= 1
    );
    ctx.ok(&[
        "update",
        "-m",
        "96m",
        "--memory-swap",
        "-1",
        "--cpus",
        "0.25",
        "pausable",
    ]);
    let id = ctx
        .ok(&["inspect", "-f", "{{.Id}}", "pausable"])
        .trim()
        .to_string();
    let mem = ctx
        .our_cgroups()
        .into_iter()
        .map(|p| p.join(&id))
        .find(|p| p.join("memory.limit_in_bytes").exists());
    if let Some(mem) = mem {
        assert_eq!(
            std::fs::read_to_string(mem.join("memory.limit_in_bytes"))
                .expect("limit")
                .trim(),
            (96u64 << 20).to_string()
        );
    }
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
            "pausable"
        ]),
        format!("{} 250000000\n", 96u64 << 20)
    );
    // A paused container can still be removed by force.
    ctx.ok(&["pause", "pausable"]);
    ctx.ok(&["rm", "-f", "pausable"]);
}

/// `exec` reads its compiled seccomp filter from the host's cache before it
/// enters the container: it writes nothing into the container, and a
/// filter planted at the cache's path inside the container is not loaded.
fn exec_seccomp_filter_comes_from_the_host(ctx: &Ctx) {
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    ctx.ok(&["exec", &id, "true"]);
    let cache = ctx.root.join("runtime/seccomp");
    let diff = ctx.ok(&["diff", &id]);
    assert!(
        !diff.contains(&*cache.to_string_lossy()),
        "exec wrote into the container: {diff}"
    );
    // An allow-everything filter (one `ret ALLOW`) under every name the
    // host's cache uses, at the same path inside the container.
    let names: Vec<String> = std::fs::read_dir(&cache)
        .expect("the host's seccomp cache")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bpf"))
        .collect();
    assert!(!names.is_empty(), "no cached filter in {}", cache.display());
    let inside = cache.display().to_string();
    let mut script = format!("mkdir -p {inside}");
    for n in &names {
        script.push_str(&format!(
            "; printf '\\006\\000\\000\\000\\000\\000\\377\\177' > {inside}/{n}"
        ));
    }
    ctx.ok(&["exec", &id, "sh", "-c", &script]);
    let out = ctx.berth(&["exec", &id, "unshare", "-U", "true"]);
    assert!(
        !out.status.success(),
        "the planted filter was loaded: unshare ran ({})",
        stdout(&out)
    );
    ctx.ok(&["rm", "-f", &id]);
}
