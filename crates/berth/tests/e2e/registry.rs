//! `berth registry serve` and `gc`, driven by skopeo and podman (real
//! distribution clients) and by raw HTTP, on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{berth_bin, stderr, stdout, wait_until, Ctx, TestFn};
use crate::interop::{podman, skopeo};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "registry_serves_skopeo_and_podman",
        registry_serves_skopeo_and_podman,
    ),
    (
        "registry_upload_survives_kill_and_gc",
        registry_upload_survives_kill_and_gc,
    ),
    ("registry_tls_and_htpasswd", registry_tls_and_htpasswd),
    ("pull_from_registries", pull_from_registries),
    ("push_pull_round_trip", push_pull_round_trip),
    (
        "login_logout_and_authenticated_push",
        login_logout_and_authenticated_push,
    ),
    ("registry_refuses_bad_input", registry_refuses_bad_input),
    ("pull_through_token_flow", pull_through_token_flow),
];

/// A running `berth registry serve`, stopped (by its pid) when dropped.
pub(crate) struct Registry {
    child: Child,
    pub(crate) addr: String,
}

impl Registry {
    pub(crate) fn start(root: &std::path::Path, port: Option<u16>) -> Registry {
        Registry::start_with(root, port, &[])
    }

    /// With extra flags (TLS, htpasswd): ready once it accepts connections.
    pub(crate) fn start_with(
        root: &std::path::Path,
        port: Option<u16>,
        extra: &[&str],
    ) -> Registry {
        Registry::start_on("127.0.0.1", root, port, extra)
    }

    /// On `ip` (loopback, or an address of a bridge the test made).
    pub(crate) fn start_on(
        ip: &str,
        root: &std::path::Path,
        port: Option<u16>,
        extra: &[&str],
    ) -> Registry {
        let port = port.unwrap_or_else(|| {
            let l = std::net::TcpListener::bind((ip, 0)).expect("free port");
            l.local_addr().expect("addr").port()
        });
        let addr = format!("{ip}:{port}");
        let child = Command::new(berth_bin())
            .args(["registry", "serve", "--addr", &addr, "--root"])
            .arg(root)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("berth registry serve");
        let ready = |addr: &str| {
            if extra.is_empty() {
                http(addr, "GET", "/v2/", b"").map(|r| r.0) == Ok(200)
            } else {
                TcpStream::connect(addr).is_ok()
            }
        };
        wait_until(
            &format!("the registry to answer on {addr}"),
            Duration::from_secs(10),
            || ready(&addr),
        );
        Registry { child, addr }
    }

    /// Kills the server (SIGKILL, by the pid it was started with), as a
    /// crash would; its port, to start it again on.
    pub(crate) fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port()
    }

    fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 request; the status and body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// skopeo copies `src` to `dest` on a plain-HTTP registry.
fn skopeo_push(ctx: &Ctx, src: &str, dest: &str, what: &str) {
    ok(
        skopeo(ctx, &["copy", "--dest-tls-verify=false", src, dest]),
        what,
    );
}

