//! Crash consistency. The daemon is killed (SIGKILL, by its pid) at a
//! random moment of run, pull, push, build, commit, load, volume prune,
//! network create and compose up; after each restart `system check` is
//! clean, every image is whole, and a container that was running still
//! runs. Separately a container's monitor and the registry server are
//! killed. The moments come from a fixed seed: `BERTH_CRASH_SEED` and
//! `BERTH_CRASH_ITERATIONS` (default: each operation once) run more by
//! hand; a failure names the seed, the iteration, the operation and the
//! delay, so it can be replayed.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{berth_bin, stdout, wait_until, Ctx, TestFn};
use crate::registry::Registry;

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "daemon_killed_at_random_points_leaves_a_consistent_store",
        daemon_killed_at_random_points_leaves_a_consistent_store,
    ),
    (
        "monitor_and_registry_killed_leave_consistent_state",
        monitor_and_registry_killed_leave_consistent_state,
    ),
];

/// xorshift64*: the same moments for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `system check` must find nothing; `what` says where we are.
fn assert_clean(ctx: &Ctx, what: &str) {
    let out = ctx.berth(&["system", "check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: system check after the crash:\n{}{}",
        stdout(&out),
        crate::harness::stderr(&out)
    );
}

/// Every image listed is whole: its layers can be read back (`save`).
fn assert_images_whole(ctx: &Ctx, what: &str) {
    for id in ctx.ok(&["images", "-aq", "--no-trunc"]).lines() {
        let out = Command::new(berth_bin())
            .args(["-H", &ctx.host(), "save", id])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("berth save");
        assert!(
            out.status.success(),
            "{what}: image {id} is listed but not whole: {}",
            crate::harness::stderr(&out)
        );
    }
}

fn running(ctx: &Ctx, name: &str) -> bool {
    ctx.ok(&["inspect", "-f", "{{.State.Running}}", name])
        .trim()
        == "true"
}

fn daemon_killed_at_random_points_leaves_a_consistent_store(ctx: &Ctx) {
    let seed = env_u64("BERTH_CRASH_SEED", 0x0b5e_55ed);
    let mut rng = Rng(seed | 1);
    let work = ctx.dir.path().join("crash");
    std::fs::create_dir_all(&work).expect("work dir");
    let registry = Registry::start(&work.join("registry"), None);
    let addr = registry.addr.clone();

    // Fixtures: a 16 MB image in the registry (a pull has time to be cut),
    // an archive to load, a build context, a compose file, a container
    // that must outlive every crash.
    let ctxdir = work.join("big");
    std::fs::create_dir_all(&ctxdir).expect("context");
    std::fs::write(
        ctxdir.join("Dockerfile"),
        "FROM busybox\nRUN head -c 16000000 /dev/urandom > /big\n",
    )
    .expect("Dockerfile");
    let big = format!("{addr}/crash/big:1");
    ctx.ok(&["build", "-q", "-t", &big, &ctxdir.to_string_lossy()]);
    ctx.ok(&["push", &big]);
    ctx.ok(&["rmi", &big]);
    let archive = work.join("busybox.tar");
    ctx.ok(&["save", "-o", &archive.to_string_lossy(), "busybox"]);
    let build = work.join("build");
    std::fs::create_dir_all(&build).expect("build context");
    std::fs::write(
        build.join("Dockerfile"),
        "FROM busybox\nARG N\nRUN echo $N > /n && head -c 4000000 /dev/urandom > /r\nRUN sleep 0.2\nCMD cat /n\n",
    )
    .expect("Dockerfile");
    let compose = work.join("compose.yaml");
    std::fs::write(
        &compose,
        "services:\n  a:\n    image: busybox\n    command: sleep 1000\n  b:\n    image: busybox\n    command: sleep 1000\n    depends_on: [a]\n",
    )
    .expect("compose file");
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "crash-keeper",
        "busybox",
        "sleep",
        "100000",
    ]);

    let ops = [
        "run",
        "pull",
        "push",
        "build",
        "commit",
        "load",
        "volume prune",
        "network create",
        "compose up",
    ];
    let iterations = env_u64("BERTH_CRASH_ITERATIONS", ops.len() as u64);
    for i in 0..iterations {
        let op = ops[(i % ops.len() as u64) as usize];
        let delay = Duration::from_millis(rng.next() % 600);
        let args: Vec<String> = match op {
            "run" => vec![
                "run".into(),
                "-d".into(),
                "busybox".into(),
                "sleep".into(),
                "1000".into(),
            ],
            "pull" => {
                let _ = ctx.berth(&["rmi", &big]);
                vec!["pull".into(), big.clone()]
            }
            "push" => {
                let tag = format!("{addr}/crash/pushed:{i}");
                ctx.ok(&[
                    "exec",
                    "crash-keeper",
                    "sh",
                    "-c",
                    &format!("head -c 4000000 /dev/urandom > /p{i}"),
                ]);
                ctx.ok(&["commit", "crash-keeper", &tag]);
                vec!["push".into(), tag]
            }
            "build" => vec![
                "build".into(),
                "-q".into(),
                "--build-arg".into(),
                format!("N={i}"),
                "-t".into(),
                format!("crash-build:{i}"),
                build.to_string_lossy().into_owned(),
            ],
            "commit" => {
                ctx.ok(&[
                    "exec",
                    "crash-keeper",
                    "sh",
                    "-c",
                    &format!("head -c 8000000 /dev/urandom > /c{i}"),
                ]);
                vec![
                    "commit".into(),
                    "crash-keeper".into(),
                    format!("crash-commit:{i}"),
                ]
            }
            "load" => vec![
                "load".into(),
                "-i".into(),
                archive.to_string_lossy().into_owned(),
            ],
            "volume prune" => {
                for v in 0..5 {
                    ctx.ok(&["volume", "create", &format!("crash-v{i}-{v}")]);
                }
                vec!["volume".into(), "prune".into(), "-a".into(), "-f".into()]
            }
            "network create" => vec!["network".into(), "create".into(), format!("crash-net-{i}")],
            _ => vec![
                "compose".into(),
                "-f".into(),
                compose.to_string_lossy().into_owned(),
                "-p".into(),
                format!("crash{i}"),
                "up".into(),
                "-d".into(),
            ],
        };
        let what = format!("seed {seed:#x}, iteration {i}, {op} killed after {delay:?}");
        let mut client = Command::new(berth_bin())
            .arg("-H")
            .arg(ctx.host())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("berth client");
        // Time must pass here: the daemon is killed `delay` into the
        // operation, the random moment under test.
        std::thread::sleep(delay);
        ctx.kill_daemon();
        let _ = client.wait();
        ctx.start_daemon();
        assert!(running(ctx, "crash-keeper"), "{what}: the keeper stopped");
        assert_clean(ctx, &what);
        assert_images_whole(ctx, &what);
    }

    // Clean up what the operations left.
    ctx.ok(&["rm", "-f", "crash-keeper"]);
    for i in 0..iterations {
        let _ = ctx.berth(&[
            "compose",
            "-f",
            &compose.to_string_lossy(),
            "-p",
            &format!("crash{i}"),
            "down",
        ]);
        let _ = ctx.berth(&["network", "rm", &format!("crash-net-{i}")]);
    }
    let leftover = ctx.ok(&["ps", "-aq", "--filter", "ancestor=busybox"]);
    for id in leftover.lines() {
        ctx.ok(&["rm", "-f", id]);
    }
    let _ = ctx.berth(&["volume", "prune", "-a", "-f"]);
    for line in ctx
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
    {
        if line.starts_with("crash-") || line.contains("/crash/") {
            let _ = ctx.berth(&["rmi", "-f", line]);
        }
    }
    let _ = ctx.berth(&["image", "prune", "-f"]);
    drop(registry);
    assert_clean(ctx, "after the crash test's cleanup");
}

