//! The command's top-level error and the exit codes it maps to.
//!
//! | code | meaning                                                         |
//! |------|-----------------------------------------------------------------|
//! | 0    | success                                                         |
//! | 1    | the run failed (vendor, media or file error)                    |
//! | 2    | bad usage or an invalid deck (every problem is listed)          |
//! | 3    | a program slidecast needs is missing (pdftoppm, espeak-ng, ...) |
//! | 130  | interrupted with Ctrl-C (no partial output is left behind)      |

use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of a successful run.
pub const SUCCESS: u8 = 0;
/// Exit code when the run itself failed.
pub const FAILURE: u8 = 1;
/// Exit code of bad usage or an invalid deck (clap uses 2 for usage errors too).
pub const INVALID: u8 = 2;
/// Exit code when an external program slidecast needs is not installed.
pub const MISSING_TOOL: u8 = 3;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// The exit-code table as shown at the end of `slidecast --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    the run failed (vendor, media or file error; the message says what to do)
  2    bad usage or an invalid deck (every problem is listed)
  3    a program slidecast needs is missing (pdftoppm, libreoffice, espeak-ng)
  130  interrupted with Ctrl-C (no partial output is left behind)";

/// Why a `slidecast` command failed. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The deck could not be read or has problems (already printed in full).
    #[error("{0}")]
    Deck(#[from] slidecast_core::DeckError),
    /// Arguments that clap accepted but that make no sense together.
    #[error("{0}")]
    Usage(String),
    /// The scheduler stopped: names the slide and the cause.
    #[error("{message}")]
    Run { message: String },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input file (PDF, PPTX, notes) is unusable.
    #[error("{}: {message}", path.display())]
    BadInput { path: PathBuf, message: String },
    /// An external program is missing; `hint` says how to install it.
    #[error("`{program}` is not installed or not on PATH. {hint}")]
    MissingTool { program: String, hint: String },
    /// Ctrl-C.
    #[error("interrupted; no output was written (rerun the same command: renders already started are resumed, not paid again)")]
    Interrupted,
}

impl From<slidecast_deckgen::DeckgenError> for CliError {
    fn from(e: slidecast_deckgen::DeckgenError) -> Self {
        use slidecast_deckgen::DeckgenError as D;
        match e {
            D::Io { path, source } => CliError::Io { path, source },
            D::BadInput { path, message } => CliError::BadInput { path, message },
            D::MissingTool { program, hint } => CliError::MissingTool { program, hint },
            D::Exists(_) => CliError::Usage(e.to_string()),
            other => CliError::Run {
                message: other.to_string(),
            },
        }
    }
}

impl CliError {
    /// Shorthand for [`CliError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`CliError::BadInput`].
    pub fn bad_input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CliError::BadInput {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Deck(_) | CliError::Usage(_) => INVALID,
            CliError::MissingTool { .. } => MISSING_TOOL,
            CliError::Interrupted => INTERRUPTED,
            CliError::Run { .. } | CliError::Io { .. } | CliError::BadInput { .. } => FAILURE,
        }
    }
}

impl From<CliError> for ExitCode {
    fn from(e: CliError) -> ExitCode {
        ExitCode::from(e.exit_code())
    }
}
