//! The Engine API on the wire: versions, ping headers, error bodies.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::harness::{wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("ping_and_versions", ping_and_versions),
    ("errors_are_docker_json", errors_are_docker_json),
    (
        "wait_answers_headers_before_exit",
        wait_answers_headers_before_exit,
    ),
    (
        "cli_starts_a_daemon_when_none_answers",
        cli_starts_a_daemon_when_none_answers,
    ),
    (
        "cli_hosts_and_an_ordinary_user",
        cli_hosts_and_an_ordinary_user,
    ),
    ("one_daemon_per_root", one_daemon_per_root),
    (
        "hostile_clients_leave_the_daemon_answering",
        hostile_clients_leave_the_daemon_answering,
    ),
    (
        "clients_that_stop_reading_hold_bounded_memory",
        clients_that_stop_reading_hold_bounded_memory,
    ),
];

/// A second daemon on the running one's root stops at once with a clear
/// message, and the first keeps its socket and answers.
fn one_daemon_per_root(ctx: &Ctx) {
    let other_socket = ctx.dir.path().join("second.sock");
    let mut child = std::process::Command::new(crate::harness::berth_bin())
        .arg("daemon")
        .arg("-H")
        .arg(format!("unix://{}", other_socket.display()))
        .arg("--root")
        .arg(&ctx.root)
        .arg("--exec-root")
        .arg(&ctx.exec_root)
        .arg("--bridge")
        .arg(ctx.bridge())
        .arg("--nft-table")
        .arg(ctx.nft_table())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("second daemon");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second daemon on the same root kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(!status.success());
    assert!(err.contains("another berth daemon (pid"), "{err}");
    assert!(!other_socket.exists(), "the second daemon made no socket");
    ctx.ok(&["ps", "-aq"]);
}

/// Sends `head` and then `body_len` zero bytes in 1 MiB writes (stopping
/// quietly if the daemon closes), and returns the status line's code.
fn send_raw(ctx: &Ctx, head: &str, body_len: usize) -> u16 {
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    s.write_all(head.as_bytes()).expect("head");
    let chunk = vec![0u8; 1 << 20];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        if s.write_all(&chunk[..n]).is_err() {
            break;
        }
        left -= n;
    }
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no answer to {:?}: {text:?}", &head[..40.min(head.len())]))
}

/// The acceptance's hostile clients at once: 500 idle connections (from
/// two processes, each under its own limit), 10,000 headers, a 1 GiB body
/// and 100-deep JSON. Each is refused with a 4xx, `_ping` still answers,
/// and the daemon's memory stays under 100 MiB.
fn hostile_clients_leave_the_daemon_answering(ctx: &Ctx) {
    let held: Vec<UnixStream> = (0..250)
        .map(|_| UnixStream::connect(&ctx.socket).expect("connect"))
        .collect();
    let mut helper = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import socket, sys\n\
             held = []\n\
             for _ in range(250):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect(sys.argv[1])\n    held.append(s)\n\
             print('ready', flush=True)\nsys.stdin.read()\n",
        )
        .arg(&ctx.socket)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (installed by scripts/deps.sh)");
    let mut ready = [0u8; 5];
    helper
        .stdout
        .as_mut()
        .expect("helper stdout")
        .read_exact(&mut ready)
        .expect("the helper holds its connections");
    assert_eq!(&ready, b"ready");

    let mut many = String::from("GET /_ping HTTP/1.1\r\nHost: b\r\n");
    for i in 0..10_000 {
        many.push_str(&format!("X-Header-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(send_raw(ctx, &many, 0), 431, "10,000 headers");

    let gib = 1usize << 30;
    let big = format!(
        "POST /containers/create HTTP/1.1\r\nHost: b\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {gib}\r\n\r\n"
    );
    assert_eq!(send_raw(ctx, &big, gib), 413, "a 1 GiB body");

    let deep = format!(
        "{{\"Image\":\"busybox\",\"Cmd\":{}{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let (status, _, body) = request(ctx, "POST", "/containers/create", &deep);
    assert_eq!(status, 400, "100-deep JSON: {body}");

    let t0 = std::time::Instant::now();
    let (status, _, body) = request(ctx, "GET", "/_ping", "");
    let ping_ms = t0.elapsed().as_secs_f64() * 1e3;
    assert_eq!((status, body.as_str()), (200, "OK"));
    let rss = ctx.daemon_rss_kib();
    eprintln!("    with 500 idle connections: _ping {ping_ms:.1} ms, daemon RSS {rss} KiB");
    assert!(
        rss < 100 * 1024,
        "daemon RSS {rss} KiB with hostile clients"
    );

    drop(helper.stdin.take());
    let _ = helper.wait();
    drop(held);
}

/// Opens a streaming request and never reads its answer.
fn stalled(ctx: &Ctx, method: &str, path: &str) -> UnixStream {
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("write");
    s
}

/// Clients that ask for streams and stop reading (ten `logs -f` of a
/// 50 MB log, attaches to a container writing as fast as it can, events,
/// stats) cost the daemon a bounded amount of memory: the streams wait
/// for their readers instead of queueing. The writing container is held
/// up by its attached readers, and the daemon still answers.
fn clients_that_stop_reading_hold_bounded_memory(ctx: &Ctx) {
    let logged = ctx.ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "yes $(head -c 4000 /dev/zero | tr '\\0' x) | head -c 50000000; sleep 1000",
    ]);
    let logged = logged.trim().to_string();
    let log = ctx
        .containers_root()
        .join(&logged)
        .join(format!("{logged}-json.log"));
    wait_until("the log to reach 50 MB", Duration::from_secs(60), || {
        std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) >= 50_000_000
    });
    let fast = ctx.ok(&["run", "-d", "--log-driver", "none", "busybox", "yes"]);
    let fast = fast.trim().to_string();
    let before = ctx.daemon_rss_kib();
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(stalled(
            ctx,
            "GET",
            &format!("/containers/{logged}/logs?follow=1&stdout=1"),
        ));
    }
    for _ in 0..2 {
        held.push(stalled(
            ctx,
            "POST",
            &format!("/containers/{fast}/attach?stream=1&stdout=1"),
        ));
    }
    held.push(stalled(ctx, "GET", "/events"));
    held.push(stalled(ctx, "GET", &format!("/containers/{fast}/stats")));
    // Time must pass here: 3 s for the stalled streams to pile data up in
    // the daemon if it queued instead of waiting; the bound is checked after.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (status, _, body) = request(ctx, "GET", "/_ping", "");
    assert_eq!((status, body.as_str()), (200, "OK"));
    let after = ctx.daemon_rss_kib();
    eprintln!("    daemon RSS {before} KiB before, {after} KiB with 14 stalled readers");
    assert!(
        after < before + 60 * 1024,
        "stalled readers took the daemon from {before} KiB to {after} KiB"
    );
    drop(held);
    ctx.ok(&["rm", "-f", &logged, &fast]);
}

