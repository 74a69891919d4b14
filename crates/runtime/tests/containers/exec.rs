//! `berth __exec`: processes started in a running container.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_runtime::exec_monitor::ExecConfig;
use berth_runtime::monitor::MonitorEvent;
use berth_runtime::spec::{build_spec, SpecOptions};

use crate::client::{Client, TIMEOUT};
use crate::fixture::{spawn, spawn_exec, Fixture, Run, Spawned};

/// A running container with a secret only its mount namespace has.
struct Target {
    spawned: Spawned,
    pid: i32,
    /// The settings the container was started with.
    opts: SpecOptions,
}

impl Target {
    fn start(fx: &Fixture, name: &'static str) -> Target {
        Target::start_with(fx, name, "echo secret > /dev/shm/s", |_| {})
    }

    /// Runs `script` in a container with the settings `adjust` makes, then
    /// leaves it sleeping.
    fn start_with(
        fx: &Fixture,
        name: &'static str,
        script: &str,
        adjust: impl Fn(&mut SpecOptions),
    ) -> Target {
        let script = format!("{script}; exec sleep 1000");
        let mut run = Run::new(name, fx, &["sh", "-c", &script]);
        adjust(&mut run.opts);
        let opts = run.opts.clone();
        let mut spawned = spawn(fx, run);
        let pid = spawned.started();
        let deadline = Instant::now() + TIMEOUT;
        while std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()
            != "sleep\x001000\x00"
        {
            assert!(Instant::now() < deadline, "container never got to sleep");
            std::thread::sleep(Duration::from_millis(5));
        }
        Target { spawned, pid, opts }
    }

    /// An exec config as the engine writes it for `docker exec` with no
    /// options: the container's own settings with other args.
    fn exec_same(&self, args: &[&str]) -> ExecConfig {
        let spec = build_spec(&SpecOptions {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..self.opts.clone()
        })
        .unwrap();
        ExecConfig {
            pid: self.pid,
            process: spec.process().clone().unwrap(),
            user: Some(self.opts.user.clone()),
            group_names: berth_runtime::spec::group_names(&spec),
            attach_socket: None,
            open_stdin: false,
            wait_for_attach: false,
            console_size: None,
            cgroup_parent: Some(self.opts.cgroup_parent.clone()),
            exit_path: None,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            seccomp_cache: self.opts.seccomp_cache_dir.clone(),
        }
    }

    /// An exec config as the engine would write it: the container's own
    /// process settings with other args.
    fn exec(&self, args: &[&str]) -> ExecConfig {
        self.exec_as("", args)
    }

    fn exec_as(&self, user: &str, args: &[&str]) -> ExecConfig {
        let spec = build_spec(&SpecOptions {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["HOSTNAME=berthtest".into()],
            cwd: "/tmp".into(),
            user: user.into(),
            rootfs: "/unused".into(),
            ..Default::default()
        })
        .unwrap();
        ExecConfig {
            pid: self.pid,
            process: spec.process().clone().unwrap(),
            user: Some(user.into()),
            group_names: berth_runtime::spec::group_names(&spec),
            attach_socket: None,
            open_stdin: false,
            wait_for_attach: false,
            console_size: None,
            cgroup_parent: None,
            exit_path: None,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            seccomp_cache: None,
        }
    }

    fn stop(self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let out = self.spawned.finish();
        assert_eq!(out.exit_code(), 137);
    }
}

/// Runs an exec with an attached client; returns (events, client).
fn exec_attached(dir: &Path, mut cfg: ExecConfig, input: &[u8]) -> (Vec<MonitorEvent>, Client) {
    cfg.attach_socket = Some(dir.join("e.sock"));
    cfg.wait_for_attach = true;
    cfg.open_stdin = !input.is_empty();
    let e = spawn_exec(dir, &cfg);
    let mut c = Client::connect(&dir.join("e.sock"));
    if !input.is_empty() {
        c.stdin(input);
        c.eof();
    }
    c.read_to_end();
    let events = e.finish();
    assert!(!dir.join("e.sock").exists(), "exec socket left behind");
    (events, c)
}

