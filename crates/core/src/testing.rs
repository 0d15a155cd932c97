//! Public test doubles: a scripted [`MockProvider`] and [`MockComposer`].
//!
//! Both wait with `tokio::time`, so under a paused clock
//! (`#[tokio::test(start_paused = true)]`) a deck of hour-long renders runs
//! instantly and deterministically. Both count and record what they were
//! asked to do, and both can be told to fail in every way the scheduler must
//! handle. They touch the disk only where the contract says a file appears:
//! [`MockProvider`] writes a small clip file on fetch, [`MockComposer`] writes
//! the output file on finish (temporary file, then rename).
//!
//! ```
//! # use std::time::Duration;
//! # use slidecast_core::testing::{MockCall, MockProvider};
//! let provider = MockProvider::builder()
//!     .init_latency(Duration::from_secs(2))
//!     .render_latency(Duration::from_secs(60))
//!     .render_latency_for(3, Duration::from_secs(90))
//!     .transient(2, MockCall::Status, 2)
//!     .fail_render(4, 1)
//!     .max_in_flight(4)
//!     .build();
//! assert_eq!(provider.calls_to(MockCall::Initiate), 0);
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::composer::{
    ClipInfo, ComposeError, Composer, FinishOptions, PreparedSlide, SlideSegment,
};
use crate::deck::{
    Corner, Deck, Layout, Output, Placement, Presenter, Quality, Rgb, Shape, Slide, Transition,
};
use crate::provider::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus,
};

/// Lock a mutex, carrying on with the data if a panicking test poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The length a mock clip of `script` has: the default
/// [`SpeechRate`](crate::speech::SpeechRate), at least one second.
pub fn mock_clip_duration(script: &str) -> Duration {
    crate::speech::SpeechRate::default()
        .duration(script)
        .max(Duration::from_secs(1))
}

/// The provider calls a [`MockProvider`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockCall {
    /// [`AvatarProvider::initiate`].
    Initiate,
    /// [`AvatarProvider::start`].
    Start,
    /// [`AvatarProvider::status`].
    Status,
    /// [`AvatarProvider::fetch`].
    Fetch,
    /// [`AvatarProvider::cancel`].
    Cancel,
}

/// One call the mock provider received.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// When (tokio time, so virtual under a paused clock).
    pub at: Instant,
    /// The slide of the render.
    pub slide: usize,
    /// Which call.
    pub call: MockCall,
    /// The render's id (empty for an `initiate` that failed).
    pub id: String,
}

/// Builds a [`MockProvider`].
#[derive(Debug, Clone)]
pub struct MockProviderBuilder {
    init: Duration,
    init_for: HashMap<usize, Duration>,
    render: Duration,
    render_for: HashMap<usize, Duration>,
    fetch: Duration,
    limits: ProviderLimits,
    report_eta: bool,
    errors: HashMap<(usize, MockCall), VecDeque<ProviderError>>,
    permanent: HashMap<(usize, MockCall), PermanentKind>,
    failed_renders: HashMap<usize, u32>,
    rejected_renders: HashMap<usize, String>,
    truncated_fetches: HashMap<usize, u32>,
}

impl Default for MockProviderBuilder {
    fn default() -> Self {
        MockProviderBuilder {
            init: Duration::from_secs(1),
            init_for: HashMap::new(),
            render: Duration::from_secs(60),
            render_for: HashMap::new(),
            fetch: Duration::ZERO,
            limits: ProviderLimits::default(),
            report_eta: true,
            errors: HashMap::new(),
            permanent: HashMap::new(),
            failed_renders: HashMap::new(),
            rejected_renders: HashMap::new(),
            truncated_fetches: HashMap::new(),
        }
    }
}

impl MockProviderBuilder {
    /// Latency of every `initiate` (create + start request). Default 1 s.
    pub fn init_latency(mut self, d: Duration) -> Self {
        self.init = d;
        self
    }

    /// Latency of `initiate` for one slide.
    pub fn init_latency_for(mut self, slide: usize, d: Duration) -> Self {
        self.init_for.insert(slide, d);
        self
    }

    /// Render time, counted from `start`. Default 60 s.
    pub fn render_latency(mut self, d: Duration) -> Self {
        self.render = d;
        self
    }

    /// Render time for one slide.
    pub fn render_latency_for(mut self, slide: usize, d: Duration) -> Self {
        self.render_for.insert(slide, d);
        self
    }

