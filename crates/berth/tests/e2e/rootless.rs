//! Rootless: a user the test makes (with subordinate id ranges of its
//! own) runs its own daemon and containers, builds, runs a compose app,
//! pushes and pulls against a registry it serves; nothing of it runs as
//! root, and nothing of it is left when its daemon stops. The user, its
//! ranges and its files are removed afterwards, also on failure.

use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::harness::{wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[(
    "rootless_user_runs_everything",
    rootless_user_runs_everything,
)];

const USER: &str = "berth-e2e-rl";
/// The user's subordinate ranges, far from what `useradd` hands out.
const SUB_START: u32 = 3_100_000;
const SUB_COUNT: u32 = 65536;

/// The test user, its home and runtime directory, and its daemon; all
/// removed on drop.
struct RootlessUser {
    uid: u32,
    gid: u32,
    home: PathBuf,
    bin: PathBuf,
    daemon: Option<Child>,
}

fn out_text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn root_cmd(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        out_text(&out)
    );
}

/// Drops the lines of `file` that give `USER` ranges.
fn remove_subid_lines(file: &str) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{USER}:")))
        .map(|l| format!("{l}\n"))
        .collect();
    if kept != text {
        std::fs::write(file, kept).expect("rewriting subordinate ids");
    }
}

impl RootlessUser {
    fn create(scratch: &Path) -> RootlessUser {
        // A user left by an interrupted run goes first.
        let _ = Command::new("userdel").args(["-r", USER]).output();
        remove_subid_lines("/etc/subuid");
        remove_subid_lines("/etc/subgid");
        let home = scratch.join("home");
        root_cmd(
            "useradd",
            &[
                "-M",
                "-d",
                home.to_str().expect("utf8"),
                "-s",
                "/bin/sh",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
                USER,
            ],
        );
        let range = format!("{SUB_START}-{}", SUB_START + SUB_COUNT - 1);
        root_cmd(
            "usermod",
            &["--add-subuids", &range, "--add-subgids", &range, USER],
        );
        let user = nix::unistd::User::from_name(USER)
            .expect("getpwnam")
            .expect("the user exists");
        std::fs::create_dir_all(&home).expect("home");
        nix::unistd::chown(&home, Some(user.uid), Some(user.gid)).expect("chown home");
        // The scratch dir is root's; the user needs to reach its home and
        // a copy of the binary.
        std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let bin = scratch.join("berth");
        std::fs::copy(crate::harness::berth_bin(), &bin).expect("copy berth");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        RootlessUser {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home,
            bin,
            daemon: None,
        }
    }

    fn runtime_dir(&self) -> PathBuf {
        self.home
            .join("tmp")
            .join(format!("berth-run-{}", self.uid))
    }

