//! Attach socket, stdin, terminals and log rotation, end to end through the
//! monitor.

use std::time::{Duration, Instant};

use berth_runtime::monitor::MonitorEvent;

use crate::client::{Client, TIMEOUT};
use crate::fixture::{run, spawn, Fixture, Run};

fn attached(name: &'static str, fx: &Fixture, args: &[&str]) -> Run {
    let mut r = Run::new(name, fx, args);
    r.attach = true;
    r.monitor.wait_for_attach = true;
    r
}

fn exit_code_of(event: &serde_json::Value) -> i64 {
    assert_eq!(event["event"], "exited", "{event}");
    event["exit_code"].as_i64().unwrap()
}

/// A client attached before the start sees all output, then the exit frame.
pub fn attach_before_start(fx: &Fixture) {
    let mut s = spawn(fx, attached("att-echo", fx, &["echo", "hi"]));
    let mut c = Client::connect(&s.socket());
    s.started();
    let exit = c.read_to_end();
    assert_eq!(c.stdout_text(), "hi\n");
    assert_eq!(exit_code_of(&exit), 0);
    assert_eq!(exit["oom_killed"], false);
    let out = s.finish();
    assert_eq!(out.exit_code(), 0);
    assert_eq!(out.stdout(), "hi\n", "the log has the output too");
    let exit_file = serde_json::to_value(&out.exit_file).unwrap();
    assert_eq!(exit, exit_file, "the exit frame carries the exit event");
}

pub fn attach_streams(fx: &Fixture) {
    let mut s = spawn(
        fx,
        attached("att-streams", fx, &["sh", "-c", "echo out; echo err >&2"]),
    );
    let mut c = Client::connect(&s.socket());
    s.started();
    c.read_to_end();
    assert_eq!(c.stdout_text(), "out\n");
    assert_eq!(String::from_utf8_lossy(&c.stderr), "err\n");
    s.finish();
}

/// Stdin frames reach `cat`; the EOF frame ends it.
pub fn attach_stdin(fx: &Fixture) {
    let mut r = attached("att-cat", fx, &["cat"]);
    r.monitor.open_stdin = true;
    r.monitor.stdin_once = true;
    let mut s = spawn(fx, r);
    let mut c = Client::connect(&s.socket());
    s.started();
    c.stdin(b"hi\n");
    c.wait_for("hi\n");
    c.stdin(b"there");
    c.eof();
    let exit = c.read_to_end();
    assert_eq!(c.stdout_text(), "hi\nthere");
    assert_eq!(exit_code_of(&exit), 0);
    s.finish();
}

/// A megabyte through `cat` and back, while the client writes and reads
/// at once: the queues and the back-pressure lose and reorder nothing.
pub fn attach_large_round_trip(fx: &Fixture) {
    use std::io::Write;
    let mut r = attached("att-large", fx, &["cat"]);
    r.monitor.open_stdin = true;
    r.monitor.stdin_once = true;
    let mut s = spawn(fx, r);
    let mut c = Client::connect(&s.socket());
    s.started();
    let data: Vec<u8> = (0..100_000)
        .flat_map(|i| format!("line {i:05}\n").into_bytes())
        .collect();
    let mut w = c.writer();
    let payload = data.clone();
    let writer = std::thread::spawn(move || {
        for chunk in payload.chunks(16 * 1024) {
            let mut frame = Vec::new();
            berth_runtime::frame::encode(berth_runtime::frame::Kind::Stdin, chunk, &mut frame);
            w.write_all(&frame).unwrap();
        }
        let mut eof = Vec::new();
        berth_runtime::frame::encode(berth_runtime::frame::Kind::StdinEof, b"", &mut eof);
        w.write_all(&eof).unwrap();
    });
    let exit = c.read_to_end();
    writer.join().unwrap();
    assert_eq!(exit_code_of(&exit), 0);
    assert!(
        c.stdout == data,
        "output differs from input ({} bytes of {})",
        c.stdout.len(),
        data.len()
    );
    let out = s.finish();
    assert_eq!(out.stdout().as_bytes(), data.as_slice(), "the log differs");
}

/// Without `stdin_once` a client's EOF leaves stdin open for the next
/// client; every client gets the output from when it connected.
pub fn attach_stdin_stays_open(fx: &Fixture) {
    let script = "read a; echo got $a; read b; echo got $b";
    let mut r = attached("att-reopen", fx, &["sh", "-c", script]);
    r.monitor.open_stdin = true;
    let mut s = spawn(fx, r);
    let mut first = Client::connect(&s.socket());
    s.started();
    let mut second = Client::connect(&s.socket());
    first.stdin(b"one\n");
    first.eof();
    first.wait_for("got one\n");
    second.wait_for("got one\n");
    first.hang_up();
    second.stdin(b"two\n");
    let exit = second.read_to_end();
    assert_eq!(second.stdout_text(), "got one\ngot two\n");
    assert_eq!(exit_code_of(&exit), 0);
    s.finish();
}

