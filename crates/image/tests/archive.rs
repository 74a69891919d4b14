//! Loading and saving archives: docker-archive and OCI layout, plain and gzip,
//! round trips, and all-or-nothing failure on bad input.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use berth_image::{ErrorKind, ImageStore, ImportOptions};
use common::*;
use std::path::{Path, PathBuf};

fn open() -> (tempfile::TempDir, ImageStore, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("image");
    let s = ImageStore::open(&root).unwrap();
    (t, s, root)
}

fn read_layer_file(s: &ImageStore, name: &str, layer: usize, path: &str) -> Vec<u8> {
    std::fs::read(s.layer_dirs(name).unwrap()[layer].join(path)).unwrap()
}

#[test]
fn loads_legacy_docker_archive_with_shared_layers() {
    let (_t, s, _) = open();
    let (mut a, _) = TestImage::two_layers("a", false);
    a.tags = vec!["busybox:latest".into(), "localhost:5000/bb:1".into()];
    let (mut b, _) = TestImage::two_layers("b", false);
    b.tags = vec!["user/other:v1".into()];
    // Same first layer in both images: written once, then as a symlink.
    assert_eq!(a.layers[0], b.layers[0]);
    for manifest_first in [false, true] {
        let tar = docker_archive(
            &[a.clone_image(), b.clone_image()],
            DockerStyle::LegacyDirs,
            manifest_first,
        );
        let loaded = s.load(&mut &tar[..]).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].id, digest(&a.config).to_string());
        assert_eq!(
            loaded[0].tags,
            vec!["busybox:latest", "localhost:5000/bb:1"]
        );
        assert_eq!(loaded[1].tags, vec!["user/other:v1"]);
    }
    assert_eq!(read_layer_file(&s, "busybox", 0, "etc/os"), b"test os\n");
    assert_eq!(read_layer_file(&s, "user/other:v1", 1, "app/data"), b"b");
    assert_eq!(s.config_bytes("busybox").unwrap(), a.config);
    let cfg = s.config("busybox").unwrap();
    let cc = cfg.config.unwrap();
    assert_eq!(cc.on_build.unwrap(), vec!["RUN true"]);
    assert!(cc.healthcheck.is_some());
    assert_eq!(cfg.extra["docker_version"], "20.10.0");
}

#[test]
fn loads_gzipped_blob_style_docker_archive() {
    let (_t, s, _) = open();
    let (mut a, plain) = TestImage::two_layers("gz", true);
    a.tags = vec!["gz:1".into()];
    let tar = gzip(&docker_archive(
        &[a.clone_image()],
        DockerStyle::Blobs,
        false,
    ));
    let loaded = s.load(&mut &tar[..]).unwrap();
    assert_eq!(loaded[0].tags, vec!["gz:1"]);
    let info = s.resolve("gz:1").unwrap();
    assert_eq!(
        info.layers,
        vec![digest(&plain[0]).to_string(), digest(&plain[1]).to_string()]
    );
    assert_eq!(read_layer_file(&s, "gz:1", 1, "app/data"), b"gz");
    // Loading the same archive again changes nothing.
    let before = s.list().unwrap();
    s.load(&mut &tar[..]).unwrap();
    assert_eq!(s.list().unwrap(), before);
}

#[test]
fn loads_zstd_layers_in_docker_archives() {
    let (_t, s, _) = open();
    let (mut a, plain) = TestImage::two_layers("zst", false);
    a.layers[0] = zstd(&plain[0]);
    a.tags = vec!["zst:1".into()];
    s.load(&mut &docker_archive(&[a.clone_image()], DockerStyle::LegacyDirs, true)[..])
        .unwrap();
    assert_eq!(read_layer_file(&s, "zst:1", 0, "etc/os"), b"test os\n");
    // The kept layer tar is the uncompressed one: save writes it as is.
    let mut out = Vec::new();
    s.save(&["zst:1".into()], &mut out).unwrap();
    let path = format!("blobs/sha256/{}", digest(&plain[0]).hex());
    assert!(tar_file(&out, &path).unwrap() == plain[0]);
}

