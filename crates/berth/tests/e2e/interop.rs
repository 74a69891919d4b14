//! Other tools against berth: the real docker CLI on berth's socket, and
//! archives exchanged with podman and skopeo.

use std::path::Path;
use std::process::Command;

use crate::harness::{stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "docker_cli_works_against_berth",
        docker_cli_works_against_berth,
    ),
    (
        "berth_save_loads_in_podman_and_skopeo",
        berth_save_loads_in_podman_and_skopeo,
    ),
    (
        "podman_and_skopeo_archives_load_into_berth",
        podman_and_skopeo_archives_load_into_berth,
    ),
];

fn tool(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} is not installed; scripts/deps.sh installs it (CI runs that)");
}

fn docker(ctx: &Ctx, args: &[&str]) -> std::process::Output {
    let config = ctx.dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("docker config dir");
    Command::new(crate::harness::docker_cli())
        .args(args)
        .env("DOCKER_HOST", ctx.host())
        .env("DOCKER_CONFIG", &config)
        .output()
        .expect("running docker")
}

fn docker_cli_works_against_berth(ctx: &Ctx) {
    let v = docker(ctx, &["version"]);
    assert!(v.status.success(), "docker version: {}", stderr(&v));
    assert!(stdout(&v).contains("Berth"), "{}", stdout(&v));
    let images = docker(ctx, &["images"]);
    assert!(images.status.success(), "{}", stderr(&images));
    assert!(
        stdout(&images).lines().any(|l| l.starts_with("busybox")),
        "{}",
        stdout(&images)
    );
    let run = docker(ctx, &["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(run.status.code(), Some(0), "docker run: {}", stderr(&run));
    assert_eq!(stdout(&run), "hi\n");
    let code = docker(ctx, &["run", "--rm", "busybox", "sh", "-c", "exit 5"]);
    assert_eq!(code.status.code(), Some(5), "{}", stderr(&code));
    let named = docker(
        ctx,
        &[
            "run",
            "--name",
            "dockerlogs",
            "busybox",
            "echo",
            "from docker",
        ],
    );
    assert!(named.status.success(), "{}", stderr(&named));
    let ps = docker(ctx, &["ps", "-a"]);
    assert!(stdout(&ps).contains("dockerlogs"), "{}", stdout(&ps));
    let logs = docker(ctx, &["logs", "dockerlogs"]);
    assert_eq!(stdout(&logs), "from docker\n", "{}", stderr(&logs));
    let rm = docker(ctx, &["rm", "dockerlogs"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    let missing = docker(ctx, &["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(missing.status.code(), Some(127), "{}", stderr(&missing));

    let d = docker(
        ctx,
        &[
            "run",
            "-d",
            "--name",
            "dockerlife",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 1000 & wait",
        ],
    );
    assert!(d.status.success(), "docker run -d: {}", stderr(&d));
    let top = docker(ctx, &["top", "dockerlife"]);
    assert!(
        stdout(&top).contains("sleep 1000"),
        "docker top: {}{}",
        stdout(&top),
        stderr(&top)
    );
    let inspect = docker(ctx, &["inspect", "-f", "{{.State.Status}}", "dockerlife"]);
    assert_eq!(stdout(&inspect), "running\n", "{}", stderr(&inspect));
    let exec = docker(
        ctx,
        &[
            "exec",
            "dockerlife",
            "sh",
            "-c",
            "echo in-docker-exec; exit 6",
        ],
    );
    assert_eq!(
        exec.status.code(),
        Some(6),
        "docker exec: {}",
        stderr(&exec)
    );
    assert_eq!(stdout(&exec), "in-docker-exec\n");
    let stats = docker(ctx, &["stats", "--no-stream", "dockerlife"]);
    assert!(stats.status.success(), "docker stats: {}", stderr(&stats));
    assert!(stdout(&stats).contains("dockerlife"), "{}", stdout(&stats));
    let cp_dir = ctx.dir.path().join("docker-cp");
    std::fs::create_dir_all(&cp_dir).expect("cp dir");
    let cp = docker(
        ctx,
        &[
            "cp",
            "dockerlife:/etc/hostname",
            cp_dir.to_str().expect("utf8"),
        ],
    );
    assert!(cp.status.success(), "docker cp out: {}", stderr(&cp));
    assert!(cp_dir.join("hostname").is_file());
    let cp_in = docker(
        ctx,
        &[
            "cp",
            cp_dir.join("hostname").to_str().expect("utf8"),
            "dockerlife:/tmp/copied",
        ],
    );
    assert!(cp_in.status.success(), "docker cp in: {}", stderr(&cp_in));
    let stop = docker(ctx, &["stop", "dockerlife"]);
    assert!(stop.status.success(), "docker stop: {}", stderr(&stop));
    let restart = docker(ctx, &["restart", "dockerlife"]);
    assert!(
        restart.status.success(),
        "docker restart: {}",
        stderr(&restart)
    );
    let kill = docker(ctx, &["kill", "dockerlife"]);
    assert!(kill.status.success(), "docker kill: {}", stderr(&kill));
    let inspect = docker(ctx, &["inspect", "-f", "{{.State.ExitCode}}", "dockerlife"]);
    assert_eq!(stdout(&inspect), "137\n", "{}", stderr(&inspect));
    let rm = docker(ctx, &["rm", "dockerlife"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
}

/// Runs a tool in a private mount namespace with tmpfs over `/var/lib` and
/// `/run`, so what podman and skopeo keep there (blob-info cache, network
/// config, libpod state) never lands on the machine. `mount -n` keeps
/// libmount from writing `/run/mount/utab`.
fn isolated(ctx: &Ctx, bin: &str, args: &[&str]) -> std::process::Output {
    let script =
        "mount -n -t tmpfs tmpfs /var/lib && mount -n -t tmpfs tmpfs /run && exec \"$0\" \"$@\"";
    let tmp = ctx.dir.path().join("tool-tmp");
    std::fs::create_dir_all(&tmp).expect("tool tmp");
    Command::new(tool("unshare"))
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            bin,
        ])
        .args(args)
        .env("TMPDIR", &tmp)
        .output()
        .expect("running an isolated tool")
}

/// podman with private storage under the test directory.
pub fn podman(ctx: &Ctx, args: &[&str]) -> std::process::Output {
    let base = ctx.dir.path().join("podman");
    let (root, run) = (base.join("root"), base.join("runroot"));
    let mut all: Vec<&str> = vec![
        "--root",
        root.to_str().expect("utf8"),
        "--runroot",
        run.to_str().expect("utf8"),
    ];
    all.extend([
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
    ]);
    all.extend(args);
    isolated(ctx, &tool("podman"), &all)
}

pub fn skopeo(ctx: &Ctx, args: &[&str]) -> std::process::Output {
    isolated(ctx, &tool("skopeo"), args)
}

fn berth_save_loads_in_podman_and_skopeo(ctx: &Ctx) {
    let archive = ctx.dir.path().join("for-podman.tar");
    ctx.ok(&[
        "save",
        "-o",
        archive.to_str().expect("utf8"),
        "busybox:latest",
    ]);
    let inspect = skopeo(
        ctx,
        &["inspect", &format!("docker-archive:{}", archive.display())],
    );
    assert!(
        inspect.status.success(),
        "skopeo inspect: {}",
        stderr(&inspect)
    );
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("skopeo json");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Layers"].as_array().map(Vec::len), Some(1));
    let load = podman(ctx, &["load", "-i", archive.to_str().expect("utf8")]);
    assert!(load.status.success(), "podman load: {}", stderr(&load));
    let images = podman(ctx, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        stdout(&images).contains("busybox:latest"),
        "{}",
        stdout(&images)
    );
    let _ = podman(ctx, &["rmi", "-a", "-f"]);
}

fn podman_and_skopeo_archives_load_into_berth(ctx: &Ctx) {
    let tar = ctx.busybox_tar.to_str().expect("utf8");
    let imported = podman(
        ctx,
        &[
            "import",
            "--change",
            "CMD [\"sh\"]",
            tar,
            "localhost/podbox:1",
        ],
    );
    assert!(
        imported.status.success(),
        "podman import: {}",
        stderr(&imported)
    );
    let docker_archive = ctx.dir.path().join("podman-docker.tar");
    let saved = podman(
        ctx,
        &[
            "save",
            "--format",
            "docker-archive",
            "-o",
            docker_archive.to_str().expect("utf8"),
            "localhost/podbox:1",
        ],
    );
    assert!(saved.status.success(), "podman save: {}", stderr(&saved));
    let oci_archive = ctx.dir.path().join("skopeo-oci.tar");
    let copied = skopeo(
        ctx,
        &[
            "copy",
            &format!("docker-archive:{}", docker_archive.display()),
            &format!("oci-archive:{}:skopeobox:2", oci_archive.display()),
        ],
    );
    assert!(copied.status.success(), "skopeo copy: {}", stderr(&copied));
    let _ = podman(ctx, &["rmi", "-a", "-f"]);

    let loaded = ctx.ok(&["load", "-i", docker_archive.to_str().expect("utf8")]);
    assert!(loaded.contains("podbox:1"), "{loaded}");
    assert_eq!(
        ctx.ok(&["run", "--rm", "localhost/podbox:1", "echo", "from podman"]),
        "from podman\n"
    );
    let loaded = ctx.ok(&["load", "-i", oci_archive.to_str().expect("utf8")]);
    assert!(loaded.contains("skopeobox"), "{loaded}");
    let name = loaded.trim().rsplit(' ').next().expect("name").to_string();
    assert_eq!(
        ctx.ok(&["run", "--rm", &name, "echo", "from skopeo"]),
        "from skopeo\n"
    );
    ctx.ok(&["rmi", "localhost/podbox:1", &name]);
}
