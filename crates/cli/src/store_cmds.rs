//! `slidecast plan`, `slidecast cache list|prune` and `slidecast elai
//! avatars|voices`: thin front ends over slidecast-store and slidecast-elai.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use slidecast_store::{ClipCache, Journal};

use crate::args::{CacheCommand, ElaiArgs, ElaiCommand, PlanArgs, StoreArgs};
use crate::exit::CliError;
use crate::providers;
use crate::render::{apply_provider, load_deck};

/// A store error as a CLI error (exit 1) with the store's own message.
pub fn store_error(e: slidecast_store::StoreError) -> CliError {
    CliError::Run {
        message: e.to_string(),
    }
}

/// Open the clip cache the arguments name (`None` with `--no-cache`).
pub fn open_cache(store: &StoreArgs) -> Result<Option<ClipCache>, CliError> {
    if store.no_cache {
        return Ok(None);
    }
    ClipCache::open_or_default(store.cache_dir.as_deref())
        .map(Some)
        .map_err(store_error)
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
    let mut deck = load_deck(&args.deck)?;
    apply_provider(&mut deck, args.provider);
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.deck));
    let cache = open_cache(&args.store)?;
    let state_dir = args
        .store
        .state_dir
        .clone()
        .unwrap_or_else(|| Journal::default_state_dir(&output));
    let snapshot = Journal::read(&state_dir, &output).map_err(store_error)?;
    let plan = slidecast_store::plan(&deck, cache.as_ref(), Some(&snapshot));
    print_block(&plan.to_string());
    if let Some(max) = args.max_minutes {
        plan.check_budget(max).map_err(|e| CliError::Run {
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// `slidecast cache ...`.
pub fn cache(cmd: &CacheCommand) -> Result<(), CliError> {
    match cmd {
        CacheCommand::List { cache_dir } => {
            let cache = ClipCache::open_or_default(cache_dir.as_deref()).map_err(store_error)?;
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
            let cache = ClipCache::open_or_default(cache_dir.as_deref()).map_err(store_error)?;
            let report = cache.prune(age).map_err(store_error)?;
            println!("{report}");
            Ok(())
        }
    }
}

/// `slidecast elai ...`.
pub fn elai(cmd: &ElaiCommand) -> Result<(), CliError> {
    let (ElaiCommand::Avatars { elai } | ElaiCommand::Voices { elai }) = cmd;
    let provider = elai_provider(elai)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Run {
            message: format!("cannot start the async runtime: {e}"),
        })?;
    let failed = |e: slidecast_core::ProviderError| CliError::Run {
        message: format!("elai: {e}"),
    };
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

fn elai_provider(args: &ElaiArgs) -> Result<slidecast_elai::ElaiProvider, CliError> {
    let mut config = slidecast_elai::ElaiConfig::builder();
    if let Some(url) = providers::elai_url(args.elai_url.as_deref()) {
        config = config.base_url(url);
    }
    if let Some(file) = &args.elai_key_file {
        config = config.api_key_file(file);
    }
    let config = config.build().map_err(providers::elai_config_error)?;
    slidecast_elai::ElaiProvider::new(config).map_err(providers::elai_config_error)
}
