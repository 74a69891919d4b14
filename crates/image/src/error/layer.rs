//! Errors from unpacking or managing layers, and their kinds.

use std::io;
use std::path::PathBuf;

use super::{is_local_failure, ContentError, ErrorKind};
use crate::digest::Digest;

/// Errors from unpacking or managing layers.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The tar stream is unreadable: truncated, corrupt, or badly compressed.
    #[error("invalid tar stream: {0}")]
    Tar(#[source] io::Error),
    /// An entry's path leaves the layer root.
    #[error("invalid tar entry {path:?}: path escapes the layer root")]
    Breakout {
        /// The entry's path.
        path: String,
    },
    /// A hardlink points outside the layer root.
    #[error("invalid tar entry {path:?}: hardlink target {target:?} is outside the layer root")]
    LinkOutside {
        /// The entry's path.
        path: String,
        /// The link target.
        target: String,
    },
    /// An entry cannot be represented.
    #[error("invalid tar entry {path:?}: {reason}")]
    Entry {
        /// The entry's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Creating an entry failed.
    #[error("unpacking {path:?}: {source}")]
    Apply {
        /// The entry's path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The tar's digest differs from the expected diff id.
    #[error("layer diff id mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch {
        /// The diff id named by the image config.
        expected: Digest,
        /// The digest of the uncompressed tar.
        actual: Digest,
    },
    /// No layer with that chain id.
    #[error("layer {0} not found")]
    NotFound(Digest),
    /// The layer's tar blob could not be stored.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A filesystem operation in the layer store failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl LayerError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LayerError::Tar(e) if is_local_failure(e) => ErrorKind::Internal,
            LayerError::Tar(_)
            | LayerError::Breakout { .. }
            | LayerError::LinkOutside { .. }
            | LayerError::Entry { .. }
            | LayerError::DiffIdMismatch { .. } => ErrorKind::InvalidArgument,
            LayerError::Apply { source, .. } => match source.raw_os_error() {
                // Conflicts inside the archive itself: a file where a directory is
                // needed, a hardlink to a missing file or a directory, and so on.
                Some(
                    libc::ENOTDIR
                    | libc::EEXIST
                    | libc::ENOENT
                    | libc::ELOOP
                    | libc::EPERM
                    | libc::EISDIR
                    | libc::ENOTEMPTY
                    | libc::EINVAL
                    | libc::ENAMETOOLONG,
                ) => ErrorKind::InvalidArgument,
                _ => ErrorKind::Internal,
            },
            LayerError::NotFound(_) => ErrorKind::NotFound,
            LayerError::Content(e) => e.kind(),
            LayerError::Io { .. } => ErrorKind::Internal,
        }
    }
}
