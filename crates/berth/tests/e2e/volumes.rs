//! Volumes, bind mounts and tmpfs through `-v`, `--mount` and `--tmpfs`.

use std::time::Duration;

use crate::harness::{stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "named_volume_persists_and_is_protected",
        named_volume_persists_and_is_protected,
    ),
    ("anonymous_volumes_and_rm_v", anonymous_volumes_and_rm_v),
    (
        "bind_mounts_both_ways_and_read_only",
        bind_mounts_both_ways_and_read_only,
    ),
    (
        "tmpfs_is_bounded_and_volatile",
        tmpfs_is_bounded_and_volatile,
    ),
    (
        "shared_volume_between_containers",
        shared_volume_between_containers,
    ),
    (
        "planted_symlink_mount_target_stays_inside",
        planted_symlink_mount_target_stays_inside,
    ),
    ("docker_cli_volumes", docker_cli_volumes),
    (
        "image_content_is_copied_into_fresh_volumes",
        image_content_is_copied_into_fresh_volumes,
    ),
    ("chown_volume_for_the_user", chown_volume_for_the_user),
    (
        "volumes_from_another_container",
        volumes_from_another_container,
    ),
    ("system_df_and_prune", system_df_and_prune),
];

fn named_volume_persists_and_is_protected(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/d",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /d/x",
    ]);
    assert_eq!(
        ctx.ok(&["run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/x"]),
        "1\n"
    );
    ctx.stop_daemon();
    ctx.start_daemon();
    assert_eq!(
        ctx.ok(&["run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/x"]),
        "1\n",
        "after a daemon restart"
    );
    ctx.ok(&[
        "run", "-d", "--name", "voluser", "-v", "data:/d", "busybox", "sleep", "100",
    ]);
    let out = ctx.berth(&["volume", "rm", "data"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    let mounts = ctx.ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
        "voluser",
    ]);
    assert_eq!(mounts, "volume data /d\n");
    ctx.ok(&["rm", "-f", "voluser"]);
    assert_eq!(ctx.ok(&["volume", "rm", "data"]), "data\n");
    assert!(
        !ctx.root.join("volumes/data").exists(),
        "the volume's directory is gone"
    );
    let out = ctx.berth(&["volume", "inspect", "data"]);
    assert_eq!(out.status.code(), Some(1));
}

fn anonymous_volumes_and_rm_v(ctx: &Ctx) {
    let before = ctx.ok(&["volume", "ls", "-q"]);
    ctx.ok(&[
        "run",
        "--name",
        "anon1",
        "-v",
        "/cache",
        "busybox",
        "sh",
        "-c",
        "echo a > /cache/f",
    ]);
    let after = ctx.ok(&["volume", "ls", "-q"]);
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    ctx.ok(&["rm", "-v", "anon1"]);
    assert_eq!(
        ctx.ok(&["volume", "ls", "-q"]),
        before,
        "rm -v removed the anonymous volume"
    );
    ctx.ok(&["run", "--name", "anon2", "-v", "/cache", "busybox", "true"]);
    ctx.ok(&["rm", "anon2"]);
    let dangling = ctx.ok(&["volume", "ls", "-q", "-f", "dangling=true"]);
    assert_eq!(
        dangling.lines().count(),
        1,
        "without -v the volume stays, dangling: {dangling}"
    );
    ctx.ok(&["volume", "prune", "-f"]);
    assert_eq!(ctx.ok(&["volume", "ls", "-q"]), before);
    // --rm removes the anonymous volumes too.
    ctx.ok(&["run", "--rm", "-v", "/cache", "busybox", "true"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ctx.ok(&["volume", "ls", "-q"]), before);
}

fn bind_mounts_both_ways_and_read_only(ctx: &Ctx) {
    let host = ctx.dir.path().join("bind-src");
    let h = host.to_str().expect("utf8").to_string();
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "binder",
        "-v",
        &format!("{h}:/h"),
        "busybox",
        "sleep",
        "100",
    ]);
    assert!(host.is_dir(), "-v creates a missing host directory");
    std::fs::write(host.join("from-host"), "host\n").expect("host write");
    assert_eq!(ctx.ok(&["exec", "binder", "cat", "/h/from-host"]), "host\n");
    ctx.ok(&["exec", "binder", "sh", "-c", "echo ctr > /h/from-ctr"]);
    assert_eq!(
        std::fs::read_to_string(host.join("from-ctr")).expect("container write"),
        "ctr\n"
    );
    ctx.ok(&["rm", "-f", "binder"]);
    let out = ctx.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{h}:/h:ro"),
        "busybox",
        "sh",
        "-c",
        "echo x > /h/nope",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={h}/missing,target=/m"),
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("bind source path does not exist"),
        "{}",
        stderr(&out)
    );
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={h},target=/m,readonly"),
        "busybox",
        "cat",
        "/m/from-host",
    ]);
    assert_eq!(out, "host\n");
}

