//! `berth daemon --userns-remap default`: the shared daemon restarted with
//! Docker's remapping, its containers' root is an unprivileged host id,
//! files keep the container's ids on disk, and `--userns host` opts out.
//! `dockremap` is made by the daemon when missing and removed again here
//! if the test's daemon made it.

use std::os::unix::fs::MetadataExt;

use crate::harness::{stderr, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[("userns_remap_default", userns_remap_default)];

const USER: &str = "dockremap";

fn user_exists() -> bool {
    std::process::Command::new("id")
        .arg(USER)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The first range `/etc/subuid` gives `dockremap`.
fn first_range() -> (u32, u32) {
    let text = std::fs::read_to_string("/etc/subuid").expect("/etc/subuid");
    text.lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == USER).then_some(())?;
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .expect("the daemon gave dockremap a subordinate range")
}

fn userns_remap_default(ctx: &Ctx) {
    // An unknown remap user is refused by name, before anything is made.
    crate::harness::assert_refused_start(
        &["--userns-remap", "berth-e2e-no-such-user"],
        "no user \"berth-e2e-no-such-user\"",
    );

    let made_user = !user_exists();
    let cleanup = || {
        let _ = ctx.berth(&["rm", "-f", "remapped", "remap-web"]);
        let _ = ctx.berth(&["volume", "rm", "remap-vol"]);
    };
    let removed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.with_daemon_flags(&["--userns-remap", "default"], || remapped(ctx), cleanup)
    }));
    if made_user {
        let out = std::process::Command::new("userdel")
            .arg(USER)
            .output()
            .expect("userdel");
        assert!(out.status.success(), "userdel: {}", stderr(&out));
    }
    if let Err(e) = removed {
        std::panic::resume_unwind(e);
    }
}

fn remapped(ctx: &Ctx) {
    assert!(user_exists(), "the daemon made {USER}");
    let (start, size) = first_range();
    assert_eq!(size, 65536);
    let info = ctx.ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=userns"), "{info}");

    // Root inside, the first subordinate id outside.
    assert_eq!(
        ctx.ok(&["run", "--rm", "busybox", "cat", "/proc/self/uid_map"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", &start.to_string(), "65536"]
    );
    let host_dir = ctx.dir.path().join("remap-bind");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::set_permissions(
        &host_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let bind = format!("{}:/h", host_dir.display());
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "remapped",
        "-v",
        &bind,
        "-v",
        "remap-vol:/data",
        "busybox",
        "sh",
        "-c",
        "echo r > /h/byroot; echo u > /h/byuser; chown 1000:1000 /h/byuser; \
         echo v > /data/f; chown 33:33 /data/f; echo n > /newf; chown 7 /newf; \
         echo x >> /etc/hosts; touch /ready; sleep 300",
    ]);
    crate::harness::wait_until(
        "the remapped container's writes",
        std::time::Duration::from_secs(10),
        || {
            ctx.berth(&["exec", "remapped", "test", "-e", "/ready"])
                .status
                .success()
        },
    );
    // Nothing of the container runs as root on the host.
    let pid = ctx.ok(&["inspect", "-f", "{{.State.Pid}}", "remapped"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    let start_text = start.to_string();
    assert_eq!(
        uid_line.split_whitespace().skip(1).collect::<Vec<_>>(),
        [start_text.as_str(); 4],
        "{uid_line}"
    );
    // A bind mount shows the shifted ids on the host.
    let owner = |p: &std::path::Path| {
        let m = std::fs::metadata(p).expect("metadata");
        (m.uid(), m.gid())
    };
    assert_eq!(owner(&host_dir.join("byroot")), (start, start));
    assert_eq!(
        owner(&host_dir.join("byuser")),
        (start + 1000, start + 1000)
    );
    // exec joins the container's user namespace; --user maps too.
    assert_eq!(ctx.ok(&["exec", "remapped", "id", "-u"]), "0\n");
    assert_eq!(
        ctx.ok(&["exec", "-u", "1000", "remapped", "id", "-u"]),
        "1000\n"
    );
    assert_eq!(
        ctx.ok(&["exec", "remapped", "stat", "-c", "%u:%g", "/data/f", "/newf"]),
        "33:33\n7:0\n"
    );
    // The writable layer and the volume keep the container's ids on disk,
    // so diff, commit and images are as without remapping.
    let vol = ctx.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "remap-vol"]);
    assert_eq!(owner(&std::path::Path::new(vol.trim()).join("f")), (33, 33));
    let diff = ctx.ok(&["diff", "remapped"]);
    assert!(diff.lines().any(|l| l == "A /newf"), "{diff}");
    // Copying out of a running remapped container is refused clearly.
    let out = ctx.berth(&["cp", "remapped:/newf", "-"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not supported yet with --userns-remap"),
        "{}",
        stderr(&out)
    );
    ctx.ok(&["stop", "-t", "1", "remapped"]);
    let out = ctx.berth(&["cp", "remapped:/newf", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ctx.ok(&["commit", "remapped", "remap-img:latest"]);
    assert_eq!(
        ctx.ok(&["run", "--rm", "remap-img", "stat", "-c", "%u", "/newf"]),
        "7\n"
    );
    ctx.ok(&["rmi", "remap-img"]);

    // A published port below 1024 inside and a DNS name on a user network.
    ctx.ok(&[
        "run",
        "-d",
        "--name",
        "remap-web",
        "-p",
        "127.0.0.1:18292:80",
        "busybox",
        "sh",
        "-c",
        "echo hello > /index.html; httpd -f -p 80 -h /",
    ]);
    crate::harness::wait_until(
        "the remapped web server",
        std::time::Duration::from_secs(10),
        || {
            std::process::Command::new("curl")
                .args(["-sf", "-m", "2", "http://127.0.0.1:18292/index.html"])
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout == b"hello\n")
        },
    );
    assert_eq!(
        ctx.ok(&["run", "--rm", "busybox", "ls", "/sys/class/net"]),
        "eth0\nlo\n",
        "sysfs shows the container's network namespace"
    );

    // A build's RUN steps run remapped too.
    ctx.build_dockerfile(
        "remap-build",
        "FROM busybox:latest\nRUN echo built > /built && chown 1000 /built && cat /proc/self/uid_map > /map\n",
        "remap-built",
    );
    let out = ctx.ok(&[
        "run",
        "--rm",
        "--userns",
        "host",
        "remap-built",
        "sh",
        "-c",
        "stat -c %u /built; cat /map; cat /proc/self/uid_map",
    ]);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "1000",
            "0",
            &start.to_string(),
            "65536",
            "0",
            "0",
            "4294967295"
        ],
        "{out}"
    );
    ctx.ok(&["rmi", "remap-built"]);

    // What needs the host's ids is refused, as Docker refuses it.
    for (args, says) in [
        (
            &["--privileged"][..],
            "privileged mode is incompatible with user namespaces",
        ),
        (
            &["--network", "host"][..],
            "cannot share the host's network namespace",
        ),
        (
            &["--pid", "host"][..],
            "cannot share the host PID namespace",
        ),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["busybox", "true"]);
        let out = ctx.berth(&full);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    ctx.ok(&[
        "run",
        "--rm",
        "--userns",
        "host",
        "--privileged",
        "busybox",
        "true",
    ]);
}
