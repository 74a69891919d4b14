//! Lifecycle beyond run/rm: stop, kill, restart, rename, top, events, prune,
//! restart policies, and surviving a daemon crash.

use std::time::{Duration, Instant};

use crate::harness::{stderr, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("stop_trapping_shell_is_quick", stop_trapping_shell_is_quick),
    (
        "stop_ignoring_shell_is_killed_after_timeout",
        stop_ignoring_shell_is_killed_after_timeout,
    ),
    ("kill_with_signal_and_restart", kill_with_signal_and_restart),
    ("rename_and_conflicts", rename_and_conflicts),
    (
        "top_lists_container_processes",
        top_lists_container_processes,
    ),
    ("events_replay_and_filter", events_replay_and_filter),
    ("prune_removes_stopped_only", prune_removes_stopped_only),
    (
        "restart_on_failure_runs_four_times",
        restart_on_failure_runs_four_times,
    ),
    (
        "daemon_crash_keeps_containers",
        daemon_crash_keeps_containers,
    ),
    (
        "unrecorded_start_is_stopped_at_daemon_start",
        unrecorded_start_is_stopped_at_daemon_start,
    ),
    (
        "paused_container_survives_daemon_restart",
        paused_container_survives_daemon_restart,
    ),
    (
        "health_goes_unhealthy_then_healthy",
        health_goes_unhealthy_then_healthy,
    ),
    ("image_healthcheck_is_used", image_healthcheck_is_used),
];

/// Whether process `pid` has ended: gone, or a zombie not reaped yet.
fn ended(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn status(ctx: &Ctx, name: &str) -> String {
    ctx.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        name,
    ])
    .trim()
    .to_string()
}

fn stop_trapping_shell_is_quick(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "trapper",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.1; done",
    ]);
    let t0 = Instant::now();
    assert_eq!(ctx.ok(&["stop", "trapper"]), "trapper\n");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t0.elapsed()
    );
    assert_eq!(status(ctx, "trapper"), "exited 0");
    // Stopping a stopped container is not an error.
    ctx.ok(&["stop", "trapper"]);
    ctx.ok(&["rm", "trapper"]);
}

fn stop_ignoring_shell_is_killed_after_timeout(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.1; done",
    ]);
    let t0 = Instant::now();
    ctx.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "stop took {took:?}"
    );
    assert_eq!(status(ctx, "stubborn"), "exited 137");
    ctx.ok(&["rm", "stubborn"]);
}

