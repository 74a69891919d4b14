//! The crate's error type and the kind the server maps to an HTTP status,
//! with the errors of the archive, content and layer stores it rolls up
//! (defined here, re-exported by their modules), so the stores depend on
//! the errors and never the other way round.

mod archive;
mod content;
mod layer;

pub use archive::ArchiveError;
pub use content::ContentError;
pub use layer::LayerError;

use crate::changes::ChangeError;
use crate::reference::ReferenceError;
use std::io;

/// What kind of failure an error is; the server maps these to 404/409/400/500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The named thing does not exist (404).
    NotFound,
    /// The operation conflicts with the current state (409).
    Conflict,
    /// The caller's input is invalid (400).
    InvalidArgument,
    /// Something failed on our side (500).
    Internal,
}

/// Errors from the image store. Client-visible messages follow Docker's wording.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No image matches the name.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// A reference did not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Removing by id an image that has tags in several repositories.
    #[error("conflict: unable to delete {image} (must be forced) - image is referenced in multiple repositories")]
    MultipleRepositories {
        /// Short image id.
        image: String,
    },
    /// Removing an image a container uses.
    #[error("conflict: unable to delete {image} (must be forced) - image is being used by stopped container {container}")]
    UsedByContainer {
        /// Short image id.
        image: String,
        /// Short container id.
        container: String,
    },
    /// Removing the last tag of an image a container uses.
    #[error("conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {image}")]
    ReferenceInUse {
        /// The reference as given.
        reference: String,
        /// Short container id.
        container: String,
        /// Short image id.
        image: String,
    },
    /// Removing an image other images name as parent.
    #[error(
        "conflict: unable to delete {image} (cannot be forced) - image has dependent child images"
    )]
    HasChildren {
        /// Short image id.
        image: String,
    },
    /// A new image's parts do not fit together.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// A stored or supplied image config is not valid JSON of the right shape.
    #[error("invalid image config: {0}")]
    Config(#[source] serde_json::Error),
    /// An archive to load is malformed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A layer could not be unpacked.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// A blob could not be read or written.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// An `import --change` instruction is invalid.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// A filesystem operation on the store failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The store's own files are inconsistent.
    #[error("corrupt image store: {0}")]
    Corrupt(String),
}

impl Error {
    /// The kind, for mapping to a status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchImage(_) => ErrorKind::NotFound,
            Error::Reference(_) | Error::Config(_) | Error::Change(_) | Error::InvalidImage(_) => {
                ErrorKind::InvalidArgument
            }
            Error::MultipleRepositories { .. }
            | Error::UsedByContainer { .. }
            | Error::ReferenceInUse { .. }
            | Error::HasChildren { .. } => ErrorKind::Conflict,
            Error::Archive(e) => e.kind(),
            Error::Layer(e) => e.kind(),
            Error::Content(e) => e.kind(),
            Error::Io { .. } | Error::Corrupt(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Adds a context string to io results.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::io(context(), e))
    }
}

/// True for io errors that mean our own disk failed rather than bad input.
pub(crate) fn is_local_failure(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EIO) | Some(libc::EROFS)
    )
}