fn monitor_and_registry_killed_leave_consistent_state(ctx: &Ctx) {
    // A container's monitor killed: the container ends, with a code, and
    // nothing of it stays in the kernel.
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let pid = ctx.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).expect("stat");
    let monitor: i32 = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("the container's parent, its monitor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the monitor");
    wait_until(
        "the container to end with its monitor",
        Duration::from_secs(20),
        || !running(ctx, &id),
    );
    assert_clean(ctx, "after killing a monitor");
    ctx.ok(&["rm", &id]);

    // The registry server killed in the middle of a push: pushing again
    // completes, and what it serves pulls back whole.
    let root = ctx.dir.path().join("crash-registry");
    let registry = Registry::start(&root, None);
    let tag = format!("{}/crash/killed:1", registry.addr);
    let keeper = ctx
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "head -c 30000000 /dev/urandom > /r; sleep 1000",
        ])
        .trim()
        .to_string();
    wait_until(
        "the keeper to write all of /r",
        Duration::from_secs(30),
        || {
            ctx.berth(&[
                "exec",
                &keeper,
                "sh",
                "-c",
                "test $(wc -c < /r) -eq 30000000",
            ])
            .status
            .success()
        },
    );

    // The daemon killed while a commit holds the container paused: the
    // restarted daemon thaws it, and drops the commit's half-written tar.
    let mut commit = Command::new(berth_bin())
        .args(["-H", &ctx.host(), "commit", &keeper, "crash-interrupted"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("commit");
    // Polled every 5 ms rather than with `wait_until`: the pause lasts only
    // as long as the commit, and must be caught while it holds.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ctx
        .ok(&["inspect", "-f", "{{.State.Paused}}", &keeper])
        .trim()
        != "true"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the commit did not pause the container"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    ctx.kill_daemon();
    let _ = commit.wait();
    ctx.start_daemon();
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Status}}", &keeper])
            .trim(),
        "running",
        "a commit's pause outlived the daemon"
    );
    ctx.ok(&["exec", &keeper, "true"]);
    let dir = ctx.containers_root().join(&keeper);
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .expect("container dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("commit-"))
        .collect();
    assert!(leftovers.is_empty(), "commit leftovers: {leftovers:?}");
    assert_clean(ctx, "after a commit was cut short");
    let _ = ctx.berth(&["rmi", "crash-interrupted"]);

    ctx.ok(&["commit", &keeper, &tag]);
    let mut push = Command::new(berth_bin())
        .args(["-H", &ctx.host(), "push", &tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("push");
    // Killed in the middle: once a blob upload is open (or, if the push
    // was quicker than the polling, once it is over).
    let uploads = root.join("uploads");
    wait_until(
        "the push to open an upload",
        Duration::from_secs(30),
        || {
            std::fs::read_dir(&uploads).is_ok_and(|mut d| d.next().is_some())
                || push.try_wait().expect("push status").is_some()
        },
    );
    let port = registry.kill();
    let _ = push.wait();
    let registry = Registry::start(&root, Some(port));
    ctx.ok(&["push", &tag]);
    ctx.ok(&["rmi", &tag]);
    ctx.ok(&["pull", &tag]);
    let out = ctx.ok(&["run", "--rm", &tag, "sh", "-c", "wc -c < /r"]);
    assert_eq!(out.trim(), "30000000");
    ctx.ok(&["rm", "-f", &keeper]);
    ctx.ok(&["rmi", &tag]);
    drop(registry);
    assert_clean(ctx, "after killing the registry");
}
