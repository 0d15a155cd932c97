//! `RenderJob` end to end: a real render (mock provider, real FFmpeg
//! composer), read back at ffprobe level; errors before anything is spent;
//! a provider a tool registers itself; two jobs in one process.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use slidecast_core::AvatarProvider;
use slidecast_render::{Deck, MockClips, ProviderRegistry, RenderError, RenderJob, StorePolicy};
use slidecast_tests::{mock_deck, Probe};
use tokio::sync::mpsc;

fn load(dir: &Path, slides: usize) -> Deck {
    Deck::load(&mock_deck(dir, slides)).expect("test deck is valid")
}

/// Every file in `dir` (not recursive), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_a_deck_with_captions_timeline_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let deck = load(dir.path(), 3);
    let out = dir.path().join("talk.mp4");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let job = RenderJob::new(deck, &out)
        .store(StorePolicy::default().no_cache())
        .timeline(dir.path().join("talk.svg"))
        .jobs(2)
        .events(tx);
    let outcome = job.run().await.expect("render succeeds");
    drop(job);
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();

    // The video: both streams, the three slides' length, a subtitle track.
    let probe = Probe::of(&out);
    assert_eq!(probe.video().codec_name.as_deref(), Some("h264"));
    assert_eq!(probe.audio().codec_name.as_deref(), Some("aac"));
    assert!(probe.stream("subtitle").is_some(), "captions embedded");
    let length = outcome.video_length.as_secs_f64();
    assert!(
        (probe.duration() - length).abs() < 0.1,
        "{} vs {length}",
        probe.duration()
    );
    assert_eq!(outcome.report.segments.len(), 3);

    // Side outputs, written where the outcome says.
    let (srt, vtt) = outcome.captions.clone().expect("caption files");
    assert!(std::fs::read_to_string(srt)
        .unwrap()
        .contains("slide number 1"));
    assert!(std::fs::read_to_string(vtt).unwrap().starts_with("WEBVTT"));
    let svg = std::fs::read_to_string(outcome.timeline.as_ref().unwrap()).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("mock"),
        "timeline names the provider"
    );

    // Two narrated slides: two renders, each handle reported, none reused.
    assert_eq!(outcome.handles.len(), 2);
    assert_eq!(outcome.reused_clips, 0);
    assert_eq!(outcome.providers, ["mock"]);
    assert!(matches!(
        events.last().map(|p| &p.event),
        Some(slidecast_core::SlideEvent::Finished { .. })
    ));

    // Nothing is left behind but the outputs and the inputs.
    assert_eq!(
        files(dir.path()),
        [
            "1.png",
            "2.png",
            "3.png",
            "deck.toml",
            "talk.chapters.txt",
            "talk.chapters.vtt",
            "talk.mp4",
            "talk.srt",
            "talk.svg",
            "talk.vtt"
        ]
    );
}

#[tokio::test]
async fn an_unknown_provider_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let deck_path = mock_deck(dir.path(), 3);
    let text = std::fs::read_to_string(&deck_path)
        .unwrap()
        .replace("provider = \"mock\"", "provider = \"acme\"");
    std::fs::write(&deck_path, text).unwrap();
    let deck = Deck::load(&deck_path).expect("any well-formed provider name loads");
    let before = files(dir.path());
    let err = RenderJob::new(deck, dir.path().join("out.mp4"))
        .run()
        .await
        .unwrap_err();
    match &err {
        RenderError::UnknownProvider { name, slide, known } => {
            assert_eq!(name, "acme");
            assert_eq!(*slide, Some(1));
            assert!(known.iter().any(|k| k == "elai") && known.iter().any(|k| k == "local"));
        }
        other => panic!("expected an unknown provider, got {other:?}"),
    }
    assert!(err.to_string().contains("slide 1"), "{err}");
    assert_eq!(
        files(dir.path()),
        before,
        "no output, no work folder, no journal"
    );
}

