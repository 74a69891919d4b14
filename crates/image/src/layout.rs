//! The on-disk layout of the image store; the only module that builds paths.
//!
//! `ImageStore::open(root)` owns `root` (normally `<berth root>/image`):
//!
//! ```text
//! <root>/
//!   blobs/sha256/<hex>          content-addressed blobs, named by the sha256 of their bytes:
//!                               image configs and manifests (raw bytes exactly as received),
//!                               uncompressed layer tars (named by their diff id) of
//!                               layers built, loaded or imported here
//!   blobs/sha256/.tmp-*         blobs being written; renamed into place once verified
//!   layers/<chain-id-hex>/diff/ one unpacked layer (overlayfs lower dir, whiteouts in
//!                               overlay form), shared by every image with that chain id
//!   layers/<chain-id-hex>/layer.json  {chain_id, diff_id, parent, size}
//!   layers/.tmp-*/              layers being unpacked; renamed into place when complete
//!   images/<config-hex>.json    per-image record: layer diff ids, parent, manifest digest
//!   compressed/<diff-hex>.tar.gz  a layer's gzip form as pushed or pulled; a pulled gzip
//!   compressed/<diff-hex>.json    layer keeps only this (no tar blob). {digest, size,
//!                               sources (repositories known to hold it), tar_size}
//!   repositories.json           tags and digest references, Docker's format:
//!                               {"Repositories": {"busybox": {"busybox:latest": "sha256:.."}}}
//!   tmp/                        scratch space (archive staging); emptied on open
//! ```
//!
//! Metadata files are written to a temporary file in the same directory and renamed
//! into place. Leftover `.tmp-*` entries and `tmp/` contents are removed on open.

use crate::digest::Digest;
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of in-flight temporary names in `blobs/sha256/` and `layers/`.
pub const TMP_PREFIX: &str = ".tmp-";

/// Paths inside an image store root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root` (nothing is created).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Creates every directory of the layout.
    pub fn create(&self) -> io::Result<()> {
        for d in [
            self.blobs_dir(),
            self.layers_dir(),
            self.images_dir(),
            self.tmp_dir(),
        ] {
            std::fs::create_dir_all(d)?;
        }
        spread_subdirectories(&self.layers_dir());
        Ok(())
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `blobs/sha256/`
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// `blobs/sha256/<hex>`
    pub fn blob(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    /// `layers/`
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `layers/<chain hex>/`
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layers_dir().join(chain_id.hex())
    }

    /// `layers/<chain hex>/diff/`
    pub fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join(LAYER_DIFF)
    }

    /// `layers/<chain hex>/layer.json`
    pub fn layer_meta(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join(LAYER_META)
    }

    /// `layers/.tmp-rm-<chain hex>`: where a layer goes to be deleted.
    pub fn layer_trash(&self, chain_id: &Digest) -> PathBuf {
        self.layers_dir()
            .join(format!("{TMP_PREFIX}rm-{}", chain_id.hex()))
    }

    /// `images/`
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// `images/<config hex>.json`
    pub fn image_record(&self, id: &Digest) -> PathBuf {
        self.images_dir().join(format!("{}.json", id.hex()))
    }

    /// `repositories.json`
    pub fn repositories(&self) -> PathBuf {
        self.root.join("repositories.json")
    }

    /// `compressed/`: gzip forms of layers, by diff id.
    pub fn compressed_dir(&self) -> PathBuf {
        self.root.join("compressed")
    }

    /// `tmp/`
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// Marks `dir` as the top of directory hierarchies for ext4's Orlov
/// allocator (`chattr +T`), so each new layer directory lands in a block
/// group of its own instead of next to its siblings. Without a journal,
/// ext4 skips inodes deleted in the last minute while allocating; layers
/// unpacked right after others were removed then scanned those groups
/// inode by inode (a pull of debian + 60 MiB took 2.7 s instead of 0.8 s).
/// Best effort: other filesystems ignore or refuse the flag.
fn spread_subdirectories(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(f) = std::fs::File::open(dir) else {
        return;
    };
    if let Ok(flags) = ioctl_getflags(&f) {
        if !flags.contains(IFlags::TOPDIR) {
            let _ = ioctl_setflags(&f, flags | IFlags::TOPDIR);
        }
    }
}

/// Name of the unpacked tree inside a layer directory.
pub const LAYER_DIFF: &str = "diff";
/// Name of the layer record inside a layer directory.
pub const LAYER_META: &str = "layer.json";

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Removes leftovers of interrupted writes: `.tmp-*` in `dir`.
pub(crate) fn clean_tmp_entries(dir: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            let p = e.path();
            if e.file_type()?.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On ext4 (this project's hosts and CI) the layers directory carries
    /// the Orlov top-directory flag.
    #[test]
    fn layers_dir_spreads_subdirectories_on_ext4() {
        let t = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let layout = Layout::new(t.path());
        layout.create().unwrap();
        let fs = rustix::fs::statfs(t.path()).unwrap();
        if fs.f_type != 0xEF53 {
            // tmpfs, xfs, btrfs: no such allocator; the flag is not required.
            return;
        }
        let dir = std::fs::File::open(layout.layers_dir()).unwrap();
        let flags = rustix::fs::ioctl_getflags(&dir).unwrap();
        assert!(flags.contains(rustix::fs::IFlags::TOPDIR), "{flags:?}");
    }
}