#[test]
fn loads_oci_layouts() {
    let (_t, s, _) = open();
    let (a, _) = TestImage::two_layers("oci-a", true);
    let (mut b, plain_b) = TestImage::two_layers("oci-b", false);
    b.layers[1] = zstd(&plain_b[1]);
    let (c, _) = TestImage::two_layers("oci-c", false);
    let tar = oci_archive(
        &[
            (
                a.clone_image(),
                vec![
                    annotations(&[
                        (
                            "io.containerd.image.name",
                            "docker.io/library/busybox:latest",
                        ),
                        ("org.opencontainers.image.ref.name", "latest"),
                    ]),
                    annotations(&[("org.opencontainers.image.ref.name", "localhost/extra:2")]),
                ],
            ),
            (
                b.clone_image(),
                vec![annotations(&[(
                    "org.opencontainers.image.ref.name",
                    "latest",
                )])],
            ),
            (c.clone_image(), vec![]),
        ],
        false,
    );
    let loaded = s.load(&mut &gzip(&tar)[..]).unwrap();
    assert_eq!(loaded.len(), 3);
    assert_eq!(loaded[0].tags, vec!["busybox:latest", "localhost/extra:2"]);
    assert!(loaded[1].tags.is_empty(), "a bare tag names no repository");
    assert!(loaded[2].tags.is_empty());
    assert_eq!(read_layer_file(&s, "busybox", 1, "app/data"), b"oci-a");
    assert_eq!(read_layer_file(&s, &loaded[1].id, 1, "app/data"), b"oci-b");
}

#[test]
fn loads_nested_index_for_host_platform() {
    let (_t, s, _) = open();
    let (a, _) = TestImage::two_layers("nested", true);
    let tar = oci_archive(
        &[(
            a.clone_image(),
            vec![annotations(&[("io.containerd.image.name", "nested:1")])],
        )],
        true,
    );
    let loaded = s.load(&mut &tar[..]).unwrap();
    assert_eq!(loaded[0].tags, vec!["nested:1"]);
    assert_eq!(loaded[0].id, digest(&a.config).to_string());
}

fn parse_json(archive: &[u8], name: &str) -> serde_json::Value {
    serde_json::from_slice(&tar_file(archive, name).unwrap_or_else(|| panic!("{name} missing")))
        .unwrap()
}

