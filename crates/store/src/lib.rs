//! `slidecast-store`: never pay twice, never lose work.
//!
//! Vendor renders cost plan minutes and about a minute of waiting each. This
//! crate keeps what they produce:
//!
//! - [`ClipKey`]: the content address of a clip, a SHA-256 over the provider,
//!   its clip format version and every request field that changes the clip.
//! - [`ClipCache`]: a directory of finished clips, one file per key, written
//!   atomically and shared safely between processes (file locks). Default
//!   location per XDG: `$XDG_CACHE_HOME/slidecast/clips`, else
//!   `~/.cache/slidecast/clips`.
//! - [`Journal`]: the [`RenderJournal`](slidecast_core::RenderJournal) of one
//!   render job, recording each vendor render the moment it has an id, so a
//!   rerun after a crash resumes it instead of paying for it again; and the
//!   planner of each slide's [`ClipSource`](slidecast_core::ClipSource) for
//!   that rerun.
//! - [`Plan`]: per slide, cached / in flight / to render, the vendor minutes
//!   a render will cost, and the `--max-minutes` budget check.
//! - [`FileRegistry`]: renders in flight on this machine, so two runs that
//!   need the same clip (different outputs, decks or processes) pay once.
//!
//! Wiring it into a render:
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use slidecast_core::{Deck, Scheduler, testing::{MockProvider, MockComposer}};
//! # use slidecast_store::{ClipCache, Journal, Plan};
//! # async fn demo(deck: Deck, output: &Path) -> Result<(), Box<dyn std::error::Error>> {
//! let cache = ClipCache::open_or_default(None)?;
//! let journal = Journal::open(&Journal::default_state_dir(output), output)?
//!     .with_cache(cache.clone());
//! slidecast_store::plan(&deck, Some(&cache), Some(&journal.snapshot())).check_budget(30.0)?;
//! let composer = Arc::new(MockComposer::new());
//! let verifier = composer.clone();
//! let sources = journal
//!     .verified_sources(&deck, Some(&cache), |clip| {
//!         let c = verifier.clone();
//!         async move {
//!             use slidecast_core::Composer;
//!             c.verify_clip(&clip).await.map(|_| ())
//!         }
//!     })
//!     .await;
//! let report = Scheduler::new(Arc::new(MockProvider::new()), composer)
//!     .clip_sources(sources)
//!     .journal(Arc::new(journal))
//!     .run(&deck, output)
//!     .await?;
//! # let _ = report; Ok(()) }
//! ```

#![warn(missing_docs)]

mod cache;
mod error;
mod fsutil;
mod journal;
mod key;
mod plan;
mod registry;

use std::time::Duration;

pub use cache::{
    format_age, format_size, CacheEntry, CacheListing, ClipCache, ClipMeta, ClipOrigin, PruneReport,
};
pub use error::StoreError;
pub use journal::{Journal, JournalEntry, JournalSnapshot, JOURNAL_FORMAT, STATE_DIR_NAME};
pub use key::{provider_format_version, ClipKey, PROVIDER_FORMAT_VERSIONS};
pub use plan::{plan, BudgetError, Plan, Rates, SlidePlan, SlideStatus};
pub use registry::FileRegistry;

/// Parse an age such as `7d`, `12h`, `90min` or `2weeks` (for
/// `cache prune --older-than`). Usable directly as a clap value parser.
pub fn parse_age(input: &str) -> Result<Duration, StoreError> {
    humantime::parse_duration(input.trim()).map_err(|e| StoreError::BadDuration {
        input: input.to_string(),
        message: e.to_string(),
    })
}
