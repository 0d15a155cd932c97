//! `slidecast validate DECK`: every problem, or a summary of a good deck.

use std::collections::BTreeMap;
use std::time::Duration;

use slidecast_core::{Deck, DeckError, SpeechRate};

use crate::args::{StoreArgs, ValidateArgs};
use crate::exit::CliError;

/// Estimated length of the whole video: narration at the default
/// [`SpeechRate`] for presenter slides, the fixed duration for slide-only
/// slides.
pub fn estimated_length(deck: &Deck) -> Duration {
    deck.slides
        .iter()
        .map(|s| match (&s.presenter, s.duration) {
            (None, Some(d)) => d,
            (None, None) => Duration::ZERO,
            (Some(_), _) => SpeechRate::default().duration(&s.script),
        })
        .sum()
}

/// Load the deck; print its problems (exit 2) or a summary.
pub fn run(args: &ValidateArgs) -> Result<(), CliError> {
    let path = args.deck.as_path();
    let options = slidecast_render::ProviderRegistry::builtin().load_options();
    let deck = match Deck::load_with(path, &options) {
        Ok(deck) => deck,
        Err(DeckError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!(
                "{} problem(s) in {}; fix them and run `slidecast validate {}` again",
                problems.len(),
                path.display(),
                path.display()
            );
            return Err(CliError::Deck(DeckError::Invalid(problems)));
        }
        Err(e) => return Err(e.into()),
    };
    // Every slide picture opened, so an unreadable one shows up now, not
    // after renders were paid for.
    let images = slidecast_render::check_media(&deck);
    if !images.is_empty() {
        for p in &images {
            eprintln!("error: {p}");
        }
        eprintln!(
            "{} slide picture(s) in {} cannot be read",
            images.len(),
            path.display()
        );
        return Err(CliError::Deck(DeckError::Invalid(images)));
    }
    if args.online {
        // No output and no journal: the default store only reads.
        let output = path.with_extension("mp4");
        let job = crate::render::job(
            deck.clone(),
            &output,
            args.provider,
            &StoreArgs::default(),
            &args.vendors,
        );
        crate::render::runtime()?
            .block_on(job.check_with_vendors())
            .map_err(crate::render::render_error)?;
    }
    println!("{}", summary(&deck));
    Ok(())
}

/// A few lines describing a valid deck.
pub fn summary(deck: &Deck) -> String {
    let presenter = deck.presenter_slides().count();
    let mut providers: BTreeMap<&str, usize> = BTreeMap::new();
    for s in deck.presenter_slides() {
        if let Some(p) = &s.presenter {
            *providers.entry(p.provider.as_str()).or_default() += 1;
        }
    }
    let providers = if providers.is_empty() {
        "none (slide-only deck)".to_string()
    } else {
        providers
            .iter()
            .map(|(name, n)| format!("{name} ({n} slide(s))"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let length = estimated_length(deck).as_secs();
    format!(
        "{}: valid\n  title:            {}\n  output:           {}x{} at {} fps\n  slides:           {}\n  presenter slides: {}\n  providers:        {}\n  estimated length: {}:{:02} (narration at {} words/min)",
        deck.source.display(),
        deck.title,
        deck.output.width,
        deck.output.height,
        deck.output.fps,
        deck.slides.len(),
        presenter,
        providers,
        length / 60,
        length % 60,
        SpeechRate::default().words_per_minute(),
    )
}
