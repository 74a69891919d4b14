//! A container's filesystem from outside: cp both ways (running and
//! stopped, with planted symlinks), commit, export; the same through
//! fuse-overlayfs.

use crate::harness::{stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("cp_both_ways", cp_both_ways),
    (
        "cp_never_escapes_through_symlinks",
        cp_never_escapes_through_symlinks,
    ),
    (
        "commit_keeps_changes_and_deletions",
        commit_keeps_changes_and_deletions,
    ),
    ("export_is_a_flat_tar", export_is_a_flat_tar),
    (
        "cp_out_streams_and_leaves_files_to_the_caller",
        cp_out_streams_and_leaves_files_to_the_caller,
    ),
    (
        "fuse_overlayfs_storage_driver",
        fuse_overlayfs_storage_driver,
    ),
];

fn cp_both_ways(ctx: &Ctx) {
    let work = ctx.dir.path().join("cp-work");
    std::fs::create_dir_all(&work).expect("work dir");
    let w = work.to_str().expect("utf8").to_string();
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "cpbox",
        "--hostname",
        "cphost",
        "busybox",
        "sleep",
        "100",
    ]);
    ctx.ok(&["cp", "cpbox:/etc/hostname", &w]);
    assert_eq!(
        std::fs::read_to_string(work.join("hostname")).expect("copied file"),
        "cphost\n"
    );
    ctx.ok(&["cp", "cpbox:/etc/hostname", &format!("{w}/renamed")]);
    assert_eq!(
        std::fs::read_to_string(work.join("renamed")).expect("renamed copy"),
        "cphost\n"
    );
    std::fs::write(work.join("local.txt"), "from the host\n").expect("local file");
    ctx.ok(&["cp", &format!("{w}/local.txt"), "cpbox:/tmp/"]);
    ctx.ok(&["cp", "cpbox:/tmp/local.txt", &format!("{w}/back.txt")]);
    assert_eq!(
        std::fs::read_to_string(work.join("back.txt")).expect("round trip"),
        "from the host\n"
    );
    // A directory, into a stopped container under a new name.
    std::fs::create_dir_all(work.join("tree/sub")).expect("tree");
    std::fs::write(work.join("tree/sub/f"), "deep\n").expect("tree file");
    ctx.ok(&["stop", "-t", "0", "cpbox"]);
    ctx.ok(&["cp", &format!("{w}/tree"), "cpbox:/srv"]);
    ctx.ok(&["cp", "cpbox:/srv/sub/f", &format!("{w}/deep.txt")]);
    assert_eq!(
        std::fs::read_to_string(work.join("deep.txt")).expect("deep file"),
        "deep\n"
    );
    let out = ctx.berth(&["cp", "cpbox:/no/such/file", &w]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Could not find the file /no/such/file in container cpbox"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "cpbox"]);
    assert!(
        ctx.our_mounts().is_empty(),
        "temporary rootfs mount left: {:?}",
        ctx.our_mounts()
    );
}

fn cp_never_escapes_through_symlinks(ctx: &Ctx) {
    let work = ctx.dir.path().join("cp-escape");
    std::fs::create_dir_all(&work).expect("work dir");
    let w = work.to_str().expect("utf8").to_string();
    // The sentinel sits on the host at a path the symlinks point to.
    let sentinel_dir = ctx.dir.path().join("host-secret");
    std::fs::create_dir_all(&sentinel_dir).expect("sentinel dir");
    std::fs::write(sentinel_dir.join("secret"), "host only\n").expect("sentinel");
    let host_dir = sentinel_dir.to_str().expect("utf8").to_string();
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "planted",
        "busybox",
        "sh",
        "-c",
        &format!(
            "ln -s / /rootlink; ln -s ../../.. /uplink; ln -s {host_dir} /hostlink; sleep 100"
        ),
    ]);
    crate::harness::wait_until(
        "the links to be planted",
        std::time::Duration::from_secs(10),
        || {
            ctx.berth(&["exec", "planted", "test", "-L", "/hostlink"])
                .status
                .success()
        },
    );
    // Reading through the links reaches the container's files, never the host's.
    let out = ctx.berth(&["cp", "planted:/hostlink/secret", &w]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "no such file inside the container"
    );
    assert!(!work.join("secret").exists());
    ctx.ok(&["cp", "planted:/uplink/etc/passwd", &format!("{w}/passwd")]);
    let passwd = std::fs::read_to_string(work.join("passwd")).expect("passwd");
    assert!(
        passwd.contains("www-data:x:33"),
        "the container's passwd: {passwd}"
    );
    assert_eq!(
        passwd,
        std::fs::read_to_string(busybox_passwd(ctx)).expect("image passwd")
    );
    // Writing through the links lands inside the container.
    std::fs::write(work.join("evil"), "x").expect("payload");
    let out = ctx.berth(&["cp", &format!("{w}/evil"), "planted:/hostlink/"]);
    assert!(
        !sentinel_dir.join("evil").exists(),
        "wrote to the host: {}",
        stderr(&out)
    );
    let out = ctx.berth(&["cp", &format!("{w}/evil"), "planted:/uplink/tmp/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !std::path::Path::new("/tmp/evil").exists(),
        "wrote to the host's /tmp"
    );
    ctx.ok(&["rm", "-f", "planted"]);
}

