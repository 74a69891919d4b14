//! Running containers through `berth run`, `ps`, `logs`, `rm`, `inspect`.

use std::time::Duration;

use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("run_prints_and_exits_zero", run_prints_and_exits_zero),
    ("run_forwards_exit_code", run_forwards_exit_code),
    ("run_missing_command_is_127", run_missing_command_is_127),
    ("run_missing_image_is_125", run_missing_image_is_125),
    ("run_bad_flag_is_125", run_bad_flag_is_125),
    (
        "detached_lifecycle_leaves_nothing",
        detached_lifecycle_leaves_nothing,
    ),
    ("isolation_defaults", isolation_defaults),
    ("no_new_privileges_opt_in", no_new_privileges_opt_in),
    ("hostname_is_short_id", hostname_is_short_id),
    ("writes_land_in_upper_layer", writes_land_in_upper_layer),
    ("user_env_workdir_entrypoint", user_env_workdir_entrypoint),
    (
        "stdout_and_stderr_are_separate",
        stdout_and_stderr_are_separate,
    ),
    ("logs_tail_and_timestamps", logs_tail_and_timestamps),
    ("create_start_wait", create_start_wait),
    ("ps_formats_and_filters", ps_formats_and_filters),
    ("rm_running_needs_force", rm_running_needs_force),
    ("name_conflict_is_409", name_conflict_is_409),
    ("hundred_runs_leave_nothing", hundred_runs_leave_nothing),
    (
        "fifty_parallel_runs_from_five_clients",
        fifty_parallel_runs_from_five_clients,
    ),
    (
        "unimplemented_flags_fail_clearly",
        unimplemented_flags_fail_clearly,
    ),
    (
        "log_rotation_keeps_recent_files",
        log_rotation_keeps_recent_files,
    ),
];

fn run_prints_and_exits_zero(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
}

fn run_forwards_exit_code(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
}

fn run_missing_command_is_127(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("executable file not found"),
        "stderr: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("nosuchcmd"),
        "stderr: {}",
        stderr(&out)
    );
    // --rm removed it even though it never ran.
    wait_until(
        "--rm to remove the container that failed to start",
        Duration::from_secs(5),
        || {
            ctx.ok(&["ps", "-aq", "--filter", "ancestor=busybox"])
                .trim()
                .is_empty()
        },
    );
    assert_eq!(
        ctx.ok(&["ps", "-aq", "--filter", "ancestor=busybox"])
            .trim(),
        "",
        "container left after failed start"
    );
}

fn run_missing_image_is_125(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--rm", "nosuchimage"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("Unable to find image 'nosuchimage:latest' locally"),
        "stderr: {err}"
    );
}

fn run_bad_flag_is_125(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--no-such-flag", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("--no-such-flag"),
        "stderr: {}",
        stderr(&out)
    );
    let out = ctx.berth(&["run", "--memory", "lots", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("invalid size: 'lots'"),
        "stderr: {}",
        stderr(&out)
    );
}

fn wait_for_log(ctx: &Ctx, name: &str, needle: &str) -> String {
    let mut logs = String::new();
    wait_until(
        &format!("{name} to log {needle:?}"),
        Duration::from_secs(5),
        || {
            logs = ctx.ok(&["logs", name]);
            logs.contains(needle)
        },
    );
    logs
}

fn detached_lifecycle_leaves_nothing(ctx: &Ctx) {
    let id = ctx.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 1000",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the full id: {id}");
    let ps = ctx.ok(&["ps"]);
    let line = ps
        .lines()
        .find(|l| l.contains("web"))
        .unwrap_or_else(|| panic!("web not in ps:\n{ps}"));
    assert!(line.contains("Up "), "{line}");
    assert!(line.starts_with(&id[..12]), "{line}");
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    assert_eq!(wait_for_log(ctx, "web", "up"), "up\n");
    let pid: i32 = ctx
        .ok(&["inspect", "-f", "{{.State.Pid}}", "web"])
        .trim()
        .parse()
        .expect("pid");
    assert!(pid > 0);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(ctx.ok(&["rm", "-f", "web"]).trim(), "web");
    assert!(
        !ctx.containers_root().join(&id).exists(),
        "state directory left"
    );
    wait_until(
        &format!("container process {pid} to be gone"),
        Duration::from_secs(5),
        || !std::path::Path::new(&format!("/proc/{pid}")).exists(),
    );
    assert!(
        ctx.our_mounts().is_empty(),
        "mounts left: {:?}",
        ctx.our_mounts()
    );
    let out = ctx.berth(&["logs", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such container: web"),
        "{}",
        stderr(&out)
    );
}