fn exit_code(events: &[MonitorEvent]) -> i32 {
    match events {
        [MonitorEvent::Started { .. }, MonitorEvent::Exited { exit_code, .. }] => *exit_code,
        other => panic!("expected started+exited, got {other:?}"),
    }
}

pub fn exec_in_container(fx: &Fixture) {
    let t = Target::start(fx, "exec-target");
    let dir = fx.path().join("execs/basic");
    let script = "echo $$; hostname; cat /dev/shm/s; tr '\\0' ' ' < /proc/1/cmdline; echo; \
        pwd; grep CapEff /proc/self/status; exit 7";
    let (events, c) = exec_attached(&dir, t.exec(&["sh", "-c", script]), b"");
    assert_eq!(exit_code(&events), 7);
    assert_eq!(c.exit.as_ref().unwrap()["exit_code"], 7);
    let text = c.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text:?}");
    let pid: i32 = lines[0].parse().unwrap();
    assert!(pid > 1, "exec ran as pid {pid}");
    assert_eq!(
        &lines[1..],
        [
            "berthtest",
            "secret",
            "sleep 1000 ",
            "/tmp",
            "CapEff:\t00000000a80425fb"
        ]
    );
    // The exec'd process is in the container's pid namespace: its host pid
    // (in `started`) is another number than the one it saw.
    match events.first() {
        Some(MonitorEvent::Started { pid: host }) => assert_ne!(*host, pid),
        other => panic!("{other:?}"),
    }
    t.stop();
}

