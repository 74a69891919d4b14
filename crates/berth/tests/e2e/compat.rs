//! What Docker's own clients (docker-py, compose, testcontainers) lean on,
//! on the wire: hijacked streams that lose no byte, the non-swarm answers,
//! settings Docker accepts, Docker's errors, and endpoints they call.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::request;
use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("hijack_headers_come_alone", hijack_headers_come_alone),
    (
        "create_settings_docker_accepts",
        create_settings_docker_accepts,
    ),
    ("log_drivers", log_drivers),
    ("kill_waits_and_changes", kill_waits_and_changes),
    ("restarting_needs_force", restarting_needs_force),
    ("build_keeps_intermediates", build_keeps_intermediates),
    ("archive_into_created_volume", archive_into_created_volume),
    (
        "stats_networks_and_load_errors",
        stats_networks_and_load_errors,
    ),
    ("network_ipam_and_endpoints", network_ipam_and_endpoints),
    ("legacy_links", legacy_links),
    ("network_scoped_links", network_scoped_links),
    ("volume_subpath", volume_subpath),
    ("build_context_rules", build_context_rules),
    ("container_filters", container_filters),
    ("object_filters", object_filters),
    ("unread_bodies_are_drained", unread_bodies_are_drained),
    ("testcontainers_python", testcontainers_python),
];

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn create(ctx: &Ctx, body: Value) -> String {
    let (status, _, out) = request(ctx, "POST", "/containers/create", &body.to_string());
    assert_eq!(status, 201, "{out}");
    json_of(&out)["Id"].as_str().expect("id").to_string()
}

/// docker-py reads the `101` headers through a buffer, then reads frames
/// from the raw socket: the first read after the request must hold the
/// headers and nothing else, however late the client reads. The start's
/// `Tty: false` multiplexes even an exec that has a TTY (Docker decides by
/// the start request); a console size without a TTY still multiplexes.
fn hijack_headers_come_alone(ctx: &Ctx) {
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    for (exec_tty, tty, console, expect_frames) in [
        (true, false, None, true),
        (true, true, None, false),
        (false, false, Some([10, 20]), true),
    ] {
        let (status, _, body) = request(
            ctx,
            "POST",
            &format!("/containers/{id}/exec"),
            &json!({"Cmd": ["sh", "-c", "echo out; echo err >&2"], "AttachStdout": true,
                    "AttachStderr": true, "Tty": exec_tty, "ConsoleSize": console})
            .to_string(),
        );
        assert_eq!(status, 201, "{body}");
        let exec = json_of(&body)["Id"].as_str().expect("id").to_string();
        let start = json!({"Detach": false, "Tty": tty, "ConsoleSize": console}).to_string();
        let mut s = UnixStream::connect(&ctx.socket).expect("connect");
        write!(
            s,
            "POST /v1.45/exec/{exec}/start HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{start}",
            start.len()
        )
        .expect("write");
        // The exec has ended, so it has printed everything, before the
        // first read.
        wait_until("the exec to end", Duration::from_secs(10), || {
            let (_, _, body) = request(ctx, "GET", &format!("/exec/{exec}/json"), "");
            !json_of(&body)["ExitCode"].is_null()
        });
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf).expect("headers");
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.ends_with("\r\n\r\n"),
            "stream bytes arrived with the headers: {head:?}"
        );
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("stream");
        if expect_frames {
            assert_eq!(rest[0], 1, "a stdout frame first: {rest:?}");
            let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let text = String::from_utf8_lossy(&rest[8..]).to_string();
            assert!(len > 0 && text.contains("out"), "{rest:?}");
        } else {
            let text = String::from_utf8_lossy(&rest).to_string();
            assert_eq!(text, "out\r\nerr\r\n");
        }
    }
    ctx.ok(&["rm", "-f", &id]);
}