    /// `program args` as the user, with a clean environment.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &self.home)
            .env("TMPDIR", self.home.join("tmp"))
            .current_dir(&self.home);
        c
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.command(&self.bin)
            .args(args)
            .output()
            .expect("berth as the user")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(out.status.success(), "berth {args:?}: {}", out_text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes `path` (and what is below it) the user's.
    fn give(&self, path: &Path) {
        let out = Command::new("chown")
            .args(["-R", &format!("{}:{}", self.uid, self.gid)])
            .arg(path)
            .output()
            .expect("chown");
        assert!(
            out.status.success(),
            "chown {}: {}",
            path.display(),
            out_text(&out)
        );
    }

    fn start_daemon(&mut self) {
        let tmp = self.home.join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp");
        self.give(&tmp);
        let log = std::fs::File::create(self.home.join("daemon.log")).expect("log");
        let child = self
            .command(&self.bin)
            .arg("daemon")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("berth daemon as the user");
        self.daemon = Some(child);
        let sock = self.runtime_dir().join("berth.sock");
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.daemon.as_mut().map(Child::try_wait) {
                panic!("the rootless daemon exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the rootless daemon's socket did not appear: {}",
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("daemon.log")).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    fn kill_daemon(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
    }

    /// SIGTERM, then waits for the daemon's exit.
    fn stop_daemon(&mut self) -> Option<std::process::ExitStatus> {
        let mut d = self.daemon.take()?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(d.id()).ok()?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..300 {
            if let Ok(Some(status)) = d.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = d.kill();
        d.wait().ok()
    }

    /// Processes of the user (by real uid on the host), and those in the
    /// user's namespaces seen through their uid maps.
    fn processes(&self) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let ids = |field: &str| -> Vec<u32> {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(field))
                    .map(|v| {
                        v.split_whitespace()
                            .filter_map(|n| n.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let uids = ids("Uid:");
            let ours = uids
                .iter()
                .any(|&u| u == self.uid || (SUB_START..SUB_START + SUB_COUNT).contains(&u));
            if ours && !status.contains("State:\tZ") {
                out.push((pid, status.lines().next().unwrap_or_default().to_string()));
            }
        }
        out
    }
}

impl Drop for RootlessUser {
    fn drop(&mut self) {
        self.stop_daemon();
        // Whatever of the user's is still running (only a failed test
        // leaves any): the processes the daemon started, by their pids.
        for (pid, _) in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("userdel").arg(USER).output();
        remove_subid_lines("/etc/subuid");
        remove_subid_lines("/etc/subgid");
    }
}

fn http_get(addr: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

fn rootless_user_runs_everything(ctx: &Ctx) {
    let scratch = tempfile::Builder::new()
        .prefix("berth-e2e-rootless-")
        .tempdir()
        .expect("tempdir");
    let mut u = RootlessUser::create(scratch.path());
    u.start_daemon();
    let info = u.ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=rootless"), "{info}");
    // Images: the user imports its own (the tarballs are readable copies).
    let busybox = scratch.path().join("busybox.tar");
    std::fs::copy(&ctx.busybox_tar, &busybox).expect("copy busybox");
    std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    u.ok(&["import", busybox.to_str().expect("utf8"), "busybox:latest"]);

    // Container root is the user; the other ids are the subordinate ones.
    let id = u.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "id; cat /proc/self/uid_map",
    ]);
    assert!(id.starts_with("uid=0(root) gid=0(root)"), "{id}");
    let map: Vec<Vec<String>> = id
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(
        map,
        [
            vec!["0".to_string(), u.uid.to_string(), "1".into()],
            vec![
                "1".to_string(),
                SUB_START.to_string(),
                SUB_COUNT.to_string()
            ],
        ],
        "{id}"
    );
    assert_eq!(
        u.ok(&["run", "--rm", "--user", "1000", "busybox", "id", "-u"]),
        "1000\n"
    );
    // A bind mount: container root's file is the user's on the host,
    // uid 1000's is the subordinate id 999 above the range's start.
    let shared = u.home.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    u.give(&shared);
    let bind = format!("{}:/b", shared.display());
    u.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo x > /b/root; touch /b/other; chown 1000:1000 /b/other",
    ]);
    let owner = |name: &str| {
        let m = std::fs::metadata(shared.join(name)).expect("written file");
        (m.uid(), m.gid())
    };
    assert_eq!(owner("root"), (u.uid, u.gid));
    assert_eq!(owner("other"), (SUB_START + 999, SUB_START + 999));

    // A published port answers on the host's loopback; a port below the
    // unprivileged start and a memory limit fail with their reasons.
    u.ok(&[
        "run",
        "-d",
        "--name",
        "rl-web",
        "-p",
        "127.0.0.1:18090:80",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/var/www",
    ]);
    wait_until(
        "the published port to answer",
        Duration::from_secs(10),
        || http_get("127.0.0.1:18090").contains("busybox httpd ok"),
    );
    // UDP: each client's datagrams reach the container and its answers
    // come back.
    let echo = u.home.join("udpecho");
    std::fs::copy(crate::network::udpecho(ctx), &echo).expect("copy udpecho");
    u.give(&echo);
    u.ok(&[
        "run",
        "-d",
        "--name",
        "rl-udp",
        "-v",
        &format!("{}:/udpecho:ro", echo.display()),
        "-p",
        "127.0.0.1:18091:53/udp",
        "busybox",
        "/udpecho",
        "53",
    ]);
    for client in ["first", "second"] {
        assert_eq!(
            crate::network::udp_echo("127.0.0.1:18091", client.as_bytes()).as_deref(),
            Some(client.as_bytes()),
            "UDP echo for {client}"
        );
    }
    u.ok(&["rm", "-f", "rl-udp"]);
    let low = u.berth(&["run", "--rm", "-p", "127.0.0.1:80:80", "busybox", "true"]);
    assert_eq!(low.status.code(), Some(125), "{}", out_text(&low));
    assert!(
        String::from_utf8_lossy(&low.stderr).contains("ip_unprivileged_port_start"),
        "{}",
        out_text(&low)
    );
    let mem = u.berth(&["run", "--rm", "--memory", "32m", "busybox", "true"]);
    assert_eq!(mem.status.code(), Some(125), "{}", out_text(&mem));
    assert!(
        String::from_utf8_lossy(&mem.stderr).contains("resource limits cannot be applied")
            && String::from_utf8_lossy(&mem.stderr).contains("cgroup v1"),
        "{}",
        out_text(&mem)
    );

    // Nothing of the user's runs as root outside its user namespace.
    let procs = u.processes();
    assert!(
        procs.len() >= 4,
        "daemon, holder, port helper, container: {procs:?}"
    );
    for (pid, _) in &procs {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        for field in ["Uid:", "Gid:"] {
            let line = status
                .lines()
                .find(|l| l.starts_with(field))
                .unwrap_or_default();
            assert!(
                line.split_whitespace().skip(1).all(|id| id != "0"),
                "process {pid} runs as root on the host: {line}"
            );
        }
    }
    // Stats without a cgroup: the network counters, zero for the rest;
    // pause needs the freezer cgroup and says so.
    let stats = u.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "rl-web",
    ]);
    assert!(stats.starts_with("rl-web 0B / "), "{stats}");
    let pause = u.berth(&["pause", "rl-web"]);
    assert!(
        !pause.status.success()
            && String::from_utf8_lossy(&pause.stderr).contains("runs containers without cgroups"),
        "{}",
        out_text(&pause)
    );
    // The daemon killed: the container runs on, and the next daemon joins
    // the same namespaces and re-adopts it (same process, port answering,
    // exec working).
    let pid_before = u.ok(&["inspect", "--format", "{{.State.Pid}}", "rl-web"]);
    u.kill_daemon();
    assert!(
        http_get("127.0.0.1:18090").is_empty(),
        "no proxy while no daemon runs"
    );
    u.start_daemon();
    assert_eq!(
        u.ok(&["inspect", "--format", "{{.State.Pid}}", "rl-web"]),
        pid_before
    );
    wait_until(
        "the re-adopted published port to answer",
        Duration::from_secs(10),
        || http_get("127.0.0.1:18090").contains("busybox httpd ok"),
    );
    assert_eq!(u.ok(&["exec", "rl-web", "echo", "exec ok"]), "exec ok\n");
    u.ok(&["rm", "-f", "rl-web"]);

