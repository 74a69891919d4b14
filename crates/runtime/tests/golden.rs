//! Golden tests of the OCI spec built for a container.
//!
//! Set `BERTH_BLESS=1` to rewrite the golden files after an intended change.

#![allow(clippy::unwrap_used)] // test code

use std::path::PathBuf;

use std::collections::BTreeMap;

use berth_runtime::spec::{
    build_spec_with, to_json, FixedHost, NsMode, Resources, Seccomp, SpecOptions, Ulimit,
};

fn check(name: &str, opts: &SpecOptions) {
    let spec = build_spec_with(opts, &FixedHost::default()).unwrap();
    let text = to_json(&spec).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    if std::env::var_os("BERTH_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BERTH_BLESS=1)", path.display()));
    assert_eq!(text, want, "spec differs from {}", path.display());
    // What we write, oci-spec (and so the monitor) reads back unchanged.
    let back: oci_spec::runtime::Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn default_container() {
    check(
        "spec_default",
        &SpecOptions {
            args: vec!["echo".into(), "hello".into()],
            hostname: "0123456789ab".into(),
            rootfs: "/var/lib/berth/containers/0123456789ab/rootfs".into(),
            ..Default::default()
        },
    );
}

#[test]
fn user_cwd_env_and_no_new_privileges() {
    check(
        "spec_user",
        &SpecOptions {
            args: vec!["sh".into(), "-c".into(), "id".into()],
            env: vec!["PATH=/bin".into(), "A=b=c".into()],
            cwd: "/app".into(),
            user: "bob:staff".into(),
            hostname: "web".into(),
            no_new_privileges: true,
            rootfs: "/r".into(),
            ..Default::default()
        },
    );
}

#[test]
fn numeric_user() {
    check(
        "spec_numeric_user",
        &SpecOptions {
            args: vec!["id".into()],
            user: "1000:1000".into(),
            rootfs: "/r".into(),
            ..Default::default()
        },
    );
}

#[test]
fn limits_and_options() {
    let mut opts = SpecOptions {
        args: vec!["sh".into()],
        hostname: "ignored-with-host-uts".into(),
        rootfs: "/r".into(),
        id: "0123456789ab".into(),
        resources: Resources {
            memory: Some(32 << 20),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(20),
            blkio_weight: Some(300),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        },
        cap_add: vec!["net_admin".into()],
        cap_drop: vec!["CAP_CHOWN".into()],
        seccomp: Seccomp::Unconfined,
        seccomp_cache_dir: Some("/var/lib/berth/seccomp".into()),
        readonly_rootfs: true,
        shm_size: 16 << 20,
        tmpfs: vec![
            ("/run".into(), "".into()),
            ("/tmp".into(), "exec,size=64m,mode=1777".into()),
        ],
        devices: vec!["/dev/fuse".into(), "/dev/snd:/dev/sound:r".into()],
        group_add: vec!["audio".into(), "50".into()],
        sysctls: BTreeMap::from([
            ("net.ipv4.ip_unprivileged_port_start".into(), "0".into()),
            ("kernel.shmmax".into(), "1000000".into()),
        ]),
        ulimits: vec![Ulimit {
            name: "nofile".into(),
            soft: 1024,
            hard: 20000,
        }],
        init: true,
        tty: true,
        ..Default::default()
    };
    opts.namespaces.net = NsMode::Join("/proc/42/ns/net".into());
    opts.namespaces.uts = NsMode::Host;
    opts.namespaces.ipc = NsMode::Private;
    opts.sysctls.remove("net.ipv4.ip_unprivileged_port_start");
    check("spec_limits", &opts);
}

#[test]
fn privileged() {
    check(
        "spec_privileged",
        &SpecOptions {
            args: vec!["sh".into()],
            rootfs: "/r".into(),
            id: "p1".into(),
            cgroup_parent: "/custom/parent".into(),
            privileged: true,
            ..Default::default()
        },
    );
}

#[test]
fn custom_seccomp_profile() {
    check(
        "spec_custom_seccomp",
        &SpecOptions {
            args: vec!["sh".into()],
            rootfs: "/r".into(),
            seccomp: Seccomp::Profile(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                    "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                    {"names":["chroot"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_CHROOT"]}},
                    {"names":["ptrace"],"action":"SCMP_ACT_KILL_PROCESS","includes":{"arches":["arm64"]}}]}"#
                    .into(),
            ),
            cap_drop: vec!["SYS_CHROOT".into()],
            ..Default::default()
        },
    );
}
