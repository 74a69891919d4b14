//! A registry's storage on disk, deduplicated by digest:
//!
//! ```text
//! <root>/blobs/sha256/<hex>                          content (blobs and manifests)
//! <root>/repositories/<name>/_layers/<hex>           the repository may serve this blob
//! <root>/repositories/<name>/_manifests/revisions/<hex>   a manifest of the repository (its media type)
//! <root>/repositories/<name>/_manifests/tags/<tag>   the digest the tag points at
//! <root>/uploads/<id>/{data,name}                    uploads in progress
//! ```
//!
//! Content appears only by `rename` of a verified file, records by rename
//! of a temporary: a crash mid-upload loses nothing committed and leaves
//! nothing visible (stale uploads go with `gc`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use berth_image::Digest;
use serde_json::Value;

use crate::protocol::{Code, RegistryError, MANIFEST_LIMIT, MEDIA_TYPES};

type Result<T> = std::result::Result<T, RegistryError>;

/// A storage failure: the path goes to the log, not to the client.
fn internal(what: &str, path: &Path, e: std::io::Error) -> RegistryError {
    tracing::error!(path = %path.display(), error = %e, "registry storage: {what}");
    RegistryError::new(Code::Unsupported, format!("{what} failed: {}", e.kind()))
        .with_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Parses a digest, or the spec's DIGEST_INVALID.
pub fn digest(text: &str) -> Result<Digest> {
    Digest::parse(text)
        .map_err(|e| RegistryError::new(Code::DigestInvalid, format!("invalid digest {text}: {e}")))
}

/// A new random upload id.
fn new_id() -> String {
    let mut b = [0u8; 16];
    // Falls back to the clock should the OS source fail.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = t.to_le_bytes();
    }
    hex::encode(b)
}

/// Creates the parent directory and writes with the project's one atomic
/// write (temporary file, `fsync`, `rename`).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| internal("creating", dir, e))?;
    berth_image::layout::write_atomic(path, bytes).map_err(|e| internal("writing", path, e))
}