/// With `stdin_once`, the disconnect of a client that sent stdin closes it.
pub fn attach_stdin_once_on_disconnect(fx: &Fixture) {
    let mut r = attached("att-once", fx, &["cat"]);
    r.monitor.open_stdin = true;
    r.monitor.stdin_once = true;
    let mut s = spawn(fx, r);
    let mut watcher = Client::connect(&s.socket());
    s.started();
    let mut writer = Client::connect(&s.socket());
    writer.stdin(b"x\n");
    watcher.wait_for("x\n");
    writer.hang_up();
    let exit = watcher.read_to_end();
    assert_eq!(exit_code_of(&exit), 0);
    s.finish();
}

/// Without `open_stdin` the container's stdin is /dev/null, frames or not.
pub fn attach_without_open_stdin(fx: &Fixture) {
    let r = attached(
        "att-nostdin",
        fx,
        &["sh", "-c", "cat; readlink /proc/self/fd/0"],
    );
    let mut s = spawn(fx, r);
    let mut c = Client::connect(&s.socket());
    c.stdin(b"ignored\n");
    s.started();
    c.read_to_end();
    assert_eq!(c.stdout_text(), "/dev/null\n");
    s.finish();
}

pub fn attach_socket_path_too_long(fx: &Fixture) {
    let mut r = Run::new("att-long", fx, &["true"]);
    r.monitor.attach_socket = Some(fx.path().join("x".repeat(120)));
    let out = run(fx, r);
    match out.events.as_slice() {
        [MonitorEvent::Failed { message, exit_code }] => {
            assert!(
                message.contains("unix socket paths are limited to 107 bytes"),
                "{message}"
            );
            assert_eq!(*exit_code, 128);
        }
        other => panic!("expected one failed event, got {other:?}"),
    }
}

/// Nobody attaches: the program starts anyway after the bounded wait.
/// (Uses a short run: the wait is 10 s, checked only as "it ends".)
pub fn attach_wait_gives_up(fx: &Fixture) {
    let started = Instant::now();
    let out = run(fx, attached("att-nobody", fx, &["echo", "alone"]));
    assert_eq!(out.exit_code(), 0);
    assert_eq!(out.stdout(), "alone\n");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(30),
        "{took:?}"
    );
}