#[tokio::test]
async fn a_missing_output_folder_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let deck = load(dir.path(), 1);
    let out = dir.path().join("no/such/folder/out.mp4");
    let err = RenderJob::new(deck, &out).run().await.unwrap_err();
    assert!(matches!(err, RenderError::Output { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/folder"), "{err}");
}

/// A provider counted by a tool that registers it under its own name.
struct Counted {
    inner: MockClips,
    initiates: Arc<AtomicUsize>,
    /// The longest narration one clip speaks, if limited.
    speech_limit: Option<std::time::Duration>,
}

/// The built-in providers and `acme` (a counted [`MockClips`] speaking at
/// most `speech_limit` per clip), and its count of creates.
fn acme(speech_limit: Option<std::time::Duration>) -> (ProviderRegistry, Arc<AtomicUsize>) {
    let initiates = Arc::new(AtomicUsize::new(0));
    let mut registry = ProviderRegistry::builtin();
    let counter = initiates.clone();
    registry.register("acme", move |ctx| {
        Ok(Arc::new(Counted {
            inner: MockClips::new(ctx.fps),
            initiates: counter.clone(),
            speech_limit,
        }) as Arc<dyn AvatarProvider>)
    });
    (registry, initiates)
}

#[async_trait::async_trait]
impl AvatarProvider for Counted {
    fn name(&self) -> &str {
        "acme"
    }
    fn limits(&self) -> slidecast_core::ProviderLimits {
        self.inner.limits()
    }
    async fn speech_limit(
        &self,
        _: &slidecast_core::ClipRequest,
    ) -> Result<Option<std::time::Duration>, slidecast_core::ProviderError> {
        Ok(self.speech_limit)
    }
    async fn initiate(
        &self,
        request: &slidecast_core::ClipRequest,
    ) -> Result<slidecast_core::RenderHandle, slidecast_core::ProviderError> {
        self.initiates.fetch_add(1, Ordering::SeqCst);
        let mut handle = self.inner.initiate(request).await?;
        handle.provider = "acme".into();
        Ok(handle)
    }
    async fn start(
        &self,
        h: &slidecast_core::RenderHandle,
    ) -> Result<(), slidecast_core::ProviderError> {
        self.inner.start(h).await
    }
    async fn status(
        &self,
        h: &slidecast_core::RenderHandle,
    ) -> Result<slidecast_core::RenderStatus, slidecast_core::ProviderError> {
        self.inner.status(h).await
    }
    async fn fetch(
        &self,
        h: &slidecast_core::RenderHandle,
        dest: &Path,
    ) -> Result<(), slidecast_core::ProviderError> {
        self.inner.fetch(h, dest).await
    }
    async fn cancel(
        &self,
        h: &slidecast_core::RenderHandle,
    ) -> Result<(), slidecast_core::ProviderError> {
        self.inner.cancel(h).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_provider_renders_and_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let deck = load(dir.path(), 3);
    let (registry, initiates) = acme(None);
    let store = StorePolicy::default()
        .cache_dir(dir.path().join("cache"))
        .state_dir(dir.path().join("state"));
    let job = RenderJob::new(deck.clone(), dir.path().join("a.mp4"))
        .registry(registry.clone())
        .provider("acme")
        .store(store.clone());
    job.run().await.expect("first render");
    assert_eq!(initiates.load(Ordering::SeqCst), 2);
    let plan = job.plan().unwrap();
    assert_eq!(
        plan.count(|s| matches!(s, slidecast_store::SlideStatus::Cached)),
        2
    );

    // The second render of the same deck comes from the cache: no vendor call.
    let again = RenderJob::new(deck, dir.path().join("b.mp4"))
        .registry(registry)
        .provider("acme")
        .store(store)
        .run()
        .await
        .expect("second render");
    assert_eq!(
        initiates.load(Ordering::SeqCst),
        2,
        "nothing rendered twice"
    );
    assert_eq!(again.reused_clips, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_in_one_process_do_not_share_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir_in(dir.path()).unwrap();
    let b = tempfile::tempdir_in(dir.path()).unwrap();
    let deck_a = load(a.path(), 3);
    let deck_b = load(b.path(), 4);
    let out_a = dir.path().join("a.mp4");
    let out_b = dir.path().join("b.mp4");
    let job_a = RenderJob::new(deck_a, &out_a)
        .store(StorePolicy::default().no_cache())
        .jobs(1);
    let job_b = RenderJob::new(deck_b, &out_b)
        .store(StorePolicy::default().no_cache())
        .jobs(1);
    let (ra, rb) = tokio::join!(job_a.run(), job_b.run());
    let (ra, rb) = (ra.expect("job a"), rb.expect("job b"));
    assert_eq!(ra.report.segments.len(), 3);
    assert_eq!(rb.report.segments.len(), 4);
    // Each video is its own deck's length.
    assert!((Probe::of(&out_a).duration() - ra.video_length.as_secs_f64()).abs() < 0.1);
    assert!((Probe::of(&out_b).duration() - rb.video_length.as_secs_f64()).abs() < 0.1);
}

/// A narration longer than the provider speaks per clip is planned (and
/// priced) as parts, at the job's speaking rate; one sentence too long to
/// cut is a deck problem naming slide and script, before anything renders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_narrations_are_split_at_the_jobs_speaking_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut deck = load(dir.path(), 3);
    let long = deck
        .slides
        .iter()
        .position(|s| s.presenter.is_some())
        .unwrap();
    let number = deck.slides[long].number;
    // 108 words in sentences of nine: about 50 s at 130 wpm.
    deck.slides[long].script = (0..12)
        .map(|i| format!("Sentence {i} is here to make a long narration."))
        .collect::<Vec<_>>()
        .join(" ");
    let (registry, initiates) = acme(Some(std::time::Duration::from_secs(20)));
    let job = |deck: &Deck, rate: f64| {
        RenderJob::new(deck.clone(), dir.path().join("out.mp4"))
            .registry(registry.clone())
            .provider("acme")
            .store(StorePolicy::default().cache_dir(dir.path().join("cache")))
            .speech_rate(slidecast_core::SpeechRate::new(rate))
    };
    let parts = |plan: &slidecast_store::Plan| plan.slides[long].keys.len();
    // 85% of 20 s at 130 wpm is 36 words a part: three parts of four
    // sentences.
    let plan = job(&deck, 130.0).plan_with_vendors().await.unwrap();
    assert_eq!(parts(&plan), 3, "{plan}");
    // Read twice as fast, 73 words fit a part: two parts.
    let plan = job(&deck, 260.0).plan_with_vendors().await.unwrap();
    assert_eq!(parts(&plan), 2, "{plan}");
    // The offline plan does not ask the provider: one clip.
    assert_eq!(parts(&job(&deck, 130.0).plan().unwrap()), 1);

    // One sentence of 40 words cannot be cut to fit 36.
    deck.slides[long].script = vec!["word"; 40].join(" ");
    let err = job(&deck, 130.0).run().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("slide {number}: script")) && text.contains("40 words"),
        "{text}"
    );
    assert_eq!(initiates.load(Ordering::SeqCst), 0, "nothing rendered");
    assert!(!dir.path().join("out.mp4").exists());
}

/// The same deck rendered with and without burned-in captions: the
/// picture differs only where a cue is drawn (low in the frame, clear of
/// the presenter, light text on a dark box), never on a slide without
/// narration, and the soft captions are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burned_captions_are_drawn_clear_of_the_presenter() {
    use slidecast_render::{CaptionOptions, CaptionStyle};
    let dir = tempfile::tempdir().unwrap();
    let deck = load(dir.path(), 3);
    let render = |name: &str, burn: Option<CaptionStyle>| {
        let out = dir.path().join(name);
        let job = RenderJob::new(deck.clone(), &out)
            .store(StorePolicy::default().no_cache())
            .captions(CaptionOptions {
                burn,
                ..CaptionOptions::default()
            });
        async move { job.run().await.expect("render succeeds") }
    };
    let plain = render("plain.mp4", None).await;
    let burned = render("burned.mp4", Some(CaptionStyle::default())).await;
    let srt = |o: &slidecast_render::RenderOutcome| {
        std::fs::read_to_string(&o.captions.as_ref().unwrap().0).unwrap()
    };
    assert_eq!(srt(&plain), srt(&burned), "the same cues either way");

    // Frame in the middle of the first cue, and of the silent slide 2.
    let fps = f64::from(deck.output.fps);
    let first_cue =
        slidecast_render::captions::captions(&burned.report.segments, &deck.slides)[0].clone();
    let mid = (first_cue.start + first_cue.end).as_secs_f64() / 2.0;
    let slide1 = burned.report.segments[0].duration.as_secs_f64();
    let slide2 = burned.report.segments[1].duration.as_secs_f64();
    let silent = slide1 + slide2 / 2.0;
    let presenter = deck.slides[0]
        .presenter
        .as_ref()
        .unwrap()
        .layout
        .presenter_area(&deck.output);
    let changed = |t: f64| {
        let index = (t * fps) as u64;
        let (w, _, a) = slidecast_tests::luma_frame(&dir.path().join("plain.mp4"), index);
        let (_, _, b) = slidecast_tests::luma_frame(&dir.path().join("burned.mp4"), index);
        let pixels: Vec<(u32, u32, u8)> = a
            .iter()
            .zip(&b)
            .enumerate()
            .filter(|(_, (x, y))| x.abs_diff(**y) > 24)
            .map(|(i, (_, y))| (i as u32 % w, i as u32 / w, *y))
            .collect();
        pixels
    };
    let drawn = changed(mid);
    assert!(
        drawn.len() > 200,
        "a caption is drawn: {} pixels",
        drawn.len()
    );
    let height = deck.output.height;
    assert!(
        drawn.iter().all(|(_, y, _)| *y >= height / 2),
        "the caption sits in the lower half"
    );
    let inside = |(x, y, _): &&(u32, u32, u8)| {
        *x >= presenter.x
            && *x < presenter.x + presenter.width
            && *y >= presenter.y
            && *y < presenter.y + presenter.height
    };
    assert_eq!(
        drawn.iter().filter(inside).count(),
        0,
        "clear of {presenter:?}"
    );
    assert!(drawn.iter().any(|p| p.2 > 180), "light text");
    assert!(drawn.iter().any(|p| p.2 < 70), "a dark box");
    assert!(
        changed(silent).is_empty(),
        "nothing drawn on the slide-only slide"
    );
}