/// The busybox image's /etc/passwd, as the fixture script writes it.
fn busybox_passwd(ctx: &Ctx) -> std::path::PathBuf {
    let dir = ctx.dir.path().join("fixture-passwd");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&ctx.busybox_tar)
        .arg("-C")
        .arg(&dir)
        .arg("./etc/passwd")
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("etc/passwd")
}

fn commit_keeps_changes_and_deletions(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo new > /newfile; rm /etc/group",
    ]);
    let id = ctx.ok(&[
        "commit",
        "-m",
        "a change",
        "-a",
        "tester",
        "-c",
        "ENV COMMITTED=yes",
        "changer",
        "img2:latest",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(ctx.ok(&["run", "--rm", "img2", "cat", "/newfile"]), "new\n");
    let out = ctx.berth(&["run", "--rm", "img2", "cat", "/etc/group"]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "the deleted file is gone: {}",
        stdout(&out)
    );
    assert!(ctx
        .ok(&["run", "--rm", "img2", "env"])
        .contains("COMMITTED=yes"));
    assert_eq!(
        ctx.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}",
            "img2"
        ]),
        "tester|a change|2\n"
    );
    ctx.ok(&["rm", "changer"]);
    ctx.ok(&["rmi", "img2"]);
    // A running container is paused while committed, then runs on.
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "livecommit",
        "busybox",
        "sh",
        "-c",
        "echo live > /live; sleep 100",
    ]);
    crate::harness::wait_until(
        "/live to be written",
        std::time::Duration::from_secs(10),
        || {
            ctx.berth(&["exec", "livecommit", "test", "-s", "/live"])
                .status
                .success()
        },
    );
    ctx.ok(&["commit", "livecommit", "img3:1"]);
    assert_eq!(
        ctx.ok(&["inspect", "-f", "{{.State.Status}}", "livecommit"]),
        "running\n"
    );
    assert_eq!(
        ctx.ok(&["run", "--rm", "--entrypoint", "cat", "img3:1", "/live"]),
        "live\n"
    );
    ctx.ok(&["rm", "-f", "livecommit"]);
    ctx.ok(&["rmi", "img3:1"]);
}

fn export_is_a_flat_tar(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "exported",
        "busybox",
        "sh",
        "-c",
        "echo hi > /marker",
    ]);
    let out = ctx.dir.path().join("exported.tar");
    ctx.ok(&["export", "-o", out.to_str().expect("utf8"), "exported"]);
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&out)
        .output()
        .expect("tar");
    let names = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "marker"),
        "{names}"
    );
    assert!(
        names
            .lines()
            .any(|l| l.trim_start_matches("./") == "bin/busybox"),
        "{names}"
    );
    assert!(!names.contains(".wh."), "no whiteouts in an export");
    ctx.ok(&["rm", "exported"]);
    assert!(
        ctx.our_mounts().is_empty(),
        "temporary rootfs mount left: {:?}",
        ctx.our_mounts()
    );
}