fn tmpfs_is_bounded_and_volatile(ctx: &Ctx) {
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/t/f",
        "bs=1k",
        "count=2048",
    ]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a 2 MiB write into a 1 MiB tmpfs fails"
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=1m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/t/f",
        "bs=1k",
        "count=2048",
    ]);
    assert_ne!(out.status.code(), Some(0));
    ctx.ok(&[
        "run",
        "--name",
        "tmpfsbox",
        "--tmpfs",
        "/t",
        "busybox",
        "sh",
        "-c",
        "echo keep > /t/f",
    ]);
    ctx.ok(&["start", "-a", "tmpfsbox"]);
    let out = ctx.berth(&[
        "cp",
        "tmpfsbox:/t/f",
        ctx.dir.path().to_str().expect("utf8"),
    ]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "tmpfs content does not outlive the run"
    );
    ctx.ok(&["rm", "tmpfsbox"]);
}

fn shared_volume_between_containers(ctx: &Ctx) {
    ctx.ok(&["volume", "create", "shared"]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "writer",
        "-v",
        "shared:/s",
        "busybox",
        "sh",
        "-c",
        "echo from-writer > /s/w; sleep 100",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        ctx.ok(&["run", "--rm", "-v", "shared:/s", "busybox", "cat", "/s/w"]),
        "from-writer\n"
    );
    ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=shared,target=/s",
        "busybox",
        "sh",
        "-c",
        "echo from-reader > /s/r",
    ]);
    assert_eq!(ctx.ok(&["exec", "writer", "cat", "/s/r"]), "from-reader\n");
    ctx.ok(&["rm", "-f", "writer"]);
    ctx.ok(&["volume", "rm", "shared"]);
}

fn planted_symlink_mount_target_stays_inside(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "planter",
        "busybox",
        "sh",
        "-c",
        "ln -s /etc /data; ln -s ../../.. /up",
    ]);
    ctx.ok(&["commit", "planter", "planted:1"]);
    ctx.ok(&["rm", "planter"]);
    let host_passwd = std::fs::read("/etc/passwd").expect("host passwd");
    ctx.ok(&[
        "run",
        "--rm",
        "-v",
        "evil:/data",
        "planted:1",
        "sh",
        "-c",
        "echo pwned > /data/passwd-evil",
    ]);
    ctx.ok(&[
        "run",
        "--rm",
        "-v",
        "evil2:/up/tmp/escape",
        "planted:1",
        "sh",
        "-c",
        "echo pwned > /up/tmp/escape/f",
    ]);
    assert!(
        !std::path::Path::new("/etc/passwd-evil").exists(),
        "a mount through /data -> /etc reached the host"
    );
    assert!(
        !std::path::Path::new("/tmp/escape").exists(),
        "a mount through ../../.. reached the host"
    );
    assert_eq!(
        std::fs::read("/etc/passwd").expect("host passwd"),
        host_passwd
    );
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "evil:/data",
            "busybox",
            "cat",
            "/data/passwd-evil"
        ]),
        "pwned\n",
        "the write went into the volume"
    );
    ctx.ok(&["volume", "rm", "evil", "evil2"]);
    ctx.ok(&["rmi", "planted:1"]);
}