/// A manifest as stored.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Storage> {
        let root = root.into();
        for d in ["blobs/sha256", "repositories", "uploads"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        Ok(Storage { root })
    }

    pub fn blob_file(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }
    fn repo(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }
    fn link(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo(name).join("_layers").join(d.hex())
    }
    fn revision(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo(name).join("_manifests/revisions").join(d.hex())
    }
    fn tag_file(&self, name: &str, tag: &str) -> PathBuf {
        self.repo(name).join("_manifests/tags").join(tag)
    }
    fn upload_dir(&self, id: &str) -> Result<PathBuf> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::new(
                Code::BlobUploadUnknown,
                "blob upload unknown to registry",
            ));
        }
        Ok(self.root.join("uploads").join(id))
    }

    /// The blob's file and size when repository `name` may serve it.
    pub fn blob(&self, name: &str, d: &Digest) -> Result<(PathBuf, u64)> {
        let file = self.blob_file(d);
        let linked = self.link(name, d).exists() || self.revision(name, d).exists();
        match std::fs::metadata(&file) {
            Ok(md) if linked => Ok((file, md.len())),
            _ => Err(RegistryError::new(
                Code::BlobUnknown,
                "blob unknown to registry",
            )),
        }
    }

    fn link_blob(&self, name: &str, d: &Digest) -> Result<()> {
        write_atomic(&self.link(name, d), b"")
    }

    /// `DELETE /v2/<name>/blobs/<digest>`: the repository stops serving it.
    pub fn unlink_blob(&self, name: &str, d: &Digest) -> Result<()> {
        self.blob(name, d)?;
        let link = self.link(name, d);
        match std::fs::remove_file(&link) {
            Ok(()) => Ok(()),
            // Another DELETE took it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(RegistryError::new(
                Code::BlobUnknown,
                "blob unknown to registry",
            )),
            Err(e) => Err(internal("removing a blob link", &link, e)),
        }
    }

    /// Cross-repository mount: `from` lends a blob to `name`.
    pub fn mount(&self, name: &str, from: &str, d: &Digest) -> Result<bool> {
        if self.blob(from, d).is_err() {
            return Ok(false);
        }
        self.link_blob(name, d)?;
        Ok(true)
    }

    pub fn start_upload(&self, name: &str) -> Result<String> {
        let id = new_id();
        let dir = self.upload_dir(&id)?;
        std::fs::create_dir_all(&dir).map_err(|e| internal("creating", &dir, e))?;
        std::fs::write(dir.join("data"), b"").map_err(|e| internal("creating", &dir, e))?;
        std::fs::write(dir.join("name"), name).map_err(|e| internal("writing", &dir, e))?;
        Ok(id)
    }

    /// The data file of upload `id` of repository `name`, and its size.
    pub fn upload(&self, name: &str, id: &str) -> Result<(PathBuf, u64)> {
        let dir = self.upload_dir(id)?;
        let owner = std::fs::read_to_string(dir.join("name")).unwrap_or_default();
        let data = dir.join("data");
        match std::fs::metadata(&data) {
            Ok(md) if owner == name => Ok((data, md.len())),
            _ => Err(RegistryError::new(
                Code::BlobUploadUnknown,
                "blob upload unknown to registry",
            )),
        }
    }

    pub fn cancel_upload(&self, name: &str, id: &str) -> Result<()> {
        self.upload(name, id)?;
        let dir = self.upload_dir(id)?;
        std::fs::remove_dir_all(&dir).map_err(|e| internal("removing", &dir, e))
    }

    /// Completes an upload: its data must hash to `d`; it becomes the blob
    /// (kept once however many repositories hold it).
    pub fn finish_upload(&self, name: &str, id: &str, d: &Digest) -> Result<u64> {
        let (data, size) = self.upload(name, id)?;
        let mut file = std::fs::File::open(&data).map_err(|e| internal("opening", &data, e))?;
        let (actual, _) =
            Digest::of_reader(&mut file).map_err(|e| internal("reading", &data, e))?;
        if &actual != d {
            return Err(RegistryError::new(
                Code::DigestInvalid,
                format!("provided digest {d} did not match uploaded content {actual}"),
            ));
        }
        let blob = self.blob_file(d);
        if !blob.exists() {
            std::fs::rename(&data, &blob).map_err(|e| internal("storing", &blob, e))?;
        }
        self.link_blob(name, d)?;
        let dir = self.upload_dir(id)?;
        let _ = std::fs::remove_dir_all(dir);
        Ok(size)
    }

    /// Stores a manifest under `reference` (a tag or its digest) after
    /// checking it: JSON, a known media type, the limit, and every blob and
    /// manifest it names present in the repository.
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<Manifest> {
        if bytes.len() > MANIFEST_LIMIT {
            return Err(RegistryError::new(Code::SizeInvalid, "manifest too large")
                .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            RegistryError::new(Code::ManifestInvalid, format!("manifest invalid: {e}"))
        })?;
        let media_type = v["mediaType"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or(content_type)
            .to_string();
        if !MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(RegistryError::new(
                Code::ManifestInvalid,
                format!("manifest invalid: unsupported media type {media_type:?}"),
            ));
        }
        let is_index = media_type.contains("index") || media_type.contains("list");
        let refs: Vec<&Value> = if is_index {
            v["manifests"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default()
        } else {
            std::iter::once(&v["config"])
                .chain(v["layers"].as_array().into_iter().flatten())
                .collect()
        };
        for r in refs {
            let text = r["digest"].as_str().unwrap_or_default();
            let d = digest(text).map_err(|_| {
                RegistryError::new(
                    Code::ManifestInvalid,
                    format!("manifest invalid: bad digest {text:?}"),
                )
            })?;
            let present = if is_index {
                self.revision(name, &d).exists()
            } else {
                self.blob(name, &d).is_ok()
            };
            if !present {
                return Err(RegistryError::new(
                    Code::ManifestBlobUnknown,
                    format!("manifest blob unknown: {d}"),
                ));
            }
        }
        let d = Digest::of_bytes(bytes);
        let is_digest = reference.contains(':');
        if is_digest && digest(reference)? != d {
            return Err(RegistryError::new(
                Code::DigestInvalid,
                "the manifest's digest does not match its reference",
            ));
        }
        if !is_digest && !crate::protocol::valid_tag(reference) {
            return Err(RegistryError::new(
                Code::ManifestInvalid,
                format!("invalid tag {reference}"),
            ));
        }
        let blob = self.blob_file(&d);
        if !blob.exists() {
            write_atomic(&blob, bytes)?;
        }
        write_atomic(&self.revision(name, &d), media_type.as_bytes())?;
        if !is_digest {
            write_atomic(&self.tag_file(name, reference), d.to_string().as_bytes())?;
        }
        Ok(Manifest {
            bytes: bytes.to_vec(),
            media_type,
            digest: d,
        })
    }

    fn resolve(&self, name: &str, reference: &str) -> Result<Digest> {
        let unknown = || RegistryError::new(Code::ManifestUnknown, "manifest unknown to registry");
        if reference.contains(':') {
            return digest(reference);
        }
        if !crate::protocol::valid_tag(reference) {
            return Err(unknown());
        }
        let text =
            std::fs::read_to_string(self.tag_file(name, reference)).map_err(|_| unknown())?;
        digest(text.trim()).map_err(|_| unknown())
    }

    pub fn manifest(&self, name: &str, reference: &str) -> Result<Manifest> {
        let unknown = || RegistryError::new(Code::ManifestUnknown, "manifest unknown to registry");
        let d = self.resolve(name, reference)?;
        let media_type = std::fs::read_to_string(self.revision(name, &d)).map_err(|_| unknown())?;
        let bytes = std::fs::read(self.blob_file(&d)).map_err(|_| unknown())?;
        Ok(Manifest {
            bytes,
            media_type,
            digest: d,
        })
    }

    /// Deletes a tag, or a manifest by digest (with the tags pointing at it).
    pub fn delete_manifest(&self, name: &str, reference: &str) -> Result<()> {
        let unknown = || RegistryError::new(Code::ManifestUnknown, "manifest unknown to registry");
        if !reference.contains(':') {
            let tag = self.tag_file(name, reference);
            return std::fs::remove_file(&tag).map_err(|_| unknown());
        }
        let d = digest(reference)?;
        let rev = self.revision(name, &d);
        std::fs::remove_file(&rev).map_err(|_| unknown())?;
        for t in self.tags(name).unwrap_or_default() {
            if self.resolve(name, &t).ok().as_ref() == Some(&d) {
                let _ = std::fs::remove_file(self.tag_file(name, &t));
            }
        }
        Ok(())
    }

    pub fn tags(&self, name: &str) -> Result<Vec<String>> {
        let dir = self.repo(name).join("_manifests/tags");
        let entries = std::fs::read_dir(&dir).map_err(|_| {
            RegistryError::new(Code::NameUnknown, "repository name not known to registry")
        })?;
        let mut out: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every repository that holds a manifest, sorted.
    pub fn catalog(&self) -> Vec<String> {
        let mut out = Vec::new();
        let base = self.root.join("repositories");
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let file = e.file_name();
                if file == "_manifests" {
                    if let Ok(rel) = dir.strip_prefix(&base) {
                        out.push(rel.to_string_lossy().into_owned());
                    }
                } else if !file.to_string_lossy().starts_with('_') && p.is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }

    fn revisions(&self, name: &str) -> Vec<(Digest, String)> {
        let dir = self.repo(name).join("_manifests/revisions");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let d = Digest::from_hex(&e.file_name().to_string_lossy()).ok()?;
                let mt = std::fs::read_to_string(e.path()).ok()?;
                Some((d, mt))
            })
            .collect()
    }

    /// The referrers API: an OCI index of the repository's manifests whose
    /// `subject` is `d` (filtered by `artifact_type` when given).
    pub fn referrers(&self, name: &str, d: &Digest, artifact_type: Option<&str>) -> Value {
        let mut manifests = Vec::new();
        for (rd, media_type) in self.revisions(name) {
            let Ok(bytes) = std::fs::read(self.blob_file(&rd)) else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if v["subject"]["digest"].as_str() != Some(&d.to_string()) {
                continue;
            }
            let at = v["artifactType"]
                .as_str()
                .or_else(|| v["config"]["mediaType"].as_str())
                .unwrap_or_default()
                .to_string();
            if artifact_type.is_some_and(|want| want != at) {
                continue;
            }
            let mut desc = serde_json::json!({"mediaType": media_type, "digest": rd.to_string(), "size": bytes.len(), "artifactType": at});
            if let Some(a) = v.get("annotations") {
                desc["annotations"] = a.clone();
            }
            manifests.push(desc);
        }
        serde_json::json!({"schemaVersion": 2, "mediaType": crate::protocol::OCI_INDEX, "manifests": manifests})
    }

    /// Removes blobs no manifest of any repository refers to (and
    /// abandoned uploads); returns how many blobs went.
    pub fn gc(&self) -> std::io::Result<usize> {
        let mut keep = BTreeSet::new();
        for name in self.catalog() {
            for (d, _) in self.revisions(&name) {
                keep.insert(d.hex().to_string());
                let mut bytes = Vec::new();
                if let Ok(mut f) = std::fs::File::open(self.blob_file(&d)) {
                    let _ = f.read_to_end(&mut bytes);
                }
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                for r in std::iter::once(&v["config"])
                    .chain(v["layers"].as_array().into_iter().flatten())
                    .chain(v["manifests"].as_array().into_iter().flatten())
                {
                    if let Some(h) = r["digest"].as_str().and_then(|t| t.strip_prefix("sha256:")) {
                        keep.insert(h.to_string());
                    }
                }
            }
        }
        let mut removed = 0;
        for e in std::fs::read_dir(self.root.join("blobs/sha256"))?.flatten() {
            let hex = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&hex) {
                std::fs::remove_file(e.path())?;
                removed += 1;
            }
        }
        for repo in self.catalog() {
            if let Ok(entries) = std::fs::read_dir(self.repo(&repo).join("_layers")) {
                for e in entries.flatten() {
                    if !keep.contains(&e.file_name().to_string_lossy().into_owned()) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        for e in std::fs::read_dir(self.root.join("uploads"))?.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(s: &Storage, name: &str, data: &[u8]) -> Digest {
        let id = s.start_upload(name).unwrap();
        let (path, _) = s.upload(name, &id).unwrap();
        std::fs::write(path, data).unwrap();
        let d = Digest::of_bytes(data);
        s.finish_upload(name, &id, &d).unwrap();
        d
    }

    #[test]
    fn blobs_manifests_tags_and_gc() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        let config = upload(&s, "a/b", b"{}");
        let layer = upload(&s, "a/b", b"layer");
        assert!(
            s.blob("other", &layer).is_err(),
            "another repository cannot see it"
        );
        assert!(s.mount("other", "a/b", &layer).unwrap());
        assert!(s.blob("other", &layer).is_ok());
        let id = s.start_upload("a/b").unwrap();
        let wrong = s
            .finish_upload("a/b", &id, &Digest::of_bytes(b"x"))
            .unwrap_err();
        assert_eq!(wrong.code, Code::DigestInvalid);
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": 5}],
        });
        let bytes = serde_json::to_vec(&m).unwrap();
        let stored = s.put_manifest("a/b", "v1", &bytes, "").unwrap();
        assert_eq!(s.manifest("a/b", "v1").unwrap().digest, stored.digest);
        assert_eq!(
            s.manifest("a/b", &stored.digest.to_string()).unwrap().bytes,
            bytes
        );
        assert_eq!(s.tags("a/b").unwrap(), vec!["v1"]);
        assert_eq!(s.catalog(), vec!["a/b"]);
        let missing = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": Digest::of_bytes(b"nope").to_string()}, "layers": []});
        let err = s
            .put_manifest("a/b", "v2", &serde_json::to_vec(&missing).unwrap(), "")
            .unwrap_err();
        assert_eq!(err.code, Code::ManifestBlobUnknown);
        assert_eq!(
            s.put_manifest("a/b", "v3", b"not json", "")
                .unwrap_err()
                .code,
            Code::ManifestInvalid
        );
        let orphan = upload(&s, "a/b", b"orphan");
        assert_eq!(s.gc().unwrap(), 1);
        assert!(!s.blob_file(&orphan).exists());
        assert!(s.blob_file(&layer).exists());
        s.delete_manifest("a/b", &stored.digest.to_string())
            .unwrap();
        assert!(
            s.tags("a/b").unwrap().is_empty(),
            "tags of a deleted manifest go"
        );
        assert_eq!(s.gc().unwrap(), 3);
    }
}
