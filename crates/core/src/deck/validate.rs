//! Turns a [`DeckFile`] into a [`Deck`], collecting every problem.

use std::path::Path;

use super::{Deck, DeckError, DeckFile};

pub(super) fn validate(file: DeckFile, path: &Path) -> Result<Deck, DeckError> {
    let _ = (file, path);
    todo!("deck validation")
}
