//! `slidecast init` and `slidecast import`: the deck writers of
//! `slidecast-deckgen`, with what they wrote told on stderr.

use std::path::{Path, PathBuf};

use slidecast_deckgen::{Generated, ImportOptions, DEFAULT_SILENT_SECONDS};

use crate::exit::CliError;

/// `slidecast init FOLDER`.
pub fn init(folder: &Path, notes: Option<&Path>, force: bool) -> Result<PathBuf, CliError> {
    let generated = slidecast_deckgen::init(folder, notes, force)?;
    summarize(&generated);
    Ok(generated.deck_path)
}

/// `slidecast import FILE`.
pub fn import(options: &ImportOptions) -> Result<PathBuf, CliError> {
    let generated = slidecast_deckgen::import(options)?;
    summarize(&generated);
    Ok(generated.deck_path)
}

/// Tell the user what was written and what to do next.
fn summarize(generated: &Generated) {
    for note in &generated.notes {
        eprintln!("note: {note}");
    }
    let deck = &generated.deck;
    let deck_path = &generated.deck_path;
    let narrated = deck
        .slides
        .iter()
        .filter(|s| !s.script.trim().is_empty())
        .count();
    eprintln!(
        "wrote {}: {} slide(s), {} with a script",
        deck_path.display(),
        deck.slides.len(),
        narrated
    );
    if narrated < deck.slides.len() {
        eprintln!(
            "  slides without a script are shown for {DEFAULT_SILENT_SECONDS} s; add `script = \"...\"` to narrate them"
        );
    }
    eprintln!(
        "next: slidecast validate {0} && slidecast render {0} -o video.mp4",
        deck_path.display()
    );
}
