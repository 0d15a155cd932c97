//! The HeyGen provider against the fake HeyGen on 127.0.0.1: lifecycle,
//! every error class, expired URLs, lost create answers, WebM where the
//! avatar has it, and the real scheduler starting every render at once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::testing::MockComposer;
use slidecast_core::{
    AvatarProvider, ClipRequest, Deck, PermanentKind, ProviderError, RenderStatus, RunOptions,
    Scheduler,
};
use slidecast_heygen::fake::{FakeHeyGen, FakeHeyGenConfig, Faults, RateLimitBurst, VOICES};
use slidecast_heygen::{ApiKey, HeyGenProvider};
use slidecast_vendor::fake::until_done;

const MP4: &[u8] = b"slidecast mock clip\nslide=0\nduration=4\n";
const WEBM: &[u8] = b"\x1aE\xdf\xa3 stand-in webm with alpha";

fn request(slide: usize, avatar: &str, script: &str) -> ClipRequest {
    ClipRequest {
        slide,
        title: "HeyGen test".into(),
        provider: "heygen".into(),
        script: script.into(),
        avatar: avatar.into(),
        voice: Some(VOICES[1].0.into()),
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    }
}

async fn fake(config: FakeHeyGenConfig) -> (FakeHeyGen, HeyGenProvider) {
    let fake = FakeHeyGen::start(config).await.unwrap();
    let provider = HeyGenProvider::new(fake.provider_config().build().unwrap()).unwrap();
    (fake, provider)
}

fn quick() -> FakeHeyGenConfig {
    FakeHeyGenConfig::new(MP4).render_delay(Duration::from_millis(200))
}

#[tokio::test]
async fn a_render_is_created_started_polled_and_downloaded() {
    let (fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Hello from HeyGen."))
        .await
        .unwrap();
    assert_eq!(h.provider, "heygen");
    p.start(&h).await.unwrap(); // the create started it: nothing to do
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    p.fetch(&h, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), MP4);
    assert_eq!(p.clip_extension(&h), "mp4");
    let stats = fake.stats();
    assert_eq!(
        (stats.creates, stats.downloads, stats.credits_used),
        (1, 1, 1)
    );
    let body = &stats.create_bodies[0];
    assert_eq!(body["video_inputs"][0]["background"]["value"], "#00FF00");
    assert_eq!(
        body["video_inputs"][0]["character"]["avatar_id"],
        "Daisy-inskirt-20220818"
    );
    assert_eq!(body["dimension"]["width"], 640);
    assert!(body["title"].as_str().unwrap().ends_with(" - slide 1"));
}

#[tokio::test]
async fn a_transparent_avatar_renders_webm_and_one_without_falls_back_to_mp4_once() {
    let (fake, p) = fake(quick().webm(WEBM)).await;
    let dir = tempfile::tempdir().unwrap();
    let alpha = p
        .initiate(&request(1, "Angela-inTshirt-20220820", "With alpha."))
        .await
        .unwrap();
    assert_eq!(p.clip_extension(&alpha), "webm");
    assert_eq!(until_done(&p, &alpha).await, RenderStatus::Ready);
    p.fetch(&alpha, &dir.path().join("a.webm")).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("a.webm")).unwrap(), WEBM);

    // Daisy has no WebM: refused once (unpaid), then MP4 from then on.
    for slide in [2, 3] {
        let h = p
            .initiate(&request(
                slide,
                "Daisy-inskirt-20220818",
                &format!("Slide {slide}."),
            ))
            .await
            .unwrap();
        assert_eq!(p.clip_extension(&h), "mp4");
    }
    let stats = fake.stats();
    assert_eq!(
        (stats.creates, stats.webm_creates, stats.webm_refused),
        (3, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn an_expired_download_url_is_replaced_by_a_fresh_status_read() {
    let (fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Expiring."))
        .await
        .unwrap();
    assert_eq!(until_done(&p, &h).await, RenderStatus::Ready);
    // Another status read issues a new URL: the one the provider holds expires.
    let other = HeyGenProvider::new(fake.provider_config().build().unwrap()).unwrap();
    assert_eq!(other.status(&h).await.unwrap(), RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    p.fetch(&h, &dir.path().join("c.mp4")).await.unwrap();
    let stats = fake.stats();
    assert_eq!(
        (stats.expired_downloads, stats.downloads),
        (1, 1),
        "{stats:?}"
    );

    // Refused twice in a row: a transient error, nothing written.
    fake.set_faults(Faults {
        expired_urls: 2,
        ..Faults::default()
    });
    let dest = dir.path().join("again.mp4");
    let err = p.fetch(&h, &dest).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient { message } if message.contains("refused twice")),
        "{err}"
    );
    assert!(!dest.exists());
    p.fetch(&h, &dest).await.unwrap();
}

#[tokio::test]
async fn a_lost_create_answer_is_found_instead_of_paid_again() {
    let (fake, p) = fake(quick().faults(Faults {
        lost_create_answers: 1,
        ..Faults::default()
    }))
    .await;
    let r = request(4, "Daisy-inskirt-20220818", "Only once.");
    let err = p.initiate(&r).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient { .. }), "{err}");
    let h = p.initiate(&r).await.unwrap();
    assert_eq!(fake.stats().creates, 1, "the retry found the video");
    assert_eq!(fake.video_ids(), vec![h.id.clone()]);

    // Another process (the first one died) finds it too, already started.
    let other = HeyGenProvider::new(fake.provider_config().build().unwrap()).unwrap();
    let (found, started) = other.find_lost_create(&r).await.unwrap().unwrap();
    assert_eq!((found.id, started), (h.id, true));
    let unknown = request(5, "Daisy-inskirt-20220818", "Never sent.");
    assert!(other.find_lost_create(&unknown).await.unwrap().is_none());
}

