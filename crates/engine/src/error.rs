//! Engine errors with a kind the server maps to an HTTP status.

use std::path::PathBuf;

/// What went wrong, independent of transport (moby's errdefs classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidArgument,
    NotModified,
    Unauthorized,
    /// The engine knows the request but cannot carry it out (Docker's 501).
    NotImplemented,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("{message}")]
    PathNotFound { message: String },
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// A pull found no such image, or was not allowed to read it.
    #[error("{0}")]
    PullDenied(String),
    /// A registry failed or answered something unusable.
    #[error("{0}")]
    Registry(String),
    /// A build step failed (a RUN's exit code, a broken Dockerfile).
    #[error("{message}")]
    BuildFailed { message: String, code: i64 },
    /// A registry refused the credentials.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Network(#[from] berth_network::Error),
    #[error("{message}")]
    Conflict { message: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    /// The request changes nothing (Docker answers 304).
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    Image(#[from] berth_image::Error),
    #[error("{0}")]
    Fs(#[from] berth_image::fsops::FsError),
    #[error("{0}")]
    Diff(#[from] berth_image::diff::DiffError),
    #[error("{message}")]
    StartFailed { message: String, exit_code: i32 },
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Known, but not something this engine (or this container's
    /// configuration) can do.
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Internal(String),
}

fn image_kind(kind: berth_image::ErrorKind) -> ErrorKind {
    match kind {
        berth_image::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_image::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_image::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
        berth_image::ErrorKind::Internal => ErrorKind::Internal,
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSuchContainer(_)
            | Error::PathNotFound { .. }
            | Error::NoSuchExec(_)
            | Error::NoSuchVolume(_)
            | Error::NoSuchNetwork(_)
            | Error::PullDenied(_) => ErrorKind::NotFound,
            Error::Registry(_) => ErrorKind::Internal,
            Error::BuildFailed { .. } => ErrorKind::InvalidArgument,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Network(e) => match e {
                berth_network::Error::Invalid(_) => ErrorKind::InvalidArgument,
                berth_network::Error::Conflict(_) => ErrorKind::Conflict,
                _ => ErrorKind::Internal,
            },
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::AlreadyRunning(_) | Error::NotModified => ErrorKind::NotModified,
            Error::Image(e) => image_kind(e.kind()),
            Error::Fs(e) => image_kind(e.kind()),
            Error::Diff(e) => image_kind(e.kind()),
            // Docker answers 400 when the command cannot be run.
            Error::StartFailed { .. } => ErrorKind::InvalidArgument,
            Error::NotImplemented(_) => ErrorKind::NotImplemented,
            Error::Io { .. } | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    pub fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            context,
            path,
            source,
        }
    }
}
