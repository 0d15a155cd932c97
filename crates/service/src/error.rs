//! Why the service could not start or answer.

/// A service failure (set-up, database, blob store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The configuration cannot be served as given.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error("database: {context}: {source}")]
    Database {
        /// What the service was doing.
        context: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A file of the data folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The blob store (uploads, outputs, clips) failed.
    #[error("blob store: {0}")]
    Blobs(String),
    /// The job queue failed.
    #[error("job queue: {0}")]
    Queue(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> ServiceError {
        ServiceError::Database {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> ServiceError {
        ServiceError::Io {
            path: path.into(),
            source,
        }
    }
}
