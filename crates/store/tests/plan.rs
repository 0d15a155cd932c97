//! The cost plan: statuses from the cache and the journal, minutes
//! arithmetic, the budget check and the table.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{deck, write_clip};
use slidecast_core::{Billing, RenderHandle};
use slidecast_store::{plan, ClipCache, ClipKey, ClipOrigin, Journal, Plan, Rates, SlideStatus};

/// Put a clip for `request` in `cache` (written in `dir` first).
fn cache_clip(cache: &ClipCache, dir: &std::path::Path, request: slidecast_core::ClipRequest) {
    cache
        .put(
            &ClipKey::for_request(&request),
            &write_clip(dir, "c.mp4", b"clip"),
            ClipOrigin {
                request,
                vendor_id: None,
            },
        )
        .unwrap();
}

fn words(n: usize) -> String {
    vec!["word"; n].join(" ")
}

#[test]
fn minutes_follow_the_documented_rate_and_rounding() {
    let rates = Rates::default();
    assert_eq!(rates.speech_rate.words_per_minute(), 130.0);
    assert_eq!(rates.speech(&words(130)), Duration::from_secs(60));
    assert_eq!(rates.speech(&words(65)), Duration::from_secs(30));
    // At least a second, even for one word.
    assert_eq!(rates.speech("Hi."), Duration::from_secs(1));
    let elai = rates.billing_of("elai");
    assert_eq!(
        elai.billed(Duration::from_secs(60)),
        Duration::from_secs(60)
    );
    assert_eq!(
        elai.billed(Duration::from_millis(60_400)),
        Duration::from_secs(120)
    );
    assert_eq!(elai.billed(Duration::from_secs(4)), Duration::from_secs(60));
    // Local renders are free; a provider the rates do not know is billed
    // in whole minutes, never free.
    assert!(rates.billing_of("local").is_free());
    assert_eq!(rates.billing_of("acme"), Billing::per_minute());
}

#[test]
fn a_fresh_deck_bills_every_clip_rounded_up_separately() {
    let dir = tempfile::tempdir().unwrap();
    let (w130, w131, w10) = (words(130), words(131), words(10));
    let deck = deck(
        dir.path(),
        "elai",
        &[Some(&w130), Some(&w131), None, Some(&w10)],
    );
    let p = plan(&deck, None, None);
    let statuses: Vec<SlideStatus> = p.slides.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SlideStatus::ToRender,
            SlideStatus::ToRender,
            SlideStatus::SlideOnly,
            SlideStatus::ToRender
        ]
    );
    let billed: Vec<u64> = p.slides.iter().map(|s| s.billed.as_secs()).collect();
    assert_eq!(billed, [60, 120, 0, 60]);
    assert_eq!(p.total_minutes(), 4.0);
    assert_eq!(p.slides[1].words, 131);

    // Per-clip rounding, not rounding of the sum: 1 + 2 + 1, never 3.
    assert!(p.check_budget(4.0).is_ok());
    let err = p.check_budget(3.5).unwrap_err();
    assert_eq!((err.needed, err.max, err.clips), (4.0, 3.5, 3));
    let msg = err.to_string();
    assert!(
        msg.contains("about 4 vendor minute(s) for 3 clip(s)"),
        "{msg}"
    );
    assert!(msg.contains("budget of 3.5 minute(s)"), "{msg}");

    let thirty = Plan::build(
        &deck,
        None,
        None,
        Rates::default().bill(
            "elai",
            Billing::metered("minutes", Duration::from_secs(30), 0.5),
        ),
    );
    assert_eq!(thirty.total_minutes(), 0.5 * 2.0 + 1.5 + 0.5);
}

#[test]
fn cached_in_flight_and_repeated_slides_cost_only_what_is_left_to_pay() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    let deck = deck(
        dir.path(),
        "elai",
        &[
            Some("Already cached."),
            Some("Started before the crash."),
            Some("Created, never started."),
            Some("Brand new."),
            Some("Brand new."),
        ],
    );
    let req = |n: usize| deck.slides[n - 1].clip_requests(&deck).remove(0);
    cache_clip(&cache, dir.path(), req(1));
    let out = dir.path().join("out.mp4");
    let state = dir.path().join("state");
    {
        let journal = Journal::open(&state, &out).unwrap();
        let (h2, h3) = (
            RenderHandle::new("elai", "v2"),
            RenderHandle::new("elai", "v3"),
        );
        journal.initiated(&req(2), &h2).unwrap();
        journal.started(&req(2), &h2).unwrap();
        journal.initiated(&req(3), &h3).unwrap();
    }
    // Make the cached clip look unused for ten days.
    let meta_path = cache
        .dir()
        .join(format!("{}.json", ClipKey::for_request(&req(1))));
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let ten_days_ago = SystemTime::now() - Duration::from_secs(10 * 86_400);
    meta["last_used"] = ten_days_ago
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .into();
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let snapshot = Journal::read(&state, &out).unwrap();
    let p = plan(&deck, Some(&cache), Some(&snapshot));
    let statuses: Vec<SlideStatus> = p.slides.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SlideStatus::Cached,
            SlideStatus::InFlight { started: true },
            SlideStatus::InFlight { started: false },
            SlideStatus::ToRender,
            SlideStatus::SameAs { slide: 4 },
        ]
    );
    // Only the unstarted draft and the one new clip are still to be billed.
    let billed: Vec<u64> = p.slides.iter().map(|s| s.billed.as_secs()).collect();
    assert_eq!(billed, [0, 0, 60, 60, 0]);
    assert_eq!(p.total_minutes(), 2.0);

    let table = p.to_string();
    for needle in [
        "cached",
        "in flight (not started)",
        "same as slide 4",
        "1 to render, 2 in flight, 1 cached, 1 repeated; about 2 vendor minute(s)",
        "130 words per minute",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
    println!("{table}");
    // Planning records no cache use (prune ages stay honest).
    assert!(
        cache.list().unwrap()[0].last_used < SystemTime::now() - Duration::from_secs(9 * 86_400)
    );
}

