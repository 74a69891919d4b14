//! Layers: chain ids, and the layer store `layers/<chain-id-hex>/`, where each layer
//! is unpacked exactly once (into a temp directory, renamed into place when complete)
//! together with a record of its diff id, parent and unpacked size. The uncompressed
//! tar of each layer is kept as the blob named by its diff id, so `save` can write
//! exactly the bytes the config's diff ids name; a pulled gzip layer keeps its gzip
//! form instead (see `compressed`), which decompresses to those same bytes.

pub mod extract;

pub use extract::{unpack, UnpackOptions, UnpackStats, Whiteouts};

use crate::compression::{self, Compression};
use crate::content::{BlobWriter, ContentError, ContentStore, PendingBlob};
use crate::digest::{Digest, HashingReader};
use crate::layout::{Layout, LAYER_DIFF, TMP_PREFIX};
use serde::{Deserialize, Serialize};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub use crate::error::LayerError;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The chain id of a layer on top of `parent` (OCI: `sha256(parent + " " + diff_id)`).
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of_bytes(format!("{p} {diff_id}").as_bytes()),
    }
}

/// Chain ids for a stack of diff ids, lowest first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

/// `layers/<chain>/layer.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// The layer's chain id (its directory name).
    pub chain_id: Digest,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of regular file content.
    pub size: u64,
}

/// What to do with the uncompressed tar while unpacking.
#[derive(Debug, Clone)]
pub enum KeepTar {
    /// Copy it into a new blob as it streams by.
    Copy,
    /// The input is this file (on the store's filesystem): if it is uncompressed,
    /// move it into the blob store instead of copying; otherwise copy.
    AdoptIfPlain(PathBuf),
    /// Keep no tar: if the input is gzip, `file` (its bytes, digest and size
    /// verified by the caller, present by commit time) becomes the layer's
    /// compressed form; otherwise copy.
    Compressed {
        file: PathBuf,
        digest: Digest,
        size: u64,
        /// The repository it came from (`domain/path`).
        source: String,
    },
}

/// The layer directory.
#[derive(Debug, Clone)]
pub struct LayerStore {
    layout: Layout,
    unpack: UnpackOptions,
}

impl LayerStore {
    /// A layer store in `layout` (directories must exist).
    pub fn new(layout: Layout) -> Self {
        Self::with_options(layout, UnpackOptions::default())
    }

    /// A layer store unpacking layers with `unpack`.
    pub fn with_options(layout: Layout, unpack: UnpackOptions) -> Self {
        Self { layout, unpack }
    }

