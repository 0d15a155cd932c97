//! The provider against the fake Elai server: the whole lifecycle over real
//! HTTP, and each fault the fake injects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, RenderHandle, RenderStatus,
};
use slidecast_elai::fake::{FakeElai, FakeElaiConfig, Faults};
use slidecast_elai::{ApiKey, ElaiProvider};

const CLIP: &[u8] = b"slidecast mock clip\nslide=0\nduration=2\n";

fn request(slide: usize) -> ClipRequest {
    ClipRequest {
        slide,
        title: "Fake deck".into(),
        provider: "elai".into(),
        script: format!("This is slide number {slide} of the fake deck."),
        avatar: "gia.casual".into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    }
}

async fn fake(faults: Faults) -> (FakeElai, ElaiProvider) {
    let fake = FakeElai::start(
        FakeElaiConfig::new(CLIP)
            .render_delay(Duration::from_millis(300))
            .faults(faults),
    )
    .await
    .unwrap();
    let provider = ElaiProvider::new(fake.provider_config().build().unwrap()).unwrap();
    (fake, provider)
}

/// Poll like the scheduler does until the render leaves `Rendering`.
async fn wait(p: &ElaiProvider, h: &RenderHandle) -> Result<RenderStatus, ProviderError> {
    loop {
        match p.status(h).await? {
            RenderStatus::Rendering { eta, .. } => {
                tokio::time::sleep(eta.unwrap_or(p.limits().poll_interval)).await
            }
            RenderStatus::Queued => tokio::time::sleep(p.limits().poll_interval).await,
            done => return Ok(done),
        }
    }
}

/// A new process's provider against `fake`.
fn process(fake: &FakeElai) -> ElaiProvider {
    ElaiProvider::new(fake.provider_config().build().unwrap()).unwrap()
}

/// A fake where a process sent the create of `request(n)` and died before
/// its answer (the video exists, nobody knows its id).
async fn fake_with_a_lost_create(n: usize) -> FakeElai {
    let (fake, first) = fake(Faults {
        lost_create_answers: 1,
        ..Faults::default()
    })
    .await;
    first.initiate(&request(n)).await.unwrap_err();
    fake
}

/// Create, start, wait for and fetch `r` into `dest`.
async fn render(p: &ElaiProvider, r: &ClipRequest, dest: &Path) {
    let h = p.initiate(r).await.unwrap();
    p.start(&h).await.unwrap();
    assert_eq!(wait(p, &h).await.unwrap(), RenderStatus::Ready);
    p.fetch(&h, dest).await.unwrap();
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn a_clip_goes_through_the_whole_lifecycle() {
    let (fake, p) = fake(Faults::default()).await;
    let h = p.initiate(&request(1)).await.unwrap();
    // Created but not started: the fake keeps it a draft.
    assert!(matches!(
        p.status(&h).await.unwrap(),
        RenderStatus::Rendering { .. }
    ));
    p.start(&h).await.unwrap();
    assert_eq!(wait(&p, &h).await.unwrap(), RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    p.fetch(&h, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), CLIP);
    let stats = fake.stats();
    assert_eq!((stats.creates, stats.renders, stats.downloads), (1, 1, 1));
    assert_eq!(stats.creates_by_slide, BTreeMap::from([(1, 1)]));
    assert_eq!(
        fake.video_name(&h.id).as_deref(),
        Some("Fake deck - slide 1")
    );
    p.cancel(&h).await.unwrap();
    assert_eq!(fake.stats().deletes, 1);
    assert!(fake.video_ids().is_empty());
}

#[tokio::test]
async fn a_truncated_download_is_transient_and_the_retry_succeeds() {
    let (_fake, p) = fake(Faults {
        truncated_downloads: 1,
        ..Faults::default()
    })
    .await;
    let h = p.initiate(&request(2)).await.unwrap();
    p.start(&h).await.unwrap();
    wait(&p, &h).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let err = p.fetch(&h, &dest).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient { message } if message.contains("cut short")),
        "{err:?}"
    );
    assert_eq!(files_in(dir.path()), 0, "no partial file may remain");
    p.fetch(&h, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), CLIP);
}

