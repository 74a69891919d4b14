//! Errors from the content store, and their kinds.

use std::io;
use std::path::PathBuf;

use super::{is_local_failure, ErrorKind};
use crate::digest::Digest;

/// Errors from the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// No blob with that digest.
    #[error("blob {0} not found")]
    NotFound(Digest),
    /// Written content did not hash to the expected digest.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What the blob is (a path in an archive, "config", ...).
        what: String,
        /// Expected digest.
        expected: Digest,
        /// Actual digest.
        actual: Digest,
    },
    /// Written content had the wrong size.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What the blob is.
        what: String,
        /// Expected size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// Reading the caller's stream failed.
    #[error("reading {what}: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A filesystem operation in the store failed.
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

impl ContentError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContentError::NotFound(_) => ErrorKind::NotFound,
            ContentError::DigestMismatch { .. } | ContentError::SizeMismatch { .. } => {
                ErrorKind::InvalidArgument
            }
            ContentError::Read { source, .. } if !is_local_failure(source) => {
                ErrorKind::InvalidArgument
            }
            ContentError::Read { .. } | ContentError::Io { .. } => ErrorKind::Internal,
        }
    }
}
