//! Networking: published ports, user networks with DNS, isolation, modes,
//! cleanup after churn and a daemon crash, and the docker CLI. Traffic goes
//! only to loopback and to addresses on the bridges this daemon made.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "published_ports_tcp_udp_and_ephemeral",
        published_ports_tcp_udp_and_ephemeral,
    ),
    ("user_network_dns_and_aliases", user_network_dns_and_aliases),
    (
        "connect_disconnect_and_static_ip",
        connect_disconnect_and_static_ip,
    ),
    (
        "network_isolation_internal_and_modes",
        network_isolation_internal_and_modes,
    ),
    (
        "network_cleanup_after_churn_and_daemon_kill",
        network_cleanup_after_churn_and_daemon_kill,
    ),
    ("ipv6_dual_stack_networks", ipv6_dual_stack_networks),
    (
        "docker_cli_networks_and_ports",
        docker_cli_networks_and_ports,
    ),
    (
        "outbound_dns_and_debian_mirror",
        outbound_dns_and_debian_mirror,
    ),
    ("monitor_kill_cleans_network", monitor_kill_cleans_network),
];

/// `GET /` over plain TCP; the body, or the error.
fn http_get(addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A web server answering `hello from NAME` on port 80.
fn web(ctx: &Ctx, name: &str, extra: &[&str]) {
    let script = format!(
        "mkdir -p /www && echo hello from {name} > /www/index.html && exec httpd -f -p 80 -h /www"
    );
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    ctx.ok(&args);
}

fn wait_http(addr: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match http_get(addr) {
            Ok(body) if body.contains(want) => return,
            other if std::time::Instant::now() > deadline => panic!("GET {addr}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn inspect(ctx: &Ctx, format: &str, name: &str) -> String {
    ctx.ok(&["inspect", "-f", format, name]).trim().to_string()
}

/// Builds the static UDP echo server the UDP test runs in busybox.
pub(crate) fn udpecho(ctx: &Ctx) -> std::path::PathBuf {
    let out = ctx.dir.path().join("udpecho");
    if out.exists() {
        return out;
    }
    let src = crate::harness::repo_root().join("crates/berth/tests/fixtures/udpecho.c");
    let built = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .expect("the UDP test needs a C compiler (cc) to build its echo server");
    assert!(
        built.status.success(),
        "building udpecho: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

/// Sends `payload` to `addr` from a fresh socket (up to ten times, half a
/// second apart) and returns the first answer.
pub(crate) fn udp_echo(addr: &str, payload: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    for _ in 0..10 {
        sock.send_to(payload, addr).expect("send");
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

fn published_ports_tcp_udp_and_ephemeral(ctx: &Ctx) {
    web(ctx, "web", &["-p", "18080:80"]);
    wait_http("127.0.0.1:18080", "hello from web");
    assert_eq!(ctx.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:18080\n");
    assert!(ctx
        .ok(&["ps", "-f", "name=web"])
        .contains("0.0.0.0:18080->80/tcp"));
    let gw = inspect(ctx, "{{.NetworkSettings.Gateway}}", "web");
    // The host's address on the bridge is one of the host's addresses.
    wait_http(&format!("{gw}:18080"), "hello from web");
    // From another container, and hairpin from the same one.
    let other = ctx.ok(&[
        "run",
        "--rm",
        "busybox",
        "wget",
        "-q",
        "-O",
        "-",
        &format!("http://{gw}:18080/index.html"),
    ]);
    assert_eq!(other, "hello from web\n");
    let hairpin = ctx.ok(&[
        "exec",
        "web",
        "wget",
        "-q",
        "-O",
        "-",
        &format!("http://{gw}:18080/index.html"),
    ]);
    assert_eq!(hairpin, "hello from web\n");

    // A taken port fails before the container starts.
    let out = ctx.berth(&[
        "run", "-d", "--name", "web-dup", "-p", "18080:80", "busybox", "httpd", "-f", "-p", "80",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("port is already allocated"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inspect(ctx, "{{.State.Status}}", "web-dup"), "created");
    ctx.ok(&["rm", "web-dup"]);

    // 127.0.0.1::80 picks a free port, reachable on loopback only.
    web(ctx, "web-local", &["-p", "127.0.0.1::80"]);
    let port = ctx.ok(&["port", "web-local", "80"]);
    let addr = port.trim();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    wait_http(addr, "hello from web-local");
    let p = addr.rsplit(':').next().expect("port");
    assert!(
        http_get(&format!("{gw}:{p}")).is_err(),
        "a port published on 127.0.0.1 is not reachable on other host addresses"
    );

    // UDP through -p 15353:53/udp.
    let echo = udpecho(ctx);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        &format!("{}:/udpecho:ro", echo.display()),
        "-p",
        "15353:53/udp",
        "busybox",
        "/udpecho",
        "53",
    ]);
    let got = udp_echo("127.0.0.1:15353", b"ping");
    assert_eq!(
        got.as_deref(),
        Some(&b"ping"[..]),
        "the UDP echo answers through the published port"
    );
    ctx.ok(&["rm", "-f", "web", "web-local", "udp"]);
    assert!(
        http_get("127.0.0.1:18080").is_err(),
        "the port is closed once the container is gone"
    );
}

fn user_network_dns_and_aliases(ctx: &Ctx) {
    ctx.ok(&["network", "create", "app"]);
    ctx.ok(&[
        "run",
        "-d",
        "--network",
        "app",
        "--name",
        "db",
        "--network-alias",
        "database",
        "busybox",
        "sleep",
        "300",
    ]);
    let probe = |name: &str| {
        ctx.berth(&[
            "run",
            "--rm",
            "--network",
            "app",
            "busybox",
            "nslookup",
            name,
        ])
    };
    let ping = ctx.berth(&[
        "run",
        "--rm",
        "--network",
        "app",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        "db",
    ]);
    assert!(
        ping.status.success(),
        "ping db: {}{}",
        stdout(&ping),
        stderr(&ping)
    );
    let db_ip = inspect(ctx, "{{.NetworkSettings.Networks.app.IPAddress}}", "db");
    let found = probe("db");
    assert!(
        found.status.success() && stdout(&found).contains(&db_ip),
        "nslookup db: {}",
        stdout(&found)
    );
    assert!(
        stdout(&probe("database")).contains(&db_ip),
        "the alias resolves"
    );
    let short = ctx
        .ok(&["inspect", "-f", "{{.Id}}", "db"])
        .chars()
        .take(12)
        .collect::<String>();
    assert!(
        stdout(&probe(&short)).contains(&db_ip),
        "the short id resolves"
    );
    let resolv = ctx.ok(&[
        "run",
        "--rm",
        "--network",
        "app",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    let gw = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "app",
    ]);
    assert!(
        resolv.contains(&format!("nameserver {}", gw.trim())),
        "{resolv}"
    );
    let members = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "app",
    ]);
    assert_eq!(members.trim(), "db");
    // Records follow rename and removal at once.
    ctx.ok(&["rename", "db", "db2"]);
    assert!(
        stdout(&probe("db2")).contains(&db_ip),
        "the new name resolves"
    );
    assert!(!probe("db").status.success(), "the old name is gone");
    ctx.ok(&["rm", "-f", "db2"]);
    assert!(
        !probe("db2").status.success(),
        "a removed container's name stops resolving"
    );
    let rm = ctx.berth(&["network", "rm", "app"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert!(!ctx
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .any(|l| l == "app"));
}

fn connect_disconnect_and_static_ip(ctx: &Ctx) {
    ctx.ok(&[
        "network",
        "create",
        "--subnet",
        "10.231.7.0/24",
        "--gateway",
        "10.231.7.254",
        "--ip-range",
        "10.231.7.128/25",
        "front",
    ]);
    let gw = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "front",
    ]);
    assert_eq!(gw.trim(), "10.231.7.254");
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "fixed",
        "--network",
        "front",
        "--ip",
        "10.231.7.9",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inspect(
            ctx,
            "{{.NetworkSettings.Networks.front.IPAddress}}",
            "fixed"
        ),
        "10.231.7.9"
    );
    ctx.ok(&["run", "-d", "--name", "roamer", "busybox", "sleep", "300"]);
    ctx.ok(&[
        "network", "connect", "--alias", "wanderer", "front", "roamer",
    ]);
    let ip = inspect(
        ctx,
        "{{.NetworkSettings.Networks.front.IPAddress}}",
        "roamer",
    );
    assert!(ip.starts_with("10.231.7.1"), "from the ip-range: {ip}");
    let links = ctx.ok(&["exec", "roamer", "ip", "-o", "addr", "show"]);
    assert!(links.contains(&format!("inet {ip}/24")), "{links}");
    let seen = ctx.ok(&["exec", "fixed", "nslookup", "wanderer"]);
    assert!(
        seen.contains(&ip),
        "a connected container's alias resolves: {seen}"
    );
    ctx.ok(&["network", "disconnect", "front", "roamer"]);
    let links = ctx.ok(&["exec", "roamer", "ip", "-o", "addr", "show"]);
    assert!(!links.contains("10.231.7."), "{links}");
    assert!(!ctx
        .berth(&["exec", "fixed", "nslookup", "wanderer"])
        .status
        .success());
    let busy = ctx.berth(&["network", "rm", "front"]);
    assert!(
        stderr(&busy).contains("active endpoints"),
        "{}",
        stderr(&busy)
    );
    ctx.ok(&["rm", "-f", "fixed", "roamer"]);
    ctx.ok(&["network", "rm", "front"]);
    let overlap = ctx.berth(&[
        "network",
        "create",
        "--subnet",
        &format!("{}/16", inspect_bridge_subnet_base(ctx)),
        "clash",
    ]);
    assert!(
        !overlap.status.success(),
        "a subnet overlapping the default bridge is refused"
    );
}

/// The default bridge's network address (`172.17.0.0` and the like).
fn inspect_bridge_subnet_base(ctx: &Ctx) -> String {
    let subnet = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "bridge",
    ]);
    subnet
        .trim()
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn network_isolation_internal_and_modes(ctx: &Ctx) {
    ctx.ok(&["network", "create", "net-a"]);
    ctx.ok(&["network", "create", "net-b"]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "on-a",
        "--network",
        "net-a",
        "busybox",
        "sleep",
        "300",
    ]);
    let a_ip = inspect(
        ctx,
        "{{(index .NetworkSettings.Networks \"net-a\").IPAddress}}",
        "on-a",
    );
    let same = ctx.berth(&[
        "run",
        "--rm",
        "--network",
        "net-a",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &a_ip,
    ]);
    assert!(
        same.status.success(),
        "same network reaches it: {}",
        stdout(&same)
    );
    let cross = ctx.berth(&[
        "run",
        "--rm",
        "--network",
        "net-b",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &a_ip,
    ]);
    assert!(!cross.status.success(), "another network cannot reach it");
    ctx.ok(&["network", "create", "--internal", "sealed"]);
    let routes = ctx.ok(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "busybox",
        "ip",
        "route",
    ]);
    assert!(
        !routes.contains("default"),
        "an internal network has no outbound route: {routes}"
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &a_ip,
    ]);
    assert!(!out.status.success());
    let links = ctx.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(
        links.lines().count(),
        1,
        "--network none has only lo: {links}"
    );
    assert!(links.contains("lo:"));
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(
        ctx.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]),
        host_name
    );
    let shared = ctx.ok(&[
        "run",
        "--rm",
        "--network",
        "container:on-a",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(
        shared.contains(&a_ip),
        "container: mode shares the namespace: {shared}"
    );
    let dns = ctx.ok(&[
        "run",
        "--rm",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "corp.example",
        "--dns-option",
        "ndots:3",
        "--add-host",
        "db.local:10.1.2.3",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts",
    ]);
    assert!(
        dns.contains("nameserver 10.9.9.9")
            && dns.contains("search corp.example")
            && dns.contains("options ndots:3"),
        "{dns}"
    );
    assert!(dns.contains("10.1.2.3\tdb.local"), "{dns}");
    let bridge_gw = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "bridge",
    ]);
    assert!(dns.contains(&format!("{}\tgw", bridge_gw.trim())), "{dns}");
    let mac = ctx.ok(&[
        "run",
        "--rm",
        "--mac-address",
        "02:42:aa:bb:cc:dd",
        "busybox",
        "cat",
        "/sys/class/net/eth0/address",
    ]);
    assert_eq!(mac, "02:42:aa:bb:cc:dd\n");
    ctx.ok(&["rm", "-f", "on-a"]);
    for n in ["net-a", "net-b", "sealed"] {
        ctx.ok(&["network", "rm", n]);
    }
}

