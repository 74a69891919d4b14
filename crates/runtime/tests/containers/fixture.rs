//! The test fixture: a busybox root filesystem, bundles, and running the
//! monitor as a separate process (this same binary, re-executed).

use std::io::{BufRead, BufReader, Lines};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use berth_runtime::monitor::{MonitorConfig, MonitorEvent};
use berth_runtime::mounts::Overlay;
use berth_runtime::spec::{build_spec, to_json, SpecOptions};

/// Env var that turns this binary into a monitor for the bundle it names.
pub const MONITOR_ENV: &str = "BERTH_RT_TEST_MONITOR";
/// Env var: make `/` rshared in a fresh mount namespace before the monitor starts.
pub const SHARED_ROOT_ENV: &str = "BERTH_RT_TEST_SHARED_ROOT";
/// Env var: leave a non-close-on-exec descriptor open in the monitor.
pub const LEAK_FD_ENV: &str = "BERTH_RT_TEST_LEAK_FD";
/// Env var that turns this binary into an exec monitor for the directory it names.
pub const EXEC_ENV: &str = "BERTH_RT_TEST_EXEC";
/// Env var naming a `berth` binary to run as `berth __monitor <bundle>` and
/// `berth __exec <dir>` instead of this test binary (to measure the real
/// thing; tests that need this binary's own hooks fail with it).
pub const BERTH_EXE_ENV: &str = "BERTH_RT_TEST_BERTH";

/// A command running `berth <entry> <arg>`, or this binary with `env=arg`.
fn monitor_command(entry: &str, env: &str, arg: &Path) -> Command {
    match std::env::var_os(BERTH_EXE_ENV) {
        Some(exe) => {
            let mut cmd = Command::new(exe);
            cmd.arg(entry).arg(arg);
            cmd
        }
        None => {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.env(env, arg);
            cmd
        }
    }
}

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\n\
wheel:x:10:alice\n\
alice:x:1000:\n\
nogroup:x:65534:\n";

/// Builds a busybox root filesystem at `dir`.
pub fn build_rootfs(dir: &Path) {
    for d in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/alice",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    assert!(list.status.success(), "busybox --list failed");
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", dir.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(dir.join("etc/passwd"), PASSWD).unwrap();
    std::fs::write(dir.join("etc/group"), GROUP).unwrap();
    std::fs::write(dir.join("etc/which"), "base\n").unwrap();
}

/// Shared state for all tests.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    /// The busybox layer, used as the lowest overlay layer.
    pub base: PathBuf,
    /// A layer holding this test binary (and its libraries) as `/probe`.
    pub probe: PathBuf,
    /// The parent cgroup of every container of this run, removed at the end.
    pub cgroup_parent: String,
}

