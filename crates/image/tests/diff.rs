//! Layer diffs of overlayfs upper directories made by the real kernel: whiteouts,
//! opaque directories, hardlinks, xattrs and special files become the OCI layer
//! tar Docker writes. Needs root (overlayfs mounts, chown, trusted xattrs); fails,
//! never skips, without it. Every mount is undone on drop.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use berth_image::diff::write_diff_tar;
use berth_image::ErrorKind;
use common::overlay::*;
use std::io::Read;

fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>, Vec<String>)> {
    let mut ar = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut keys = Vec::new();
        if let Some(p) = e.pax_extensions().unwrap() {
            for x in p {
                keys.push(x.unwrap().key().unwrap().to_string());
            }
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let target = e.link_name_bytes().map(|l| l.to_vec()).unwrap_or_default();
        let name = String::from_utf8(e.path_bytes().to_vec()).unwrap();
        let kind = e.header().entry_type();
        out.push((
            name,
            kind,
            if target.is_empty() { data } else { target },
            keys,
        ));
    }
    out
}

#[test]
fn diff_of_a_real_overlay_upper_dir() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path(), "image");
    let base = base_image(&s);
    let upper = make_changes(t.path(), &s.layer_dirs(&base).unwrap());

    let mut tar = Vec::new();
    let sum = write_diff_tar(&upper, &mut tar).unwrap();
    assert_eq!(sum.tar_size, tar.len() as u64);
    assert_eq!((sum.whiteouts, sum.opaque_dirs), (1, 1));
    let got = entries(&tar);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            ".wh.delete",
            "dir/",
            "dir/.wh..wh..opq",
            "dir/fresh",
            "modify",
            "new",
            "new-link",
            "other/",
            "other/fifo",
            "other/sl"
        ]
    );
    assert_eq!(sum.entries, got.len() as u64);
    let by = |n: &str| got.iter().find(|e| e.0 == n).unwrap();
    assert_eq!(by(".wh.delete").1, tar::EntryType::Regular);
    assert_eq!(by("modify").2, b"modified");
    assert_eq!(
        (by("new-link").1, by("new-link").2.as_slice()),
        (tar::EntryType::Link, &b"new"[..])
    );
    assert_eq!(
        (by("other/sl").1, by("other/sl").2.as_slice()),
        (tar::EntryType::Symlink, &b"/etc/passwd"[..])
    );
    assert_eq!(by("other/fifo").1, tar::EntryType::Fifo);
    assert!(by("new").3.contains(&"SCHILY.xattr.user.note".to_string()));
    for e in &got {
        assert!(
            !e.3.iter().any(|k| k.contains("trusted.overlay")),
            "{} leaks overlay xattrs",
            e.0
        );
    }

    // Deterministic: the same upper directory gives the same bytes.
    let mut again = Vec::new();
    write_diff_tar(&upper, &mut again).unwrap();
    assert_eq!(tar, again);

    let mut empty = Vec::new();
    let empty_dir = t.path().join("empty-upper");
    std::fs::create_dir(&empty_dir).unwrap();
    write_diff_tar(&empty_dir, &mut empty).unwrap();
    assert_eq!(empty, vec![0u8; 1024]);
}

#[test]
fn overlay_features_a_layer_cannot_express_are_refused() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    for (xattr_name, value) in [
        ("trusted.overlay.redirect", &b"/elsewhere"[..]),
        ("trusted.overlay.metacopy", b""),
    ] {
        let upper = t.path().join(xattr_name);
        std::fs::create_dir_all(upper.join("d")).unwrap();
        xattr::set(upper.join("d"), xattr_name, value).unwrap();
        let err = write_diff_tar(&upper, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains(xattr_name), "{err}");
        assert_eq!(err.kind(), ErrorKind::Internal);
    }
    let err = write_diff_tar(&t.path().join("missing"), &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn fuse_overlayfs_opaque_markers_become_one_oci_marker() {
    require_root();
    // What fuse-overlayfs leaves for `rm -rf dir; mkdir dir; touch
    // dir/fresh` where it may not write trusted xattrs: the OCI marker as
    // a file and a whiteout of `.opq` beside it, and its own xattr.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("upper/dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".wh..wh..opq"), b"").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join(".wh..opq"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .unwrap();
    std::fs::write(dir.join("fresh"), b"fresh").unwrap();
    xattr::set(&dir, "user.fuseoverlayfs.opaque", b"y").unwrap();
    let mut tar = Vec::new();
    let sum = write_diff_tar(&t.path().join("upper"), &mut tar).unwrap();
    let got = entries(&tar);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["dir/", "dir/.wh..wh..opq", "dir/fresh"]);
    assert_eq!((sum.whiteouts, sum.opaque_dirs), (0, 1));
    assert!(
        got[0].3.is_empty(),
        "fuse-overlayfs xattrs leak: {:?}",
        got[0].3
    );
}
