//! Why a local render failed, and how that maps onto the scheduler's
//! [`ProviderError`] classes.

use std::path::PathBuf;

use slidecast_core::{PermanentKind, ProviderError};

/// A failure of the local presenter: speech synthesis, drawing or encoding.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The espeak-ng program could not be found or started.
    #[error(
        "espeak-ng is not installed (looked for `{}`): the local presenter needs it for speech; \
         install it with `apt-get install espeak-ng` (Debian/Ubuntu), or point the local \
         provider at the binary",
        program.display()
    )]
    EspeakMissing {
        /// The program looked for.
        program: PathBuf,
    },
    /// espeak-ng does not know the voice the deck asked for.
    #[error(
        "espeak-ng has no voice `{voice}` (list the voices with `espeak-ng --voices`): {stderr}"
    )]
    UnknownVoice {
        /// The espeak-ng voice asked for.
        voice: String,
        /// What espeak-ng said.
        stderr: String,
    },
    /// espeak-ng ran but failed.
    #[error("espeak-ng failed ({status}): {stderr}")]
    EspeakFailed {
        /// The exit status.
        status: String,
        /// What espeak-ng said.
        stderr: String,
    },
    /// Talking to the espeak-ng process failed.
    #[error("running espeak-ng: {0}")]
    EspeakIo(#[source] std::io::Error),
    /// espeak-ng's output was not a WAV file this crate can read.
    #[error("espeak-ng output is not a readable WAV file: {0}")]
    BadWav(String),
    /// espeak-ng produced audio with no audible speech in it.
    #[error("espeak-ng produced no audible speech for the script")]
    NoSpeech,
    /// The request has no narration to speak.
    #[error("the script is empty: a local presenter clip needs narration")]
    EmptyScript,
    /// The requested clip size cannot be encoded.
    #[error(
        "clip size {width}x{height} is invalid: width and height must be even and at least 16"
    )]
    BadCanvas {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// A file of the render could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// FFmpeg refused to encode or write the clip.
    #[error("encoding {}: {message}", path.display())]
    Encode {
        /// The clip being written (or the step, for speech resampling).
        path: PathBuf,
        /// FFmpeg's complaint.
        message: String,
    },
    /// The render was cancelled.
    #[error("render cancelled")]
    Cancelled,
}

impl LocalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LocalError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn encode(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        LocalError::Encode {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// The scheduler's view of this failure. Local failures are deterministic
    /// (the same request fails the same way), so none of them is retried:
    /// bad requests are `BadRequest`, everything else is `Local`.
    pub fn to_provider_error(&self) -> ProviderError {
        let kind = match self {
            LocalError::UnknownVoice { .. }
            | LocalError::EmptyScript
            | LocalError::BadCanvas { .. } => PermanentKind::BadRequest,
            _ => PermanentKind::Local,
        };
        ProviderError::permanent(kind, self.to_string())
    }
}

impl From<LocalError> for ProviderError {
    fn from(e: LocalError) -> Self {
        e.to_provider_error()
    }
}