fn network_cleanup_after_churn_and_daemon_kill(ctx: &Ctx) {
    let mut names = Vec::new();
    for i in 0..50 {
        if i == 25 {
            ctx.kill_daemon();
            ctx.start_daemon();
        }
        let name = format!("churn{i}");
        ctx.ok(&[
            "run", "-d", "--name", &name, "-p", "80", "busybox", "sleep", "300",
        ]);
        if i % 2 == 0 {
            ctx.ok(&["rm", "-f", &name]);
        } else {
            names.push(name);
        }
    }
    let port = ctx.ok(&["port", names.last().expect("some left"), "80"]);
    assert!(port.starts_with("0.0.0.0:"), "{port}");
    ctx.kill_daemon();
    ctx.start_daemon();
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    ctx.ok(&args);
    assert!(
        ctx.our_veths().is_empty(),
        "veths left: {:?}",
        ctx.our_veths()
    );
    let netns = std::fs::read_dir(ctx.exec_root.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(netns, 0, "network namespaces left");
    let table = Command::new("nft")
        .args(["list", "chain", "ip", &ctx.nft_table(), "ports"])
        .output()
        .expect("nft");
    let rules = String::from_utf8_lossy(&table.stdout);
    assert!(!rules.contains("dnat"), "no port rules left: {rules}");
    let routes = Command::new("ip")
        .args(["-4", "route"])
        .output()
        .expect("ip route");
    let routes = String::from_utf8_lossy(&routes.stdout);
    let stale: Vec<&str> = routes.lines().filter(|l| l.contains("bv")).collect();
    assert!(
        stale.is_empty(),
        "routes through container veths are left: {stale:?}"
    );
}

fn docker_cli_networks_and_ports(ctx: &Ctx) {
    let docker = crate::harness::docker_cli();
    let config = ctx.dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("config");
    let run = |args: &[&str]| {
        Command::new(docker)
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .env("DOCKER_CONFIG", &config)
            .output()
            .expect("docker")
    };
    let ok = |args: &[&str]| {
        let o = run(args);
        assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    ok(&["network", "create", "--subnet", "10.232.0.0/24", "dnet"]);
    assert!(ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
        .lines()
        .any(|l| l == "dnet bridge"));
    assert_eq!(
        ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "dnet"
        ]),
        "10.232.0.0/24\n"
    );
    ok(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "-p",
        "18081:80",
        "busybox",
        "sh",
        "-c",
        "mkdir /www; echo hello from dweb > /www/index.html; exec httpd -f -p 80 -h /www",
    ]);
    wait_http("127.0.0.1:18081", "hello from dweb");
    assert_eq!(ok(&["port", "dweb"]), "80/tcp -> 0.0.0.0:18081\n");
    ok(&["network", "connect", "dnet", "dweb"]);
    let ip = ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.dnet.IPAddress}}",
        "dweb",
    ]);
    assert!(ip.starts_with("10.232.0."), "{ip}");
    ok(&["network", "disconnect", "dnet", "dweb"]);
    ok(&["rm", "-f", "dweb"]);
    ok(&["network", "rm", "dnet"]);
}

