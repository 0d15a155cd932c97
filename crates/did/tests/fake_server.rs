//! The D-ID provider against the fake D-ID on 127.0.0.1: talks and clips,
//! moderation, every error class, expired URLs, lost create answers, and
//! the real scheduler starting every render at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::testing::MockComposer;
use slidecast_core::{
    AvatarProvider, ClipRequest, Deck, PermanentKind, ProviderError, RenderStatus, RunOptions,
    Scheduler,
};
use slidecast_did::fake::{FakeDid, FakeDidConfig, Faults, RateLimitBurst};
use slidecast_did::{ApiKey, DidProvider};
use slidecast_vendor::fake::until_done;

const MP4: &[u8] = b"slidecast mock clip\nslide=0\nduration=4\n";
const PHOTO: &str = "https://images.example/founder.jpg";

fn request(slide: usize, avatar: &str, script: &str) -> ClipRequest {
    ClipRequest {
        slide,
        title: "D-ID test".into(),
        provider: "did".into(),
        script: script.into(),
        avatar: avatar.into(),
        voice: Some("en-US-JennyNeural".into()),
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    }
}

fn quick() -> FakeDidConfig {
    FakeDidConfig::new(MP4).render_delay(Duration::from_millis(200))
}

async fn fake(config: FakeDidConfig) -> (FakeDid, DidProvider) {
    let fake = FakeDid::start(config).await.unwrap();
    let provider = DidProvider::new(fake.provider_config().build().unwrap()).unwrap();
    (fake, provider)
}

#[tokio::test]
async fn a_talk_from_a_photo_is_created_polled_and_downloaded() {
    let (fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(1, PHOTO, "Hello from a photo."))
        .await
        .unwrap();
    assert!(h.id.starts_with("tlk_"), "{}", h.id);
    p.start(&h).await.unwrap(); // the create started it
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    p.fetch(&h, &dir.path().join("c.mp4")).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("c.mp4")).unwrap(), MP4);
    let stats = fake.stats();
    assert_eq!((stats.talks, stats.clips, stats.downloads), (1, 0, 1));
    let body = &stats.create_bodies[0];
    assert_eq!(body["source_url"], PHOTO);
    assert_eq!(body["script"]["provider"]["voice_id"], "en-US-JennyNeural");
}

#[tokio::test]
async fn a_presenter_clip_is_rendered_over_the_key_colour() {
    let (fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(2, "amy-Aq6OmGZnMt", "A premium presenter."))
        .await
        .unwrap();
    assert!(h.id.starts_with("clp_"), "{}", h.id);
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    p.fetch(&h, &dir.path().join("c.mp4")).await.unwrap();
    let stats = fake.stats();
    assert_eq!((stats.talks, stats.clips), (0, 1));
    assert_eq!(stats.create_bodies[0]["background"]["color"], "#00FF00");
    assert_eq!(stats.create_bodies[0]["presenter_id"], "amy-Aq6OmGZnMt");
}

#[tokio::test]
async fn moderation_is_final_and_shows_the_reason() {
    let (_fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(3, PHOTO, "This is forbidden talk."))
        .await
        .unwrap();
    match until_done(&p, &h).await {
        RenderStatus::Rejected { reason } => {
            assert!(
                reason.contains("ModerationError") && reason.contains("forbidden"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_error_status_is_failed_for_resubmission() {
    let faults = Faults {
        fail_renders: [(1, 1)].into_iter().collect(),
        ..Faults::default()
    };
    let (_fake, p) = fake(quick().faults(faults)).await;
    let r = request(1, PHOTO, "Fails once.");
    let h = p.initiate(&r).await.unwrap();
    assert!(
        matches!(until_done(&p, &h).await, RenderStatus::Failed { reason } if reason.contains("D-ID reported an error"))
    );
    let again = p.initiate(&r).await.unwrap();
    assert_eq!(until_done(&p, &again).await, RenderStatus::Ready);
}

#[tokio::test]
async fn an_expired_result_url_is_read_again() {
    let (fake, p) = fake(quick().faults(Faults {
        expired_urls: 1,
        ..Faults::default()
    }))
    .await;
    let h = p.initiate(&request(1, PHOTO, "Expiring.")).await.unwrap();
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    let reads = fake.stats().status_reads;
    let dir = tempfile::tempdir().unwrap();
    p.fetch(&h, &dir.path().join("c.mp4")).await.unwrap();
    let stats = fake.stats();
    assert_eq!((stats.expired_downloads, stats.downloads), (1, 1));
    assert_eq!(
        stats.status_reads,
        reads + 1,
        "one fresh read for the new URL"
    );
}

#[tokio::test]
async fn a_truncated_download_leaves_nothing_and_the_next_one_completes() {
    let (_fake, p) = fake(quick().faults(Faults {
        truncated_downloads: 1,
        ..Faults::default()
    }))
    .await;
    let h = p.initiate(&request(1, PHOTO, "Cut short.")).await.unwrap();
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("c.mp4");
    let err = p.fetch(&h, &dest).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient { .. }), "{err}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
    p.fetch(&h, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), MP4);
}

#[tokio::test]
async fn a_lost_create_answer_is_found_by_its_token_not_paid_again() {
    let (fake, p) = fake(quick().faults(Faults {
        lost_create_answers: 1,
        ..Faults::default()
    }))
    .await;
    let r = request(4, "rian-lZC6MmWfC1", "Only once.");
    assert!(matches!(
        p.initiate(&r).await,
        Err(ProviderError::Transient { .. })
    ));
    let h = p.initiate(&r).await.unwrap();
    assert_eq!(fake.stats().clips, 1);
    assert_eq!(fake.render_ids(), vec![h.id.clone()]);
    let other = DidProvider::new(fake.provider_config().build().unwrap()).unwrap();
    let (found, started) = other.find_lost_create(&r).await.unwrap().unwrap();
    assert_eq!((found.id, started), (h.id, true));
    assert!(other
        .find_lost_create(&request(5, PHOTO, "Never sent."))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn no_credits_bad_presenter_and_bad_key_are_permanent_with_their_class() {
    let (_broke, p) = fake(quick().credits(0)).await;
    let err = p.initiate(&request(1, PHOTO, "Hi.")).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::QuotaExhausted, message }
            if message.contains("no credits left on the D-ID account") && message.contains("slide 1")),
        "{err}"
    );
    let (fake, p) = fake(quick()).await;
    let err = p
        .initiate(&request(2, "nobody-123", "Hi."))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message } if message.contains("presenter nobody-123 not found")),
        "{err}"
    );
    let wrong = DidProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("me:wrong-SECRET").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = wrong.initiate(&request(3, PHOTO, "Hi.")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            ProviderError::Permanent {
                kind: PermanentKind::Authentication,
                ..
            }
        ) && text.contains("DID_API_KEY")
            && !text.contains("SECRET"),
        "{text}"
    );
}

