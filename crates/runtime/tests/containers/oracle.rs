//! Oracle test: Debian's `runc` runs the same `config.json`, and what the
//! container sees must match what it sees under our monitor.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::fixture::{build_rootfs, run, Fixture, Run};
use berth_runtime::spec::{build_spec, to_json};

/// What a container reports about itself (stable across runtimes).
const PROBE: &str = "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id; hostname; echo pid=$$; \
    pwd; umask; env | sort; cat /sys/class/net/lo/flags; \
    ls -A /dev | sort | tr '\\n' ' '; echo; \
    awk '{print $2, $3}' /proc/mounts | sort; \
    for p in /proc/keys /proc/kcore /proc/acpi /sys/firmware /proc/sys /proc/bus; do \
      [ -e $p ] && grep \" $p \" /proc/mounts | cut -d' ' -f2,3 | head -1; done; true";

fn runc_available() -> bool {
    Command::new("runc")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn run_runc(fx: &Fixture, name: &str, user: &str) -> String {
    let dir = fx.path().join("oracle").join(name);
    let rootfs = dir.join("rootfs");
    let bundle = dir.join("bundle");
    build_rootfs(&rootfs);
    std::fs::create_dir_all(&bundle).unwrap();
    let mut r = Run::new("unused", fx, &["sh", "-c", PROBE]);
    r.opts.user = user.to_string();
    r.opts.rootfs = rootfs;
    let spec = build_spec(&r.opts).unwrap();
    std::fs::write(bundle.join("config.json"), to_json(&spec).unwrap()).unwrap();
    let state = dir.join("state");
    let id = format!("berth-oracle-{name}-{}", std::process::id());
    let out = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // Best effort: the container is gone, but its state may not be.
    let _ = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", &id])
        .output();
    assert!(
        out.status.success(),
        "runc failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_ours(fx: &Fixture, name: &'static str, user: &str) -> String {
    let mut r = Run::new(name, fx, &["sh", "-c", PROBE]);
    r.opts.user = user.to_string();
    r.lower = None;
    let out = run(fx, r);
    assert_eq!(out.exit_code(), 0, "stderr: {}", out.stream("stderr"));
    out.stdout()
}

fn compare(ours: &str, theirs: &str, what: &str) {
    if ours == theirs {
        return;
    }
    let mut report = String::new();
    for line in ours.lines().filter(|l| !theirs.lines().any(|t| t == *l)) {
        report.push_str(&format!("  only berth: {line}\n"));
    }
    for line in theirs.lines().filter(|l| !ours.lines().any(|o| o == *l)) {
        report.push_str(&format!("  only runc:  {line}\n"));
    }
    panic!("{what}: berth and runc disagree\n{report}--- berth\n{ours}--- runc\n{theirs}");
}

pub fn runc_oracle(fx: &Fixture) {
    assert!(
        runc_available(),
        "runc_oracle cannot run: runc is not installed (scripts/deps.sh installs it; apt-get install runc)"
    );
    assert!(Path::new("/bin/busybox").exists());
    for (name, user) in [("oracle-root", ""), ("oracle-uid", "1000:1000")] {
        let ours = run_ours(fx, name, user);
        let theirs = run_runc(fx, name, user);
        compare(&ours, &theirs, name);
    }
}
