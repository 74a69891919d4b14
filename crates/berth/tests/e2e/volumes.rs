//! Volumes, bind mounts and tmpfs through `-v`, `--mount` and `--tmpfs`.

use std::time::Duration;

use crate::harness::{stderr, stdout, wait_until, Ctx, TestFn};

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
    (
        "local_driver_options_tmpfs_and_bind",
        local_driver_options_tmpfs_and_bind,
    ),
    (
        "bind_propagation_and_recursive_readonly",
        bind_propagation_and_recursive_readonly,
    ),
];

/// Host mounts a test makes (tmpfs at its paths), unmounted in reverse
/// order when the test ends, however it ends.
struct HostMounts(Vec<std::path::PathBuf>);

impl HostMounts {
    fn tmpfs(&mut self, path: &std::path::Path, propagation: &str) {
        std::fs::create_dir_all(path).expect("mount point");
        let p = path.to_str().expect("utf8");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "berth-test", p])
            .status()
            .expect("mount")
            .success();
        assert!(ok, "mounting a tmpfs on {p}");
        self.0.push(path.to_path_buf());
        let ok = std::process::Command::new("mount")
            .args([&format!("--make-{propagation}"), p])
            .status()
            .expect("mount --make")
            .success();
        assert!(ok, "mount --make-{propagation} {p}");
    }
}

impl Drop for HostMounts {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn is_mount_point(path: &std::path::Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let p = path.to_str().expect("utf8");
    info.lines().any(|l| l.split(' ').nth(4) == Some(p))
}

fn local_driver_options_tmpfs_and_bind(ctx: &Ctx) {
    let bad = ctx.berth(&["volume", "create", "-o", "colour=red", "badopt"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("invalid option: \"colour\""),
        "{}",
        stderr(&bad)
    );
    let bad = ctx.berth(&["volume", "create", "-o", "type=tmpfs", "badopt"]);
    assert!(
        stderr(&bad).contains("missing required option: \"device\""),
        "{}",
        stderr(&bad)
    );
    assert!(ctx.berth(&["volume", "inspect", "badopt"]).status.code() == Some(1));

    // tmpfs: bounded, shared by the containers using it, gone with the last.
    ctx.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    let opts = ctx.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Options.type}} {{.Options.o}}",
        "tv",
    ]);
    assert_eq!(opts, "tmpfs size=1m\n");
    let data = ctx.root.join("volumes/tv/_data");
    ctx.ok(&[
        "run", "-d", "--name", "tv1", "-v", "tv:/t", "busybox", "sleep", "100",
    ]);
    assert!(
        is_mount_point(&data),
        "the tmpfs is mounted on the volume's _data"
    );
    let big = ctx.berth(&[
        "exec",
        "tv1",
        "dd",
        "if=/dev/zero",
        "of=/t/big",
        "bs=1024",
        "count=2048",
    ]);
    assert_ne!(
        big.status.code(),
        Some(0),
        "a 2 MiB write into a 1m tmpfs volume fails"
    );
    ctx.ok(&[
        "exec",
        "tv1",
        "sh",
        "-c",
        "rm -f /t/big; echo shared > /t/a",
    ]);
    assert_eq!(
        ctx.ok(&["run", "--rm", "-v", "tv:/t", "busybox", "cat", "/t/a"]),
        "shared\n",
        "a second container sees the same tmpfs"
    );
    ctx.kill_daemon();
    ctx.start_daemon();
    assert!(
        is_mount_point(&data),
        "a daemon restart keeps the running container's volume"
    );
    assert_eq!(ctx.ok(&["exec", "tv1", "cat", "/t/a"]), "shared\n");
    ctx.ok(&["rm", "-f", "tv1"]);
    assert!(
        !is_mount_point(&data),
        "unmounted when its last container went"
    );
    assert_eq!(
        ctx.ok(&["run", "--rm", "-v", "tv:/t", "busybox", "ls", "/t"]),
        ""
    );
    ctx.ok(&["volume", "rm", "tv"]);

    // type=none,o=bind: a host directory as a named volume; removing the
    // volume never touches the directory's content.
    let host = ctx.dir.path().join("bind-volume");
    std::fs::create_dir_all(&host).expect("host dir");
    std::fs::write(host.join("f"), "from host\n").expect("host file");
    let h = host.to_str().expect("utf8");
    ctx.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &format!("device={h}"),
        "-o",
        "o=bind",
        "bv",
    ]);
    assert_eq!(
        ctx.ok(&[
            "run",
            "--rm",
            "-v",
            "bv:/b",
            "busybox",
            "sh",
            "-c",
            "cat /b/f; echo ctr > /b/g"
        ]),
        "from host\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("g")).expect("written through the volume"),
        "ctr\n"
    );
    ctx.ok(&["volume", "rm", "bv"]);
    assert!(
        host.join("f").exists() && host.join("g").exists(),
        "the bound directory keeps its files"
    );

    // --mount volume-opt and volume-label create the volume with them.
    let out = ctx.ok(&[
        "run", "--rm", "--mount",
        "type=volume,src=mv,dst=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\"volume-opt=o=size=2m,mode=0700\",volume-label=team=a",
        "busybox", "sh", "-c", "stat -c %a /m; grep ' /m ' /proc/mounts | cut -d' ' -f3",
    ]);
    assert_eq!(out, "700\ntmpfs\n");
    assert_eq!(
        ctx.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Labels.team}} {{.Options.o}}",
            "mv"
        ]),
        "a size=2m,mode=0700\n"
    );
    ctx.ok(&["volume", "rm", "mv"]);
}

