//! The shared daemon, helpers to run `berth`, and the test loop.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub type TestFn = fn(&Ctx);

/// A running daemon on a private root, exec root and socket.
pub struct Ctx {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub busybox_tar: PathBuf,
    daemon: std::sync::Mutex<Option<Child>>,
    /// `/proc/sys/net/ipv4/ip_forward` and the IPv6 `forwarding` switch
    /// before the run, restored after it.
    ip_forward_before: Option<String>,
    ip6_forward_before: Option<String>,
}

const IP6_FORWARD: &str = "/proc/sys/net/ipv6/conf/all/forwarding";

pub fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Ctx {
    pub fn start() -> Ctx {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the end-to-end tests need root (namespaces, overlayfs, mounts): run them as root"
        );
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        let exec_root = dir.path().join("run");
        let socket = exec_root.join("berth.sock");
        let busybox_tar = dir.path().join("busybox-rootfs.tar");
        let made = Command::new(repo_root().join("scripts/make-busybox-image.sh"))
            .arg(&busybox_tar)
            .output()
            .expect("running scripts/make-busybox-image.sh");
        assert!(
            made.status.success(),
            "making the busybox rootfs failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let ip_forward_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok();
        let ip6_forward_before = std::fs::read_to_string(IP6_FORWARD).ok();
        let ctx = Ctx {
            ip_forward_before,
            ip6_forward_before,
            dir,
            root,
            exec_root,
            socket,
            busybox_tar,
            daemon: std::sync::Mutex::new(None),
        };
        ctx.start_daemon();
        let out = ctx.berth(&[
            "import",
            "--change",
            "CMD [\"sh\"]",
            ctx.busybox_tar.to_str().expect("utf8"),
            "busybox:latest",
        ]);
        assert!(
            out.status.success(),
            "importing busybox failed: {}",
            stderr(&out)
        );
        ctx
    }

    pub fn start_daemon(&self) {
        self.start_daemon_with(&[]);
    }

    /// Starts the daemon with extra flags (say `--insecure-registry`).
    /// It inherits descriptor 9 open on the host's `/` and not
    /// close-on-exec, as a careless parent would leave it: runc's
    /// CVE-2024-21626 was such a descriptor reaching a container (the
    /// `attacks` test looks for it in containers and execs).
    pub fn start_daemon_with(&self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("daemon log");
        let child = Command::new("sh")
            .args(["-c", "exec 9</ \"$0\" \"$@\""])
            .arg(berth_bin())
            .args(["daemon", "--root"])
            .arg(&self.root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--cgroup-parent")
            .arg(self.cgroup_parent())
            .arg("--bridge")
            .arg(self.bridge())
            .arg("--nft-table")
            .arg(self.nft_table())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting berth daemon");
        *self.daemon.lock().expect("daemon lock") = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.berth(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer within 20s; log:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `body` with the shared daemon restarted with `flags`, then
    /// `cleanup` (with that daemon still up; its failures are the
    /// cleanup's to ignore), then the plain daemon again; a panic of
    /// `body` is raised after that.
    pub fn with_daemon_flags(&self, flags: &[&str], body: impl FnOnce(), cleanup: impl FnOnce()) {
        self.stop_daemon();
        self.start_daemon_with(flags);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        cleanup();
        self.stop_daemon();
        self.start_daemon();
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }

    /// Writes `dockerfile` into a fresh context directory `name` and builds
    /// it quietly as `tag`.
    pub fn build_dockerfile(&self, name: &str, dockerfile: &str, tag: &str) {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("build context");
        std::fs::write(dir.join("Dockerfile"), dockerfile).expect("Dockerfile");
        self.ok(&["build", "-q", "-t", tag, dir.to_str().expect("utf8")]);
    }

    /// The running daemon's pid.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon
            .lock()
            .expect("daemon lock")
            .as_ref()
            .map(Child::id)
    }

    /// The running daemon's resident memory, in KiB.
    pub fn daemon_rss_kib(&self) -> u64 {
        self.daemon_status_kib("VmRSS:")
    }

    /// The daemon's peak resident memory since [`Self::reset_daemon_peak`]
    /// (or its start), in KiB: what a burst cost, even if freed since.
    pub fn daemon_peak_rss_kib(&self) -> u64 {
        self.daemon_status_kib("VmHWM:")
    }

    /// Starts the daemon's peak resident memory again from its current
    /// size (`/proc/<pid>/clear_refs`, 5).
    pub fn reset_daemon_peak(&self) {
        let pid = self.daemon_pid().expect("the daemon runs");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting VmHWM");
    }

    fn daemon_status_kib(&self, field: &str) -> u64 {
        let pid = self.daemon_pid().expect("the daemon runs");
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("the daemon's status")
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in the daemon's status"))
    }

    /// Stops the daemon with SIGTERM (by the pid we started) and waits.
    pub fn stop_daemon(&self) {
        self.signal_daemon(nix::sys::signal::Signal::SIGTERM);
    }

    /// Kills the daemon with SIGKILL, as a crash would, and reaps it.
    pub fn kill_daemon(&self) {
        self.signal_daemon(nix::sys::signal::Signal::SIGKILL);
    }

    fn signal_daemon(&self, signal: nix::sys::signal::Signal) {
        let taken = self.daemon.lock().expect("daemon lock").take();
        if let Some(mut child) = taken {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, signal);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// This daemon's parent cgroup, unique to the test run.
    pub fn cgroup_parent(&self) -> String {
        let dir = self
            .dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("berth-e2e-{}", dir.trim_start_matches("berth-e2e-"))
    }

    /// A short tag unique to this run, for kernel object names.
    fn tag(&self) -> String {
        let dir = self.cgroup_parent();
        let tail: String = dir.chars().rev().take(6).collect();
        tail.chars().rev().collect::<String>().to_ascii_lowercase()
    }

    /// The default bridge of this run's daemon.
    pub fn bridge(&self) -> String {
        format!("be2e{}", self.tag())
    }

    /// The nftables table of this run's daemon.
    pub fn nft_table(&self) -> String {
        format!("berth-e2e-{}", self.tag())
    }

    /// The bridges of this daemon's networks (from its records).
    pub fn our_bridges(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.root.join("network")) {
            for e in entries.flatten() {
                let Ok(bytes) = std::fs::read(e.path()) else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                if let Some(b) = v["bridge"].as_str().filter(|b| !b.is_empty()) {
                    out.push(b.to_string());
                }
            }
        }
        out
    }

    /// Links named like this daemon's veths (`bv` + container + network).
    pub fn our_veths(&self) -> Vec<String> {
        let mut nets = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.root.join("network")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                nets.push(name.chars().take(5).collect::<String>());
            }
        }
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/sys/class/net") {
            for e in entries.flatten() {
                let link = e.file_name().to_string_lossy().into_owned();
                if link.len() == 15
                    && link.starts_with("bv")
                    && nets.iter().any(|n| link.ends_with(n.as_str()))
                {
                    out.push(link);
                }
            }
        }
        out
    }

    /// Removes the bridges and the nftables table the daemon keeps by
    /// design (as Docker keeps docker0), returning what could not go.
    pub fn remove_network_state(&self) -> Vec<String> {
        let mut left = Vec::new();
        for b in self.our_bridges() {
            let _ = Command::new("ip").args(["link", "del", &b]).output();
            if std::path::Path::new("/sys/class/net").join(&b).exists() {
                left.push(format!("bridge {b}"));
            }
        }
        for family in ["ip", "ip6"] {
            let _ = Command::new("nft")
                .args(["delete", "table", family, &self.nft_table()])
                .output();
        }
        // The daemon turned forwarding on for its networks; give the
        // machine back its settings.
        if let Some(before) = &self.ip_forward_before {
            let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", before);
        }
        if let Some(before) = &self.ip6_forward_before {
            let _ = std::fs::write(IP6_FORWARD, before);
        }
        for family in ["ip", "ip6"] {
            let listed = Command::new("nft")
                .args(["list", "table", family, &self.nft_table()])
                .output();
            if listed.map(|o| o.status.success()).unwrap_or(false) {
                left.push(format!("nft table {family} {}", self.nft_table()));
            }
        }
        left
    }

    /// Cgroup directories of this test run left on the machine.
    pub fn our_cgroups(&self) -> Vec<std::path::PathBuf> {
        let parent = self.cgroup_parent();
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in entries.flatten() {
                let dir = e.path().join(&parent);
                if dir.exists() {
                    found.push(dir);
                }
            }
        }
        let unified = std::path::Path::new("/sys/fs/cgroup").join(&parent);
        if unified.exists() {
            found.push(unified);
        }
        found
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Runs `berth ARGS` against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        Command::new(berth_bin())
            .args(args)
            .env("BERTH_HOST", self.host())
            .stdin(Stdio::null())
            .output()
            .expect("running berth")
    }

    /// Runs `berth ARGS` with `input` on stdin.
    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        self.berth_env(args, &[], input)
    }

    /// Runs `berth ARGS` with extra environment variables and `input` on
    /// its stdin.
    pub fn berth_env(
        &self,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        input: &[u8],
    ) -> Output {
        let mut child = Command::new(berth_bin())
            .args(args)
            .env("BERTH_HOST", self.host())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running berth");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("berth output");
        let _ = writer.join();
        out
    }

    /// Runs `berth ARGS`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    pub fn containers_root(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// Host mounts that mention this test's directory.
    pub fn our_mounts(&self) -> Vec<String> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let needle = self.dir.path().to_string_lossy().into_owned();
        info.lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // Remove whatever containers are left, then stop the daemon.
        if self.daemon.lock().map(|d| d.is_some()).unwrap_or(false) {
            let ids = self.berth(&["ps", "-aq", "--no-trunc"]);
            for id in stdout(&ids).lines() {
                let _ = self.berth(&["rm", "-f", id]);
            }
        }
        self.stop_daemon();
    }
}