/// Copies this test binary and the shared libraries it needs into `dir`, so
/// containers can run `/probe <what>` for checks busybox cannot make.
fn build_probe(dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(&exe, dir.join("probe")).unwrap();
    let ldd = Command::new("ldd").arg(&exe).output().unwrap();
    assert!(ldd.status.success(), "ldd {} failed", exe.display());
    for line in String::from_utf8(ldd.stdout).unwrap().lines() {
        let lib = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = lib {
            let dest = dir.join(lib.strip_prefix("/").unwrap());
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&lib, &dest).unwrap();
        }
    }
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("berth-rt-test-")
            .tempdir()
            .unwrap();
        let base = tmp.path().join("layers/base");
        build_rootfs(&base);
        let probe = tmp.path().join("layers/probe");
        build_probe(&probe);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let cgroup_parent = format!("berth-test-{}-{nanos}", std::process::id());
        Fixture {
            tmp,
            base,
            probe,
            cgroup_parent,
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A test that failed half-way may leave a container's (empty) cgroup
        // under the test parent: its processes are gone, so rmdir it first.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for root in berth_runtime::cgroups::all_mount_points(&mountinfo) {
            if let Ok(children) = std::fs::read_dir(root.join(&self.cgroup_parent)) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    // Processes killed a moment ago may still be exiting.
                    for _ in 0..100 {
                        match std::fs::remove_dir(child.path()) {
                            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                                std::thread::sleep(std::time::Duration::from_millis(20))
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        let roots = berth_runtime::cgroups::Roots::default();
        if let Err(e) = berth_runtime::cgroups::remove_parent(&roots, &self.cgroup_parent) {
            eprintln!("removing the test cgroups: {e}");
        }
    }
}

/// How to run one container.
pub struct Run {
    pub name: &'static str,
    pub opts: SpecOptions,
    /// Layers below the container's upper dir (lowest first); `None` runs
    /// without an overlay on a private copy of the busybox root.
    pub lower: Option<Vec<PathBuf>>,
    pub env: Vec<(&'static str, &'static str)>,
    /// Serve an attach socket (`<run dir>/a.sock`).
    pub attach: bool,
    /// Give the container a terminal (`process.terminal`).
    pub tty: bool,
    /// The monitor's settings; id, overlay, paths and the socket are filled in.
    pub monitor: MonitorConfig,
}

impl Run {
    pub fn new(name: &'static str, fx: &Fixture, args: &[&str]) -> Self {
        Run {
            name,
            opts: SpecOptions {
                args: args.iter().map(|s| s.to_string()).collect(),
                hostname: "berthtest".into(),
                id: name.to_string(),
                cgroup_parent: fx.cgroup_parent.clone(),
                seccomp_cache_dir: Some(fx.path().join("seccomp-cache")),
                ..Default::default()
            },
            lower: Some(vec![fx.base.clone()]),
            env: Vec::new(),
            attach: false,
            tty: false,
            monitor: MonitorConfig::default(),
        }
    }
}

/// What a run produced.
pub struct Outcome {
    pub events: Vec<MonitorEvent>,
    pub exit_file: MonitorEvent,
    pub log: Vec<serde_json::Value>,
    pub dir: PathBuf,
    pub upper: PathBuf,
}

impl Outcome {
    /// The concatenated `log` values of one stream.
    pub fn stream(&self, name: &str) -> String {
        self.log
            .iter()
            .filter(|e| e["stream"] == name)
            .map(|e| e["log"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn stdout(&self) -> String {
        self.stream("stdout")
    }

    /// The exit code of a container that started and exited.
    pub fn exit_code(&self) -> i32 {
        match self.events.as_slice() {
            [MonitorEvent::Started { .. }, MonitorEvent::Exited { exit_code, .. }] => *exit_code,
            other => panic!("expected started+exited, got {other:?}"),
        }
    }

    /// Whether the monitor reported an OOM kill.
    pub fn oom_killed(&self) -> bool {
        match self.events.last() {
            Some(MonitorEvent::Exited { oom_killed, .. }) => *oom_killed,
            other => panic!("expected exited, got {other:?}"),
        }
    }

    pub fn started_pid(&self) -> i32 {
        match self.events.first() {
            Some(MonitorEvent::Started { pid }) => *pid,
            other => panic!("expected started, got {other:?}"),
        }
    }
}

fn mountinfo_lines_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// A monitor process that was started and not yet waited for.
pub struct Spawned {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    pub events: Vec<MonitorEvent>,
    pub cfg: MonitorConfig,
    pub dir: PathBuf,
    upper: PathBuf,
    tmp_text: String,
    mounts_before: Vec<String>,
    waited: bool,
    /// The container's cgroup (leaf id and parent), checked gone at the end.
    spec_id: String,
    spec_parent: String,
}

impl Drop for Spawned {
    /// A test that failed half-way still ends its container and monitor.
    fn drop(&mut self) {
        if !self.waited {
            kill_tree(self.child.id());
            let _ = self.child.wait();
        }
    }
}

/// Kills the children of `pid` (a monitor's container), then `pid`.
fn kill_tree(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
    }
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// Writes the bundle and starts the monitor; returns at once.
pub fn spawn(fx: &Fixture, run: Run) -> Spawned {
    let dir = fx.path().join("runs").join(run.name);
    let bundle = dir.join("bundle");
    let upper = dir.join("upper");
    let work = dir.join("work");
    let rootfs = dir.join("rootfs");
    for d in [&bundle, &upper, &work, &rootfs] {
        std::fs::create_dir_all(d).unwrap();
    }
    let overlay = match run.lower {
        Some(lower) => Some(Overlay {
            lower,
            upper: upper.clone(),
            work,
            userxattr: false,
            fuse: false,
        }),
        None => {
            build_rootfs(&rootfs);
            None
        }
    };
    let spec_id = run.opts.id.clone();
    let spec_parent = run.opts.cgroup_parent.clone();
    let mut spec = build_spec(&SpecOptions {
        rootfs: rootfs.clone(),
        ..run.opts
    })
    .unwrap();
    if run.tty {
        let mut process = spec.process().clone().unwrap();
        process.set_terminal(Some(true));
        spec.set_process(Some(process));
    }
    std::fs::write(bundle.join("config.json"), to_json(&spec).unwrap()).unwrap();
    let cfg = MonitorConfig {
        id: run.name.to_string(),
        overlay,
        log_path: dir.join("container.log"),
        exit_path: dir.join("exit.json"),
        attach_socket: run
            .monitor
            .attach_socket
            .clone()
            .or_else(|| run.attach.then(|| dir.join("a.sock"))),
        ..run.monitor
    };
    std::fs::write(
        bundle.join("monitor.json"),
        serde_json::to_vec(&cfg).unwrap(),
    )
    .unwrap();

    let tmp_text = fx.path().display().to_string();
    let mounts_before = mountinfo_lines_with(&tmp_text);
    let mut cmd = monitor_command("__monitor", MONITOR_ENV, &bundle);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in &run.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    Spawned {
        child,
        lines,
        events: Vec::new(),
        cfg,
        dir,
        upper,
        tmp_text,
        mounts_before,
        waited: false,
        spec_id,
        spec_parent,
    }
}

impl Spawned {
    /// The monitor's pid.
    pub fn monitor_pid(&self) -> u32 {
        self.child.id()
    }

    /// The attach socket.
    pub fn socket(&self) -> PathBuf {
        self.cfg.attach_socket.clone().unwrap()
    }

    /// Reads the next event line; `None` at the end of the monitor's output.
    pub fn next_event(&mut self) -> Option<MonitorEvent> {
        let line = self.lines.next()?.unwrap();
        let ev: MonitorEvent =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad event line {line:?}: {e}"));
        self.events.push(ev.clone());
        Some(ev)
    }

    /// Reads the `started` event and returns the container's pid.
    pub fn started(&mut self) -> i32 {
        match self.next_event() {
            Some(MonitorEvent::Started { pid }) => pid,
            other => panic!("expected started, got {other:?}"),
        }
    }

    /// Reads every remaining event, waits for the monitor and checks that
    /// nothing was left behind.
    pub fn finish(mut self) -> Outcome {
        while self.next_event().is_some() {}
        let status = self.child.wait().unwrap();
        self.waited = true;
        assert!(status.success(), "monitor exited with {status}");
        let events = std::mem::take(&mut self.events);
        let cfg = self.cfg.clone();
        let (dir, upper) = (self.dir.clone(), self.upper.clone());
        let (tmp_text, mounts_before) = (self.tmp_text.clone(), self.mounts_before.clone());

        // Nothing may remain: no child of ours, no container process, no
        // mount, no socket.
        assert_eq!(
            nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(-1),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG)
            ),
            Err(nix::errno::Errno::ECHILD),
            "a child process remains"
        );
        if let Some(MonitorEvent::Started { pid }) = events.first() {
            assert_eq!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), None),
                Err(nix::errno::Errno::ESRCH),
                "container pid {pid} still exists"
            );
        }
        let after = mountinfo_lines_with(&tmp_text);
        assert_eq!(after, mounts_before, "mounts leaked into the host");
        if !self.spec_id.is_empty() {
            let left = berth_runtime::cgroups::Cgroup::open(&self.spec_parent, &self.spec_id);
            assert!(
                left.is_err(),
                "the container's cgroup remains: {:?}",
                left.map(|c| c.dirs())
            );
        }
        if let Some(sock) = &cfg.attach_socket {
            assert!(
                !sock.exists(),
                "attach socket {} left behind",
                sock.display()
            );
        }

        let exit_file: MonitorEvent =
            serde_json::from_slice(&std::fs::read(&cfg.exit_path).unwrap()).unwrap();
        assert_eq!(
            Some(&exit_file),
            events.last(),
            "exit file differs from last event"
        );
        let log = match std::fs::read_to_string(&cfg.log_path) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        Outcome {
            events,
            exit_file,
            log,
            dir,
            upper,
        }
    }
}

