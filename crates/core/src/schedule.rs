//! The scheduler: one engine, three policies.
//!
//! - [`Schedule::Sequential`]: slide by slide — initiate, wait, fetch,
//!   prepare, compose (the old way, for comparison).
//! - [`Schedule::InOrder`]: initiate every render at once, then wait for and
//!   process slides in deck order (the seed's way).
//! - [`Schedule::Eager`] (default): initiate every render at once (bounded by
//!   the provider's limit), prepare every slide and compose slide-only slides
//!   while the vendor renders, compose each slide as soon as its clip is ready
//!   with at most `jobs` compose tasks at once, and join in deck order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::composer::{Composer, SlideSegment};
use crate::deck::Deck;
use crate::error::Error;
use crate::progress::Progress;
use crate::provider::{AvatarProvider, ClipRequest, RenderHandle};

/// Which policy the scheduler follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Sequential,
    InOrder,
    #[default]
    Eager,
}

impl Schedule {
    pub const ALL: [Schedule; 3] = [Schedule::Sequential, Schedule::InOrder, Schedule::Eager];
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sequential" => Ok(Schedule::Sequential),
            "in-order" => Ok(Schedule::InOrder),
            "eager" => Ok(Schedule::Eager),
            other => Err(format!(
                "unknown schedule `{other}`; use sequential, in-order or eager"
            )),
        }
    }
}

/// How hard to try before giving up on a slide.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per provider call for transient and rate-limit errors.
    pub max_attempts: u32,
    /// First backoff delay; doubles each attempt, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How many times a render the vendor reports failed is submitted again.
    pub resubmits: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            resubmits: 1,
        }
    }
}

/// Options of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub schedule: Schedule,
    /// Compose/prepare tasks at once (CPU-bound work).
    pub jobs: usize,
    /// Cap on renders in flight, below the provider's own limit.
    pub max_in_flight: Option<usize>,
    pub retry: RetryPolicy,
    /// Where fetched clips are written.
    pub work_dir: PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            schedule: Schedule::Eager,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_in_flight: None,
            retry: RetryPolicy::default(),
            work_dir: std::env::temp_dir(),
        }
    }
}

/// Where a slide's clip comes from, known before the run starts (from a
/// clip cache or a journal of an interrupted run).
#[derive(Debug, Clone, PartialEq)]
pub enum ClipSource {
    /// Render it at the vendor.
    Render,
    /// A verified clip on disk: no vendor call at all.
    Cached(PathBuf),
    /// A render an earlier run initiated; `started` is false when the run
    /// stopped between initiate and start.
    Resume { handle: RenderHandle, started: bool },
}

/// Durable record of renders, so a crash never pays for a render twice.
///
/// The scheduler calls each method synchronously at the moment named, and
/// does not go on until it returns: a journal must have the handle on disk
/// before the render is started.
pub trait RenderJournal: Send + Sync {
    /// The vendor assigned `handle` to `request`; the render is not started.
    fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;
    /// The render of `handle` is started.
    fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;
    /// The clip of `handle` is on disk at `clip`, verified.
    fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<()>;
    /// The vendor's render failed and will be submitted anew; forget `handle`.
    fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;
}

/// A journal that remembers nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

impl RenderJournal for NoJournal {
    fn initiated(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
    fn started(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
    fn fetched(&self, _: &ClipRequest, _: &RenderHandle, _: &Path) -> std::io::Result<()> {
        Ok(())
    }
    fn discarded(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stages of one slide, for timelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Initiate,
    Render,
    Fetch,
    Prepare,
    Compose,
    Join,
}

/// One stage's interval, in time since the run started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// `None` for the deck-wide join.
    pub slide: Option<usize>,
    pub stage: Stage,
    pub start: Duration,
    pub end: Duration,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderReport {
    /// Wall (or virtual) time of the whole run.
    pub elapsed: Duration,
    /// Every stage's interval, for timelines.
    pub spans: Vec<Span>,
    /// The segments, in deck order.
    pub segments: Vec<SlideSegment>,
    /// Each presenter slide's clip on disk, by slide number.
    pub clips: HashMap<usize, PathBuf>,
}

/// Drives a provider and a composer through one deck.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use slidecast_core::{Deck, Scheduler, RunOptions, testing::{MockProvider, MockComposer}};
/// # async fn demo() -> Result<(), slidecast_core::Error> {
/// let deck = Deck::load("deck.toml".as_ref())?;
/// let report = Scheduler::new(Arc::new(MockProvider::new()), Arc::new(MockComposer::new()))
///     .options(RunOptions::default())
///     .run(&deck, "out.mp4".as_ref())
///     .await?;
/// println!("took {:?}", report.elapsed);
/// # Ok(()) }
/// ```
///
/// Cancellation: drop the future returned by [`Scheduler::run`]. Every task
/// of the run is aborted, no output file is left, and renders already
/// initiated stay recorded in the journal for a later run to resume.
pub struct Scheduler {
    provider: Arc<dyn AvatarProvider>,
    composer: Arc<dyn Composer>,
    options: RunOptions,
    journal: Arc<dyn RenderJournal>,
    sources: HashMap<usize, ClipSource>,
    events: Option<mpsc::UnboundedSender<Progress>>,
}

impl Scheduler {
    pub fn new(provider: Arc<dyn AvatarProvider>, composer: Arc<dyn Composer>) -> Self {
        Scheduler {
            provider,
            composer,
            options: RunOptions::default(),
            journal: Arc::new(NoJournal),
            sources: HashMap::new(),
            events: None,
        }
    }

    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    pub fn journal(mut self, journal: Arc<dyn RenderJournal>) -> Self {
        self.journal = journal;
        self
    }

    /// Where each slide's clip comes from; slides not named are rendered.
    pub fn clip_sources(mut self, sources: HashMap<usize, ClipSource>) -> Self {
        self.sources = sources;
        self
    }

    /// Send progress events to `tx` (dropped events are ignored).
    pub fn events(mut self, tx: mpsc::UnboundedSender<Progress>) -> Self {
        self.events = Some(tx);
        self
    }

    /// Run the deck to `output`.
    pub async fn run(&self, deck: &Deck, output: &Path) -> Result<RenderReport, Error> {
        let _ = (
            deck,
            output,
            &self.provider,
            &self.composer,
            &self.options,
            &self.journal,
            &self.sources,
            &self.events,
        );
        todo!("scheduler")
    }
}
