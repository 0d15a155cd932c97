//! The scheduler's error: always names the slide and the cause.

use std::path::PathBuf;

use crate::composer::ComposeError;
use crate::deck::DeckError;
use crate::provider::ProviderError;

/// Why a run failed: the slide (where there is one) and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The deck is unusable.
    #[error(transparent)]
    Deck(#[from] DeckError),
    /// A provider call failed for good (or ran out of retries).
    #[error("slide {slide}: {provider}: {source}")]
    Provider {
        /// The slide whose clip it was.
        slide: usize,
        /// The provider's name.
        provider: String,
        /// What the provider said.
        #[source]
        source: ProviderError,
    },
    /// The vendor's render failed every time it was submitted. `render_id` is
    /// the last vendor id, so nothing paid for is lost track of.
    #[error("slide {slide}: render {render_id} failed after {attempts} attempt(s): {reason}")]
    RenderFailed {
        /// The slide whose clip it was.
        slide: usize,
        /// The vendor's id of the last render.
        render_id: String,
        /// How many renders were submitted.
        attempts: u32,
        /// The vendor's reason, as reported.
        reason: String,
    },
    /// The vendor refused the slide's request (never resubmitted): the
    /// deck must change for the slide to render.
    #[error("slide {slide}: {provider} rejected render {render_id}: {reason}")]
    Rejected {
        /// The slide whose clip it was.
        slide: usize,
        /// The provider's name.
        provider: String,
        /// The vendor's id of the refused render.
        render_id: String,
        /// The vendor's reason, as reported.
        reason: String,
    },
    /// A composer step failed; `slide` is `None` for the final join.
    #[error("{}{source}", slide.map(|s| format!("slide {s}: ")).unwrap_or_default())]
    Compose {
        /// The slide, or `None` for the join.
        slide: Option<usize>,
        /// The composer's error.
        #[source]
        source: ComposeError,
    },
    /// The run journal could not be written.
    #[error("journal {}: {source}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A task of the run panicked or was lost (a bug in slidecast).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The slide the error is about, if any.
    pub fn slide(&self) -> Option<usize> {
        match self {
            Error::Provider { slide, .. }
            | Error::RenderFailed { slide, .. }
            | Error::Rejected { slide, .. } => Some(*slide),
            Error::Compose { slide, .. } => *slide,
            _ => None,
        }
    }
}