/// Sends one raw HTTP/1.1 request and returns (status, headers, body).
pub(crate) fn request(ctx: &Ctx, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), dechunk(body, head))
}

fn dechunk(body: &str, head: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

fn ping_and_versions(ctx: &Ctx) {
    let (status, head, body) = request(ctx, "GET", "/_ping", "");
    assert_eq!(status, 200);
    assert_eq!(body, "OK");
    assert!(
        head.to_ascii_lowercase().contains("api-version: 1.50"),
        "{head}"
    );
    let (status, head, body) = request(ctx, "HEAD", "/_ping", "");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains("api-version: 1.50"),
        "{head}"
    );
    assert_eq!(body, "");
    let (status, _, body) = request(ctx, "GET", "/v1.41/version", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("version json");
    assert_eq!(v["ApiVersion"], "1.50");
    assert_eq!(v["MinAPIVersion"], "1.24");
    let (status, _, body) = request(ctx, "GET", "/v1.12/version", "");
    assert_eq!(status, 400);
    assert!(
        body.contains("client version 1.12 is too old. Minimum supported API version is 1.24"),
        "{body}"
    );
    let (status, _, body) = request(ctx, "GET", "/v1.99/containers/json", "");
    assert_eq!(status, 400);
    assert!(body.contains("is too new"), "{body}");
    let (status, _, _) = request(ctx, "GET", "/v1.24/containers/json?all=1", "");
    assert_eq!(status, 200);
}

fn errors_are_docker_json(ctx: &Ctx) {
    let (status, _, body) = request(ctx, "GET", "/containers/nope/json", "");
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_str(&body).expect("error json");
    assert_eq!(v["message"], "No such container: nope");
    let (status, _, body) = request(ctx, "GET", "/images/nope/json", "");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("No such image: nope"), "{body}");
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create",
        "{\"Image\": \"busybox\", ",
    );
    assert_eq!(status, 400, "{body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).expect("json")["message"].is_string());
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create",
        r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"OomScoreAdj":500}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("HostConfig.OomScoreAdj"), "{body}");
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create",
        r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"ShmSize":-1}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("SHM size can not be less than 0"), "{body}");
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create?name=x",
        r#"{"Image":"busybox","Cmd":[]}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no command specified"), "{body}");
    let (status, _, _) = request(ctx, "GET", "/containers/json?filters=notjson", "");
    assert_eq!(status, 400);
}