#[tokio::test]
async fn an_expired_url_is_refreshed_within_one_fetch() {
    let (fake, p) = fake(Faults {
        expired_urls: 1,
        ..Faults::default()
    })
    .await;
    let h = p.initiate(&request(1)).await.unwrap();
    p.start(&h).await.unwrap();
    wait(&p, &h).await.unwrap();
    let reads = fake.stats().status_reads;
    let dir = tempfile::tempdir().unwrap();
    p.fetch(&h, &dir.path().join("clip.mp4")).await.unwrap();
    assert_eq!(
        fake.stats().status_reads,
        reads + 1,
        "one status read for a fresh URL"
    );
}

#[tokio::test]
async fn failed_renders_fail_and_a_resubmission_succeeds() {
    let (fake, p) = fake(Faults {
        fail_renders: BTreeMap::from([(3, 1)]),
        ..Faults::default()
    })
    .await;
    let h = p.initiate(&request(3)).await.unwrap();
    p.start(&h).await.unwrap();
    let RenderStatus::Failed { reason } = wait(&p, &h).await.unwrap() else {
        panic!("the first render of slide 3 fails")
    };
    assert!(
        reason.contains("slide 3") && reason.contains(&h.id),
        "{reason}"
    );
    let h2 = p.initiate(&request(3)).await.unwrap();
    p.start(&h2).await.unwrap();
    assert_eq!(wait(&p, &h2).await.unwrap(), RenderStatus::Ready);
    assert_eq!(fake.stats().creates_by_slide[&3], 2);
}

/// As real traffic shows: a request Elai cannot render is created, fails
/// after the render call with `error` and the reason in `data.appError`;
/// the provider reports it as a rejection quoting Elai.
#[tokio::test]
async fn requests_elai_cannot_render_are_rejected_with_its_reason() {
    let (fake, p) = fake(Faults::default()).await;
    // 200 words is about 92 s of speech; gia.casual allows 60 s.
    let mut long = request(2);
    long.script = vec!["word"; 200].join(" ");
    let mut bad_voice = request(3);
    bad_voice.voice = Some("xx-XX-NobodyNeural".into());
    let mut ok = request(4);
    ok.avatar = "dan.casual".into();
    ok.script = long.script.clone(); // dan allows 300 s
    let cases = [
        (
            long,
            Some("Slide 1 is too long. Please limit speech to 60s."),
        ),
        (bad_voice, Some("Voice xx-XX-NobodyNeural is not available")),
        (ok, None),
    ];
    for (req, reason) in cases {
        let h = p.initiate(&req).await.unwrap();
        p.start(&h).await.unwrap();
        match (wait(&p, &h).await.unwrap(), reason) {
            (RenderStatus::Rejected { reason: got }, Some(want)) => {
                assert!(got.contains(want), "{got}")
            }
            (RenderStatus::Ready, None) => {}
            (other, want) => panic!("slide {}: {other:?}, wanted {want:?}", req.slide),
        }
    }
    assert_eq!(fake.stats().creates, 3, "one create each");
}

#[tokio::test]
async fn a_render_that_never_finishes_hits_the_deadline() {
    let fake = FakeElai::start(FakeElaiConfig::new(CLIP).faults(Faults {
        never_finish: BTreeSet::from([4]),
        ..Faults::default()
    }))
    .await
    .unwrap();
    let p = ElaiProvider::new(
        fake.provider_config()
            .deadline(
                Duration::from_millis(400),
                Duration::ZERO,
                Duration::from_millis(400),
            )
            .build()
            .unwrap(),
    )
    .unwrap();
    let h = p.initiate(&request(4)).await.unwrap();
    p.start(&h).await.unwrap();
    let err = wait(&p, &h).await.unwrap_err();
    let ProviderError::Permanent { kind, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*kind, PermanentKind::DeadlineExceeded);
    assert!(
        message.contains(&h.id) && message.contains("slide 4"),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_that_does_not_echo_it() {
    let fake = FakeElai::start(FakeElaiConfig::new(CLIP)).await.unwrap();
    let p = ElaiProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("wrong-SECRET-key").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = p.initiate(&request(1)).await.unwrap_err();
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::Authentication,
            ..
        }
    ));
    assert!(!err.to_string().contains("SECRET"));
    assert_eq!(fake.stats().unauthorized, 1);
}