fn create_settings_docker_accepts(ctx: &Ctx) {
    let id = create(
        ctx,
        json!({"Image": "busybox", "Cmd": ["sh", "-c", "env; cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null || true"],
               "Env": ["Foo", "Other=one", "Blank="],
               "HostConfig": {"Runtime": "runc", "MemorySwappiness": 40,
                              "DeviceCgroupRules": ["c 7:128 rwm"], "VolumeDriver": "foo"}}),
    );
    let v = json_of(&ctx.ok(&["inspect", &id]))[0].clone();
    assert_eq!(v["HostConfig"]["Runtime"], "runc");
    assert_eq!(v["HostConfig"]["MemorySwappiness"], 40);
    assert_eq!(v["HostConfig"]["DeviceCgroupRules"], json!(["c 7:128 rwm"]));
    assert_eq!(v["HostConfig"]["VolumeDriver"], "foo");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert!(v["Config"]["Env"]
        .as_array()
        .expect("env")
        .contains(&json!("Foo")));
    ctx.ok(&["start", "-a", &id]);
    let logs = ctx.ok(&["logs", &id]);
    assert!(
        logs.contains("Other=one") && logs.contains("Blank="),
        "{logs}"
    );
    assert!(!logs.lines().any(|l| l.starts_with("Foo")), "{logs}");
    ctx.ok(&["rm", &id]);
    for (host_config, message) in [
        (json!({"Runtime": "crun"}), "Unknown runtime specified crun"),
        (
            json!({"DeviceCgroupRules": ["c 7"]}),
            "invalid device cgroup format 'c 7'",
        ),
        (
            json!({"MemorySwappiness": 101}),
            "valid memory swappiness range is 0-100",
        ),
    ] {
        let (status, _, body) = request(
            ctx,
            "POST",
            "/containers/create",
            &json!({"Image": "busybox", "HostConfig": host_config}).to_string(),
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(message), "{body}");
    }
    // A volume the container makes needs its volume driver.
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create",
        &json!({"Image": "busybox", "Volumes": {"/data": {}}, "HostConfig": {"VolumeDriver": "foo"}})
            .to_string(),
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("error looking up volume plugin foo: plugin \\\"foo\\\" not found"),
        "{body}"
    );
}

fn log_drivers(ctx: &Ctx) {
    let (status, _, body) = request(
        ctx,
        "POST",
        "/containers/create",
        &json!({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "asdf"}}}).to_string(),
    );
    assert_eq!(status, 400);
    assert_eq!(
        json_of(&body)["message"],
        "logger: no log driver named 'asdf' is registered"
    );
    let none = create(
        ctx,
        json!({"Image": "busybox", "Cmd": ["echo", "hi"], "HostConfig": {"LogConfig": {"Type": "none"}}}),
    );
    ctx.ok(&["start", &none]);
    ctx.ok(&["wait", &none]);
    let (status, _, body) = request(ctx, "GET", &format!("/containers/{none}/logs?stdout=1"), "");
    assert_eq!(status, 501, "{body}");
    assert!(
        body.contains("configured logging driver does not support reading"),
        "{body}"
    );
    assert!(!ctx
        .containers_root()
        .join(&none)
        .join(format!("{none}-json.log"))
        .exists());
    // max-file alone is Docker's; local keeps and reads logs.
    for log in [
        json!({"Type": "json-file", "Config": {"max-file": "100"}}),
        json!({"Type": "local"}),
    ] {
        let id = create(
            ctx,
            json!({"Image": "busybox", "Cmd": ["echo", "kept"], "HostConfig": {"LogConfig": log}}),
        );
        ctx.ok(&["start", "-a", &id]);
        assert_eq!(ctx.ok(&["logs", &id]), "kept\n");
        ctx.ok(&["rm", &id]);
    }
    ctx.ok(&["rm", &none]);
}

fn kill_waits_and_changes(ctx: &Ctx) {
    for _ in 0..5 {
        let id = ctx
            .ok(&["run", "-d", "busybox", "sleep", "60"])
            .trim()
            .to_string();
        ctx.ok(&["kill", &id]);
        let v = json_of(&ctx.ok(&["inspect", &id]))[0].clone();
        assert_eq!(v["State"]["Status"], "exited", "right after kill: {v}");
        ctx.ok(&["rm", &id]);
    }
    let id = ctx
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "touch /test; rm /bin/ls; mkdir -p /tmp/d",
        ])
        .trim()
        .to_string();
    ctx.ok(&["wait", &id]);
    let (status, _, body) = request(ctx, "GET", &format!("/containers/{id}/changes"), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_of(&body),
        json!([{"Path": "/bin", "Kind": 0}, {"Path": "/bin/ls", "Kind": 2},
               {"Path": "/test", "Kind": 1}, {"Path": "/tmp", "Kind": 0},
               {"Path": "/tmp/d", "Kind": 1}])
    );
    assert_eq!(
        ctx.ok(&["diff", &id]),
        "C /bin\nD /bin/ls\nA /test\nC /tmp\nA /tmp/d\n"
    );
    ctx.ok(&["rm", &id]);
}

