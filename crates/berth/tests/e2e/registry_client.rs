//! The registry client's wider features, through the real binary: every
//! tag at once (`push -a`, `pull -a`), cross-repository mounts, registries
//! marked insecure in the daemon, and credential helpers.

use std::process::{Command, Output};

use crate::harness::{stderr, stdout, Ctx, TestFn};
use crate::registry::Registry;

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "push_pull_all_tags_and_mounts",
        push_pull_all_tags_and_mounts,
    ),
    ("insecure_registry_flag", insecure_registry_flag),
    ("credential_helpers", credential_helpers),
    ("search_says_not_supported", search_says_not_supported),
];

/// `search` is not implemented: the CLI and the API say so.
fn search_says_not_supported(ctx: &Ctx) {
    let ours = ctx.berth(&["search", "busybox"]);
    assert_eq!(ours.status.code(), Some(1));
    assert!(
        stderr(&ours).contains("searching registries is not supported yet"),
        "{}",
        stderr(&ours)
    );
    let docker = Command::new(crate::harness::docker_cli())
        .args(["search", "busybox"])
        .env("DOCKER_HOST", ctx.host())
        .output()
        .expect("docker search");
    assert!(!docker.status.success());
    assert!(
        stderr(&docker).contains("searching registries is not supported yet"),
        "{}",
        stderr(&docker)
    );
}

fn push_pull_all_tags_and_mounts(ctx: &Ctx) {
    let reg = Registry::start(&ctx.dir.path().join("tags-registry"), None);
    let repo = format!("{}/tags/app", reg.addr);
    let (a, b) = (format!("{repo}:a"), format!("{repo}:b"));
    ctx.ok(&["tag", "busybox:latest", &a]);
    let _ = ctx.berth(&["rm", "-f", "tags-src"]);
    ctx.ok(&[
        "run",
        "--name",
        "tags-src",
        "busybox",
        "sh",
        "-c",
        "echo bee > /b",
    ]);
    ctx.ok(&["commit", "tags-src", &b]);
    ctx.ok(&["rm", "tags-src"]);

    let refused = ctx.berth(&["push", "-a", &a]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("tag can't be used with --all-tags/-a"),
        "{}",
        stderr(&refused)
    );
    let pushed = ctx.ok(&["push", "--all-tags", &repo]);
    assert!(
        pushed.contains("a: digest: sha256:") && pushed.contains("b: digest: sha256:"),
        "push -a pushes every local tag of the repository:\n{pushed}"
    );

    // Another repository of the same registry: the layers are mounted, not sent.
    let other = format!("{}/other/app:b", reg.addr);
    ctx.ok(&["tag", &b, &other]);
    let mounted = ctx.ok(&["push", &other]);
    assert!(
        mounted.contains("Mounted from tags/app") && !mounted.contains("Pushed"),
        "a blob the registry holds in another repository is mounted:\n{mounted}"
    );

    ctx.ok(&["rmi", &a, &b, &other]);
    let pulled = ctx.ok(&["pull", "-a", &repo]);
    assert!(
        pulled.contains(&format!("Pulling all tags of {repo}")),
        "{pulled}"
    );
    let images = ctx.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", &repo]);
    let mut tags: Vec<&str> = images.lines().collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![a.as_str(), b.as_str()],
        "pull -a pulls every tag"
    );
    assert_eq!(ctx.ok(&["run", "--rm", &b, "cat", "/b"]), "bee\n");
    // And the mounted repository serves the same image.
    ctx.ok(&["rmi", &b]);
    ctx.ok(&["pull", &other]);
    assert_eq!(ctx.ok(&["run", "--rm", &other, "cat", "/b"]), "bee\n");
    ctx.ok(&["rmi", &a, &other]);
}

/// The IPv4 address of the e2e daemon's default bridge (made by this run).
fn bridge_ip(ctx: &Ctx) -> String {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", &ctx.bridge()])
        .output()
        .expect("ip addr");
    let text = stdout(&out);
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no address on {}: {text}", ctx.bridge()))
}

