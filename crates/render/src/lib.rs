//! `slidecast-render`: deck in, video out.
//!
//! A [`RenderJob`] is everything between a loaded [`Deck`] and a finished
//! video, for every front end (the `slidecast` command, the HTTP service,
//! your own tool): it picks each slide's avatar provider from a
//! [`ProviderRegistry`], sets up the media composer, never pays for a render
//! twice (the clip cache and the run journal of `slidecast-store`), checks the
//! vendor budget, runs core's scheduler, and writes the captions and the
//! timeline beside the video.
//!
//! ```no_run
//! use slidecast_render::{Deck, RenderJob};
//!
//! # async fn demo() -> Result<(), slidecast_render::RenderError> {
//! let deck = Deck::load("examples/quickstart/deck.toml".as_ref())?;
//! let outcome = RenderJob::new(deck, "quickstart.mp4").run().await?;
//! println!("wrote {} in {:.1} s", outcome.video.display(), outcome.report.elapsed.as_secs_f64());
//! # Ok(()) }
//! ```
//!
//! The same job with every knob (see `examples/render_deck.rs`):
//! `.provider("elai")`, `.schedule(Schedule::Eager)`, `.jobs(2)`,
//! `.store(StorePolicy::default().cache_dir(dir))`, `.max_minutes(20.0)`,
//! `.timeline("talk.svg")`, `.events(tx)` for live [`Progress`].
//!
//! Cancellation: drop the future of [`RenderJob::run`]. Nothing partial is
//! left at the output; renders already started stay in the journal, so the
//! next run of the same job resumes them. [`RenderJob::cancel_remote`]
//! deletes them at the vendor instead.
//!
//! Error messages name the file, slide and field; they contain no
//! front-end wording, so each front end adds its own hints from the
//! [`RenderError`] variant.

#![warn(missing_docs)]

pub mod captions;
pub mod chapters;
mod error;
pub mod events;
mod mock;
mod registry;
mod router;
pub mod timeline;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use slidecast_core::{
    AvatarProvider, ClipIdentity, ClipSource, Composer, RenderHandle, RenderRegistry, RunOptions,
    SlideEvent,
};
use slidecast_store::{ClipCache, Journal, Plan, Rates};
use tokio::sync::mpsc;

pub use error::RenderError;
pub use mock::MockClips;
pub use registry::{
    did_config, elai_config, elai_url, heygen_config, ProviderContext, ProviderFactory,
    ProviderRegistry, DID_URL_ENV, ELAI_URL_ENV, HEYGEN_URL_ENV,
};
pub use router::Router;
pub use slidecast_core::{CpuPool, Deck, Progress, RenderReport, Schedule};
pub use slidecast_media::burn::CaptionStyle;

/// How much CPU a job may use: one number sizes the scheduler's compose
/// and prepare tasks, each x264 encoder's threads and the local presenter's
/// parallel renders, so they share the cores instead of each taking all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuBudget {
    cores: usize,
}

impl CpuBudget {
    /// A budget of `cores` (at least one).
    pub fn new(cores: usize) -> CpuBudget {
        CpuBudget {
            cores: cores.max(1),
        }
    }

    /// Prepare/compose tasks at once, and local renders at once.
    pub fn jobs(&self) -> usize {
        self.cores
    }
}

impl Default for CpuBudget {
    /// Every core of the machine.
    fn default() -> Self {
        CpuBudget::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

/// Where finished clips and run journals are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorePolicy {
    cache: CacheChoice,
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum CacheChoice {
    #[default]
    Default,
    Dir(PathBuf),
    Off,
}

impl StorePolicy {
    /// Keep the clip cache in `dir` instead of the user's cache folder.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheChoice::Dir(dir.into());
        self
    }

    /// Neither use nor fill the clip cache.
    pub fn no_cache(mut self) -> Self {
        self.cache = CacheChoice::Off;
        self
    }

    /// Keep run journals in `dir` instead of `.slidecast/` beside the output.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The clip cache this policy names (`None` when it is off).
    pub fn open_cache(&self) -> Result<Option<ClipCache>, RenderError> {
        match &self.cache {
            CacheChoice::Off => Ok(None),
            CacheChoice::Default => Ok(Some(ClipCache::open_or_default(None)?)),
            CacheChoice::Dir(dir) => Ok(Some(ClipCache::open_or_default(Some(dir))?)),
        }
    }

    /// The folder of the journal of `output`.
    pub fn state_dir_for(&self, output: &Path) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| Journal::default_state_dir(output))
    }
}

