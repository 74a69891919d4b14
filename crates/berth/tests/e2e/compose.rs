//! `berth compose` (and Debian's docker-compose 1.29) against the daemon:
//! the shared compose fixture, health-gated dependencies and `--wait`,
//! recreating only what changed, named volumes across `down`, builds with
//! the cache, and invalid files.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("compose_fixture_up_ps_down", compose_fixture_up_ps_down),
    (
        "compose_waits_for_healthy_dependencies",
        compose_waits_for_healthy_dependencies,
    ),
    (
        "compose_recreates_only_changed_services",
        compose_recreates_only_changed_services,
    ),
    (
        "compose_named_volumes_survive_down",
        compose_named_volumes_survive_down,
    ),
    (
        "compose_builds_with_the_cache",
        compose_builds_with_the_cache,
    ),
    (
        "compose_rejects_invalid_files",
        compose_rejects_invalid_files,
    ),
    ("docker_compose_drives_berth", docker_compose_drives_berth),
    ("docker_compose_v1_commands", docker_compose_v1_commands),
    (
        "compose_run_cp_secrets_and_attached_up",
        compose_run_cp_secrets_and_attached_up,
    ),
    (
        "compose_watch_syncs_and_rebuilds",
        compose_watch_syncs_and_rebuilds,
    ),
    (
        "compose_lifecycle_commands_scale_and_profiles",
        compose_lifecycle_commands_scale_and_profiles,
    ),
    ("compose_push_and_pull", compose_push_and_pull),
    (
        "compose_up_attached_stops_on_ctrl_c",
        compose_up_attached_stops_on_ctrl_c,
    ),
];

fn fixture() -> PathBuf {
    crate::harness::repo_root().join("crates/berth/tests/fixtures/compose-fixture.yml")
}

fn project_dir(ctx: &Ctx, name: &str, compose: &str) -> PathBuf {
    let dir = ctx.dir.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("compose.yaml"), compose).expect("compose.yaml");
    dir
}

/// `berth compose -f FILE -p PROJECT ARGS...`.
fn compose(ctx: &Ctx, file: &Path, project: &str, args: &[&str]) -> std::process::Output {
    let f = file.to_str().expect("utf8");
    let mut all = vec!["compose", "-f", f, "-p", project];
    all.extend_from_slice(args);
    ctx.berth(&all)
}

fn compose_ok(ctx: &Ctx, file: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(ctx, file, project, args);
    assert!(
        out.status.success(),
        "compose {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Ids of the project's containers (all states), by name.
fn project_containers(ctx: &Ctx, project: &str) -> Vec<(String, String, String)> {
    let out = ctx.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Names}} {{.ID}} {{.State}}",
    ]);
    let mut v: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                it.next()?.to_string(),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect();
    v.sort();
    v
}

/// `berth compose -f FILE -p PROJECT ARGS...` in the background, its
/// stdout lines arriving on the receiver (which ends at EOF).
fn spawn_compose(
    ctx: &Ctx,
    file: &Path,
    project: &str,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = Command::new(crate::harness::berth_bin())
        .args(["compose", "-f", file.to_str().expect("utf8"), "-p", project])
        .args(args)
        .env("BERTH_HOST", ctx.host())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth compose");
    let lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    (child, rx)
}

