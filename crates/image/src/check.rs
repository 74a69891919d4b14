//! The image store's part of `berth system check`: every image's config,
//! manifest and layers present (and, deep, matching their digests), every
//! layer complete, no object nobody refers to. Repair removes only what
//! holds no data anyone can use: corrupt blobs, incomplete or unreferenced
//! layers, unreferenced blobs and half-kept compressed forms. A broken
//! image is reported, never removed: `rmi` is the user's choice.
//!
//! Runs under the store's exclusive lock when repairing (no image is being
//! added meanwhile, so an unreferenced object is a leftover, not one about
//! to be used), under the shared one otherwise.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::digest::Digest;
use crate::layer::chain_ids;
use crate::layout::TMP_PREFIX;
use crate::records::ImageRecord;
use crate::ImageStore;

/// What to look at and whether to fix it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Hash every blob (reads the whole store); otherwise presence only.
    pub deep: bool,
    pub repair: bool,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What it is about (`image sha256:…`, `layer …`, `blob …`).
    pub object: String,
    pub message: String,
    /// Whether `repair` fixed it.
    pub repaired: bool,
}

impl Problem {
    fn new(object: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            object: object.into(),
            message: message.into(),
            repaired: false,
        }
    }
}

/// Names in `dir` that are digests (hex), leftovers of in-flight work
/// (`.tmp-*`) skipped: the store removes those when it opens.
fn hex_names(dir: &Path, suffix: &str) -> Vec<(Digest, std::path::PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                return None;
            }
            let hex = name.strip_suffix(suffix)?;
            Some((Digest::from_hex(hex).ok()?, e.path()))
        })
        .collect();
    out.sort();
    out
}

fn remove_path(path: &Path) -> bool {
    let r = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    r.is_ok()
}

