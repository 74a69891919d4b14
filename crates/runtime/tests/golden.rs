//! Golden tests of the OCI spec built for a container.
//!
//! Set `BERTH_BLESS=1` to rewrite the golden files after an intended change.

#![allow(clippy::unwrap_used)] // test code

use std::path::PathBuf;

use berth_runtime::spec::{build_spec, to_json, SpecOptions};

fn check(name: &str, opts: &SpecOptions) {
    let spec = build_spec(opts).unwrap();
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
