//! End-to-end tests: real containers started through `monitor::run`.
//!
//! `run` forks, so it must not be called from libtest's threads: this is a
//! `harness = false` test whose `main` re-executes its own binary as the
//! monitor process (see [`fixture::MONITOR_ENV`]) and reads the events from
//! that process's stdout. Needs root; fails (never skips) without it.

#![allow(clippy::unwrap_used)] // test code

mod attach;
mod client;
mod exec;
mod fixture;
mod limits;
mod oracle;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use berth_runtime::monitor::MonitorEvent;
use fixture::{run, run_with, Fixture, Run, LEAK_FD_ENV, SHARED_ROOT_ENV};

fn echo_hello(fx: &Fixture) {
    let out = run(fx, Run::new("echo", fx, &["echo", "hello"]));
    assert_eq!(out.exit_code(), 0);
    assert_eq!(out.log.len(), 1);
    let entry = &out.log[0];
    assert_eq!(entry["log"], "hello\n");
    assert_eq!(entry["stream"], "stdout");
    let time = entry["time"].as_str().unwrap();
    assert!(
        time.len() == 30 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "time {time:?}"
    );
    match &out.exit_file {
        MonitorEvent::Exited { finished_at, .. } => assert!(finished_at.ends_with('Z')),
        other => panic!("{other:?}"),
    }
}

fn exit_code(fx: &Fixture) {
    let out = run(fx, Run::new("exit3", fx, &["sh", "-c", "exit 3"]));
    assert_eq!(out.exit_code(), 3);
}

fn failed(out: &fixture::Outcome) -> (String, i32) {
    match out.events.as_slice() {
        [MonitorEvent::Failed { message, exit_code }] => (message.clone(), *exit_code),
        other => panic!("expected one failed event, got {other:?}"),
    }
}

fn command_not_found(fx: &Fixture) {
    let out = run(fx, Run::new("nosuchcmd", fx, &["nosuchcmd"]));
    assert_eq!(
        failed(&out),
        (
            "exec: \"nosuchcmd\": executable file not found in $PATH".to_string(),
            127
        )
    );
    let out = run(fx, Run::new("nosuchpath", fx, &["/no/such"]));
    assert_eq!(
        failed(&out),
        (
            "exec: \"/no/such\": stat /no/such: no such file or directory".to_string(),
            127
        )
    );
}

fn not_executable(fx: &Fixture) {
    let out = run(fx, Run::new("noexec", fx, &["/etc/passwd"]));
    assert_eq!(
        failed(&out),
        ("exec: \"/etc/passwd\": permission denied".to_string(), 126)
    );
    let out = run(fx, Run::new("isdir", fx, &["/tmp"]));
    assert_eq!(
        failed(&out),
        ("exec: \"/tmp\": is a directory".to_string(), 126)
    );
}

fn status_line(out: &str, key: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .to_string()
}

fn capabilities(fx: &Fixture) {
    let out = run(fx, Run::new("caps", fx, &["cat", "/proc/self/status"]));
    assert_eq!(out.exit_code(), 0);
    let s = out.stdout();
    assert_eq!(status_line(&s, "CapBnd"), "CapBnd:\t00000000a80425fb");
    assert_eq!(status_line(&s, "CapEff"), "CapEff:\t00000000a80425fb");
    assert_eq!(status_line(&s, "CapPrm"), "CapPrm:\t00000000a80425fb");
    assert_eq!(status_line(&s, "CapInh"), "CapInh:\t0000000000000000");
    assert_eq!(status_line(&s, "CapAmb"), "CapAmb:\t0000000000000000");
    assert_eq!(status_line(&s, "NoNewPrivs"), "NoNewPrivs:\t0");
}

fn no_new_privileges(fx: &Fixture) {
    let mut r = Run::new("nnp", fx, &["cat", "/proc/self/status"]);
    r.opts.no_new_privileges = true;
    let out = run(fx, r);
    assert_eq!(status_line(&out.stdout(), "NoNewPrivs"), "NoNewPrivs:\t1");
}

fn pid_one_and_hostname(fx: &Fixture) {
    let out = run(fx, Run::new("pid1", fx, &["sh", "-c", "echo $$; hostname"]));
    assert_eq!(out.stdout(), "1\nberthtest\n");
}

