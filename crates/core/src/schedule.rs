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
//!
//! In-order and eager share the render side: renders are initiated in deck
//! order as render slots free, and each is polled by its own task, so a clip
//! is ready at the same moment under both. They differ only in the local
//! work. Eager's CPU slots go to a waiting compose before a waiting prepare;
//! with that rule eager never finishes after in-order (with one job: at the
//! last moment eager's CPU idles, every prepare is done and every ready clip
//! composed, so what remains is the composes of clips not yet ready, which
//! in-order must also do after the first of them arrives).
//!
//! Progress: each narrated slide counts 60% for its clip (initiated, vendor
//! percentage, ready, fetched), 15% for preparing and 25% for composing; a
//! slide-only slide 40% and 60%. The slides make up 95% of `overall`, the
//! join the rest, and `overall` never goes down. The ETA is the later of the
//! last vendor estimate plus one compose and the local work left over the CPU
//! slots, once both are known; before that, a straight extrapolation.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::composer::{ComposeError, Composer, FinishOptions, PreparedSlide, SlideSegment};
use crate::deck::{Deck, Slide};
use crate::error::Error;
use crate::progress::{Progress, SlideEvent};
use crate::provider::{
    AvatarProvider, ClipIdentity, ClipRequest, PermanentKind, ProviderError, ProviderLimits,
    RenderHandle, RenderStatus,
};

/// Which policy the scheduler follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Schedule {
    /// Slide by slide (for comparison).
    Sequential,
    /// Every render at once, then slides processed in deck order.
    InOrder,
    /// Every render at once, slides prepared meanwhile and composed as
    /// their clips arrive (the fast one).
    #[default]
    Eager,
}

impl Schedule {
    /// Every policy, in the order `simulate` reports them.
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
///
/// Non-exhaustive: start from [`RetryPolicy::default`] and set fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per provider call for transient and rate-limit errors.
    pub max_attempts: u32,
    /// First backoff delay; doubles each attempt, with jitter.
    pub base_delay: Duration,
    /// Longest backoff delay.
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
///
/// Non-exhaustive: start from [`RunOptions::default`] and set fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunOptions {
    /// The policy.
    pub schedule: Schedule,
    /// Compose/prepare tasks at once (CPU-bound work).
    pub jobs: usize,
    /// Cap on renders in flight, below the provider's own limit.
    pub max_in_flight: Option<usize>,
    /// Retries and resubmissions.
    pub retry: RetryPolicy,
    /// Where fetched clips are written.
    pub work_dir: PathBuf,
    /// CPU slots shared with other runs in this process (a service running
    /// several decks at once): each compose or prepare holds one of the
    /// run's own `jobs` slots and one of the pool's.
    pub cpu_pool: Option<CpuPool>,
}

/// CPU slots shared by several runs of one process, so that jobs running
/// side by side use the machine's cores together instead of each taking
/// all of them (see [`RunOptions::cpu_pool`]).
#[derive(Debug, Clone)]
pub struct CpuPool(Arc<Semaphore>);

impl CpuPool {
    /// A pool of `cores` slots (at least one).
    pub fn new(cores: usize) -> CpuPool {
        CpuPool(Arc::new(Semaphore::new(cores.max(1))))
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

impl PartialEq for CpuPool {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl RunOptions {
    /// The default options, with fetched clips written to `work_dir`.
    pub fn in_dir(work_dir: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            work_dir: work_dir.into(),
            ..RunOptions::default()
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            schedule: Schedule::Eager,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_in_flight: None,
            retry: RetryPolicy::default(),
            work_dir: std::env::temp_dir(),
            cpu_pool: None,
        }
    }
}

/// Where a slide's clip comes from, known before the run starts (from a
/// clip cache or a journal of an interrupted run).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClipSource {
    /// Render it at the vendor.
    Render,
    /// A clip on disk, already verified by the caller (for example with
    /// [`Composer::verify_clip`]): no vendor call, and the scheduler does
    /// not decode it again.
    Cached(PathBuf),
    /// A render an earlier run initiated; `started` is false when the run
    /// stopped between initiate and start.
    Resume {
        /// The earlier run's render.
        handle: RenderHandle,
        /// Whether it was started.
        started: bool,
    },
}

/// Durable record of renders, so a crash never pays for a render twice.
///
/// The scheduler awaits each method at the moment named and does not go on
/// until it returns: a journal must have the handle on disk before the
/// render is started. Implementations do their (blocking) I/O off the
/// runtime's threads, for example in `tokio::task::spawn_blocking`.
#[async_trait::async_trait]
pub trait RenderJournal: Send + Sync {
    /// The vendor assigned `handle` to `request`; the render is not started.
    async fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;
    /// The render of `handle` is started.
    async fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;
    /// The clip of `handle` is on disk at `clip`, verified. Returns where
    /// the clip is from now on: a journal may move it into a store (the
    /// scheduler composes from the returned path), or leave it and return
    /// `clip`.
    async fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<PathBuf>;
    /// The vendor's render failed and will be submitted anew; forget `handle`.
    async fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()>;

