//! Image store behaviour: import, resolve, tag, remove (Docker's rules), create.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use berth_image::{Error, ErrorKind, ImageStore, ImportOptions, LayerInput, NewImage, Removed};
use common::*;

fn open() -> (tempfile::TempDir, ImageStore) {
    let t = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&t.path().join("image")).unwrap();
    (t, s)
}

fn import(s: &ImageStore, files: &[(&str, &[u8])], reference: Option<&str>) -> String {
    let tar = layer_tar(files);
    let opts = ImportOptions {
        reference: reference.map(str::to_string),
        ..Default::default()
    };
    s.import(&mut &tar[..], &opts).unwrap().id
}

fn never(_: &str) -> Option<String> {
    None
}

#[test]
fn import_resolve_and_config() {
    let (_t, s) = open();
    let tar = gzip(&layer_tar(&[("bin/sh", b"#!"), ("etc/hostname", b"h")]));
    let opts = ImportOptions {
        reference: Some("busybox".into()),
        changes: vec![
            "CMD [\"sh\"]".into(),
            "ENV A=1".into(),
            "LABEL x=y".into(),
            "EXPOSE 80".into(),
        ],
        message: Some("hello".into()),
        platform: None,
    };
    let info = s.import(&mut &tar[..], &opts).unwrap();
    assert_eq!(info.repo_tags, vec!["busybox:latest"]);
    assert_eq!(info.size, 3);
    assert_eq!(info.layers.len(), 1);
    assert_eq!(info.labels["x"], "y");
    assert!(info.created.as_ref().unwrap().ends_with('Z'));
    let created = info.created.clone().unwrap();
    assert_eq!(
        created.split('.').nth(1).unwrap().len(),
        10,
        "nanoseconds: {created}"
    );

    let hex = info.id.strip_prefix("sha256:").unwrap().to_string();
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        info.id.as_str(),
        hex.as_str(),
        &hex[..12],
        &hex[..3],
        &format!("sha256:{}", &hex[..8]),
    ] {
        assert_eq!(s.resolve(name).unwrap().id, info.id, "resolve {name}");
    }

    let cfg = s.config(&info.id).unwrap();
    assert_eq!(cfg.os, "linux");
    assert_eq!(cfg.architecture, "amd64");
    let cc = cfg.config.as_ref().unwrap();
    assert_eq!(cc.cmd.as_deref().unwrap(), ["sh"]);
    assert_eq!(cc.env.as_deref().unwrap(), ["A=1"]);
    assert!(cc.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
    assert_eq!(cfg.history[0].comment.as_deref(), Some("hello"));
    let raw = s.config_bytes("busybox").unwrap();
    assert_eq!(digest(&raw).to_string(), info.id);

    let dirs = s.layer_dirs("busybox").unwrap();
    assert_eq!(dirs.len(), 1);
    assert_eq!(std::fs::read(dirs[0].join("etc/hostname")).unwrap(), b"h");
    assert_eq!(s.list().unwrap(), vec![info]);
}