    /// Latency of every `fetch`. Default zero.
    pub fn fetch_latency(mut self, d: Duration) -> Self {
        self.fetch = d;
        self
    }

    /// The limits the provider reports.
    pub fn limits(mut self, limits: ProviderLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Renders in flight the provider reports it can bear.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.limits.max_in_flight = n;
        self
    }

    /// Poll interval the provider suggests.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.limits.poll_interval = d;
        self
    }

    /// Whether `status` reports the time left (default true). Without it the
    /// scheduler falls back to the poll interval.
    pub fn report_eta(mut self, yes: bool) -> Self {
        self.report_eta = yes;
        self
    }

    /// The next `times` calls of `call` for `slide` fail transiently.
    pub fn transient(mut self, slide: usize, call: MockCall, times: u32) -> Self {
        let queue = self.errors.entry((slide, call)).or_default();
        for i in 0..times {
            queue.push_back(ProviderError::transient(format!(
                "mock: simulated server error {} of {times}",
                i + 1
            )));
        }
        self
    }

    /// The next `times` calls of `call` for `slide` are rate limited.
    pub fn rate_limited(
        mut self,
        slide: usize,
        call: MockCall,
        times: u32,
        retry_after: Option<Duration>,
    ) -> Self {
        let queue = self.errors.entry((slide, call)).or_default();
        for _ in 0..times {
            queue.push_back(ProviderError::RateLimited {
                retry_after,
                message: "mock: too many requests".into(),
            });
        }
        self
    }

    /// Every call of `call` for `slide` fails permanently.
    pub fn permanent(mut self, slide: usize, call: MockCall, kind: PermanentKind) -> Self {
        self.permanent.insert((slide, call), kind);
        self
    }

    /// The first `times` renders of `slide` end `Failed` instead of `Ready`.
    pub fn fail_render(mut self, slide: usize, times: u32) -> Self {
        self.failed_renders.insert(slide, times);
        self
    }

    /// Every render of `slide` ends `Rejected` with `reason`, as a vendor
    /// refuses a request it cannot render (too long, unknown voice).
    pub fn reject_render(mut self, slide: usize, reason: impl Into<String>) -> Self {
        self.rejected_renders.insert(slide, reason.into());
        self
    }

    /// The first `times` fetches of `slide` write an empty (truncated) file.
    pub fn truncate_fetch(mut self, slide: usize, times: u32) -> Self {
        self.truncated_fetches.insert(slide, times);
        self
    }

    /// The provider.
    pub fn build(self) -> MockProvider {
        MockProvider {
            state: Mutex::new(ProviderState {
                errors: self.errors.clone(),
                failed_renders: self.failed_renders.clone(),
                truncated_fetches: self.truncated_fetches.clone(),
                renders: HashMap::new(),
                next_id: 0,
                calls: Vec::new(),
                in_flight_max: 0,
                lost_creates: HashMap::new(),
            }),
            config: self,
            counters: Default::default(),
        }
    }
}

#[derive(Debug)]
struct MockRender {
    slide: usize,
    script: String,
    render: Duration,
    started: Option<Instant>,
    fails: bool,
    rejected: Option<String>,
    cancelled: bool,
}

impl MockRender {
    fn in_flight(&self, now: Instant) -> bool {
        !self.cancelled && self.started.map_or(true, |s| now < s + self.render)
    }
}

#[derive(Debug)]
struct ProviderState {
    errors: HashMap<(usize, MockCall), VecDeque<ProviderError>>,
    failed_renders: HashMap<usize, u32>,
    truncated_fetches: HashMap<usize, u32>,
    renders: HashMap<String, MockRender>,
    next_id: u64,
    calls: Vec<CallRecord>,
    in_flight_max: usize,
    /// Renders whose create answer was lost, by the request's JSON.
    lost_creates: HashMap<String, String>,
}

impl ProviderState {
    fn note_in_flight(&mut self, now: Instant) {
        let n = self.renders.values().filter(|r| r.in_flight(now)).count();
        self.in_flight_max = self.in_flight_max.max(n);
    }
}

#[derive(Debug, Default)]
struct Counters {
    initiate: AtomicUsize,
    start: AtomicUsize,
    status: AtomicUsize,
    fetch: AtomicUsize,
    cancel: AtomicUsize,
}

/// A scripted avatar vendor: renders take a configured time from `start`,
/// calls fail as configured, and everything is counted.
#[derive(Debug)]
pub struct MockProvider {
    config: MockProviderBuilder,
    state: Mutex<ProviderState>,
    counters: Counters,
}