fn bind_propagation_and_recursive_readonly(ctx: &Ctx) {
    let mut mounts = HostMounts(Vec::new());
    let shared = ctx.dir.path().join("prop-shared");
    mounts.tmpfs(&shared, "shared");
    std::fs::create_dir_all(shared.join("sub")).expect("sub");
    let s = shared.to_str().expect("utf8");
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "pslave",
        "--mount",
        &format!("type=bind,source={s},target=/p,bind-propagation=rslave"),
        "busybox",
        "sleep",
        "100",
    ]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "pprivate",
        "-v",
        &format!("{s}:/q"),
        "busybox",
        "sleep",
        "100",
    ]);
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "pshared",
        "--privileged",
        "-v",
        &format!("{s}:/s:rshared"),
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(
        ctx.ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Propagation}}{{end}}",
            "pslave"
        ]),
        "rslave\n"
    );
    // A mount made on the host later reaches the slave and shared binds,
    // not the private one.
    mounts.tmpfs(&shared.join("sub"), "private");
    std::fs::write(shared.join("sub/f"), "late\n").expect("write");
    assert_eq!(ctx.ok(&["exec", "pslave", "cat", "/p/sub/f"]), "late\n");
    assert_eq!(ctx.ok(&["exec", "pshared", "cat", "/s/sub/f"]), "late\n");
    let private = ctx.berth(&["exec", "pprivate", "cat", "/q/sub/f"]);
    assert_ne!(
        private.status.code(),
        Some(0),
        "rprivate does not receive host mounts"
    );
    // A mount made in the rshared container reaches the host; its unmount too.
    ctx.ok(&[
        "exec",
        "pshared",
        "sh",
        "-c",
        "mkdir -p /s/fromctr && mount -t tmpfs none /s/fromctr && echo c > /s/fromctr/x",
    ]);
    let fromctr = shared.join("fromctr");
    assert!(
        is_mount_point(&fromctr),
        "the container's mount propagated to the host"
    );
    assert_eq!(
        std::fs::read_to_string(fromctr.join("x")).expect("propagated file"),
        "c\n"
    );
    ctx.ok(&["exec", "pshared", "umount", "/s/fromctr"]);
    assert!(
        !is_mount_point(&fromctr),
        "the container's unmount propagated too"
    );
    // A mount made in the slave container stays inside it.
    ctx.ok(&["exec", "pslave", "true"]);
    ctx.ok(&["rm", "-f", "pslave", "pprivate", "pshared"]);
    assert!(
        is_mount_point(&shared.join("sub")),
        "removing containers left the host's mounts alone"
    );

    // shared propagation needs a shared host mount, as Docker checks.
    let lonely = ctx.dir.path().join("prop-private");
    mounts.tmpfs(&lonely, "private");
    let l = lonely.to_str().expect("utf8");
    let out = ctx.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{l}:/x:rshared"),
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("is not a shared mount"),
        "{}",
        stderr(&out)
    );
    let out = ctx.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{l}:/x:rslave"),
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("is not a shared or slave mount"),
        "{}",
        stderr(&out)
    );

    // Read-only binds are read-only recursively; writable and disabled as Docker.
    let nest = ctx.dir.path().join("rro");
    mounts.tmpfs(&nest, "private");
    mounts.tmpfs(&nest.join("inner"), "private");
    let n = nest.to_str().expect("utf8");
    let out = ctx.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{n}:/r:ro"),
        "busybox",
        "touch",
        "/r/inner/f",
    ]);
    assert!(
        stderr(&out).contains("Read-only file system"),
        "a submount of a ro bind is ro: {}",
        stderr(&out)
    );
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={n},dst=/r,readonly,bind-recursive=writable"),
        "busybox",
        "sh",
        "-c",
        "touch /r/inner/f && echo inner-ok; touch /r/top 2>/dev/null || echo top-ro",
    ]);
    assert_eq!(out, "inner-ok\ntop-ro\n");
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={n},dst=/r,bind-recursive=disabled"),
        "busybox",
        "ls",
        "/r/inner",
    ]);
    assert_eq!(out, "", "without recursion the submount is not carried");
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={n},dst=/r,readonly,bind-recursive=readonly"),
        "busybox",
        "sh",
        "-c",
        "ls /r/inner; touch /r/inner/g 2>/dev/null || echo ro",
    ]);
    assert_eq!(out, "f\nro\n");
}

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
    wait_until(
        "--rm to remove the anonymous volume",
        Duration::from_secs(5),
        || ctx.ok(&["volume", "ls", "-q"]) == before,
    );
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
    wait_until("the writer to write /s/w", Duration::from_secs(10), || {
        ctx.berth(&["exec", "writer", "test", "-s", "/s/w"])
            .status
            .success()
    });
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
    let docker = crate::harness::docker_cli();
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
