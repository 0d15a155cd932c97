//! `slidecast plan`, `slidecast cache list|prune` and the vendor look-ups
//! (`slidecast elai avatars|voices`, `heygen avatars|voices`, `did
//! presenters`): thin front ends over slidecast-store and the vendor crates.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use slidecast_render::{ProviderContext, StorePolicy};

use crate::args::{CacheCommand, DidCommand, ElaiCommand, HeyGenCommand, PlanArgs, VendorArgs};
use crate::exit::CliError;
use crate::render::{job, load_deck, render_error};

/// A store error as a CLI error (exit 1) with the store's own message.
pub fn store_error(e: slidecast_store::StoreError) -> CliError {
    CliError::Run {
        message: e.to_string(),
    }
}

/// The clip cache in `dir`, or the default one.
fn open_cache(dir: Option<&Path>) -> Result<slidecast_store::ClipCache, CliError> {
    let policy = match dir {
        Some(dir) => StorePolicy::default().cache_dir(dir),
        None => StorePolicy::default(),
    };
    match policy.open_cache().map_err(render_error)? {
        Some(cache) => Ok(cache),
        None => Err(CliError::Usage("the clip cache is turned off".into())),
    }
}

/// The output a deck renders to by default: the deck's name with `.mp4`.
pub fn default_output(deck: &Path) -> PathBuf {
    deck.with_extension("mp4")
}

/// Print a table, ending it with exactly one newline.
fn print_block(text: &str) {
    println!("{}", text.trim_end_matches('\n'));
}

/// `slidecast plan`.
pub fn plan(args: &PlanArgs) -> Result<(), CliError> {
    let deck = load_deck(&args.deck)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.deck));
    let mut job = job(deck, &output, args.provider, &args.store, &args.vendors);
    if let Some(max) = args.max_minutes {
        job = job.max_minutes(max);
    }
    for (vendor, max) in &args.max_cost {
        job = job.max_cost(vendor, *max);
    }
    // Asked of the vendors: speech limits (a long narration renders in
    // parts, each a clip) and what they would refuse, before anything is
    // paid for.
    let runtime = crate::render::runtime()?;
    let plan = match runtime.block_on(job.plan_with_vendors()) {
        Ok(plan) => plan,
        Err(slidecast_render::RenderError::Credentials { provider, .. }) => {
            let plan = job.plan().map_err(render_error)?;
            eprintln!("note: not checked with {provider} (no API key); `render` checks before creating anything");
            plan
        }
        Err(e) => {
            // The plan as far as it is known, then what is wrong.
            if let Ok(plan) = job.plan() {
                print_block(&plan.to_string());
            }
            return Err(render_error(e));
        }
    };
    print_block(&plan.to_string());
    warn_creation_quota(&plan);
    job.check_budgets(&plan).map_err(|e| match e {
        slidecast_render::RenderError::Budget(b) => CliError::Run {
            message: b.to_string(),
        },
        other => render_error(other),
    })?;
    Ok(())
}

/// Elai limits how many videos an account creates per 8 hours (each clip is
/// one): say which plans a deck's new Elai renders would exceed.
fn warn_creation_quota(plan: &slidecast_store::Plan) {
    let creates = plan
        .slides
        .iter()
        .filter(|s| s.provider.as_deref() == Some("elai"))
        .map(|s| s.creates)
        .sum::<usize>();
    let over: Vec<String> = slidecast_elai::CREATION_QUOTAS_PER_8H
        .iter()
        .filter(|(_, quota)| creates > *quota as usize)
        .map(|(name, quota)| format!("{name} ({quota})"))
        .collect();
    if !over.is_empty() {
        eprintln!(
            "note: {creates} new Elai video(s); more than Elai's creation quota per 8 hours on {} plans",
            over.join(", ")
        );
    }
}