    /// Where the journal lives, for error messages.
    fn path(&self) -> Option<&Path> {
        None
    }
}

/// Renders in flight shared between runs (processes, machines), so two runs
/// that need the same clip pay for one render: the protocol is *claim* the
/// clip before creating it, record the vendor's handle (`created`) before
/// the render is started, *attach* to another run's render instead of
/// creating one, and *release* (`finished`) once the clip is fetched.
///
/// A claim that is dropped without `finished` (a crash, Ctrl-C) leaves the
/// render recorded, so the next claimant attaches to it instead of paying
/// again.
#[async_trait::async_trait]
pub trait RenderRegistry: Send + Sync {
    /// Claim the clip of `request`. [`Claim::existing`] is the render to
    /// use instead of creating one (another run's, or one a dead run left);
    /// waits while another live run is still creating it.
    async fn claim(&self, request: &ClipRequest) -> std::io::Result<Claim>;
    /// The claimed clip's render is `handle` (`started` once it is). Does
    /// nothing for a claim that attached to another run's render.
    async fn created(
        &self,
        claim: &ClaimToken,
        handle: &RenderHandle,
        started: bool,
    ) -> std::io::Result<()>;
    /// The clip is fetched: forget the render (a later run finds the clip
    /// in the cache).
    async fn finished(&self, claim: ClaimToken) -> std::io::Result<()>;
}

/// The answer to [`RenderRegistry::claim`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Claim {
    /// A render of the clip that already exists: its handle and whether it
    /// was started. `None`: this run creates it.
    pub existing: Option<(RenderHandle, bool)>,
    /// What the registry needs back; dropping it releases the claim.
    pub token: ClaimToken,
    /// With no `existing` render: a create may have been sent whose answer
    /// was lost (its sender died before recording it), so the scheduler
    /// asks the provider to [find it](crate::AvatarProvider::find_lost_create)
    /// before creating.
    pub maybe_created: bool,
}

impl Claim {
    /// A claim with `token`, for a clip to create (`existing: None`) or a
    /// render to attach to.
    pub fn new(existing: Option<(RenderHandle, bool)>, token: ClaimToken) -> Claim {
        Claim {
            existing,
            token,
            maybe_created: false,
        }
    }

    /// The claim, noting that a create of the clip may have been sent
    /// whose answer was lost.
    pub fn maybe_created(mut self) -> Claim {
        self.maybe_created = true;
        self
    }
}

/// A registry's private state of one claim (for example a held lock).
pub struct ClaimToken(Box<dyn std::any::Any + Send + Sync>);

impl ClaimToken {
    /// Wrap registry-private state.
    pub fn new<T: std::any::Any + Send + Sync>(state: T) -> ClaimToken {
        ClaimToken(Box::new(state))
    }

    /// The state, if it is a `T`.
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }

    /// The state, taken out, if it is a `T`.
    pub fn into_inner<T: std::any::Any>(self) -> Option<T> {
        self.0.downcast().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimToken(..)")
    }
}

/// A registry that shares nothing: every claim creates.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRegistry;

#[async_trait::async_trait]
impl RenderRegistry for NoRegistry {
    async fn claim(&self, _: &ClipRequest) -> std::io::Result<Claim> {
        Ok(Claim::new(None, ClaimToken::new(())))
    }
    async fn created(&self, _: &ClaimToken, _: &RenderHandle, _: bool) -> std::io::Result<()> {
        Ok(())
    }
    async fn finished(&self, _: ClaimToken) -> std::io::Result<()> {
        Ok(())
    }
}

/// A journal that remembers nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

