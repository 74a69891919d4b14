//! Loading archives into the store: docker-archive (`manifest.json`) or OCI layout
//! (`index.json`), all-or-nothing through one transaction.

use super::oci::{
    is_index, DockerManifestEntry, Index, Manifest, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME,
};
use super::stage::Staged;
use super::ArchiveError;
use crate::config::{host_platform, ImageConfig};
use crate::content::ContentError;
use crate::digest::{Digest, HashingReader};
use crate::error::Error;
use crate::import::tag_reference;
use crate::layer::{chain_id, KeepTar};
use crate::reference::Reference;
use crate::store::{ImageStore, Loaded};
use crate::txn::Txn;

/// A blob named by an archive: its path, and digest/size when known.
#[derive(Debug, Clone)]
struct BlobRef {
    path: String,
    digest: Option<Digest>,
    size: Option<u64>,
}

impl BlobRef {
    fn from_path(path: &str) -> Self {
        Self {
            path: path.to_string(),
            digest: digest_from_path(path),
            size: None,
        }
    }

    fn from_descriptor(digest: &str, size: u64) -> Result<Self, ArchiveError> {
        let d = Digest::parse(digest)
            .map_err(|e| ArchiveError::Invalid(format!("descriptor digest {digest:?}: {e}")))?;
        Ok(Self {
            path: format!("blobs/sha256/{}", d.hex()),
            digest: Some(d),
            size: Some(size),
        })
    }
}

/// One image to load.
#[derive(Debug)]
struct Plan {
    config: BlobRef,
    layers: Vec<BlobRef>,
    tags: Vec<Reference>,
    manifest: Option<Vec<u8>>,
}

/// `blobs/sha256/<hex>` and `<hex>.json` names carry their digest.
fn digest_from_path(path: &str) -> Option<Digest> {
    let name = path.trim_start_matches("./");
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    name.strip_suffix(".json")
        .and_then(|h| Digest::from_hex(h).ok())
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T, ArchiveError> {
    serde_json::from_slice(bytes).map_err(|source| ArchiveError::Json {
        file: file.to_string(),
        source,
    })
}

impl ImageStore {
    /// Loads a docker-archive or OCI layout tarball (optionally gzip/zstd compressed).
    /// On any error the store is left exactly as it was.
    pub fn load(&self, r: &mut dyn std::io::Read) -> Result<Vec<Loaded>, Error> {
        let staged = Staged::extract(r, &self.layout.tmp_dir())?;
        let plans = if staged.has("manifest.json") {
            docker_plans(&staged)?
        } else if staged.has("index.json") {
            oci_plans(&staged)?
        } else {
            return Err(ArchiveError::NoManifest.into());
        };
        if plans.is_empty() {
            return Err(ArchiveError::Invalid("archive contains no images".into()).into());
        }
        let mut txn = Txn::new(self);
        for plan in merge(plans) {
            load_one(&mut txn, &staged, plan)?;
        }
        let done = txn.commit()?;
        Ok(done
            .into_iter()
            .map(|(info, tags)| Loaded { id: info.id, tags })
            .collect())
    }
}

/// Several entries may name the same config (one per tag): merge their tags.
fn merge(plans: Vec<Plan>) -> Vec<Plan> {
    let mut out: Vec<Plan> = Vec::new();
    for p in plans {
        match out.iter_mut().find(|q| q.config.path == p.config.path) {
            Some(q) => {
                for t in p.tags {
                    if !q.tags.contains(&t) {
                        q.tags.push(t);
                    }
                }
            }
            None => out.push(p),
        }
    }
    out
}

fn content_err(e: ContentError) -> ArchiveError {
    ArchiveError::Content(e)
}

fn load_one(txn: &mut Txn<'_>, staged: &Staged, plan: Plan) -> Result<(), Error> {
    let cpath = &plan.config.path;
    let bytes = staged.read_small(cpath)?;
    check_size(cpath, plan.config.size, bytes.len() as u64)?;
    let id = txn
        .blob(&bytes, cpath, plan.config.digest.as_ref())
        .map_err(content_err)?;
    let config: ImageConfig = json(&bytes, cpath)?;
    if config.diff_ids().len() != plan.layers.len() {
        return Err(ArchiveError::Invalid(format!(
            "{cpath}: config has {} diff ids but the manifest lists {} layers",
            config.diff_ids().len(),
            plan.layers.len()
        ))
        .into());
    }
    let mut parent: Option<Digest> = None;
    for (diff_id, layer) in config.diff_ids().iter().zip(&plan.layers) {
        let chain = chain_id(parent.as_ref(), diff_id);
        if !txn.has_layer(&chain) {
            let (file, staged_path) = staged.open(&layer.path)?;
            let mut hr = HashingReader::new(file);
            let layer_err = |source| ArchiveError::Layer {
                what: layer.path.clone(),
                source,
            };
            txn.layer(
                parent.as_ref(),
                &mut hr,
                Some(diff_id),
                KeepTar::AdoptIfPlain(staged_path),
            )
            .map_err(layer_err)?;
            hr.drain().map_err(ArchiveError::Read)?;
            let (digest, size, _) = hr.finish();
            check_size(&layer.path, layer.size, size)?;
            if let Some(want) = &layer.digest {
                if *want != digest {
                    return Err(content_err(ContentError::DigestMismatch {
                        what: layer.path.clone(),
                        expected: want.clone(),
                        actual: digest,
                    })
                    .into());
                }
            }
        } else if !staged.has(&layer.path) {
            return Err(ArchiveError::Missing(layer.path.clone()).into());
        }
        parent = Some(chain);
    }
    let manifest = match &plan.manifest {
        Some(m) => Some(txn.blob(m, "manifest", None).map_err(content_err)?),
        None => None,
    };
    txn.image(id, &config, None, manifest, plan.tags)
}

fn check_size(path: &str, want: Option<u64>, got: u64) -> Result<(), ArchiveError> {
    match want {
        Some(w) if w != got => Err(content_err(ContentError::SizeMismatch {
            what: path.to_string(),
            expected: w,
            actual: got,
        })),
        _ => Ok(()),
    }
}

fn docker_plans(staged: &Staged) -> Result<Vec<Plan>, ArchiveError> {
    let entries: Vec<DockerManifestEntry> =
        json(&staged.read_small("manifest.json")?, "manifest.json")?;
    let mut out = Vec::new();
    for e in entries {
        if e.config.is_empty() {
            return Err(ArchiveError::Invalid(
                "manifest.json: entry without Config".into(),
            ));
        }
        let mut tags = Vec::new();
        for t in &e.repo_tags {
            let r = tag_reference(t).map_err(|err| {
                ArchiveError::Invalid(format!("manifest.json: invalid tag {t:?}: {err}"))
            })?;
            tags.push(r);
        }
        out.push(Plan {
            config: BlobRef::from_path(&e.config),
            layers: e.layers.iter().map(|l| BlobRef::from_path(l)).collect(),
            tags,
            manifest: None,
        });
    }
    Ok(out)
}

fn oci_plans(staged: &Staged) -> Result<Vec<Plan>, ArchiveError> {
    let index: Index = json(&staged.read_small("index.json")?, "index.json")?;
    let mut out = Vec::new();
    for desc in &index.manifests {
        let tags = tags_from_annotations(&desc.annotations)?;
        let mut target = desc.clone();
        // Nested indexes: pick the host platform.
        for _ in 0..8 {
            if !is_index(&target.media_type) {
                break;
            }
            let blob = BlobRef::from_descriptor(&target.digest, target.size)?;
            let bytes = read_verified(staged, &blob)?;
            let nested: Index = json(&bytes, &blob.path)?;
            target = pick_platform(&nested)?;
        }
        let blob = BlobRef::from_descriptor(&target.digest, target.size)?;
        let bytes = read_verified(staged, &blob)?;
        let m: Manifest = json(&bytes, &blob.path)?;
        if m.media_type.as_deref().is_some_and(is_index) {
            return Err(ArchiveError::Invalid(format!(
                "{}: nested index too deep",
                blob.path
            )));
        }
        let layers = m
            .layers
            .iter()
            .map(|l| BlobRef::from_descriptor(&l.digest, l.size))
            .collect::<Result<_, _>>()?;
        out.push(Plan {
            config: BlobRef::from_descriptor(&m.config.digest, m.config.size)?,
            layers,
            tags,
            manifest: Some(bytes),
        });
    }
    Ok(out)
}

fn read_verified(staged: &Staged, blob: &BlobRef) -> Result<Vec<u8>, ArchiveError> {
    let bytes = staged.read_small(&blob.path)?;
    check_size(&blob.path, blob.size, bytes.len() as u64)?;
    if let Some(d) = &blob.digest {
        let actual = Digest::of_bytes(&bytes);
        if actual != *d {
            return Err(content_err(ContentError::DigestMismatch {
                what: blob.path.clone(),
                expected: d.clone(),
                actual,
            }));
        }
    }
    Ok(bytes)
}

fn pick_platform(index: &Index) -> Result<super::oci::Descriptor, ArchiveError> {
    let (os, arch) = host_platform();
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == arch)
        })
        .cloned()
        .ok_or_else(|| {
            ArchiveError::Invalid(format!(
                "no matching manifest for {os}/{arch} in the manifest list entries"
            ))
        })
}