/// The manifest digest skopeo sees for `image` (`docker://...`, plain HTTP).
fn remote_digest(ctx: &Ctx, image: &str) -> String {
    let out = ok(
        skopeo(
            ctx,
            &[
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                image,
            ],
        ),
        "skopeo inspect",
    );
    out.trim().to_string()
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn registry_serves_skopeo_and_podman(ctx: &Ctx) {
    let root = ctx.dir.path().join("registry");
    let reg = Registry::start(&root, None);
    let archive = ctx.dir.path().join("for-registry.tar");
    ctx.ok(&[
        "save",
        "-o",
        archive.to_str().expect("utf8"),
        "busybox:latest",
    ]);
    let dest = format!("docker://{}/library/busybox:latest", reg.addr);
    skopeo_push(
        ctx,
        &format!("docker-archive:{}", archive.display()),
        &dest,
        "skopeo copy into the registry",
    );
    let inspect = remote_digest(ctx, &dest);
    let digest = inspect.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    // The registry serves the manifest's bytes as pushed.
    let dir = ctx.dir.path().join("from-registry-dir");
    ok(
        skopeo(
            ctx,
            &[
                "copy",
                "--src-tls-verify=false",
                &dest,
                &format!("dir:{}", dir.display()),
            ],
        ),
        "skopeo copy to dir:",
    );
    let bytes = std::fs::read(dir.join("manifest.json")).expect("manifest.json");
    assert_eq!(
        format!("sha256:{}", hex_sha256(&bytes)),
        digest,
        "the same manifest comes back"
    );
    // docker:// to oci: and back: the OCI form is stored as it is too.
    let oci = ctx.dir.path().join("from-registry-oci");
    ok(
        skopeo(
            ctx,
            &[
                "copy",
                "--src-tls-verify=false",
                &dest,
                &format!("oci:{}:busybox", oci.display()),
            ],
        ),
        "skopeo copy to oci:",
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).expect("oci index"))
            .expect("json");
    let oci_digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let back = format!("docker://{}/library/busybox:oci", reg.addr);
    skopeo_push(
        ctx,
        &format!("oci:{}:busybox", oci.display()),
        &back,
        "skopeo copy oci: back",
    );
    let again = remote_digest(ctx, &back);
    assert_eq!(again.trim(), oci_digest);
    let (status, body) = http(&reg.addr, "GET", "/v2/_catalog", b"").expect("catalog");
    assert_eq!(status, 200);
    assert!(body.contains("library/busybox"), "{body}");
    // podman pushes to it and pulls from it.
    ok(
        podman(ctx, &["load", "-i", archive.to_str().expect("utf8")]),
        "podman load",
    );
    let pushed = format!("{}/podman/busybox:v1", reg.addr);
    ok(
        podman(
            ctx,
            &["push", "--tls-verify=false", "busybox:latest", &pushed],
        ),
        "podman push",
    );
    let (status, body) = http(&reg.addr, "GET", "/v2/podman/busybox/tags/list", b"").expect("tags");
    assert_eq!((status, body.contains("\"v1\"")), (200, true), "{body}");
    ok(
        podman(ctx, &["pull", "--tls-verify=false", &pushed]),
        "podman pull",
    );
}

fn registry_upload_survives_kill_and_gc(ctx: &Ctx) {
    let root = ctx.dir.path().join("registry-crash");
    let mut reg = Registry::start(&root, None);
    // A committed blob and manifest.
    let config = b"{}";
    let cd = format!("sha256:{}", hex_sha256(config));
    let (status, _) = http(
        &reg.addr,
        "POST",
        &format!("/v2/crash/app/blobs/uploads/?digest={cd}"),
        config,
    )
    .expect("upload");
    assert_eq!(status, 201);
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2}, "layers": []});
    let (status, body) = http(
        &reg.addr,
        "PUT",
        "/v2/crash/app/manifests/v1",
        manifest.to_string().as_bytes(),
    )
    .expect("manifest");
    assert_eq!(status, 201, "{body}");
    // An upload in progress when the server is killed.
    let (status, _) = http(&reg.addr, "POST", "/v2/crash/app/blobs/uploads/", b"").expect("start");
    assert_eq!(status, 202);
    let uploads = root.join("uploads");
    let id = std::fs::read_dir(&uploads)
        .expect("uploads")
        .flatten()
        .next()
        .expect("an upload")
        .file_name();
    let (status, _) = http(
        &reg.addr,
        "PATCH",
        &format!("/v2/crash/app/blobs/uploads/{}", id.to_string_lossy()),
        b"half a layer",
    )
    .expect("patch");
    assert_eq!(status, 202);
    let port = reg.port();
    let _ = reg.child.kill();
    let _ = reg.child.wait();
    drop(reg);
    let reg = Registry::start(&root, Some(port));
    let (status, body) =
        http(&reg.addr, "GET", "/v2/crash/app/manifests/v1", b"").expect("manifest");
    assert_eq!(status, 200, "what was committed survives: {body}");
    let half = format!("sha256:{}", hex_sha256(b"half a layer"));
    let (status, _) = http(
        &reg.addr,
        "GET",
        &format!("/v2/crash/app/blobs/{half}"),
        b"",
    )
    .expect("blob");
    assert_eq!(status, 404, "an unfinished upload is not visible");
    // Delete the manifest, then gc removes its blobs and the stale upload.
    let digest = format!("sha256:{}", hex_sha256(manifest.to_string().as_bytes()));
    let (status, _) = http(
        &reg.addr,
        "DELETE",
        &format!("/v2/crash/app/manifests/{digest}"),
        b"",
    )
    .expect("delete");
    assert_eq!(status, 202);
    drop(reg);
    let gc = Command::new(berth_bin())
        .args(["registry", "gc", "--root"])
        .arg(&root)
        .output()
        .expect("gc");
    assert_eq!(stdout(&gc), "2 blobs removed\n", "{}", stderr(&gc));
    assert_eq!(
        std::fs::read_dir(root.join("blobs/sha256"))
            .expect("blobs")
            .count(),
        0
    );
    assert_eq!(std::fs::read_dir(&uploads).expect("uploads").count(), 0);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// HTTPS with a certificate the client trusts, and basic auth from an