impl Default for MockProvider {
    fn default() -> Self {
        MockProvider::new()
    }
}

impl MockProvider {
    /// Defaults: 1 s initiate, 60 s render, instant fetch, default limits.
    pub fn new() -> Self {
        MockProviderBuilder::default().build()
    }

    /// A builder with the defaults of [`MockProvider::new`].
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }

    /// How many times `call` was made (failed calls included).
    pub fn calls_to(&self, call: MockCall) -> usize {
        let c = &self.counters;
        match call {
            MockCall::Initiate => &c.initiate,
            MockCall::Start => &c.start,
            MockCall::Status => &c.status,
            MockCall::Fetch => &c.fetch,
            MockCall::Cancel => &c.cancel,
        }
        .load(Ordering::SeqCst)
    }

    /// Every call so far, in the order received.
    pub fn calls(&self) -> Vec<CallRecord> {
        lock(&self.state).calls.clone()
    }

    /// The most renders that were initiated and not yet finished at once.
    pub fn max_in_flight_seen(&self) -> usize {
        lock(&self.state).in_flight_max
    }

    /// When each successful render of `slide` finished (or will), by id.
    pub fn render_end(&self, id: &str) -> Option<Instant> {
        let state = lock(&self.state);
        let r = state.renders.get(id)?;
        r.started.map(|s| s + r.render)
    }

    /// Register a render as if an earlier run had initiated it (and started
    /// it, when `started`), for resume tests. Returns its handle.
    pub fn existing_render(&self, request: &ClipRequest, started: bool) -> RenderHandle {
        let mut state = lock(&self.state);
        let id = self.new_render(&mut state, request);
        if started {
            if let Some(r) = state.renders.get_mut(&id) {
                r.started = Some(Instant::now());
            }
        }
        RenderHandle::new("mock", id)
    }

    /// Register a render as if another process had created it and died
    /// before the answer came back: [`AvatarProvider::find_lost_create`]
    /// finds it (not started). Returns its handle.
    pub fn lost_create(&self, request: &ClipRequest) -> RenderHandle {
        let handle = self.existing_render(request, false);
        let key = serde_json::to_string(request).unwrap_or_default();
        lock(&self.state)
            .lost_creates
            .insert(key, handle.id.clone());
        handle
    }

    fn new_render(&self, state: &mut ProviderState, request: &ClipRequest) -> String {
        state.next_id += 1;
        let id = format!("mock-{}-{}", request.slide, state.next_id);
        let fails = match state.failed_renders.get_mut(&request.slide) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        let render = self
            .config
            .render_for
            .get(&request.slide)
            .copied()
            .unwrap_or(self.config.render);
        state.renders.insert(
            id.clone(),
            MockRender {
                slide: request.slide,
                script: request.script.clone(),
                render,
                started: None,
                fails,
                rejected: self.config.rejected_renders.get(&request.slide).cloned(),
                cancelled: false,
            },
        );
        id
    }

    /// Count and log the call, then return the injected error, if any.
    fn enter(&self, call: MockCall, slide: usize, id: &str) -> Result<(), ProviderError> {
        let counter = match call {
            MockCall::Initiate => &self.counters.initiate,
            MockCall::Start => &self.counters.start,
            MockCall::Status => &self.counters.status,
            MockCall::Fetch => &self.counters.fetch,
            MockCall::Cancel => &self.counters.cancel,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        state.calls.push(CallRecord {
            at: Instant::now(),
            slide,
            call,
            id: id.to_string(),
        });
        if let Some(kind) = self.config.permanent.get(&(slide, call)) {
            return Err(ProviderError::permanent(
                *kind,
                format!("mock: simulated permanent failure of {call:?}"),
            ));
        }
        match state
            .errors
            .get_mut(&(slide, call))
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn slide_of(&self, handle: &RenderHandle) -> Result<usize, ProviderError> {
        lock(&self.state)
            .renders
            .get(&handle.id)
            .map(|r| r.slide)
            .ok_or_else(|| {
                ProviderError::permanent(
                    PermanentKind::NotFound,
                    format!("mock: no render {}", handle.id),
                )
            })
    }
}

#[async_trait]
impl AvatarProvider for MockProvider {
    fn name(&self) -> &str {
        "mock"
    }

    fn limits(&self) -> ProviderLimits {
        self.config.limits.clone()
    }

    async fn find_lost_create(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<(RenderHandle, bool)>, ProviderError> {
        let key = serde_json::to_string(request).unwrap_or_default();
        Ok(lock(&self.state)
            .lost_creates
            .get(&key)
            .map(|id| (RenderHandle::new("mock", id.clone()), false)))
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        self.enter(MockCall::Initiate, request.slide, "")?;
        let latency = self
            .config
            .init_for
            .get(&request.slide)
            .copied()
            .unwrap_or(self.config.init);
        tokio::time::sleep(latency).await;
        let mut state = lock(&self.state);
        let id = self.new_render(&mut state, request);
        state.note_in_flight(Instant::now());
        Ok(RenderHandle::new("mock", id))
    }

    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let slide = self.slide_of(handle)?;
        self.enter(MockCall::Start, slide, &handle.id)?;
        let now = Instant::now();
        let mut state = lock(&self.state);
        if let Some(r) = state.renders.get_mut(&handle.id) {
            r.started.get_or_insert(now);
        }
        state.note_in_flight(now);
        Ok(())
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let slide = self.slide_of(handle)?;
        self.enter(MockCall::Status, slide, &handle.id)?;
        let now = Instant::now();
        let state = lock(&self.state);
        let Some(r) = state.renders.get(&handle.id) else {
            return Err(ProviderError::permanent(
                PermanentKind::NotFound,
                "mock: render gone",
            ));
        };
        if r.cancelled {
            return Ok(RenderStatus::Failed {
                reason: "cancelled".into(),
            });
        }
        let Some(started) = r.started else {
            return Ok(RenderStatus::Queued);
        };
        let elapsed = now.saturating_duration_since(started);
        if elapsed >= r.render {
            if let Some(reason) = &r.rejected {
                return Ok(RenderStatus::Rejected {
                    reason: reason.clone(),
                });
            }
            return Ok(if r.fails {
                RenderStatus::Failed {
                    reason: "mock: simulated render failure".into(),
                }
            } else {
                RenderStatus::Ready
            });
        }
        let progress = if r.render.is_zero() {
            100.0
        } else {
            (elapsed.as_secs_f64() / r.render.as_secs_f64() * 100.0) as f32
        };
        Ok(RenderStatus::Rendering {
            progress: Some(progress),
            eta: self.config.report_eta.then(|| r.render - elapsed),
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let slide = self.slide_of(handle)?;
        self.enter(MockCall::Fetch, slide, &handle.id)?;
        tokio::time::sleep(self.config.fetch).await;
        let (script, truncated) = {
            let mut state = lock(&self.state);
            let truncated = match state.truncated_fetches.get_mut(&slide) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            };
            let script = state
                .renders
                .get(&handle.id)
                .map(|r| r.script.clone())
                .unwrap_or_default();
            (script, truncated)
        };
        let body = if truncated {
            String::new()
        } else {
            format!(
                "slidecast mock clip\nslide={slide}\nduration={}\n",
                mock_clip_duration(&script).as_secs_f64()
            )
        };
        // A few bytes: writing them synchronously is cheaper than a blocking
        // task and keeps the paused clock deterministic.
        std::fs::write(dest, body).map_err(|e| {
            ProviderError::permanent(
                PermanentKind::Local,
                format!("mock: cannot write {}: {e}", dest.display()),
            )
        })
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let slide = self.slide_of(handle)?;
        self.enter(MockCall::Cancel, slide, &handle.id)?;
        if let Some(r) = lock(&self.state).renders.get_mut(&handle.id) {
            r.cancelled = true;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------

/// Builds a [`MockComposer`].
#[derive(Debug, Clone, Default)]
pub struct MockComposerBuilder {
    prep: Duration,
    prep_for: HashMap<usize, Duration>,
    compose: Duration,
    compose_for: HashMap<usize, Duration>,
    finish: Duration,
    fail_prepare: HashSet<usize>,
    fail_compose: HashSet<usize>,
}

impl MockComposerBuilder {
    /// Time of every `prepare`. Default zero.
    pub fn prep_latency(mut self, d: Duration) -> Self {
        self.prep = d;
        self
    }

    /// Time of `prepare` for one slide.
    pub fn prep_latency_for(mut self, slide: usize, d: Duration) -> Self {
        self.prep_for.insert(slide, d);
        self
    }

    /// Time of every `compose`. Default zero.
    pub fn compose_latency(mut self, d: Duration) -> Self {
        self.compose = d;
        self
    }

    /// Time of `compose` for one slide.
    pub fn compose_latency_for(mut self, slide: usize, d: Duration) -> Self {
        self.compose_for.insert(slide, d);
        self
    }

    /// Time of `finish` before the output is written. Default zero.
    pub fn finish_latency(mut self, d: Duration) -> Self {
        self.finish = d;
        self
    }

    /// `prepare` of `slide` fails with a bad-input error.
    pub fn fail_prepare(mut self, slide: usize) -> Self {
        self.fail_prepare.insert(slide);
        self
    }

    /// `compose` of `slide` fails with a media error.
    pub fn fail_compose(mut self, slide: usize) -> Self {
        self.fail_compose.insert(slide);
        self
    }

    /// The composer.
    pub fn build(self) -> MockComposer {
        MockComposer {
            config: self,
            state: Mutex::new(ComposerState::default()),
        }
    }
}

#[derive(Debug, Default)]
struct ComposerState {
    prepared: Vec<usize>,
    compose_order: Vec<usize>,
    compose_clips: HashMap<usize, Vec<PathBuf>>,
    joined: Vec<usize>,
    finish_options: Option<FinishOptions>,
    composing: usize,
    composing_max: usize,
    busy: usize,
    busy_max: usize,
}

/// Tracks one running prepare/compose; undone on drop, so a cancelled call
/// does not leave the counters high.
struct Busy<'a> {
    state: &'a Mutex<ComposerState>,
    compose: bool,
}

impl<'a> Busy<'a> {
    fn enter(state: &'a Mutex<ComposerState>, compose: bool) -> Self {
        let mut s = lock(state);
        s.busy += 1;
        s.busy_max = s.busy_max.max(s.busy);
        if compose {
            s.composing += 1;
            s.composing_max = s.composing_max.max(s.composing);
        }
        Busy { state, compose }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut s = lock(self.state);
        s.busy -= 1;
        if self.compose {
            s.composing -= 1;
        }
    }
}

/// What [`MockComposer::prepare`] hands to `compose`.
#[derive(Debug, Clone, PartialEq)]
pub struct MockPrepared {
    /// The slide prepared.
    pub slide: usize,
}

/// A composer that takes configured times and records what it did. Segments
/// are not written (their paths are names only); `finish` writes a small
/// text output listing them, through a temporary file.
#[derive(Debug)]
pub struct MockComposer {
    config: MockComposerBuilder,
    state: Mutex<ComposerState>,
}

impl Default for MockComposer {
    fn default() -> Self {
        MockComposer::new()
    }
}

impl MockComposer {
    /// A composer that takes no time.
    pub fn new() -> Self {
        MockComposerBuilder::default().build()
    }

    /// A builder with no latency and no failures.
    pub fn builder() -> MockComposerBuilder {
        MockComposerBuilder::default()
    }

    /// Slides in the order their `compose` began.
    pub fn compose_order(&self) -> Vec<usize> {
        lock(&self.state).compose_order.clone()
    }

    /// Slides in the order their `prepare` finished.
    pub fn prepared(&self) -> Vec<usize> {
        lock(&self.state).prepared.clone()
    }

    /// The clips each slide was composed with (empty for slide-only).
    pub fn compose_clips(&self, slide: usize) -> Option<Vec<PathBuf>> {
        lock(&self.state).compose_clips.get(&slide).cloned()
    }

    /// Slide numbers of the segments given to `finish`, in order.
    pub fn joined(&self) -> Vec<usize> {
        lock(&self.state).joined.clone()
    }

    /// What `finish` was asked to add to the output.
    pub fn finish_options(&self) -> Option<FinishOptions> {
        lock(&self.state).finish_options.clone()
    }

    /// The most `compose` calls that ran at once.
    pub fn max_concurrent_compose(&self) -> usize {
        lock(&self.state).composing_max
    }

    /// The most `prepare` + `compose` calls that ran at once.
    pub fn max_concurrent_work(&self) -> usize {
        lock(&self.state).busy_max
    }
}

fn parse_mock_clip(text: &str) -> Option<Duration> {
    let secs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("duration="))?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[async_trait]
impl Composer for MockComposer {
    async fn prepare(&self, slide: &Slide) -> Result<PreparedSlide, ComposeError> {
        let n = slide.number;
        {
            let _busy = Busy::enter(&self.state, false);
            let d = self
                .config
                .prep_for
                .get(&n)
                .copied()
                .unwrap_or(self.config.prep);
            tokio::time::sleep(d).await;
        }
        if self.config.fail_prepare.contains(&n) {
            return Err(ComposeError::bad_input(
                &slide.image,
                "mock: simulated unreadable image",
            ));
        }
        lock(&self.state).prepared.push(n);
        Ok(PreparedSlide::new(n, MockPrepared { slide: n }))
    }

    async fn verify_clip(&self, clip: &Path) -> Result<ClipInfo, ComposeError> {
        let text = std::fs::read_to_string(clip).map_err(|e| ComposeError::io(clip, e))?;
        if text.is_empty() {
            return Err(ComposeError::bad_input(
                clip,
                "empty clip (truncated download?)",
            ));
        }
        Ok(ClipInfo {
            duration: parse_mock_clip(&text).unwrap_or(Duration::from_secs(1)),
            width: 640,
            height: 360,
            has_audio: true,
        })
    }

    async fn compose(
        &self,
        slide: &Slide,
        prepared: PreparedSlide,
        clips: &[PathBuf],
    ) -> Result<SlideSegment, ComposeError> {
        let n = slide.number;
        if prepared.payload::<MockPrepared>() != Some(&MockPrepared { slide: n }) {
            return Err(ComposeError::Media(format!(
                "mock: slide {n} was given the prepared slide {}",
                prepared.slide
            )));
        }
        {
            let mut s = lock(&self.state);
            s.compose_order.push(n);
            s.compose_clips.insert(n, clips.to_vec());
        }
        {
            let _busy = Busy::enter(&self.state, true);
            let d = self
                .config
                .compose_for
                .get(&n)
                .copied()
                .unwrap_or(self.config.compose);
            tokio::time::sleep(d).await;
        }
        if self.config.fail_compose.contains(&n) {
            return Err(ComposeError::Media(
                "mock: simulated encoder failure".into(),
            ));
        }
        let mut clip_starts = Vec::with_capacity(clips.len());
        let mut duration = Duration::ZERO;
        for path in clips {
            clip_starts.push(duration);
            duration += std::fs::read_to_string(path)
                .ok()
                .and_then(|t| parse_mock_clip(&t))
                .unwrap_or(Duration::from_secs(1));
        }
        if clips.is_empty() {
            duration = slide.duration.unwrap_or(Duration::from_secs(1));
        }
        Ok(SlideSegment {
            slide: n,
            path: PathBuf::from(format!("segment-{n:03}.mock")),
            duration,
            clip_starts,
            speech: Vec::new(),
        })
    }

    async fn finish(
        &self,
        segments: &[SlideSegment],
        output: &Path,
        options: &FinishOptions,
    ) -> Result<(), ComposeError> {
        tokio::time::sleep(self.config.finish).await;
        {
            let mut state = lock(&self.state);
            state.joined = segments.iter().map(|s| s.slide).collect();
            state.finish_options = Some(options.clone());
        }
        let mut body = String::from("slidecast mock output\n");
        for s in segments {
            body.push_str(&format!(
                "slide={} duration={}\n",
                s.slide,
                s.duration.as_secs_f64()
            ));
        }
        crate::atomic::write_atomic(output, body.as_bytes())
            .map_err(|e| ComposeError::io(output, e))
    }
}

/// A deck of `slides` narrated slides for the mocks: distinct scripts (so
/// no two share a render), mock provider, 1920x1080 at 25 fps, no files
/// behind the image paths.
pub fn mock_deck(slides: usize) -> Deck {
    let presenter = Presenter {
        provider: "mock".into(),
        avatar: "default".into(),
        voice: None,
        voice_provider: None,
        language: None,
        layout: Layout::PictureInPicture(Placement::Corner {
            corner: Corner::BottomRight,
            margin: 40,
            scale: 0.3,
        }),
        shape: Shape::Rectangle,
        avatar_background: Rgb::GREEN,
    };
    Deck {
        source: PathBuf::from("simulated.toml"),
        title: "simulation".into(),
        output: Output {
            width: 1920,
            height: 1080,
            fps: 25,
            background: Rgb::BLACK,
            quality: Quality::default(),
            loudness: Some(crate::deck::DEFAULT_LOUDNESS),
            music_volume: crate::deck::DEFAULT_MUSIC_VOLUME,
        },
        slides: (1..=slides)
            .map(|n| Slide {
                number: n,
                image: PathBuf::from(format!("slide-{n:03}.png")),
                // Distinct scripts: identical ones would share a render.
                script: format!("Narration of slide {n}."),
                presenter: Some(presenter.clone()),
                duration: None,
                transition: Transition::Cut,
                parts: Vec::new(),
                music: None,
                title: None,
            })
            .collect(),
    }
}
