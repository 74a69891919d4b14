//! Container layer diffs (`docker commit`): an overlayfs upper directory written as
//! an OCI layer tar. Overlay whiteouts (0/0 character devices) become `.wh.<name>`
//! entries, opaque directories (`trusted.overlay.opaque=y`) get a `.wh..wh..opq`
//! entry right after their own, and everything else is copied as it is: owner,
//! mode, xattrs (not overlayfs' own `trusted.overlay.*`), mtimes in whole seconds,
//! symlinks (never followed), hardlinks (by inode), devices and fifos. Entries are
//! named relative to the upper directory, which itself is not an entry, and come
//! in bytewise name order, directories before their contents, so the same upper
//! directory always gives the same bytes. An empty upper directory gives the empty
//! tar (1024 zero bytes), whose digest Docker treats as "no layer".
//!
//! Overlay features that a layer cannot express (`redirect_dir`, `metacopy`) are
//! refused: container overlays must be mounted without them.

pub use crate::treewalk::{TarSummary as DiffSummary, WalkError};

use crate::error::ErrorKind;
use crate::treewalk::{WalkOptions, Walker};
use rustix::fs::{self as rfs, Mode, OFlags};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a diff could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The upper directory could not be opened.
    #[error("open {path}: {source}")]
    Open {
        /// The upper directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Walking the tree or writing the tar failed.
    #[error(transparent)]
    Walk(#[from] WalkError),
}

impl DiffError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DiffError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            DiffError::Open { .. } => ErrorKind::Internal,
            DiffError::Walk(e) => e.kind(),
        }
    }
}

/// Writes the overlayfs upper directory `upper` to `w` as an OCI layer tar.
pub fn write_diff_tar(upper: &Path, w: &mut dyn Write) -> Result<DiffSummary, DiffError> {
    write_diff_tar_clamped(upper, w, None)
}

/// As [`write_diff_tar`], with mtimes newer than `clamp` (unix seconds) set
/// to it (`SOURCE_DATE_EPOCH`: the same tree gives the same layer).
pub fn write_diff_tar_clamped(
    upper: &Path,
    w: &mut dyn Write,
    clamp: Option<i64>,
) -> Result<DiffSummary, DiffError> {
    let fd = rfs::open(
        upper,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| DiffError::Open {
        path: upper.to_path_buf(),
        source: e.into(),
    })?;
    let mut walker = Walker::new(
        w,
        WalkOptions {
            overlay: true,
            clamp_mtime: clamp,
            ..WalkOptions::default()
        },
    );
    walker.contents(fd, b"")?;
    Ok(walker.finish()?)
}
