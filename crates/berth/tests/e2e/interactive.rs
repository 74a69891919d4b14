//! Interactive containers: stdin with -i, a real terminal with -it under
//! tmux (typing, resizing, detaching with ctrl-p ctrl-q, attaching again).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{berth_bin, stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("stdin_streams_with_i", stdin_streams_with_i),
    ("tty_under_tmux", tty_under_tmux),
    ("exec_in_running_container", exec_in_running_container),
    ("run_and_start_proxy_signals", run_and_start_proxy_signals),
];

fn stdin_streams_with_i(ctx: &Ctx) {
    let out = ctx.berth_stdin(&["run", "-i", "--rm", "busybox", "cat"], b"hi\n");
    assert_eq!(stdout(&out), "hi\n", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    let out = ctx.berth_stdin(
        &["run", "-i", "--rm", "busybox", "sh"],
        b"echo $((6*7))\nexit 5\n",
    );
    assert_eq!(stdout(&out), "42\n");
    assert_eq!(out.status.code(), Some(5));
    // Without -i the container's stdin is empty.
    let out = ctx.berth_stdin(&["run", "--rm", "busybox", "cat"], b"ignored\n");
    assert_eq!(stdout(&out), "");
}

struct Tmux {
    session: String,
}

impl Tmux {
    fn new(ctx: &Ctx, name: &str, command: &str) -> Tmux {
        let session = format!("{name}-{}", std::process::id());
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "100", "-y", "30"])
            .arg(format!("BERTH_HOST={} {command}", ctx.host()))
            .status()
            .expect("tmux is installed (scripts/deps.sh)");
        assert!(status.success(), "starting tmux");
        Tmux { session }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux");
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "waited for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the pane's terminal is in raw mode, as `berth` puts it once
    /// it is attached.
    fn raw(&self) -> bool {
        let tty = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.session, "#{pane_tty}"])
            .output()
            .expect("tmux");
        let tty = String::from_utf8_lossy(&tty.stdout).trim().to_string();
        let settings = Command::new("stty")
            .args(["-F", &tty, "-a"])
            .output()
            .expect("stty");
        String::from_utf8_lossy(&settings.stdout)
            .split_whitespace()
            .any(|s| s == "-icanon")
    }

    fn dead(&self) -> bool {
        let out = Command::new("tmux")
            .args(["list-panes", "-t", &self.session, "-F", "#{pane_dead}"])
            .output()
            .expect("tmux");
        !out.status.success() || String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn tty_under_tmux(ctx: &Ctx) {
    let berth = berth_bin();
    let t = Tmux::new(
        ctx,
        "berth-it",
        &format!("{berth} run -it --name itbox busybox sh; sleep 30"),
    );
    t.wait_for("/ #");
    t.keys(&["echo $((6*7))", "Enter"]);
    t.wait_for("\n42");
    t.keys(&["stty size", "Enter"]);
    t.wait_for("30 100");
    let status = Command::new("tmux")
        .args(["resize-window", "-t", &t.session, "-x", "120", "-y", "40"])
        .status()
        .expect("tmux");
    assert!(status.success());
    // The new size has reached the container's terminal (its pid 1's stdin).
    let tty = format!(
        "/proc/{}/fd/0",
        ctx.ok(&["inspect", "-f", "{{.State.Pid}}", "itbox"]).trim()
    );
    crate::harness::wait_until(
        "the container's terminal to be 40x120",
        Duration::from_secs(10),
        || {
            let size = Command::new("stty")
                .args(["-F", &tty, "size"])
                .output()
                .expect("stty");
            String::from_utf8_lossy(&size.stdout).trim() == "40 120"
        },
    );
    t.keys(&["stty size", "Enter"]);
    t.wait_for("40 120");
    // ctrl-p ctrl-q detaches; the container keeps running.
    t.keys(&["C-p", "C-q"]);
    let start = Instant::now();
    while !detached_prompt(&t) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "berth run did not return on detach: {}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Status}}", "itbox"]),
        "running\n"
    );
    drop(t);
    let again = Tmux::new(
        ctx,
        "berth-attach",
        &format!("{berth} attach itbox; echo attach-exit=$?; sleep 30"),
    );
    crate::harness::wait_until(
        "berth attach to be attached (its terminal raw)",
        Duration::from_secs(10),
        || again.raw(),
    );
    again.keys(&["echo again-$((1+1))", "Enter"]);
    again.wait_for("again-2");
    again.keys(&["exit 3", "Enter"]);
    again.wait_for("attach-exit=3");
    assert!(!again.dead());
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.ExitCode}}", "itbox"]),
        "3\n"
    );
    ctx.ok(&["rm", "itbox"]);
}

