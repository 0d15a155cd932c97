//! `slidecast render DECK -o OUT.mp4`: provider + composer + scheduler, with
//! progress, Ctrl-C, captions and an optional timeline.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use slidecast_core::{
    AvatarProvider, ClipSource, Composer, Deck, DeckError, Progress, RenderHandle, RenderJournal,
    RunOptions, Scheduler, SlideEvent,
};
use slidecast_store::Journal;
use tokio::sync::mpsc;

use crate::args::{ProviderChoice, RenderArgs};
use crate::captions;
use crate::deckgen::write_atomic;
use crate::embed;
use crate::exit::CliError;
use crate::progress::{self, LogSink, Mode};
use crate::providers::{self, ProviderSettings};
use crate::store_cmds::{open_cache, store_error};
use crate::timeline;

/// Run `slidecast render`.
pub fn run(args: RenderArgs, sink: LogSink) -> Result<(), CliError> {
    let mut deck = load_deck(&args.deck)?;
    apply_provider(&mut deck, args.provider);
    let out_dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !out_dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{}: the folder {} does not exist; create it first (mkdir -p {})",
            args.output.display(),
            out_dir.display(),
            out_dir.display()
        )));
    }
    if args.output.extension().is_none() {
        return Err(CliError::Usage(format!(
            "{}: give the output a file name ending in .mp4",
            args.output.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Run {
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(render(deck, args, sink))
}

/// `--provider`: use `choice` for every presenter slide.
pub fn apply_provider(deck: &mut Deck, choice: Option<ProviderChoice>) {
    if let Some(choice) = choice {
        for slide in &mut deck.slides {
            if let Some(p) = slide.presenter.as_mut() {
                p.provider = choice.name().to_string();
            }
        }
    }
}

/// Load a deck, listing every problem like `validate` does.
pub fn load_deck(path: &Path) -> Result<Deck, CliError> {
    match Deck::load(path) {
        Ok(deck) => Ok(deck),
        Err(DeckError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!(
                "{} problem(s) in the deck; fix them (`slidecast validate {}` checks again)",
                problems.len(),
                path.display()
            );
            Err(CliError::Deck(DeckError::Invalid(problems)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The providers the deck's presenter slides name (after `--provider`).
fn provider_names(deck: &Deck) -> Vec<String> {
    let mut names: Vec<String> = deck
        .presenter_slides()
        .filter_map(|s| s.presenter.as_ref().map(|p| p.provider.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Build the composer for the deck.
fn build_composer(deck: &Deck, work: &Path) -> Result<Arc<dyn Composer>, CliError> {
    let composer =
        slidecast_media::MediaComposer::for_deck(deck, work).map_err(|e| CliError::Run {
            message: format!("cannot set up the video composer: {e}"),
        })?;
    Ok(Arc::new(composer))
}

async fn render(deck: Deck, args: RenderArgs, sink: LogSink) -> Result<(), CliError> {
    // The work directory: given, or a temporary one removed at the end.
    let (work_dir, _temp_guard) = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
            (dir.clone(), None)
        }
        None => {
            let parent = args
                .output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".slidecast-work-")
                .tempdir_in(parent)
                .or_else(|_| tempfile::tempdir())
                .map_err(|e| CliError::io(parent, e))?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };

    let settings = ProviderSettings {
        work_dir: work_dir.clone(),
        fps: deck.output.fps,
        elai_url: args.elai.elai_url.clone(),
        elai_key_file: args.elai.elai_key_file.clone(),
    };
    let names = provider_names(&deck);
    let provider: Arc<dyn AvatarProvider> = match names.as_slice() {
        // A slide-only deck never calls its provider.
        [] => providers::build(ProviderChoice::Mock.name(), &settings)?,
        [one] => providers::build(one, &settings)?,
        many => {
            let mut built = HashMap::new();
            for name in many {
                built.insert(name.clone(), providers::build(name, &settings)?);
            }
            Arc::new(providers::Router::new(built))
        }
    };
    let composer = build_composer(&deck, &work_dir)?;

    // Never pay twice: finished clips come from the cache, renders an
    // interrupted run started are resumed from its journal. Mock clips are
    // instant and their renders live only in one process, so they skip both.
    let is_mock = names.iter().any(|n| n == ProviderChoice::Mock.name());
    let cache = if is_mock {
        None
    } else {
        open_cache(&args.store)?
    };
    let journal = if is_mock || names.is_empty() {
        None
    } else {
        let j = Journal::open_for_output(&args.output, args.store.state_dir.as_deref())
            .map_err(store_error)?;
        Some(match &cache {
            Some(c) => j.with_cache(c.clone()),
            None => j,
        })
    };
    let sources = match &journal {
        Some(j) => {
            let verifier = composer.clone();
            j.verified_sources(&deck, cache.as_ref(), move |clip: PathBuf| {
                let c = verifier.clone();
                async move { c.verify_clip(&clip).await.map(|_| ()) }
            })
            .await
        }
        None => HashMap::new(),
    };
    // Priced after verification: a cached or fetched clip that failed it is
    // rendered again, and that render is billed.
    if let Some(max) = args.max_minutes {
        slidecast_store::Plan::for_sources(&deck, &sources, slidecast_store::Rates::default())
            .check_budget(max)
            .map_err(|e| CliError::Run {
                message: e.to_string(),
            })?;
    }
    let reused = sources
        .values()
        .filter(|s| !matches!(s, ClipSource::Render))
        .count();
    if reused > 0 {
        tracing::info!("{reused} clip(s) come from the cache or an earlier run");
    }
    // Fetched clips go where a rerun finds them (the journal's folder).
    let clips_dir = match (&args.work_dir, &journal) {
        (Some(dir), _) => dir.clone(),
        (None, Some(j)) => j.work_dir(),
        (None, None) => work_dir.clone(),
    };

    let mut options = RunOptions {
        schedule: args.schedule.into(),
        max_in_flight: args.max_renders.map(|n| n as usize),
        work_dir: clips_dir.clone(),
        ..RunOptions::default()
    };
    if let Some(jobs) = args.jobs {
        options.jobs = jobs as usize;
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
    let (show_tx, show_rx) = mpsc::unbounded_channel::<Progress>();
    // Remember every vendor handle, so `--cleanup-remote` can cancel them.
    let handles: Arc<Mutex<Vec<(usize, RenderHandle)>>> = Arc::default();
    let tee_handles = handles.clone();
    let tee = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if let SlideEvent::Initiated { slide, handle } = &p.event {
                if let Ok(mut h) = tee_handles.lock() {
                    h.push((*slide, handle.clone()));
                }
            }
            if show_tx.send(p).is_err() {
                break;
            }
        }
    });
    let mode = Mode::resolve(args.progress);
    let display = tokio::spawn(progress::show(mode, sink, show_rx));

    let mut scheduler = Scheduler::new(provider.clone(), composer)
        .options(options)
        .clip_sources(sources)
        .events(tx);
    let journal_kept = journal.is_some();
    let journal = journal.map(Arc::new);
    if let Some(j) = &journal {
        scheduler = scheduler.journal(j.clone());
    }
    let outcome = tokio::select! {
        r = scheduler.run(&deck, &args.output) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    // The scheduler (and its event sender) must go for the display to end.
    drop(scheduler);
    let _ = tee.await;
    let _ = display.await;

    let report = match outcome {
        None => {
            if args.cleanup_remote {
                cancel_remote(provider.as_ref(), &handles, &deck, journal.as_deref()).await;
            }
            return Err(CliError::Interrupted);
        }
        Some(Err(e)) => {
            return Err(CliError::Run {
                message: run_error_hint(&e),
            })
        }
        Some(Ok(report)) => report,
    };
    // The clips are in the cache (or the journal's clip folder) now; the
    // fetch folder of a finished run is not needed for any rerun.
    if journal_kept && args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&clips_dir);
    }

    let cues = captions::captions(&report.segments, &deck.slides);
    let srt = args.output.with_extension("srt");
    let vtt = args.output.with_extension("vtt");
    write_atomic(&srt, &captions::to_srt(&cues))?;
    write_atomic(&vtt, &captions::to_vtt(&cues))?;
    if !args.no_captions && !cues.is_empty() {
        let (video, lang) = (args.output.clone(), caption_language(&deck));
        let cues = cues.clone();
        tokio::task::spawn_blocking(move || embed::embed_captions(&video, &cues, lang))
            .await
            .map_err(|e| CliError::Run {
                message: format!("caption task failed: {e}"),
            })??;
    }
    if let Some(path) = &args.timeline {
        let video: f64 = report
            .segments
            .iter()
            .map(|s| s.duration.as_secs_f64())
            .sum();
        let subtitle = format!(
            "{} schedule · provider {} · {} slide(s) · {:.1} s of video rendered in {:.1} s",
            serde_json::to_value(options_schedule(&args))
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(" + ")
            },
            deck.slides.len(),
            video,
            report.elapsed.as_secs_f64()
        );
        write_atomic(path, &timeline::svg(&report.spans, &deck.title, &subtitle))?;
    }
    let video_len: f64 = report
        .segments
        .iter()
        .map(|s| s.duration.as_secs_f64())
        .sum();
    if mode != Mode::Json {
        eprintln!(
            "wrote {} ({:.1} s of video, {} slide(s)) in {:.1} s; captions: {}, {}",
            args.output.display(),
            video_len,
            deck.slides.len(),
            report.elapsed.as_secs_f64(),
            srt.display(),
            vtt.display()
        );
    }
    Ok(())
}

/// ISO 639-2 code of the narration language for the subtitle track
/// (`und` when the deck's language is not one of the common ones).
fn caption_language(deck: &Deck) -> &'static str {
    let language = deck
        .presenter_slides()
        .find_map(|s| s.presenter.as_ref().and_then(|p| p.language.clone()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let code = language.split(['-', '_', ' ']).next().unwrap_or("");
    match code {
        "english" | "en" => "eng",
        "german" | "deutsch" | "de" => "deu",
        "french" | "fr" => "fra",
        "spanish" | "es" => "spa",
        "italian" | "it" => "ita",
        "portuguese" | "pt" => "por",
        "dutch" | "nl" => "nld",
        "polish" | "pl" => "pol",
        "japanese" | "ja" => "jpn",
        "chinese" | "zh" => "zho",
        _ => "und",
    }
}

fn options_schedule(args: &RenderArgs) -> slidecast_core::Schedule {
    args.schedule.into()
}

/// Cancel every render this run started (only on `--cleanup-remote`), and
/// make the journal forget each one cancelled so a rerun renders anew
/// instead of resuming a deleted render.
async fn cancel_remote(
    provider: &dyn AvatarProvider,
    handles: &Mutex<Vec<(usize, RenderHandle)>>,
    deck: &Deck,
    journal: Option<&Journal>,
) {
    let handles = handles.lock().map(|h| h.clone()).unwrap_or_default();
    for (slide, h) in handles {
        let cancel = provider.cancel(&h);
        match tokio::time::timeout(std::time::Duration::from_secs(10), cancel).await {
            Ok(Ok(())) => {
                eprintln!("cancelled remote render {} (slide {slide})", h.id);
                let request = deck
                    .slides
                    .iter()
                    .find(|s| s.number == slide)
                    .and_then(|s| s.clip_request(deck));
                if let (Some(j), Some(request)) = (journal, request) {
                    if let Err(e) = j.discarded(&request, &h) {
                        tracing::warn!("journal: cannot forget render {}: {e}", h.id);
                    }
                }
            }
            Ok(Err(e)) => eprintln!("could not cancel remote render {}: {e}", h.id),
            Err(_) => eprintln!("timed out cancelling remote render {}", h.id),
        }
    }
}

/// The scheduler's error plus what the user can do about it.
fn run_error_hint(e: &slidecast_core::Error) -> String {
    use slidecast_core::{Error, PermanentKind, ProviderError};
    let hint = match e {
        Error::Provider {
            source:
                ProviderError::Permanent {
                    kind: PermanentKind::Authentication,
                    ..
                },
            ..
        } => "check the API key (ELAI_API_KEY) or use --provider local to render offline",
        Error::Provider {
            source:
                ProviderError::Permanent {
                    kind: PermanentKind::QuotaExhausted,
                    ..
                },
            ..
        } => "the vendor account has no render minutes left; use --provider local meanwhile",
        Error::Provider { .. } | Error::RenderFailed { .. } => {
            "rerun the same command to retry; renders already made are reused"
        }
        Error::Compose { .. } => "check the slide's image and clip files named above",
        Error::Journal { .. } => "check that the state folder is writable",
        Error::Deck(_) => "run `slidecast validate` on the deck",
        Error::Internal(_) => "this is a bug in slidecast; please report it with the command line",
    };
    format!("{e}\nhint: {hint}")
}