fn kill_with_signal_and_restart(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "killme",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' USR1; while :; do sleep 0.1; done",
    ]);
    ctx.ok(&["kill", "-s", "USR1", "killme"]);
    wait_until("killme to exit", Duration::from_secs(5), || {
        status(ctx, "killme") == "exited 42"
    });
    let out = ctx.berth(&["kill", "killme"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    let pid_before = ctx.ok(&["inspect", "-f", "{{.State.StartedAt}}", "killme"]);
    ctx.ok(&["restart", "-t", "1", "killme"]);
    assert_eq!(status(ctx, "killme"), "running 0");
    assert_ne!(
        ctx.ok(&["inspect", "-f", "{{.State.StartedAt}}", "killme"]),
        pid_before
    );
    let out = ctx.berth(&["kill", "-s", "NOSUCHSIGNAL", "killme"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Invalid signal"), "{}", stderr(&out));
    ctx.ok(&["rm", "-f", "killme"]);
}

fn rename_and_conflicts(ctx: &Ctx) {
    let id = ctx
        .ok(&["create", "--name", "before", "busybox", "true"])
        .trim()
        .to_string();
    ctx.ok(&["create", "--name", "taken", "busybox", "true"]);
    ctx.ok(&["rename", "before", "after"]);
    assert_eq!(ctx.ok(&["inspect", "-f", "{{.Name}}", &id]), "/after\n");
    assert_eq!(ctx.berth(&["inspect", "before"]).status.code(), Some(1));
    let out = ctx.berth(&["rename", "after", "taken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is already in use"),
        "{}",
        stderr(&out)
    );
    // The old name is free again.
    ctx.ok(&["create", "--name", "before", "busybox", "true"]);
    ctx.ok(&["rm", "after", "taken", "before"]);
}

fn top_lists_container_processes(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "topper",
        "busybox",
        "sh",
        "-c",
        "sleep 123 & sleep 456; echo done",
    ]);
    let mut out = String::new();
    wait_until("both sleeps", Duration::from_secs(5), || {
        out = ctx.ok(&["top", "topper"]);
        out.contains("sleep 123") && out.contains("sleep 456")
    });
    assert!(out.starts_with("UID"), "{out}");
    assert_eq!(
        out.lines().count(),
        4,
        "header, sh and two sleeps only:\n{out}"
    );
    let custom = ctx.ok(&["top", "topper", "-o", "pid,comm"]);
    assert!(custom.starts_with("PID"), "{custom}");
    ctx.ok(&["rm", "-f", "topper"]);
    let out = ctx.berth(&["top", "topper"]);
    assert_eq!(out.status.code(), Some(1));
}

fn events_replay_and_filter(ctx: &Ctx) {
    let since = chrono_now();
    ctx.ok(&["run", "--rm", "--name", "evented", "busybox", "true"]);
    let until = chrono_now();
    let out = ctx.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evented",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = out.lines().collect();
    assert_eq!(actions, vec!["create", "start", "die", "destroy"], "{out}");
    // Docker's `rm -f` of a running container says kill before die.
    ctx.ok(&["run", "-d", "--name", "forced", "busybox", "sleep", "100"]);
    ctx.ok(&["rm", "-f", "forced"]);
    let out = ctx.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &chrono_now(),
        "--filter",
        "container=forced",
        "--format",
        "{{.Action}} {{.Actor.Attributes.signal}}",
    ]);
    let actions: Vec<&str> = out.lines().map(str::trim_end).collect();
    assert_eq!(
        actions,
        vec![
            "create <no value>",
            "start <no value>",
            "kill 9",
            "die <no value>",
            "destroy <no value>"
        ],
        "{out}"
    );
    // Other tests' containers may die in the window: filter on both.
    let out = ctx.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evented",
        "--filter",
        "event=die",
        "--format",
        "json",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("one event")).expect("json");
    assert_eq!(v["Actor"]["Attributes"]["exitCode"], "0");
    assert_eq!(v["Actor"]["Attributes"]["name"], "evented");
}

fn chrono_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

fn prune_removes_stopped_only(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "keep-running",
        "--label",
        "prune=yes",
        "busybox",
        "sleep",
        "100",
    ]);
    let gone = ctx
        .ok(&["create", "--label", "prune=yes", "busybox", "true"])
        .trim()
        .to_string();
    let kept = ctx
        .ok(&["create", "--label", "prune=no", "busybox", "true"])
        .trim()
        .to_string();
    let out = ctx.ok(&["container", "prune", "-f", "--filter", "label=prune=yes"]);
    assert!(out.contains(&gone), "{out}");
    assert!(!out.contains(&kept), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(status(ctx, "keep-running"), "running 0");
    ctx.ok(&["rm", "-f", "keep-running", &kept]);
}

fn restart_on_failure_runs_four_times(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    wait_until("three restarts", Duration::from_secs(15), || {
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "flaky",
        ])
        .trim()
            == "3 exited"
    });
    // Time must pass here: no fourth restart may come within 1.5 s.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            "flaky"
        ]),
        "3 exited 1\n"
    );
    assert_eq!(ctx.ok(&["logs", "flaky"]), "run\nrun\nrun\nrun\n");
    ctx.ok(&["rm", "flaky"]);
}