#[tokio::test]
async fn too_long_inside_a_200_answer_is_rejected_not_resubmitted() {
    let long = vec!["word"; 700].join(" "); // about 323 s at 130 wpm
    let (_fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(2, "Daisy-inskirt-20220818", &long))
        .await
        .unwrap();
    match until_done(&p, &h).await {
        RenderStatus::Rejected { reason } => {
            assert!(
                reason.contains("too long") && reason.contains("40119"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failed_render_is_failed_for_resubmission() {
    let faults = Faults {
        fail_renders: [(3, 1)].into_iter().collect(),
        ..Faults::default()
    };
    let (_fake, p) = fake(quick().faults(faults)).await;
    let r = request(3, "Daisy-inskirt-20220818", "Fails once.");
    let h = p.initiate(&r).await.unwrap();
    assert!(matches!(
        until_done(&p, &h).await,
        RenderStatus::Failed { .. }
    ));
    let again = p.initiate(&r).await.unwrap();
    assert_eq!(until_done(&p, &again).await, RenderStatus::Ready);
}

#[tokio::test]
async fn no_credits_unknown_voice_and_unknown_avatar_are_permanent_with_their_reason() {
    let (_broke, p) = fake(quick().credits(0)).await;
    let err = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Hi."))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::QuotaExhausted, message } if message.contains("slide 1")),
        "{err}"
    );
    let (_fake, p) = fake(quick()).await;
    let mut bad_voice = request(2, "Daisy-inskirt-20220818", "Hi.");
    bad_voice.voice = Some("no-such-voice".into());
    let err = p.initiate(&bad_voice).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message } if message.contains("Voice no-such-voice not found")),
        "{err}"
    );
    let err = p
        .initiate(&request(3, "Nobody-20990101", "Hi."))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message } if message.contains("Avatar not found")),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_naming_the_variable() {
    let (fake, _) = fake(quick()).await;
    let p = HeyGenProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("wrong-SECRET-key").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Hi."))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            ProviderError::Permanent {
                kind: PermanentKind::Authentication,
                ..
            }
        ) && text.contains("HEYGEN_API_KEY")
            && !text.contains("SECRET"),
        "{text}"
    );
}

#[tokio::test]
async fn check_names_slide_and_field_for_every_problem_before_anything_is_created() {
    let (fake, p) = fake(quick()).await;
    let mut no_voice = request(2, "photo:c1d2e3f4a5b6", "Fine photo.");
    no_voice.voice = Some("Sarah".into());
    let requests = [
        request(1, "Angela-inTshirt-20220820", "Fine."),
        no_voice,
        request(3, "Angela-inTshirt-2022082", "Typo."),
        request(4, "Daisy-inskirt-20220818", &"x".repeat(5001)),
    ];
    let problems = p.check(&requests).await.unwrap();
    let named: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.slide, p.field.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (2, "presenter.voice"),
            (3, "presenter.avatar"),
            (4, "script")
        ],
        "{problems:?}"
    );
    assert!(
        problems[1]
            .message
            .contains("nearest: Angela-inTshirt-20220820"),
        "{problems:?}"
    );
    assert_eq!(fake.stats().creates, 0);
}