/// A registry on a non-loopback address (our own bridge's) is reached over
/// HTTPS unless the daemon lists it with `--insecure-registry`.
fn insecure_registry_flag(ctx: &Ctx) {
    let ip = bridge_ip(ctx);
    let reg = Registry::start_on(&ip, &ctx.dir.path().join("insecure-registry"), None, &[]);
    let image = format!("{}/plain/busybox:1", reg.addr);
    ctx.ok(&["tag", "busybox:latest", &image]);
    let refused = ctx.berth(&["push", &image]);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    ctx.stop_daemon();
    ctx.start_daemon_with(&["--insecure-registry", &reg.addr]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.ok(&["push", &image]);
        ctx.ok(&["rmi", &image]);
        ctx.ok(&["pull", &image]);
        assert_eq!(ctx.ok(&["run", "--rm", &image, "echo", "hi"]), "hi\n");
        ctx.ok(&["rmi", &image]);
    }));
    ctx.stop_daemon();
    ctx.start_daemon();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    let again = ctx.berth(&["pull", &image]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "without --insecure-registry the registry is not reached over plain HTTP"
    );
}

/// `credHelpers` and `credsStore`: credentials come from and go to a
/// `docker-credential-*` program, never into config.json.
fn credential_helpers(ctx: &Ctx) {
    let dir = ctx.dir.path().join("cred-helpers");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("dir");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).expect("htpasswd");
    let reg = Registry::start_with(
        &dir.join("store"),
        None,
        &["--htpasswd", htpasswd.to_str().expect("utf8")],
    );
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        format!(
            r#"#!/bin/sh
dir={}
case "$1" in
  get) read server; echo "$server" >> "$dir/asked"
       printf '{{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}}\n' "$server" ;;
  store) cat > "$dir/stored.json" ;;
  erase) read server; echo "$server" > "$dir/erased" ;;
  *) exit 1 ;;
esac
"#,
            dir.display()
        ),
    )
    .expect("helper");
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let berth = |config: &std::path::Path, args: &[&str], stdin: &[u8]| -> Output {
        ctx.berth_env(
            args,
            &[
                ("DOCKER_CONFIG", config.as_os_str()),
                ("PATH", std::ffi::OsStr::new(&path)),
            ],
            stdin,
        )
    };
    let image = format!("{}/helped/busybox:1", reg.addr);
    ctx.ok(&["tag", "busybox:latest", &image]);

    let none = dir.join("no-config");
    let denied = berth(&none, &["push", &image], b"");
    assert_eq!(denied.status.code(), Some(1), "{}", stdout(&denied));

    let per_registry = dir.join("cred-helpers-config");
    std::fs::create_dir_all(&per_registry).expect("dir");
    std::fs::write(
        per_registry.join("config.json"),
        serde_json::json!({"credHelpers": {reg.addr.as_str(): "berthtest"}}).to_string(),
    )
    .expect("config");
    let pushed = berth(&per_registry, &["push", &image], b"");
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let asked = std::fs::read_to_string(dir.join("asked")).expect("the helper was asked");
    assert_eq!(asked.trim(), reg.addr, "the helper gets the server name");
    ctx.ok(&["rmi", &image]);
    let pulled = berth(&per_registry, &["pull", &image], b"");
    assert!(pulled.status.success(), "{}", stderr(&pulled));

    let store = dir.join("creds-store-config");
    std::fs::create_dir_all(&store).expect("dir");
    std::fs::write(store.join("config.json"), r#"{"credsStore": "berthtest"}"#).expect("config");
    let login = berth(
        &store,
        &["login", "-u", "alice", "--password-stdin", &reg.addr],
        b"s3cret\n",
    );
    assert_eq!(stdout(&login), "Login Succeeded\n", "{}", stderr(&login));
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("stored.json")).expect("the helper stored the credentials"),
    )
    .expect("json");
    assert_eq!(stored["ServerURL"], reg.addr.as_str());
    assert_eq!(stored["Username"], "alice");
    assert_eq!(stored["Secret"], "s3cret");
    let cfg = std::fs::read_to_string(store.join("config.json")).expect("config");
    assert!(
        !cfg.contains("s3cret") && !cfg.contains("YWxpY2U6czNjcmV0"),
        "no secret in config.json with a credsStore: {cfg}"
    );
    let logout = berth(&store, &["logout", &reg.addr], b"");
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert_eq!(
        std::fs::read_to_string(dir.join("erased"))
            .expect("erased")
            .trim(),
        reg.addr
    );
    ctx.ok(&["rmi", &image]);
}