/// The docker CLI the interop tests drive: this machine's docker 28 at
/// `/usr/local/bin/docker`, else Debian's. Missing, the test fails and says so.
pub fn docker_cli() -> &'static str {
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("the docker CLI is needed for this test: neither /usr/local/bin/docker nor /usr/bin/docker exists")
}

/// Starts `berth daemon` with `flags` on a scratch root and expects it to
/// refuse: exit 1, `says` in its error, nothing made under the root.
pub fn assert_refused_start(flags: &[&str], says: &str) {
    let t = tempfile::tempdir().expect("tempdir");
    let refused = Command::new(berth_bin())
        .arg("daemon")
        .args(flags)
        .arg("--root")
        .arg(t.path().join("root"))
        .arg("--exec-root")
        .arg(t.path().join("run"))
        .arg("-H")
        .arg(format!("unix://{}", t.path().join("s.sock").display()))
        .output()
        .expect("berth daemon");
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains(says), "{}", stderr(&refused));
    assert!(
        !t.path().join("root").exists(),
        "nothing is made for a refused start"
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs every test (or those whose name contains a filter word), each
/// isolated by catch_unwind; prints a libtest-like summary.
pub fn run_all(tests: &[(&str, TestFn)], filter: &[String], start: fn() -> Ctx) -> i32 {
    let selected: Vec<&(&str, TestFn)> = tests
        .iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} end-to-end tests", selected.len());
    if selected.is_empty() {
        return 0;
    }
    let ctx = match std::panic::catch_unwind(start) {
        Ok(c) => c,
        Err(_) => {
            eprintln!("e2e setup failed (see the panic above)");
            return 1;
        }
    };
    let mut failed = Vec::new();
    for (name, f) in &selected {
        let t0 = Instant::now();
        let before = Objects::list(&ctx);
        let log_before = ctx.daemon_log().len();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&ctx)));
        // What the test made and left is removed, so a failure (or a
        // forgetful test) never knocks over the tests after it; a test that
        // passed but left something fails for it.
        let left = Objects::list(&ctx).made_since(&before);
        left.remove(&ctx);
        // A panic in the daemon fails the test that caused it, even when
        // the daemon answered.
        let log = ctx.daemon_log();
        let panics: Vec<&str> = log
            .get(log_before..)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("panicked at"))
            .collect();
        for p in &panics {
            println!("    {name}: the daemon panicked: {p}");
        }
        let ok = result.is_ok() && left.is_empty() && panics.is_empty();
        let status = if ok { "ok" } else { "FAILED" };
        println!(
            "test {name} ... {status} ({:.2}s)",
            t0.elapsed().as_secs_f64()
        );
        if result.is_ok() && !left.is_empty() {
            println!("    {name} left behind: {left:?}");
        }
        if !ok {
            failed.push(*name);
        }
    }
    if !failed.is_empty() {
        println!("\n--- daemon log (tail) ---");
        let log = ctx.daemon_log();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        for l in tail.into_iter().rev() {
            println!("{l}");
        }
    }
    let leftover_mounts = {
        if let Ok(list) = std::fs::read_dir(ctx.containers_root()) {
            for e in list.flatten() {
                let _ = ctx.berth(&["rm", "-f", &e.file_name().to_string_lossy()]);
            }
        }
        ctx.stop_daemon();
        let mut m = ctx.our_mounts();
        let c = ctx.our_cgroups();
        m.extend(ctx.our_veths().into_iter().map(|v| format!("veth {v}")));
        m.extend(ctx.remove_network_state());
        drop(ctx);
        (m, c)
    };
    let (leftover_mounts, leftover_cgroups) = leftover_mounts;
    if !leftover_mounts.is_empty() {
        println!("mounts and network objects left behind: {leftover_mounts:#?}");
        failed.push("cleanup: no mounts, veths, bridges or nft tables left");
    }
    if !leftover_cgroups.is_empty() {
        println!("cgroups left behind: {leftover_cgroups:#?}");
        failed.push("cleanup: no cgroups left");
        // Reported, then removed: a failed run leaves nothing on the machine.
        for dir in &leftover_cgroups {
            remove_cgroup_tree(dir);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len()
            + usize::from(!leftover_mounts.is_empty())
            + usize::from(!leftover_cgroups.is_empty())
            - failed.len(),
        failed.len()
    );
    for f in &failed {
        println!("    {f}");
    }
    i32::from(!failed.is_empty())
}