fn numeric_user(fx: &Fixture) {
    let mut r = Run::new(
        "uid",
        fx,
        &["sh", "-c", "id; grep CapEff /proc/self/status"],
    );
    r.opts.user = "1000:1000".into();
    let out = run(fx, r);
    assert_eq!(
        out.stdout(),
        "uid=1000(alice) gid=1000(alice) groups=1000(alice)\nCapEff:\t0000000000000000\n"
    );
}

fn named_user(fx: &Fixture) {
    let mut r = Run::new("alice", fx, &["sh", "-c", "id; echo $HOME"]);
    r.opts.user = "alice".into();
    let out = run(fx, r);
    assert_eq!(
        out.stdout(),
        "uid=1000(alice) gid=1000(alice) groups=10(wheel),1000(alice)\n/home/alice\n"
    );
    let out = run(
        fx,
        Run::new("roothome", fx, &["sh", "-c", "id; echo $HOME"]),
    );
    assert_eq!(
        out.stdout(),
        "uid=0(root) gid=0(root) groups=0(root)\n/root\n"
    );
}

fn missing_user(fx: &Fixture) {
    let mut r = Run::new("bob", fx, &["id"]);
    r.opts.user = "bob".into();
    let out = run(fx, r);
    assert_eq!(
        failed(&out),
        (
            "unable to find user bob: no matching entries in passwd file".to_string(),
            128
        )
    );
}

fn writes_land_in_upper(fx: &Fixture) {
    let out = run(
        fx,
        Run::new(
            "write",
            fx,
            &["sh", "-c", "echo data > /newfile; rm /etc/which"],
        ),
    );
    assert_eq!(out.exit_code(), 0);
    assert_eq!(
        std::fs::read_to_string(out.upper.join("newfile")).unwrap(),
        "data\n"
    );
    assert!(!fx.base.join("newfile").exists());
    assert!(
        fx.base.join("etc/which").exists(),
        "lower layer was changed"
    );
}

fn layer_order(fx: &Fixture) {
    let top = fx.path().join("layers/top");
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::fs::write(top.join("etc/which"), "top\n").unwrap();
    let mut r = Run::new("layers", fx, &["cat", "/etc/which"]);
    r.lower = Some(vec![fx.base.clone(), top]);
    let out = run(fx, r);
    assert_eq!(out.stdout(), "top\n");
}

fn many_layers(fx: &Fixture) {
    // More lowerdir text than one page: goes through fsconfig("lowerdir+").
    let mut lower = vec![fx.base.clone()];
    for i in 0..50 {
        let d = fx.path().join(format!("layers/{}-{i:03}", "l".repeat(80)));
        std::fs::create_dir_all(&d).unwrap();
        lower.push(d);
    }
    let last = lower.last().unwrap().clone();
    std::fs::create_dir_all(last.join("etc")).unwrap();
    std::fs::write(last.join("etc/which"), "last\n").unwrap();
    let total: usize = lower.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(total > 4096, "layers too short to test: {total}");
    let mut r = Run::new("many", fx, &["cat", "/etc/which"]);
    r.lower = Some(lower);
    let out = run(fx, r);
    assert_eq!(out.stdout(), "last\n");
}

fn without_overlay(fx: &Fixture) {
    let mut r = Run::new("bind", fx, &["sh", "-c", "echo x > /f; cat /etc/which"]);
    r.lower = None;
    let out = run(fx, r);
    assert_eq!(out.stdout(), "base\n");
    assert!(out.dir.join("rootfs/f").exists());
}

fn shared_root(fx: &Fixture) {
    let mut r = Run::new("shared", fx, &["echo", "pivoted"]);
    r.env.push((SHARED_ROOT_ENV, "1"));
    let out = run(fx, r);
    assert_eq!(out.stdout(), "pivoted\n");
}

fn sigkill(fx: &Fixture) {
    let mut killed = 0;
    let out = run_with(fx, Run::new("kill", fx, &["sleep", "1000"]), &mut |pid| {
        // The monitor made its own session: killing ours must not reach it.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_comm = stat.rsplit_once(')').unwrap().1;
        let sid: i32 = after_comm
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(sid, nix::unistd::getsid(None).unwrap().as_raw());
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        killed = pid;
    });
    assert_eq!(out.started_pid(), killed);
    assert_eq!(out.exit_code(), 137);
}