/// Caption outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionOptions {
    /// Write `OUT.srt` and `OUT.vtt` beside the video.
    pub files: bool,
    /// Add the captions to the video as a soft subtitle track.
    pub track: bool,
    /// Also draw them into the picture, in this style (for players that
    /// ignore subtitle tracks).
    pub burn: Option<CaptionStyle>,
}

impl Default for CaptionOptions {
    fn default() -> Self {
        CaptionOptions {
            files: true,
            track: true,
            burn: None,
        }
    }
}

/// One deck to render to one video (see the [crate docs](crate)).
pub struct RenderJob {
    deck: Deck,
    output: PathBuf,
    registry: ProviderRegistry,
    provider: Option<String>,
    settings: BTreeMap<String, String>,
    store: StorePolicy,
    max_minutes: Option<f64>,
    max_cost: BTreeMap<String, f64>,
    captions: CaptionOptions,
    timeline: Option<PathBuf>,
    schedule: Schedule,
    cpu: CpuBudget,
    max_renders: Option<usize>,
    work_dir: Option<PathBuf>,
    events: Option<mpsc::UnboundedSender<Progress>>,
    render_registry: Option<Arc<dyn RenderRegistry>>,
    cpu_pool: Option<CpuPool>,
    speech_rate: slidecast_core::SpeechRate,
}

impl std::fmt::Debug for RenderJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Settings may hold paths to key files; their values stay out.
        f.debug_struct("RenderJob")
            .field("deck", &self.deck.source)
            .field("output", &self.output)
            .field("registry", &self.registry)
            .field("provider", &self.provider)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("store", &self.store)
            .field("max_minutes", &self.max_minutes)
            .field("max_cost", &self.max_cost)
            .field("captions", &self.captions)
            .field("timeline", &self.timeline)
            .field("schedule", &self.schedule)
            .field("cpu", &self.cpu)
            .field("max_renders", &self.max_renders)
            .field("work_dir", &self.work_dir)
            .field("render_registry", &self.render_registry.is_some())
            .field("cpu_pool", &self.cpu_pool)
            .field("speech_rate", &self.speech_rate)
            .finish_non_exhaustive()
    }
}

/// What a finished job made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RenderOutcome {
    /// The scheduler's report: stage spans, segments, clips.
    pub report: RenderReport,
    /// The video.
    pub video: PathBuf,
    /// `OUT.srt` and `OUT.vtt`, when written.
    pub captions: Option<(PathBuf, PathBuf)>,
    /// `OUT.chapters.vtt` and `OUT.chapters.txt` (one chapter per slide).
    pub chapters: (PathBuf, PathBuf),
    /// The timeline SVG, when asked for.
    pub timeline: Option<PathBuf>,
    /// Every vendor render this run initiated, by slide.
    pub handles: Vec<(usize, RenderHandle)>,
    /// Presenter clips that came from the cache or an earlier run.
    pub reused_clips: usize,
    /// The providers the deck used, sorted.
    pub providers: Vec<String>,
    /// Length of the video.
    pub video_length: std::time::Duration,
}

/// One vendor render deleted (or not) by [`RenderJob::cancel_remote`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteCancel {
    /// The slide that asked for it.
    pub slide: usize,
    /// The render.
    pub handle: RenderHandle,
    /// `Err(reason)` when the vendor could not delete it.
    pub result: Result<(), String>,
}

impl RenderJob {
    /// Render `deck` to `output` with the built-in providers, the default
    /// cache and journal, captions, the eager schedule and every core.
    pub fn new(deck: Deck, output: impl Into<PathBuf>) -> RenderJob {
        RenderJob {
            deck,
            output: output.into(),
            registry: ProviderRegistry::builtin(),
            provider: None,
            settings: BTreeMap::new(),
            store: StorePolicy::default(),
            max_minutes: None,
            max_cost: BTreeMap::new(),
            speech_rate: slidecast_core::SpeechRate::default(),
            captions: CaptionOptions::default(),
            timeline: None,
            schedule: Schedule::Eager,
            cpu: CpuBudget::default(),
            max_renders: None,
            work_dir: None,
            events: None,
            render_registry: None,
            cpu_pool: None,
        }
    }