#[test]
fn local_providers_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let long = words(400);
    let deck = deck(dir.path(), "local", &[Some(&long)]);
    let p = plan(&deck, None, None);
    assert_eq!(p.slides[0].status, SlideStatus::ToRender);
    assert_eq!(
        p.slides[0].speech,
        Duration::from_secs_f64(400.0 * 60.0 / 130.0)
    );
    assert_eq!(p.total_minutes(), 0.0);
    assert!(p.check_budget(0.0).is_ok());
}

#[test]
fn a_plan_from_decided_sources_prices_what_replaces_a_bad_clip() {
    use slidecast_core::ClipSource;
    use std::collections::HashMap;

    let dir = tempfile::tempdir().unwrap();
    let deck = deck(
        dir.path(),
        "elai",
        &[Some("One."), Some("Two."), Some("Three.")],
    );
    let sources: HashMap<usize, ClipSource> = [
        (1, ClipSource::Cached(dir.path().join("ok.mp4"))),
        (
            2,
            ClipSource::Resume {
                handle: RenderHandle::new("elai", "v2"),
                started: true,
            },
        ),
        // Slide 3 is not named: rendered.
    ]
    .into_iter()
    .collect();
    let sources = common::by_identity(&deck, sources);
    let p = Plan::for_sources(&deck, &sources, Rates::default());
    let statuses: Vec<SlideStatus> = p.slides.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SlideStatus::Cached,
            SlideStatus::InFlight { started: true },
            SlideStatus::ToRender
        ]
    );
    assert_eq!(p.total_minutes(), 1.0);
    assert!(p.check_budget(0.5).is_err());
}

#[test]
fn a_narration_in_parts_is_priced_and_counted_part_by_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut deck = deck(
        dir.path(),
        "elai",
        &[Some("Short."), Some("One. Two. Three.")],
    );
    deck.slides[1].parts = vec!["One.".into(), "Two.".into(), "Three.".into()];
    // The first part is in the cache already.
    let cache = ClipCache::open(dir.path().join("cache")).unwrap();
    let first = deck.slides[1].clip_requests(&deck).remove(0);
    assert_eq!(first.script, "One.");
    cache_clip(&cache, dir.path(), first);
    let p = plan(&deck, Some(&cache), None);
    let s2 = &p.slides[1];
    assert_eq!(s2.keys.len(), 3);
    assert_eq!(s2.status, SlideStatus::ToRender);
    assert_eq!(s2.creates, 2);
    // Each part is its own vendor video, rounded up to a minute on its own.
    assert_eq!(s2.billed, Duration::from_secs(120));
    assert_eq!(p.total_minutes(), 3.0);
    assert!(p.to_string().contains("to render (3 parts)"), "{p}");
    let err = p.check_budget(2.5).unwrap_err();
    assert_eq!(err.clips, 4, "one clip of slide 1, three of slide 2");
}

#[test]
fn a_deck_mixing_vendors_is_priced_in_each_vendors_unit_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let w131 = words(131); // 60.5 s of speech
    let mut deck = deck(dir.path(), "elai", &[Some(&w131), Some(&w131), Some(&w131)]);
    for (slide, provider) in [(1, "heygen"), (2, "did")] {
        deck.slides[slide].presenter.as_mut().unwrap().provider = provider.into();
    }
    let rates = Rates::default()
        .bill(
            "heygen",
            Billing::metered("credits", Duration::from_secs(30), 1.0),
        )
        .bill(
            "did",
            Billing::metered("credits", Duration::from_secs(15), 1.0),
        );
    let p = Plan::build(&deck, None, None, rates);
    let billed: Vec<u64> = p.slides.iter().map(|s| s.billed.as_secs()).collect();
    assert_eq!(billed, [120, 90, 75]);
    assert_eq!(
        p.costs(),
        [
            ("did".to_string(), 5.0, "credits"),
            ("elai".to_string(), 2.0, "minutes"),
            ("heygen".to_string(), 3.0, "credits")
        ]
    );
    assert_eq!(p.total_minutes(), 4.75);
    assert!(p.check_cost("heygen", 3.0).is_ok());
    let err = p.check_cost("heygen", 2.0).unwrap_err();
    assert_eq!((err.needed, err.clips), (3.0, 1));
    let msg = err.to_string();
    assert!(
        msg.contains("about 3 heygen credits for 1 clip(s)") && msg.contains("--max-cost heygen=3"),
        "{msg}"
    );
    assert!(p.check_cost("elai", 1.5).is_err() && p.check_cost("elai", 2.0).is_ok());
    let table = p.to_string();
    for line in [
        "3 credits",
        "5 credits",
        "2 min",
        "did 5 credits, heygen 3 credits",
    ] {
        assert!(table.contains(line), "{line} in\n{table}");
    }
    assert!(
        table.contains("heygen 1 credit per started 30s")
            && table.contains("elai in whole minutes"),
        "{table}"
    );
}