    /// True if the layer is unpacked.
    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.layout.layer_meta(chain_id).is_file()
    }

    /// The unpacked tree of a layer.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layout.layer_diff(chain_id)
    }

    /// The layer's record.
    pub fn record(&self, chain_id: &Digest) -> Result<LayerRecord, LayerError> {
        let p = self.layout.layer_meta(chain_id);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LayerError::NotFound(chain_id.clone()))
            }
            Err(e) => return Err(io_err("read", &p)(e)),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| io_err("parse", &p)(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Chain ids of every unpacked layer.
    pub fn list(&self) -> Result<Vec<Digest>, LayerError> {
        let dir = self.layout.layers_dir();
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err("read dir", &dir))? {
            let e = e.map_err(io_err("read dir", &dir))?;
            if let Ok(d) = Digest::from_hex(&e.file_name().to_string_lossy()) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an unpacked layer: renamed aside first, so it vanishes at once.
    pub fn remove(&self, chain_id: &Digest) -> Result<(), LayerError> {
        let dir = self.layout.layer_dir(chain_id);
        let aside = self.layout.layer_trash(chain_id);
        match std::fs::rename(&dir, &aside) {
            Ok(()) => std::fs::remove_dir_all(&aside).map_err(io_err("remove", &aside)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("rename", &dir)(e)),
        }
    }

    /// Unpacks a layer (gzip, zstd or plain, detected) on top of `parent` into a temp
    /// directory, verifying the diff id if one is expected. Nothing is visible in the
    /// store until [`PreparedLayer::commit`]; dropping the result removes everything.
    pub fn prepare(
        &self,
        parent: Option<&Digest>,
        input: &mut dyn Read,
        expected_diff_id: Option<&Digest>,
        keep: KeepTar,
        content: &ContentStore,
    ) -> Result<PreparedLayer, LayerError> {
        let layers_dir = self.layout.layers_dir();
        let tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(&layers_dir)
            .map_err(io_err("create temp dir in", &layers_dir))?;
        let diff = tmp.path().join(LAYER_DIFF);
        std::fs::create_dir(&diff).map_err(io_err("create", &diff))?;
        set_mode(&diff, 0o755).map_err(io_err("chmod", &diff))?;

        let (compression, plain) = compression::decompress(input).map_err(LayerError::Tar)?;
        let mut sink = match (keep, compression) {
            (KeepTar::AdoptIfPlain(p), Compression::None) => TarSink::Adopt(p),
            (
                KeepTar::Compressed {
                    file,
                    digest,
                    size,
                    source,
                },
                Compression::Gzip,
            ) => TarSink::Compressed {
                file,
                entry: crate::compressed::Entry {
                    digest: digest.to_string(),
                    size,
                    sources: vec![source],
                    tar_size: None,
                },
            },
            _ => TarSink::Copy(content.writer()?),
        };
        let tee = match &mut sink {
            TarSink::Copy(w) => Some(std::io::BufWriter::with_capacity(256 * 1024, w)),
            TarSink::Adopt(_) | TarSink::Compressed { .. } => None,
        };
        let mut hr = HashingReader::with_opt_tee(plain, tee);
        let stats = unpack(&mut hr, &diff, &self.unpack)?;
        hr.drain().map_err(LayerError::Tar)?;
        let (diff_id, tar_size) = {
            let (diff_id, tar_size, tee) = hr.finish();
            if let Some(mut t) = tee {
                std::io::Write::flush(&mut t).map_err(|source| {
                    LayerError::Content(ContentError::Io {
                        op: "write",
                        path: layers_dir.clone(),
                        source,
                    })
                })?;
            }
            (diff_id, tar_size)
        };
        if let Some(want) = expected_diff_id {
            if *want != diff_id {
                return Err(LayerError::DiffIdMismatch {
                    expected: want.clone(),
                    actual: diff_id,
                });
            }
        }
        let keep = match sink {
            TarSink::Adopt(path) => {
                Keep::Blob(PendingBlob::adopt(content, path, diff_id.clone(), tar_size))
            }
            TarSink::Copy(w) => {
                Keep::Blob(w.finish("layer tar", Some(&diff_id), Some(tar_size))?)
            }
            TarSink::Compressed { file, mut entry } => {
                entry.tar_size = Some(tar_size);
                Keep::Compressed {
                    file,
                    entry,
                    store: crate::compressed::CompressedLayers::new(self.layout.clone()),
                }
            }
        };
        let chain = chain_id(parent, &diff_id);
        let record = LayerRecord {
            chain_id: chain.clone(),
            diff_id,
            parent: parent.cloned(),
            size: stats.size,
        };
        let meta = tmp.path().join(crate::layout::LAYER_META);
        let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        std::fs::write(&meta, json).map_err(io_err("write", &meta))?;
        Ok(PreparedLayer {
            dest: self.layout.layer_dir(&chain),
            tmp,
            record,
            keep,
        })
    }
}

enum TarSink {
    Adopt(PathBuf),
    Copy(BlobWriter),
    Compressed {
        file: PathBuf,
        entry: crate::compressed::Entry,
    },
}

/// What a prepared layer keeps besides its tree.
enum Keep {
    /// The uncompressed tar, as a blob named by the diff id.
    Blob(PendingBlob),
    /// The gzip form, moved into the compressed store.
    Compressed {
        file: PathBuf,
        entry: crate::compressed::Entry,
        store: crate::compressed::CompressedLayers,
    },
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// An unpacked layer not yet visible in the store.
pub struct PreparedLayer {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    record: LayerRecord,
    keep: Keep,
}

/// What a commit created (so a failed transaction can undo exactly that).
#[derive(Debug, Default, Clone)]
pub struct Committed {
    /// The layer directory, if this commit created it.
    pub layer_dir: Option<PathBuf>,
    /// The tar blob or compressed form files, if this commit created them.
    pub blobs: Vec<PathBuf>,
}

impl PreparedLayer {
    /// The layer's record.
    pub fn record(&self) -> &LayerRecord {
        &self.record
    }

    /// Moves the tar blob and the layer directory into place. A layer or blob that
    /// appeared meanwhile is kept and ours discarded.
    pub fn commit(self) -> Result<Committed, LayerError> {
        let mut out = Committed::default();
        match self.keep {
            Keep::Blob(blob) => {
                let blob_dest = blob.dest().to_path_buf();
                if blob.commit()? {
                    out.blobs.push(blob_dest);
                }
            }
            Keep::Compressed { file, entry, store } => {
                out.blobs = store
                    .put(&self.record.diff_id, &entry, &file)
                    .map_err(io_err("keep the compressed form of", &file))?;
            }
        }
        match std::fs::rename(self.tmp.path(), &self.dest) {
            Ok(()) => {
                let _renamed = self.tmp.keep();
                out.layer_dir = Some(self.dest);
            }
            Err(e) if self.dest.join(crate::layout::LAYER_META).is_file() => {
                tracing::debug!("layer {} appeared concurrently: {e}", self.record.chain_id);
            }
            Err(e) => {
                for b in &out.blobs {
                    let _ = std::fs::remove_file(b);
                }
                return Err(io_err("rename into", &self.dest)(e));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