    /// Use these providers instead of the built-in ones.
    pub fn registry(mut self, registry: ProviderRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Render every presenter slide with `name`, whatever the deck says.
    pub fn provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }

    /// A provider setting (`elai.url`, `elai.key_file`, ...).
    pub fn provider_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    /// Where clips and journals are kept.
    pub fn store(mut self, store: StorePolicy) -> Self {
        self.store = store;
        self
    }

    /// Refuse to start when the vendor work would be billed more minutes
    /// of vendor time (every vendor, each clip rounded up to its vendor's
    /// billing step).
    pub fn max_minutes(mut self, minutes: f64) -> Self {
        self.max_minutes = Some(minutes);
        self
    }

    /// Refuse to start when `provider`'s renders would cost more than
    /// `amount` of its unit (HeyGen and D-ID: credits; Elai: minutes).
    pub fn max_cost(mut self, provider: impl Into<String>, amount: f64) -> Self {
        self.max_cost.insert(provider.into(), amount);
        self
    }

    /// Caption outputs.
    pub fn captions(mut self, captions: CaptionOptions) -> Self {
        self.captions = captions;
        self
    }

    /// Also write the run's schedule as an SVG timeline to `path`.
    pub fn timeline(mut self, path: impl Into<PathBuf>) -> Self {
        self.timeline = Some(path.into());
        self
    }

    /// The scheduling policy (eager is the fast one).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Use `cores` CPU cores (default: all).
    pub fn jobs(mut self, cores: usize) -> Self {
        self.cpu = CpuBudget::new(cores);
        self
    }

    /// Cap vendor renders in flight below the provider's own limit.
    pub fn max_renders(mut self, renders: usize) -> Self {
        self.max_renders = Some(renders.max(1));
        self
    }