/// Runs a container through a monitor process; `on_started` sees the
/// container's host pid as soon as it is reported.
pub fn run_with(fx: &Fixture, run: Run, on_started: &mut dyn FnMut(i32)) -> Outcome {
    let mut spawned = spawn(fx, run);
    while let Some(ev) = spawned.next_event() {
        if let MonitorEvent::Started { pid } = ev {
            on_started(pid);
        }
    }
    spawned.finish()
}

pub fn run(fx: &Fixture, run: Run) -> Outcome {
    run_with(fx, run, &mut |_| {})
}

/// The monitor side: called from `main` when [`MONITOR_ENV`] is set.
pub fn monitor_main(bundle: &str) -> ! {
    use nix::mount::MsFlags;
    if std::env::var_os(SHARED_ROOT_ENV).is_some() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
        .unwrap();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap();
        assert!(root.contains("shared:"), "/ is not shared: {root}");
    }
    if std::env::var_os(LEAK_FD_ENV).is_some() {
        let fd = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        std::mem::forget(fd);
    }
    std::process::exit(berth_runtime::monitor::run(Path::new(bundle)))
}

/// An exec monitor process that was started and not yet waited for.
pub struct ExecSpawned {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    pub events: Vec<MonitorEvent>,
    waited: bool,
}