/// `slidecast cache ...`.
pub fn cache(cmd: &CacheCommand) -> Result<(), CliError> {
    match cmd {
        CacheCommand::List { cache_dir } => {
            let cache = open_cache(cache_dir.as_deref())?;
            let entries = cache.list().map_err(store_error)?;
            if entries.is_empty() {
                println!("the clip cache at {} is empty", cache.dir().display());
            } else {
                print_block(
                    &slidecast_store::CacheListing {
                        entries: &entries,
                        now: SystemTime::now(),
                    }
                    .to_string(),
                );
            }
            Ok(())
        }
        CacheCommand::Prune {
            older_than,
            cache_dir,
        } => {
            let age = slidecast_store::parse_age(older_than)
                .map_err(|e| CliError::Usage(format!("--older-than: {e}")))?;
            let cache = open_cache(cache_dir.as_deref())?;
            let report = cache.prune(age).map_err(store_error)?;
            println!("{report}");
            Ok(())
        }
    }
}

/// A vendor look-up's failure (exit 1), named by vendor.
fn lookup_failed(vendor: &'static str) -> impl Fn(slidecast_core::ProviderError) -> CliError {
    move |e| CliError::Run {
        message: format!("{vendor}: {e}"),
    }
}

/// A provider context carrying the vendor flags, for a look-up outside a
/// render.
fn lookup_context(vendors: &VendorArgs) -> ProviderContext {
    let mut ctx = ProviderContext::new(std::env::temp_dir(), 25);
    ctx.settings.extend(vendors.settings());
    ctx
}

/// `slidecast elai ...`.
pub fn elai(cmd: &ElaiCommand) -> Result<(), CliError> {
    let (ElaiCommand::Avatars { vendors } | ElaiCommand::Voices { vendors }) = cmd;
    let config = slidecast_render::elai_config(&lookup_context(vendors)).map_err(render_error)?;
    let provider =
        slidecast_elai::ElaiProvider::new(config).map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = crate::render::runtime()?;
    let failed = lookup_failed("elai");
    match cmd {
        ElaiCommand::Avatars { .. } => {
            let avatars = runtime.block_on(provider.list_avatars()).map_err(failed)?;
            print_block(&slidecast_elai::AvatarTable(&avatars).to_string());
        }
        ElaiCommand::Voices { .. } => {
            let voices = runtime.block_on(provider.list_voices()).map_err(failed)?;
            print_block(&slidecast_elai::VoiceTable(&voices).to_string());
        }
    }
    Ok(())
}

/// `slidecast heygen ...`.
pub fn heygen(cmd: &HeyGenCommand) -> Result<(), CliError> {
    let (HeyGenCommand::Avatars { vendors } | HeyGenCommand::Voices { vendors }) = cmd;
    let config = slidecast_render::heygen_config(&lookup_context(vendors)).map_err(render_error)?;
    let provider = slidecast_heygen::HeyGenProvider::new(config)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = crate::render::runtime()?;
    let failed = lookup_failed("heygen");
    match cmd {
        HeyGenCommand::Avatars { .. } => {
            let avatars = runtime.block_on(provider.list_avatars()).map_err(failed)?;
            print_block(&slidecast_heygen::AvatarTable(&avatars).to_string());
        }
        HeyGenCommand::Voices { .. } => {
            let voices = runtime.block_on(provider.list_voices()).map_err(failed)?;
            print_block(&slidecast_heygen::VoiceTable(&voices).to_string());
        }
    }
    Ok(())
}

/// `slidecast did ...`.
pub fn did(cmd: &DidCommand) -> Result<(), CliError> {
    let DidCommand::Presenters { vendors } = cmd;
    let config = slidecast_render::did_config(&lookup_context(vendors)).map_err(render_error)?;
    let provider =
        slidecast_did::DidProvider::new(config).map_err(|e| CliError::Usage(e.to_string()))?;
    let presenters = crate::render::runtime()?
        .block_on(provider.list_presenters())
        .map_err(lookup_failed("did"))?;
    print_block(&slidecast_did::PresenterTable(&presenters).to_string());
    Ok(())
}