    /// Keep clips and segments in `dir` (default: a private temporary
    /// folder beside the output, removed at the end).
    pub fn work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }

    /// Share renders in flight through `registry` instead of the file
    /// registry beside the clip cache (a service keeps them in its
    /// database), so runs that need the same clip pay for one render.
    pub fn render_registry(mut self, registry: Arc<dyn RenderRegistry>) -> Self {
        self.render_registry = Some(registry);
        self
    }

    /// How fast narration is estimated to be spoken (default
    /// [`SpeechRate::DEFAULT_WPM`](slidecast_core::SpeechRate::DEFAULT_WPM)):
    /// the one estimate behind splitting long narrations, the plan and
    /// budget, and the vendors' render deadlines.
    pub fn speech_rate(mut self, rate: slidecast_core::SpeechRate) -> Self {
        self.speech_rate = rate;
        self
    }

    /// Take CPU slots from `pool` as well as from the job's own budget, so
    /// jobs running side by side share the machine's cores.
    pub fn cpu_pool(mut self, pool: CpuPool) -> Self {
        self.cpu_pool = Some(pool);
        self
    }

    /// Send live progress events to `tx`.
    pub fn events(mut self, tx: mpsc::UnboundedSender<Progress>) -> Self {
        self.events = Some(tx);
        self
    }

    /// The deck as this job renders it (with any provider override applied).
    pub fn deck(&self) -> Deck {
        let mut deck = self.deck.clone();
        if let Some(name) = &self.provider {
            for slide in &mut deck.slides {
                if let Some(p) = slide.presenter.as_mut() {
                    p.provider = name.clone();
                }
            }
        }
        deck
    }

    /// The output video.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// The providers the deck's presenter slides name, sorted, each checked
    /// against the registry.
    pub fn providers(&self) -> Result<Vec<String>, RenderError> {
        self.providers_of(&self.deck())
    }

    /// [`providers`](Self::providers) of `deck` (the job's deck, already
    /// built, so callers that hold it do not build it again).
    fn providers_of(&self, deck: &Deck) -> Result<Vec<String>, RenderError> {
        let mut first_slide: BTreeMap<String, usize> = BTreeMap::new();
        for slide in deck.presenter_slides() {
            if let Some(p) = &slide.presenter {
                first_slide
                    .entry(p.provider.clone())
                    .or_insert(slide.number);
            }
        }
        for (name, slide) in &first_slide {
            if !self.registry.contains(name) {
                return Err(RenderError::UnknownProvider {
                    name: name.clone(),
                    slide: Some(*slide),
                    known: self.registry.names().map(String::from).collect(),
                });
            }
        }
        Ok(first_slide.into_keys().collect())
    }

    /// What the render would do now: per slide cached, in flight or to
    /// render, and the vendor minutes it would cost.
    pub fn plan(&self) -> Result<Plan, RenderError> {
        let deck = self.deck();
        self.providers_of(&deck)?;
        let cache = self.store.open_cache()?;
        let snapshot = Journal::read(&self.store.state_dir_for(&self.output), &self.output)?;
        Ok(Plan::build(
            &deck,
            cache.as_ref(),
            Some(&snapshot),
            self.rates(),
        ))
    }

    /// Ask the vendors whether they will render the deck's slides that are
    /// not cached (avatar and voice codes, speech limits), without creating
    /// anything: every problem at once, as deck problems naming slide and
    /// field.
    pub async fn check_with_vendors(&self) -> Result<(), RenderError> {
        self.plan_with_vendors().await.map(|_| ())
    }

    /// [`plan`](Self::plan) after asking the vendors: narrations longer than
    /// their avatar speaks per clip are split into parts (each priced and
    /// counted as its own clip), and what the vendors would refuse is an
    /// error, as in [`check_with_vendors`](Self::check_with_vendors).
    pub async fn plan_with_vendors(&self) -> Result<Plan, RenderError> {
        let deck = self.deck();
        let names = self.providers_of(&deck)?;
        let work = tempfile::tempdir().map_err(|e| RenderError::io(std::env::temp_dir(), e))?;
        let provider = self.build_provider(&names, &self.provider_context(work.path()))?;
        let (deck, unsplittable) =
            split_narration(deck, provider.as_ref(), self.speech_rate).await?;
        let cache = self.store.open_cache()?;
        let snapshot = Journal::read(&self.store.state_dir_for(&self.output), &self.output)?;
        let sources = snapshot.sources(&deck, cache.as_ref());
        self.vendor_check(&deck, provider.as_ref(), &sources, unsplittable)
            .await?;
        Ok(Plan::for_sources(&deck, &sources, self.rates()))
    }

    /// [`AvatarProvider::check`] on the clips `sources` leaves to render,
    /// reported with the `earlier` problems (the vendor's own problem with
    /// a field already named is left out).
    async fn vendor_check(
        &self,
        deck: &Deck,
        provider: &dyn AvatarProvider,
        sources: &HashMap<ClipIdentity, ClipSource>,
        earlier: Vec<slidecast_core::DeckProblem>,
    ) -> Result<(), RenderError> {
        let requests: Vec<slidecast_core::ClipRequest> = deck
            .presenter_slides()
            .flat_map(|s| s.clip_requests(deck))
            .filter(|r| matches!(sources.get(&r.identity()), None | Some(ClipSource::Render)))
            .collect();
        let requests = requests.as_slice();
        let found = match requests.first() {
            Some(first) => vendor_call(provider, first.slide, || provider.check(requests)).await?,
            None => Vec::new(),
        };
        let mut problems = earlier;
        for p in found {
            let named = problems
                .iter()
                .any(|e| e.slide == Some(p.slide) && e.field == p.field);
            if !named {
                problems.push(slidecast_core::DeckProblem {
                    file: deck.source.clone(),
                    slide: Some(p.slide),
                    field: p.field,
                    message: p.message,
                });
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort_by_key(|p| p.slide);
        Err(RenderError::Deck(slidecast_core::DeckError::Invalid(
            problems,
        )))
    }

    fn check_output(&self) -> Result<(), RenderError> {
        let folder = output_folder(&self.output);
        if !folder.is_dir() {
            return Err(RenderError::Output {
                path: self.output.clone(),
                message: format!("the folder {} does not exist", folder.display()),
            });
        }
        if self.output.extension().is_none() {
            return Err(RenderError::Output {
                path: self.output.clone(),
                message: "the output needs a file name ending in .mp4".into(),
            });
        }
        Ok(())
    }

    /// How the plan and budget estimate speech, and how each registered
    /// provider bills it.
    fn rates(&self) -> Rates {
        Rates {
            speech_rate: self.speech_rate,
            billing: self.registry.billing_table(),
        }
    }

    /// `Err` when `plan` is over `--max-minutes` or a `--max-cost`.
    pub fn check_budgets(&self, plan: &Plan) -> Result<(), RenderError> {
        if let Some(max) = self.max_minutes {
            plan.check_budget(max)?;
        }
        for (provider, max) in &self.max_cost {
            // A misspelt vendor would otherwise cost nothing and pass.
            if !self.registry.contains(provider) {
                return Err(RenderError::UnknownProvider {
                    name: provider.clone(),
                    slide: None,
                    known: self.registry.names().map(String::from).collect(),
                });
            }
            plan.check_cost(provider, *max)?;
        }
        Ok(())
    }

    fn provider_context(&self, work_dir: &Path) -> ProviderContext {
        let mut ctx = ProviderContext::new(work_dir, self.deck.output.fps);
        ctx.parallel_renders = self.cpu.jobs();
        ctx.settings = self.settings.clone();
        ctx.speech_rate = self.speech_rate;
        ctx
    }

    fn build_provider(
        &self,
        names: &[String],
        ctx: &ProviderContext,
    ) -> Result<Arc<dyn AvatarProvider>, RenderError> {
        Ok(match names {
            // A slide-only deck never calls its provider.
            [] => Arc::new(MockClips::new(ctx.fps)),
            [one] => self.registry.build(one, ctx)?,
            many => {
                let mut built = HashMap::new();
                for name in many {
                    built.insert(name.clone(), self.registry.build(name, ctx)?);
                }
                Arc::new(Router::new(built))
            }
        })
    }

    /// Render the deck. Dropping the future cancels the run (see the
    /// [crate docs](crate)).
    pub async fn run(&self) -> Result<RenderOutcome, RenderError> {
        self.check_output()?;
        let deck = self.deck();
        let names = self.providers_of(&deck)?;
        // A slide picture or music that cannot be read fails the run
        // before any render is paid for.
        let images = {
            let deck = deck.clone();
            tokio::task::spawn_blocking(move || check_media(&deck))
                .await
                .map_err(|e| RenderError::Internal(format!("media check task: {e}")))?
        };
        if !images.is_empty() {
            return Err(RenderError::Deck(slidecast_core::DeckError::Invalid(
                images,
            )));
        }

        // The work folder: given, or a private one beside the output
        // (unique per job, so jobs never share file names).
        let (work_dir, _work_guard) = match &self.work_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| RenderError::io(dir, e))?;
                (dir.clone(), None)
            }
            None => {
                let parent = output_folder(&self.output);
                let tmp = tempfile::Builder::new()
                    .prefix(".slidecast-work-")
                    .tempdir_in(parent)
                    .or_else(|_| tempfile::tempdir())
                    .map_err(|e| RenderError::io(parent, e))?;
                (tmp.path().to_path_buf(), Some(tmp))
            }
        };
        let ctx = self.provider_context(&work_dir);
        let provider = self.build_provider(&names, &ctx)?;
        // Narrations longer than the avatar speaks per clip become parts.
        let (deck, unsplittable) =
            split_narration(deck, provider.as_ref(), self.speech_rate).await?;
        let mut builder = slidecast_media::MediaComposer::builder(deck.output.clone())
            .work_dir(&work_dir)
            .slides_of(&deck)
            .jobs(self.cpu.jobs());
        if let Some(style) = &self.captions.burn {
            // The same timing as the soft captions, slide by slide.
            let timer = slidecast_media::CaptionTimer(Arc::new(|slide, clips, speech| {
                captions::slide_cues(slide, clips, speech)
            }));
            builder = builder.burn_captions(style.clone(), timer);
        }
        let composer: Arc<dyn Composer> = Arc::new(builder.build().map_err(RenderError::Composer)?);

        // Never pay twice: finished clips come from the cache, renders an
        // interrupted run started are resumed from its journal. Mock clips
        // are instant and live in one process, so they skip both.
        let is_mock = names.iter().any(|n| n == "mock");
        let cache = if is_mock {
            None
        } else {
            self.store.open_cache()?
        };
        let journal = if is_mock || names.is_empty() {
            None
        } else {
            Some(self.open_journal(cache.clone()).await?)
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
        // What the vendor would refuse, before anything is created.
        self.vendor_check(&deck, provider.as_ref(), &sources, unsplittable)
            .await?;
        // Priced after verification: a cached or fetched clip that failed
        // it is rendered again, and that render is billed.
        self.check_budgets(&Plan::for_sources(&deck, &sources, self.rates()))?;
        let reused_clips = sources
            .values()
            .filter(|s| !matches!(s, ClipSource::Render))
            .count();
        if reused_clips > 0 {
            tracing::info!("{reused_clips} clip(s) come from the cache or an earlier run");
        }
        // Fetched clips go where a rerun finds them (the journal's folder).
        let clips_dir = match (&self.work_dir, &journal) {
            (Some(dir), _) => dir.clone(),
            (None, Some(j)) => j.work_dir(),
            (None, None) => work_dir.clone(),
        };

        let mut options = RunOptions::default();
        options.schedule = self.schedule;
        options.max_in_flight = self.max_renders;
        options.work_dir = clips_dir.clone();
        options.jobs = self.cpu.jobs();
        options.cpu_pool = self.cpu_pool.clone();

        // Remember every vendor handle while passing the events on.
        let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
        let handles: Arc<Mutex<Vec<(usize, RenderHandle)>>> = Arc::default();
        let tee_handles = handles.clone();
        let forward = self.events.clone();
        let tee = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if let SlideEvent::Initiated { slide, handle } = &p.event {
                    if let Ok(mut h) = tee_handles.lock() {
                        h.push((*slide, handle.clone()));
                    }
                }
                if let Some(f) = &forward {
                    let _ = f.send(p);
                }
            }
        });

        // Renders in flight shared with other runs on this machine (beside
        // the clip cache they end up in).
        let registry: Option<Arc<dyn RenderRegistry>> = match (&self.render_registry, &cache) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(c)) => Some(Arc::new(slidecast_store::FileRegistry::open(
                c.dir().join("inflight"),
            )?)),
            (None, None) => None,
        };
        let journal_kept = journal.is_some();
        let mut scheduler = slidecast_core::Scheduler::new(provider, composer)
            .options(options)
            .clip_sources(sources)
            .events(tx);
        {
            // Chapters (and the captions, unless turned off) go into the
            // video in the join's own pass, timed from the segments' exact
            // lengths.
            let slides = deck.slides.clone();
            let language = captions::language_code(&deck).to_string();
            let track = self.captions.track;
            scheduler = scheduler.finish_with(Arc::new(move |segments| {
                let options = slidecast_core::FinishOptions::default()
                    .chapters(chapters::chapters(segments, &slides));
                if !track {
                    return options;
                }
                let cues = captions::captions(segments, &slides)
                    .into_iter()
                    .map(|c| slidecast_core::SubtitleCue {
                        start: c.start,
                        end: c.end,
                        text: c.text,
                    })
                    .collect();
                options.subtitles(slidecast_core::SubtitleTrack {
                    language: language.clone(),
                    cues,
                })
            }));
        }
        if let Some(j) = journal {
            scheduler = scheduler.journal(Arc::new(j));
        }
        if let Some(r) = registry {
            scheduler = scheduler.registry(r);
        }
        let result = scheduler.run(&deck, &self.output).await;
        // The scheduler holds the event sender: drop it so the tee ends.
        drop(scheduler);
        let _ = tee.await;
        let report = result?;

        // The clips are in the cache (or the journal's clip folder) now; the
        // fetch folder of a finished run is not needed for any rerun.
        if journal_kept && self.work_dir.is_none() {
            let _ = std::fs::remove_dir_all(&clips_dir);
        }

        let video_length: std::time::Duration = report.segments.iter().map(|s| s.duration).sum();
        let captions = self.write_captions(&deck, &report).await?;
        let chapters = self.write_chapters(&deck, &report).await?;
        let timeline = match &self.timeline {
            Some(path) => {
                let subtitle = format!(
                    "{} schedule · provider {} · {} slide(s) · {:.1} s of video rendered in {:.1} s",
                    schedule_name(self.schedule),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(" + ")
                    },
                    deck.slides.len(),
                    video_length.as_secs_f64(),
                    report.elapsed.as_secs_f64()
                );
                let svg = timeline::svg(&report.spans, &deck.title, &subtitle);
                write_file(path, svg.into_bytes()).await?;
                Some(path.clone())
            }
            None => None,
        };
        let handles = handles.lock().map(|h| h.clone()).unwrap_or_default();
        Ok(RenderOutcome {
            report,
            video: self.output.clone(),
            captions,
            chapters,
            timeline,
            handles,
            reused_clips,
            providers: names,
            video_length,
        })
    }

    async fn open_journal(&self, cache: Option<ClipCache>) -> Result<Journal, RenderError> {
        let output = self.output.clone();
        let state_dir = self.store.state_dir_for(&self.output);
        // Opening waits on a cross-process lock: off the runtime's threads.
        let journal = tokio::task::spawn_blocking(move || Journal::open(&state_dir, &output))
            .await
            .map_err(|e| RenderError::Internal(format!("journal task: {e}")))??;
        Ok(match cache {
            Some(c) => journal.with_cache(c),
            None => journal,
        })
    }

    async fn write_chapters(
        &self,
        deck: &Deck,
        report: &RenderReport,
    ) -> Result<(PathBuf, PathBuf), RenderError> {
        let list = chapters::chapters(&report.segments, &deck.slides);
        let vtt = self.output.with_extension("chapters.vtt");
        let txt = self.output.with_extension("chapters.txt");
        write_file(&vtt, chapters::to_vtt(&list).into_bytes()).await?;
        write_file(&txt, chapters::to_list(&list).into_bytes()).await?;
        Ok((vtt, txt))
    }

    async fn write_captions(
        &self,
        deck: &Deck,
        report: &RenderReport,
    ) -> Result<Option<(PathBuf, PathBuf)>, RenderError> {
        let cues = captions::captions(&report.segments, &deck.slides);
        if !self.captions.files {
            return Ok(None);
        }
        let srt = self.output.with_extension("srt");
        let vtt = self.output.with_extension("vtt");
        write_file(&srt, captions::to_srt(&cues).into_bytes()).await?;
        write_file(&vtt, captions::to_vtt(&cues).into_bytes()).await?;
        Ok(Some((srt, vtt)))
    }

    /// Delete at the vendor every render the journal of this job holds for
    /// the deck's slides that has no fetched clip (the renders an
    /// interrupted run left), and make the journal forget each one deleted,
    /// so a rerun renders anew instead of resuming a deleted render.
    ///
    /// Call it after the run's future is dropped: it opens the journal, and
    /// waits while a run of the same output holds it.
    pub async fn cancel_remote(&self) -> Result<Vec<RemoteCancel>, RenderError> {
        let deck = self.deck();
        let names = self.providers_of(&deck)?;
        if names.iter().all(|n| n == "mock") {
            return Ok(Vec::new());
        }
        let journal = self.open_journal(None).await?;
        let snapshot = journal.snapshot();
        let work = tempfile::tempdir().map_err(|e| RenderError::io(std::env::temp_dir(), e))?;
        let ctx = self.provider_context(work.path());
        let mut built: HashMap<String, Arc<dyn AvatarProvider>> = HashMap::new();
        let mut seen = BTreeSet::new();
        let mut results = Vec::new();
        // The deck as the run split it, so the parts' renders are found too.
        let deck = match self.build_provider(&names, &ctx) {
            Ok(provider) => {
                match split_narration(deck.clone(), provider.as_ref(), self.speech_rate).await {
                    Ok((split, _)) => split,
                    Err(e) => {
                        tracing::warn!("cannot ask the vendor how narrations were split: {e}");
                        deck
                    }
                }
            }
            Err(_) => deck,
        };
        let requests = deck
            .presenter_slides()
            .flat_map(|slide| slide.clip_requests(&deck));
        for request in requests {
            let key = slidecast_store::ClipKey::for_request(&request);
            let Some(entry) = snapshot.entry(&key) else {
                continue;
            };
            if entry.clip.is_some() || !seen.insert(entry.handle.id.clone()) {
                continue;
            }
            let provider = match built.get(&entry.handle.provider) {
                Some(p) => p.clone(),
                None => {
                    let p = self.registry.build(&entry.handle.provider, &ctx)?;
                    built.insert(entry.handle.provider.clone(), p.clone());
                    p
                }
            };
            let cancel = provider.cancel(&entry.handle);
            let result = match tokio::time::timeout(std::time::Duration::from_secs(10), cancel)
                .await
            {
                Ok(Ok(())) => {
                    let forget =
                        slidecast_core::RenderJournal::discarded(&journal, &request, &entry.handle);
                    if let Err(e) = forget.await {
                        tracing::warn!("journal: cannot forget render {}: {e}", entry.handle.id);
                    }
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            };
            results.push(RemoteCancel {
                slide: request.slide,
                handle: entry.handle.clone(),
                result,
            });
        }
        Ok(results)
    }
}