fn isolation_defaults(ctx: &Ctx) {
    let status = ctx.ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert!(status.contains("CapBnd:\t00000000a80425fb"), "{status}");
    assert!(status.contains("NoNewPrivs:\t0"), "{status}");
    assert_eq!(
        ctx.ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$"]),
        "1\n"
    );
    let ps = ctx.ok(&["run", "--rm", "busybox", "ps", "-o", "pid,comm"]);
    let pids: Vec<&str> = ps
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        pids,
        vec!["1"],
        "only the command runs in the pid namespace:\n{ps}"
    );
    let net = ctx.ok(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]);
    let ifaces: Vec<&str> = net
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        ifaces,
        vec!["lo", "eth0"],
        "loopback and the default bridge: {net}"
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /proc/sys/kernel/hostname",
    ]);
    assert_ne!(out.status.code(), Some(0), "/proc/sys must be read-only");
}

fn no_new_privileges_opt_in(ctx: &Ctx) {
    let status = ctx.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
}

fn hostname_is_short_id(ctx: &Ctx) {
    let id = ctx
        .ok(&["create", "busybox", "hostname"])
        .trim()
        .to_string();
    let code = ctx.ok(&["start", "-a", &id]);
    assert_eq!(code, format!("{}\n", &id[..12]));
    assert_eq!(
        ctx.ok(&["run", "--rm", "--hostname", "box", "busybox", "hostname"]),
        "box\n"
    );
    ctx.ok(&["rm", &id]);
}

fn writes_land_in_upper_layer(ctx: &Ctx) {
    let id = ctx
        .ok(&["create", "busybox", "sh", "-c", "echo data > /newfile"])
        .trim()
        .to_string();
    ctx.ok(&["start", "-a", &id]);
    let upper = ctx.containers_root().join(&id).join("upper/newfile");
    assert_eq!(
        std::fs::read_to_string(&upper).expect("file in upper dir"),
        "data\n"
    );
    let in_layers = walk_find(&ctx.root.join("image"), "newfile");
    assert!(
        in_layers.is_empty(),
        "write reached the image: {in_layers:?}"
    );
    ctx.ok(&["rm", &id]);
    assert!(!ctx.containers_root().join(&id).exists());
}

fn walk_find(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name() == name {
            found.push(p.clone());
        }
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            found.extend(walk_find(&p, name));
        }
    }
    found
}