/// A Debian rootfs tarball: `$BERTH_TEST_DEBIAN_TAR`, the peers' one when
/// it was made on this machine, else built now with debootstrap.
pub(crate) fn debian_rootfs(ctx: &Ctx) -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("BERTH_TEST_DEBIAN_TAR") {
        return p.into();
    }
    let peers = std::path::Path::new("/var/tmp/peers/debian-bookworm-rootfs.tar");
    if peers.is_file() {
        return peers.to_path_buf();
    }
    let out = ctx.dir.path().join("debian-rootfs.tar");
    let made = Command::new(crate::harness::repo_root().join("scripts/make-debian-image.sh"))
        .arg(&out)
        .output()
        .expect("running scripts/make-debian-image.sh");
    assert!(
        made.status.success(),
        "making a Debian image with debootstrap failed (is the Debian mirror reachable from this machine?): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    out
}

/// A container on the default bridge reaches the host's resolver and
/// Debian's mirror (`apt-get update`). When the machine itself cannot
/// resolve the mirror's name, the test fails saying so.
fn outbound_dns_and_debian_mirror(ctx: &Ctx) {
    use std::net::ToSocketAddrs;
    assert!(
        ("deb.debian.org", 80).to_socket_addrs().is_ok(),
        "this machine cannot resolve deb.debian.org itself: outbound access is forbidden here, so this test cannot pass"
    );
    let ns = ctx.berth(&["run", "--rm", "busybox", "nslookup", "deb.debian.org"]);
    assert!(
        ns.status.success(),
        "a container resolves through the host's resolver: {}{}",
        stdout(&ns),
        stderr(&ns)
    );
    let tar = debian_rootfs(ctx);
    ctx.ok(&[
        "import",
        tar.to_str().expect("utf8"),
        "berth-test-debian:bookworm",
    ]);
    let out = ctx.berth(&[
        "run",
        "--rm",
        "berth-test-debian:bookworm",
        "apt-get",
        "update",
    ]);
    assert!(
        out.status.success(),
        "apt-get update: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("Reading package lists"),
        "{}",
        stdout(&out)
    );
    ctx.ok(&["rmi", "berth-test-debian:bookworm"]);
}