/// Open every slide image of `deck` (its header and size) and every music
/// file (a moment of it decoded): one problem per file that cannot be used,
/// naming slide and field (a music file shared by several slides once, on
/// the first). Blocking; cheap: no picture is decoded.
pub fn check_media(deck: &Deck) -> Vec<slidecast_core::DeckProblem> {
    let problem = |slide: usize, field: &str, message: String| slidecast_core::DeckProblem {
        file: deck.source.clone(),
        slide: Some(slide),
        field: field.into(),
        message,
    };
    let mut problems: Vec<_> = deck
        .slides
        .iter()
        .filter_map(|slide| {
            let e = slidecast_media::image::image_size(&slide.image).err()?;
            Some(problem(
                slide.number,
                "image",
                format!("cannot be used as a slide picture: {e}"),
            ))
        })
        .collect();
    let mut checked: Vec<&Path> = Vec::new();
    for slide in &deck.slides {
        let Some(music) = slide.music.as_deref() else {
            continue;
        };
        if checked.contains(&music) {
            continue;
        }
        checked.push(music);
        if let Err(e) = slidecast_media::music::check(music) {
            problems.push(problem(
                slide.number,
                "music",
                format!("cannot be played as music: {e}"),
            ));
        }
    }
    problems
}

/// A vendor call made before any render (checks, speech limits), retried
/// like any vendor call: 5xx and 429 are passing weather.
async fn vendor_call<T, F, Fut>(
    provider: &dyn AvatarProvider,
    slide: usize,
    mut call: F,
) -> Result<T, RenderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, slidecast_core::ProviderError>>,
{
    let retry = slidecast_core::RetryPolicy::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(answer) => return Ok(answer),
            Err(e) if e.is_retryable() && attempt < retry.max_attempts => {
                let wait = match &e {
                    slidecast_core::ProviderError::RateLimited {
                        retry_after: Some(after),
                        ..
                    } => *after,
                    _ => retry.backoff(attempt),
                };
                tracing::debug!(attempt, ?wait, "asking the vendor before rendering: {e}");
                tokio::time::sleep(wait).await;
            }
            Err(source) => {
                return Err(RenderError::Run(slidecast_core::Error::Provider {
                    slide,
                    provider: provider.name().to_string(),
                    source,
                }))
            }
        }
    }
}