/// `cp` out of a container unpacks the archive as it arrives: copying a
/// 128 MiB file, the CLI stays far below the file's size. The files are
/// the caller's, whatever their owner in the container, as the docker CLI
/// leaves them.
fn cp_out_streams_and_leaves_files_to_the_caller(ctx: &Ctx) {
    let work = ctx.dir.path().join("cp-stream");
    std::fs::create_dir_all(&work).expect("work dir");
    let w = work.to_str().expect("utf8").to_string();
    ctx.ok(&["run", "-d", "--name", "cpbig", "busybox", "sh", "-c",
        "dd if=/dev/zero of=/big bs=1M count=128 2>/dev/null && mkdir /d && echo x > /d/f && chown -R 1234:5678 /d && echo done > /ready && sleep 100"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while ctx.berth(&["exec", "cpbig", "cat", "/ready"]).status.code() != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the file was never written"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut child = std::process::Command::new(crate::harness::berth_bin())
        .args(["cp", "cpbig:/big", &w])
        .env("BERTH_HOST", ctx.host())
        .spawn()
        .expect("berth cp");
    // The CLI's high-water mark, sampled until it exits (it only grows).
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("waiting for cp") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    assert!(status.success(), "cp failed: {status}");
    let size = std::fs::metadata(work.join("big"))
        .expect("copied file")
        .len();
    assert_eq!(size, 128 << 20);
    assert!(
        peak_kib < 48 * 1024,
        "cp held {peak_kib} KiB for a 128 MiB file"
    );
    println!("    cp of 128 MiB: CLI peak RSS {peak_kib} KiB");

    ctx.ok(&["cp", "cpbig:/d", &w]);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(work.join("d/f")).expect("copied tree");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "owned by the caller (root here)"
    );
    ctx.ok(&["rm", "-f", "cpbig"]);
}

/// fuse-overlayfs mounts (and their servers) of this test's root.
fn fuse_mounts_and_servers(ctx: &Ctx) -> (usize, usize) {
    let root = ctx.root.to_str().expect("utf8");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("fuse-overlayfs") && l.contains(root))
        .count();
    let servers = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline);
            text.starts_with("fuse-overlayfs") && text.contains(root)
        })
        .count();
    (mounts, servers)
}

/// `--storage-driver fuse-overlayfs`: containers, their changes, commit,
/// cp from a stopped container and builds work as with the kernel's
/// overlay, and every mount and server goes with its container.
fn fuse_overlayfs_storage_driver(ctx: &Ctx) {
    // An unknown driver (and remapping, which needs the kernel's
    // overlayfs) is refused by name, before anything is made.
    crate::harness::assert_refused_start(
        &["--storage-driver", "vfs"],
        "storage driver \"vfs\" is not supported",
    );
    crate::harness::assert_refused_start(
        &[
            "--storage-driver",
            "fuse-overlayfs",
            "--userns-remap",
            "default",
        ],
        "--userns-remap needs the kernel's overlayfs",
    );

    ctx.with_daemon_flags(
        &["--storage-driver", "fuse-overlayfs"],
        || fuse_daemon_runs_everything(ctx),
        || {
            let _ = ctx.berth(&["rm", "-f", "fusebox"]);
        },
    );
}

/// Everything `fuse_overlayfs_storage_driver` checks on the fuse daemon.
fn fuse_daemon_runs_everything(ctx: &Ctx) {
    assert_eq!(
        ctx.ok(&["info", "--format", "{{.Driver}}"]),
        "fuse-overlayfs\n"
    );
    ctx.ok(&[
            "run",
            "-d",
            "--name",
            "fusebox",
            "busybox",
            "sh",
            "-c",
            "echo new > /newfile; rm /etc/group; rm -rf /home; mkdir /home; echo x > /home/only; sleep 300",
        ]);
    crate::harness::wait_until(
        "the container's changes",
        std::time::Duration::from_secs(10),
        || {
            ctx.berth(&["exec", "fusebox", "test", "-e", "/home/only"])
                .status
                .success()
        },
    );
    assert_eq!(
        fuse_mounts_and_servers(ctx),
        (1, 1),
        "one mount and server while running"
    );
    let diff = ctx.ok(&["diff", "fusebox"]);
    for line in ["A /newfile", "D /etc/group", "C /home", "A /home/only"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    ctx.ok(&["stop", "-t", "1", "fusebox"]);
    assert_eq!(
        fuse_mounts_and_servers(ctx).0,
        0,
        "the root goes with the container"
    );
    // cp from the stopped container mounts it for the copy only.
    let out = ctx.berth(&["cp", "fusebox:/newfile", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ctx.ok(&["commit", "fusebox", "fuse-img:latest"]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "fuse-img",
            "sh",
            "-c",
            "cat /newfile; ls /home; test -e /etc/group || echo gone"
        ]),
        "new\nonly\ngone\n"
    );
    ctx.build_dockerfile(
        "fuse-build",
        "FROM busybox:latest\nRUN echo built > /built && rm /etc/passwd\nCMD [\"sh\", \"-c\", \"cat /built; test -e /etc/passwd || echo no passwd\"]\n",
        "fuse-built",
    );
    assert_eq!(ctx.ok(&["run", "--rm", "fuse-built"]), "built\nno passwd\n");
    ctx.ok(&["rm", "-f", "fusebox"]);
    ctx.ok(&["rmi", "fuse-img", "fuse-built"]);
    crate::harness::wait_until(
        "every fuse-overlayfs server to end",
        std::time::Duration::from_secs(10),
        || fuse_mounts_and_servers(ctx) == (0, 0),
    );
}
