//! The scheduler on the mocks under a paused clock: every assertion about
//! time is about virtual time, so these are exact and deterministic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slidecast_core::schedule::Stage;
use slidecast_core::testing::{MockCall, MockComposer, MockProvider};
use slidecast_core::{
    Claim, ClaimToken, ClipRequest, ClipSource, Deck, Error, PermanentKind, Progress, RenderHandle,
    RenderJournal, RenderRegistry, RetryPolicy, RunOptions, Schedule, Scheduler, SlideEvent,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `n` narrated slides with distinct scripts (no files behind them).
/// The one clip request of the slide at `index` (0-based) of `deck`.
fn request(deck: &Deck, index: usize) -> ClipRequest {
    let mut requests = deck.slides[index].clip_requests(deck);
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

fn deck(n: usize) -> Deck {
    slidecast_core::testing::mock_deck(n)
}

struct Run {
    dir: tempfile::TempDir,
    provider: Arc<MockProvider>,
    composer: Arc<MockComposer>,
    options: RunOptions,
}

impl Run {
    fn new(provider: MockProvider, composer: MockComposer, schedule: Schedule) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let mut options = RunOptions::default();
        options.schedule = schedule;
        options.jobs = 1;
        options.max_in_flight = None;
        options.retry = RetryPolicy::default();
        options.work_dir = dir.path().join("clips");
        Run {
            dir,
            provider: Arc::new(provider),
            composer: Arc::new(composer),
            options,
        }
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("out.mock")
    }

    fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.provider.clone(), self.composer.clone()).options(self.options.clone())
    }

    /// Run `deck` with `scheduler` (from [`Run::scheduler`], maybe set up
    /// further) to success, with every progress event it sent, in order.
    async fn run_with_events(
        &self,
        scheduler: Scheduler,
        deck: &Deck,
    ) -> (slidecast_core::RenderReport, Vec<Progress>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let report = scheduler
            .events(tx)
            .run(deck, &self.output())
            .await
            .unwrap();
        let events = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        (report, events)
    }
}

/// How many `call`s of `slide` are among `calls`.
fn calls_of(calls: &[slidecast_core::testing::CallRecord], slide: usize, call: MockCall) -> usize {
    calls
        .iter()
        .filter(|c| c.slide == slide && c.call == call)
        .count()
}

