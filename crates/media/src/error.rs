//! The crate's error type, converted to [`ComposeError`] at the trait boundary.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use slidecast_core::ComposeError;

/// Why a media operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// An input file (image or clip) is unusable.
    #[error("{}: {message}", path.display())]
    BadInput { path: PathBuf, message: String },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An FFmpeg call failed; `context` says which step.
    #[error("{context}: {source}")]
    Ffmpeg {
        context: String,
        #[source]
        source: ffmpeg::Error,
    },
    /// A step of the shared FFmpeg layer failed.
    #[error(transparent)]
    Av(#[from] slidecast_av::AvError),
    /// Anything else (missing codec, inconsistent segments, ...).
    #[error("{0}")]
    Other(String),
}

impl MediaError {
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        MediaError::Other(message.into())
    }

    /// A `map_err` adaptor naming the step that failed.
    pub(crate) fn ff(context: impl Into<String>) -> impl FnOnce(ffmpeg::Error) -> MediaError {
        let context = context.into();
        move |source| MediaError::Ffmpeg { context, source }
    }

    pub(crate) fn bad_input(path: &Path, message: impl Into<String>) -> Self {
        MediaError::BadInput {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MediaError {
        let path = path.to_path_buf();
        move |source| MediaError::Io { path, source }
    }
}

impl From<MediaError> for ComposeError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::BadInput { path, message } => ComposeError::BadInput { path, message },
            MediaError::Io { path, source } => ComposeError::Io { path, source },
            other => ComposeError::Media(other.to_string()),
        }
    }
}