fn streams(fx: &Fixture) {
    let out = run(
        fx,
        Run::new(
            "streams",
            fx,
            &[
                "sh",
                "-c",
                "echo out; echo err >&2; echo two; printf partial",
            ],
        ),
    );
    assert_eq!(out.stdout(), "out\ntwo\npartial");
    assert_eq!(out.stream("stderr"), "err\n");
    let logs: Vec<&str> = out.log.iter().map(|e| e["log"].as_str().unwrap()).collect();
    assert!(logs.contains(&"partial"), "{logs:?}");
}

fn orphans_die_with_pid1(fx: &Fixture) {
    let out = run(
        fx,
        Run::new(
            "orphans",
            fx,
            &["sh", "-c", "sleep 1237 & sleep 1238 & echo up"],
        ),
    );
    assert_eq!(out.stdout(), "up\n");
    for entry in std::fs::read_dir("/proc").unwrap() {
        let cmdline = std::fs::read(entry.unwrap().path().join("cmdline")).unwrap_or_default();
        assert!(
            cmdline != b"sleep\x001237\x00" && cmdline != b"sleep\x001238\x00",
            "a container process survived its pid 1"
        );
    }
}

fn workdir_created(fx: &Fixture) {
    let mut r = Run::new("cwd", fx, &["pwd"]);
    r.opts.cwd = "/work/dir".into();
    let out = run(fx, r);
    assert_eq!(out.stdout(), "/work/dir\n");
    assert!(out.upper.join("work/dir").is_dir());
}

fn kernel_surface(fx: &Fixture) {
    let script = "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; \
        grep -c ' /proc/sys proc ro,' /proc/mounts; \
        { echo x > /proc/sys/kernel/domainname; } 2>/dev/null || echo ro; \
        cat /sys/class/net/lo/flags; ls /sys/class/net; \
        stat -c '%n %a %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
        for l in fd stdin ptmx; do readlink /dev/$l; done; \
        grep -E ' /dev/(pts|shm|mqueue) ' /proc/mounts | cut -d' ' -f2,3,4";
    let out = run(fx, Run::new("surface", fx, &["sh", "-c", script]));
    assert_eq!(out.stream("stderr"), "");
    let want = "0\n0\n1\nro\n0x9\nlo\n\
        /dev/null 666 1:3\n/dev/zero 666 1:5\n/dev/full 666 1:7\n\
        /dev/random 666 1:8\n/dev/urandom 666 1:9\n/dev/tty 666 5:0\n\
        /proc/self/fd\n/proc/self/fd/0\npts/ptmx\n\
        /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666\n\
        /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime\n\
        /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k\n";
    assert_eq!(out.stdout(), want);
}

fn no_leaked_fds(fx: &Fixture) {
    let mut r = Run::new(
        "fds",
        fx,
        &[
            "sh",
            "-c",
            "for i in $(seq 0 99); do [ -e /proc/$$/fd/$i ] && echo $i; done; true",
        ],
    );
    r.env.push((LEAK_FD_ENV, "1"));
    let out = run(fx, r);
    assert_eq!(out.stdout(), "0\n1\n2\n");
}

