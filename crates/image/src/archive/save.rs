//! Writing archives: one tarball that is both a docker-archive (`manifest.json`,
//! `repositories`) and an OCI image layout (`oci-layout`, `index.json`, `blobs/`),
//! like Docker 25+. Layers are the uncompressed tars kept at load/import time (or
//! decompressed from a pulled layer's gzip form), so each layer blob's digest is
//! its diff id.

use super::oci::{
    Descriptor, DockerManifestEntry, Index, Manifest, ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_LAYER, MEDIA_OCI_MANIFEST,
};
use crate::digest::Digest;
use crate::error::{Error, IoContext};
use crate::records::ImageRecord;
use crate::reference::Reference;
use crate::store::{resolve_in, By, ImageStore};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

struct Selected {
    record: ImageRecord,
    tags: Vec<Reference>,
}

impl ImageStore {
    /// Writes the named images (tags, ids, or repository names meaning all their tags).
    pub fn save(&self, names: &[String], w: &mut dyn Write) -> Result<(), Error> {
        let _gc = self.gc_shared();
        let selected = self.select(names)?;
        let mut b = tar::Builder::new(w);
        let ctx = || "write archive".to_string();
        // As Docker: blobs carry their image's creation time, the files
        // that describe the archive the epoch.
        let blobs_time = selected
            .iter()
            .map(|s| created_secs(&s.record))
            .max()
            .unwrap_or(0);
        append_dir(&mut b, "blobs/", blobs_time).ctx(ctx)?;
        append_dir(&mut b, "blobs/sha256/", blobs_time).ctx(ctx)?;
        let mut written: HashSet<Digest> = HashSet::new();
        let mut index = Index {
            schema_version: 2,
            media_type: Some(MEDIA_OCI_INDEX.to_string()),
            manifests: Vec::new(),
        };
        let mut docker: Vec<DockerManifestEntry> = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

        for s in &selected {
            let id = &s.record.id;
            let mtime = created_secs(&s.record);
            let config_size = self.content.size(id)?;
            let mut layers = Vec::new();
            for diff in &s.record.diff_ids {
                let size = self
                    .content
                    .size(diff)
                    .ok()
                    .or_else(|| self.compressed().get(diff).and_then(|(e, _)| e.tar_size))
                    .ok_or_else(|| {
                        Error::Corrupt(format!("layer tar {diff} of image {id} is missing"))
                    })?;
                layers.push(Descriptor {
                    media_type: MEDIA_OCI_LAYER.to_string(),
                    digest: diff.to_string(),
                    size,
                    platform: None,
                    annotations: BTreeMap::new(),
                });
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(MEDIA_OCI_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: MEDIA_OCI_CONFIG.to_string(),
                    digest: id.to_string(),
                    size: config_size,
                    platform: None,
                    annotations: BTreeMap::new(),
                },
                layers,
            };
            let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
            let manifest_digest = Digest::of_bytes(&manifest_bytes);

            for d in std::iter::once(id).chain(&s.record.diff_ids) {
                if written.insert(d.clone()) {
                    let (r, size) = self.layer_tar(d)?;
                    append_file(&mut b, &blob_path(d), size, r, mtime).ctx(ctx)?;
                }
            }
            if written.insert(manifest_digest.clone()) {
                append_file(
                    &mut b,
                    &blob_path(&manifest_digest),
                    manifest_bytes.len() as u64,
                    &manifest_bytes[..],
                    mtime,
                )
                .ctx(ctx)?;
            }

            let descriptor = Descriptor {
                media_type: MEDIA_OCI_MANIFEST.to_string(),
                digest: manifest_digest.to_string(),
                size: manifest_bytes.len() as u64,
                platform: None,
                annotations: BTreeMap::new(),
            };
            if s.tags.is_empty() {
                index.manifests.push(descriptor.clone());
            }
            for t in &s.tags {
                let mut d = descriptor.clone();
                d.annotations
                    .insert(ANNOTATION_CONTAINERD_NAME.to_string(), t.to_string());
                d.annotations.insert(
                    ANNOTATION_REF_NAME.to_string(),
                    t.tag().unwrap_or_default().to_string(),
                );
                index.manifests.push(d);
                repositories.entry(t.familiar_name()).or_default().insert(
                    t.tag().unwrap_or_default().to_string(),
                    id.hex().to_string(),
                );
            }
            docker.push(DockerManifestEntry {
                config: blob_path(id),
                repo_tags: s.tags.iter().map(|t| t.familiar()).collect(),
                layers: s.record.diff_ids.iter().map(blob_path).collect(),
            });
        }

        let files: [(&str, Vec<u8>); 4] = [
            ("index.json", serde_json::to_vec(&index).unwrap_or_default()),
            (
                "manifest.json",
                serde_json::to_vec(&docker).unwrap_or_default(),
            ),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            (
                "repositories",
                serde_json::to_vec(&repositories).unwrap_or_default(),
            ),
        ];
        for (name, bytes) in files {
            append_file(&mut b, name, bytes.len() as u64, &bytes[..], 0).ctx(ctx)?;
        }
        b.into_inner().ctx(ctx)?.flush().ctx(ctx)?;
        Ok(())
    }

    /// Resolves names to images and the tags to write for each, in order.
    fn select(&self, names: &[String]) -> Result<Vec<Selected>, Error> {
        let idx = self.lock();
        let mut out: Vec<Selected> = Vec::new();
        let mut add = |id: crate::digest::Digest, tag: Option<Reference>| {
            let pos = match out.iter().position(|s| s.record.id == id) {
                Some(p) => p,
                None => {
                    out.push(Selected {
                        record: idx.images[&id].clone(),
                        tags: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(t) = tag {
                if !out[pos].tags.contains(&t) {
                    out[pos].tags.push(t);
                }
            }
        };
        for name in names {
            // A bare repository name means every tag in it.
            if let Ok(r) = Reference::parse_normalized(name) {
                let all = idx.repos.tags_in(&r.name());
                if r.is_name_only() && !all.is_empty() {
                    for (t, id) in all {
                        add(id, Some(t));
                    }
                    continue;
                }
            }
            let (id, by) = resolve_in(&idx, name)?;
            let tag = match by {
                By::Ref(r) if r.digest().is_none() => Some(r),
                _ => None,
            };
            add(id, tag);
        }
        Ok(out)
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The image's creation time in unix seconds (0 when it has none).
fn created_secs(r: &ImageRecord) -> u64 {
    r.created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map_or(0, |t| t.timestamp().max(0) as u64)
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, path: &str, mtime: u64) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Directory, 0o755, 0, mtime);
    b.append_data(&mut h, path, std::io::empty())
}

fn append_file<W: Write, R: Read>(
    b: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    r: R,
    mtime: u64,
) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Regular, 0o644, size, mtime);
    b.append_data(&mut h, path, r)
}