/// htpasswd file: skopeo pushes with credentials, is refused without.
fn registry_tls_and_htpasswd(ctx: &Ctx) {
    let dir = ctx.dir.path().join("registry-tls");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).expect("dirs");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("this test needs openssl to make a certificate");
    assert!(made.status.success(), "openssl: {}", stderr(&made));
    std::fs::copy(&cert, certs.join("ca.crt")).expect("trust the certificate");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).expect("htpasswd");
    let reg = Registry::start_with(
        &dir.join("store"),
        None,
        &[
            "--tls-cert",
            cert.to_str().expect("utf8"),
            "--tls-key",
            key.to_str().expect("utf8"),
            "--htpasswd",
            htpasswd.to_str().expect("utf8"),
        ],
    );
    let archive = ctx.dir.path().join("for-tls-registry.tar");
    ctx.ok(&[
        "save",
        "-o",
        archive.to_str().expect("utf8"),
        "busybox:latest",
    ]);
    let src = format!("docker-archive:{}", archive.display());
    let dest = format!("docker://{}/secure/busybox:latest", reg.addr);
    let cert_dir = certs.to_str().expect("utf8");
    let refused = skopeo(ctx, &["copy", "--dest-cert-dir", cert_dir, &src, &dest]);
    assert!(
        !refused.status.success(),
        "a push without credentials is refused"
    );
    assert!(
        stderr(&refused).to_lowercase().contains("unauthorized")
            || stderr(&refused).contains("401"),
        "{}",
        stderr(&refused)
    );
    let wrong = skopeo(
        ctx,
        &[
            "copy",
            "--dest-cert-dir",
            cert_dir,
            "--dest-creds",
            "alice:nope",
            &src,
            &dest,
        ],
    );
    assert!(!wrong.status.success(), "a wrong password is refused");
    ok(
        skopeo(
            ctx,
            &[
                "copy",
                "--dest-cert-dir",
                cert_dir,
                "--dest-creds",
                "alice:s3cret",
                &src,
                &dest,
            ],
        ),
        "push over verified TLS with credentials",
    );
    let digest = ok(
        skopeo(
            ctx,
            &[
                "inspect",
                "--cert-dir",
                cert_dir,
                "--creds",
                "alice:s3cret",
                "--format",
                "{{.Digest}}",
                &dest,
            ],
        ),
        "inspect",
    );
    assert!(digest.starts_with("sha256:"), "{digest}");
}

/// A `docker-registry` (distribution 2.8, Debian's) on a free loopback
/// port with its storage under `root`, stopped when dropped.
struct DockerRegistry {
    child: Child,
    addr: String,
}