#[tokio::test]
async fn discovery_reads_the_shapes_real_traffic_shows() {
    let (fake, p) = fake(Faults::default()).await;
    let mut r = request(1);
    // A bare code: the avatar-level canvas is null, so a variant's is used.
    r.avatar = "dan".into();
    p.initiate(&r).await.unwrap();
    let bodies = fake.stats().create_bodies;
    let slide = &bodies[0]["slides"][0];
    assert_eq!(slide["avatar"]["code"], "dan");
    assert_eq!(slide["voice"], "en-US-AriaNeural");
    assert!(slide["avatar"]["canvas"]
        .as_str()
        .unwrap()
        .ends_with("dan.casual.png"));

    let avatars = p.list_avatars().await.unwrap();
    assert_eq!(avatars.len(), 3);
    let gia = avatars.iter().find(|a| a.code == "gia").unwrap();
    assert_eq!((gia.status, gia.canvas.as_deref()), (Some(2), None));
    assert_eq!(gia.limit_of(Some("casual")), Some(60));
    let tom = avatars.iter().find(|a| a.code == "tom").unwrap();
    assert_eq!(tom.status, Some(1), "in training");

    let voices = p.list_voices().await.unwrap();
    assert_eq!(voices.len(), 4);
    let aria = voices.iter().find(|v| v.id == "en-US-AriaNeural").unwrap();
    assert_eq!(aria.name, "Aria", "`character` is the display name");
    assert_eq!(
        aria.language.as_deref(),
        Some("en-US"),
        "the locale stands in"
    );
    assert_eq!(aria.gender.as_deref(), Some("female"));
}

/// Shapes no rendering request had are refused by the fake, so a client
/// that sends them fails its tests.
#[tokio::test]
async fn the_fake_refuses_request_shapes_never_seen_rendering() {
    let (fake, p) = fake(Faults::default()).await;
    p.initiate(&request(1)).await.unwrap();
    let good = fake.stats().create_bodies[0].clone();
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        client
            .post(format!("{}/videos", fake.base_url()))
            .bearer_auth(fake.api_key())
            .json(&body)
            .send()
    };
    let mut hd = good.clone();
    hd["data"]["resolution"] = "HD".into();
    let mut no_size = good.clone();
    no_size["slides"][0]["canvas"]["objects"][0]
        .as_object_mut()
        .unwrap()
        .remove("width");
    let mut no_gender = good.clone();
    no_gender["slides"][0]["avatar"]
        .as_object_mut()
        .unwrap()
        .remove("gender");
    for body in [hd, no_size, no_gender] {
        assert_eq!(post(body).await.unwrap().status(), 400);
    }
    assert_eq!(post(good).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_lost_create_answer_does_not_create_the_slide_twice() {
    let (fake, p) = fake(Faults {
        lost_create_answers: 1,
        ..Faults::default()
    })
    .await;
    let err = p.initiate(&request(2)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient { .. }), "{err:?}");
    assert_eq!(
        fake.stats().creates,
        1,
        "the video was made despite the 502"
    );
    // The retry finds the video by its token instead of creating another.
    let h = p.initiate(&request(2)).await.unwrap();
    assert_eq!(fake.stats().creates, 1);
    assert_eq!(fake.video_ids(), vec![h.id.clone()]);
    p.start(&h).await.unwrap();
    assert_eq!(wait(&p, &h).await.unwrap(), RenderStatus::Ready);
    // A different request is created normally.
    p.initiate(&request(3)).await.unwrap();
    assert_eq!(fake.stats().creates, 2);
}

#[tokio::test]
async fn another_process_finds_a_create_whose_sender_died() {
    // The first process sends the create and dies before the answer.
    let fake = fake_with_a_lost_create(2).await;
    // A second process, which never heard of it, finds it by the token
    // derived from the request: a draft, not started.
    let second = process(&fake);
    let (h, started) = second
        .find_lost_create(&request(2))
        .await
        .unwrap()
        .expect("the lost create is found");
    assert!(!started);
    assert_eq!(fake.video_ids(), vec![h.id.clone()]);
    assert_eq!(second.find_lost_create(&request(3)).await.unwrap(), None);
    second.start(&h).await.unwrap();
    assert_eq!(wait(&second, &h).await.unwrap(), RenderStatus::Ready);
    // Once started it is found as started.
    let (again, started) = second.find_lost_create(&request(2)).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), started), (h.id.as_str(), true));
    assert_eq!(fake.stats().creates, 1);
}