fn restarting_needs_force(ctx: &Ctx) {
    let id = ctx
        .ok(&[
            "run",
            "-d",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ])
        .trim()
        .to_string();
    let mut saw = false;
    for _ in 0..200 {
        let status = ctx.ok(&["inspect", "-f", "{{.State.Status}}", &id]);
        if status.trim() == "restarting" {
            let out = ctx.berth(&["rm", &id]);
            // It may have started again meanwhile: running is refused too.
            assert!(!out.status.success(), "removed without force");
            saw = stderr(&out).contains("container is restarting");
            if saw {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saw, "never caught the container restarting");
    ctx.ok(&["rm", "-f", &id]);
}

fn build_keeps_intermediates(ctx: &Ctx) {
    let dir = ctx.dir.path().join("compat-build");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN echo kept-step > /k\nRUN sh -c 'echo to-stderr >&2'\n",
    )
    .expect("write");
    let count = |ctx: &Ctx| {
        ctx.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    };
    let before = count(ctx);
    let out = ctx.ok(&[
        "build",
        "--progress",
        "plain",
        "--no-cache",
        "--rm=false",
        "-t",
        "compat-keep",
        dir.to_str().expect("utf8"),
    ]);
    assert!(
        out.contains("\u{1b}[91mto-stderr\n\u{1b}[0m") || out.contains("to-stderr"),
        "{out}"
    );
    assert!(!out.contains("Removed intermediate container"), "{out}");
    assert_eq!(count(ctx), before + 2, "both RUN containers kept");
    ctx.ok(&["container", "prune", "-f"]);
    // The default: a failed step's container stays; --force-rm: none.
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nRUN exit 3\n").expect("write");
    let before = count(ctx);
    assert!(!ctx
        .berth(&["build", "--no-cache", dir.to_str().expect("utf8")])
        .status
        .success());
    assert_eq!(count(ctx), before + 1, "the failed step's container stays");
    assert!(!ctx
        .berth(&[
            "build",
            "--no-cache",
            "--force-rm",
            dir.to_str().expect("utf8")
        ])
        .status
        .success());
    assert_eq!(count(ctx), before + 1, "--force-rm removes it");
    ctx.ok(&["container", "prune", "-f"]);
    ctx.ok(&["rmi", "compat-keep"]);
    // isolation=default is the one Linux has.
    let (status, _, body) = request(ctx, "POST", "/build?isolation=hyperv", "");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Unsupported isolation: \\\"hyperv\\\""),
        "{body}"
    );
}

fn archive_into_created_volume(ctx: &Ctx) {
    let id = ctx
        .ok(&["create", "-v", "/vol1", "busybox", "cat", "/vol1/file"])
        .trim()
        .to_string();
    let src = ctx.dir.path().join("compat-file");
    std::fs::write(&src, "into the volume\n").expect("write");
    ctx.ok(&[
        "cp",
        src.to_str().expect("utf8"),
        &format!("{id}:/vol1/file"),
    ]);
    let (status, head, _) = request(
        ctx,
        "HEAD",
        &format!("/containers/{id}/archive?path=/vol1/file"),
        "",
    );
    assert_eq!(status, 200, "{head}");
    ctx.ok(&["start", "-a", &id]);
    assert_eq!(ctx.ok(&["logs", &id]), "into the volume\n");
    assert!(ctx.our_mounts().is_empty(), "{:?}", ctx.our_mounts());
    ctx.ok(&["rm", "-v", &id]);
}