impl DockerRegistry {
    fn start(root: &std::path::Path) -> DockerRegistry {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        std::fs::create_dir_all(root).expect("dir");
        let config = root.join("config.yml");
        std::fs::write(
            &config,
            format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n", root.join("data").display()),
        )
        .expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("this test needs Debian's docker-registry (scripts/deps.sh installs it)");
        wait_until(
            &format!("docker-registry to answer on {addr}"),
            Duration::from_secs(10),
            || http(&addr, "GET", "/v2/", b"").map(|r| r.0) == Ok(200),
        );
        DockerRegistry { child, addr }
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `berth pull` from `berth registry serve` and from docker-registry 2.8:
/// the digest skopeo pushed comes back, the image runs, a second pull is up
/// to date, a missing repository is Docker's "pull access denied", and the
/// docker CLI's `run` pulls a missing image through berth.
fn pull_from_registries(ctx: &Ctx) {
    // An image with a layer of its own, so the pull really downloads it.
    ctx.ok(&[
        "run",
        "--name",
        "pull-src",
        "busybox",
        "sh",
        "-c",
        "echo unique > /pulled-file",
    ]);
    ctx.ok(&["commit", "pull-src", "pulltest:v1"]);
    ctx.ok(&["rm", "pull-src"]);
    let archive = ctx.dir.path().join("for-pull.tar");
    ctx.ok(&["save", "-o", archive.to_str().expect("utf8"), "pulltest:v1"]);
    ctx.ok(&["rmi", "pulltest:v1"]);
    let src = format!("docker-archive:{}", archive.display());
    let ours = Registry::start(&ctx.dir.path().join("pull-registry"), None);
    let theirs = DockerRegistry::start(&ctx.dir.path().join("docker-registry"));
    for addr in [ours.addr.clone(), theirs.addr.clone()] {
        let dest = format!("docker://{addr}/library/busybox:latest");
        skopeo_push(ctx, &src, &dest, "skopeo push");
        let digest = remote_digest(ctx, &dest);
        let image = format!("{addr}/library/busybox");
        let out = ctx.ok(&["pull", &image]);
        assert!(
            out.contains("Pull complete") && out.contains(&format!("Digest: {}", digest.trim())),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "Status: Downloaded newer image for {image}:latest"
            )),
            "{out}"
        );
        let digests = ctx.ok(&[
            "inspect",
            "-f",
            "{{range .RepoDigests}}{{.}}{{end}}",
            &image,
        ]);
        assert_eq!(digests.trim(), format!("{image}@{}", digest.trim()));
        assert_eq!(
            ctx.ok(&["run", "--rm", &image, "cat", "/pulled-file"]),
            "unique\n"
        );
        let again = ctx.ok(&["pull", &format!("{image}:latest")]);
        assert!(again.contains("Image is up to date"), "{again}");
        let missing = ctx.berth(&["pull", &format!("{addr}/library/nope")]);
        assert_eq!(missing.status.code(), Some(1));
        assert!(
            stderr(&missing).contains("pull access denied"),
            "{}",
            stderr(&missing)
        );
        ctx.ok(&["rmi", &format!("{image}:latest")]);
    }
    // The docker CLI pulls through berth when `run` finds no image.
    let docker = crate::harness::docker_cli();
    let config = ctx.dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("config");
    let image = format!("{}/library/busybox:latest", ours.addr);
    let out = Command::new(docker)
        .args(["run", "--rm", &image, "echo", "auto-pulled"])
        .env("DOCKER_HOST", ctx.host())
        .env("DOCKER_CONFIG", &config)
        .output()
        .expect("docker");
    assert!(
        stdout(&out).contains("auto-pulled"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    ctx.ok(&["rmi", &image]);
}

/// `berth push` to docker-registry 2.8 and to `berth registry serve`: the
/// digest it reports is the one skopeo sees, a second push sends no layer,
/// and after removing the image locally it pulls back and runs.
fn push_pull_round_trip(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "push-src",
        "busybox",
        "sh",
        "-c",
        "echo pushed-content > /pushed-file",
    ]);
    ctx.ok(&["commit", "push-src", "pushtest:v1"]);
    ctx.ok(&["rm", "push-src"]);
    let ours = Registry::start(&ctx.dir.path().join("push-registry"), None);
    let theirs = DockerRegistry::start(&ctx.dir.path().join("push-docker-registry"));
    for addr in [theirs.addr.clone(), ours.addr.clone()] {
        let image = format!("{addr}/push/app:v1");
        ctx.ok(&["tag", "pushtest:v1", &image]);
        let out = ctx.ok(&["push", &image]);
        assert!(
            out.contains(&format!("The push refers to repository [{addr}/push/app]")),
            "{out}"
        );
        assert!(out.contains(": Pushed"), "{out}");
        let reported = out
            .lines()
            .find_map(|l| l.strip_prefix("v1: digest: "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no digest line: {out}"))
            .to_string();
        let seen = remote_digest(ctx, &format!("docker://{image}"));
        assert_eq!(
            seen.trim(),
            reported,
            "the registry has the manifest berth reported"
        );
        // As Docker: the pushed digest shows in RepoDigests, and the
        // registry's view of the name is one request away.
        let digests = Command::new(crate::harness::docker_cli())
            .args(["image", "inspect", "-f", "{{json .RepoDigests}}", &image])
            .env("DOCKER_HOST", ctx.host())
            .output()
            .expect("docker");
        assert!(
            stdout(&digests).contains(&format!("{addr}/push/app@{reported}")),
            "the docker CLI sees the pushed digest: {} {}",
            stdout(&digests),
            stderr(&digests)
        );
        let (status, _, body) =
            crate::api::request(ctx, "GET", &format!("/distribution/{image}/json"), "");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["Descriptor"]["digest"], reported, "{v}");
        assert_eq!(v["Platforms"][0]["os"], "linux", "{v}");
        let again = ctx.ok(&["push", &image]);
        assert!(
            again.contains("Layer already exists") && !again.contains(": Pushed"),
            "{again}"
        );
        ctx.ok(&["rmi", &image]);
        let pulled = ctx.ok(&["pull", &image]);
        assert!(pulled.contains(&format!("Digest: {reported}")), "{pulled}");
        assert_eq!(
            ctx.ok(&["run", "--rm", &image, "cat", "/pushed-file"]),
            "pushed-content\n"
        );
        ctx.ok(&["rmi", &image]);
    }
    let (status, _, body) = crate::api::request(
        ctx,
        "GET",
        &format!("/distribution/{}/push/none:v1/json", ours.addr),
        "",
    );
    assert_eq!(status, 404, "{body}");
    let missing = ctx.berth(&["push", &format!("{}/push/none:v1", ours.addr)]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("An image does not exist locally"),
        "{}",
        stderr(&missing)
    );
    ctx.ok(&["rmi", "pushtest:v1"]);
}

/// `berth login`/`logout` against a registry with basic auth: credentials
/// are checked by the daemon, kept in `$DOCKER_CONFIG/config.json` as
/// Docker does, and used by push and pull; the docker CLI logs in through
/// berth too.
fn login_logout_and_authenticated_push(ctx: &Ctx) {
    let dir = ctx.dir.path().join("registry-login");
    std::fs::create_dir_all(&dir).expect("dir");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).expect("htpasswd");
    let reg = Registry::start_with(
        &dir.join("store"),
        None,
        &["--htpasswd", htpasswd.to_str().expect("utf8")],
    );
    let config = dir.join("docker-config");
    let berth = |args: &[&str], stdin: &[u8]| {
        ctx.berth_env(args, &[("DOCKER_CONFIG", config.as_os_str())], stdin)
    };
    let wrong = berth(&["login", "-u", "alice", "-p", "nope", &reg.addr], b"");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("unauthorized"),
        "{}",
        stderr(&wrong)
    );
    assert!(
        !config.join("config.json").exists(),
        "nothing is stored after a failed login"
    );
    let good = berth(
        &["login", "-u", "alice", "--password-stdin", &reg.addr],
        b"s3cret\n",
    );
    assert_eq!(stdout(&good), "Login Succeeded\n", "{}", stderr(&good));
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(config.join("config.json")).expect("config"))
            .expect("json");
    assert_eq!(
        cfg["auths"][reg.addr.as_str()]["auth"],
        "YWxpY2U6czNjcmV0",
        "base64 of alice:s3cret"
    );
    let image = format!("{}/private/busybox:v1", reg.addr);
    ctx.ok(&["tag", "busybox:latest", &image]);
    let pushed = berth(&["push", &image], b"");
    assert!(
        pushed.status.success(),
        "an authenticated push: {}{}",
        stdout(&pushed),
        stderr(&pushed)
    );
    ctx.ok(&["rmi", &image]);
    let pulled = berth(&["pull", &image], b"");
    assert!(
        pulled.status.success(),
        "an authenticated pull: {}",
        stderr(&pulled)
    );
    let out = berth(&["logout", &reg.addr], b"");
    assert_eq!(
        stdout(&out),
        format!("Removing login credentials for {}\n", reg.addr)
    );
    let refused = berth(&["push", &image], b"");
    assert!(
        !refused.status.success(),
        "without credentials the push is refused"
    );
    ctx.ok(&["rmi", &image]);
    // The docker CLI's login goes through berth's POST /auth.
    let docker = Command::new(crate::harness::docker_cli())
        .args(["login", "-u", "alice", "--password-stdin", &reg.addr])
        .env("DOCKER_HOST", ctx.host())
        .env("DOCKER_CONFIG", dir.join("docker-cli-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(b"s3cret\n")?;
            c.wait_with_output()
        })
        .expect("docker login");
    assert!(
        stdout(&docker).contains("Login Succeeded"),
        "{}{}",
        stdout(&docker),
        stderr(&docker)
    );
    // ... and its push, with the credentials it stored, too.
    let run_docker = |args: &[&str]| {
        Command::new(crate::harness::docker_cli())
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .env("DOCKER_CONFIG", dir.join("docker-cli-config"))
            .output()
            .expect("docker")
    };
    let tagged = format!("{}/private/docker-pushed:v1", reg.addr);
    let t = run_docker(&["tag", "busybox:latest", &tagged]);
    assert!(t.status.success(), "docker tag: {}", stderr(&t));
    let p = run_docker(&["push", &tagged]);
    assert!(
        p.status.success() && stdout(&p).contains("v1: digest: sha256:"),
        "docker push: {}{}",
        stdout(&p),
        stderr(&p)
    );
    ctx.ok(&["rmi", &tagged]);
}