#[tokio::test]
async fn discovery_lists_avatars_photos_and_voices() {
    let (_fake, p) = fake(quick()).await;
    let avatars = p.list_avatars().await.unwrap();
    assert!(avatars
        .iter()
        .any(|a| a.code == "photo:c1d2e3f4a5b6" && a.talking_photo));
    assert_eq!(avatars.len(), 4);
    let table = slidecast_heygen::AvatarTable(&avatars).to_string();
    assert!(table.contains("Tyler-incasualsuit-20220721"), "{table}");
    let voices = p.list_voices().await.unwrap();
    assert_eq!(voices.len(), 3);
    assert!(slidecast_heygen::VoiceTable(&voices)
        .to_string()
        .contains("German"));
}

#[tokio::test]
async fn cancel_deletes_the_video_and_a_gone_one_is_fine() {
    let (fake, p) = fake(quick()).await;
    let h = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Cancel me."))
        .await
        .unwrap();
    p.cancel(&h).await.unwrap();
    assert!(fake.video_ids().is_empty());
    p.cancel(&h).await.unwrap();
    assert_eq!(fake.stats().deletes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_render_that_never_finishes_passes_its_deadline_naming_the_video() {
    let faults = Faults {
        never_finish: [1].into_iter().collect(),
        ..Faults::default()
    };
    let fake = FakeHeyGen::start(quick().faults(faults)).await.unwrap();
    let p = HeyGenProvider::new(fake.provider_config().no_timeouts().build().unwrap()).unwrap();
    let h = p
        .initiate(&request(1, "Daisy-inskirt-20220818", "Stuck."))
        .await
        .unwrap();
    let err = loop {
        match p.status(&h).await {
            Ok(RenderStatus::Rendering { eta, .. }) => tokio::time::sleep(eta.unwrap()).await,
            Ok(other) => panic!("{other:?}"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::DeadlineExceeded, message } if message.contains(&h.id)),
        "{err}"
    );
}

/// A 6-slide deck presented by `heygen`, with stand-in image files.
fn deck(dir: &Path) -> Deck {
    std::fs::create_dir_all(dir.join("slides")).unwrap();
    let mut toml = format!(
        "title = \"HeyGen e2e\"\n[output]\nwidth = 640\nheight = 360\n\
         [presenter]\nprovider = \"heygen\"\navatar = \"Daisy-inskirt-20220818\"\nvoice = \"{}\"\n",
        VOICES[0].0
    );
    for i in 1..=6 {
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

/// The real scheduler under a paused clock: 429s, 5xx and an expired URL
/// on the way, every render created before the first is ready, each once.
#[tokio::test(start_paused = true)]
async fn the_scheduler_starts_every_render_at_once_through_faults() {
    let faults = Faults {
        rate_limit_burst: Some(RateLimitBurst {
            after: 2,
            count: 3,
            retry_after_secs: 2,
        }),
        server_error_rate: 0.1,
        seed: 11,
        expired_urls: 1,
        truncated_downloads: 1,
        ..Faults::default()
    };
    let fake = FakeHeyGen::start(
        FakeHeyGenConfig::new(MP4)
            .render_delay(Duration::from_secs(90))
            .faults(faults),
    )
    .await
    .unwrap();
    let provider =
        HeyGenProvider::new(fake.provider_config().no_timeouts().build().unwrap()).unwrap();
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
    assert_eq!(composer.joined(), vec![1, 2, 3, 4, 5, 6]);
    let stats = fake.stats();
    assert!(
        stats.creates_by_slide.values().all(|n| *n == 1) && stats.creates == 6,
        "{stats:?}"
    );
    assert!(
        stats.injected_429 > 0 && stats.expired_downloads > 0,
        "faults were injected: {stats:?}"
    );
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "every render initiated before the first was ready: {stats:?}"
    );
    for n in 1..=6 {
        assert_eq!(
            std::fs::read(&report.clips[&n][0]).unwrap(),
            MP4,
            "slide {n}"
        );
    }
}