fn stats_networks_and_load_errors(ctx: &Ctx) {
    let id = ctx
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let (status, _, body) = request(
        ctx,
        "GET",
        &format!("/containers/{id}/stats?stream=0&one-shot=1"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert!(v["networks"]["eth0"]["rx_bytes"].is_u64(), "{v}");
    assert!(v["networks"].get("lo").is_none(), "{v}");
    ctx.ok(&["rm", "-f", &id]);
    let (status, _, body) = request(ctx, "POST", "/images/load", "abc");
    assert_eq!(status, 200, "{body}");
    let line = json_of(body.lines().last().expect("a line"));
    assert!(line["errorDetail"]["message"].is_string(), "{body}");
    let out = ctx.berth_stdin(&["load"], b"abc");
    assert!(!out.status.success(), "{}", stdout(&out));
}

fn network_ipam_and_endpoints(ctx: &Ctx) {
    let (status, _, body) = request(
        ctx,
        "POST",
        "/networks/create",
        &json!({"Name": "compat net", "IPAM": {"Driver": "default", "Config": [
            {"Subnet": "10.213.77.0/29", "IPRange": null, "Gateway": "10.213.77.1",
             "AuxiliaryAddresses": {"printer": "10.213.77.2"}}]}})
        .to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let net = json_of(&ctx.ok(&["network", "inspect", "compat net"]))[0].clone();
    assert_eq!(
        net["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        json!({"printer": "10.213.77.2"})
    );
    assert!(net["IPAM"]["Options"].is_null());
    let id = create(
        ctx,
        json!({"Image": "busybox", "Cmd": ["ip", "addr"], "HostConfig": {"NetworkMode": "compat net"},
               "NetworkingConfig": {"EndpointsConfig": {"compat net": {
                   "IPAMConfig": {"LinkLocalIPs": ["169.254.8.8"]},
                   "MacAddress": "02:42:0a:d5:4d:09", "DriverOpts": {"key1": "a"}}}}}),
    );
    let ep =
        json_of(&ctx.ok(&["inspect", &id]))[0]["NetworkSettings"]["Networks"]["compat net"].clone();
    assert_eq!(ep["MacAddress"], "02:42:0a:d5:4d:09", "before the start");
    assert_eq!(ep["DriverOpts"], json!({"key1": "a"}));
    assert_eq!(ep["IPAMConfig"]["LinkLocalIPs"], json!(["169.254.8.8"]));
    ctx.ok(&["start", "-a", &id]);
    let addrs = ctx.ok(&["logs", &id]);
    assert!(
        addrs.contains("inet 10.213.77.3/29"),
        "the aux address is skipped: {addrs}"
    );
    assert!(addrs.contains("inet 169.254.8.8/16"), "{addrs}");
    assert!(addrs.contains("02:42:0a:d5:4d:09"), "{addrs}");
    ctx.ok(&["rm", &id]);
    ctx.ok(&["network", "rm", "compat net"]);
}

/// `--link` on the default bridge: Docker's variables and hosts line, the
/// link name in `ps`, `rm -l`; a stopped target refuses the start.
fn legacy_links(ctx: &Ctx) {
    ctx.ok(&[
        "run", "-d", "--name", "lk-db", "-e", "FOO=1", "--expose", "6379", "busybox", "sleep", "60",
    ]);
    let ip = ctx.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "lk-db"]);
    let ip = ip.trim();
    let out = ctx.ok(&[
        "run",
        "--name",
        "lk-web",
        "--link",
        "lk-db:my-db",
        "busybox",
        "sh",
        "-c",
        "env | sort; cat /etc/hosts",
    ]);
    for want in [
        "MY_DB_NAME=/lk-web/my-db".to_string(),
        format!("MY_DB_PORT=tcp://{ip}:6379"),
        format!("MY_DB_PORT_6379_TCP_ADDR={ip}"),
        "MY_DB_PORT_6379_TCP_PROTO=tcp".to_string(),
        "MY_DB_ENV_FOO=1".to_string(),
    ] {
        assert!(out.lines().any(|l| l == want), "{want} in:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{ip}\tmy-db ")) && l.ends_with(" lk-db")),
        "{out}"
    );
    let v = json_of(&ctx.ok(&["inspect", "lk-web"]))[0].clone();
    assert_eq!(v["HostConfig"]["Links"], json!(["/lk-db:/lk-web/my-db"]));
    let names = ctx.ok(&["ps", "--filter", "name=lk-db", "--format", "{{.Names}}"]);
    assert_eq!(names.trim(), "lk-db,lk-web/my-db");
    let (status, _, body) = request(ctx, "DELETE", "/containers/lk-web/my-db?link=1", "");
    assert_eq!(status, 204, "{body}");
    let v = json_of(&ctx.ok(&["inspect", "lk-web"]))[0].clone();
    assert_eq!(v["HostConfig"]["Links"], json!([]));
    // A link to a stopped container: the start is refused.
    ctx.ok(&[
        "create", "--name", "lk-late", "--link", "lk-db:db", "busybox", "true",
    ]);
    ctx.ok(&["stop", "-t", "0", "lk-db"]);
    let out = ctx.berth(&["start", "lk-late"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Cannot link to a non running container: /lk-db AS /lk-late/db"),
        "{}",
        stderr(&out)
    );
    let out = ctx.berth(&["create", "--link", "nope:x", "busybox"]);
    assert!(
        stderr(&out).contains("could not get container for nope"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "-f", "lk-late", "lk-web", "lk-db"]);
}

/// Endpoint links on a user network: the alias resolves for the linking
/// container alone, to a target that may start later.
fn network_scoped_links(ctx: &Ctx) {
    ctx.ok(&["network", "create", "--subnet", "10.213.78.0/24", "lk-net"]);
    let id = create(
        ctx,
        json!({"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "lk-net"},
               "NetworkingConfig": {"EndpointsConfig": {"lk-net": {"Links": ["lk-up:bar"]}}}}),
    );
    ctx.ok(&["start", &id]);
    let ep =
        json_of(&ctx.ok(&["inspect", &id]))[0]["NetworkSettings"]["Networks"]["lk-net"].clone();
    assert_eq!(ep["Links"], json!(["lk-up:bar"]));
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "lk-up",
        "--network",
        "lk-net",
        "busybox",
        "sleep",
        "60",
    ]);
    let up = ctx.ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"lk-net\").IPAddress}}",
        "lk-up",
    ]);
    let out = ctx.ok(&["exec", &id, "nslookup", "bar"]);
    assert!(out.contains(up.trim()), "{out}");
    let other = ctx.berth(&[
        "run",
        "--rm",
        "--network",
        "lk-net",
        "busybox",
        "nslookup",
        "bar",
    ]);
    assert!(
        !stdout(&other).contains(up.trim()),
        "only the linking container: {}",
        stdout(&other)
    );
    ctx.ok(&["rm", "-f", &id, "lk-up"]);
    ctx.ok(&["network", "rm", "lk-net"]);
}