    // Health checks and restart policies.
    u.ok(&[
        "run",
        "-d",
        "--name",
        "rl-hc",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-interval",
        "1s",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/ready; sleep 300",
    ]);
    wait_until("the health check to pass", Duration::from_secs(20), || {
        u.ok(&["inspect", "--format", "{{.State.Health.Status}}", "rl-hc"]) == "healthy\n"
    });
    u.ok(&[
        "run",
        "-d",
        "--name",
        "rl-rs",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_until(
        "two restarts, then the end",
        Duration::from_secs(30),
        || {
            u.ok(&[
                "inspect",
                "--format",
                "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
                "rl-rs",
            ]) == "2 exited 3\n"
        },
    );
    u.ok(&["rm", "-f", "rl-hc", "rl-rs"]);

    // A build with RUN steps, as the user.
    let build_dir = u.home.join("build");
    std::fs::create_dir(&build_dir).expect("mkdir");
    std::fs::write(
        build_dir.join("Dockerfile"),
        "FROM busybox:latest\nCOPY hello.txt /hello.txt\nRUN echo app:x:1234:1234::/:/bin/sh >> /etc/passwd && chown app /hello.txt\nUSER app\nCMD [\"sh\", \"-c\", \"id -u; stat -c %u /hello.txt; cat /hello.txt\"]\n",
    )
    .expect("Dockerfile");
    std::fs::write(build_dir.join("hello.txt"), "built rootless\n").expect("file");
    u.give(&build_dir);
    u.ok(&[
        "build",
        "-q",
        "-t",
        "rl-built",
        build_dir.to_str().expect("utf8"),
    ]);
    assert_eq!(
        u.ok(&["run", "--rm", "rl-built"]),
        "1234\n1234\nbuilt rootless\n"
    );

    // A cache mount keeps its files from one build to the next.
    let cache_dir = u.home.join("cache-build");
    std::fs::create_dir(&cache_dir).expect("mkdir");
    std::fs::write(
        cache_dir.join("Dockerfile"),
        "FROM busybox:latest\nARG N\nRUN --mount=type=cache,target=/cache echo $N >> /cache/log && cp /cache/log /log\nCMD [\"cat\", \"/log\"]\n",
    )
    .expect("Dockerfile");
    u.give(&cache_dir);
    for n in ["1", "2"] {
        u.ok(&[
            "build",
            "-q",
            "--build-arg",
            &format!("N={n}"),
            "-t",
            "rl-cache",
            cache_dir.to_str().expect("utf8"),
        ]);
    }
    assert_eq!(u.ok(&["run", "--rm", "rl-cache"]), "1\n2\n");

    // The shared compose fixture: the client reaches web1 by name, the
    // published port answers.
    let fixture =
        crate::harness::repo_root().join("crates/berth/tests/fixtures/compose-fixture.yml");
    let compose_file = u.home.join("compose.yml");
    std::fs::copy(&fixture, &compose_file).expect("copy fixture");
    let f = compose_file.to_str().expect("utf8");
    u.ok(&["compose", "-f", f, "-p", "rl", "up", "-d"]);
    wait_until(
        "the client to reach web1 and web2",
        Duration::from_secs(20),
        || {
            u.ok(&["compose", "-f", f, "-p", "rl", "logs", "client"])
                .matches("busybox httpd ok")
                .count()
                >= 2
        },
    );
    assert!(http_get("127.0.0.1:18081").contains("busybox httpd ok"));
    u.ok(&["compose", "-f", f, "-p", "rl", "down"]);

    // Push and pull against a registry the user serves on loopback.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut registry = u
        .command(&u.bin)
        .args(["registry", "serve", "--addr", &addr, "--root"])
        .arg(u.home.join("registry"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("registry serve as the user");
    wait_until("the user's registry", Duration::from_secs(10), || {
        TcpStream::connect(&addr).is_ok()
    });
    let tagged = format!("{addr}/rl/built:1");
    u.ok(&["tag", "rl-built", &tagged]);
    u.ok(&["push", &tagged]);
    u.ok(&["rmi", &tagged, "rl-built"]);
    u.ok(&["pull", &tagged]);
    assert_eq!(
        u.ok(&["run", "--rm", &tagged]),
        "1234\n1234\nbuilt rootless\n"
    );
    let _ = registry.kill();
    let _ = registry.wait();

    // The daemon stops: its namespaces, helpers and runtime files go.
    let runtime_dir = u.runtime_dir();
    let status = u.stop_daemon().expect("the daemon ran");
    assert!(status.success(), "daemon exit {status:?}: {}", u.log());
    wait_until(
        "the user's processes to end",
        Duration::from_secs(10),
        || u.processes().is_empty(),
    );
    assert!(
        !runtime_dir.exists(),
        "left under the runtime directory: {:?}",
        std::fs::read_dir(&runtime_dir).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
}