fn user_env_workdir_entrypoint(ctx: &Ctx) {
    assert_eq!(
        ctx.ok(&["run", "--rm", "-u", "33:33", "busybox", "id", "-u"]),
        "33\n"
    );
    let id = ctx.ok(&["run", "--rm", "-u", "www-data", "busybox", "id"]);
    assert!(id.starts_with("uid=33(www-data) gid=33(www-data)"), "{id}");
    let out = ctx.berth(&["run", "--rm", "-u", "nosuchuser", "busybox", "id"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nosuchuser"), "{}", stderr(&out));
    let env_file = ctx.dir.path().join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\nA=file\n").expect("env file");
    let env = ctx.ok(&[
        "run",
        "--rm",
        "--env-file",
        env_file.to_str().expect("utf8"),
        "-e",
        "A=flag",
        "-e",
        "B=2",
        "busybox",
        "env",
    ]);
    assert!(env.lines().any(|l| l == "A=flag"), "{env}");
    assert!(env.lines().any(|l| l == "B=2"), "{env}");
    assert!(env.lines().any(|l| l == "FROM_FILE=yes"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(env.lines().any(|l| l == "HOME=/root"), "{env}");
    assert_eq!(
        ctx.ok(&["run", "--rm", "-w", "/tmp/new/dir", "busybox", "pwd"]),
        "/tmp/new/dir\n"
    );
    assert_eq!(
        ctx.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]),
        "a b\n"
    );
}

fn stdout_and_stderr_are_separate(ctx: &Ctx) {
    let out = ctx.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
}

fn logs_tail_and_timestamps(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "logger",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ]);
    assert_eq!(ctx.ok(&["logs", "--tail", "2", "logger"]), "line4\nline5\n");
    let ts = ctx.ok(&["logs", "-t", "--tail", "1", "logger"]);
    let (stamp, rest) = ts.split_once(' ').expect("timestamp");
    assert!(
        stamp.ends_with('Z') && stamp.contains('T') && stamp.len() >= 20,
        "{ts}"
    );
    assert_eq!(rest, "line5\n");
    ctx.ok(&["rm", "logger"]);
}

fn create_start_wait(ctx: &Ctx) {
    let id = ctx
        .ok(&[
            "create",
            "--name",
            "waiter",
            "busybox",
            "sh",
            "-c",
            "sleep 0.2; exit 7",
        ])
        .trim()
        .to_string();
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Status}}", "waiter"]),
        "created\n"
    );
    assert_eq!(ctx.ok(&["start", "waiter"]), "waiter\n");
    assert_eq!(ctx.ok(&["wait", "waiter"]), "7\n");
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &id
        ]),
        "exited 7\n"
    );
    let ps = ctx.ok(&["ps", "-a", "--filter", "name=waiter"]);
    assert!(ps.contains("Exited (7)"), "{ps}");
    ctx.ok(&["rm", "waiter"]);
}