#[test]
fn not_found_and_bad_references() {
    let (_t, s) = open();
    let e = s.resolve("busybox").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.to_string(), "No such image: busybox:latest");
    let e = s.resolve("localhost:5000/a:1").unwrap_err();
    assert_eq!(e.to_string(), "No such image: localhost:5000/a:1");
    let e = s.resolve("sha256:abcdef").unwrap_err();
    assert_eq!(e.to_string(), "No such image: sha256:abcdef");
    let e = s.resolve("Busybox").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
    import(&s, &[("a", b"a")], Some("busybox"));
    let e = s.tag("busybox", "bad:tag:x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.to_string(), "invalid reference format");
    let d = format!("x@sha256:{}", "a".repeat(64));
    assert_eq!(
        s.tag("busybox", &d).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(s.tag("nope", "x").unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn ambiguous_prefix_is_not_found() {
    let (_t, s) = open();
    let mut ids = Vec::new();
    for i in 0..40u8 {
        ids.push(import(&s, &[("f", &[i])], None));
    }
    // Find two ids sharing a first hex digit.
    let first = ids[0].chars().nth(7).unwrap();
    let same = ids
        .iter()
        .filter(|i| i.chars().nth(7) == Some(first))
        .count();
    let e = s.resolve(&first.to_string());
    if same > 1 {
        assert_eq!(e.unwrap_err().kind(), ErrorKind::NotFound);
    } else {
        assert!(e.is_ok());
    }
}

#[test]
fn tags_persist_across_reopen() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let s = ImageStore::open(&root).unwrap();
    let id = import(&s, &[("a", b"a")], Some("one"));
    s.tag("one", "localhost:5000/two:v2").unwrap();
    s.tag(&id, "user/three").unwrap();
    drop(s);
    let s = ImageStore::open(&root).unwrap();
    let info = s.resolve("localhost:5000/two:v2").unwrap();
    assert_eq!(info.id, id);
    assert_eq!(
        info.repo_tags,
        vec!["localhost:5000/two:v2", "one:latest", "user/three:latest"]
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("repositories.json")).unwrap()).unwrap();
    assert_eq!(json["Repositories"]["one"]["one:latest"], id);
}

#[test]
fn retagging_moves_the_tag() {
    let (_t, s) = open();
    let a = import(&s, &[("a", b"a")], Some("x"));
    let b = import(&s, &[("b", b"b")], Some("x"));
    assert_ne!(a, b);
    assert_eq!(s.resolve("x").unwrap().id, b);
    assert!(s.resolve(&a).unwrap().repo_tags.is_empty());
}

#[test]
fn remove_untags_then_deletes() {
    let (t, s) = open();
    let id = import(&s, &[("a", b"a")], Some("busybox"));
    s.tag("busybox", "busybox:1").unwrap();
    let out = s.remove("busybox:1", false, &never).unwrap();
    assert_eq!(out, vec![Removed::Untagged("busybox:1".into())]);
    let info = s.resolve(&id).unwrap();
    let layer_chain = info.layers[0].clone();
    let out = s.remove("busybox", false, &never).unwrap();
    assert_eq!(
        out,
        vec![
            Removed::Untagged("busybox:latest".into()),
            Removed::Deleted(id.clone()),
            Removed::Deleted(layer_chain),
        ]
    );
    assert!(s.list().unwrap().is_empty());
    let root = t.path().join("image");
    for d in ["blobs/sha256", "layers", "images"] {
        assert_eq!(
            std::fs::read_dir(root.join(d)).unwrap().count(),
            0,
            "{d} not empty"
        );
    }
    assert_eq!(
        s.remove(&id, false, &never).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn remove_by_id_with_several_repositories_needs_force() {
    let (_t, s) = open();
    let id = import(&s, &[("a", b"a")], Some("one"));
    s.tag("one", "two").unwrap();
    let e = s.remove(&id, false, &never).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let short = &id[7..19];
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    let out = s.remove(&id[7..19], true, &never).unwrap();
    assert_eq!(
        &out[..3],
        &[
            Removed::Untagged("one:latest".into()),
            Removed::Untagged("two:latest".into()),
            Removed::Deleted(id.clone()),
        ]
    );
    assert!(s.list().unwrap().is_empty());
}

#[test]
fn remove_by_id_with_one_tag_untags_and_deletes() {
    let (_t, s) = open();
    let id = import(&s, &[("a", b"a")], Some("one"));
    let out = s.remove(&id, false, &never).unwrap();
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], Removed::Untagged("one:latest".into()));
    assert_eq!(out[1], Removed::Deleted(id.clone()));
    // Two tags, even in one repository, are "multiple repositories" for Docker.
    let id = import(&s, &[("b", b"b")], Some("two"));
    s.tag("two", "two:2").unwrap();
    let e = s.remove(&id, false, &never).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

#[test]
fn images_used_by_containers() {
    let (_t, s) = open();
    let id = import(&s, &[("a", b"a")], Some("busybox"));
    let cid = "0123456789abcdef0123456789abcdef";
    let used = |img: &str| (img == id).then(|| cid.to_string());
    let short = &id[7..19];

    let e = s.remove(&id, false, &used).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is being used by stopped container 0123456789ab")
    );
    let e = s.remove("busybox", false, &used).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to remove repository reference \"busybox\" (must force) - container 0123456789ab is using its referenced image {short}")
    );
    // Forced: untag only; the data stays for the container.
    let out = s.remove(&id, true, &used).unwrap();
    assert_eq!(out, vec![Removed::Untagged("busybox:latest".into())]);
    let dirs = s.layer_dirs(&id).unwrap();
    assert!(dirs[0].join("a").is_file());
    // Once the container is gone, the dangling image can be deleted.
    let out = s.remove(&id, false, &never).unwrap();
    assert_eq!(out[0], Removed::Deleted(id.clone()));
}

