//! Why an archive could not be loaded, and its kind.

use std::io;
use std::path::PathBuf;

use super::{is_local_failure, ContentError, ErrorKind, LayerError};

/// Why an archive could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a tar, truncated, or badly compressed.
    #[error("invalid archive: {0}")]
    Read(#[source] io::Error),
    /// An entry path leaves the archive root.
    #[error("invalid archive: unsafe path {0:?}")]
    UnsafePath(String),
    /// Neither `manifest.json` nor `index.json`.
    #[error("invalid archive: no manifest.json or index.json found")]
    NoManifest,
    /// A file the manifest names is missing.
    #[error("invalid archive: {0} not found in archive")]
    Missing(String),
    /// A JSON file does not parse.
    #[error("invalid archive: {file}: {source}")]
    Json {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Anything else malformed.
    #[error("invalid archive: {0}")]
    Invalid(String),
    /// A blob does not match its digest or size.
    #[error("invalid archive: {0}")]
    Content(#[source] ContentError),
    /// A layer cannot be unpacked.
    #[error("invalid archive: layer {what}: {source}")]
    Layer {
        /// The layer's path in the archive.
        what: String,
        /// The cause.
        #[source]
        source: LayerError,
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

impl ArchiveError {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::Read(e) if is_local_failure(e) => ErrorKind::Internal,
            ArchiveError::Content(e) => match e.kind() {
                ErrorKind::NotFound => ErrorKind::InvalidArgument,
                k => k,
            },
            ArchiveError::Layer { source, .. } => source.kind(),
            ArchiveError::Io { .. } => ErrorKind::Internal,
            _ => ErrorKind::InvalidArgument,
        }
    }
}