/// A kill -9 of a container's monitor takes the container down with it,
/// and its network goes: veth, namespace, port rule and host port.
fn monitor_kill_cleans_network(ctx: &Ctx) {
    ctx.ok(&[
        "run", "-d", "--name", "orphan", "-p", "18083:80", "busybox", "sleep", "300",
    ]);
    let pid: i32 = inspect(ctx, "{{.State.Pid}}", "orphan")
        .parse()
        .expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let monitor: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the container's parent is its monitor");
    let cmdline = std::fs::read_to_string(format!("/proc/{monitor}/cmdline")).unwrap_or_default();
    assert!(cmdline.contains("__monitor"), "{cmdline}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the monitor");
    wait_until(
        "the container to end with its monitor",
        Duration::from_secs(10),
        || inspect(ctx, "{{.State.Running}}", "orphan") != "true",
    );
    // Gone, or a zombie waiting for whoever inherited it to reap it.
    let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains("State:\tZ"),
        "the container's process ended: {state}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ctx.our_veths().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "veths left: {:?}",
            ctx.our_veths()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rules = Command::new("nft")
        .args(["list", "chain", "ip", &ctx.nft_table(), "ports"])
        .output()
        .expect("nft");
    assert!(
        !String::from_utf8_lossy(&rules.stdout).contains("18083"),
        "the port rule is gone"
    );
    std::net::TcpListener::bind("0.0.0.0:18083").expect("the host port is free again");
    ctx.ok(&["rm", "orphan"]);
}

