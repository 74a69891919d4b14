//! Compose errors: what went wrong, and for a file problem the file and the
//! path in the document (`services.web.ports[0]`).

/// A compose error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A compose file (or .env file) is invalid.
    #[error("{file}: {path}{sep}{message}", sep = if path.is_empty() { "" } else { ": " })]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    /// The project as a whole is inconsistent (a dependency cycle, a
    /// service without image or build, an unknown dependency).
    #[error("{0}")]
    Project(String),
    /// Something Berth's compose does not do yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// Reading a file.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The daemon refused or failed a call.
    #[error("{0}")]
    Api(#[from] berth_client::Error),
    /// A container exited badly, a wait timed out...
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn invalid(file: &str, path: &str, message: impl Into<String>) -> Error {
        Error::Invalid {
            file: file.to_string(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}