#[test]
fn save_writes_docker_archive_and_oci_layout() {
    let (_t, s, _) = open();
    let (mut a, plain) = TestImage::two_layers("save", true);
    a.tags = vec!["busybox:latest".into(), "busybox:1".into()];
    s.load(&mut &docker_archive(&[a.clone_image()], DockerStyle::Blobs, true)[..])
        .unwrap();
    let id = digest(&a.config);
    let mut out = Vec::new();
    s.save(&["busybox:latest".to_string()], &mut out).unwrap();

    let listing = tar_listing(&out);
    for f in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(listing.contains(&f.to_string()), "{f} missing: {listing:?}");
    }
    let manifest = parse_json(&out, "manifest.json");
    assert_eq!(manifest[0]["Config"], format!("blobs/sha256/{}", id.hex()));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest"])
    );
    for (i, l) in plain.iter().enumerate() {
        let path = format!("blobs/sha256/{}", digest(l).hex());
        assert_eq!(manifest[0]["Layers"][i], path);
        // The layer blob is the uncompressed tar: its digest is the diff id.
        assert_eq!(tar_file(&out, &path).unwrap(), *l);
    }
    assert_eq!(
        tar_file(&out, &format!("blobs/sha256/{}", id.hex())).unwrap(),
        a.config
    );
    let index = parse_json(&out, "index.json");
    let d = &index["manifests"][0];
    assert_eq!(
        d["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        d["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    let mdigest = d["digest"].as_str().unwrap();
    let m: serde_json::Value = serde_json::from_slice(
        &tar_file(&out, &format!("blobs/sha256/{}", &mdigest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(m["config"]["digest"], id.to_string());
    assert_eq!(
        m["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    let repos = parse_json(&out, "repositories");
    assert!(repos["busybox"]["latest"].is_string());
    // Blobs carry the image's creation time, the describing files the epoch.
    let created: serde_json::Value = serde_json::from_slice(&a.config).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(created["created"].as_str().unwrap())
        .unwrap()
        .timestamp() as u64;
    assert!(created > 0);
    let mut archive = tar::Archive::new(&out[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let want = if path.starts_with("blobs/") {
            created
        } else {
            0
        };
        assert_eq!(entry.header().mtime().unwrap(), want, "{path}");
    }

    // A bare repository name saves all its tags; an id saves no tag.
    let mut all = Vec::new();
    s.save(&["busybox".to_string()], &mut all).unwrap();
    assert_eq!(
        parse_json(&all, "manifest.json")[0]["RepoTags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        parse_json(&all, "index.json")["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mut by_id = Vec::new();
    s.save(&[id.to_string()], &mut by_id).unwrap();
    assert!(parse_json(&by_id, "manifest.json")[0]["RepoTags"]
        .as_array()
        .unwrap()
        .is_empty());
    let e = s.save(&["nope".to_string()], &mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// Strips one format out of a saved archive, to load it as the other.
fn only(archive: &[u8], drop: &[&str]) -> Vec<u8> {
    let mut ar = tar::Archive::new(archive);
    let mut b = tar::Builder::new(Vec::new());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if drop.contains(&p.as_str()) {
            continue;
        }
        let mut h = e.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        b.append_data(&mut h, &p, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn save_load_round_trips() {
    let (_t, s, _) = open();
    let tar = layer_tar(&[("bin/x", b"x"), ("etc/y", b"y")]);
    let opts = ImportOptions {
        reference: Some("localhost:5000/app:v1".into()),
        changes: vec!["CMD [\"/bin/x\"]".into()],
        message: None,
        platform: None,
    };
    let info = s.import(&mut &tar[..], &opts).unwrap();
    let (mut a, _) = TestImage::two_layers("rt", true);
    a.tags = vec!["rt:1".into()];
    s.load(&mut &docker_archive(&[a.clone_image()], DockerStyle::Blobs, false)[..])
        .unwrap();
    let mut saved = Vec::new();
    s.save(&["localhost:5000/app:v1".into(), "rt:1".into()], &mut saved)
        .unwrap();

    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("both", saved.clone()),
        ("both gzip", gzip(&saved)),
        ("docker only", only(&saved, &["index.json", "oci-layout"])),
        ("oci only", only(&saved, &["manifest.json", "repositories"])),
        (
            "oci only gzip",
            gzip(&only(&saved, &["manifest.json", "repositories"])),
        ),
    ];
    for (what, archive) in variants {
        let (_t2, s2, _) = open();
        let loaded = s2.load(&mut &archive[..]).unwrap();
        assert_eq!(loaded.len(), 2, "{what}");
        assert_eq!(loaded[0].id, info.id, "{what}");
        assert_eq!(loaded[0].tags, vec!["localhost:5000/app:v1"], "{what}");
        assert_eq!(loaded[1].tags, vec!["rt:1"], "{what}");
        assert_eq!(s2.config_bytes("rt:1").unwrap(), a.config, "{what}");
        let got = s2.resolve("localhost:5000/app:v1").unwrap();
        assert_eq!(got.layers, info.layers, "{what}");
        assert_eq!(got.size, info.size, "{what}");
        assert_eq!(read_layer_file(&s2, &got.id, 0, "etc/y"), b"y", "{what}");
        // And what it saves is identical.
        let mut again = Vec::new();
        s2.save(&["localhost:5000/app:v1".into(), "rt:1".into()], &mut again)
            .unwrap();
        assert_eq!(again, saved, "{what}: save is deterministic");
    }
}

fn assert_unchanged(s: &ImageStore, root: &Path, archive: &[u8], expect: &str) {
    let before = snapshot(root);
    let images = s.list().unwrap();
    let e = s.load(&mut &archive[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{expect}: {e}");
    assert!(e.to_string().contains(expect), "expected {expect:?} in {e}");
    assert_eq!(snapshot(root), before, "store changed after: {e}");
    assert_eq!(s.list().unwrap(), images);
}

#[test]
fn bad_archives_leave_the_store_unchanged() {
    let (_t, s, root) = open();
    // Start from a non-empty store.
    s.import(
        &mut &layer_tar(&[("keep", b"k")])[..],
        &ImportOptions {
            reference: Some("keep".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (mut a, _) = TestImage::two_layers("bad", true);
    a.tags = vec!["bad:1".into()];
    let good = docker_archive(&[a.clone_image()], DockerStyle::Blobs, false);

    assert_unchanged(&s, &root, &good[..good.len() / 2], "invalid archive");
    let gz = gzip(&good);
    assert_unchanged(&s, &root, &gz[..gz.len() / 2], "invalid archive");
    assert_unchanged(
        &s,
        &root,
        b"this is not a tar archive at all",
        "invalid archive",
    );
    assert_unchanged(&s, &root, &vec![0x13u8; 8192], "invalid archive");
    assert_unchanged(
        &s,
        &root,
        &tar_of(&[("hello".into(), b"x".to_vec())], &[]),
        "no manifest.json or index.json",
    );

    let files = |manifest: &[u8]| tar_of(&[("manifest.json".into(), manifest.to_vec())], &[]);
    assert_unchanged(&s, &root, &files(b"{not json"), "manifest.json");
    assert_unchanged(
        &s,
        &root,
        &files(br#"[{"Config":"c.json","Layers":[]}]"#),
        "c.json not found",
    );
    assert_unchanged(&s, &root, &files(b"[]"), "no images");

    // Config digest mismatch: the blob named by the config's digest holds other bytes.
    let forged = format!("blobs/sha256/{}", digest(&a.config).hex());
    let t = replace_entry(&good, &forged, &config(&[digest(&a.layers[0])], "x"));
    assert_unchanged(&s, &root, &t, "digest mismatch");

    // Layer content that does not match the config's diff id.
    let mut bad_layer = a.clone_image();
    bad_layer.layers[1] = gzip(&layer_tar(&[("app/data", b"tampered")]));
    assert_unchanged(
        &s,
        &root,
        &docker_archive(&[bad_layer], DockerStyle::LegacyDirs, false),
        "diff id mismatch",
    );

    // A truncated gzip layer.
    let mut truncated = a.clone_image();
    let l = truncated.layers[1].clone();
    truncated.layers[1] = l[..l.len() - 12].to_vec();
    assert_unchanged(
        &s,
        &root,
        &docker_archive(&[truncated], DockerStyle::LegacyDirs, false),
        "invalid tar stream",
    );

    // Layer count mismatch.
    let mut short = a.clone_image();
    short.layers.pop();
    assert_unchanged(
        &s,
        &root,
        &docker_archive(&[short], DockerStyle::Blobs, false),
        "diff ids",
    );

    // A layer with an escaping path; the first layer is fine and must not stay.
    let evil = evil_layer();
    let good_layer = layer_tar(&[("fine", b"fine")]);
    let evil_img = TestImage {
        config: config(&[digest(&good_layer), digest(&evil)], "evil"),
        layers: vec![good_layer, evil],
        tags: vec!["evil:1".into()],
    };
    assert_unchanged(
        &s,
        &root,
        &docker_archive(&[evil_img], DockerStyle::Blobs, false),
        "path escapes the layer root",
    );

    // An escaping entry in the archive itself.
    let mut raw = tar::Header::new_gnu();
    raw.as_old_mut().name[..13].copy_from_slice(b"../escape.txt");
    raw.set_size(1);
    raw.set_mode(0o644);
    raw.set_entry_type(tar::EntryType::Regular);
    raw.set_cksum();
    let mut t = raw.as_bytes().to_vec();
    t.extend_from_slice(b"x");
    t.extend(std::iter::repeat_n(0u8, 511 + 1024));
    assert_unchanged(&s, &root, &t, "unsafe path");
    assert!(!root.parent().unwrap().join("escape.txt").exists());

    // OCI: a layer blob whose bytes disagree with its descriptor.
    let (b, _) = TestImage::two_layers("oci-bad", false);
    let mut oci = oci_archive(&[(b.clone_image(), vec![])], false);
    let l1 = format!("blobs/sha256/{}", digest(&b.layers[1]).hex());
    oci = replace_entry(&oci, &l1, &layer_tar(&[("app/data", b"other")]));
    assert_unchanged(&s, &root, &oci, "mismatch");

    // Nested index without the host platform.
    let idx = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", "1".repeat(64)), "size": 1,
        "platform": {"os": "linux", "architecture": "s390x"}}]});
    let idx_bytes = serde_json::to_vec(&idx).unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest(&idx_bytes).to_string(), "size": idx_bytes.len()}]});
    let t = tar_of(
        &[
            ("index.json".into(), serde_json::to_vec(&top).unwrap()),
            (
                format!("blobs/sha256/{}", digest(&idx_bytes).hex()),
                idx_bytes,
            ),
        ],
        &[],
    );
    assert_unchanged(&s, &root, &t, "no matching manifest for linux/amd64");

    // Nothing was left in the staging area either.
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
}

fn evil_layer() -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    let name = b"../../../../evil";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut t = h.as_bytes().to_vec();
    t.extend_from_slice(b"evil");
    t.extend(std::iter::repeat_n(0u8, 508 + 1024));
    t
}

fn replace_entry(archive: &[u8], path: &str, data: &[u8]) -> Vec<u8> {
    rewrite(archive, |p, d| {
        if p == path {
            Some((p, data.to_vec()))
        } else {
            Some((p, d))
        }
    })
}

fn rewrite(archive: &[u8], f: impl Fn(String, Vec<u8>) -> Option<(String, Vec<u8>)>) -> Vec<u8> {
    let mut ar = tar::Archive::new(archive);
    let mut files = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut d).unwrap();
        files.extend(f(p, d));
    }
    tar_of(&files, &[])
}

trait CloneImage {
    fn clone_image(&self) -> TestImage;
}

impl CloneImage for TestImage {
    fn clone_image(&self) -> TestImage {
        TestImage {
            config: self.config.clone(),
            layers: self.layers.clone(),
            tags: self.tags.clone(),
        }
    }
}