/// Bad input is refused with the spec's error and stores nothing: a blob
/// whose content does not match its digest, a manifest naming a missing
/// blob, an oversized manifest, a repository name with `..`.
fn registry_refuses_bad_input(ctx: &Ctx) {
    let root = ctx.dir.path().join("registry-refusals");
    let reg = Registry::start(&root, None);
    let code = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let claimed = format!("sha256:{}", hex_sha256(b"what was promised"));
    let (status, body) = http(
        &reg.addr,
        "POST",
        &format!("/v2/bad/app/blobs/uploads/?digest={claimed}"),
        b"something else",
    )
    .expect("upload");
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "DIGEST_INVALID"),
        "{body}"
    );
    let (status, _) = http(
        &reg.addr,
        "GET",
        &format!("/v2/bad/app/blobs/{claimed}"),
        b"",
    )
    .expect("get");
    assert_eq!(status, 404);
    let missing = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": claimed, "size": 17}, "layers": []});
    let (status, body) = http(
        &reg.addr,
        "PUT",
        "/v2/bad/app/manifests/v1",
        missing.to_string().as_bytes(),
    )
    .expect("manifest");
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN"),
        "{body}"
    );
    let huge = vec![b' '; 5 << 20];
    let (status, body) =
        http(&reg.addr, "PUT", "/v2/bad/app/manifests/v2", &huge).expect("huge manifest");
    assert_eq!(status, 413, "{body}");
    let (status, body) =
        http(&reg.addr, "GET", "/v2/bad/../../etc/tags/list", b"").expect("dotdot");
    assert_eq!(code(&body), "NAME_INVALID", "{status} {body}");
    let (status, body) = http(&reg.addr, "GET", "/v2/bad/app/tags/list", b"").expect("tags");
    assert_eq!(
        (status, code(&body).as_str()),
        (404, "NAME_UNKNOWN"),
        "nothing was stored: {body}"
    );
    let count = |d: &str| {
        std::fs::read_dir(root.join(d))
            .map(|e| e.count())
            .unwrap_or(0)
    };
    assert_eq!(count("blobs/sha256"), 0, "no blob stored");
    assert_eq!(count("uploads"), 0, "no upload left");
}

