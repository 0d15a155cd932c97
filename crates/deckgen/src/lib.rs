//! `slidecast-deckgen`: decks written for you.
//!
//! A slidecast deck is a folder with a `deck.toml` and the slide pictures.
//! This crate writes one from what people already have: a folder of slide
//! images with an optional `notes.md` ([`init`]), or a presentation
//! ([`import`]: a PDF rendered page by page with poppler's `pdftoppm`, or a
//! PPTX whose speaker notes become the scripts). Front ends (the
//! `slidecast` command, the service's upload) show the result and the
//! [`Generated::notes`] their own way.

#![warn(missing_docs)]

pub mod folder;
pub mod import;

use std::path::{Path, PathBuf};

pub use folder::{init, NewDeck, NewSlide, DEFAULT_SILENT_SECONDS, IMAGE_EXTENSIONS};
pub use import::{import, ImportOptions};

/// A deck written: where, what, and anything the user should know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Generated {
    /// The `deck.toml` written.
    pub deck_path: PathBuf,
    /// What it holds.
    pub deck: NewDeck,
    /// Things to tell the user (scripts matched by position, slide images
    /// still to export, ...), one sentence each.
    pub notes: Vec<String>,
}

/// Why no deck was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeckgenError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An input (folder, PDF, PPTX, notes) is unusable.
    #[error("{}: {message}", path.display())]
    BadInput {
        /// The input.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A program the import needs is not installed.
    #[error("`{program}` is not installed or not on PATH. {hint}")]
    MissingTool {
        /// The program.
        program: String,
        /// How to install it.
        hint: String,
    },
    /// The deck file exists and overwriting was not asked for.
    #[error("{} already exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
}

impl DeckgenError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DeckgenError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_input(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DeckgenError::BadInput {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}
