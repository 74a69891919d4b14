//! The content store: `blobs/sha256/<hex>`. Blobs are written to a temporary file in
//! the same directory while being hashed; size and digest are verified before the
//! rename into place, so a blob's name always matches its bytes.

use crate::digest::{Digest, Hasher};
use crate::layout::{Layout, TMP_PREFIX};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

pub use crate::error::ContentError;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
    move |source| ContentError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    layout: Layout,
    dir: PathBuf,
}

impl ContentStore {
    /// The store of `layout` (its `blobs/sha256/` must exist).
    pub fn new(layout: Layout) -> Self {
        Self {
            dir: layout.blobs_dir(),
            layout,
        }
    }

    /// Where the blob lives (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.layout.blob(d)
    }

    /// True if the blob exists.
    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// The blob's size.
    pub fn size(&self, d: &Digest) -> Result<u64, ContentError> {
        match std::fs::metadata(self.path(d)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ContentError::NotFound(d.clone())),
            Err(e) => Err(io_err("stat", &self.path(d))(e)),
        }
    }

    /// Opens the blob for reading.
    pub fn open(&self, d: &Digest) -> Result<File, ContentError> {
        let p = self.path(d);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ContentError::NotFound(d.clone())),
            Err(e) => Err(io_err("open", &p)(e)),
        }
    }

    /// Reads the whole blob.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut f = self.open(d)?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)
            .map_err(io_err("read", &self.path(d)))?;
        Ok(v)
    }

    /// Removes the blob; a missing blob is not an error.
    pub fn remove(&self, d: &Digest) -> Result<(), ContentError> {
        match std::fs::remove_file(self.path(d)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_err("remove", &self.path(d))(e))
            }
            _ => Ok(()),
        }
    }

    /// Every blob's digest.
    pub fn list(&self) -> Result<Vec<Digest>, ContentError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io_err("read dir", &self.dir))? {
            let e = e.map_err(io_err("read dir", &self.dir))?;
            if let Ok(d) = Digest::from_hex(&e.file_name().to_string_lossy()) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Starts writing a new blob.
    pub fn writer(&self) -> Result<BlobWriter, ContentError> {
        let tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(io_err("create temp file in", &self.dir))?;
        Ok(BlobWriter {
            tmp,
            hasher: Hasher::new(),
            layout: self.layout.clone(),
        })
    }

    /// Writes `bytes` as a blob, checking `expected` if given.
    pub fn put_bytes(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<Digest, ContentError> {
        let mut w = self.writer()?;
        w.write_all(bytes).map_err(io_err("write", &self.dir))?;
        let pending = w.finish("blob", expected, Some(bytes.len() as u64))?;
        let d = pending.digest().clone();
        pending.commit()?;
        Ok(d)
    }

    /// Copies a stream into a blob, checking digest and size if given.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        what: &str,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, u64), ContentError> {
        let mut w = self.writer()?;
        w.copy_from(r, what)?;
        let pending = w.finish(what, expected, size)?;
        let out = (pending.digest().clone(), pending.size());
        pending.commit()?;
        Ok(out)
    }
}

/// A blob being written: a temp file in the blob directory plus a running hash.
pub struct BlobWriter {
    tmp: NamedTempFile,
    hasher: Hasher,
    layout: Layout,
}

impl BlobWriter {
    /// Copies all of `r` into the blob; read errors are reported as `Read`.
    pub fn copy_from(&mut self, r: &mut dyn Read, what: &str) -> Result<u64, ContentError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ContentError::Read {
                        what: what.to_string(),
                        source,
                    })
                }
            };
            self.write_all(&buf[..n])
                .map_err(io_err("write", self.tmp.path()))?;
            total += n as u64;
        }
    }

    /// Verifies and syncs the blob; it is renamed into place by [`PendingBlob::commit`].
    pub fn finish(
        mut self,
        what: &str,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<PendingBlob, ContentError> {
        self.tmp.flush().map_err(io_err("write", self.tmp.path()))?;
        let len = self.hasher.len();
        let digest = self.hasher.finish();
        if let Some(want) = size {
            if want != len {
                return Err(ContentError::SizeMismatch {
                    what: what.to_string(),
                    expected: want,
                    actual: len,
                });
            }
        }
        if let Some(want) = expected {
            if *want != digest {
                return Err(ContentError::DigestMismatch {
                    what: what.to_string(),
                    expected: want.clone(),
                    actual: digest,
                });
            }
        }
        self.tmp
            .as_file()
            .sync_data()
            .map_err(io_err("sync", self.tmp.path()))?;
        Ok(PendingBlob {
            src: BlobSource::Temp(self.tmp.into_temp_path()),
            dest: self.layout.blob(&digest),
            digest,
            size: len,
        })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

enum BlobSource {
    Temp(tempfile::TempPath),
    Adopted(PathBuf),
}

/// A verified blob not yet visible under its digest. Dropping it discards a temp file.
pub struct PendingBlob {
    src: BlobSource,
    dest: PathBuf,
    digest: Digest,
    size: u64,
}

impl PendingBlob {
    /// Adopts an existing file (in a scratch directory on the same filesystem) whose
    /// digest and size the caller has already verified; commit moves it into place.
    pub(crate) fn adopt(store: &ContentStore, file: PathBuf, digest: Digest, size: u64) -> Self {
        Self {
            dest: store.path(&digest),
            src: BlobSource::Adopted(file),
            digest,
            size,
        }
    }

    /// The blob's digest.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The blob's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the blob will live.
    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }

    /// Moves the blob into place. Returns true if it did not exist before.
    pub fn commit(self) -> Result<bool, ContentError> {
        if self.dest.is_file() {
            return Ok(false);
        }
        match self.src {
            BlobSource::Temp(t) => {
                t.persist(&self.dest)
                    .map_err(|e| io_err("rename into", &self.dest)(e.error))?;
            }
            BlobSource::Adopted(p) => {
                std::fs::rename(&p, &self.dest).map_err(io_err("rename into", &self.dest))?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        layout.create().unwrap();
        let s = ContentStore::new(layout);
        (t, s)
    }

    #[test]
    fn put_and_read() {
        let (_t, s) = store();
        let d = s.put_bytes(b"abc", None).unwrap();
        assert_eq!(d, Digest::of_bytes(b"abc"));
        assert_eq!(s.read(&d).unwrap(), b"abc");
        assert_eq!(s.size(&d).unwrap(), 3);
        assert_eq!(s.list().unwrap(), vec![d.clone()]);
        s.remove(&d).unwrap();
        assert!(matches!(s.read(&d), Err(ContentError::NotFound(_))));
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let (t, s) = store();
        let wrong = Digest::of_bytes(b"x");
        let err = s.put_bytes(b"abc", Some(&wrong)).unwrap_err();
        assert!(matches!(err, ContentError::DigestMismatch { .. }));
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        let err = s
            .put_reader(&mut &b"abc"[..], "layer", None, Some(4))
            .unwrap_err();
        assert!(matches!(err, ContentError::SizeMismatch { .. }));
        assert_eq!(
            std::fs::read_dir(t.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }
}