/// With a clip maker, each video serves its own clip, made from what its
/// request asked for: the speech length, the background colour and the
/// avatar's box in the 1920x1080 frame (editor units times 3), as real
/// renders place it.
#[tokio::test]
async fn each_video_serves_its_own_clip_made_from_its_request() {
    use slidecast_elai::fake::RenderedVideo;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<RenderedVideo>>> = Arc::default();
    let record = seen.clone();
    let fake = FakeElai::start(
        FakeElaiConfig::new(CLIP)
            .render_delay(Duration::from_millis(300))
            .clips(move |look| {
                record.lock().unwrap().push(look.clone());
                format!("clip of {} ms", look.speech.as_millis()).into_bytes()
            }),
    )
    .await
    .unwrap();
    let p = process(&fake);
    let mut short = request(1);
    short.avatar_background = Rgb::new(0x12, 0x34, 0x56);
    let mut long = request(2);
    long.script = vec!["word"; 65].join(" "); // 30 s at 130 wpm
    let dir = tempfile::tempdir().unwrap();
    let mut served = Vec::new();
    for (i, r) in [short, long].iter().enumerate() {
        let dest = dir.path().join(format!("{i}.mp4"));
        render(&p, r, &dest).await;
        served.push(String::from_utf8(std::fs::read(&dest).unwrap()).unwrap());
    }
    assert_eq!(served[1], "clip of 30000 ms");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "each clip made once: {seen:?}");
    assert_eq!(seen[0].background, "#123456");
    assert_eq!(seen[1].background, "#00FF00");
    // slidecast asks for the avatar full height, centred on the 640x360
    // editor canvas: a 1080x1080 box at x = 420 of the 1920x1080 frame.
    assert_eq!(seen[0].avatar_box, (420, 0, 1080, 1080));
    assert_eq!(RenderedVideo::FRAME, (1920, 1080));
}

/// The avatar object is sized from the avatar's own canvas image: an older
/// avatar's 360 px image is sent as 360 x 360 at scale 1, so Elai draws it
/// as tall as the frame, like a 1080 px one at scale 1/3.
#[tokio::test]
async fn the_avatar_object_is_sized_from_its_canvas_image() {
    use slidecast_elai::fake::RenderedVideo;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<RenderedVideo>>> = Arc::default();
    let record = seen.clone();
    let fake = FakeElai::start(FakeElaiConfig::new(CLIP).clips(move |look| {
        record.lock().unwrap().push(look.clone());
        CLIP.to_vec()
    }))
    .await
    .unwrap();
    let p = process(&fake);
    let mut old = request(1);
    old.avatar = "dan.casual".into();
    let new = request(2);
    let dir = tempfile::tempdir().unwrap();
    for r in [&old, &new] {
        render(&p, r, &dir.path().join("c.mp4")).await;
    }
    let bodies = fake.stats().create_bodies;
    let object = |i: usize| bodies[i]["slides"][0]["canvas"]["objects"][0].clone();
    assert_eq!(
        (object(0)["width"].as_f64(), object(0)["scaleX"].as_f64()),
        (Some(360.0), Some(1.0))
    );
    assert_eq!(object(1)["width"].as_f64(), Some(1080.0));
    for look in seen.lock().unwrap().iter() {
        assert_eq!(look.avatar_box, (420, 0, 1080, 1080), "{look:?}");
    }
}

/// A lost create under many newer videos is found on a later list page,
/// and the search reads a bounded number of pages.
#[tokio::test]
async fn a_lost_create_is_found_a_few_list_pages_back_and_the_search_is_bounded() {
    let fake = fake_with_a_lost_create(1).await;
    // 70 newer videos: the lost one is on page 2 of 50.
    let other = process(&fake);
    for n in 2..=71 {
        other.initiate(&request(n)).await.unwrap();
    }
    let second = process(&fake);
    let reads = fake.stats().list_reads;
    let (h, started) = second
        .find_lost_create(&request(1))
        .await
        .unwrap()
        .expect("found on the second page");
    assert!(!started);
    assert_eq!(
        fake.video_name(&h.id).as_deref(),
        Some("Fake deck - slide 1")
    );
    assert_eq!(fake.stats().list_reads - reads, 2);
    // A create that never happened: every page read once, then none.
    let reads = fake.stats().list_reads;
    assert_eq!(second.find_lost_create(&request(99)).await.unwrap(), None);
    assert_eq!(
        fake.stats().list_reads - reads,
        2,
        "71 videos fill two pages"
    );
    assert_eq!(fake.stats().creates, 71);
}
