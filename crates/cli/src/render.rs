//! `slidecast render DECK -o OUT.mp4`: flags into a
//! [`slidecast_render::RenderJob`], its events onto the
//! terminal, Ctrl-C into dropping the job, and its errors into hints.

use std::path::Path;

use slidecast_core::{Deck, DeckError};
use slidecast_render::{CaptionOptions, CaptionStyle, RenderError, RenderJob, StorePolicy};
use tokio::sync::mpsc;

use crate::args::{ProviderChoice, RenderArgs, StoreArgs, VendorArgs};
use crate::exit::CliError;
use crate::progress::{self, LogSink, Mode};

/// Run `slidecast render`.
pub fn run(args: RenderArgs, quiet: bool, sink: LogSink) -> Result<(), CliError> {
    let deck = load_deck(&args.deck)?;
    runtime()?.block_on(render(deck, args, quiet, sink))
}

/// The async runtime a command runs the render library on.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Run {
            message: format!("cannot start the async runtime: {e}"),
        })
}

/// Load a deck, listing every problem like `validate` does.
pub fn load_deck(path: &Path) -> Result<Deck, CliError> {
    let options = slidecast_render::ProviderRegistry::builtin().load_options();
    match Deck::load_with(path, &options) {
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

/// The store flags as the render library's policy.
pub fn store_policy(args: &StoreArgs) -> StorePolicy {
    let mut policy = StorePolicy::default();
    if args.no_cache {
        policy = policy.no_cache();
    } else if let Some(dir) = &args.cache_dir {
        policy = policy.cache_dir(dir);
    }
    if let Some(dir) = &args.state_dir {
        policy = policy.state_dir(dir);
    }
    policy
}

/// A job for `deck` with the flags every command that renders shares.
pub fn job(
    deck: Deck,
    output: &Path,
    provider: Option<ProviderChoice>,
    store: &StoreArgs,
    vendors: &VendorArgs,
) -> RenderJob {
    let mut job = RenderJob::new(deck, output).store(store_policy(store));
    if let Some(p) = provider {
        job = job.provider(p.name());
    }
    for (name, value) in vendors.settings() {
        job = job.provider_setting(name, value);
    }
    job
}

async fn render(deck: Deck, args: RenderArgs, quiet: bool, sink: LogSink) -> Result<(), CliError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut job = job(
        deck,
        &args.output,
        args.provider,
        &args.store,
        &args.vendors,
    )
    .schedule(args.schedule.into())
    .captions(CaptionOptions {
        files: true,
        track: !args.no_captions,
        burn: args.burn_captions.then(|| {
            let style = CaptionStyle::default().size(args.caption_size);
            match &args.caption_font {
                Some(font) => style.font(font),
                None => style,
            }
        }),
    })
    .events(tx);
    if let Some(jobs) = args.jobs {
        job = job.jobs(jobs as usize);
    }
    if let Some(n) = args.max_renders {
        job = job.max_renders(n as usize);
    }
    if let Some(dir) = &args.work_dir {
        job = job.work_dir(dir);
    }
    if let Some(path) = &args.timeline {
        job = job.timeline(path);
    }
    if let Some(max) = args.max_minutes {
        job = job.max_minutes(max);
    }
    for (vendor, max) in &args.max_cost {
        job = job.max_cost(vendor, *max);
    }
    let mode = Mode::resolve(args.progress, quiet);
    let display = tokio::spawn(progress::show(mode, sink, rx));

    let outcome = tokio::select! {
        r = job.run() => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    let Some(outcome) = outcome else {
        if args.cleanup_remote {
            match job.cancel_remote().await {
                Ok(cancelled) => {
                    for c in cancelled {
                        match c.result {
                            Ok(()) => eprintln!(
                                "cancelled remote render {} (slide {})",
                                c.handle.id, c.slide
                            ),
                            Err(e) => {
                                eprintln!("could not cancel remote render {}: {e}", c.handle.id)
                            }
                        }
                    }
                }
                Err(e) => eprintln!("could not cancel the remote renders: {e}"),
            }
        }
        drop(job);
        let _ = display.await;
        return Err(CliError::Interrupted);
    };
    // The job holds the event sender: drop it so the display ends.
    drop(job);
    let _ = display.await;
    let outcome = outcome.map_err(render_error)?;
    if mode != Mode::Json && mode != Mode::Quiet {
        let captions = match &outcome.captions {
            Some((srt, vtt)) => format!("; captions: {}, {}", srt.display(), vtt.display()),
            None => String::new(),
        };
        let (chapters, _) = &outcome.chapters;
        eprintln!(
            "wrote {} ({:.1} s of video, {} slide(s)) in {:.1} s{captions}; chapters: {}",
            outcome.video.display(),
            outcome.video_length.as_secs_f64(),
            outcome.report.segments.len(),
            outcome.report.elapsed.as_secs_f64(),
            chapters.with_extension("{vtt,txt}").display(),
        );
    }
    Ok(())
}

/// The render library's error plus what the user can do about it.
pub fn render_error(e: RenderError) -> CliError {
    use slidecast_core::{Error, PermanentKind, ProviderError};
    if let RenderError::Deck(DeckError::Invalid(problems)) = e {
        // Problems the vendor check found, listed like a deck's own.
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!(
            "{} problem(s); nothing was created at the vendor",
            problems.len()
        );
        return CliError::Deck(DeckError::Invalid(problems));
    }
    let hint = match &e {
        RenderError::Deck(_) => {
            return CliError::Run {
                message: format!("{e}\nhint: run `slidecast validate` on the deck"),
            }
        }
        RenderError::UnknownProvider { .. } => {
            return CliError::Usage(format!("{e}\nhint: pass --provider local to render offline"))
        }
        RenderError::Credentials { env, provider, .. } => {
            return CliError::Usage(format!(
                "{e}\nhint: export {env}=<your key> (or --{provider}-key-file FILE), or render offline with --provider local"
            ))
        }
        RenderError::MissingTool { program, purpose } => {
            return CliError::MissingTool {
                program: program.clone(),
                hint: format!(
                    "{purpose}: apt-get install {program} (or try the pipeline with --provider mock)."
                ),
            }
        }
        RenderError::Output { path, .. } => {
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            return CliError::Usage(format!(
                "{e}\nhint: create the folder first (mkdir -p {}) and name the output OUT.mp4",
                folder.display()
            ));
        }
        RenderError::Budget(_) => {
            "raise --max-minutes, or render the expensive slides with --provider local"
        }
        RenderError::Store(_) => "check that the cache and state folders are writable",
        RenderError::Run(Error::Provider {
            source:
                ProviderError::Permanent {
                    kind: PermanentKind::Authentication,
                    ..
                },
            ..
        }) => "check the vendor's API key (the message names it) or use --provider local to render offline",
        RenderError::Run(Error::Provider {
            source:
                ProviderError::Permanent {
                    kind: PermanentKind::QuotaExhausted,
                    ..
                },
            ..
        }) => "the vendor account has no minutes or credits left; use --provider local meanwhile",
        RenderError::Run(Error::Provider { .. } | Error::RenderFailed { .. }) => {
            "rerun the same command to retry; renders already made are reused"
        }
        RenderError::Run(Error::Compose { .. }) | RenderError::Composer(_) => {
            "check the slide's image and clip files named above"
        }
        RenderError::Run(Error::Journal { .. }) => "check that the state folder is writable",
        RenderError::Run(Error::Deck(_)) => "run `slidecast validate` on the deck",
        RenderError::Io { .. } => "check that the output folder is writable",
        _ => "this is likely a bug in slidecast; please report it with the command line",
    };
    CliError::Run {
        message: format!("{e}\nhint: {hint}"),
    }
}
