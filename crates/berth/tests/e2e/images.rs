//! Images through the CLI: list, inspect, tag, rmi, import, save/load, and
//! bad archives leaving the store as it was.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::{stderr, stdout, Ctx, TestFn};

pub const TESTS: &[(&str, TestFn)] = &[
    ("images_lists_busybox", images_lists_busybox),
    ("image_inspect_and_format", image_inspect_and_format),
    ("tag_and_rmi", tag_and_rmi),
    ("import_with_changes", import_with_changes),
    ("save_load_round_trip", save_load_round_trip),
    (
        "bad_archives_leave_store_unchanged",
        bad_archives_leave_store_unchanged,
    ),
    ("inspect_unknown_object", inspect_unknown_object),
];

fn images_lists_busybox(ctx: &Ctx) {
    let out = ctx.ok(&["images"]);
    let mut lines = out.lines();
    let header = lines.next().expect("header");
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        lines.any(|l| l.starts_with("busybox") && l.contains("latest")),
        "{out}"
    );
    let fmt = ctx.ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(fmt.lines().any(|l| l == "busybox:latest"), "{fmt}");
    let q = ctx.ok(&["images", "-q", "busybox"]);
    assert_eq!(q.trim().len(), 12, "{q}");
}

fn image_inspect_and_format(ctx: &Ctx) {
    let out = ctx.ok(&["image", "inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect is JSON");
    let img = &v[0];
    assert!(img["Id"].as_str().expect("Id").starts_with("sha256:"));
    assert_eq!(img["RepoTags"][0], "busybox:latest");
    assert_eq!(img["Config"]["Cmd"][0], "sh");
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["RootFS"]["Layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        ctx.ok(&["inspect", "--format", "{{json .Config.Cmd}}", "busybox"]),
        "[\"sh\"]\n"
    );
}

fn tag_and_rmi(ctx: &Ctx) {
    ctx.ok(&["tag", "busybox", "example.com/team/box:v1"]);
    let ids = ctx.ok(&["images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]);
    let busy = ids
        .lines()
        .find(|l| l.ends_with(" busybox:latest"))
        .expect("busybox row");
    let tagged = ids
        .lines()
        .find(|l| l.ends_with(" example.com/team/box:v1"))
        .expect("new tag row");
    assert_eq!(busy.split(' ').next(), tagged.split(' ').next(), "{ids}");
    let id = busy.split(' ').next().expect("id").to_string();
    let out = ctx.berth(&["rmi", &id]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "removing a multiply-tagged image by id needs -f"
    );
    assert!(stderr(&out).contains("must be forced"), "{}", stderr(&out));
    assert_eq!(
        ctx.ok(&["rmi", "example.com/team/box:v1"]),
        "Untagged: example.com/team/box:v1\n"
    );
    let out = ctx.berth(&["tag", "busybox", "Bad:Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid reference format"),
        "{}",
        stderr(&out)
    );
    let out = ctx.berth(&["rmi", "nosuchimage"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));
}

fn import_with_changes(ctx: &Ctx) {
    let tar = ctx.busybox_tar.to_str().expect("utf8");
    let out = ctx.ok(&[
        "import",
        "-c",
        "ENV GREETING=hi",
        "-c",
        "WORKDIR /srv",
        "-c",
        "CMD [\"sh\", \"-c\", \"echo $GREETING from $(pwd)\"]",
        "-m",
        "imported for a test",
        tar,
        "greeter:1",
    ]);
    assert!(out.trim().starts_with("sha256:"), "{out}");
    assert_eq!(ctx.ok(&["run", "--rm", "greeter:1"]), "hi from /srv\n");
    let comment = ctx.ok(&["image", "inspect", "-f", "{{.Comment}}", "greeter:1"]);
    assert_eq!(comment, "imported for a test\n");
    let piped = ctx.berth_stdin(
        &["import", "-", "piped:latest"],
        &std::fs::read(&ctx.busybox_tar).expect("tar"),
    );
    assert!(piped.status.success(), "{}", stderr(&piped));
    ctx.ok(&["rmi", "greeter:1", "piped:latest"]);
}

fn save_load_round_trip(ctx: &Ctx) {
    let archive = ctx.dir.path().join("saved.tar");
    ctx.ok(&["tag", "busybox", "roundtrip:1"]);
    ctx.ok(&["save", "-o", archive.to_str().expect("utf8"), "roundtrip:1"]);
    ctx.ok(&["rmi", "roundtrip:1"]);
    let loaded = ctx.ok(&["load", "-i", archive.to_str().expect("utf8")]);
    assert_eq!(loaded, "Loaded image: roundtrip:1\n");
    assert_eq!(
        ctx.ok(&["run", "--rm", "roundtrip:1", "echo", "ok"]),
        "ok\n"
    );
    let piped = ctx.berth_stdin(&["load"], &std::fs::read(&archive).expect("archive"));
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(stdout(&piped), "Loaded image: roundtrip:1\n");
    ctx.ok(&["rmi", "roundtrip:1"]);
}

fn listing(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    out
}

/// A tar archive with the given (path, data) regular files.
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let with_links: Vec<(&str, &[u8], Option<&str>)> =
        entries.iter().map(|(p, d)| (*p, *d, None)).collect();
    tar_with_links(&with_links)
}

/// A tar archive of regular files and, where a link target is given, symlinks.
fn tar_with_links(entries: &[(&str, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, data, link) in entries {
        let data: &[u8] = if link.is_some() { b"" } else { data };
        let mut h = [0u8; 512];
        h[..path.len()].copy_from_slice(path.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = if link.is_some() { b'2' } else { b'0' };
        if let Some(target) = link {
            h[157..157 + target.len()].copy_from_slice(target.as_bytes());
        }
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn bad_archives_leave_store_unchanged(ctx: &Ctx) {
    let store = ctx.root.join("image");
    let before = listing(&store);
    let images_before = ctx.ok(&["images", "-q", "--no-trunc"]);
    let saved = ctx.dir.path().join("good.tar");
    ctx.ok(&["save", "-o", saved.to_str().expect("utf8"), "busybox"]);
    let good = std::fs::read(&saved).expect("saved");
    let layer = tar_of(&[("../etc/evil", b"x")]);
    let sentinel = ctx.dir.path().join("etc/evil");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated archive", good[..good.len() / 2].to_vec()),
        ("not a tar", b"this is not an archive at all".repeat(40)),
        (
            "manifest pointing nowhere",
            tar_of(&[(
                "manifest.json",
                br#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l.tar"]}]"#,
            )]),
        ),
        (
            "malformed manifest",
            tar_of(&[("manifest.json", b"{not json")]),
        ),
    ];
    let config_for = |layer: &[u8]| -> Vec<u8> {
        use sha2::Digest;
        let diff_id = hex::encode(sha2::Sha256::digest(layer));
        format!(r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#)
            .into_bytes()
    };
    // A symlink pointing out of the root, then a file written through it.
    let outside = ctx.dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    let outside_str = outside.to_str().expect("utf8").to_string();
    let escaping = |layer: &[u8]| {
        let config = config_for(layer);
        tar_of(&[
            (
                "manifest.json",
                br#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l.tar"]}]"#,
            ),
            ("c.json", &config),
            ("l.tar", layer),
        ])
    };
    cases.push(("layer escaping with ..", escaping(&layer)));
    // Symlinks that point out of the root are resolved inside it (as in a
    // container) or refused; either way nothing is written outside.
    let symlink_layers = [
        tar_with_links(&[
            ("escape", b"", Some(&outside_str)),
            ("escape/evil", b"x", None),
        ]),
        tar_with_links(&[
            ("up", b"", Some("../../../../../../../..")),
            ("up/tmp/evil-rel", b"x", None),
        ]),
    ];
    for layer in symlink_layers {
        let out = ctx.berth_stdin(&["load"], &escaping(&layer));
        assert!(
            !outside.join("evil").exists(),
            "wrote through an absolute symlink outside the store"
        );
        assert!(
            !Path::new("/tmp/evil-rel").exists(),
            "wrote through a relative symlink outside the store"
        );
        if out.status.success() {
            ctx.ok(&["rmi", "evil:1"]);
        } else {
            assert!(
                stderr(&out).contains("l.tar"),
                "the error names the layer: {}",
                stderr(&out)
            );
        }
        let after = listing(&store);
        assert_eq!(after, before, "symlink layer: store not back to its state");
    }
    for (what, bytes) in cases {
        let out = ctx.berth_stdin(&["load"], &bytes);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: load should fail; stdout {}",
            stdout(&out)
        );
        assert!(!stderr(&out).trim().is_empty(), "{what}: no error message");
        assert!(!sentinel.exists(), "{what}: wrote outside the store");
        std::fs::remove_file(&saved).ok();
        let after = listing(&store);
        let added: Vec<_> = after.difference(&before).collect();
        let removed: Vec<_> = before.difference(&after).collect();
        assert!(
            added.is_empty() && removed.is_empty(),
            "{what}: store changed: +{added:?} -{removed:?}"
        );
        assert_eq!(
            ctx.ok(&["images", "-q", "--no-trunc"]),
            images_before,
            "{what}"
        );
    }
}

fn inspect_unknown_object(ctx: &Ctx) {
    let out = ctx.berth(&["inspect", "nothing-by-this-name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such object: nothing-by-this-name"),
        "{}",
        stderr(&out)
    );
}