/// A registry front that asks for Docker Hub's token flow: requests
/// without `Bearer <token>` get a 401 with a Bearer challenge naming its
/// `/token` endpoint; with the token they are passed to `backend`. It
/// records whether the token endpoint was called with basic credentials.
struct TokenFront {
    addr: String,
    saw_basic: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TokenFront {
    fn start(backend: String) -> TokenFront {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let saw_basic = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let me = Arc::new(std::sync::OnceLock::<String>::new());
        let (seen, my_addr) = (saw_basic.clone(), me.clone());
        let addr = crate::front::serve(stop.clone(), move |stream| {
            let me = my_addr.get().cloned().unwrap_or_default();
            let _ = serve_front(stream, &me, &backend, &seen);
        });
        let _ = me.set(addr.clone());
        TokenFront {
            addr,
            saw_basic,
            stop,
        }
    }
}

impl Drop for TokenFront {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One request of the token front (the connection is closed after it).
fn serve_front(
    mut client: TcpStream,
    me: &str,
    backend: &str,
    saw_basic: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let Some(req) = crate::front::Request::read(&mut client, Duration::from_secs(5))? else {
        return Ok(());
    };
    let path = req.path.clone();
    let header = |name: &str| req.header(name);
    if path.starts_with("/token") {
        if header("authorization").is_some_and(|a| a.starts_with("Basic ")) {
            saw_basic.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let reply = r#"{"token":"front-token","expires_in":300}"#;
        return write!(client, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len());
    }
    if header("authorization").as_deref() != Some("Bearer front-token") {
        let repo = path
            .trim_start_matches("/v2/")
            .split("/manifests/")
            .next()
            .unwrap_or_default()
            .split("/blobs/")
            .next()
            .unwrap_or_default();
        return write!(
            client,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"front\",scope=\"repository:{repo}:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    let response = req.forward(backend)?;
    client.write_all(&response)
}

/// Docker Hub's token flow: a 401 with a Bearer challenge, a token from
/// the realm, then the request again with it; without credentials
/// (anonymous token) and with them (basic auth to the token endpoint).
fn pull_through_token_flow(ctx: &Ctx) {
    let backend = Registry::start(&ctx.dir.path().join("token-backend"), None);
    let archive = ctx.dir.path().join("for-token.tar");
    ctx.ok(&[
        "save",
        "-o",
        archive.to_str().expect("utf8"),
        "busybox:latest",
    ]);
    skopeo_push(
        ctx,
        &format!("docker-archive:{}", archive.display()),
        &format!("docker://{}/hub/busybox:latest", backend.addr),
        "seed the backend",
    );
    let front = TokenFront::start(backend.addr.clone());
    let image = format!("{}/hub/busybox:latest", front.addr);
    let anonymous = ctx.ok(&["pull", &image]);
    assert!(anonymous.contains("Digest: sha256:"), "{anonymous}");
    assert!(
        !front.saw_basic.load(std::sync::atomic::Ordering::Relaxed),
        "no credentials were sent"
    );
    ctx.ok(&["rmi", &image]);
    let config = ctx.dir.path().join("token-docker-config");
    let with_creds = |args: &[&str]| {
        Command::new(berth_bin())
            .args(args)
            .env("BERTH_HOST", ctx.host())
            .env("DOCKER_CONFIG", &config)
            .output()
            .expect("berth")
    };
    let login = with_creds(&["login", "-u", "bob", "-p", "pw", &front.addr]);
    assert!(login.status.success(), "{}", stderr(&login));
    let pulled = with_creds(&["pull", &image]);
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert!(
        front.saw_basic.load(std::sync::atomic::Ordering::Relaxed),
        "the token endpoint got the credentials"
    );
    ctx.ok(&["rmi", &image]);
}