/// After detaching, `berth run` has exited and the pane runs `sleep`.
fn detached_prompt(t: &Tmux) -> bool {
    let out = Command::new("tmux")
        .args([
            "list-panes",
            "-t",
            &t.session,
            "-F",
            "#{pane_current_command}",
        ])
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&out.stdout).trim() == "sleep"
}

fn exec_in_running_container(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "execbox",
        "--hostname",
        "exhost",
        "busybox",
        "sleep",
        "100",
    ]);
    let out = ctx.berth(&[
        "exec",
        "execbox",
        "sh",
        "-c",
        "echo pid=$$ host=$(hostname); cat /proc/1/cmdline | tr '\\0' ' '; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("host=exhost"), "{text}");
    assert!(!text.contains("pid=1 "), "the exec is not pid 1: {text}");
    assert!(
        text.contains("sleep 100"),
        "it sees the container's pid 1: {text}"
    );
    let out = ctx.berth_stdin(&["exec", "-i", "execbox", "cat"], b"through stdin\n");
    assert_eq!(stdout(&out), "through stdin\n");
    assert_eq!(
        ctx.ok(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "X=1",
            "execbox",
            "sh",
            "-c",
            "id -u; pwd; echo $X"
        ]),
        "65534\n/tmp\n1\n"
    );
    assert_eq!(
        ctx.ok(&["exec", "execbox", "grep", "Seccomp:", "/proc/self/status"]),
        "Seccomp:\t2\n",
        "exec runs under the container's seccomp filter"
    );
    let out = ctx.berth(&["exec", "execbox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("executable file not found"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["exec", "-d", "execbox", "touch", "/tmp/from-detached"]);
    crate::harness::wait_until(
        "the detached exec to make its file",
        Duration::from_secs(10),
        || {
            ctx.berth(&["exec", "execbox", "test", "-f", "/tmp/from-detached"])
                .status
                .success()
        },
    );
    ctx.ok(&["exec", "execbox", "test", "-f", "/tmp/from-detached"]);
    let caps = ctx.ok(&[
        "exec",
        "--privileged",
        "execbox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_ne!(
        caps.trim(),
        "CapEff:\t00000000a80425fb",
        "privileged exec widens capabilities"
    );
    let ids = ctx.ok(&["inspect", "-f", "{{len .ExecIDs}}", "execbox"]);
    assert!(ids.trim().parse::<u32>().unwrap_or(0) >= 5, "{ids}");
    ctx.ok(&["stop", "-t", "0", "execbox"]);
    let out = ctx.berth(&["exec", "execbox", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    ctx.ok(&["rm", "execbox"]);
}

/// Starts `berth ARGS` and waits until its stdout has printed `ready`.
fn spawn_until_ready(ctx: &Ctx, args: &[&str]) -> (std::process::Child, String) {
    use std::io::Read;
    let mut child = Command::new(berth_bin())
        .args(args)
        .env("BERTH_HOST", ctx.host())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting berth");
    let mut out = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&seen).contains("ready") {
        assert!(Instant::now() < deadline, "never ready: {seen:?}");
        let mut buf = [0u8; 256];
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    child.stdout = Some(out);
    (child, String::from_utf8_lossy(&seen).into_owned())
}

/// The signals `berth run` (and `start -a`) receives without a terminal go
/// to the container, as the docker CLI's `--sig-proxy` does; with
/// `--sig-proxy=false` they end the CLI and leave the container running.
fn run_and_start_proxy_signals(ctx: &Ctx) {
    let script = "trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done";
    let (child, _) = spawn_until_ready(
        ctx,
        &[
            "run", "--rm", "--name", "sigp", "busybox", "sh", "-c", script,
        ],
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the CLI");
    let out = child.wait_with_output().expect("berth run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("got TERM"), "{}", stdout(&out));

    ctx.ok(&["create", "--name", "sigs", "busybox", "sh", "-c", script]);
    let (child, _) = spawn_until_ready(ctx, &["start", "-a", "sigs"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the CLI");
    let out = child.wait_with_output().expect("berth start -a");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    ctx.ok(&["rm", "sigs"]);

    let (child, _) = spawn_until_ready(
        ctx,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            "signp",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the CLI");
    let out = child.wait_with_output().expect("berth run");
    assert_eq!(out.status.code(), None, "the CLI ends by the signal");
    let state = ctx.ok(&["inspect", "-f", "{{.State.Running}}", "signp"]);
    assert_eq!(state.trim(), "true");
    ctx.ok(&["rm", "-f", "signp"]);
}