/// Kill -9 the daemon while containers run: they keep running and logging;
/// a new daemon re-adopts them; one that exited meanwhile shows its code;
/// a `--restart always` one that died meanwhile comes back.
/// A daemon killed after starting a container's monitor but before
/// recording the start (as with kill -9 during parallel `run -d`): the
/// record says created while the process runs. At the next start the
/// stray process is stopped and its cgroup removed; `start` then runs one
/// copy, and `rm -f` leaves nothing.
fn unrecorded_start_is_stopped_at_daemon_start(ctx: &Ctx) {
    let id = ctx
        .ok(&[
            "run",
            "-d",
            "--name",
            "unrecorded",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let pid: i32 = ctx
        .ok(&["inspect", "-f", "{{.State.Pid}}", "unrecorded"])
        .trim()
        .parse()
        .expect("pid");
    ctx.kill_daemon();
    let record = ctx.containers_root().join(&id).join("container.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
    v["status"] = serde_json::json!("created");
    v["pid"] = serde_json::json!(0);
    std::fs::write(&record, v.to_string()).expect("write record");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "still running"
    );
    ctx.start_daemon();
    wait_until(
        "the stray process to be stopped",
        Duration::from_secs(5),
        || ended(pid),
    );
    assert_eq!(status(ctx, "unrecorded"), "created 0");
    ctx.ok(&["start", "unrecorded"]);
    let procs = ctx.ok(&["top", "unrecorded"]);
    assert_eq!(procs.matches("sleep 1000").count(), 1, "{procs}");
    ctx.ok(&["rm", "-f", "unrecorded"]);
    assert!(
        ctx.our_cgroups()
            .iter()
            .all(|c| !c.to_string_lossy().contains(&id)),
        "{:?}",
        ctx.our_cgroups()
    );
}

/// A container paused when the daemon died is taken back as paused: it
/// can be unpaused, and once it exits its exit is recorded.
fn paused_container_survives_daemon_restart(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "frozen",
        "busybox",
        "sh",
        "-c",
        "sleep 1000",
    ]);
    ctx.ok(&["pause", "frozen"]);
    ctx.kill_daemon();
    ctx.start_daemon();
    assert_eq!(status(ctx, "frozen"), "paused 0");
    ctx.ok(&["unpause", "frozen"]);
    assert_eq!(status(ctx, "frozen"), "running 0");
    ctx.ok(&["kill", "frozen"]);
    wait_until("the exit to be recorded", Duration::from_secs(5), || {
        status(ctx, "frozen") == "exited 137"
    });
    ctx.ok(&["rm", "frozen"]);
}

fn daemon_crash_keeps_containers(ctx: &Ctx) {
    for name in ["crash1", "crash2"] {
        ctx.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "busybox",
            "sh",
            "-c",
            "i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.2; done",
        ]);
    }
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "crash3",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 9",
    ]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "crash-always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ]);
    let always_pid: i32 = ctx
        .ok(&["inspect", "-f", "{{.State.Pid}}", "crash-always"])
        .trim()
        .parse()
        .expect("pid");
    let crash3_pid: i32 = ctx
        .ok(&["inspect", "-f", "{{.State.Pid}}", "crash3"])
        .trim()
        .parse()
        .expect("pid");
    let pids: Vec<i32> = ["crash1", "crash2"]
        .iter()
        .map(|n| {
            ctx.ok(&["inspect", "-f", "{{.State.Pid}}", n])
                .trim()
                .parse()
                .expect("pid")
        })
        .collect();
    // The ticks in crash1's and crash2's json-file logs, which their
    // monitors write with or without the daemon.
    let log_files: Vec<String> = ["crash1", "crash2"]
        .iter()
        .map(|n| {
            ctx.ok(&["inspect", "-f", "{{.LogPath}}", n])
                .trim()
                .to_string()
        })
        .collect();
    let ticks_on_disk = |log: &String| {
        std::fs::read_to_string(log)
            .map(|t| t.matches("tick").count())
            .unwrap_or(0)
    };
    ctx.kill_daemon();
    let ticks_at_kill: Vec<usize> = log_files.iter().map(ticks_on_disk).collect();
    // While the daemon is down: crash3 exits by itself, crash-always is killed.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(always_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    wait_until(
        "crash3 and crash-always to end and crash1 and crash2 to log on while the daemon is away",
        Duration::from_secs(10),
        || {
            ended(crash3_pid)
                && ended(always_pid)
                && log_files
                    .iter()
                    .zip(&ticks_at_kill)
                    .all(|(log, at_kill)| ticks_on_disk(log) >= (at_kill + 3).max(7))
        },
    );
    for pid in &pids {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "container {pid} died with the daemon"
        );
    }
    ctx.start_daemon();
    let ps = ctx.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(ps.contains("crash1") && ps.contains("crash2"), "{ps}");
    wait_until("crash3's exit", Duration::from_secs(5), || {
        status(ctx, "crash3") == "exited 9"
    });
    wait_until("crash-always to come back", Duration::from_secs(10), || {
        status(ctx, "crash-always") == "running 0"
    });
    let logs = ctx.ok(&["logs", "crash1"]);
    let ticks = logs.lines().count();
    assert!(ticks >= 7, "kept logging while the daemon was away: {logs}");
    let mut follow = std::process::Command::new(crate::harness::berth_bin())
        .args(["logs", "-f", "--tail", "0", "crash1"])
        .env("BERTH_HOST", ctx.host())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("logs -f");
    // What `logs -f` prints, read as it comes.
    let followed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let mut out = follow.stdout.take().expect("logs -f stdout");
        let followed = followed.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match std::io::Read::read(&mut out, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => followed
                        .lock()
                        .expect("followed lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        })
    };
    wait_until(
        "logs -f to print a new tick",
        Duration::from_secs(10),
        || followed.lock().expect("followed lock").contains("tick"),
    );
    ctx.ok(&["stop", "-t", "1", "crash1"]);
    follow.wait().expect("logs -f ends with the container");
    reader.join().expect("logs -f reader");
    let out = followed.lock().expect("followed lock").clone();
    assert!(out.contains("tick"), "logs -f continued: {out}");
    assert_eq!(status(ctx, "crash1"), "exited 137");
    ctx.ok(&["rm", "-f", "crash1", "crash2", "crash3", "crash-always"]);
}