#[test]
fn shared_layers_survive_until_last_user_goes() {
    let (_t, s) = open();
    let base = layer_tar(&[("base", b"base")]);
    let top1 = layer_tar(&[("one", b"1")]);
    let top2 = layer_tar(&[("two", b"2")]);
    let mk = |top: &Vec<u8>, tag: &str, label: &str| {
        let cfg = config(&[digest(&base), digest(top)], label);
        s.create(NewImage {
            config: cfg,
            layers: vec![
                LayerInput::Tar(Box::new(std::io::Cursor::new(base.clone()))),
                LayerInput::Tar(Box::new(std::io::Cursor::new(top.clone()))),
            ],
            tags: vec![tag.into()],
            repo_digests: vec![],
            manifest: None,
            parent: None,
        })
        .unwrap()
    };
    let a = mk(&top1, "a", "a");
    let b = mk(&top2, "b", "b");
    assert_eq!(a.layers[0], b.layers[0]);
    assert_eq!(a.size, 5);
    let base_dir = s.layer_dirs("a").unwrap()[0].clone();
    assert_eq!(base_dir, s.layer_dirs("b").unwrap()[0]);
    let out = s.remove("a", false, &never).unwrap();
    // Untagged, image, top layer only.
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(base_dir.join("base").is_file());
    assert_eq!(
        std::fs::read(s.layer_dirs("b").unwrap()[1].join("two")).unwrap(),
        b"2"
    );
    s.remove("b", false, &never).unwrap();
    assert!(!base_dir.exists());
}

