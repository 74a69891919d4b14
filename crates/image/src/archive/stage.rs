//! Staging an archive: every regular file is copied to a temp directory under
//! `<root>/tmp/` (removed on drop), indexed by its cleaned path, because
//! `manifest.json` and `index.json` may come at any position in the tarball.

use super::ArchiveError;
use crate::compression;
use crate::layer::extract::clean_path;
use crate::layout::TMP_PREFIX;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use tar::EntryType;

/// JSON files larger than this are refused.
const JSON_LIMIT: u64 = 32 << 20;

pub(crate) struct Staged {
    _dir: tempfile::TempDir,
    files: HashMap<String, PathBuf>,
    /// Symlinks and hardlinks: path -> target path (already made absolute and clean).
    links: HashMap<String, Option<String>>,
}

fn norm(comps: &[std::ffi::OsString]) -> String {
    comps
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ArchiveError + 'a {
    move |source| ArchiveError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl Staged {
    /// Reads the whole (optionally compressed) tarball into a temp dir in `tmp_root`.
    pub(crate) fn extract(r: &mut dyn Read, tmp_root: &Path) -> Result<Self, ArchiveError> {
        let dir = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempdir_in(tmp_root)
            .map_err(io_err("create temp dir in", tmp_root))?;
        let (_, plain) = compression::decompress(r).map_err(ArchiveError::Read)?;
        let mut ar = tar::Archive::new(plain);
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let mut buf = vec![0u8; 128 * 1024];
        for (n, entry) in ar.entries().map_err(ArchiveError::Read)?.enumerate() {
            let mut e = entry.map_err(ArchiveError::Read)?;
            let raw = e.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let comps = clean_path(&raw).ok_or_else(|| ArchiveError::UnsafePath(shown.clone()))?;
            let path = norm(&comps);
            match e.header().entry_type() {
                EntryType::Regular | EntryType::Continuous => {
                    let dest = dir.path().join(format!("f{n}"));
                    let mut f = File::create(&dest).map_err(io_err("create", &dest))?;
                    let mut total = 0u64;
                    loop {
                        let k = match e.read(&mut buf) {
                            Ok(0) => break,
                            Ok(k) => k,
                            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                            Err(err) => return Err(ArchiveError::Read(err)),
                        };
                        f.write_all(&buf[..k]).map_err(io_err("write", &dest))?;
                        total += k as u64;
                    }
                    if total != e.size() {
                        return Err(ArchiveError::Read(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("unexpected end of archive in {shown:?}"),
                        )));
                    }
                    links.remove(&path);
                    files.insert(path, dest);
                }
                EntryType::Symlink | EntryType::Link => {
                    let is_sym = e.header().entry_type() == EntryType::Symlink;
                    let target = e
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let joined = if is_sym && target.first() != Some(&b'/') {
                        let parent = comps[..comps.len().saturating_sub(1)].to_vec();
                        let mut j = norm(&parent).into_bytes();
                        j.push(b'/');
                        j.extend_from_slice(&target);
                        j
                    } else {
                        target
                    };
                    let resolved = clean_path(&joined)
                        .filter(|c| !c.is_empty())
                        .map(|c| norm(&c));
                    files.remove(&path);
                    links.insert(path, resolved);
                }
                _ => {}
            }
        }
        // Drain the rest so a compressed stream's trailer is checked.
        let mut rest = ar.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(ArchiveError::Read)?;
        Ok(Self {
            _dir: dir,
            files,
            links,
        })
    }

    /// True if the archive has a file (or a link to one) at `path`.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.resolve(path).is_some()
    }

    /// The staged copy of the file at `path`, following links inside the archive.
    pub(crate) fn resolve(&self, path: &str) -> Option<&Path> {
        let mut cur = norm(&clean_path(path.as_bytes())?);
        for _ in 0..32 {
            if let Some(p) = self.files.get(&cur) {
                return Some(p);
            }
            cur = self.links.get(&cur)?.clone()?;
        }
        None
    }

    /// Opens the file at `path`.
    pub(crate) fn open(&self, path: &str) -> Result<(File, PathBuf), ArchiveError> {
        let p = self
            .resolve(path)
            .ok_or_else(|| ArchiveError::Missing(path.to_string()))?;
        let f = File::open(p).map_err(io_err("open", p))?;
        Ok((f, p.to_path_buf()))
    }

    /// Reads a small (JSON) file.
    pub(crate) fn read_small(&self, path: &str) -> Result<Vec<u8>, ArchiveError> {
        let (f, p) = self.open(path)?;
        let mut v = Vec::new();
        f.take(JSON_LIMIT + 1)
            .read_to_end(&mut v)
            .map_err(io_err("read", &p))?;
        if v.len() as u64 > JSON_LIMIT {
            return Err(ArchiveError::Invalid(format!("{path} is too large")));
        }
        Ok(v)
    }
}