/// Tags from `io.containerd.image.name` (a full reference) or
/// `org.opencontainers.image.ref.name` (a full reference, or a bare tag, which
/// names no repository and so cannot tag anything).
fn tags_from_annotations(
    a: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Reference>, ArchiveError> {
    let bad = |n: &str, e: crate::reference::ReferenceError| {
        ArchiveError::Invalid(format!("index.json: invalid image name {n:?}: {e}"))
    };
    if let Some(n) = a.get(ANNOTATION_CONTAINERD_NAME) {
        return Ok(vec![tag_reference(n).map_err(|e| bad(n, e))?]);
    }
    if let Some(n) = a.get(ANNOTATION_REF_NAME) {
        if n.contains('/') || n.contains(':') {
            return Ok(vec![tag_reference(n).map_err(|e| bad(n, e))?]);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_from_paths() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            digest_from_path(&format!("blobs/sha256/{hex}"))
                .unwrap()
                .hex(),
            hex
        );
        assert_eq!(digest_from_path(&format!("{hex}.json")).unwrap().hex(), hex);
        assert!(digest_from_path("abc/layer.tar").is_none());
        assert!(digest_from_path(&format!("{hex}.tar")).is_none());
    }

    #[test]
    fn annotation_tags() {
        let mut a = std::collections::BTreeMap::new();
        a.insert(ANNOTATION_REF_NAME.to_string(), "latest".to_string());
        assert!(tags_from_annotations(&a).unwrap().is_empty());
        a.insert(ANNOTATION_REF_NAME.to_string(), "bb:1".to_string());
        assert_eq!(tags_from_annotations(&a).unwrap()[0].familiar(), "bb:1");
        a.insert(
            ANNOTATION_CONTAINERD_NAME.to_string(),
            "docker.io/library/busybox:latest".to_string(),
        );
        assert_eq!(
            tags_from_annotations(&a).unwrap()[0].familiar(),
            "busybox:latest"
        );
        a.insert(
            ANNOTATION_CONTAINERD_NAME.to_string(),
            "Bad Name".to_string(),
        );
        assert!(tags_from_annotations(&a).is_err());
    }
}