type Test = (&'static str, fn(&Fixture));

const TESTS: &[Test] = &[
    ("echo_hello", echo_hello),
    ("exit_code", exit_code),
    ("command_not_found", command_not_found),
    ("not_executable", not_executable),
    ("capabilities", capabilities),
    ("no_new_privileges", no_new_privileges),
    ("pid_one_and_hostname", pid_one_and_hostname),
    ("numeric_user", numeric_user),
    ("named_user", named_user),
    ("missing_user", missing_user),
    ("writes_land_in_upper", writes_land_in_upper),
    ("layer_order", layer_order),
    ("many_layers", many_layers),
    ("without_overlay", without_overlay),
    ("shared_root", shared_root),
    ("sigkill", sigkill),
    ("streams", streams),
    ("orphans_die_with_pid1", orphans_die_with_pid1),
    ("workdir_created", workdir_created),
    ("kernel_surface", kernel_surface),
    ("no_leaked_fds", no_leaked_fds),
    ("runc_oracle", oracle::runc_oracle),
    ("oom_kill", limits::oom_kill),
    ("no_oom_without_limit", limits::no_oom_without_limit),
    (
        "pids_limit_stops_fork_loop",
        limits::pids_limit_stops_fork_loop,
    ),
    ("cpus_become_cfs_quota", limits::cpus_become_cfs_quota),
    ("seccomp_default", limits::seccomp_default),
    (
        "seccomp_unconfined_and_custom",
        limits::seccomp_unconfined_and_custom,
    ),
    (
        "seccomp_with_no_new_privileges",
        limits::seccomp_with_no_new_privileges,
    ),
    (
        "net_admin_needs_the_capability",
        limits::net_admin_needs_the_capability,
    ),
    ("privileged", limits::privileged),
    (
        "read_only_root_with_tmpfs",
        limits::read_only_root_with_tmpfs,
    ),
    (
        "devices_and_the_devices_cgroup",
        limits::devices_and_the_devices_cgroup,
    ),
    ("groups_sysctls_ulimits", limits::groups_sysctls_ulimits),
    (
        "host_and_joined_namespaces",
        limits::host_and_joined_namespaces,
    ),
    ("init_is_pid_one", limits::init_is_pid_one),
    ("init_reaps_zombies", limits::init_reaps_zombies),
    ("init_forwards_sigterm", limits::init_forwards_sigterm),
    ("attach_before_start", attach::attach_before_start),
    ("attach_streams", attach::attach_streams),
    ("attach_stdin", attach::attach_stdin),
    ("attach_large_round_trip", attach::attach_large_round_trip),
    ("attach_stdin_stays_open", attach::attach_stdin_stays_open),
    (
        "attach_stdin_once_on_disconnect",
        attach::attach_stdin_once_on_disconnect,
    ),
    (
        "attach_without_open_stdin",
        attach::attach_without_open_stdin,
    ),
    (
        "attach_socket_path_too_long",
        attach::attach_socket_path_too_long,
    ),
    ("attach_wait_gives_up", attach::attach_wait_gives_up),
    ("attach_wait_fails_fast", attach::attach_wait_fails_fast),
    ("tty_basics", attach::tty_basics),
    ("tty_resize_and_interrupt", attach::tty_resize_and_interrupt),
    ("tty_job_control", attach::tty_job_control),
    ("log_rotation", attach::log_rotation),
    ("monitor_memory", attach::monitor_memory),
    ("exec_in_container", exec::exec_in_container),
    (
        "exec_stdin_user_and_errors",
        exec::exec_stdin_user_and_errors,
    ),
    ("exec_tty", exec::exec_tty),
    (
        "exec_matches_first_process",
        exec::exec_matches_first_process,
    ),
];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.first().is_some_and(|a| a == "/probe") {
        limits::probe_main(argv.get(1).map(String::as_str).unwrap_or_default());
    }
    if let Ok(bundle) = std::env::var(fixture::MONITOR_ENV) {
        fixture::monitor_main(&bundle);
    }
    if let Ok(dir) = std::env::var(fixture::EXEC_ENV) {
        fixture::exec_main(&dir);
    }
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let started = Instant::now();
    if !nix::unistd::geteuid().is_root() {
        println!(
            "these tests create real containers (namespaces, overlay and proc mounts, \
             device nodes) and must run as root; euid is {}",
            nix::unistd::geteuid()
        );
        println!("\ntest result: FAILED. 0 passed; {} failed", selected.len());
        std::process::exit(1);
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        println!("/bin/busybox is missing: the test root filesystem is built from it (apt-get install busybox-static)");
        println!("\ntest result: FAILED. 0 passed; {} failed", selected.len());
        std::process::exit(1);
    }
    let fx = Fixture::new();
    let mut failures = Vec::new();
    for (name, test) in &selected {
        let ok = catch_unwind(AssertUnwindSafe(|| test(&fx))).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failures.push(*name);
        }
    }
    let passed = selected.len() - failures.len();
    if !failures.is_empty() {
        println!("\nfailures:");
        for f in &failures {
            println!("    {f}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        TESTS.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    drop(fx);
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