fn health_goes_unhealthy_then_healthy(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "100",
    ]);
    assert!(ctx
        .ok(&["ps", "--filter", "name=checked", "--format", "{{.Status}}"])
        .contains("(health: starting)"));
    wait_until("unhealthy", Duration::from_secs(10), || {
        ctx.ok(&["inspect", "-f", "{{.State.Health.Status}}", "checked"])
            .trim()
            == "unhealthy"
    });
    ctx.ok(&["exec", "checked", "touch", "/tmp/ok"]);
    wait_until("healthy", Duration::from_secs(10), || {
        ctx.ok(&["inspect", "-f", "{{.State.Health.Status}}", "checked"])
            .trim()
            == "healthy"
    });
    assert!(ctx
        .ok(&["ps", "--filter", "name=checked", "--format", "{{.Status}}"])
        .contains("(healthy)"));
    let log = ctx.ok(&[
        "inspect",
        "-f",
        "{{(index .State.Health.Log 0).ExitCode}}",
        "checked",
    ]);
    assert!(log.trim() == "1" || log.trim() == "0", "{log}");
    let events = ctx.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &chrono_now(),
        "--filter",
        "container=checked",
        "--format",
        "{{.Action}}",
    ]);
    assert!(
        events.contains("health_status: unhealthy") && events.contains("health_status: healthy"),
        "{events}"
    );
    ctx.ok(&["rm", "-f", "checked"]);
}

fn image_healthcheck_is_used(ctx: &Ctx) {
    let tar = ctx.busybox_tar.to_str().expect("utf8").to_string();
    ctx.ok(&[
        "import",
        "-c",
        "HEALTHCHECK --interval=1s --retries=1 CMD test -f /tmp/ok",
        "-c",
        "CMD [\"sleep\", \"100\"]",
        &tar,
        "healthy-img:1",
    ]);
    ctx.ok(&["run", "-d", "--name", "imgcheck", "healthy-img:1"]);
    wait_until("unhealthy", Duration::from_secs(10), || {
        ctx.ok(&["inspect", "-f", "{{.State.Health.Status}}", "imgcheck"])
            .trim()
            == "unhealthy"
    });
    ctx.ok(&["exec", "imgcheck", "touch", "/tmp/ok"]);
    wait_until("healthy", Duration::from_secs(10), || {
        ctx.ok(&["inspect", "-f", "{{.State.Health.Status}}", "imgcheck"])
            .trim()
            == "healthy"
    });
    let out = ctx.ok(&[
        "run",
        "-d",
        "--name",
        "nocheck",
        "--no-healthcheck",
        "healthy-img:1",
    ]);
    assert!(!out.is_empty());
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Health}}", "nocheck"]),
        "<no value>\n"
    );
    ctx.ok(&["rm", "-f", "imgcheck", "nocheck"]);
    ctx.ok(&["rmi", "healthy-img:1"]);
}