/// `network create --ipv6`: dual-stack containers with an IPv6 address
/// (chosen or `--ip6`), an IPv6 default route through the bridge, names
/// resolving to AAAA records, `/etc/hosts` with both addresses, inspect's
/// IPv6 fields, `network connect --ip6` to a running container, NAT66 in
/// an `ip6` table that goes with the last IPv6 network.
fn ipv6_dual_stack_networks(ctx: &Ctx) {
    ctx.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.231.9.0/24",
        "--subnet",
        "fd42:231:9::/64",
        "--gateway",
        "fd42:231:9::fffe",
        "dual",
    ]);
    let cfg = ctx.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{json .IPAM.Config}}",
        "dual",
    ]);
    assert!(
        cfg.starts_with("true ")
            && cfg.contains(r#"{"Subnet":"fd42:231:9::/64","Gateway":"fd42:231:9::fffe"}"#),
        "{cfg}"
    );
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "v6-one",
        "--network",
        "dual",
        "busybox",
        "sleep",
        "300",
    ]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "v6-two",
        "--network",
        "dual",
        "--ip6",
        "fd42:231:9::b0b",
        "busybox",
        "sleep",
        "300",
    ]);
    let addr = ctx.ok(&[
        "inspect", "-f",
        "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}/{{.NetworkSettings.Networks.dual.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.dual.IPv6Gateway}} {{.NetworkSettings.Networks.dual.IPAMConfig.IPv6Address}}",
        "v6-two",
    ]);
    assert_eq!(
        addr.trim(),
        "fd42:231:9::b0b/64 fd42:231:9::fffe fd42:231:9::b0b"
    );
    let one = ctx.ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}",
        "v6-one",
    ]);
    assert_eq!(one.trim(), "fd42:231:9::1");
    let route = ctx.ok(&["exec", "v6-one", "ip", "-6", "route", "show", "default"]);
    assert!(route.contains("default via fd42:231:9::fffe"), "{route}");
    let ping = ctx.ok(&["exec", "v6-one", "ping6", "-c", "1", "-W", "3", "v6-two"]);
    assert!(
        ping.contains("fd42:231:9::b0b") && ping.contains("1 packets received"),
        "{ping}"
    );
    let aaaa = ctx.ok(&["exec", "v6-one", "nslookup", "-type=AAAA", "v6-two"]);
    assert!(aaaa.contains("fd42:231:9::b0b"), "{aaaa}");
    let hosts = ctx.ok(&["exec", "v6-two", "cat", "/etc/hosts"]);
    assert!(hosts.contains("fd42:231:9::b0b\t"), "{hosts}");
    let gw = ctx.ok(&[
        "exec",
        "v6-one",
        "ping6",
        "-c",
        "1",
        "-W",
        "3",
        "fd42:231:9::fffe",
    ]);
    assert!(
        gw.contains("1 packets received"),
        "the bridge answers: {gw}"
    );
    let nat = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &ctx.nft_table()])
        .output()
        .expect("nft");
    let text = String::from_utf8_lossy(&nat.stdout).to_string();
    assert!(
        text.contains("ip6 saddr fd42:231:9::/64") && text.contains("masquerade"),
        "{text}"
    );
    // A running container joins another IPv6 network with a chosen address.
    ctx.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd42:231:a::/64",
        "dual-b",
    ]);
    ctx.ok(&[
        "network",
        "connect",
        "--ip6",
        "fd42:231:a::77",
        "dual-b",
        "v6-one",
    ]);
    let addrs = ctx.ok(&["exec", "v6-one", "ip", "-6", "addr"]);
    assert!(addrs.contains("fd42:231:a::77/64"), "{addrs}");
    // --ip6 on a network without IPv6 is refused at start, clearly.
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--ip6",
        "fd42::1",
        "--network",
        "bridge",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    ctx.ok(&["rm", "-f", "v6-one", "v6-two"]);
    ctx.ok(&["network", "rm", "dual", "dual-b"]);
    let gone = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &ctx.nft_table()])
        .output()
        .expect("nft");
    assert!(
        !gone.status.success(),
        "the ip6 table goes with the last IPv6 network"
    );
}