#[test]
fn create_with_present_layers_and_parent() {
    let (_t, s) = open();
    let base = layer_tar(&[("base", b"base")]);
    let parent = import(&s, &[("base", b"base")], Some("base"));
    assert_eq!(
        s.resolve("base").unwrap().layers[0],
        digest(&base).to_string()
    );
    let top = layer_tar(&[("top", b"t")]);
    let cfg = config(&[digest(&base), digest(&top)], "child");
    let manifest = br#"{"schemaVersion":2}"#.to_vec();
    let info = s
        .create(NewImage {
            config: cfg.clone(),
            layers: vec![LayerInput::Present, LayerInput::Tar(Box::new(&top[..]))],
            tags: vec!["child:1".into()],
            repo_digests: vec![format!("child@{}", digest(&manifest))],
            manifest: Some(manifest.clone()),
            parent: Some("base".into()),
        })
        .unwrap();
    assert_eq!(info.parent, parent);
    assert_eq!(
        info.repo_digests,
        vec![format!("child@{}", digest(&manifest))]
    );
    assert_eq!(
        s.resolve(&format!("child@{}", digest(&manifest)))
            .unwrap()
            .id,
        info.id
    );
    assert_eq!(s.config_bytes("child:1").unwrap(), cfg);
    // The parent has a child now.
    let e = s.remove(&parent, true, &never).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e
        .to_string()
        .ends_with("(cannot be forced) - image has dependent child images"));
    // Removing the parent's tag only untags it.
    let out = s.remove("base", false, &never).unwrap();
    assert_eq!(out, vec![Removed::Untagged("base:latest".into())]);
    // Removing the child's tag removes the digest reference of the same repository too.
    let out = s.remove("child:1", false, &never).unwrap();
    assert_eq!(out[0], Removed::Untagged("child:1".into()));
    assert_eq!(
        out[1],
        Removed::Untagged(format!("child@{}", digest(&manifest)))
    );
    assert!(matches!(out[2], Removed::Deleted(_)));

    // A Present layer that is not there is an error, and nothing is added.
    let cfg = config(&[digest(b"nope")], "x");
    let e = s
        .create(NewImage {
            config: cfg,
            layers: vec![LayerInput::Present],
            tags: vec![],
            repo_digests: vec![],
            manifest: None,
            parent: None,
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// An image already here, pulled again under another name: the new
/// manifest is kept while its digest reference is, and goes with it, so
/// the store never holds a blob nothing names (`system check`).
#[test]
fn manifest_of_a_digest_reference_goes_with_it() {
    let (_t, s) = open();
    let layer = layer_tar(&[("f", b"1")]);
    let cfg = config(&[digest(&layer)], "img");
    let first = br#"{"schemaVersion":2,"n":1}"#.to_vec();
    s.create(NewImage {
        config: cfg.clone(),
        layers: vec![LayerInput::Tar(Box::new(&layer[..]))],
        tags: vec!["one:1".into()],
        repo_digests: vec![format!("one@{}", digest(&first))],
        manifest: Some(first.clone()),
        parent: None,
    })
    .unwrap();
    let second = br#"{"schemaVersion":2,"n":2}"#.to_vec();
    s.create(NewImage {
        config: cfg.clone(),
        layers: vec![LayerInput::Present],
        tags: vec!["two:1".into()],
        repo_digests: vec![format!("two@{}", digest(&second))],
        manifest: Some(second.clone()),
        parent: None,
    })
    .unwrap();
    let clean = |s: &ImageStore| s.check(Default::default());
    assert!(clean(&s).is_empty(), "{:?}", clean(&s));
    assert!(s.content().exists(&digest(&second)));
    s.remove("two:1", false, &never).unwrap();
    assert!(
        !s.content().exists(&digest(&second)),
        "the second manifest went"
    );
    assert!(s.content().exists(&digest(&first)), "the image's own stays");
    assert!(clean(&s).is_empty(), "{:?}", clean(&s));
}

#[test]
fn import_rejects_garbage_and_bad_changes() {
    let (t, s) = open();
    let before = snapshot(&t.path().join("image"));
    let junk = vec![0x42u8; 4096];
    let e = s
        .import(&mut &junk[..], &ImportOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let opts = ImportOptions {
        changes: vec!["RUN x".into()],
        ..Default::default()
    };
    let tar = layer_tar(&[("a", b"a")]);
    let e = s.import(&mut &tar[..], &opts).unwrap_err();
    assert!(matches!(e, Error::Change(_)));
    assert_eq!(e.to_string(), "RUN is not a valid change command");
    let opts = ImportOptions {
        reference: Some("UPPER".into()),
        ..Default::default()
    };
    assert_eq!(
        s.import(&mut &tar[..], &opts).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(snapshot(&t.path().join("image")), before);
}

#[test]
fn store_is_send_and_sync_and_concurrent_imports_work() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ImageStore>();
    let (_t, s) = open();
    std::thread::scope(|sc| {
        for i in 0..4u8 {
            let s = &s;
            sc.spawn(move || {
                let tar = layer_tar(&[("same", b"same"), ("n", &[i])]);
                let opts = ImportOptions {
                    reference: Some(format!("img{i}")),
                    ..Default::default()
                };
                s.import(&mut &tar[..], &opts).unwrap();
                let shared = layer_tar(&[("shared", b"shared")]);
                s.import(&mut &shared[..], &ImportOptions::default())
                    .unwrap();
            });
        }
    });
    assert_eq!(
        s.list()
            .unwrap()
            .iter()
            .filter(|i| !i.repo_tags.is_empty())
            .count(),
        4
    );
}

#[test]
fn open_removes_leftovers_of_interrupted_work() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let s = ImageStore::open(&root).unwrap();
    let id = import(&s, &[("a", b"a")], Some("keep"));
    drop(s);
    std::fs::create_dir_all(root.join("tmp/.tmp-stage/x")).unwrap();
    std::fs::create_dir_all(root.join("layers/.tmp-half/diff")).unwrap();
    std::fs::write(root.join("blobs/sha256/.tmp-blob"), b"partial").unwrap();
    std::fs::write(root.join(".tmp-repos"), b"{").unwrap();
    // A layer no image uses (a crash between layer and record commit).
    let orphan = "ab".repeat(32);
    std::fs::create_dir_all(root.join("layers").join(&orphan).join("diff")).unwrap();
    let s = ImageStore::open(&root).unwrap();
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert!(!root.join("layers/.tmp-half").exists());
    assert!(!root.join("blobs/sha256/.tmp-blob").exists());
    assert!(!root.join(".tmp-repos").exists());
    assert_eq!(s.prune_layers().unwrap(), vec![format!("sha256:{orphan}")]);
    assert_eq!(s.resolve("keep").unwrap().id, id);
    assert!(s.layer_dirs("keep").unwrap()[0].join("a").is_file());
}
