//! `berth system check [--repair]` against the shared daemon, with
//! problems planted in its root and in the kernel (a blob, a mount, a
//! cgroup, a firewall rule).

use crate::harness::{stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[(
    "system_check_finds_and_repairs_planted_problems",
    system_check_finds_and_repairs_planted_problems,
)];

fn system_check_finds_and_repairs_planted_problems(ctx: &Ctx) {
    // A blob no image uses, as a crash between writing a blob and the
    // image record would leave.
    let content = b"planted by the system check test";
    let hex = sha256_hex(content);
    let blob = ctx.root.join("image/blobs/sha256").join(&hex);
    std::fs::write(&blob, content).expect("plant blob");
    // A mount left on an exited container's root filesystem.
    let id = ctx.ok(&["create", "busybox", "true"]).trim().to_string();
    ctx.ok(&["start", "-a", &id]);
    let rootfs = ctx.containers_root().join(&id).join("bundle/rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs dir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "planted", &rootfs.to_string_lossy()])
        .status()
        .expect("mount");
    assert!(mounted.success());
    // A cgroup no container owns, in every hierarchy the daemon's parent
    // cgroup has (the container above made them).
    let strays: Vec<std::path::PathBuf> = ctx
        .our_cgroups()
        .into_iter()
        .map(|parent| parent.join("0123456789abcdef-planted"))
        .collect();
    assert!(!strays.is_empty(), "the daemon's parent cgroup exists");
    for d in &strays {
        std::fs::create_dir_all(d).expect("plant cgroup");
    }

    // A rule added to the daemon's table behind its back.
    let table = ctx.nft_table();
    let added = std::process::Command::new("nft")
        .args(["add", "rule", "ip", &table, "forward"])
        .args(["iifname", "\"planted0\"", "drop"])
        .status()
        .expect("nft");
    assert!(added.success());

    let found = ctx.berth(&["system", "check"]);
    let text = stdout(&found);
    assert_eq!(found.status.code(), Some(1), "{text}");
    for want in [
        format!("blob sha256:{hex}: no image uses it"),
        format!(
            "cgroup {}/0123456789abcdef-planted: no container owns it",
            ctx.cgroup_parent()
        ),
        format!("mount {}: its container is not running", rootfs.display()),
        format!(
            "firewall table ip {table}: differs from the records: 0 line(s) missing, \
             1 not recorded; not recorded `iifname \"planted0\" drop`"
        ),
    ] {
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }

    let repaired = ctx.berth(&["system", "check", "--repair", "--deep"]);
    let text = stdout(&repaired);
    assert_eq!(repaired.status.code(), Some(0), "{text}");
    assert!(text.contains("all repaired"), "{text}");
    assert!(!blob.exists(), "the stray blob is removed");
    assert!(
        strays.iter().all(|d| !d.exists()),
        "the stray cgroup is removed"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(&*rootfs.to_string_lossy()),
        "the stale mount is gone"
    );
    let listed = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .expect("nft");
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("planted0"),
        "the planted rule is gone"
    );
    let again = ctx.berth(&["system", "check", "--deep"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("No problems found."));
    ctx.ok(&["rm", &id]);
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}