fn starts_before(run: &Run, call: MockCall) -> Vec<Instant> {
    run.provider
        .calls()
        .into_iter()
        .filter(|c| c.call == call)
        .map(|c| c.at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn all_renders_are_initiated_before_the_first_finishes() {
    for schedule in [Schedule::InOrder, Schedule::Eager] {
        let run = Run::new(
            MockProvider::builder()
                .init_latency(s(3))
                .render_latency(s(60))
                .build(),
            MockComposer::builder()
                .prep_latency(s(5))
                .compose_latency(s(5))
                .build(),
            schedule,
        );
        run.scheduler().run(&deck(6), &run.output()).await.unwrap();
        let starts = starts_before(&run, MockCall::Start);
        let first_fetch = starts_before(&run, MockCall::Fetch)[0];
        assert_eq!(starts.len(), 6);
        assert!(starts.iter().all(|t| *t < first_fetch), "{schedule:?}");
        // Initiated in deck order.
        let order: Vec<usize> = run
            .provider
            .calls()
            .into_iter()
            .filter(|c| c.call == MockCall::Initiate)
            .map(|c| c.slide)
            .collect();
        assert_eq!(order, vec![1, 2, 3, 4, 5, 6]);
        assert!(run.output().exists());
    }
}

#[tokio::test(start_paused = true)]
async fn the_render_cap_is_never_exceeded() {
    // The provider's own limit.
    let run = Run::new(
        MockProvider::builder()
            .max_in_flight(3)
            .render_latency(s(30))
            .render_latency_for(2, s(90))
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let report = run.scheduler().run(&deck(10), &run.output()).await.unwrap();
    assert_eq!(run.provider.max_in_flight_seen(), 3);
    assert_eq!(report.segments.len(), 10);

    // The run's cap, below the provider's.
    let mut run = Run::new(MockProvider::new(), MockComposer::new(), Schedule::InOrder);
    run.options.max_in_flight = Some(2);
    run.scheduler().run(&deck(7), &run.output()).await.unwrap();
    assert_eq!(run.provider.max_in_flight_seen(), 2);
}

#[tokio::test(start_paused = true)]
async fn eager_composes_in_ready_order_and_joins_in_deck_order() {
    let mut provider = MockProvider::builder().init_latency(s(1));
    for slide in 1..=5 {
        // Slide 1 is the slowest, slide 5 the fastest.
        provider = provider.render_latency_for(slide, s(100 - 10 * slide as u64));
    }
    let mut run = Run::new(
        provider.build(),
        MockComposer::builder()
            .prep_latency(s(2))
            .compose_latency(s(3))
            .build(),
        Schedule::Eager,
    );
    run.options.jobs = 2;
    let mut d = deck(6);
    d.slides[5].presenter = None;
    d.slides[5].duration = Some(s(4));
    let report = run.scheduler().run(&d, &run.output()).await.unwrap();
    // The slide-only slide composes first, while the vendor renders.
    assert_eq!(run.composer.compose_order(), vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(run.composer.joined(), vec![1, 2, 3, 4, 5, 6]);
    assert!(run.composer.max_concurrent_work() <= 2);
    let numbers: Vec<usize> = report.segments.iter().map(|s| s.slide).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(report.segments[5].duration, s(4));
    // The last compose starts when slide 1's clip is ready: 1 + 90.
    let compose_1 = report
        .spans
        .iter()
        .find(|sp| sp.slide == Some(1) && sp.stage == Stage::Compose)
        .unwrap();
    assert_eq!(compose_1.start, s(91));
    assert_eq!(report.elapsed, s(94));

    // In-order goes slide by slide whatever the render times.
    let mut provider = MockProvider::builder();
    for slide in 1..=4 {
        provider = provider.render_latency_for(slide, s(50 - 10 * slide as u64));
    }
    let run = Run::new(provider.build(), MockComposer::new(), Schedule::InOrder);
    run.scheduler().run(&deck(4), &run.output()).await.unwrap();
    assert_eq!(run.composer.compose_order(), vec![1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff() {
    let mut run = Run::new(
        MockProvider::builder()
            .init_latency(s(1))
            .render_latency(s(10))
            .transient(1, MockCall::Initiate, 3)
            .build(),
        MockComposer::new(),
        Schedule::Sequential,
    );
    run.options.retry.max_attempts = 4;
    run.options.retry.base_delay = s(2);
    run.options.retry.max_delay = s(5);
    run.options.retry.resubmits = 0;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let report = run
        .scheduler()
        .events(tx)
        .run(&deck(1), &run.output())
        .await
        .unwrap();
    assert_eq!(run.provider.calls_to(MockCall::Initiate), 4);
    let mut delays = Vec::new();
    while let Ok(p) = rx.try_recv() {
        if let SlideEvent::Retrying { slide, delay, .. } = p.event {
            assert_eq!(slide, 1);
            delays.push(delay);
        }
    }
    // Backoff 2, 4, then capped at 5, each with jitter in its upper half.
    assert_eq!(delays.len(), 3);
    for (delay, full) in delays.iter().zip([s(2), s(4), s(5)]) {
        assert!(
            *delay >= full / 2 && *delay <= full,
            "{delay:?} for {full:?}"
        );
    }
    let waited: Duration = delays.iter().sum();
    assert_eq!(report.elapsed, waited + s(11));

    // One more failure than attempts: the error names the slide and cause.
    let mut run = Run::new(
        MockProvider::builder()
            .transient(2, MockCall::Fetch, 9)
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    run.options.retry.max_attempts = 3;
    let err = run
        .scheduler()
        .run(&deck(3), &run.output())
        .await
        .unwrap_err();
    assert_eq!(err.slide(), Some(2));
    assert!(err.to_string().contains("simulated server error"), "{err}");
    assert_eq!(
        run.provider
            .calls()
            .iter()
            .filter(|c| c.call == MockCall::Fetch && c.slide == 2)
            .count(),
        3
    );
    assert!(!run.output().exists());
}

#[tokio::test(start_paused = true)]
async fn rate_limits_wait_exactly_as_long_as_the_vendor_asks() {
    let run = Run::new(
        MockProvider::builder()
            .init_latency(s(1))
            .render_latency(s(60))
            .rate_limited(1, MockCall::Initiate, 2, Some(s(7)))
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let report = run.scheduler().run(&deck(1), &run.output()).await.unwrap();
    // 2 x 7 s waiting, then 1 s initiate and 60 s render.
    assert_eq!(report.elapsed, s(75));
    assert_eq!(run.provider.calls_to(MockCall::Initiate), 3);
}

#[tokio::test(start_paused = true)]
async fn failed_renders_are_resubmitted_then_reported() {
    let journal = Arc::new(RecordingJournal::default());
    let run = Run::new(
        MockProvider::builder()
            .render_latency(s(20))
            .fail_render(2, 1)
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    run.scheduler()
        .journal(journal.clone())
        .events(tx)
        .run(&deck(3), &run.output())
        .await
        .unwrap();
    let initiates_2 = run
        .provider
        .calls()
        .iter()
        .filter(|c| c.call == MockCall::Initiate && c.slide == 2)
        .count();
    assert_eq!(initiates_2, 2);
    let log = journal.entries();
    let slide2: Vec<&str> = log
        .iter()
        .filter(|e| e.1 == 2)
        .map(|e| e.0.as_str())
        .collect();
    assert_eq!(
        slide2,
        [
            "initiated",
            "started",
            "discarded",
            "initiated",
            "started",
            "fetched"
        ]
    );
    let mut resubmitted = false;
    while let Ok(p) = rx.try_recv() {
        resubmitted |= matches!(p.event, SlideEvent::Resubmitted { slide: 2, .. });
    }
    assert!(resubmitted);

    // Failing every time: the error names the slide and the vendor's id.
    let run = Run::new(
        MockProvider::builder().fail_render(3, 5).build(),
        MockComposer::new(),
        Schedule::InOrder,
    );
    let err = run
        .scheduler()
        .run(&deck(3), &run.output())
        .await
        .unwrap_err();
    match &err {
        Error::RenderFailed {
            slide,
            attempts,
            render_id,
            ..
        } => {
            assert_eq!((*slide, *attempts), (3, 2));
            assert!(render_id.starts_with("mock-3-"));
        }
        other => panic!("expected RenderFailed, got {other}"),
    }
    assert!(err.to_string().starts_with("slide 3: "), "{err}");
}

/// A vendor's rejection is final at once: no resubmission (each one is paid
/// for and would fail the same way), and the error quotes the vendor.
#[tokio::test(start_paused = true)]
async fn a_rejected_render_is_never_resubmitted() {
    let reason = "Slide 1 is too long. Please limit speech to 60s.";
    let run = Run::new(
        MockProvider::builder().reject_render(2, reason).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    assert!(run.options.retry.resubmits >= 1, "resubmission is on");
    let err = run
        .scheduler()
        .run(&deck(3), &run.output())
        .await
        .unwrap_err();
    match &err {
        Error::Rejected {
            slide,
            render_id,
            reason: quoted,
            ..
        } => {
            assert_eq!(*slide, 2);
            assert!(render_id.starts_with("mock-2-"));
            assert_eq!(quoted, reason);
        }
        other => panic!("expected Rejected, got {other}"),
    }
    assert!(
        err.to_string().starts_with("slide 2: mock rejected"),
        "{err}"
    );
    assert!(err.to_string().contains(reason), "{err}");
    let creates_for_2 = run
        .provider
        .calls()
        .iter()
        .filter(|c| c.call == MockCall::Initiate && c.slide == 2)
        .count();
    assert_eq!(creates_for_2, 1);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_stops_every_task() {
    for schedule in Schedule::ALL {
        let run = Run::new(
            MockProvider::builder()
                .render_latency(s(60))
                .permanent(3, MockCall::Start, PermanentKind::Authentication)
                .build(),
            MockComposer::builder()
                .prep_latency(s(5))
                .compose_latency(s(5))
                .build(),
            schedule,
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let err = run
            .scheduler()
            .events(tx)
            .run(&deck(5), &run.output())
            .await
            .unwrap_err();
        assert_eq!(err.slide(), Some(3), "{schedule:?}");
        assert!(err.to_string().contains("authentication failed"), "{err}");
        // Nothing of the run is left calling the vendor or the composer.
        let calls = run.provider.calls().len();
        let composed = run.composer.compose_order().len();
        tokio::time::sleep(s(3600)).await;
        assert_eq!(run.provider.calls().len(), calls, "{schedule:?}");
        assert_eq!(run.composer.compose_order().len(), composed);
        assert!(!run.output().exists());
        let mut last = None;
        while let Ok(p) = rx.try_recv() {
            last = Some(p.event);
        }
        assert!(matches!(
            last,
            Some(SlideEvent::Failed { slide: Some(3), .. })
        ));
    }

    // A composer failure names the slide too.
    let run = Run::new(
        MockProvider::new(),
        MockComposer::builder().fail_compose(2).build(),
        Schedule::Eager,
    );
    let err = run
        .scheduler()
        .run(&deck(3), &run.output())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Compose { slide: Some(2), .. }),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_cancels_it() {
    // Mid-render.
    let run = Run::new(
        MockProvider::builder().render_latency(s(60)).build(),
        MockComposer::builder().prep_latency(s(5)).build(),
        Schedule::Eager,
    );
    let d = deck(4);
    let sched = run.scheduler();
    let out = run.output();
    let cut = tokio::time::timeout(s(30), sched.run(&d, &out)).await;
    assert!(cut.is_err(), "the run should still be going at 30 s");
    let calls = run.provider.calls().len();
    tokio::time::sleep(s(3600)).await;
    assert_eq!(run.provider.calls().len(), calls, "tasks kept running");
    assert_eq!(run.provider.calls_to(MockCall::Fetch), 0);
    assert!(!out.exists());

    // During the final join: no output, not even a partial one.
    let run = Run::new(
        MockProvider::builder().render_latency(s(10)).build(),
        MockComposer::builder().finish_latency(s(20)).build(),
        Schedule::Eager,
    );
    let cut = tokio::time::timeout(s(25), run.scheduler().run(&d, &run.output())).await;
    assert!(cut.is_err());
    tokio::time::sleep(s(60)).await;
    assert!(!run.output().exists());
    let leftovers: Vec<_> = std::fs::read_dir(run.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "clips")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(start_paused = true)]
async fn progress_is_monotonic_and_reaches_100() {
    for schedule in Schedule::ALL {
        let mut run = Run::new(
            MockProvider::builder()
                .init_latency(s(2))
                .render_latency(s(40))
                .render_latency_for(2, s(70))
                .fail_render(3, 1)
                .poll_interval(s(5))
                .build(),
            MockComposer::builder()
                .prep_latency(s(4))
                .compose_latency(s(6))
                .build(),
            schedule,
        );
        run.options.jobs = 2;
        let mut d = deck(5);
        d.slides[3].presenter = None;
        d.slides[3].duration = Some(s(3));
        let (report, events) = run.run_with_events(run.scheduler(), &d).await;
        assert!(matches!(
            events[0].event,
            SlideEvent::Started {
                slides: 5,
                renders: 4,
                ..
            }
        ));
        let mut last = 0.0;
        for p in &events {
            assert!(
                p.overall >= last,
                "{schedule:?}: {} after {last}",
                p.overall
            );
            assert!(p.overall <= 100.0);
            last = p.overall;
        }
        let end = events.last().unwrap();
        assert!(matches!(end.event, SlideEvent::Finished { .. }));
        assert_eq!(end.overall, 100.0);
        assert_eq!(end.at, report.elapsed);
        assert!(events.iter().any(|p| p.eta.is_some()));
        for slide in 1..=5 {
            assert!(events
                .iter()
                .any(|p| matches!(p.event, SlideEvent::Composed { slide: n, .. } if n == slide)));
        }
        assert!(events.iter().any(|p| matches!(
            p.event,
            SlideEvent::Rendering {
                slide: 2,
                percent: Some(_)
            }
        )));
        // Spans cover every stage, within the run.
        for stage in [
            Stage::Initiate,
            Stage::Render,
            Stage::Fetch,
            Stage::Prepare,
            Stage::Compose,
            Stage::Join,
        ] {
            assert!(report.spans.iter().any(|sp| sp.stage == stage), "{stage:?}");
        }
        assert!(report
            .spans
            .iter()
            .all(|sp| sp.start <= sp.end && sp.end <= report.elapsed));
    }
}

/// A journal that records every call and checks the handle was never
/// started before it was journaled.
#[derive(Default)]
struct RecordingJournal {
    log: Mutex<Vec<(String, usize, String)>>,
    provider: Mutex<Option<Arc<MockProvider>>>,
}

impl RecordingJournal {
    fn entries(&self) -> Vec<(String, usize, String)> {
        self.log.lock().unwrap().clone()
    }

    fn record(&self, what: &str, request: &ClipRequest, handle: &RenderHandle) {
        if what == "initiated" {
            if let Some(p) = self.provider.lock().unwrap().as_ref() {
                let started_already = p
                    .calls()
                    .iter()
                    .any(|c| c.call == MockCall::Start && c.id == handle.id);
                assert!(
                    !started_already,
                    "{} started before it was journaled",
                    handle.id
                );
            }
        }
        self.log
            .lock()
            .unwrap()
            .push((what.to_string(), request.slide, handle.id.clone()));
    }
}

#[async_trait::async_trait]
impl RenderJournal for RecordingJournal {
    async fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.record("initiated", request, handle);
        Ok(())
    }
    async fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.record("started", request, handle);
        Ok(())
    }
    async fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<PathBuf> {
        self.record("fetched", request, handle);
        Ok(clip.to_path_buf())
    }
    async fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.record("discarded", request, handle);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_journal_has_each_handle_before_it_is_started() {
    for schedule in Schedule::ALL {
        let run = Run::new(MockProvider::new(), MockComposer::new(), schedule);
        let journal = Arc::new(RecordingJournal::default());
        *journal.provider.lock().unwrap() = Some(run.provider.clone());
        run.scheduler()
            .journal(journal.clone())
            .run(&deck(4), &run.output())
            .await
            .unwrap();
        let log = journal.entries();
        assert_eq!(log.len(), 12, "{log:?}");
        for slide in 1..=4 {
            let kinds: Vec<&str> = log
                .iter()
                .filter(|e| e.1 == slide)
                .map(|e| e.0.as_str())
                .collect();
            assert_eq!(kinds, ["initiated", "started", "fetched"], "{schedule:?}");
        }
    }

    // A journal that cannot write stops the run before the render starts.
    struct Broken;
    #[async_trait::async_trait]
    impl RenderJournal for Broken {
        async fn initiated(&self, _: &ClipRequest, _: &RenderHandle) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
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
    let run = Run::new(MockProvider::new(), MockComposer::new(), Schedule::Eager);
    let err = run
        .scheduler()
        .journal(Arc::new(Broken))
        .run(&deck(2), &run.output())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Journal { .. }), "{err}");
    assert_eq!(run.provider.calls_to(MockCall::Start), 0);
}

#[tokio::test(start_paused = true)]
async fn resumed_renders_are_not_initiated_again() {
    let d = deck(3);
    let run = Run::new(
        MockProvider::builder().render_latency(s(30)).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let req1 = request(&d, 0);
    let req2 = request(&d, 1);
    let not_started = run.provider.existing_render(&req1, false);
    let started = run.provider.existing_render(&req2, true);
    let sources = HashMap::from([
        (
            req1.identity(),
            ClipSource::Resume {
                handle: not_started.clone(),
                started: false,
            },
        ),
        (
            req2.identity(),
            ClipSource::Resume {
                handle: started.clone(),
                started: true,
            },
        ),
    ]);
    run.scheduler()
        .clip_sources(sources)
        .run(&d, &run.output())
        .await
        .unwrap();
    let calls = run.provider.calls();
    let count = |slide: usize, call: MockCall| calls_of(&calls, slide, call);
    assert_eq!(count(1, MockCall::Initiate), 0);
    assert_eq!(count(1, MockCall::Start), 1);
    assert_eq!(count(2, MockCall::Initiate), 0);
    assert_eq!(count(2, MockCall::Start), 0);
    assert_eq!(count(3, MockCall::Initiate), 1);
    assert!(calls
        .iter()
        .any(|c| c.call == MockCall::Fetch && c.id == started.id));

    // A handle the vendor no longer knows is replaced by a new render.
    let run = Run::new(MockProvider::new(), MockComposer::new(), Schedule::InOrder);
    let sources = HashMap::from([(
        request(&deck(1), 0).identity(),
        ClipSource::Resume {
            handle: RenderHandle::new("mock", "gone"),
            started: true,
        },
    )]);
    run.scheduler()
        .clip_sources(sources)
        .run(&deck(1), &run.output())
        .await
        .unwrap();
    assert_eq!(run.provider.calls_to(MockCall::Initiate), 1);
}

/// A registry whose every claim was held by a process that died after
/// sending a create; it records what the run reports.
#[derive(Default)]
struct TakenOverRegistry {
    created: Mutex<Vec<(String, bool)>>,
}

#[async_trait::async_trait]
impl RenderRegistry for TakenOverRegistry {
    async fn claim(&self, _: &ClipRequest) -> std::io::Result<Claim> {
        Ok(Claim::new(None, ClaimToken::new(())).maybe_created())
    }
    async fn created(
        &self,
        _: &ClaimToken,
        handle: &RenderHandle,
        started: bool,
    ) -> std::io::Result<()> {
        self.created
            .lock()
            .unwrap()
            .push((handle.id.clone(), started));
        Ok(())
    }
    async fn finished(&self, _: ClaimToken) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_create_whose_answer_was_lost_is_found_not_paid_again() {
    let d = deck(2);
    let run = Run::new(
        MockProvider::builder().render_latency(s(30)).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let req1 = request(&d, 0);
    let lost = run.provider.lost_create(&req1);
    let registry = Arc::new(TakenOverRegistry::default());
    run.scheduler()
        .registry(registry.clone())
        .run(&d, &run.output())
        .await
        .unwrap();
    let calls = run.provider.calls();
    let count = |slide: usize, call: MockCall| calls_of(&calls, slide, call);
    // Slide 1's render is the lost one: found, started, not created again.
    assert_eq!(count(1, MockCall::Initiate), 0);
    assert_eq!(count(1, MockCall::Start), 1);
    assert!(calls
        .iter()
        .any(|c| c.call == MockCall::Fetch && c.id == lost.id));
    // Slide 2 had no lost create: created as usual.
    assert_eq!(count(2, MockCall::Initiate), 1);
    // The registry heard of the found render before it was started.
    let created = registry.created.lock().unwrap().clone();
    let first_of_lost = created.iter().position(|(id, _)| id == &lost.id);
    assert_eq!(
        first_of_lost.map(|i| created[i].1),
        Some(false),
        "{created:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cached_clips_skip_the_provider() {
    let run = Run::new(MockProvider::new(), MockComposer::new(), Schedule::Eager);
    let cached = run.dir.path().join("cached.clip");
    std::fs::write(&cached, "slidecast mock clip\nduration=7\n").unwrap();
    let scheduler = run.scheduler().clip_sources(HashMap::from([(
        request(&deck(3), 1).identity(),
        ClipSource::Cached(cached.clone()),
    )]));
    let (report, events) = run.run_with_events(scheduler, &deck(3)).await;
    assert!(run.provider.calls().iter().all(|c| c.slide != 2));
    assert_eq!(run.provider.calls_to(MockCall::Initiate), 2);
    assert_eq!(report.clips[&2], vec![cached.clone()]);
    assert_eq!(run.composer.compose_clips(2), Some(vec![cached]));
    assert_eq!(report.segments[1].duration, s(7));
    assert!(events.iter().any(|p| p.event
        == SlideEvent::Fetched {
            slide: 2,
            cached: true
        }));
    assert!(matches!(
        events[0].event,
        SlideEvent::Started { renders: 2, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn identical_requests_render_once() {
    for schedule in Schedule::ALL {
        let run = Run::new(MockProvider::new(), MockComposer::new(), schedule);
        let mut d = deck(4);
        d.slides[2].script = d.slides[0].script.clone();
        let report = run.scheduler().run(&d, &run.output()).await.unwrap();
        assert_eq!(run.provider.calls_to(MockCall::Initiate), 3, "{schedule:?}");
        assert_eq!(report.clips[&1], report.clips[&3]);
        assert_eq!(report.segments.len(), 4);
        assert_eq!(
            run.composer.compose_clips(3),
            Some(report.clips[&1].clone())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn truncated_downloads_are_fetched_again() {
    let run = Run::new(
        MockProvider::builder().truncate_fetch(1, 2).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let report = run.scheduler().run(&deck(1), &run.output()).await.unwrap();
    assert_eq!(run.provider.calls_to(MockCall::Fetch), 3);
    assert_eq!(
        report.clips[&1],
        vec![run.options.work_dir.join("clip-slide-001.mp4")]
    );
    assert!(std::fs::metadata(&report.clips[&1][0]).unwrap().len() > 0);

    let run = Run::new(
        MockProvider::builder().truncate_fetch(1, 5).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let err = run
        .scheduler()
        .run(&deck(1), &run.output())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Compose { slide: Some(1), .. }),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn polls_follow_the_interval_without_an_estimate() {
    let run = Run::new(
        MockProvider::builder()
            .init_latency(s(0))
            .render_latency(s(61))
            .report_eta(false)
            .poll_interval(s(10))
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let report = run.scheduler().run(&deck(1), &run.output()).await.unwrap();
    // Polls at 0, 10, ..., 70: ready is seen at 70.
    assert_eq!(report.elapsed, s(70));
    assert_eq!(run.provider.calls_to(MockCall::Status), 8);

    // With an estimate the scheduler polls right when the render ends.
    let run = Run::new(
        MockProvider::builder()
            .init_latency(s(0))
            .render_latency(s(61))
            .poll_interval(s(10))
            .build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let report = run.scheduler().run(&deck(1), &run.output()).await.unwrap();
    assert_eq!(report.elapsed, s(61));
}

#[tokio::test(start_paused = true)]
async fn scripts_over_the_provider_limit_fail_before_any_call() {
    let mut limits = slidecast_core::ProviderLimits::default();
    limits.max_script_chars = Some(10);
    let run = Run::new(
        MockProvider::builder().limits(limits).build(),
        MockComposer::new(),
        Schedule::Eager,
    );
    let err = run
        .scheduler()
        .run(&deck(2), &run.output())
        .await
        .unwrap_err();
    assert_eq!(err.slide(), Some(1));
    assert!(err.to_string().contains("at most 10"), "{err}");
    assert!(run.provider.calls().is_empty());
}

/// The run future can be spawned, and the engine works on a multi-threaded
/// runtime in real time (tiny latencies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_a_multi_threaded_runtime() {
    fn assert_send<T: Send + 'static>(t: T) -> T {
        t
    }
    let ms = Duration::from_millis;
    for schedule in Schedule::ALL {
        let mut run = Run::new(
            MockProvider::builder()
                .init_latency(ms(2))
                .render_latency(ms(20))
                .poll_interval(ms(5))
                .max_in_flight(3)
                .transient(2, MockCall::Status, 1)
                .build(),
            MockComposer::builder()
                .prep_latency(ms(3))
                .compose_latency(ms(3))
                .build(),
            schedule,
        );
        run.options.jobs = 2;
        run.options.retry.base_delay = ms(1);
        let mut d = deck(8);
        d.slides[4].presenter = None;
        d.slides[4].duration = Some(s(1));
        let scheduler = run.scheduler();
        let output = run.output();
        let handle = tokio::spawn(assert_send(async move { scheduler.run(&d, &output).await }));
        let report = handle.await.unwrap().unwrap();
        assert_eq!(report.segments.len(), 8);
        assert!(run.provider.max_in_flight_seen() <= 3);
        assert!(run.composer.max_concurrent_work() <= 2);
        assert_eq!(run.composer.joined(), (1..=8).collect::<Vec<_>>());
        assert!(run.output().exists());
    }
}

/// Once the vendor has estimates for every render and a compose has been
/// measured, the ETA is the real time left (the mocks are exact).
#[tokio::test(start_paused = true)]
async fn eta_converges_on_the_real_time_left() {
    // Five slides: 10 s to initiate, 60 s to render, 10 s to prepare, 6 s
    // to compose, one job: eager takes exactly 100 s.
    let provider = MockProvider::builder()
        .init_latency(s(10))
        .render_latency(s(60))
        .poll_interval(s(10))
        .build();
    let composer = MockComposer::builder()
        .prep_latency(s(10))
        .compose_latency(s(6))
        .build();
    let run = Run::new(provider, composer, Schedule::Eager);
    let (report, events) = run.run_with_events(run.scheduler(), &deck(5)).await;
    assert_eq!(report.elapsed, s(100));
    let first_composed = events
        .iter()
        .position(|p| matches!(p.event, SlideEvent::Composed { .. }))
        .unwrap();
    let mut checked = 0;
    for p in &events[first_composed..] {
        if let Some(eta) = p.eta {
            assert_eq!(p.at + eta, report.elapsed, "{p:?}");
            checked += 1;
        }
    }
    // Every event but the last (`finished`, no ETA) carries one: the test
    // cannot pass without checking any.
    assert!(
        checked >= 5,
        "only {checked} ETA(s) after the first compose"
    );
}

#[tokio::test(start_paused = true)]
async fn a_narration_in_parts_renders_every_part_at_once_into_one_segment() {
    for schedule in Schedule::ALL {
        let run = Run::new(
            MockProvider::builder().render_latency(s(60)).build(),
            MockComposer::new(),
            schedule,
        );
        let mut d = deck(3);
        d.slides[1].parts = vec![
            "First part.".into(),
            "Second part.".into(),
            "Third part.".into(),
        ];
        let report = run.scheduler().run(&d, &run.output()).await.unwrap();
        let calls = run.provider.calls();
        assert_eq!(calls_of(&calls, 2, MockCall::Initiate), 3, "{schedule:?}");
        let initiated: Vec<&str> = calls
            .iter()
            .filter(|c| c.call == MockCall::Initiate && c.slide == 2)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(initiated.len(), 3);
        if schedule != Schedule::Sequential {
            // Every part is initiated before any render is fetched.
            let first_fetch = calls
                .iter()
                .position(|c| c.call == MockCall::Fetch)
                .unwrap();
            let last_initiate = calls
                .iter()
                .rposition(|c| c.call == MockCall::Initiate)
                .unwrap();
            assert!(last_initiate < first_fetch, "{schedule:?}: {calls:?}");
        }
        // One segment for the slide, its three clips in speaking order.
        assert_eq!(report.segments.len(), 3);
        let clips = run.composer.compose_clips(2).unwrap();
        assert_eq!(clips.len(), 3);
        for (i, clip) in clips.iter().enumerate() {
            let name = clip.file_name().unwrap().to_string_lossy();
            assert_eq!(name, format!("clip-slide-002-part-{}.mp4", i + 1));
        }
        assert_eq!(report.clips[&2], clips);
        let segment = &report.segments[1];
        assert_eq!(segment.clip_starts.len(), 3);
        assert_eq!(segment.clip_starts[0], Duration::ZERO);
        assert!(segment.clip_starts[1] < segment.clip_starts[2]);
        assert!(segment.clip_starts[2] < segment.duration);
        assert_eq!(report.segments[0].clip_starts, vec![Duration::ZERO]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_part_said_twice_renders_once_and_plays_twice() {
    let run = Run::new(MockProvider::new(), MockComposer::new(), Schedule::Eager);
    let mut d = deck(2);
    d.slides[1].parts = vec!["Again.".into(), "Again.".into()];
    let (report, events) = run.run_with_events(run.scheduler(), &d).await;
    assert_eq!(calls_of(&run.provider.calls(), 2, MockCall::Initiate), 1);
    let clips = run.composer.compose_clips(2).unwrap();
    assert_eq!(clips.len(), 2);
    assert_eq!(clips[0], clips[1]);
    assert_eq!(report.segments[1].clip_starts.len(), 2);
    // The slide's render counts as done once its one clip is fetched: by
    // the join every slide is complete (95%, the join is the rest).
    let joining = events
        .iter()
        .find(|p| p.event == SlideEvent::Joining)
        .unwrap();
    assert!((joining.overall - 95.0).abs() < 1e-3, "{joining:?}");
}
