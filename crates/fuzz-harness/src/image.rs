//! Image references, registry manifests, layer tars and image archives.

use berth_image::layer::extract::{unpack, UnpackOptions, Whiteouts};
use berth_image::manifest::{index_entry, parse_config, parse_manifest};
use berth_image::reference::repo_tag;
use berth_image::{ImageStore, ImportOptions, Reference};

use crate::tree::{sandbox, snapshot};
use crate::{parts, scratch, text};

/// Every way a reference is parsed; what parses prints as a reference
/// that parses to the same text.
pub fn reference(data: &[u8]) {
    let s = text(data);
    let parsers: [fn(&str) -> Result<Reference, _>; 3] = [
        Reference::parse,
        Reference::parse_normalized,
        Reference::parse_docker,
    ];
    for parse in parsers {
        let Ok(r) = parse(&s) else { continue };
        let printed = r.to_string();
        let again = Reference::parse(&printed).unwrap_or_else(|e| {
            panic!("{s:?} parsed but prints as {printed:?}, which does not: {e}")
        });
        assert_eq!(again.to_string(), printed, "{s:?} does not round-trip");
        let _ = (r.familiar(), r.familiar_name(), r.with_tag("v1"));
    }
    if let Some((repo, tag)) = s.split_once('\n') {
        let _ = repo_tag(repo, tag);
    }
}

/// An index, a manifest and a config, split at NUL bytes, read as a pull
/// reads them.
pub fn manifest(data: &[u8]) {
    let p = parts(data, 3);
    let _ = index_entry(p[0], "");
    let _ = index_entry(p[0], "linux/arm64/v8");
    if let Ok(m) = parse_manifest(p[0]) {
        if let Some(config) = p.get(1) {
            let _ = parse_config(&m, config);
        }
    }
}

/// Unpacks a layer tar into a scratch root: nothing outside it may change.
pub fn layer(data: &[u8]) {
    let dir = scratch();
    let (root, _) = sandbox(dir.path());
    let before = snapshot(dir.path(), &[&root]);
    let _ = unpack(
        &mut &data[..],
        &root,
        &UnpackOptions {
            whiteouts: [Whiteouts::Keep, Whiteouts::Overlay, Whiteouts::Apply]
                [usize::from(data.first().copied().unwrap_or(0) % 3)],
            ignore_chown_errors: data.first().is_some_and(|b| b & 4 == 4),
            user_xattrs: data.first().is_some_and(|b| b & 8 == 8),
        },
    );
    assert_eq!(
        snapshot(dir.path(), &[&root]),
        before,
        "a layer changed files outside its root"
    );
}

/// `docker load` (first byte even) or `docker import` (odd) into a scratch
/// store: a failure leaves the store as it was, and nothing outside the
/// store changes either way.
pub fn archive(data: &[u8]) {
    let Some((&which, tar)) = data.split_first() else {
        return;
    };
    let dir = scratch();
    let (store_root, _) = sandbox(dir.path());
    let store =
        ImageStore::open(&store_root).unwrap_or_else(|e| panic!("opening a scratch store: {e}"));
    let before = snapshot(dir.path(), &[]);
    let failed = if which & 1 == 0 {
        store.load(&mut &tar[..]).is_err()
    } else {
        store
            .import(&mut &tar[..], &ImportOptions::default())
            .is_err()
    };
    if failed {
        assert_eq!(
            snapshot(dir.path(), &[]),
            before,
            "a failed load or import changed the store"
        );
    } else {
        let outside = dir.path().join("outside");
        let after = snapshot(&outside, &[]);
        let want: Vec<_> = before
            .into_iter()
            .filter(|(p, _)| p.starts_with(&outside))
            .collect();
        assert_eq!(
            after.into_iter().collect::<Vec<_>>(),
            want,
            "a load or import changed files outside the store"
        );
    }
}