#[tokio::test]
async fn check_names_the_slide_and_field_before_anything_is_created() {
    let (fake, p) = fake(quick()).await;
    let requests = [
        request(1, PHOTO, "Fine."),
        request(2, "amy-Aq6OmGZn", "Typo."),
        request(3, "rian-lZC6MmWfC1", "  "),
    ];
    let problems = p.check(&requests).await.unwrap();
    let named: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.slide, p.field.as_str()))
        .collect();
    assert_eq!(
        named,
        [(2, "presenter.avatar"), (3, "script")],
        "{problems:?}"
    );
    assert!(
        problems[0].message.contains("nearest: amy-Aq6OmGZnMt"),
        "{problems:?}"
    );
    let stats = fake.stats();
    assert_eq!(stats.talks + stats.clips, 0);
    let listed = p.list_presenters().await.unwrap();
    assert!(slidecast_did::PresenterTable(&listed)
        .to_string()
        .contains("Rian"));
}

#[tokio::test]
async fn cancel_deletes_talks_and_clips() {
    let (fake, p) = fake(quick()).await;
    let talk = p.initiate(&request(1, PHOTO, "Cancel me.")).await.unwrap();
    let clip = p
        .initiate(&request(2, "amy-Aq6OmGZnMt", "Me too."))
        .await
        .unwrap();
    p.cancel(&talk).await.unwrap();
    p.cancel(&clip).await.unwrap();
    p.cancel(&clip).await.unwrap(); // already gone: fine
    assert!(fake.render_ids().is_empty());
    assert_eq!(fake.stats().deletes, 2);
}

fn deck(dir: &Path) -> Deck {
    std::fs::create_dir_all(dir.join("slides")).unwrap();
    let mut toml = format!(
        "title = \"D-ID e2e\"\n[output]\nwidth = 640\nheight = 360\n\
         [presenter]\nprovider = \"did\"\navatar = \"{PHOTO}\"\nshape = \"circle\"\n"
    );
    for i in 1..=5 {
        let image = format!("slides/{i:02}.png");
        std::fs::write(dir.join(&image), b"\x89PNG stand-in").unwrap();
        toml.push_str(&format!(
            "\n[[slides]]\nimage = \"{image}\"\nscript = \"Slide {i} says a few words.\"\n"
        ));
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, &toml).unwrap();
    Deck::from_str_at(&toml, &path).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_scheduler_starts_every_render_at_once_through_faults() {
    let faults = Faults {
        rate_limit_burst: Some(RateLimitBurst {
            after: 1,
            count: 2,
            retry_after_secs: 3,
        }),
        server_error_rate: 0.1,
        seed: 5,
        expired_urls: 1,
        lost_create_answers: 1,
        ..Faults::default()
    };
    let fake = FakeDid::start(
        FakeDidConfig::new(MP4)
            .render_delay(Duration::from_secs(60))
            .faults(faults),
    )
    .await
    .unwrap();
    let provider = DidProvider::new(fake.provider_config().no_timeouts().build().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    let mut options = RunOptions::in_dir(dir.path().join("work"));
    options.retry.max_attempts = 8;
    let composer = Arc::new(MockComposer::new());
    Scheduler::new(Arc::new(provider), composer.clone())
        .options(options)
        .run(&deck, &dir.path().join("out.mp4"))
        .await
        .unwrap_or_else(|e| panic!("render failed: {e}\nfake saw {:?}", fake.stats()));
    assert_eq!(composer.joined(), vec![1, 2, 3, 4, 5]);
    let stats = fake.stats();
    assert_eq!(
        stats.talks, 5,
        "one render per slide, the lost answer found: {stats:?}"
    );
    assert!(
        stats.creates_by_token.values().all(|n| *n == 1),
        "{stats:?}"
    );
    assert!(
        stats.injected_429 > 0 && stats.expired_downloads > 0,
        "{stats:?}"
    );
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "{stats:?}"
    );
}