/// `deck` with every narration longer than its avatar speaks per clip
/// (as the provider tells) split into parts that fit, and a deck problem
/// for each narration that cannot be split (reported with the vendor's
/// other problems, before anything is paid for).
async fn split_narration(
    mut deck: Deck,
    provider: &dyn AvatarProvider,
    rate: slidecast_core::SpeechRate,
) -> Result<(Deck, Vec<slidecast_core::DeckProblem>), RenderError> {
    let mut limits = HashMap::new();
    for slide in deck.presenter_slides() {
        let Some(request) = slide.clip_requests(&deck).into_iter().next() else {
            continue;
        };
        let request = slidecast_core::ClipRequest {
            script: slide.script.clone(),
            ..request
        };
        let limit = vendor_call(provider, slide.number, || provider.speech_limit(&request)).await?;
        limits.insert(slide.number, limit);
    }
    let split = deck.split_narration(rate, |r| limits.get(&r.slide).copied().flatten());
    let problems = match split {
        Ok(()) => Vec::new(),
        Err(slidecast_core::DeckError::Invalid(problems)) => problems,
        Err(other) => return Err(other.into()),
    };
    for slide in deck.slides.iter().filter(|s| !s.parts.is_empty()) {
        tracing::info!(
            slide = slide.number,
            "the narration is longer than the avatar speaks per clip: rendered in {} parts",
            slide.parts.len()
        );
    }
    Ok((deck, problems))
}

/// The folder an output is written in.
fn output_folder(output: &Path) -> &Path {
    output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The schedule's name as front ends spell it.
pub fn schedule_name(schedule: Schedule) -> &'static str {
    match schedule {
        Schedule::Sequential => "sequential",
        Schedule::InOrder => "in-order",
        Schedule::Eager => "eager",
        _ => "other",
    }
}

/// Write a side output atomically, off the runtime.
async fn write_file(path: &Path, bytes: Vec<u8>) -> Result<(), RenderError> {
    let dest = path.to_path_buf();
    tokio::task::spawn_blocking(move || slidecast_core::atomic::write_atomic(&dest, &bytes))
        .await
        .map_err(|e| RenderError::Internal(format!("write task: {e}")))?
        .map_err(|e| RenderError::io(path, e))
}