/// A failing program does not make the monitor wait for a client.
pub fn attach_wait_fails_fast(fx: &Fixture) {
    let started = Instant::now();
    let out = run(fx, attached("att-fail", fx, &["nosuchcmd"]));
    assert!(matches!(
        out.events.as_slice(),
        [MonitorEvent::Failed { exit_code: 127, .. }]
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn tty_run(name: &'static str, fx: &Fixture, args: &[&str]) -> Run {
    let mut r = attached(name, fx, args);
    r.tty = true;
    r.monitor.open_stdin = true;
    r.monitor.console_size = Some((24, 80));
    r
}

pub fn tty_basics(fx: &Fixture) {
    let r = tty_run(
        "tty-basic",
        fx,
        &[
            "sh",
            "-c",
            "tty; stty size; ls -l $(tty) | cut -c1-10; echo err >&2",
        ],
    );
    let mut s = spawn(fx, r);
    let mut c = Client::connect(&s.socket());
    s.started();
    let exit = c.read_to_end();
    assert_eq!(exit_code_of(&exit), 0);
    let text = c.stdout_text();
    assert!(c.stderr.is_empty(), "a terminal has one stream");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{text:?}");
    assert_eq!(lines[1], "24 80", "{text:?}");
    assert_eq!(lines[2], "crw--w----", "{text:?}");
    assert_eq!(lines[3], "err", "{text:?}");
    let out = s.finish();
    assert_eq!(out.stream("stderr"), "");
    assert_eq!(out.stdout(), text, "the log has the terminal output");
}

/// The process of the container whose command line is `cmdline`.
/// A process of the container whose init is `init` (same pid namespace),
/// by its exact command line; other processes on the machine that happen
/// to run the same command are never picked.
fn find_process(init: i32, cmdline: &[u8]) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    loop {
        for entry in std::fs::read_dir("/proc").unwrap() {
            let entry = entry.unwrap();
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let same_ns = std::fs::read_link(entry.path().join("ns/pid")).is_ok_and(|l| l == ns);
            if same_ns && std::fs::read(entry.path().join("cmdline")).unwrap_or_default() == cmdline
            {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no process {cmdline:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `pid` leads the foreground process group of its terminal.
fn wait_foreground(pid: i32) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // state ppid pgrp session tty_nr tpgid
        if fields.len() > 5 && fields[2] == pid.to_string() && fields[5] == pid.to_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} never came to the foreground"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An interactive shell: resize, ctrl-c of the foreground job.
pub fn tty_resize_and_interrupt(fx: &Fixture) {
    let mut s = spawn(fx, tty_run("tty-sh", fx, &["sh"]));
    let mut c = Client::connect(&s.socket());
    let init = s.started();
    c.resize(30, 100);
    c.stdin(b"stty size\n");
    c.wait_for("30 100");
    c.stdin(b"sleep 100\n");
    let sleep = find_process(init, b"sleep\x00100\x00");
    wait_foreground(sleep);
    c.stdin(b"\x03");
    c.stdin(b"echo rc=$?\n");
    c.wait_for("rc=130");
    c.stdin(b"exit 4\n");
    let exit = c.read_to_end();
    assert_eq!(exit_code_of(&exit), 4, "the shell survived the ctrl-c");
    s.finish();
}

/// Background jobs, `fg`, ctrl-z and ctrl-c.
pub fn tty_job_control(fx: &Fixture) {
    let mut s = spawn(fx, tty_run("tty-jobs", fx, &["sh"]));
    let mut c = Client::connect(&s.socket());
    let init = s.started();
    c.stdin(b"sleep 200 &\n");
    c.stdin(b"jobs\n");
    c.wait_for("Running");
    c.stdin(b"fg\n");
    let bg = find_process(init, b"sleep\x00200\x00");
    wait_foreground(bg);
    c.stdin(b"\x03");
    // Typed text is echoed: wait for what only the output can hold.
    c.stdin(b"echo ali\"\"ve\n");
    c.wait_for("alive");
    c.stdin(b"sleep 300\n");
    let fg = find_process(init, b"sleep\x00300\x00");
    wait_foreground(fg);
    c.stdin(b"\x1a");
    c.wait_for("Stopped");
    c.stdin(b"jobs\n");
    c.wait_for("Stopped");
    c.stdin(b"fg\n");
    wait_foreground(fg);
    c.stdin(b"\x03");
    c.stdin(b"echo ma\"\"rk\n");
    c.wait_for("mark");
    let before = c.position();
    c.stdin(b"jobs; echo no\"\"ne\n");
    c.wait_for("none");
    let rest = String::from_utf8_lossy(&c.stdout[before..c.position()]).into_owned();
    assert!(!rest.contains("sleep"), "a job is left: {rest:?}");
    c.stdin(b"exit\n");
    let exit = c.read_to_end();
    assert_eq!(exit_code_of(&exit), 0);
    s.finish();
}

pub fn log_rotation(fx: &Fixture) {
    let script = "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done";
    let mut r = Run::new("rotate", fx, &["sh", "-c", script]);
    r.monitor.log_max_size = Some(2000);
    r.monitor.log_max_files = 3;
    let out = run(fx, r);
    assert_eq!(out.exit_code(), 0);
    let log = out.dir.join("container.log");
    let mut all = Vec::new();
    for suffix in [".2", ".1", ""] {
        let p = format!("{}{suffix}", log.display());
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(text.len() <= 2000, "{p} is {} bytes", text.len());
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            all.push(v["log"].as_str().unwrap().to_string());
        }
    }
    assert!(!std::path::Path::new(&format!("{}.3", log.display())).exists());
    assert_eq!(all.last().unwrap(), "line 299\n");
    let first: usize = all[0]["line ".len()..].trim().parse().unwrap();
    let want: Vec<String> = (first..300).map(|i| format!("line {i}\n")).collect();
    assert_eq!(all, want, "rotation lost or reordered entries");
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Target: an idle monitor stays within 2 MiB resident (optimised build;
/// the unoptimised test build has more code to map, and gets three times that).
pub const RSS_LIMIT_KIB: u64 = if cfg!(debug_assertions) { 6144 } else { 2048 };

pub fn monitor_memory(fx: &Fixture) {
    let script = "read x; i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done; \
        exec sleep 1000";
    let mut r = Run::new("rss", fx, &["sh", "-c", script]);
    r.attach = true;
    r.monitor.open_stdin = true;
    let mut s = spawn(fx, r);
    let pid = s.started();
    let settle = || std::thread::sleep(Duration::from_millis(200));
    settle();
    let alone = vm_rss_kib(s.monitor_pid());
    let mut c = Client::connect(&s.socket());
    settle();
    let with_client = vm_rss_kib(s.monitor_pid());
    c.stdin(b"go\n");
    c.wait_for("line 299\n");
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default() != b"sleep\x001000\x00"
    {
        assert!(Instant::now() < deadline, "the container never went idle");
        std::thread::sleep(Duration::from_millis(5));
    }
    settle();
    let after_output = vm_rss_kib(s.monitor_pid());
    // The monitor gives back what the burst mapped after 5 s of quiet.
    std::thread::sleep(Duration::from_millis(5500));
    let quiet = vm_rss_kib(s.monitor_pid());
    println!(
        "monitor VmRSS: {alone} KiB idle, {with_client} KiB with one client attached, \
         {after_output} KiB right after 300 lines to the log and the client, \
         {quiet} KiB after 5 s of quiet"
    );
    if std::env::var_os("BERTH_RT_TEST_RSS_PAUSE").is_some() {
        println!("monitor pid {}", s.monitor_pid());
        std::thread::sleep(Duration::from_secs(60));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let exit = c.read_to_end();
    assert_eq!(exit_code_of(&exit), 137);
    s.finish();
    for (what, kib) in [
        ("idle", alone),
        ("with a client", with_client),
        ("after output", after_output),
        ("after 5 s of quiet", quiet),
    ] {
        assert!(
            kib <= RSS_LIMIT_KIB,
            "monitor uses {kib} KiB {what}, more than {RSS_LIMIT_KIB}"
        );
    }
}
