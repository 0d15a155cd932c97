//! Why a render job failed, typed so each front end can word its own advice.

use std::path::PathBuf;

use slidecast_core::DeckError;

/// Why a [`RenderJob`](crate::RenderJob) could not produce its video.
///
/// Messages name the file, slide and field where there is one; they carry
/// no front-end wording (no command-line flags): front ends add their own
/// hints from the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The deck could not be read or has problems (every one is listed).
    #[error(transparent)]
    Deck(#[from] DeckError),
    /// A slide names a provider the registry does not have.
    #[error("{}provider `{name}` is not available; known providers: {}",
        slide.map(|s| format!("slide {s}: ")).unwrap_or_default(), known.join(", "))]
    UnknownProvider {
        /// The provider name.
        name: String,
        /// The first slide that names it.
        slide: Option<usize>,
        /// Every registered name.
        known: Vec<String>,
    },
    /// A provider's credentials are missing or unusable.
    #[error("{provider}: {message}")]
    Credentials {
        /// The provider.
        provider: String,
        /// What is wrong.
        message: String,
        /// The environment variable that holds the key.
        env: String,
    },
    /// A provider could not be set up.
    #[error("cannot set up the {provider} provider: {message}")]
    ProviderSetup {
        /// The provider.
        provider: String,
        /// Why.
        message: String,
    },
    /// A program the job needs is not installed.
    #[error("`{program}` is not installed or not on PATH: {purpose}")]
    MissingTool {
        /// The program.
        program: String,
        /// What it is needed for.
        purpose: String,
    },
    /// The output path is unusable (missing folder, no file name).
    #[error("{}: {message}", path.display())]
    Output {
        /// The output path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The vendor work the deck needs costs more than the budget.
    #[error(transparent)]
    Budget(#[from] slidecast_store::BudgetError),
    /// The clip cache or the run journal failed.
    #[error(transparent)]
    Store(#[from] slidecast_store::StoreError),
    /// The composer could not be set up.
    #[error("cannot set up the video composer: {0}")]
    Composer(#[source] slidecast_core::ComposeError),
    /// The run itself failed (names the slide and the cause).
    #[error(transparent)]
    Run(#[from] slidecast_core::Error),
    /// Writing a side output (captions, timeline) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A task of the job was lost (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl RenderError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RenderError::Io {
            path: path.into(),
            source,
        }
    }
}