fn wait_answers_headers_before_exit(ctx: &Ctx) {
    let id = ctx
        .ok(&["create", "busybox", "sh", "-c", "exit 4"])
        .trim()
        .to_string();
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    write!(s, "POST /v1.50/containers/{id}/wait?condition=next-exit HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\n\r\n")
        .expect("write");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = s
        .read(&mut buf)
        .expect("headers arrive before the container starts");
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    ctx.ok(&["start", &id]);
    let mut rest = head;
    while !rest.contains("StatusCode") {
        let n = s.read(&mut buf).expect("body");
        assert!(n > 0, "connection closed before the status: {rest}");
        rest.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(rest.contains("\"StatusCode\":4"), "{rest}");
    ctx.ok(&["rm", &id]);
}

/// Without `-H`/`BERTH_HOST` the CLI uses `<exec-root>/berth.sock`; when
/// nothing answers there it starts `berth daemon` itself.
fn cli_starts_a_daemon_when_none_answers(ctx: &Ctx) {
    let exec_root = ctx.dir.path().join("auto-run");
    let root = ctx.dir.path().join("auto-root");
    // Its own bridge and firewall table (the daemon keeps both by design;
    // this test removes them at the end).
    let bridge = format!("{}a", ctx.bridge());
    let table = format!("{}-auto", ctx.nft_table());
    let berth = |args: &[&str]| {
        std::process::Command::new(crate::harness::berth_bin())
            .args(args)
            .env_remove("BERTH_HOST")
            .env_remove("DOCKER_HOST")
            .env("BERTH_EXEC_ROOT", &exec_root)
            .env("BERTH_ROOT", &root)
            .env("BERTH_BRIDGE", &bridge)
            .env("BERTH_NFT_TABLE", &table)
            .output()
            .expect("berth")
    };
    let out = berth(&["images", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(exec_root.join("berth.sock").exists());
    assert!(exec_root.join("daemon.log").exists());
    assert!(
        root.join("image").is_dir(),
        "the started daemon uses BERTH_ROOT"
    );
    let pid: i32 = std::fs::read_to_string(exec_root.join("berth.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    // A second command finds the running daemon instead of starting another.
    assert!(berth(&["version"]).status.success());
    assert_eq!(
        std::fs::read_to_string(exec_root.join("berth.pid"))
            .expect("pid file")
            .trim(),
        pid.to_string()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("stop daemon");
    // The daemon is not our child (it detached), so it may linger as a zombie
    // of init; what matters is that it stopped serving and cleaned up.
    wait_until(
        "the started daemon to stop",
        Duration::from_secs(10),
        || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        },
    );
    assert!(
        !exec_root.join("berth.sock").exists(),
        "socket removed on shutdown"
    );
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &bridge])
        .output();
    let _ = std::process::Command::new("nft")
        .args(["delete", "table", "ip", &table])
        .output();
    assert!(!std::path::Path::new("/sys/class/net")
        .join(&bridge)
        .exists());
}

/// `DOCKER_HOST` is read when neither `-H` nor `BERTH_HOST` is given, and
/// no daemon is started for it; an ordinary user's CLI uses a private
/// per-user runtime directory, and when the rootless daemon it starts
/// cannot run (here: `nobody`'s home does not exist) reports the daemon's
/// own reason at once instead of waiting, leaving no helper behind.
fn cli_hosts_and_an_ordinary_user(ctx: &Ctx) {
    let unused_root = ctx.dir.path().join("never-started");
    let berth = |docker_host: &str, args: &[&str]| {
        std::process::Command::new(crate::harness::berth_bin())
            .args(args)
            .env_remove("BERTH_HOST")
            .env("DOCKER_HOST", docker_host)
            .env("BERTH_EXEC_ROOT", &unused_root)
            .output()
            .expect("berth")
    };
    let out = berth(&ctx.host(), &["version", "--format", "{{.Server.Version}}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = ctx.dir.path().join("nothing.sock");
    let out = berth(&format!("unix://{}", missing.display()), &["ps"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(
        !unused_root.exists(),
        "no daemon is started for DOCKER_HOST"
    );

    // As `nobody`, from a copy of the binary anyone may run, with a
    // temporary directory of the test's own.
    let shared = tempfile::Builder::new()
        .prefix("berth-e2e-user-")
        .tempdir()
        .expect("tempdir");
    let set_mode = |p: &std::path::Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    set_mode(shared.path(), 0o1777);
    let bin = shared.path().join("berth");
    std::fs::copy(crate::harness::berth_bin(), &bin).expect("copy berth");
    set_mode(&bin, 0o755);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .arg("ps")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("TMPDIR", shared.path())
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the daemon exited") && err.contains("/nonexistent/.local/share/berth"),
        "{err}"
    );
    let run_dir = shared.path().join("berth-run-65534");
    let meta = std::fs::metadata(&run_dir).expect("the user's runtime directory");
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        assert_eq!(
            (meta.uid(), meta.permissions().mode() & 0o777),
            (65534, 0o700)
        );
    }
    assert!(!run_dir.join("berth.sock").exists());
    assert!(
        !run_dir.join("rootless").exists(),
        "the failed daemon's namespace holder and port helper are gone"
    );
}