impl Drop for ExecSpawned {
    /// A test that failed half-way still ends its exec'd process.
    fn drop(&mut self) {
        if !self.waited {
            kill_tree(self.child.id());
            let _ = self.child.wait();
        }
    }
}

/// Writes `<dir>/exec.json` and starts an exec monitor for it.
pub fn spawn_exec(dir: &Path, cfg: &berth_runtime::exec_monitor::ExecConfig) -> ExecSpawned {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(berth_runtime::exec_monitor::EXEC_FILE),
        serde_json::to_vec(cfg).unwrap(),
    )
    .unwrap();
    let mut child = monitor_command("__exec", EXEC_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    ExecSpawned {
        child,
        lines,
        events: Vec::new(),
        waited: false,
    }
}

impl ExecSpawned {
    pub fn next_event(&mut self) -> Option<MonitorEvent> {
        let line = self.lines.next()?.unwrap();
        let ev: MonitorEvent =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad event line {line:?}: {e}"));
        self.events.push(ev.clone());
        Some(ev)
    }

    /// Reads the remaining events and waits for the exec monitor.
    pub fn finish(mut self) -> Vec<MonitorEvent> {
        while self.next_event().is_some() {}
        let status = self.child.wait().unwrap();
        self.waited = true;
        assert!(status.success(), "exec monitor exited with {status}");
        std::mem::take(&mut self.events)
    }
}

/// The exec monitor side: called from `main` when [`EXEC_ENV`] is set.
pub fn exec_main(dir: &str) -> ! {
    std::process::exit(berth_runtime::exec_monitor::run(Path::new(dir)))
}
