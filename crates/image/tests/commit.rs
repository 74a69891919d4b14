//! `docker commit` end to end on the real kernel: changes made through an overlayfs
//! mount of an image's layers land in the upper directory, become a layer tar, and
//! a new image whose layers, mounted again, show exactly those changes, before
//! and after a save/load round trip. Needs root (overlayfs mounts, chown, trusted
//! xattrs); fails, never skips, without it. Every mount is undone on drop.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use berth_image::commit::CommitOptions;
use berth_image::diff::write_diff_tar;
use berth_image::ErrorKind;
use common::layer_tar;
use common::overlay::*;
use serde_json::json;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What a container of the committed image sees.
fn check_merged(merged: &Path) {
    let read = |p: &str| std::fs::read(merged.join(p)).unwrap();
    assert_eq!(read("keep"), b"keep");
    assert_eq!(read("modify"), b"modified");
    assert_eq!(read("new"), b"brand new");
    assert_eq!(read("dir/fresh"), b"fresh");
    assert_eq!(read("other/x"), b"x");
    for gone in ["delete", "dir/old", "dir/keep2"] {
        assert!(!merged.join(gone).exists(), "{gone} should be gone");
        assert!(
            std::fs::symlink_metadata(merged.join(gone)).is_err(),
            "{gone}"
        );
    }
    let mut dir: Vec<_> = std::fs::read_dir(merged.join("dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    dir.sort();
    assert_eq!(dir, ["fresh"]);
    let new = std::fs::metadata(merged.join("new")).unwrap();
    assert_eq!(
        (new.uid(), new.gid(), new.mode() & 0o7777),
        (1000, 1001, 0o640)
    );
    assert_eq!(
        xattr::get(merged.join("new"), "user.note")
            .unwrap()
            .unwrap(),
        b"kept"
    );
    assert_eq!(
        std::fs::read_link(merged.join("other/sl")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert!(std::fs::symlink_metadata(merged.join("other/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn commit_makes_an_image_that_shows_the_changes_and_survives_save_and_load() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path(), "image");
    let base = base_image(&s);
    let upper = make_changes(t.path(), &s.layer_dirs(&base).unwrap());
    let diff = t.path().join("diff.tar");
    write_diff_tar(&upper, &mut std::fs::File::create(&diff).unwrap()).unwrap();

    let container_config = json!({
        "Hostname": "c0ffee", "Env": ["PATH=/bin", "MODE=ctr"], "Cmd": ["sh", "-c", "echo hi"],
        "Image": "base:1", "Labels": {"ctr": "yes"}, "Entrypoint": null, "WorkingDir": ""
    });
    let opts = CommitOptions {
        parent: base.clone(),
        diff: diff.clone(),
        config: container_config.clone(),
        changes: vec![
            "ENV EXTRA=1".into(),
            "EXPOSE 8080".into(),
            "WORKDIR /srv".into(),
        ],
        author: "Ann <ann@example.com>".into(),
        comment: "made by a test".into(),
        reference: Some("committed:v1".into()),
        container_id: "c0ffee".repeat(10) + "abcd",
        ..CommitOptions::default()
    };
    let info = s.commit(&opts).unwrap();
    assert!(diff.is_file(), "the engine's diff file stays where it was");
    assert_eq!(info.repo_tags, ["committed:v1"]);
    assert_eq!(info.parent, base);
    let parent = s.resolve(&base).unwrap();
    assert_eq!(info.layers.len(), 2);
    assert_eq!(info.layers[0], parent.layers[0]);
    let diff_bytes = std::fs::read(&diff).unwrap();
    assert_eq!(
        info.layers[1],
        berth_image::Digest::of_bytes(&diff_bytes).to_string()
    );

    let cfg: serde_json::Value =
        serde_json::from_slice(&s.config_bytes(&info.id).unwrap()).unwrap();
    let c = &cfg["config"];
    assert_eq!(c["Env"], json!(["PATH=/bin", "MODE=ctr", "EXTRA=1"]));
    assert_eq!(c["Cmd"], json!(["sh", "-c", "echo hi"]));
    assert_eq!(c["Labels"], json!({"ctr": "yes", "from": "base"}));
    assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "8080/tcp": {}}));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["Hostname"], "c0ffee");
    assert_eq!(cfg["container"], json!(opts.container_id));
    assert_eq!(cfg["container_config"], container_config);
    assert_eq!(cfg["author"], "Ann <ann@example.com>");
    assert_eq!(cfg["comment"], "made by a test");
    assert_eq!(cfg["rootfs"]["diff_ids"], json!(info.layers));
    let history = cfg["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    let last = &history[1];
    assert_eq!(last["created_by"], "sh -c echo hi");
    assert_eq!(last["comment"], "made by a test");
    assert_eq!(last["author"], "Ann <ann@example.com>");
    assert_eq!(last.get("empty_layer"), None);
    assert_eq!(last["created"], cfg["created"]);

    let merged = t.path().join("check/merged");
    {
        let _m = Overlay::mount(&s.layer_dirs(&info.id).unwrap(), None, &merged);
        check_merged(&merged);
    }

    let mut archive = Vec::new();
    s.save(&["committed:v1".to_string()], &mut archive).unwrap();
    let s2 = open(t.path(), "image2");
    let loaded = s2.load(&mut &archive[..]).unwrap();
    assert_eq!(loaded[0].id, info.id);
    let again = s2.resolve("committed:v1").unwrap();
    assert_eq!(again.layers, info.layers);
    let merged2 = t.path().join("check2/merged");
    let _m = Overlay::mount(&s2.layer_dirs(&again.id).unwrap(), None, &merged2);
    check_merged(&merged2);
}

#[test]
fn an_unchanged_container_commits_without_a_new_layer() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path(), "image");
    let base = base_image(&s);
    let upper = t.path().join("upper");
    std::fs::create_dir(&upper).unwrap();
    let diff = t.path().join("diff.tar");
    write_diff_tar(&upper, &mut std::fs::File::create(&diff).unwrap()).unwrap();
    let opts = CommitOptions {
        parent: "base:1".into(),
        diff,
        config: serde_json::Value::Null,
        changes: vec!["CMD [\"true\"]".into()],
        ..CommitOptions::default()
    };
    let info = s.commit(&opts).unwrap();
    let parent = s.resolve(&base).unwrap();
    assert_eq!(info.layers, parent.layers);
    assert_eq!(info.parent, base);
    assert!(info.repo_tags.is_empty());
    let cfg: serde_json::Value =
        serde_json::from_slice(&s.config_bytes(&info.id).unwrap()).unwrap();
    assert_eq!(cfg["config"]["Cmd"], json!(["true"]));
    assert_eq!(cfg["config"]["Env"], json!(["PATH=/bin"]));
    let history = cfg["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["empty_layer"], true);
    assert_eq!(cfg.get("author"), None);
    assert_eq!(cfg.get("comment"), None);
    assert_eq!(cfg.get("container"), None);
}

#[test]
fn commit_refuses_bad_input_and_leaves_the_store_unchanged() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path(), "image");
    let base = base_image(&s);
    let diff = t.path().join("diff.tar");
    std::fs::write(&diff, layer_tar(&[("f", b"x")])).unwrap();
    let good = CommitOptions {
        parent: base.clone(),
        diff: diff.clone(),
        ..CommitOptions::default()
    };
    let count = || s.list().unwrap().len();
    let before = count();
    for (opts, kind) in [
        (
            CommitOptions {
                parent: "nope:1".into(),
                ..good.clone()
            },
            ErrorKind::NotFound,
        ),
        (
            CommitOptions {
                changes: vec!["RUN true".into()],
                ..good.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            CommitOptions {
                config: json!({"Env": "not a list"}),
                ..good.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            CommitOptions {
                reference: Some("Bad:Ref".into()),
                ..good.clone()
            },
            ErrorKind::InvalidArgument,
        ),
    ] {
        let e = s.commit(&opts).unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
    }
    std::fs::write(&diff, b"garbage that is not a tar").unwrap();
    let e = s.commit(&good).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(count(), before);
    let leftovers: Vec<_> = std::fs::read_dir(t.path().join("image/layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A build step on `scratch`: no parent, the step's text as history.
#[test]
fn commit_on_scratch_with_a_build_step_history() {
    let t = tempfile::tempdir().unwrap();
    let s = berth_image::ImageStore::open(&t.path().join("store")).unwrap();
    let upper = t.path().join("upper");
    std::fs::create_dir_all(upper.join("app")).unwrap();
    std::fs::write(upper.join("app/x"), b"x").unwrap();
    let diff = t.path().join("diff.tar");
    write_diff_tar(&upper, &mut std::fs::File::create(&diff).unwrap()).unwrap();
    let info = s
        .commit(&CommitOptions {
            parent: String::new(),
            diff,
            config: serde_json::json!({"Cmd": ["/app/x"]}),
            created_by: Some("COPY x /app/x # buildkit".into()),
            ..CommitOptions::default()
        })
        .unwrap();
    assert_eq!(info.parent, "");
    assert_eq!(info.layers.len(), 1);
    let cfg: serde_json::Value =
        serde_json::from_slice(&s.config_bytes(&info.id).unwrap()).unwrap();
    assert_eq!(cfg["history"][0]["created_by"], "COPY x /app/x # buildkit");
    assert_eq!(cfg["os"], "linux");
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["/app/x"]));
}

/// A reused build step (`--cache-from`): its history entry and a layer the
/// store has on top of the parent's are taken as they are, giving the very
/// image that step made; a layer that is not there is refused.
#[test]
fn a_reused_step_gives_the_same_image() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path(), "image");
    let base = base_image(&s);
    let diff = t.path().join("diff.tar");
    std::fs::write(&diff, layer_tar(&[("f", b"x")])).unwrap();
    let config = json!({"Env": ["PATH=/bin"], "Cmd": ["sh"]});
    let made = s
        .commit(&CommitOptions {
            parent: base.clone(),
            diff,
            config: config.clone(),
            created_by: Some("/bin/sh -c make f".into()),
            history_comment: Some("berth.build.v1 sha256:k".into()),
            ..CommitOptions::default()
        })
        .unwrap();
    let made_cfg = s.config(&made.id).unwrap();
    let entry = made_cfg.history.last().unwrap().clone();
    assert_eq!(entry.comment.as_deref(), Some("berth.build.v1 sha256:k"));
    assert_eq!(
        made_cfg.extra.get("comment"),
        None,
        "not the image's comment"
    );
    let reuse = |diff_id: berth_image::Digest| CommitOptions {
        parent: base.clone(),
        config: config.clone(),
        reuse: Some(berth_image::ReusedStep {
            history: entry.clone(),
            diff_id: Some(diff_id),
        }),
        ..CommitOptions::default()
    };
    let last = made_cfg.rootfs.diff_ids.last().unwrap().clone();
    let again = s.commit(&reuse(last)).unwrap();
    assert_eq!(again.id, made.id);
    let before = s.list().unwrap().len();
    let err = s
        .commit(&reuse(berth_image::Digest::of_bytes(b"absent")))
        .unwrap_err();
    assert!(err.to_string().contains("not in the store"), "{err}");
    assert_eq!(s.list().unwrap().len(), before);
}