fn http_get(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn compose_fixture_up_ps_down(ctx: &Ctx) {
    let f = fixture();
    let up = compose(ctx, &f, "fx", &["up", "-d"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        stderr(&up).contains(" Container fx-client-1  Started"),
        "{}",
        stderr(&up)
    );
    let ps = compose_ok(ctx, &f, "fx", &["ps"]);
    for name in ["fx-client-1", "fx-web1-1", "fx-web2-1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{ps}"));
        assert!(line.contains(" Up "), "{line}");
    }
    assert!(ps.contains("127.0.0.1:18081->80/tcp"), "{ps}");
    // The client reaches both servers by service name.
    wait_until(
        "the client to reach web1 and web2",
        Duration::from_secs(20),
        || {
            let logs = compose_ok(ctx, &f, "fx", &["logs", "client"]);
            logs.matches("busybox httpd ok").count() >= 2
        },
    );
    assert!(http_get("127.0.0.1:18081").contains("busybox httpd ok"));
    // The live view (forced here, automatic on a terminal).
    let live = compose(ctx, &f, "fx", &["--progress", "tty", "up", "-d"]);
    assert!(live.status.success(), "{}", stderr(&live));
    assert!(
        stderr(&live).contains("[+] Running 3/3"),
        "{}",
        stderr(&live)
    );
    assert!(
        stderr(&live).contains("✔ Container fx-web1-1"),
        "{}",
        stderr(&live)
    );
    let bad = compose(ctx, &f, "fx", &["--progress", "fancy", "ps"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("unsupported --progress"),
        "{}",
        stderr(&bad)
    );
    let down = compose(ctx, &f, "fx", &["--progress", "quiet", "down"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(stderr(&down), "", "quiet");
    assert!(project_containers(ctx, "fx").is_empty());
    assert!(
        !ctx.ok(&["network", "ls"]).contains("fx_default"),
        "the network is gone"
    );
}

const HEALTHY: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; sleep 100 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      retries: 50
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]
    depends_on:
      db:
        condition: service_healthy
"#;

fn started_at(ctx: &Ctx, id: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let t = ctx.ok(&["inspect", "-f", "{{.State.StartedAt}}", id]);
    chrono::DateTime::parse_from_rfc3339(t.trim()).expect("StartedAt")
}

fn compose_waits_for_healthy_dependencies(ctx: &Ctx) {
    let dir = project_dir(ctx, "healthy", HEALTHY);
    let f = dir.join("compose.yaml");
    compose_ok(ctx, &f, "hc", &["up", "-d", "--wait"]);
    let health = ctx.ok(&["inspect", "-f", "{{.State.Health.Status}}", "hc-db-1"]);
    assert_eq!(health.trim(), "healthy", "--wait returned before healthy");
    let db = started_at(ctx, "hc-db-1");
    let app = started_at(ctx, "hc-app-1");
    assert!(
        app - db >= chrono::Duration::milliseconds(900),
        "app started {} ms after db, before it was healthy",
        (app - db).num_milliseconds()
    );
    compose_ok(ctx, &f, "hc", &["down", "-t", "1"]);
    assert!(project_containers(ctx, "hc").is_empty());
}

fn two_services(mode: &str) -> String {
    format!(
        "services:\n  one:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 100 & wait\"]\n    environment:\n      MODE: {mode}\n  two:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 100 & wait\"]\n"
    )
}

fn compose_recreates_only_changed_services(ctx: &Ctx) {
    let dir = project_dir(ctx, "recreate", &two_services("first"));
    let f = dir.join("compose.yaml");
    compose_ok(ctx, &f, "rc", &["up", "-d"]);
    let before = project_containers(ctx, "rc");
    assert_eq!(before.len(), 2, "{before:?}");
    // Nothing changed: nothing is recreated.
    let again = compose(ctx, &f, "rc", &["up", "-d"]);
    assert!(
        stderr(&again).contains("rc-one-1  Running"),
        "{}",
        stderr(&again)
    );
    assert_eq!(project_containers(ctx, "rc"), before);
    std::fs::write(&f, two_services("second")).expect("edit");
    let out = compose(ctx, &f, "rc", &["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rc-one-1  Recreate"),
        "{}",
        stderr(&out)
    );
    let after = project_containers(ctx, "rc");
    assert_ne!(after[0].1, before[0].1, "one was recreated");
    assert_eq!(after[1], before[1], "two was left running as it was");
    assert_eq!(after[0].2, "running");
    let env = ctx.ok(&["exec", "rc-one-1", "sh", "-c", "echo $MODE"]);
    assert_eq!(env, "second\n");
    compose_ok(ctx, &f, "rc", &["down", "-t", "1"]);
}

const VOLUMES: &str = r#"
services:
  writer:
    image: busybox
    command: ["sh", "-c", "cat /data/f 2>/dev/null; echo kept > /data/f; trap 'exit 0' TERM; sleep 100 & wait"]
    volumes:
      - store:/data
volumes:
  store:
"#;

fn compose_named_volumes_survive_down(ctx: &Ctx) {
    let dir = project_dir(ctx, "volumes", VOLUMES);
    let f = dir.join("compose.yaml");
    compose_ok(ctx, &f, "vol", &["up", "-d"]);
    let label = "label=com.docker.compose.project=vol";
    assert_eq!(
        ctx.ok(&["volume", "ls", "-q", "--filter", label]),
        "vol_store\n"
    );
    compose_ok(ctx, &f, "vol", &["down", "-t", "1"]);
    assert_eq!(
        ctx.ok(&["volume", "ls", "-q", "--filter", label]),
        "vol_store\n",
        "down keeps named volumes"
    );
    compose_ok(ctx, &f, "vol", &["up", "-d"]);
    wait_until(
        "the writer to see its old file",
        Duration::from_secs(20),
        || compose_ok(ctx, &f, "vol", &["logs", "writer"]).contains("kept"),
    );
    compose_ok(ctx, &f, "vol", &["down", "-v", "-t", "1"]);
    assert_eq!(ctx.ok(&["volume", "ls", "-q", "--filter", label]), "");
}

fn compose_builds_with_the_cache(ctx: &Ctx) {
    let dir = project_dir(
        ctx,
        "build",
        "services:\n  app:\n    build:\n      context: ./app\n      args:\n        GREETING: built\n    command: [\"cat\", \"/greeting\"]\n",
    );
    let app = dir.join("app");
    std::fs::create_dir_all(&app).expect("app");
    std::fs::write(
        app.join("Dockerfile"),
        "FROM busybox\nARG GREETING\nRUN echo $GREETING > /greeting\n",
    )
    .expect("Dockerfile");
    let f = dir.join("compose.yaml");
    let first = compose(ctx, &f, "bld", &["up", "-d", "--build"]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(
        stdout(&first).contains("Successfully tagged bld-app:latest"),
        "{}",
        stdout(&first)
    );
    let second = compose(ctx, &f, "bld", &["up", "-d", "--build"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("Using cache"),
        "the second build hits the cache:\n{}",
        stdout(&second)
    );
    wait_until(
        "the app to print its greeting",
        Duration::from_secs(20),
        || compose_ok(ctx, &f, "bld", &["logs", "app"]).contains("built"),
    );
    compose_ok(ctx, &f, "bld", &["down", "--rmi", "local"]);
    assert!(!ctx.berth(&["image", "inspect", "bld-app"]).status.success());
}

fn compose_rejects_invalid_files(ctx: &Ctx) {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "services:\n  web:\n    image: busybox\n    portz: [80]\n",
            "services.web: additional property portz is not allowed",
            &[],
        ),
        (
            "services:\n  web:\n    image: busybox\n    ports: 80\n",
            "services.web.ports: must be a list",
            &[],
        ),
        (
            "services:\n  web:\n    image: \"busybox:${TAG:?set TAG}\"\n",
            "services.web.image: required variable TAG is missing a value: set TAG",
            &[],
        ),
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
            "dependency cycle detected: a -> b -> a",
            &[],
        ),
        (
            "services:\n  web:\n    image: [busybox\n",
            "line 3",
            &[],
        ),
    ];
    for (i, (text, want, _)) in cases.iter().enumerate() {
        let dir = project_dir(ctx, &format!("invalid-{i}"), text);
        let f = dir.join("compose.yaml");
        let out = compose(ctx, &f, "bad", &["up", "-d"]);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = stderr(&out);
        assert!(err.contains(want), "{text}: want {want:?} in {err}");
        if !want.starts_with("dependency") {
            assert!(
                err.contains(f.to_str().expect("utf8")),
                "names the file: {err}"
            );
        }
        let config = compose(ctx, &f, "bad", &["config"]);
        assert_eq!(config.status.code(), Some(1), "config checks too");
    }
    assert!(project_containers(ctx, "bad").is_empty());
}

fn docker_compose_drives_berth(ctx: &Ctx) {
    let f = fixture();
    let dc = |args: &[&str]| {
        Command::new("docker-compose")
            .arg("-f")
            .arg(&f)
            .args(["-p", "dc"])
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .output()
            .expect("docker-compose (apt install docker-compose)")
    };
    let up = dc(&["up", "-d"]);
    assert!(up.status.success(), "{}{}", stdout(&up), stderr(&up));
    let ps = dc(&["ps"]);
    let text = stdout(&ps);
    for name in ["dc_client_1", "dc_web1_1", "dc_web2_1"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        assert!(line.contains(" Up "), "{line}");
    }
    wait_until(
        "docker-compose's client to reach both servers",
        Duration::from_secs(20),
        || {
            let logs = dc(&["logs", "client"]);
            stdout(&logs).matches("busybox httpd ok").count() >= 2
        },
    );
    assert!(http_get("127.0.0.1:18081").contains("busybox httpd ok"));
    // berth compose sees the same project.
    let ours = compose_ok(ctx, &f, "dc", &["ps", "--services"]);
    assert_eq!(ours, "client\nweb1\nweb2\n");
    let down = dc(&["down"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(project_containers(ctx, "dc").is_empty());
    assert!(!ctx.ok(&["network", "ls"]).contains("dc_default"));
}

const TOOLS: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]
  tool:
    image: busybox
    depends_on: [db]
    links: ["db:database"]
    secrets: [token, fromenv]
    configs:
      - source: inline
        target: /etc/app.conf
        mode: 0400
    environment:
      WHO: compose
    command: ["sh", "-c", "echo hello $$WHO; cat /run/secrets/token /run/secrets/fromenv /etc/app.conf; stat -c %a /etc/app.conf; exit 3"]
secrets:
  token:
    file: ./token.txt
  fromenv:
    environment: SECRET_VALUE
configs:
  inline:
    content: "key=value\n"
"#;

/// `compose run` (dependencies started, one-off container removed,
/// overrides), secrets and configs from a file, the environment and inline
/// content, `compose cp` both ways, and attached `up` with `--exit-code-from`.
fn compose_run_cp_secrets_and_attached_up(ctx: &Ctx) {
    let dir = project_dir(ctx, "tools", TOOLS);
    std::fs::write(dir.join("token.txt"), "file-token\n").expect("token");
    std::fs::write(dir.join(".env"), "SECRET_VALUE=from-env\n").expect(".env");
    let f = dir.join("compose.yaml");
    // The environment value has no newline of its own.
    let want = "hello compose\nfile-token\nfrom-envkey=value\n400\n";
    let out = compose(ctx, &f, "tools", &["run", "--rm", "-T", "tool"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);
    let running = project_containers(ctx, "tools");
    assert_eq!(running.len(), 1, "only db is left: {running:?}");
    assert_eq!(running[0].0, "tools-db-1");
    let out = compose(
        ctx,
        &f,
        "tools",
        &[
            "run",
            "--rm",
            "-T",
            "-e",
            "WHO=override",
            "tool",
            "sh",
            "-c",
            "echo $WHO",
        ],
    );
    assert_eq!(stdout(&out), "override\n", "{}", stderr(&out));
    let out = compose(
        ctx,
        &f,
        "tools",
        &[
            "run",
            "--rm",
            "-T",
            "tool",
            "sh",
            "-c",
            "ping -c1 -W2 database >/dev/null && echo linked",
        ],
    );
    assert_eq!(stdout(&out), "linked\n", "links: {}", stderr(&out));

    std::fs::write(dir.join("local.txt"), "copied in\n").expect("local");
    let local = dir.join("local.txt");
    let back = dir.join("back.txt");
    compose_ok(
        ctx,
        &f,
        "tools",
        &["cp", local.to_str().expect("utf8"), "db:/tmp/x"],
    );
    assert_eq!(
        compose_ok(ctx, &f, "tools", &["exec", "-T", "db", "cat", "/tmp/x"]),
        "copied in\n"
    );
    compose_ok(
        ctx,
        &f,
        "tools",
        &["cp", "db:/tmp/x", back.to_str().expect("utf8")],
    );
    assert_eq!(std::fs::read_to_string(&back).expect("back"), "copied in\n");

    let up = compose(ctx, &f, "tools", &["up", "--exit-code-from", "tool"]);
    assert_eq!(up.status.code(), Some(3), "{}{}", stdout(&up), stderr(&up));
    let text = stdout(&up);
    assert!(text.contains("tools-tool-1 | hello compose"), "{text}");
    assert!(text.contains("tools-tool-1 exited with code 3"), "{text}");
    let states = project_containers(ctx, "tools");
    assert!(
        states.iter().all(|(_, _, state)| state != "running"),
        "aborting stopped everything: {states:?}"
    );
    compose_ok(ctx, &f, "tools", &["down"]);
    assert!(project_containers(ctx, "tools").is_empty());
}

const WATCHED: &str = r#"
services:
  app:
    build: ./app
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]
    develop:
      watch:
        - path: ./src
          target: /srv
          action: sync
          ignore: [scratch]
        - path: ./app/Dockerfile
          action: rebuild
"#;

/// `compose watch`: a changed and a new file are synced into the running
/// container, a deleted one removed there, an ignored one left out; a
/// changed Dockerfile rebuilds and recreates the service.
fn compose_watch_syncs_and_rebuilds(ctx: &Ctx) {
    let dir = project_dir(ctx, "watched", WATCHED);
    std::fs::create_dir_all(dir.join("src")).expect("src");
    std::fs::create_dir_all(dir.join("app")).expect("app");
    std::fs::write(dir.join("src/a.txt"), "one\n").expect("a");
    std::fs::write(dir.join("src/gone.txt"), "bye\n").expect("gone");
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\nCOPY . /srv-image\nRUN echo v1 > /version\n",
    )
    .expect("Dockerfile");
    let f = dir.join("compose.yaml");
    let (mut child, rx) = spawn_compose(ctx, &f, "wt", &["watch"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Build output comes first.
    let mut enabled = None;
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(60)) {
        if l == "Watch enabled" {
            enabled = Some(l);
            break;
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(enabled.as_deref(), Some("Watch enabled"));
        let exec = |cmd: &str| {
            stdout(&compose(
                ctx,
                &f,
                "wt",
                &["exec", "-T", "app", "sh", "-c", cmd],
            ))
        };
        std::fs::write(dir.join("src/a.txt"), "two\n").expect("a");
        std::fs::write(dir.join("src/new.txt"), "new\n").expect("new");
        std::fs::write(dir.join("src/scratch"), "ignored\n").expect("scratch");
        std::fs::remove_file(dir.join("src/gone.txt")).expect("rm");
        wait_until(
            "the changes to reach the container",
            Duration::from_secs(20),
            || exec("cat /srv/a.txt /srv/new.txt; ls /srv") == "two\nnew\na.txt\nnew.txt\n",
        );
        assert_eq!(exec("cat /version"), "v1\n");
        let before = project_containers(ctx, "wt");
        std::fs::write(
            dir.join("app/Dockerfile"),
            "FROM busybox\nCOPY . /srv-image\nRUN echo v2 > /version\n",
        )
        .expect("Dockerfile");
        wait_until("the service to be rebuilt", Duration::from_secs(20), || {
            exec("cat /version") == "v2\n"
        });
        assert_ne!(project_containers(ctx, "wt"), before, "recreated");
    }));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().expect("wait");
    let _ = compose(ctx, &f, "wt", &["down", "--rmi", "local", "-t", "1"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert!(status.success(), "watch ends cleanly on Ctrl+C");
    assert!(project_containers(ctx, "wt").is_empty());
}

const LIFECYCLE: &str = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait"]
    ports: ["127.0.0.1::80"]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]
  once:
    image: busybox
    command: ["sh", "-c", "exit 7"]
    profiles: [jobs]
volumes:
  cache:
"#;

/// The other commands: scale, orphans, profiles, `config --services/
/// --volumes/--profiles`, `port`, `images`, `top`, `pause`/`unpause`,
/// `stop`/`start`, `restart`, `kill`, `rm`, `wait`, `ls`.
fn compose_lifecycle_commands_scale_and_profiles(ctx: &Ctx) {
    let dir = project_dir(ctx, "lifecycle", LIFECYCLE);
    let f = dir.join("compose.yaml");
    assert_eq!(
        compose_ok(ctx, &f, "lc", &["config", "--services"]),
        "web\nworker\n"
    );
    assert_eq!(
        compose_ok(ctx, &f, "lc", &["config", "--volumes"]),
        "cache\n"
    );
    assert_eq!(
        compose_ok(ctx, &f, "lc", &["config", "--profiles"]),
        "jobs\n"
    );
    let with_jobs = compose_ok(
        ctx,
        &f,
        "lc",
        &["--profile", "jobs", "config", "--services"],
    );
    assert_eq!(with_jobs, "once\nweb\nworker\n");

    compose_ok(ctx, &f, "lc", &["up", "-d", "--scale", "worker=3"]);
    let names: Vec<String> = project_containers(ctx, "lc")
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(
        names,
        ["lc-web-1", "lc-worker-1", "lc-worker-2", "lc-worker-3"]
    );
    compose_ok(ctx, &f, "lc", &["up", "-d", "--scale", "worker=1"]);
    assert_eq!(project_containers(ctx, "lc").len(), 2, "scaled down");

    let port = compose_ok(ctx, &f, "lc", &["port", "web", "80"]);
    assert!(port.starts_with("127.0.0.1:"), "{port}");
    wait_until(
        "web to answer on its published port",
        Duration::from_secs(20),
        || std::net::TcpStream::connect(port.trim()).is_ok(),
    );
    assert!(http_get(port.trim()).contains("busybox httpd ok"));
    let images = compose_ok(ctx, &f, "lc", &["images"]);
    assert!(
        images.contains("lc-web-1") && images.contains("busybox"),
        "{images}"
    );
    let top = compose_ok(ctx, &f, "lc", &["top", "worker"]);
    assert!(
        top.contains("lc-worker-1") && top.contains("sleep 100"),
        "{top}"
    );
    let ls = compose_ok(ctx, &f, "lc", &["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("lc ") && l.contains("running(2)")),
        "{ls}"
    );

    let state = |i: usize| project_containers(ctx, "lc")[i].2.clone();
    compose_ok(ctx, &f, "lc", &["pause", "worker"]);
    assert_eq!(state(1), "paused");
    compose_ok(ctx, &f, "lc", &["unpause", "worker"]);
    compose_ok(ctx, &f, "lc", &["stop", "worker"]);
    assert_eq!(state(1), "exited");
    compose_ok(ctx, &f, "lc", &["start", "worker"]);
    assert_eq!(state(1), "running");
    let before = project_containers(ctx, "lc");
    compose_ok(ctx, &f, "lc", &["restart", "worker"]);
    assert_eq!(
        project_containers(ctx, "lc"),
        before,
        "restart keeps the container"
    );
    compose_ok(ctx, &f, "lc", &["kill", "worker"]);
    assert_eq!(state(1), "exited");
    compose_ok(ctx, &f, "lc", &["rm", "-f", "worker"]);
    assert_eq!(project_containers(ctx, "lc").len(), 1);

    // A job of the jobs profile, waited for.
    let jobs = |args: &[&str]| {
        let mut all = vec!["--profile", "jobs"];
        all.extend_from_slice(args);
        compose(ctx, &f, "lc", &all)
    };
    assert!(jobs(&["up", "-d", "once"]).status.success());
    let waited = jobs(&["wait", "once"]);
    assert_eq!(waited.status.code(), Some(7), "{}", stderr(&waited));
    assert_eq!(stdout(&waited), "7\n");

    // A service disabled by its profile is not an orphan; a removed one is.
    std::fs::write(&f, LIFECYCLE.replace("  worker:\n", "  worker2:\n")).expect("edit");
    let up = compose(ctx, &f, "lc", &["up", "-d"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(!stderr(&up).contains("orphan"), "{}", stderr(&up));
    compose_ok(ctx, &f, "lc", &["up", "-d", "--scale", "worker2=1"]);
    std::fs::write(&f, LIFECYCLE).expect("restore");
    let up = compose(ctx, &f, "lc", &["up", "-d"]);
    assert!(
        stderr(&up).contains("Found orphan containers (lc-worker2-1)"),
        "{}",
        stderr(&up)
    );
    compose_ok(ctx, &f, "lc", &["up", "-d", "--remove-orphans"]);
    let names: Vec<String> = project_containers(ctx, "lc")
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(names, ["lc-once-1", "lc-web-1", "lc-worker-1"]);
    compose_ok(ctx, &f, "lc", &["down", "-v", "-t", "1"]);
    assert!(project_containers(ctx, "lc").is_empty());
}

/// `compose build` tags the service's image, `compose push` sends it to a
/// registry on loopback, `compose pull` brings it back after it was
/// removed, and `up` runs it.
fn compose_push_and_pull(ctx: &Ctx) {
    let reg_root = ctx.dir.path().join("compose-registry");
    let registry = crate::registry::Registry::start(&reg_root, None);
    let image = format!("{}/compose/app:1", registry.addr);
    let dir = project_dir(
        ctx,
        "pushpull",
        &format!(
            "services:\n  app:\n    image: {image}\n    build: ./app\n    command: [\"cat\", \"/made\"]\n"
        ),
    );
    std::fs::create_dir_all(dir.join("app")).expect("app");
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\nRUN echo pushed and pulled > /made\n",
    )
    .expect("Dockerfile");
    let f = dir.join("compose.yaml");
    compose_ok(ctx, &f, "pp", &["build"]);
    let pushed = compose(ctx, &f, "pp", &["push"]);
    assert!(
        pushed.status.success(),
        "{}{}",
        stdout(&pushed),
        stderr(&pushed)
    );
    ctx.ok(&["rmi", &image]);
    let pulled = compose(ctx, &f, "pp", &["pull"]);
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert!(
        stderr(&pulled).contains("app  Pulled"),
        "{}",
        stderr(&pulled)
    );
    let up = compose(ctx, &f, "pp", &["up", "--no-build"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(
        stdout(&up).contains("pp-app-1 | pushed and pulled"),
        "{}",
        stdout(&up)
    );
    compose_ok(ctx, &f, "pp", &["down", "--rmi", "all"]);
    assert!(!ctx.berth(&["image", "inspect", &image]).status.success());
}

/// Attached `up` prints every container's output with its name and, on
/// Ctrl+C, stops the containers (they are kept, as Docker Compose does).
fn compose_up_attached_stops_on_ctrl_c(ctx: &Ctx) {
    let dir = project_dir(
        ctx,
        "attached",
        "services:\n  talker:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; echo talking; sleep 100 & wait\"]\n",
    );
    let f = dir.join("compose.yaml");
    let (mut child, rx) = spawn_compose(ctx, &f, "att", &["up"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut seen = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(30)) {
        let done = l.contains("att-talker-1 | talking");
        seen.push(l);
        if done {
            break;
        }
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().expect("wait");
    // Everything up to the end of its output (the reader ends at EOF).
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        seen.iter().any(|l| l == "Attaching to att-talker-1"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("att-talker-1 | talking")),
        "{seen:?}"
    );
    assert!(
        rest.iter().any(|l| l.starts_with("Gracefully stopping")),
        "{rest:?}"
    );
    assert!(status.success(), "{status:?}");
    let states = project_containers(ctx, "att");
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].2, "exited", "stopped, not removed");
    compose_ok(ctx, &f, "att", &["down"]);
}

const COMPOSE_V1: &str = r#"
version: "3.7"
services:
  web:
    build: ./web
    image: dcv1-web:latest
    ports:
      - "127.0.0.1::80"
    labels:
      tier: front
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    logging:
      driver: none
  worker:
    image: busybox
    links: ["db:database"]
    command: ["sh", "-c", "echo worker-up; trap 'exit 0' TERM; while :; do sleep 1; done"]
    environment:
      MODE: first
"#;

/// Debian's docker-compose 1.29 (docker-py 5 underneath, which negotiates
/// the newest API version) through every command a compose v1 user runs:
/// config, build, up, exec over a legacy link, run, scale, top, port,
/// pause, restart, stop, kill, images, logs of a `none` driver, events,
/// recreate after a change (create, then rename), down.
fn docker_compose_v1_commands(ctx: &Ctx) {
    let dir = ctx.dir.path().join("dcv1");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("web")).expect("dir");
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE_V1).expect("compose file");
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox\nRUN mkdir -p /www && echo dcv1-ok > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )
    .expect("Dockerfile");
    let dc = |args: &[&str]| {
        let out = Command::new("docker-compose")
            .current_dir(&dir)
            .args(["-p", "dcv1"])
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .output()
            .expect("docker-compose (apt install docker-compose)");
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        format!("{}{}", stdout(&out), stderr(&out))
    };
    assert!(dc(&["config"]).contains("driver: none"));
    assert!(dc(&["build"]).contains("Successfully tagged dcv1-web:latest"));
    let mut events = Command::new("docker-compose")
        .current_dir(&dir)
        .args(["-p", "dcv1", "events", "--json"])
        .env("DOCKER_HOST", ctx.host())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("events");
    dc(&["up", "-d"]);
    let port = dc(&["port", "web", "80"]);
    let addr = port.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{port}");
    wait_until(
        "the built web server to answer",
        Duration::from_secs(20),
        || std::net::TcpStream::connect(&addr).is_ok() && http_get(&addr).contains("dcv1-ok"),
    );
    let out = dc(&[
        "exec",
        "-T",
        "worker",
        "sh",
        "-c",
        "echo $MODE; ping -c1 -W2 database >/dev/null && echo linked",
    ]);
    assert_eq!(out, "first\nlinked\n");
    assert!(dc(&["run", "--rm", "worker", "echo", "run-ok"]).contains("run-ok"));
    dc(&["up", "-d", "--scale", "worker=2"]);
    assert_eq!(project_containers(ctx, "dcv1").len(), 4);
    assert!(dc(&["top", "db"]).contains("sleep"));
    dc(&["pause", "db"]);
    assert!(dc(&["ps", "db"]).contains("Paused"));
    dc(&["unpause", "db"]);
    dc(&["restart", "-t", "1", "worker"]);
    dc(&["stop", "-t", "1", "db"]);
    dc(&["kill", "worker"]);
    let ps = dc(&["ps"]);
    assert!(ps.contains("Exit 0") && ps.contains("Exit 137"), "{ps}");
    let images = dc(&["images"]);
    assert!(
        images.contains("dcv1-web") && images.contains("busybox"),
        "{images}"
    );
    assert!(dc(&["logs", "worker"]).contains("worker-up"));
    // The `none` driver keeps nothing to show (the daemon's 501 is
    // compose's to report).
    assert!(!dc(&["logs", "db"]).contains("worker-up"));
    // A changed service is recreated: compose v1 reads the image's
    // ContainerConfig, creates the new container and renames it.
    let file = dir.join("docker-compose.yml");
    std::fs::write(&file, COMPOSE_V1.replace("MODE: first", "MODE: second")).expect("edit");
    let up = dc(&["up", "-d", "--scale", "worker=1"]);
    assert!(up.contains("Recreating dcv1_worker_1"), "{up}");
    assert_eq!(
        dc(&["exec", "-T", "worker", "sh", "-c", "echo $MODE"]),
        "second\n"
    );
    let _ = events.kill();
    let mut seen = String::new();
    if let Some(mut out) = events.stdout.take() {
        let _ = out.read_to_string(&mut seen);
    }
    let _ = events.wait();
    assert!(
        seen.contains("\"action\": \"start\"") && seen.contains("\"service\": \"worker\""),
        "{seen}"
    );
    dc(&["down", "-t", "1"]);
    assert!(project_containers(ctx, "dcv1").is_empty());
    assert!(!ctx.ok(&["network", "ls"]).contains("dcv1_default"));
    ctx.ok(&["rmi", "dcv1-web:latest"]);
}