pub fn exec_stdin_user_and_errors(fx: &Fixture) {
    let t = Target::start(fx, "exec-target2");
    let base = fx.path().join("execs");

    let (events, c) = exec_attached(&base.join("cat"), t.exec(&["cat"]), b"hi\n");
    assert_eq!(exit_code(&events), 0);
    assert_eq!(c.stdout_text(), "hi\n");

    let cfg = t.exec_as("alice", &["sh", "-c", "id; echo $HOME"]);
    let (events, c) = exec_attached(&base.join("user"), cfg, b"");
    assert_eq!(exit_code(&events), 0);
    assert_eq!(
        c.stdout_text(),
        "uid=1000(alice) gid=1000(alice) groups=10(wheel),1000(alice)\n/home/alice\n"
    );

    // Not found: 127 with runc's words, reported without waiting for the
    // (absent) client, and to a client that is there.
    let mut cfg = t.exec(&["nosuchcmd"]);
    cfg.attach_socket = Some(base.join("missing.sock"));
    cfg.wait_for_attach = true;
    let started = Instant::now();
    let events = spawn_exec(&base.join("missing"), &cfg).finish();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        events,
        [MonitorEvent::Failed {
            message: "exec: \"nosuchcmd\": executable file not found in $PATH".into(),
            exit_code: 127
        }]
    );
    let mut cfg = t.exec(&["pwd"]);
    cfg.process.set_cwd("/no/such/dir".into());
    let events = spawn_exec(&base.join("cwd"), &cfg).finish();
    match events.as_slice() {
        [MonitorEvent::Failed { message, .. }] => {
            assert!(message.contains("chdir to cwd"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    // A background child keeps the output open: the exec still ends.
    let started = Instant::now();
    let (events, c) = exec_attached(
        &base.join("bg"),
        t.exec(&["sh", "-c", "sleep 1001 & echo done"]),
        b"",
    );
    assert_eq!(exit_code(&events), 0);
    assert_eq!(c.stdout_text(), "done\n");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A container that is gone.
    let mut cfg = t.exec(&["true"]);
    cfg.pid = i32::MAX;
    let events = spawn_exec(&base.join("gone"), &cfg).finish();
    assert!(
        matches!(events.as_slice(), [MonitorEvent::Failed { message, .. }] if message.contains("is not running")),
        "{events:?}"
    );

    // A process that is no container.
    let mut cfg = t.exec(&["true"]);
    cfg.pid = std::process::id() as i32;
    let events = spawn_exec(&base.join("host"), &cfg).finish();
    assert!(
        matches!(events.as_slice(), [MonitorEvent::Failed { message, .. }] if message.contains("is not in a container")),
        "{events:?}"
    );

    // The container has no cgroup under this parent: joining is skipped.
    let mut cfg = t.exec(&["true"]);
    cfg.cgroup_parent = Some("berth-test-no-such-parent".into());
    let events = spawn_exec(&base.join("cgroup"), &cfg).finish();
    assert_eq!(exit_code(&events), 0);
    t.stop();
}

pub fn exec_tty(fx: &Fixture) {
    let t = Target::start(fx, "exec-target3");
    let dir = fx.path().join("execs/tty");
    let mut cfg = t.exec(&["sh"]);
    cfg.process.set_terminal(Some(true));
    cfg.console_size = Some((40, 120));
    cfg.attach_socket = Some(dir.join("t.sock"));
    cfg.wait_for_attach = true;
    cfg.open_stdin = true;
    let e = spawn_exec(&dir, &cfg);
    let mut c = Client::connect(&dir.join("t.sock"));
    c.stdin(b"tty; stty size\n");
    c.wait_for("/dev/pts/");
    c.wait_for("40 120");
    c.resize(20, 60);
    c.stdin(b"stty size; echo $((6*7))\n");
    c.wait_for("20 60");
    c.wait_for("42");
    c.stdin(b"exit 3\n");
    let exit = c.read_to_end();
    assert_eq!(exit["exit_code"], 3);
    assert_eq!(exit_code(&e.finish()), 3);
    t.stop();
}

/// The `/proc/self/status` lines that say who a process is and what it may do.
const IDENTITY: &str =
    "grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Umask):' /proc/self/status";

/// An exec'd process is what the container's first process is: same user,
/// groups (named `--group-add` ones too), capability sets, no_new_privs,
/// seccomp mode and umask, with and without no_new_privs (the two orders of
/// loading the filter).
pub fn exec_matches_first_process(fx: &Fixture) {
    type Settings = dyn Fn(&mut SpecOptions);
    let cases: [(&'static str, &Settings); 2] = [
        ("exec-same-user", &|o: &mut SpecOptions| {
            o.user = "alice".into();
            o.group_add = vec!["nogroup".into(), "4242".into()];
            o.cap_add = vec!["NET_ADMIN".into()];
            o.cap_drop = vec!["CHOWN".into()];
            o.no_new_privileges = true;
        }),
        ("exec-same-root", &|o: &mut SpecOptions| {
            o.group_add = vec!["wheel".into()];
        }),
    ];
    for (name, adjust) in cases {
        let script = format!("{IDENTITY} > /dev/shm/first");
        let t = Target::start_with(fx, name, &script, adjust);
        let dir = fx.path().join("execs").join(name);
        let show = format!("cat /dev/shm/first; echo ---; {IDENTITY}");
        let (events, c) = exec_attached(&dir, t.exec_same(&["sh", "-c", &show]), b"");
        assert_eq!(exit_code(&events), 0, "{}", c.stdout_text());
        let text = c.stdout_text();
        let (first, exec) = text
            .split_once("---\n")
            .unwrap_or_else(|| panic!("{text:?}"));
        assert_eq!(exec, first, "{name}: exec differs from the first process");
        let field = |key: &str| {
            first
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no {key} in {first:?}"))
                .trim()
                .to_string()
        };
        // Seccomp mode 2 (filter) in both cases.
        assert_eq!(field("Seccomp:"), "2", "{name}");
        if name == "exec-same-user" {
            assert!(field("Uid:").starts_with("1000"), "{first}");
            // Primary, /etc/group membership (wheel), named and numeric adds.
            assert_eq!(field("Groups:"), "10 1000 4242 65534", "{name}");
            assert_eq!(field("NoNewPrivs:"), "1");
            // Docker's default set with NET_ADMIN and without CHOWN, and no
            // effective capabilities for a non-root user.
            assert_eq!(field("CapBnd:"), "00000000a80435fa");
            assert_eq!(field("CapEff:"), "0000000000000000");
        } else {
            assert!(field("Uid:").starts_with("0\t"), "{first}");
            assert_eq!(field("Groups:"), "0 10", "{name}");
            assert_eq!(field("NoNewPrivs:"), "0");
            assert_eq!(field("CapEff:"), "00000000a80425fb");
        }
        t.stop();
    }
}
