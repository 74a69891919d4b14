//! Compressed forms of layers (`compressed/<diff hex>.tar.gz` and
//! `<diff hex>.json`), as pushed to and pulled from registries. A pulled
//! gzip layer keeps only this form (no uncompressed tar blob): archives
//! and pushes read it, decompressing when they need the tar. The record
//! also lists the repositories known to hold the blob, for mounts.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::layout::{write_atomic, Layout};

/// `compressed/<diff hex>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Digest of the gzip bytes.
    pub digest: String,
    /// Size of the gzip bytes.
    pub size: u64,
    /// Repositories (`domain/path`) known to hold the blob.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Size of the uncompressed tar, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tar_size: Option<u64>,
}

/// The compressed layer forms of a store.
#[derive(Debug, Clone)]
pub struct CompressedLayers {
    layout: Layout,
}

impl CompressedLayers {
    pub(crate) fn new(layout: Layout) -> Self {
        Self { layout }
    }

    fn meta(&self, diff: &Digest) -> PathBuf {
        self.layout
            .compressed_dir()
            .join(format!("{}.json", diff.hex()))
    }

    /// Where the gzip form of `diff` lives.
    pub fn blob_path(&self, diff: &Digest) -> PathBuf {
        self.layout
            .compressed_dir()
            .join(format!("{}.tar.gz", diff.hex()))
    }

    /// The record and blob of `diff`'s compressed form, if kept.
    pub fn get(&self, diff: &Digest) -> Option<(Entry, PathBuf)> {
        let bytes = std::fs::read(self.meta(diff)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        let blob = self.blob_path(diff);
        blob.is_file().then_some((entry, blob))
    }

    /// Keeps `file` (moved) as the compressed form of `diff`. Returns the
    /// paths it created, for a caller that must undo it.
    pub fn put(&self, diff: &Digest, entry: &Entry, file: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(self.layout.compressed_dir())?;
        let blob = self.blob_path(diff);
        let meta = self.meta(diff);
        if self.get(diff).is_some() {
            let _ = std::fs::remove_file(file);
            return Ok(Vec::new());
        }
        std::fs::rename(file, &blob)?;
        let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
        if let Err(e) = write_atomic(&meta, &bytes) {
            let _ = std::fs::remove_file(&blob);
            return Err(e);
        }
        Ok(vec![blob, meta])
    }

    /// Adds `source` to the repositories known to hold `diff`'s blob.
    pub fn add_source(&self, diff: &Digest, source: &str) -> io::Result<()> {
        let Some((mut entry, _)) = self.get(diff) else {
            return Ok(());
        };
        if entry.sources.iter().any(|s| s == source) {
            return Ok(());
        }
        entry.sources.push(source.to_string());
        let bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        write_atomic(&self.meta(diff), &bytes)
    }

    /// Forgets `diff`'s compressed form.
    pub fn remove(&self, diff: &Digest) -> io::Result<()> {
        for p in [self.meta(diff), self.blob_path(diff)] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The uncompressed tar of `diff` read from its gzip form, with its size.
    pub fn open_tar(&self, diff: &Digest) -> Option<(Box<dyn Read + Send>, u64)> {
        let (entry, blob) = self.get(diff)?;
        let size = entry.tar_size?;
        let file = std::fs::File::open(blob).ok()?;
        let reader =
            flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(256 * 1024, file));
        Some((Box::new(reader), size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn keeps_reads_and_forgets() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        layout.create().unwrap();
        let c = CompressedLayers::new(layout);
        let tar = b"pretend this is a tar".to_vec();
        let diff = Digest::of_bytes(&tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let file = t.path().join("download");
        std::fs::write(&file, &gz).unwrap();
        let entry = Entry {
            digest: Digest::of_bytes(&gz).to_string(),
            size: gz.len() as u64,
            sources: vec!["r/a".into()],
            tar_size: Some(tar.len() as u64),
        };
        let created = c.put(&diff, &entry, &file).unwrap();
        assert_eq!(created.len(), 2);
        assert!(!file.exists(), "the file is moved in");
        c.add_source(&diff, "r/b").unwrap();
        c.add_source(&diff, "r/a").unwrap();
        let (got, blob) = c.get(&diff).unwrap();
        assert_eq!(got.sources, vec!["r/a", "r/b"]);
        assert_eq!(std::fs::read(blob).unwrap(), gz);
        let (mut r, size) = c.open_tar(&diff).unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!((back, size), (tar.clone(), tar.len() as u64));
        c.remove(&diff).unwrap();
        assert!(c.get(&diff).is_none());
        c.remove(&diff).unwrap();
    }
}