fn docker_cli_volumes(ctx: &Ctx) {
    let docker = "/usr/local/bin/docker";
    if !std::path::Path::new(docker).exists() {
        println!("    (skipped: {docker} is not installed)");
        return;
    }
    let config = ctx.dir.path().join("docker-config");
    std::fs::create_dir_all(&config).expect("config");
    let run = |args: &[&str]| {
        std::process::Command::new(docker)
            .args(args)
            .env("DOCKER_HOST", ctx.host())
            .env("DOCKER_CONFIG", &config)
            .output()
            .expect("docker")
    };
    assert_eq!(
        stdout(&run(&["volume", "create", "--label", "k=v", "dvol"])),
        "dvol\n"
    );
    let ls = run(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(stdout(&ls).lines().any(|l| l == "dvol"), "{}", stdout(&ls));
    let inspect = run(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} {{.Labels.k}}",
        "dvol",
    ]);
    assert_eq!(stdout(&inspect), "local v\n", "{}", stderr(&inspect));
    let w = run(&[
        "run",
        "--rm",
        "-v",
        "dvol:/d",
        "busybox",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]);
    assert!(w.status.success(), "{}", stderr(&w));
    let r = run(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=dvol,target=/d,readonly",
        "busybox",
        "cat",
        "/d/f",
    ]);
    assert_eq!(stdout(&r), "hi\n", "{}", stderr(&r));
    let rm = run(&["volume", "rm", "dvol"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    let anon = run(&[
        "run", "-v", "/scratch", "--name", "danon", "busybox", "true",
    ]);
    assert!(anon.status.success(), "{}", stderr(&anon));
    assert!(run(&["rm", "danon"]).status.success());
    let prune = run(&["volume", "prune", "-f"]);
    assert!(prune.status.success(), "{}", stderr(&prune));
    assert!(
        stdout(&prune).contains("Total reclaimed space"),
        "{}",
        stdout(&prune)
    );
}

fn image_content_is_copied_into_fresh_volumes(ctx: &Ctx) {
    ctx.ok(&[
        "run",
        "--name",
        "volsrc",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /var/lib/app && echo seed > /var/lib/app/seed && chown 33:33 /var/lib/app/seed",
    ]);
    ctx.ok(&["commit", "-c", "VOLUME /var/lib/app", "volsrc", "volimg:1"]);
    ctx.ok(&["rm", "volsrc"]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "volimg:1",
            "stat",
            "-c",
            "%u %n",
            "/var/lib/app/seed"
        ]),
        "33 /var/lib/app/seed\n"
    );
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "seeded:/var/lib/app",
            "volimg:1",
            "cat",
            "/var/lib/app/seed"
        ]),
        "seed\n"
    );
    // A volume with content is never overwritten.
    ctx.ok(&[
        "run",
        "--rm",
        "-v",
        "seeded:/var/lib/app",
        "volimg:1",
        "sh",
        "-c",
        "echo mine > /var/lib/app/seed",
    ]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "seeded:/var/lib/app",
            "volimg:1",
            "cat",
            "/var/lib/app/seed"
        ]),
        "mine\n"
    );
    // nocopy leaves it empty.
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "empty:/var/lib/app:nocopy",
            "volimg:1",
            "ls",
            "-A",
            "/var/lib/app"
        ]),
        ""
    );
    ctx.ok(&["volume", "rm", "seeded", "empty"]);
    ctx.ok(&["volume", "prune", "-f"]);
    ctx.ok(&["rmi", "volimg:1"]);
}

fn chown_volume_for_the_user(ctx: &Ctx) {
    let out = ctx.berth(&[
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "-v",
        "plain:/data",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a root-owned volume is not writable by uid 1000"
    );
    ctx.ok(&[
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "-v",
        "owned:/data:U",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "owned:/data",
            "busybox",
            "stat",
            "-c",
            "%u:%g",
            "/data/f"
        ]),
        "1000:1000\n"
    );
    ctx.ok(&[
        "run",
        "--rm",
        "-u",
        "www-data",
        "-v",
        "named:/data:U",
        "busybox",
        "touch",
        "/data/ok",
    ]);
    ctx.ok(&["volume", "rm", "plain", "owned", "named"]);
}

fn volumes_from_another_container(ctx: &Ctx) {
    ctx.ok(&[
        "create",
        "--name",
        "datasrc",
        "-v",
        "/shared",
        "-v",
        "vf-named:/named",
        "busybox",
        "true",
    ]);
    ctx.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "datasrc",
        "busybox",
        "sh",
        "-c",
        "echo a > /shared/f; echo b > /named/f",
    ]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "datasrc:ro",
            "busybox",
            "cat",
            "/shared/f",
            "/named/f"
        ]),
        "a\nb\n"
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "datasrc:ro",
        "busybox",
        "sh",
        "-c",
        "echo c > /shared/g",
    ]);
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["rm", "-v", "datasrc"]);
    ctx.ok(&["volume", "rm", "vf-named"]);
}

fn system_df_and_prune(ctx: &Ctx) {
    ctx.ok(&["volume", "create", "dfvol"]);
    ctx.ok(&[
        "run",
        "-v",
        "dfvol:/d",
        "--name",
        "dfbox",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/d/f bs=1k count=100 2>/dev/null",
    ]);
    let df = ctx.ok(&["system", "df"]);
    let lines: Vec<&str> = df.lines().collect();
    assert!(
        lines[0].starts_with("TYPE") && lines[0].contains("RECLAIMABLE"),
        "{df}"
    );
    assert!(lines.iter().any(|l| l.starts_with("Images")), "{df}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Local Volumes") && l.contains("102.4kB")),
        "{df}"
    );
    let verbose = ctx.ok(&["system", "df", "-v"]);
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("dfvol") && l.contains(" 1 ")),
        "{verbose}"
    );
    ctx.ok(&["tag", "busybox", "prunable:1"]);
    ctx.ok(&["rmi", "prunable:1"]);
    let out = ctx.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(
        ctx.ok(&["ps", "-aq", "--filter", "name=dfbox"]).is_empty(),
        "stopped containers pruned"
    );
    assert_eq!(
        ctx.ok(&["volume", "ls", "-q", "-f", "name=dfvol"]),
        "dfvol\n",
        "named volumes survive a prune"
    );
    assert!(
        ctx.ok(&["images", "-q", "busybox"]).trim().len() == 12,
        "tagged images survive without -a"
    );
    ctx.ok(&["volume", "rm", "dfvol"]);
}