#[async_trait::async_trait]
impl RenderJournal for NoJournal {
    async fn initiated(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
    async fn started(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
    async fn fetched(
        &self,
        _: &ClipRequest,
        _: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<PathBuf> {
        Ok(clip.to_path_buf())
    }
    async fn discarded(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stages of one slide, for timelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Creating (and starting) the vendor render.
    Initiate,
    /// The vendor rendering.
    Render,
    /// Downloading and verifying the clip.
    Fetch,
    /// Clip-independent local work (the slide picture).
    Prepare,
    /// Composing the slide's segment.
    Compose,
    /// Joining the segments into the video.
    Join,
}

/// One stage's interval, in time since the run started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// `None` for the deck-wide join.
    pub slide: Option<usize>,
    /// The stage.
    pub stage: Stage,
    /// When it began.
    pub start: Duration,
    /// When it ended.
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
    /// Each presenter slide's clips on disk (one per part, in speaking
    /// order), by slide number.
    pub clips: HashMap<usize, Vec<PathBuf>>,
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
///
/// Invariants the engine keeps, whatever the policy:
/// - a render's handle reaches [`RenderJournal::initiated`] before
///   [`AvatarProvider::start`] is called;
/// - at most `min(provider max_in_flight, options.max_in_flight)` renders are
///   between initiate and an observed `Ready`, and they are initiated in deck
///   order;
/// - at most `jobs` prepare/compose calls run at once (eager), and a waiting
///   compose always goes before a waiting prepare;
/// - slides whose [`ClipRequest::identity`] is equal share one render;
/// - segments reach [`Composer::finish`] in deck order;
/// - on the first error every task of the run is stopped before `run` returns.
pub struct Scheduler {
    provider: Arc<dyn AvatarProvider>,
    composer: Arc<dyn Composer>,
    options: RunOptions,
    journal: Arc<dyn RenderJournal>,
    registry: Arc<dyn RenderRegistry>,
    sources: HashMap<ClipIdentity, ClipSource>,
    events: Option<mpsc::UnboundedSender<Progress>>,
    finishing: Option<Finishing>,
}

/// Decides what the finished video carries besides the segments, once
/// their exact lengths are known (for example captions timed from them).
pub type Finishing = Arc<dyn Fn(&[SlideSegment]) -> FinishOptions + Send + Sync>;

impl Scheduler {
    /// A scheduler with default options, no journal, every slide rendered and no progress events.
    pub fn new(provider: Arc<dyn AvatarProvider>, composer: Arc<dyn Composer>) -> Self {
        Scheduler {
            provider,
            composer,
            options: RunOptions::default(),
            journal: Arc::new(NoJournal),
            registry: Arc::new(NoRegistry),
            sources: HashMap::new(),
            events: None,
            finishing: None,
        }
    }

    /// Options of the run.
    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Where handles are persisted (default: nowhere).
    pub fn journal(mut self, journal: Arc<dyn RenderJournal>) -> Self {
        self.journal = journal;
        self
    }

    /// Share renders in flight with other runs through `registry` (default:
    /// none).
    pub fn registry(mut self, registry: Arc<dyn RenderRegistry>) -> Self {
        self.registry = registry;
        self
    }

    /// Where clips come from, by what they are ([`ClipRequest::identity`]);
    /// clips not named are rendered.
    pub fn clip_sources(mut self, sources: HashMap<ClipIdentity, ClipSource>) -> Self {
        self.sources = sources;
        self
    }

    /// Ask `finishing` what the output carries besides the segments (such as
    /// a subtitle track), given the segments, just before the join; the
    /// composer writes it in the same pass.
    pub fn finish_with(mut self, finishing: Finishing) -> Self {
        self.finishing = Some(finishing);
        self
    }

    /// Send progress events to `tx` (dropped events are ignored).
    pub fn events(mut self, tx: mpsc::UnboundedSender<Progress>) -> Self {
        self.events = Some(tx);
        self
    }

    /// Run the deck to `output`.
    pub async fn run(&self, deck: &Deck, output: &Path) -> Result<RenderReport, Error> {
        let limits = self.provider.limits();
        let plan = Plan::new(deck, &self.sources);
        let cap = limits
            .max_in_flight
            .min(self.options.max_in_flight.unwrap_or(usize::MAX))
            .clamp(1, Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            provider: self.provider.clone(),
            composer: self.composer.clone(),
            journal: self.journal.clone(),
            registry: self.registry.clone(),
            options: self.options.clone(),
            limits,
            start: Instant::now(),
            events: self.events.clone(),
            tracker: Mutex::new(Tracker::new(
                &plan,
                self.options.schedule,
                self.options.jobs,
            )),
            cpu: CpuGate::new(self.options.jobs.max(1), self.options.cpu_pool.clone()),
            slots: Arc::new(Semaphore::new(cap)),
            compose_seq: AtomicU64::new(0),
        });
        let renders = plan
            .jobs
            .iter()
            .filter(|j| !matches!(j.source, ClipSource::Cached(_)))
            .count();
        shared.emit(
            SlideEvent::Started {
                slides: plan.slides.len(),
                renders,
                schedule: self.options.schedule,
            },
            |_| {},
        );

        let result = async {
            plan.check_scripts(&shared)?;
            std::fs::create_dir_all(&shared.options.work_dir).map_err(|e| Error::Compose {
                slide: None,
                source: ComposeError::io(&shared.options.work_dir, e),
            })?;
            let (segments, clips) = match self.options.schedule {
                Schedule::Sequential => run_sequential(&shared, &plan).await?,
                Schedule::InOrder | Schedule::Eager => {
                    run_concurrent(&shared, &plan, self.options.schedule).await?
                }
            };
            shared.emit(SlideEvent::Joining, |_| {});
            let t0 = shared.now();
            let options = self
                .finishing
                .as_ref()
                .map(|f| f(&segments))
                .unwrap_or_default();
            shared
                .composer
                .finish(&segments, output, &options)
                .await
                .map_err(|source| Error::Compose {
                    slide: None,
                    source,
                })?;
            shared.span(None, Stage::Join, t0);
            Ok::<_, Error>((segments, clips))
        }
        .await;

        match result {
            Ok((segments, clips)) => {
                shared.emit(
                    SlideEvent::Finished {
                        output: output.to_path_buf(),
                    },
                    |t| t.finished = true,
                );
                let mut spans = match shared.tracker.lock() {
                    Ok(t) => t.spans.clone(),
                    Err(poisoned) => poisoned.into_inner().spans.clone(),
                };
                spans.sort_by_key(|s| (s.start, s.end));
                Ok(RenderReport {
                    elapsed: shared.now(),
                    spans,
                    segments,
                    clips,
                })
            }
            Err(e) => {
                shared.emit(
                    SlideEvent::Failed {
                        slide: e.slide(),
                        reason: e.to_string(),
                    },
                    |_| {},
                );
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The plan: slides, and the clip jobs they need (identical requests share one).

/// One clip to obtain, shared by every slide whose request has the same
/// [`ClipIdentity`].
#[derive(Debug, Clone)]
struct ClipJob {
    /// The slide the render is named after (the first that needs it).
    leader: usize,
    /// Which part of the leader's narration the clip speaks (1-based), when
    /// the narration is split into parts.
    part: Option<usize>,
    /// Every slide that shows this clip, in deck order.
    members: Vec<usize>,
    request: ClipRequest,
    source: ClipSource,
}

struct Plan {
    slides: Vec<Arc<Slide>>,
    /// Indexes into `jobs` of each slide's clips (by position), in speaking
    /// order; empty for slide-only.
    job_of: Vec<Vec<usize>>,
    jobs: Vec<ClipJob>,
}

impl Plan {
    fn new(deck: &Deck, sources: &HashMap<ClipIdentity, ClipSource>) -> Plan {
        let mut jobs: Vec<ClipJob> = Vec::new();
        let mut by_key: HashMap<ClipIdentity, usize> = HashMap::new();
        let mut job_of = Vec::with_capacity(deck.slides.len());
        for slide in &deck.slides {
            let requests = slide.clip_requests(deck);
            let split = requests.len() > 1;
            let mut clips = Vec::with_capacity(requests.len());
            for (i, request) in requests.into_iter().enumerate() {
                let key = request.identity();
                let index = match by_key.get(&key) {
                    Some(&index) => index,
                    None => {
                        let source = sources.get(&key).cloned().unwrap_or(ClipSource::Render);
                        by_key.insert(key, jobs.len());
                        jobs.push(ClipJob {
                            leader: slide.number,
                            part: split.then_some(i + 1),
                            members: Vec::new(),
                            request,
                            source,
                        });
                        jobs.len() - 1
                    }
                };
                if !jobs[index].members.contains(&slide.number) {
                    jobs[index].members.push(slide.number);
                }
                clips.push(index);
            }
            job_of.push(clips);
        }
        Plan {
            slides: deck.slides.iter().cloned().map(Arc::new).collect(),
            job_of,
            jobs,
        }
    }

    /// Fail before any vendor call when a script is over the provider's limit.
    fn check_scripts(&self, shared: &Shared) -> Result<(), Error> {
        let Some(max) = shared.limits.max_script_chars else {
            return Ok(());
        };
        for job in &self.jobs {
            if matches!(job.source, ClipSource::Cached(_)) {
                continue;
            }
            let chars = job.request.script.chars().count();
            if chars > max {
                return Err(Error::Provider {
                    slide: job.leader,
                    provider: shared.provider.name().to_string(),
                    source: ProviderError::permanent(
                        PermanentKind::BadRequest,
                        format!(
                            "the script has {chars} characters; the provider accepts at most {max}"
                        ),
                    ),
                });
            }
        }
        Ok(())
    }
}

type Clips = HashMap<usize, Vec<PathBuf>>;

// ---------------------------------------------------------------------------
// Policies.

/// Slide by slide: initiate, start, wait, fetch, prepare, compose.
async fn run_sequential(
    shared: &Arc<Shared>,
    plan: &Plan,
) -> Result<(Vec<SlideSegment>, Clips), Error> {
    let mut done: HashMap<usize, PathBuf> = HashMap::new();
    let mut clips = Clips::new();
    let mut segments = Vec::with_capacity(plan.slides.len());
    for (index, slide) in plan.slides.iter().enumerate() {
        let mut paths = Vec::with_capacity(plan.job_of[index].len());
        for &j in &plan.job_of[index] {
            let path = match done.get(&j) {
                Some(p) => p.clone(),
                None => {
                    let p = obtain_clip(shared, &plan.jobs[j], None).await?;
                    done.insert(j, p.clone());
                    p
                }
            };
            paths.push(path);
        }
        if !paths.is_empty() {
            clips.insert(slide.number, paths.clone());
        }
        let prepared = prepare(shared, slide).await?;
        segments.push(compose(shared, slide, prepared, &paths).await?);
    }
    Ok((segments, clips))
}

/// What a task of a concurrent run hands back.
enum Done {
    /// A clip is on disk (its receivers have it).
    Clip,
    /// The segment of the slide at this position in the deck.
    Segment(usize, SlideSegment),
    /// Every segment, in deck order.
    Segments(Vec<SlideSegment>),
}

/// In-order and eager: renders are initiated in deck order as render slots
/// free, each polled by its own task; the policies differ only in how the
/// local work is arranged.
async fn run_concurrent(
    shared: &Arc<Shared>,
    plan: &Plan,
    schedule: Schedule,
) -> Result<(Vec<SlideSegment>, Clips), Error> {
    let mut set: JoinSet<Result<Done, Error>> = JoinSet::new();
    let mut queue = VecDeque::new();
    let mut receivers = Vec::with_capacity(plan.jobs.len());
    let mut clips = Clips::new();
    for job in &plan.jobs {
        let (tx, rx) = watch::channel(None);
        receivers.push(rx);
        if matches!(job.source, ClipSource::Cached(_)) {
            // No render slot: a cached clip costs the vendor nothing.
            set.spawn(clip_task(shared.clone(), job.clone(), None, tx));
        } else {
            queue.push_back((job.clone(), tx));
        }
    }
    let clip_rx = |index: usize| -> Vec<ClipReceiver> {
        plan.job_of[index]
            .iter()
            .map(|&j| receivers[j].clone())
            .collect()
    };

    match schedule {
        Schedule::InOrder => {
            let slides: Vec<_> = plan
                .slides
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), clip_rx(i)))
                .collect();
            set.spawn(in_order_pipeline(shared.clone(), slides));
        }
        _ => {
            for (i, slide) in plan.slides.iter().enumerate() {
                set.spawn(eager_slide(shared.clone(), i, slide.clone(), clip_rx(i)));
            }
        }
    }

    let mut segments: Vec<Option<SlideSegment>> = vec![None; plan.slides.len()];
    let mut store = |(index, segment): (usize, SlideSegment)| match segments.get_mut(index) {
        Some(place) => {
            *place = Some(segment);
            Ok(())
        }
        None => Err(Error::Internal(format!(
            "a segment for slide position {index}, which the deck does not have"
        ))),
    };
    let outcome: Result<(), Error> = loop {
        if set.is_empty() && queue.is_empty() {
            break Ok(());
        }
        tokio::select! {
            biased;
            joined = set.join_next(), if !set.is_empty() => match joined {
                Some(Ok(Ok(Done::Clip))) | None => {}
                Some(Ok(Ok(Done::Segment(index, s)))) => {
                    if let Err(e) = store((index, s)) {
                        break Err(e);
                    }
                }
                Some(Ok(Ok(Done::Segments(list)))) => {
                    if let Err(e) = list.into_iter().enumerate().try_for_each(&mut store) {
                        break Err(e);
                    }
                }
                Some(Ok(Err(e))) => break Err(e),
                Some(Err(e)) => break Err(Error::Internal(format!("a task of the run was lost: {e}"))),
            },
            permit = shared.slots.clone().acquire_owned(), if !queue.is_empty() => {
                let Ok(permit) = permit else {
                    break Err(Error::Internal("the render slots were closed".into()));
                };
                if let Some((job, tx)) = queue.pop_front() {
                    set.spawn(clip_task(shared.clone(), job, Some(permit), tx));
                }
            }
        }
    };
    if let Err(e) = outcome {
        // Abort every task and wait until each has stopped, so nothing of
        // this run calls the vendor or the composer after `run` returns.
        set.shutdown().await;
        return Err(e);
    }

    for (index, slide) in plan.slides.iter().enumerate() {
        let paths: Vec<PathBuf> = plan.job_of[index]
            .iter()
            .filter_map(|&j| receivers[j].borrow().clone())
            .collect();
        if !paths.is_empty() {
            clips.insert(slide.number, paths);
        }
    }
    let segments = segments
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| Error::Internal(format!("slide {} has no segment", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((segments, clips))
}

async fn clip_task(
    shared: Arc<Shared>,
    job: ClipJob,
    permit: Option<OwnedSemaphorePermit>,
    tx: watch::Sender<Option<PathBuf>>,
) -> Result<Done, Error> {
    let path = obtain_clip(&shared, &job, permit).await?;
    tx.send_replace(Some(path));
    Ok(Done::Clip)
}

/// The seed's way: for each slide in deck order, wait for its clip, then
/// prepare and compose it; one slide at a time.
async fn in_order_pipeline(
    shared: Arc<Shared>,
    slides: Vec<(Arc<Slide>, Vec<ClipReceiver>)>,
) -> Result<Done, Error> {
    let mut segments = Vec::with_capacity(slides.len());
    for (slide, receivers) in slides {
        let clips = wait_clips(receivers).await;
        let prepared = prepare(&shared, &slide).await?;
        segments.push(compose(&shared, &slide, prepared, &clips).await?);
    }
    Ok(Done::Segments(segments))
}

/// One slide of the eager policy: prepare as soon as a CPU slot is free,
/// then compose as soon as the clip is ready (composes go first).
async fn eager_slide(
    shared: Arc<Shared>,
    index: usize,
    slide: Arc<Slide>,
    receivers: Vec<ClipReceiver>,
) -> Result<Done, Error> {
    let prepared = {
        let _cpu = shared.cpu.acquire((1, slide.number as u64)).await;
        prepare(&shared, &slide).await?
    };
    let clips = wait_clips(receivers).await;
    let ticket = shared.compose_seq.fetch_add(1, Ordering::Relaxed);
    let _cpu = shared.cpu.acquire((0, ticket)).await;
    let segment = compose(&shared, &slide, prepared, &clips).await?;
    Ok(Done::Segment(index, segment))
}

type ClipReceiver = watch::Receiver<Option<PathBuf>>;

/// Every clip of a slide (its parts, in order) once each is on disk.
async fn wait_clips(receivers: Vec<ClipReceiver>) -> Vec<PathBuf> {
    let mut clips = Vec::with_capacity(receivers.len());
    for mut rx in receivers {
        clips.push(wait_clip(&mut rx).await);
    }
    clips
}

/// The clip once its task has it. If the task ends without one it failed,
/// and the run is stopping with that error: wait to be aborted.
async fn wait_clip(rx: &mut ClipReceiver) -> PathBuf {
    loop {
        if let Some(path) = rx.borrow_and_update().clone() {
            return path;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn prepare(shared: &Shared, slide: &Slide) -> Result<PreparedSlide, Error> {
    let t0 = shared.now();
    let prepared = shared
        .composer
        .prepare(slide)
        .await
        .map_err(|source| Error::Compose {
            slide: Some(slide.number),
            source,
        })?;
    shared.span(Some(slide.number), Stage::Prepare, t0);
    let n = slide.number;
    shared.emit(SlideEvent::Prepared { slide: n }, |t| {
        t.slide(n).prepared = true;
    });
    Ok(prepared)
}

async fn compose(
    shared: &Shared,
    slide: &Slide,
    prepared: PreparedSlide,
    clips: &[PathBuf],
) -> Result<SlideSegment, Error> {
    let n = slide.number;
    shared.emit(SlideEvent::Composing { slide: n }, |_| {});
    let t0 = shared.now();
    let segment = shared
        .composer
        .compose(slide, prepared, clips)
        .await
        .map_err(|source| Error::Compose {
            slide: Some(n),
            source,
        })?;
    shared.span(Some(n), Stage::Compose, t0);
    shared.emit(
        SlideEvent::Composed {
            slide: n,
            duration: segment.duration,
        },
        |t| t.slide(n).composed = true,
    );
    Ok(segment)
}

// ---------------------------------------------------------------------------
// One clip: cached, resumed, or initiated, started, polled, fetched, verified.

/// How often a clip whose verification fails is fetched again.
const FETCH_ATTEMPTS: u32 = 3;
/// Shortest wait between two status polls, whatever the vendor estimates.
const MIN_POLL: Duration = Duration::from_millis(10);

async fn obtain_clip(
    shared: &Shared,
    job: &ClipJob,
    mut permit: Option<OwnedSemaphorePermit>,
) -> Result<PathBuf, Error> {
    let slide = job.leader;
    let mut claim = None;
    let mut resume = match &job.source {
        ClipSource::Render => {
            // Another run may be rendering the same clip: attach to it.
            let c = shared
                .registry_call(shared.registry.claim(&job.request))
                .await?;
            if c.existing.is_some() {
                tracing::info!(slide, "another run renders this clip; using its render");
            }
            let mut existing = c.existing;
            if existing.is_none() && c.maybe_created {
                // A create whose answer was lost may exist at the vendor.
                let found = shared
                    .call(slide, "find a lost create", || {
                        shared.provider.find_lost_create(&job.request)
                    })
                    .await?;
                if let Some((handle, started)) = found {
                    tracing::info!(slide, id = %handle.id, "found the render a lost create made");
                    shared
                        .journal_call(shared.journal.initiated(&job.request, &handle))
                        .await?;
                    shared
                        .registry_call(shared.registry.created(&c.token, &handle, started))
                        .await?;
                    existing = Some((handle, started));
                }
            }
            claim = Some(c.token);
            existing
        }
        // Verified by whoever chose the source: each clip is verified once.
        ClipSource::Cached(path) => {
            shared.fetched(job, true);
            return Ok(path.clone());
        }
        ClipSource::Resume { handle, started } => Some((handle.clone(), *started)),
    };
    if permit.is_none() && job.source != ClipSource::Render {
        // A resumed render of a sequential run (which takes no slot ahead).
        permit = shared.slots.clone().acquire_owned().await.ok();
    }

    let mut submissions: u32 = 0;
    let handle = loop {
        let t0 = shared.now();
        let resumed = resume.is_some();
        let (handle, needs_start) = match resume.take() {
            Some((handle, started)) => (handle, !started),
            None => {
                submissions += 1;
                let handle = shared
                    .call(slide, "initiate", || shared.provider.initiate(&job.request))
                    .await?;
                shared
                    .journal_call(shared.journal.initiated(&job.request, &handle))
                    .await?;
                if let Some(token) = &claim {
                    shared
                        .registry_call(shared.registry.created(token, &handle, false))
                        .await?;
                }
                (handle, true)
            }
        };
        shared.emit(
            SlideEvent::Initiated {
                slide,
                handle: handle.clone(),
            },
            |t| {
                let now = t.now;
                t.render(job, 0.1);
                t.each(job, |s| {
                    s.render_since = Some(now);
                    s.expected_ready = None;
                });
            },
        );
        let outcome = async {
            if needs_start {
                shared
                    .call(slide, "start", || shared.provider.start(&handle))
                    .await?;
                shared
                    .journal_call(shared.journal.started(&job.request, &handle))
                    .await?;
                if let Some(token) = &claim {
                    shared
                        .registry_call(shared.registry.created(token, &handle, true))
                        .await?;
                }
            }
            shared.span(Some(slide), Stage::Initiate, t0);
            let t1 = shared.now();
            let failed = wait_ready(shared, job, &handle).await?;
            shared.span(Some(slide), Stage::Render, t1);
            Ok::<_, Error>(failed)
        }
        .await;
        match outcome {
            Ok(None) => break handle,
            Err(Error::Provider {
                source:
                    ProviderError::Permanent {
                        kind: PermanentKind::NotFound,
                        ..
                    },
                ..
            }) if resumed => {
                // The vendor no longer knows the render an earlier run left:
                // forget it and submit anew.
                tracing::warn!(slide, id = %handle.id, "resumed render is gone; submitting again");
                shared
                    .journal_call(shared.journal.discarded(&job.request, &handle))
                    .await?;
            }
            Err(e) => return Err(e),
            Ok(Some(reason)) => {
                let attempts = submissions.max(1);
                if attempts > shared.options.retry.resubmits {
                    return Err(Error::RenderFailed {
                        slide,
                        render_id: handle.id.clone(),
                        attempts,
                        reason,
                    });
                }
                shared
                    .journal_call(shared.journal.discarded(&job.request, &handle))
                    .await?;
                shared.emit(
                    SlideEvent::Resubmitted {
                        slide,
                        attempt: attempts + 1,
                        reason,
                    },
                    |_| {},
                );
                submissions = submissions.max(1);
            }
        }
    };
    // The render is done at the vendor: its slot goes to the next slide.
    drop(permit);

    let ext = shared
        .provider
        .clip_extension(&handle)
        .trim_start_matches('.');
    let dest = shared.options.work_dir.join(match job.part {
        Some(part) => format!("clip-slide-{slide:03}-part-{part}.{ext}"),
        None => format!("clip-slide-{slide:03}.{ext}"),
    });
    let t0 = shared.now();
    let mut fetches = 0;
    loop {
        fetches += 1;
        shared
            .call(slide, "fetch", || shared.provider.fetch(&handle, &dest))
            .await?;
        match shared.composer.verify_clip(&dest).await {
            Ok(_) => break,
            Err(source) if fetches >= FETCH_ATTEMPTS => {
                return Err(Error::Compose {
                    slide: Some(slide),
                    source,
                });
            }
            Err(e) => {
                tracing::warn!(
                    slide,
                    "fetched clip failed verification, fetching again: {e}"
                );
            }
        }
    }
    let kept = shared
        .journal_call(shared.journal.fetched(&job.request, &handle, &dest))
        .await?;
    if let Some(token) = claim {
        shared
            .registry_call(shared.registry.finished(token))
            .await?;
    }
    shared.span(Some(slide), Stage::Fetch, t0);
    shared.fetched(job, false);
    Ok(kept)
}

/// Poll until the render is ready (`None`) or failed (`Some(reason)`).
async fn wait_ready(
    shared: &Shared,
    job: &ClipJob,
    handle: &RenderHandle,
) -> Result<Option<String>, Error> {
    let slide = job.leader;
    let poll = shared.limits.poll_interval.max(MIN_POLL);
    let mut last_percent: Option<Option<f32>> = None;
    loop {
        let status = shared
            .call(slide, "status", || shared.provider.status(handle))
            .await?;
        let wait = match status {
            RenderStatus::Ready => {
                shared.emit(SlideEvent::Ready { slide }, |t| {
                    t.render(job, 0.9);
                    t.each(job, |s| s.render_done = true);
                });
                return Ok(None);
            }
            RenderStatus::Failed { reason } => return Ok(Some(reason)),
            RenderStatus::Rejected { reason } => {
                return Err(Error::Rejected {
                    slide,
                    provider: handle.provider.clone(),
                    render_id: handle.id.clone(),
                    reason,
                })
            }
            RenderStatus::Queued => poll,
            RenderStatus::Rendering { progress, eta } => {
                if last_percent != Some(progress) {
                    last_percent = Some(progress);
                    let fraction = progress.map_or(0.0, |p| p.clamp(0.0, 100.0) / 100.0);
                    shared.emit(
                        SlideEvent::Rendering {
                            slide,
                            percent: progress,
                        },
                        |t| {
                            t.render(job, 0.1 + 0.8 * fraction);
                            let now = t.now;
                            t.each(job, |s| s.expect_ready(now, progress, eta));
                        },
                    );
                }
                // Poll no later than the vendor expects the render to end.
                eta.map_or(poll, |eta| eta.clamp(MIN_POLL, poll))
            }
        };
        shared.provider.wait_for_change(handle, wait).await;
    }
}

// ---------------------------------------------------------------------------
// State shared by the tasks of one run.

struct Shared {
    provider: Arc<dyn AvatarProvider>,
    composer: Arc<dyn Composer>,
    journal: Arc<dyn RenderJournal>,
    registry: Arc<dyn RenderRegistry>,
    options: RunOptions,
    limits: ProviderLimits,
    start: Instant,
    events: Option<mpsc::UnboundedSender<Progress>>,
    tracker: Mutex<Tracker>,
    cpu: CpuGate,
    slots: Arc<Semaphore>,
    compose_seq: AtomicU64,
}

impl Shared {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Record a finished stage that began at `start`.
    fn span(&self, slide: Option<usize>, stage: Stage, start: Duration) {
        let end = self.now();
        self.with_tracker(|t| {
            t.spans.push(Span {
                slide,
                stage,
                start,
                end,
            })
        });
    }

    fn with_tracker<R>(&self, f: impl FnOnce(&mut Tracker) -> R) -> R {
        // A panic while holding the lock only ever leaves progress figures
        // behind; keep going with them.
        let mut guard = match self.tracker.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Update the progress state and send the event. The send happens under
    /// the lock so the receiver sees `overall` in the order it was computed.
    fn emit(&self, event: SlideEvent, update: impl FnOnce(&mut Tracker)) {
        let at = self.now();
        self.with_tracker(|t| {
            t.now = at;
            update(t);
            let overall = t.overall();
            let eta = t.eta(overall);
            if let Some(tx) = &self.events {
                let _ = tx.send(Progress {
                    at,
                    overall,
                    eta,
                    event,
                });
            }
        });
    }

    fn fetched(&self, job: &ClipJob, cached: bool) {
        for &slide in &job.members {
            self.emit(SlideEvent::Fetched { slide, cached }, |t| {
                let s = t.slide(slide);
                s.fetched += 1;
                if s.fetched >= s.clips {
                    s.render = 1.0;
                    s.render_done = true;
                }
            });
        }
    }

    async fn registry_call<T>(
        &self,
        call: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, Error> {
        call.await.map_err(|source| Error::Journal {
            path: PathBuf::from("(renders in flight)"),
            source,
        })
    }

    async fn journal_call<T>(
        &self,
        call: impl std::future::Future<Output = std::io::Result<T>>,
    ) -> Result<T, Error> {
        call.await.map_err(|source| Error::Journal {
            path: self
                .journal
                .path()
                .map_or_else(|| PathBuf::from("(render journal)"), Path::to_path_buf),
            source,
        })
    }

    /// One provider call with retries: exponential backoff with jitter for
    /// transient errors, the vendor's delay for rate limits, and no retry
    /// for permanent errors.
    async fn call<T, F, Fut>(&self, slide: usize, what: &str, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let policy = &self.options.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if !error.is_retryable() || attempt >= policy.max_attempts.max(1) {
                return Err(Error::Provider {
                    slide,
                    provider: self.provider.name().to_string(),
                    source: error,
                });
            }
            let delay = match &error {
                ProviderError::RateLimited {
                    retry_after: Some(after),
                    ..
                } => *after,
                _ => policy.backoff(attempt),
            };
            tracing::debug!(slide, what, attempt, ?delay, "retrying: {error}");
            self.emit(
                SlideEvent::Retrying {
                    slide,
                    attempt: attempt + 1,
                    delay,
                    reason: format!("{what}: {error}"),
                },
                |_| {},
            );
            tokio::time::sleep(delay).await;
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`
    /// capped at `max_delay`, then "equal jitter" — a uniform pick in its upper
    /// half — so slides that failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        // Whole milliseconds: tokio's timers do not resolve finer.
        let half_ms = u64::try_from(full.as_millis() / 2).unwrap_or(u64::MAX);
        let jitter_ms = rand::thread_rng().gen_range(0..=half_ms);
        Duration::from_millis(half_ms.saturating_add(jitter_ms))
    }
}

/// Per-slide progress, for the overall percentage and the ETA.
#[derive(Debug, Clone, Copy, Default)]
struct SlideProgress {
    presenter: bool,
    /// 0..=1 from initiate to fetched.
    render: f32,
    /// The vendor finished the render (or the clip was cached).
    render_done: bool,
    /// When the current render was initiated (time since the run began).
    render_since: Option<Duration>,
    /// When the vendor's figures say the render will be ready.
    expected_ready: Option<Duration>,
    prepared: bool,
    composed: bool,
    /// Clips the slide shows (its narration's parts) and how many are on
    /// disk: its render is done when all are.
    clips: usize,
    fetched: usize,
}

impl SlideProgress {
    /// Expected end of the render: the vendor's estimate when it gives one,
    /// else extrapolated from its percentage.
    fn expect_ready(&mut self, now: Duration, percent: Option<f32>, eta: Option<Duration>) {
        self.expected_ready = match (eta, percent, self.render_since) {
            (Some(eta), _, _) => Some(now + eta),
            (None, Some(p), Some(since)) if (1.0..=100.0).contains(&p) => {
                Some(since + (now.saturating_sub(since)).mul_f64(100.0 / f64::from(p)))
            }
            _ => self.expected_ready,
        };
    }

    fn fraction(&self) -> f32 {
        let done = |b: bool| if b { 1.0 } else { 0.0 };
        if self.presenter {
            0.6 * self.render + 0.15 * done(self.prepared) + 0.25 * done(self.composed)
        } else {
            0.4 * done(self.prepared) + 0.6 * done(self.composed)
        }
    }
}

struct Tracker {
    /// Time of the event being recorded, since the run began.
    now: Duration,
    /// Prepare/compose calls that may run at once under this policy.
    parallel: f64,
    slides: Vec<SlideProgress>,
    /// Highest overall percentage sent so far.
    sent: f32,
    finished: bool,
    spans: Vec<Span>,
    /// Out-of-range slide numbers land here instead of panicking.
    spare: SlideProgress,
}

impl Tracker {
    fn new(plan: &Plan, schedule: Schedule, jobs: usize) -> Tracker {
        Tracker {
            now: Duration::ZERO,
            parallel: match schedule {
                Schedule::Eager => jobs.max(1) as f64,
                Schedule::Sequential | Schedule::InOrder => 1.0,
            },
            slides: plan
                .job_of
                .iter()
                .map(|clips| SlideProgress {
                    presenter: !clips.is_empty(),
                    // Distinct clips: a part said twice is one render.
                    clips: clips.iter().collect::<BTreeSet<_>>().len(),
                    ..SlideProgress::default()
                })
                .collect(),
            sent: 0.0,
            finished: false,
            spans: Vec::new(),
            spare: SlideProgress::default(),
        }
    }

    fn slide(&mut self, number: usize) -> &mut SlideProgress {
        match self.slides.get_mut(number.wrapping_sub(1)) {
            Some(s) => s,
            None => &mut self.spare,
        }
    }

    /// Apply `f` to every slide sharing `job`'s clip.
    fn each(&mut self, job: &ClipJob, mut f: impl FnMut(&mut SlideProgress)) {
        for &n in &job.members {
            f(self.slide(n));
        }
    }

    /// Mean length of the finished spans of `stage`.
    fn mean(&self, stage: Stage) -> Option<Duration> {
        let lengths: Vec<Duration> = self
            .spans
            .iter()
            .filter(|s| s.stage == stage)
            .map(|s| s.end.saturating_sub(s.start))
            .collect();
        let count = u32::try_from(lengths.len()).ok().filter(|n| *n > 0)?;
        Some(lengths.iter().sum::<Duration>() / count)
    }

    /// Time left: the last expected render plus one compose, or the local
    /// work left spread over the CPU slots, whichever is longer. Until there
    /// is a vendor estimate for every pending render and a finished compose
    /// to measure, a straight extrapolation of the overall percentage.
    fn eta(&self, overall: f32) -> Option<Duration> {
        if self.finished || overall >= 100.0 {
            return None;
        }
        let linear = (overall >= 1.0).then(|| {
            self.now
                .mul_f64(f64::from(100.0 - overall) / f64::from(overall))
        });
        let mut render_wait = Duration::ZERO;
        for s in self.slides.iter().filter(|s| s.presenter && !s.render_done) {
            match s.expected_ready {
                Some(at) => render_wait = render_wait.max(at.saturating_sub(self.now)),
                None => return linear,
            }
        }
        let compose_left = self.slides.iter().filter(|s| !s.composed).count();
        let prep_left = self.slides.iter().filter(|s| !s.prepared).count();
        let compose = match self.mean(Stage::Compose) {
            Some(c) => c,
            None if compose_left == 0 => Duration::ZERO,
            None => return linear,
        };
        let prep = self.mean(Stage::Prepare).unwrap_or(Duration::ZERO);
        let local = (prep.mul_f64(prep_left as f64) + compose.mul_f64(compose_left as f64))
            .div_f64(self.parallel);
        let after_renders = if render_wait.is_zero() {
            Duration::ZERO
        } else {
            render_wait + compose
        };
        Some(after_renders.max(local))
    }

    /// Raise the render progress of every slide sharing `job`'s clip.
    fn render(&mut self, job: &ClipJob, value: f32) {
        for &n in &job.members {
            let s = self.slide(n);
            // A slide of several clips is not rendered until the last is.
            let cap = if s.fetched + 1 >= s.clips { 1.0 } else { 0.99 };
            s.render = s.render.max(value.min(cap));
        }
    }

    /// Overall percent: 95% for the slides, the last 5% for the join; never
    /// lower than what was sent before.
    fn overall(&mut self) -> f32 {
        let now = if self.finished {
            100.0
        } else if self.slides.is_empty() {
            0.0
        } else {
            let sum: f32 = self.slides.iter().map(SlideProgress::fraction).sum();
            (95.0 * sum / self.slides.len() as f32).min(95.0)
        };
        self.sent = self.sent.max(now);
        self.sent
    }
}

/// The CPU slots of an eager run: `jobs` permits, handed out by key, lowest
/// first. Composes use `(0, arrival)` and prepares `(1, slide)`, so a waiting
/// compose always goes first and prepares run in deck order — which is what
/// keeps eager from ever finishing after in-order.
struct CpuGate {
    state: Mutex<GateState>,
    notify: Notify,
    pool: Option<CpuPool>,
}

struct GateState {
    free: usize,
    waiting: BTreeSet<(u8, u64)>,
}

impl CpuGate {
    fn new(permits: usize, pool: Option<CpuPool>) -> Self {
        CpuGate {
            state: Mutex::new(GateState {
                free: permits,
                waiting: BTreeSet::new(),
            }),
            notify: Notify::new(),
            pool,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    async fn acquire(&self, key: (u8, u64)) -> CpuPermit<'_> {
        let mut waiter = Waiter {
            gate: self,
            key,
            queued: true,
        };
        self.lock().waiting.insert(key);
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.free > 0 && state.waiting.first() == Some(&key) {
                    state.free -= 1;
                    state.waiting.remove(&key);
                    waiter.queued = false;
                    if state.free > 0 && !state.waiting.is_empty() {
                        self.notify.notify_waiters();
                    }
                    break;
                }
            }
            notified.await;
        }
        // The run's own slot decides the order within the run; the shared
        // pool, taken second, only bounds runs together.
        let mut permit = CpuPermit {
            gate: self,
            _shared: None,
        };
        if let Some(pool) = &self.pool {
            permit._shared = pool.0.clone().acquire_owned().await.ok();
        }
        permit
    }
}

/// Removes a cancelled waiter from the queue so it does not block others.
struct Waiter<'a> {
    gate: &'a CpuGate,
    key: (u8, u64),
    queued: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.queued {
            self.gate.lock().waiting.remove(&self.key);
            self.gate.notify.notify_waiters();
        }
    }
}

struct CpuPermit<'a> {
    gate: &'a CpuGate,
    _shared: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for CpuPermit<'_> {
    fn drop(&mut self) {
        self.gate.lock().free += 1;
        self.gate.notify.notify_waiters();
    }
}
