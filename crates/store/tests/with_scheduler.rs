//! The store driving core's real scheduler (on its mock provider and
//! composer, under a paused clock): the promises at library level.
//! A dropped run future stands in for a crash; the end-to-end tests with
//! the fake Elai and `kill -9` live in the workspace's tests crate.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::deck;
use slidecast_core::testing::{MockCall, MockComposer, MockProvider};
use slidecast_core::{ClipSource, Composer, Deck, RunOptions, Scheduler};
use slidecast_store::{ClipCache, ClipKey, Journal};

struct Setup {
    dir: tempfile::TempDir,
    provider: Arc<MockProvider>,
    composer: Arc<MockComposer>,
    cache: ClipCache,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let cache = ClipCache::open(dir.path().join("cache")).unwrap();
        Setup {
            provider: Arc::new(
                MockProvider::builder()
                    .render_latency(Duration::from_secs(60))
                    .build(),
            ),
            composer: Arc::new(MockComposer::new()),
            cache,
            dir,
        }
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("out.mock")
    }

    fn deck(&self, version: &str, scripts: &[Option<&str>]) -> Deck {
        deck(&self.dir.path().join(version), "mock", scripts)
    }

    fn journal(&self) -> Journal {
        Journal::open_for_output(&self.output(), None)
            .unwrap()
            .with_cache(self.cache.clone())
    }

    /// The CLI's recipe: open the journal, plan the sources with every clip
    /// on disk verified, and run with the journal attached.
    async fn render(&self, deck: &Deck) -> HashMap<usize, ClipSource> {
        let journal = self.journal();
        let composer = self.composer.clone();
        let sources = journal
            .verified_sources(deck, Some(&self.cache), |clip| {
                let composer = composer.clone();
                async move { composer.verify_clip(&clip).await.map(|_| ()) }
            })
            .await;
        let work_dir = journal.work_dir();
        std::fs::create_dir_all(&work_dir).unwrap();
        Scheduler::new(self.provider.clone(), self.composer.clone())
            .options(RunOptions::in_dir(work_dir))
            .clip_sources(sources.clone())
            .journal(Arc::new(journal))
            .run(deck, &self.output())
            .await
            .unwrap();
        common::by_slide(deck, &sources)
    }

    fn creates(&self) -> usize {
        self.provider.calls_to(MockCall::Initiate)
    }
}

const SCRIPTS: [Option<&str>; 5] = [
    Some("Welcome to the update."),
    Some("Revenue grew in every region."),
    None,
    Some("Costs stayed flat."),
    Some("Thanks for watching."),
];

#[tokio::test(start_paused = true)]
async fn an_edit_to_one_script_renders_only_that_slide() {
    let s = Setup::new();
    s.render(&s.deck("v1", &SCRIPTS)).await;
    assert_eq!(s.creates(), 4);
    assert_eq!(s.cache.list().unwrap().len(), 4);

    // Same deck again: everything from the cache, no vendor call at all.
    let sources = s.render(&s.deck("v1", &SCRIPTS)).await;
    assert_eq!(s.creates(), 4);
    assert!(sources
        .values()
        .all(|src| matches!(src, ClipSource::Cached(_))));

    let mut edited = SCRIPTS;
    edited[3] = Some("Costs went down a little.");
    s.render(&s.deck("v2", &edited)).await;
    assert_eq!(s.creates(), 5, "exactly one new create");
    assert_eq!(s.cache.list().unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn identical_requests_in_one_deck_are_rendered_once() {
    let s = Setup::new();
    let scripts = [
        Some("Same words."),
        Some("Other words."),
        Some("Same words."),
    ];
    s.render(&s.deck("v1", &scripts)).await;
    assert_eq!(s.creates(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_crashed_run_is_resumed_without_a_single_new_create() {
    let s = Setup::new();
    let deck = s.deck("v1", &SCRIPTS);
    {
        let journal = s.journal();
        let run = Scheduler::new(s.provider.clone(), s.composer.clone())
            .options(RunOptions::in_dir(journal.work_dir()))
            .journal(Arc::new(journal));
        // Renders take a minute; the "crash" comes after 30 s, once every
        // render is initiated and started but none is finished.
        let output = s.output();
        let crashed = tokio::time::timeout(Duration::from_secs(30), run.run(&deck, &output));
        assert!(crashed.await.is_err(), "the run should still be going");
    }
    // The run's tasks are aborted, and drop their share of the journal (and
    // so its lock) the next time the runtime gets to them.
    let mut released = false;
    for _ in 0..1000 {
        if Journal::try_open(&Journal::default_state_dir(&s.output()), &s.output()).is_ok() {
            released = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(released, "the crashed run still holds the journal");
    assert_eq!(s.creates(), 4);
    assert_eq!(s.provider.calls_to(MockCall::Fetch), 0);
    assert!(!s.output().exists());

    let sources = s.render(&deck).await;
    assert_eq!(s.creates(), 4, "no render was created again");
    assert!(sources
        .values()
        .all(|src| matches!(src, ClipSource::Resume { started: true, .. })));
    assert!(s.output().exists());
    assert_eq!(s.provider.calls_to(MockCall::Fetch), 4);
}

#[tokio::test(start_paused = true)]
async fn a_truncated_cached_clip_is_fetched_again_not_rendered_again() {
    let s = Setup::new();
    let deck = s.deck("v1", &SCRIPTS);
    s.render(&deck).await;
    let request = deck.slides[1].clip_requests(&deck).remove(0);
    let cached = s.cache.clip_path(&ClipKey::for_request(&request));
    truncate(&cached);

    let sources = s.render(&deck).await;
    assert!(
        matches!(&sources[&2], ClipSource::Resume { started: true, .. }),
        "{:?}",
        sources[&2]
    );
    assert_eq!(s.creates(), 4, "fetched again from the finished render");
    assert_eq!(s.provider.calls_to(MockCall::Fetch), 5);
    // The cache is healed for the next run.
    assert!(std::fs::metadata(&cached).unwrap().len() > 0);
    assert!(s.composer.verify_clip(&cached).await.is_ok());
}

fn truncate(path: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}