fn ps_formats_and_filters(ctx: &Ctx) {
    let id = ctx
        .ok(&[
            "run", "-d", "--name", "fmt1", "--label", "team=a", "busybox", "sleep", "100",
        ])
        .trim()
        .to_string();
    let line = ctx.ok(&[
        "ps",
        "--format",
        "{{.ID}} {{.Names}} {{.State}}",
        "--filter",
        "name=fmt1",
    ]);
    assert_eq!(line, format!("{} fmt1 running\n", &id[..12]));
    let json = ctx.ok(&["ps", "--format", "{{json .}}", "--filter", "label=team=a"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json line");
    assert_eq!(v["Names"], "fmt1");
    assert_eq!(v["Labels"], "team=a");
    assert_eq!(
        ctx.ok(&["ps", "-q", "--no-trunc", "--filter", "name=fmt1"])
            .trim(),
        id
    );
    assert_eq!(ctx.ok(&["ps", "-q", "--filter", "label=team=b"]), "");
    let out = ctx.berth(&["ps", "--filter", "bogus=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid filter"), "{}", stderr(&out));
    ctx.ok(&["rm", "-f", "fmt1"]);
}

fn rm_running_needs_force(ctx: &Ctx) {
    ctx.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "100"]);
    let out = ctx.berth(&["rm", "busy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("container is running"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "-f", "busy"]);
}

fn name_conflict_is_409(ctx: &Ctx) {
    ctx.ok(&["create", "--name", "dup", "busybox", "true"]);
    let out = ctx.berth(&["create", "--name", "dup", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("is already in use"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "dup"]);
}

fn hundred_runs_leave_nothing(ctx: &Ctx) {
    let before = std::fs::read_dir(ctx.containers_root())
        .map(|d| d.count())
        .unwrap_or(0);
    for i in 0..100 {
        let out = ctx.berth(&["run", "--rm", "busybox", "true"]);
        assert_eq!(out.status.code(), Some(0), "run {i}: {}", stderr(&out));
    }
    // --rm removal finishes right after the exit (the state directory
    // goes before the container leaves the daemon's list).
    let state_dirs = || {
        std::fs::read_dir(ctx.containers_root())
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let monitors = || {
        std::fs::read_dir("/proc")
            .expect("proc")
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
            .filter(|c| c.contains("__monitor") && c.contains(&*ctx.root.to_string_lossy()))
            .count()
    };
    wait_until(
        "the last --rm removal and its monitor to finish",
        Duration::from_secs(10),
        || state_dirs() == before && ctx.ok(&["ps", "-aq"]).is_empty() && monitors() == 0,
    );
    assert_eq!(before, state_dirs(), "state directories left behind");
    assert!(
        ctx.our_mounts().is_empty(),
        "mounts left: {:?}",
        ctx.our_mounts()
    );
    assert_eq!(ctx.ok(&["ps", "-aq"]), "");
    assert_eq!(monitors(), 0, "monitor processes left");
}

fn fifty_parallel_runs_from_five_clients(ctx: &Ctx) {
    let before = std::fs::read_dir(ctx.containers_root())
        .map(|d| d.count())
        .unwrap_or(0);
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..5)
            .map(|client| {
                scope.spawn(move || {
                    for i in 0..10 {
                        let out = ctx.berth(&[
                            "run",
                            "--rm",
                            "busybox",
                            "sh",
                            "-c",
                            &format!("echo {client}-{i}"),
                        ]);
                        assert_eq!(
                            out.status.code(),
                            Some(0),
                            "client {client} run {i}: {}",
                            stderr(&out)
                        );
                        assert_eq!(stdout(&out), format!("{client}-{i}\n"));
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client thread");
        }
    });
    // --rm removal finishes right after the exit (the state directory
    // goes before the container leaves the daemon's list).
    let state_dirs = || {
        std::fs::read_dir(ctx.containers_root())
            .map(|d| d.count())
            .unwrap_or(0)
    };
    wait_until(
        "the last --rm removals to finish",
        Duration::from_secs(10),
        || state_dirs() == before && ctx.ok(&["ps", "-aq"]).is_empty(),
    );
    assert_eq!(before, state_dirs(), "state directories left behind");
    assert_eq!(ctx.ok(&["ps", "-aq"]), "");
    assert!(
        ctx.our_mounts().is_empty(),
        "mounts left: {:?}",
        ctx.our_mounts()
    );
}

/// Flags that are accepted by the parser but not wired to the runtime yet
/// must fail with a message that says so, never be silently ignored.
fn unimplemented_flags_fail_clearly(ctx: &Ctx) {
    let out = ctx.berth(&["run", "--rm", "--userns", "keep-id", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("not support"), "{}", stderr(&out));
    // Without --userns-remap the host's user namespace is every
    // container's: asking for it is fine.
    ctx.ok(&["run", "--rm", "--userns", "host", "busybox", "true"]);
}

fn log_rotation_keeps_recent_files(ctx: &Ctx) {
    let script = "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done";
    ctx.ok(&[
        "run",
        "--name",
        "rotated",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let id = ctx
        .ok(&["inspect", "-f", "{{.Id}}", "rotated"])
        .trim()
        .to_string();
    let dir = ctx.containers_root().join(&id);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("container dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-json.log"))
        .collect();
    assert!(files.len() <= 3 && files.len() >= 2, "{files:?}");
    let logs = ctx.ok(&["logs", "rotated"]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some("line-399-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    );
    assert!(lines.len() < 400, "old lines were rotated away");
    let first: usize = lines[0]
        .split('-')
        .nth(1)
        .expect("n")
        .parse()
        .expect("number");
    assert_eq!(lines.len(), 400 - first, "no gap between the rotated files");
    // Docker takes max-file without max-size (nothing rotates then); a
    // max-file below 1 is its error.
    ctx.ok(&["run", "--rm", "--log-opt", "max-file=2", "busybox", "true"]);
    let out = ctx.berth(&["run", "--rm", "--log-opt", "max-file=0", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("max-file cannot be less than 1"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "rotated"]);
}
