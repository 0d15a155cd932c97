//! The real scheduler driving the Elai provider against the fake Elai, with
//! the mock composer, under tokio's paused clock (realistic render times in
//! virtual seconds).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slidecast_core::testing::MockComposer;
use slidecast_core::{Deck, RunOptions, Scheduler};
use slidecast_elai::fake::{FakeElai, FakeElaiConfig, Faults, RateLimitBurst};
use slidecast_elai::ElaiProvider;

const CLIP: &[u8] = b"slidecast mock clip\nslide=0\nduration=4\n";

/// A 5-slide deck presented by `elai`, with stand-in image files.
fn deck(dir: &Path) -> Deck {
    std::fs::create_dir_all(dir.join("slides")).unwrap();
    let mut toml = String::from(
        "title = \"Elai e2e\"\n[output]\nwidth = 640\nheight = 360\n\
         [presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\nvoice = \"en-US-AriaNeural\"\n",
    );
    for i in 1..=5 {
        let image = format!("slides/{i:02}.png");
        std::fs::write(dir.join(&image), b"\x89PNG stand-in").unwrap();
        toml.push_str(&format!(
            "\n[[slides]]\nimage = \"{image}\"\nscript = \"Slide {i} says a few words about the plan.\"\n"
        ));
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, &toml).unwrap();
    Deck::from_str_at(&toml, &path).unwrap()
}

async fn run(faults: Faults) -> (FakeElai, tempfile::TempDir) {
    let fake = FakeElai::start(
        FakeElaiConfig::new(CLIP)
            .render_delay(Duration::from_secs(60))
            .faults(faults),
    )
    .await
    .unwrap();
    // The default poll backoff (10 s growing to 60 s); no timeouts under a
    // paused clock.
    let provider = ElaiProvider::new(
        fake.provider_config()
            .no_timeouts()
            .poll_backoff(Duration::from_secs(10), 0.25, Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    let mut options = RunOptions::in_dir(dir.path().join("work"));
    options.retry.max_attempts = 8;
    let output = dir.path().join("out.mp4");
    let composer = Arc::new(MockComposer::new());
    let report = Scheduler::new(Arc::new(provider), composer.clone())
        .options(options)
        .run(&deck, &output)
        .await
        .unwrap_or_else(|e| panic!("render failed: {e}\nfake saw {:?}", fake.stats()));
    assert!(output.is_file());
    assert_eq!(report.segments.len(), 5);
    assert_eq!(composer.joined(), vec![1, 2, 3, 4, 5]);
    for n in 1..=5 {
        let clip = &report.clips[&n][0];
        assert_eq!(std::fs::read(clip).unwrap(), CLIP, "slide {n}");
    }
    // A figure, not an assertion: renders take 60 virtual seconds, so the
    // rest is polling latency, retries and the mock composer.
    println!(
        "virtual makespan {:.1}s, {} status reads for 5 renders of 60s",
        report.elapsed.as_secs_f64(),
        fake.stats().status_reads
    );
    (fake, dir)
}

#[tokio::test(start_paused = true)]
async fn all_five_creates_arrive_before_the_first_clip_is_ready() {
    let (fake, _dir) = run(Faults::default()).await;
    let stats = fake.stats();
    assert_eq!(stats.creates, 5);
    assert_eq!(stats.renders, 5);
    assert_eq!(stats.downloads, 5);
    let last_create = stats.last_create_at.unwrap();
    let first_ready = stats.first_ready_at.unwrap();
    assert!(
        last_create < first_ready,
        "the last create came {:?} after the first clip was ready",
        last_create - first_ready
    );
    assert_eq!(
        stats.creates_by_slide,
        (1..=5).map(|n| (n, 1)).collect::<BTreeMap<_, _>>()
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_lost_answers_and_a_429_burst_still_create_each_slide_once() {
    let (fake, _dir) = run(Faults {
        server_error_rate: 0.10,
        seed: 7,
        rate_limit_burst: Some(RateLimitBurst {
            after: 3,
            count: 4,
            retry_after_secs: 5,
        }),
        lost_create_answers: 2,
        ..Faults::default()
    })
    .await;
    let stats = fake.stats();
    assert_eq!(stats.injected_429, 4, "{stats:?}");
    assert!(
        stats.injected_500 >= 1,
        "the seed injects some 500s: {stats:?}"
    );
    assert_eq!(
        stats.creates_by_slide,
        (1..=5).map(|n| (n, 1)).collect::<BTreeMap<_, _>>(),
        "each slide created exactly once"
    );
    assert_eq!(stats.renders, 5);
}

#[tokio::test(start_paused = true)]
async fn a_failed_render_and_a_truncated_download_are_recovered() {
    let (fake, _dir) = run(Faults {
        fail_renders: BTreeMap::from([(2, 1)]),
        truncated_downloads: 1,
        expired_urls: 1,
        ..Faults::default()
    })
    .await;
    let stats = fake.stats();
    assert_eq!(stats.creates_by_slide[&2], 2, "slide 2 resubmitted once");
    assert_eq!(stats.creates, 6);
    assert_eq!(stats.downloads, 5);
}