impl ImageStore {
    /// Checks the store; with `repair`, fixes what loses no usable data.
    pub fn check(&self, opts: CheckOptions) -> Vec<Problem> {
        let _exclusive = opts.repair.then(|| self.gc_exclusive());
        let _shared = (!opts.repair).then(|| self.gc_shared());
        let (images, named_manifests): (Vec<ImageRecord>, _) = {
            let idx = self.lock();
            (
                idx.images.values().cloned().collect(),
                idx.repos.manifest_digests(),
            )
        };
        let mut problems = Vec::new();
        // A digest reference's manifest is kept while the reference is.
        let mut used_blobs: BTreeSet<Digest> = named_manifests
            .into_iter()
            .filter(|d| self.content.exists(d))
            .collect();
        let mut used_layers = BTreeSet::new();

        for (id, path) in hex_names(&self.layout.images_dir(), ".json") {
            if !images.iter().any(|r| r.id == id) {
                let why = fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<ImageRecord>(&b)
                            .map(|_| "not loaded".to_string())
                            .map_err(|e| e.to_string())
                    })
                    .unwrap_or_else(|e| e);
                problems.push(Problem::new(
                    format!("image {id}"),
                    format!("its record is unreadable ({why}); the image is not listed"),
                ));
            }
        }
        for r in &images {
            let object = format!("image {}", r.id);
            used_blobs.insert(r.id.clone());
            if !self.content.exists(&r.id) {
                problems.push(Problem::new(&object, "its config blob is missing"));
            }
            if let Some(m) = &r.manifest {
                used_blobs.insert(m.clone());
                if !self.content.exists(m) {
                    problems.push(Problem::new(
                        &object,
                        format!("its manifest {m} is missing"),
                    ));
                }
            }
            let compressed = self.compressed();
            for (diff, chain) in r.diff_ids.iter().zip(chain_ids(&r.diff_ids)) {
                used_blobs.insert(diff.clone());
                let complete = self.layers.exists(&chain) && self.layers.diff_dir(&chain).is_dir();
                if !complete {
                    problems.push(Problem::new(
                        &object,
                        format!("its layer {chain} (diff {diff}) is missing or incomplete"),
                    ));
                }
                if !self.content.exists(diff) && compressed.get(diff).is_none() {
                    problems.push(Problem::new(
                        &object,
                        format!("no tar of its layer {diff} is kept (save and push need it)"),
                    ));
                }
                used_layers.insert(chain);
            }
        }

        for chain in self.layers.list().unwrap_or_default() {
            let object = format!("layer {chain}");
            let complete = match self.layers.record(&chain) {
                Ok(rec) if rec.chain_id != chain => {
                    Some(format!("its record names {}", rec.chain_id))
                }
                Ok(_) if !self.layers.diff_dir(&chain).is_dir() => {
                    Some("its diff directory is missing".to_string())
                }
                Ok(_) => None,
                Err(e) => Some(format!("its record is unreadable ({e})")),
            };
            let used = used_layers.contains(&chain);
            let message = match (complete, used) {
                (Some(why), _) => why,
                (None, false) => "no image uses it".to_string(),
                (None, true) => continue,
            };
            let mut p = Problem::new(object, message);
            if opts.repair && !used {
                p.repaired = self.layers.remove(&chain).is_ok();
            }
            problems.push(p);
        }

        for (d, path) in hex_names(&self.layout.blobs_dir(), "") {
            let object = format!("blob {d}");
            if opts.deep {
                let actual = fs::File::open(&path)
                    .and_then(|mut f| Digest::of_reader(&mut f))
                    .map(|(a, _)| a);
                match actual {
                    Ok(a) if a == d => {}
                    Ok(a) => {
                        let mut p = Problem::new(&object, format!("its bytes hash to {a}"));
                        if opts.repair {
                            p.repaired = remove_path(&path);
                        }
                        problems.push(p);
                        continue;
                    }
                    Err(e) => {
                        problems.push(Problem::new(&object, format!("unreadable: {e}")));
                        continue;
                    }
                }
            }
            if !used_blobs.contains(&d) {
                let mut p = Problem::new(object, "no image uses it");
                if opts.repair {
                    p.repaired = remove_path(&path);
                }
                problems.push(p);
            }
        }

        let dir = self.layout.compressed_dir();
        let tars = hex_names(&dir, ".tar.gz");
        let records = hex_names(&dir, ".json");
        for (d, path) in tars.iter().chain(&records) {
            let is_tar = path.to_string_lossy().ends_with(".tar.gz");
            let other = if is_tar {
                records.iter().any(|(r, _)| r == d)
            } else {
                tars.iter().any(|(t, _)| t == d)
            };
            let used = used_blobs.contains(d);
            if other && used {
                continue;
            }
            let mut p = Problem::new(
                format!("compressed layer {d}"),
                if other {
                    "no image uses it"
                } else if is_tar {
                    "its record is missing"
                } else {
                    "its gzip file is missing"
                },
            );
            if opts.repair && (!used || !is_tar) {
                p.repaired = remove_path(path);
            }
            problems.push(p);
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImportOptions;

    fn rootfs_tar(file: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, file, &b"abc"[..]).expect("append");
        b.into_inner().expect("tar")
    }

    fn import(store: &ImageStore, file: &str) -> Digest {
        let info = store
            .import(&mut &rootfs_tar(file)[..], &ImportOptions::default())
            .expect("import");
        Digest::parse(&info.id).expect("id")
    }

    fn check(store: &ImageStore, deep: bool, repair: bool) -> Vec<Problem> {
        store.check(CheckOptions { deep, repair })
    }

    #[test]
    fn a_sound_store_has_no_problems() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        import(&store, "a");
        import(&store, "b");
        assert_eq!(check(&store, true, false), []);
    }

    #[test]
    fn corrupt_and_unreferenced_blobs_are_found_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        import(&store, "a");
        let stray = Digest::of_bytes(b"stray");
        let blobs = store.layout.blobs_dir();
        fs::write(blobs.join(stray.hex()), b"stray").expect("stray blob");
        let liar = Digest::of_bytes(b"what it claims");
        fs::write(blobs.join(liar.hex()), b"something else").expect("corrupt blob");
        let found = check(&store, true, false);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found
            .iter()
            .any(|p| p.object == format!("blob {liar}")
                && p.message.starts_with("its bytes hash to")));
        assert!(found
            .iter()
            .any(|p| p.object == format!("blob {stray}") && p.message == "no image uses it"));
        assert!(
            check(&store, false, false)
                .iter()
                .all(|p| p.message == "no image uses it"),
            "without deep, bytes are not hashed"
        );
        let repaired = check(&store, true, true);
        assert!(repaired.iter().all(|p| p.repaired), "{repaired:#?}");
        assert!(!blobs.join(stray.hex()).exists() && !blobs.join(liar.hex()).exists());
        assert_eq!(check(&store, true, false), []);
    }

    #[test]
    fn a_missing_layer_is_reported_and_the_image_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        let id = import(&store, "a");
        let diff = store.record(&id.to_string()).expect("record").diff_ids[0].clone();
        fs::remove_dir_all(store.layers.diff_dir(&diff)).expect("remove diff");
        let found = check(&store, false, true);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found.iter().all(|p| !p.repaired),
            "nothing of a used layer is removed"
        );
        assert!(found
            .iter()
            .any(|p| p.object == format!("image {id}")
                && p.message.contains("missing or incomplete")));
        assert!(store.resolve(&id.to_string()).is_ok(), "the image stays");
    }

    #[test]
    fn leftovers_of_a_lost_image_record_are_removed_and_unreadable_records_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        import(&store, "keep");
        let lost = import(&store, "lost");
        fs::remove_file(store.layout.image_record(&lost)).expect("remove record");
        let garbage = Digest::of_bytes(b"garbage");
        fs::write(store.layout.image_record(&garbage), b"{not json").expect("garbage");
        drop(store);
        let store = ImageStore::open(dir.path()).expect("reopen");
        let found = check(&store, false, true);
        let objects: Vec<&str> = found.iter().map(|p| p.object.as_str()).collect();
        assert!(
            objects.contains(&format!("image {garbage}").as_str()),
            "{found:#?}"
        );
        assert!(
            objects.iter().any(|o| o.starts_with("layer ")),
            "{found:#?}"
        );
        assert!(
            objects.contains(&format!("blob {lost}").as_str()),
            "{found:#?}"
        );
        for p in &found {
            assert_eq!(p.repaired, !p.object.starts_with("image "), "{p:?}");
        }
        let left = check(&store, false, false);
        assert_eq!(left.len(), 1, "only the unreadable record stays: {left:#?}");
    }
}