/// `VolumeOptions.Subpath` (`--mount ...,volume-subpath=`): a directory of
/// the volume; `..` is refused, a missing one fails the start.
fn volume_subpath(ctx: &Ctx) {
    ctx.ok(&["volume", "create", "sub-vol"]);
    ctx.ok(&[
        "run",
        "--rm",
        "-v",
        "sub-vol:/v",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /v/d && echo inside > /v/d/f",
    ]);
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sub-vol,dst=/mnt,volume-subpath=d,readonly",
        "busybox",
        "cat",
        "/mnt/f",
    ]);
    assert_eq!(out, "inside\n");
    let bad = ctx.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sub-vol,dst=/mnt,volume-subpath=../x",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&bad).contains("subpath must be a relative path within the volume"),
        "{}",
        stderr(&bad)
    );
    let missing = ctx.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sub-vol,dst=/mnt,volume-subpath=nope",
        "busybox",
        "true",
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("subpath nope of volume sub-vol"),
        "{}",
        stderr(&missing)
    );
    ctx.ok(&["volume", "rm", "sub-vol"]);
}

/// The daemon's side of the context: a `.dockerignore` that names the
/// Dockerfile or itself takes them out; docker-py's repeated `dockerfile`
/// parameter means its first value; `cachefrom` limits local cache hits to
/// the sources' history.
fn build_context_rules(ctx: &Ctx) {
    let dir = ctx.dir.path().join("compat-ctx");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY . /src\nRUN ls -a /src\n",
    )
    .expect("write");
    std::fs::write(dir.join(".dockerignore"), "Dockerfile\n.dockerignore\n").expect("write");
    std::fs::write(dir.join("kept"), "k").expect("write");
    // The tar as docker-py sends it: the Dockerfile and .dockerignore in.
    let tar = ctx.dir.path().join("compat-ctx.tar");
    let made = std::process::Command::new("tar")
        .args([
            "-C",
            dir.to_str().expect("utf8"),
            "-cf",
            tar.to_str().expect("utf8"),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(made.success());
    let body = std::fs::read(&tar).expect("read tar");
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    write!(
        s,
        "POST /v1.45/build?t=compat-ctx&rm=1&dockerfile=Dockerfile&dockerfile=FROM+busybox HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    s.write_all(&body).expect("body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("answer");
    assert!(
        out.contains("Successfully tagged compat-ctx:latest"),
        "{out}"
    );
    let listing = ctx.ok(&["run", "--rm", "compat-ctx", "ls", "-a", "/src"]);
    assert_eq!(listing, ".\n..\nkept\n");
    // cachefrom naming nothing here: no local hit counts.
    std::fs::remove_file(dir.join(".dockerignore")).expect("rm");
    let first = ctx.ok(&[
        "build",
        "--progress",
        "plain",
        "-t",
        "compat-cf",
        dir.to_str().expect("utf8"),
    ]);
    assert!(first.contains("Successfully"), "{first}");
    let again = ctx.ok(&[
        "build",
        "--progress",
        "plain",
        "--cache-from",
        "nosuchtag",
        dir.to_str().expect("utf8"),
    ]);
    assert_eq!(again.matches("Using cache").count(), 0, "{again}");
    let from_it = ctx.ok(&[
        "build",
        "--progress",
        "plain",
        "--cache-from",
        "compat-cf",
        dir.to_str().expect("utf8"),
    ]);
    assert_eq!(from_it.matches("Using cache").count(), 2, "{from_it}");
    let _ = ctx.berth(&["rmi", "compat-ctx", "compat-cf"]);
    ctx.ok(&["image", "prune", "-f"]);
}

/// Container list filters as Docker documents them, through the docker CLI
/// too (`ps --filter name=^/x$`).
fn container_filters(ctx: &Ctx) {
    ctx.ok(&["volume", "create", "flt-vol"]);
    let web = ctx
        .ok(&[
            "create",
            "--name",
            "flt-web",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    let db = ctx
        .ok(&[
            "create",
            "--name",
            "flt-web-db",
            "-v",
            "flt-vol:/data",
            "--expose",
            "5432",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    let ids = |filters: &[&str]| {
        let mut args = vec!["ps", "-aq", "--no-trunc"];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        let mut v: Vec<String> = ctx.ok(&args).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let mut both = vec![web.clone(), db.clone()];
    both.sort();
    assert_eq!(ids(&["name=^/flt-web$"]), vec![web.clone()]);
    assert_eq!(ids(&["name=flt-web"]), both);
    assert_eq!(ids(&["volume=flt-vol"]), vec![db.clone()]);
    assert_eq!(ids(&["volume=/data", "name=flt"]), vec![db.clone()]);
    assert_eq!(ids(&["publish=80", "name=flt"]), vec![web.clone()]);
    assert_eq!(ids(&["expose=5432/tcp"]), vec![db.clone()]);
    assert_eq!(ids(&["since=flt-web", "name=flt"]), vec![db.clone()]);
    assert_eq!(ids(&["before=flt-web-db", "name=flt"]), vec![web.clone()]);
    assert_eq!(ids(&["health=none", "name=flt"]), both);
    assert!(ids(&["is-task=true", "name=flt"]).is_empty());
    let docker = std::process::Command::new(crate::harness::docker_cli())
        .args(["ps", "-aq", "--no-trunc", "--filter", "name=^/flt-web$"])
        .env("DOCKER_HOST", ctx.host())
        .output()
        .expect("docker");
    assert_eq!(stdout(&docker).trim(), web, "{}", stderr(&docker));
    let (status, _, body) = request(
        ctx,
        "GET",
        "/containers/json?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D",
        "",
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_of(&body)["message"], "invalid filter 'colour'");
    ctx.ok(&["rm", "-v", &web, &db]);
    ctx.ok(&["volume", "rm", "flt-vol"]);
}

/// Image, network and volume list and prune filters through the CLI, as
/// Docker matches them.
fn object_filters(ctx: &Ctx) {
    let dir = ctx.dir.path().join("compat-filters");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (tag, tier) in [("flt-a:1", "web"), ("flt-b:1", "db")] {
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox\nLABEL tier={tier}\n"),
        )
        .expect("write");
        ctx.ok(&["build", "-q", "-t", tag, dir.to_str().expect("utf8")]);
    }
    let list = |cmd: &[&str], filters: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        let mut v: Vec<String> = ctx.ok(&args).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let images =
        |filters: &[&str]| list(&["images", "--format", "{{.Repository}}:{{.Tag}}"], filters);
    assert_eq!(images(&["reference=flt-*"]), ["flt-a:1", "flt-b:1"]);
    assert_eq!(images(&["label=tier=web"]), ["flt-a:1"]);
    assert_eq!(
        images(&["label=tier", "reference=flt-*"]),
        ["flt-a:1", "flt-b:1"]
    );
    assert_eq!(images(&["since=flt-a:1", "reference=flt-*"]), ["flt-b:1"]);
    assert_eq!(images(&["before=flt-b:1", "reference=flt-*"]), ["flt-a:1"]);
    assert!(images(&["until=2000-01-01", "reference=flt-*"]).is_empty());
    assert_eq!(images(&["until=-1h", "reference=flt-*"]).len(), 2);
    let out = ctx.berth(&["images", "--filter", "dangling=maybe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid filter 'dangling=[maybe]'"),
        "{}",
        stderr(&out)
    );

    ctx.ok(&["network", "create", "--label", "env=prod", "flt-net-front"]);
    ctx.ok(&["network", "create", "flt-net-back"]);
    let networks = |filters: &[&str]| list(&["network", "ls", "--format", "{{.Name}}"], filters);
    assert_eq!(networks(&["name=^flt-net-f"]), ["flt-net-front"]);
    assert_eq!(
        networks(&["name=flt-net", "type=custom"]),
        ["flt-net-back", "flt-net-front"]
    );
    assert_eq!(networks(&["type=builtin"]), ["bridge", "host", "none"]);
    assert_eq!(
        networks(&["dangling=true", "label=env=prod"]),
        ["flt-net-front"]
    );
    assert!(networks(&["driver=bri"]).is_empty());
    let out = ctx.berth(&["network", "ls", "--filter", "type=fancy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid filter: 'type'='fancy'"),
        "{}",
        stderr(&out)
    );
    let out = ctx.ok(&["network", "prune", "-f", "--filter", "label=env=prod"]);
    assert!(out.contains("flt-net-front"), "{out}");
    assert_eq!(networks(&["name=flt-net"]), ["flt-net-back"]);
    ctx.ok(&["network", "rm", "flt-net-back"]);

    ctx.ok(&[
        "volume", "create", "--label", "flt=yes", "--label", "keep=1", "flt-v1",
    ]);
    ctx.ok(&["volume", "create", "--label", "flt=yes", "flt-v2"]);
    let volumes = |filters: &[&str]| list(&["volume", "ls", "-q"], filters);
    assert_eq!(volumes(&["name=^flt-v"]), ["flt-v1", "flt-v2"]);
    assert_eq!(volumes(&["name=v2$"]), ["flt-v2"]);
    assert_eq!(volumes(&["label=flt=yes", "label=keep"]), ["flt-v1"]);
    assert_eq!(
        volumes(&["name=^flt-v", "dangling=true"]),
        ["flt-v1", "flt-v2"]
    );
    let out = ctx.ok(&[
        "volume",
        "prune",
        "-a",
        "-f",
        "--filter",
        "label=flt=yes",
        "--filter",
        "label!=keep=1",
    ]);
    assert!(out.contains("flt-v2") && !out.contains("flt-v1"), "{out}");
    assert_eq!(volumes(&["name=^flt-v"]), ["flt-v1"]);
    ctx.ok(&["volume", "rm", "flt-v1"]);
    ctx.ok(&["rmi", "flt-a:1", "flt-b:1"]);
}

/// A client still sending its body when the daemon already knows the
/// answer (here: no such container) gets the answer, not a broken pipe,
/// and the connection stays usable.
fn unread_bodies_are_drained(ctx: &Ctx) {
    let body = vec![0u8; 8 << 20];
    let mut s = UnixStream::connect(&ctx.socket).expect("connect");
    write!(
        s,
        "PUT /containers/no-such-ctr/archive?path=/ HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("headers");
    for chunk in body.chunks(64 << 10) {
        s.write_all(chunk)
            .expect("the whole body is read, no broken pipe");
    }
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).expect("answer");
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    write!(
        s,
        "GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
    )
    .expect("second request");
    let mut rest = String::new();
    s.read_to_string(&mut rest).expect("second answer");
    assert!(
        rest.contains("HTTP/1.1 200") && rest.ends_with("OK"),
        "{rest}"
    );
}

/// testcontainers-python (installed by scripts/deps.sh into target/py)
/// runs its own client code against berth: waits on logs and on the
/// published port, exec, copy_into_container, logs, stop and removal.
fn testcontainers_python(ctx: &Ctx) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("BERTH_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/py"))
        .join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/deps.sh to install testcontainers-python",
        python.display()
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/py/testcontainers_check.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .env("DOCKER_HOST", ctx.host())
        // Ryuk, its reaper, is an image from Docker Hub; the test removes
        // its own container.
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .output()
        .expect("python");
    assert!(
        out.status.success() && stdout(&out).contains("TESTCONTAINERS-OK"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