/// The containers, networks and volumes the daemon has.
#[derive(Debug, Default)]
struct Objects {
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Objects {
    fn list(ctx: &Ctx) -> Objects {
        let names = |args: &[&str]| -> Vec<String> {
            stdout(&ctx.berth(args))
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        };
        Objects {
            containers: names(&["ps", "-aq", "--no-trunc"]),
            networks: names(&["network", "ls", "-q", "--no-trunc"]),
            volumes: names(&["volume", "ls", "-q"]),
        }
    }

    /// What is in `self` and was not in `before`.
    fn made_since(self, before: &Objects) -> Objects {
        let new = |now: Vec<String>, then: &[String]| -> Vec<String> {
            now.into_iter().filter(|x| !then.contains(x)).collect()
        };
        Objects {
            containers: new(self.containers, &before.containers),
            networks: new(self.networks, &before.networks),
            volumes: new(self.volumes, &before.volumes),
        }
    }

    fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    /// Removes them: containers first (with their anonymous volumes), then
    /// networks and volumes.
    fn remove(&self, ctx: &Ctx) {
        for c in &self.containers {
            let _ = ctx.berth(&["rm", "-f", "-v", c]);
        }
        for n in &self.networks {
            let _ = ctx.berth(&["network", "rm", n]);
        }
        for v in &self.volumes {
            let _ = ctx.berth(&["volume", "rm", "-f", v]);
        }
    }
}

/// Polls `f` until it holds; fails naming `what` after `limit`. The one way
/// tests wait for something to happen (never a fixed sleep).
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes a cgroup directory and those below it, deepest first, waiting a
/// moment for processes still exiting.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.flatten().filter(|c| c.path().is_dir()) {
            remove_cgroup_tree(&child.path());
        }
    }
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return,
        }
    }
}
