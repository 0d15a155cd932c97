//! The Elai client against wiremock: exact request shapes, every status
//! value, every error class, Retry-After, URL refresh and key redaction.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use slidecast_core::deck::Rgb;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, RenderHandle, RenderStatus,
};
use slidecast_elai::{ApiKey, AvatarTable, ElaiConfig, ElaiConfigBuilder, ElaiProvider};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "sk-test-SECRET-4242";

fn builder(server: &MockServer) -> ElaiConfigBuilder {
    ElaiConfig::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(ApiKey::new(SECRET).unwrap())
        .read_env(false)
        .rate_limit(1000.0, 100)
        .request_timeout(Duration::from_secs(5))
}

fn provider(server: &MockServer) -> ElaiProvider {
    ElaiProvider::new(builder(server).build().unwrap()).unwrap()
}

fn request(slide: usize) -> ClipRequest {
    ClipRequest {
        slide,
        title: "Quarterly update".into(),
        provider: "elai".into(),
        script: "Welcome to the quarterly update. Revenue grew.".into(),
        avatar: "gia.casual".into(),
        voice: Some("en-US-JennyNeural".into()),
        voice_provider: Some("azure".into()),
        language: Some("English".into()),
        avatar_background: Rgb::GREEN,
        canvas: (576, 324),
    }
}

fn handle(id: &str, slide: usize) -> RenderHandle {
    let mut h = RenderHandle::new("elai", id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    h.data = json!({"slide": slide, "script_chars": 40, "speech_secs": 3.0,
                    "deadline_secs": 600.0, "created_at": now});
    h
}

fn avatars_body(server: &MockServer) -> Value {
    json!([{
        "id": "1", "code": "gia", "name": "Gia", "gender": "female",
        "canvas": format!("{}/img/gia.png", server.uri()),
        "variants": [
            {"code": "casual", "name": "Casual", "canvas": format!("{}/img/gia.casual.png", server.uri())},
            {"code": "business", "name": "Business", "canvas": format!("{}/img/gia.business.png", server.uri())}
        ]
    }])
}

async fn mount_avatars(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v1/avatars"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(avatars_body(server)))
        .mount(server)
        .await;
}

/// Answers successive requests with successive templates (the last repeats).
struct Sequence {
    answers: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

impl Sequence {
    fn new(answers: Vec<ResponseTemplate>) -> Self {
        Sequence {
            answers,
            next: AtomicUsize::new(0),
        }
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        self.answers[i.min(self.answers.len() - 1)].clone()
    }
}

fn status_body(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"_id": "vid1", "status": status}))
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "the API key leaked: {text}");
    assert!(!text.contains("SECRET"), "the API key leaked: {text}");
}

#[tokio::test]
async fn create_sends_the_documented_video_json() {
    let server = MockServer::start().await;
    mount_avatars(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(
            json!({"name": "Quarterly update - slide 2"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"_id": "64f0c0ffee", "status": "draft"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server);
    let h = p.initiate(&request(2)).await.unwrap();
    assert_eq!(h.provider, "elai");
    assert_eq!(h.id, "64f0c0ffee");
    assert_eq!(h.data["slide"], 2);
    assert!(h.data["deadline_secs"].as_f64().unwrap() >= 600.0);
    assert!(h.data["created_at"].as_u64().unwrap() > 0);

    let received = server.received_requests().await.unwrap();
    let create = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        create.headers.get("accept").unwrap().to_str().unwrap(),
        "application/json"
    );
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["tags"][0], "slidecast");
    assert!(body["tags"][1]
        .as_str()
        .unwrap()
        .starts_with("slidecast-req-"));
    let slides = body["slides"].as_array().unwrap();
    assert_eq!(slides.len(), 1);
    let s = &slides[0];
    assert_eq!(s["id"], 1);
    assert_eq!(s["speech"], request(2).script);
    assert_eq!(s["voice"], "en-US-JennyNeural");
    assert_eq!(s["voiceProvider"], "azure");
    assert_eq!(s["voiceType"], "text");
    assert_eq!(s["language"], "English");
    assert_eq!(s["avatar"]["code"], "gia.casual");
    assert_eq!(s["avatar"]["name"], "Gia");
    assert_eq!(s["avatar"]["gender"], "female");
    let canvas_url = format!("{}/img/gia.casual.png", server.uri());
    assert_eq!(s["avatar"]["canvas"], canvas_url.as_str());
    assert_eq!(s["canvas"]["background"], "#00FF00");
    let obj = &s["canvas"]["objects"][0];
    assert_eq!(obj["type"], "avatar");
    assert_eq!(obj["src"], canvas_url.as_str());
    // The avatar fills the 640x360 editor canvas: full height, centred.
    let scale = obj["scaleX"].as_f64().unwrap();
    assert_eq!(obj["scaleY"].as_f64().unwrap(), scale);
    assert!((scale * 1080.0 - 360.0).abs() < 1e-9);
    assert_eq!(obj["top"].as_f64().unwrap(), 0.0);
    assert!((obj["left"].as_f64().unwrap() * 2.0 + 360.0 - 640.0).abs() < 1e-9);
    // The shape every request that rendered had (elai-api.md): the canvas
    // image's size on the object, gender always, FullHD only.
    assert_eq!(obj["width"], 1080.0);
    assert_eq!(obj["height"], 1080.0);
    assert_eq!(obj["avatarType"], "transparent");
    assert!(obj.get("fill").is_none());
    assert_eq!(body["data"]["resolution"], "FullHD");
    assert_eq!(body["data"]["subtitlesEnabled"], "false");
    assert!(body["data"].get("format").is_none());
}

#[tokio::test]
async fn defaults_fill_missing_voice_and_the_id_field_is_accepted() {
    let server = MockServer::start().await;
    mount_avatars(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos"))
        .and(body_partial_json(json!({"slides": [{"voice": "en-US-AriaNeural", "voiceProvider": "azure", "language": "English"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "alt-id-7"})))
        .mount(&server)
        .await;
    let mut r = request(1);
    r.voice = None;
    r.voice_provider = None;
    r.language = None;
    let h = provider(&server).initiate(&r).await.unwrap();
    assert_eq!(h.id, "alt-id-7");
}

#[tokio::test]
async fn avatar_list_is_fetched_once_and_unknown_codes_are_bad_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/avatars"))
        .respond_with(ResponseTemplate::new(200).set_body_json(avatars_body(&server)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"_id": "v1"})))
        .expect(2)
        .mount(&server)
        .await;
    let p = provider(&server);
    p.initiate(&request(1)).await.unwrap();
    p.initiate(&request(2)).await.unwrap();
    let mut r = request(3);
    r.avatar = "gia.formal".into();
    let err = p.initiate(&r).await.unwrap_err();
    let ProviderError::Permanent { kind, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*kind, PermanentKind::BadRequest);
    assert!(
        message.contains("slide 3") && message.contains("gia.formal"),
        "{message}"
    );
    assert!(message.contains("slidecast elai avatars"), "{message}");
}

#[tokio::test]
async fn start_of_a_resumed_draft_looks_then_posts_the_render_call() {
    let server = MockServer::start().await;
    // A video this client did not create: it looks first.
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status_body("draft"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos/render/vid1"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).start(&handle("vid1", 1)).await.unwrap();
}

#[tokio::test]
async fn a_resumed_render_already_under_way_is_not_started_again() {
    let server = MockServer::start().await;
    // Its creator started it, then died before recording the start.
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status_body("rendering"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos/render/vid1"))
        .respond_with(ResponseTemplate::new(202))
        .expect(0)
        .mount(&server)
        .await;
    provider(&server).start(&handle("vid1", 1)).await.unwrap();
}

#[tokio::test]
async fn a_refused_second_render_call_is_fine_when_the_render_runs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos/render/vid1"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "Video is already rendering"})),
        )
        .mount(&server)
        .await;
    // Looked at first (a resumed handle), refused, looked at again.
    let status = Sequence::new(vec![
        status_body("draft"),
        status_body("rendering"),
        status_body("draft"),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status)
        .mount(&server)
        .await;
    let p = provider(&server);
    p.start(&handle("vid1", 1)).await.unwrap();
    // Still a draft: the refusal stands, with Elai's message.
    let err = p.start(&handle("vid1", 1)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message } if message.contains("already rendering")),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_status_value_maps_and_polling_backs_off() {
    let server = MockServer::start().await;
    let seq = [
        "draft",
        "validating",
        "queued",
        "rendering",
        "moderation",
        "moderation",
        "rendering",
    ];
    let mut answers: Vec<_> = seq.iter().map(|s| status_body(s)).collect();
    answers.push(ResponseTemplate::new(200).set_body_json(
        json!({"_id": "vid1", "status": "rendered", "url": "http://example.invalid/v.mp4"}),
    ));
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(Sequence::new(answers))
        .mount(&server)
        .await;
    let p = provider(&server);
    let h = handle("vid1", 1);
    let mut etas = Vec::new();
    for _ in 0..seq.len() {
        match p.status(&h).await.unwrap() {
            RenderStatus::Rendering {
                progress: None,
                eta: Some(eta),
            } => etas.push(eta),
            other => panic!("expected rendering, got {other:?}"),
        }
    }
    assert_eq!(p.status(&h).await.unwrap(), RenderStatus::Ready);
    // Read back to back, the render is young: the shortest interval.
    assert!(
        etas.iter().all(|e| *e == Duration::from_secs(10)),
        "{etas:?}"
    );
    assert_eq!(p.limits().poll_interval, Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn polling_backs_off_from_10_to_60_seconds_as_a_render_ages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos/render/vid1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status_body("rendering"))
        .mount(&server)
        .await;
    let p = ElaiProvider::new(builder(&server).no_timeouts().build().unwrap()).unwrap();
    let h = handle("vid1", 1);
    p.start(&h).await.unwrap();
    let t0 = tokio::time::Instant::now();
    let mut etas = Vec::new();
    while t0.elapsed() < Duration::from_secs(600) {
        let RenderStatus::Rendering { eta: Some(eta), .. } = p.status(&h).await.unwrap() else {
            panic!("still rendering")
        };
        etas.push((t0.elapsed(), eta));
        tokio::time::sleep(eta).await;
    }
    assert_eq!(etas[0].1, Duration::from_secs(10));
    assert!(etas.windows(2).all(|w| w[0].1 <= w[1].1), "{etas:?}");
    assert_eq!(etas.last().unwrap().1, Duration::from_secs(60));
    // Quick while young: a one-minute render is seen within 10 s of ending.
    let first_minute = etas
        .iter()
        .filter(|(t, _)| *t < Duration::from_secs(60))
        .count();
    assert!(first_minute >= 5, "{etas:?}");
    // Gentle when old: ten minutes take a few dozen reads, not sixty.
    assert!(etas.len() < 25, "{} reads: {etas:?}", etas.len());
}

#[tokio::test]
async fn completed_and_ready_are_final_with_url_fallbacks() {
    for body in [
        json!({"_id": "vid1", "status": "ready", "url": "u"}),
        json!({"_id": "vid1", "status": "completed", "videoUrl": "u"}),
        json!({"_id": "vid1", "status": "ready", "playerData": {"url": "u"}}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/videos/vid1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        assert_eq!(
            provider(&server).status(&handle("vid1", 1)).await.unwrap(),
            RenderStatus::Ready
        );
    }
}

/// Every `error` seen in real traffic was a validation failure with its
/// reason in `data.appError`: final at the first read, never resubmitted,
/// and the reason quoted. `failed` (never seen) stays a resubmittable failure.
#[tokio::test]
async fn error_is_a_rejection_quoting_data_app_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "_id": "vid1", "status": "error",
            "data": {"appError": "Slide 1 is too long. Please limit speech to 60s.",
                     "internalError": "speech too long", "errorEmailSent": true}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid2"))
        .respond_with(status_body("error"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid3"))
        .respond_with(status_body("failed"))
        .mount(&server)
        .await;
    let p = provider(&server);
    let RenderStatus::Rejected { reason } = p.status(&handle("vid1", 4)).await.unwrap() else {
        panic!("`error` is final at the first read")
    };
    assert_eq!(
        reason,
        "Elai says \"Slide 1 is too long. Please limit speech to 60s.\""
    );
    let RenderStatus::Rejected { reason } = p.status(&handle("vid2", 1)).await.unwrap() else {
        panic!("`error` without a reason is final too")
    };
    assert!(reason.contains("no reason"), "{reason}");
    assert!(matches!(
        p.status(&handle("vid3", 1)).await.unwrap(),
        RenderStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn a_render_past_its_deadline_fails_with_the_video_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/stuck1"))
        .respond_with(status_body("rendering"))
        .mount(&server)
        .await;
    let p = provider(&server);
    // Resumed from an earlier run: created two hours ago, 10 min deadline.
    let mut h = handle("stuck1", 5);
    h.data["created_at"] = json!(h.data["created_at"].as_u64().unwrap() - 7200);
    let err = p.status(&h).await.unwrap_err();
    let ProviderError::Permanent { kind, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*kind, PermanentKind::DeadlineExceeded);
    assert!(
        message.contains("stuck1") && message.contains("slide 5"),
        "{message}"
    );
    assert!(message.contains("rendering"), "{message}");

    // A ready video is fetched whatever its age.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/stuck1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"_id": "stuck1", "status": "ready", "url": "u"})),
        )
        .mount(&server)
        .await;
    assert_eq!(
        provider(&server).status(&h).await.unwrap(),
        RenderStatus::Ready
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_runs_from_the_start_call_under_a_paused_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/videos/render/vid1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status_body("rendering"))
        .mount(&server)
        .await;
    let p = ElaiProvider::new(
        builder(&server)
            .no_timeouts()
            .deadline(
                Duration::from_secs(60),
                Duration::ZERO,
                Duration::from_secs(60),
            )
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut h = handle("vid1", 1);
    h.data["deadline_secs"] = json!(60.0);
    p.start(&h).await.unwrap();
    tokio::time::sleep(Duration::from_secs(50)).await;
    assert!(matches!(
        p.status(&h).await.unwrap(),
        RenderStatus::Rendering { .. }
    ));
    tokio::time::sleep(Duration::from_secs(20)).await;
    let err = p.status(&h).await.unwrap_err();
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::DeadlineExceeded,
            ..
        }
    ));
}

async fn error_for(status: u16, body: Value, extra: &[(&str, String)]) -> ProviderError {
    let server = MockServer::start().await;
    let mut t = ResponseTemplate::new(status).set_body_json(body);
    for (k, v) in extra {
        t = t.insert_header(*k, v.as_str());
    }
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(t)
        .mount(&server)
        .await;
    let err = provider(&server)
        .status(&handle("vid1", 2))
        .await
        .unwrap_err();
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
    err
}

#[tokio::test]
async fn http_errors_map_to_the_scheduler_classes() {
    let err = error_for(401, json!({"message": format!("bad key {SECRET}")}), &[]).await;
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::Authentication, message } if message.contains("ELAI_API_KEY")),
        "{err:?}"
    );
    let err = error_for(403, json!({"message": "Forbidden"}), &[]).await;
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::Authentication,
            ..
        }
    ));

    let err = error_for(
        402,
        json!({"message": "Not enough minutes left in the current tariff plan"}),
        &[],
    )
    .await;
    let ProviderError::Permanent {
        kind: PermanentKind::QuotaExhausted,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("no render minutes left"), "{message}");

    let err = error_for(429, json!({}), &[("retry-after", "7".into())]).await;
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err:?}"
    );
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    let err = error_for(429, json!({}), &[("retry-after", date)]).await;
    let ProviderError::RateLimited {
        retry_after: Some(d),
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(
        d > Duration::from_secs(100) && d <= Duration::from_secs(120),
        "{d:?}"
    );
    let err = error_for(429, json!({}), &[]).await;
    assert!(matches!(
        err,
        ProviderError::RateLimited {
            retry_after: None,
            ..
        }
    ));

    for code in [500, 502, 503, 504] {
        let err = error_for(code, json!({"message": "boom"}), &[]).await;
        assert!(
            matches!(err, ProviderError::Transient { .. }),
            "{code}: {err:?}"
        );
    }

    // Elai's own message and the slide number, with an echoed key scrubbed.
    let err = error_for(
        400,
        json!({"message": format!("Slide 1 is too long. Please limit speech to 60s for this avatar. ({SECRET})")}),
        &[],
    )
    .await;
    let ProviderError::Permanent {
        kind: PermanentKind::BadRequest,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("Slide 1 is too long"), "{message}");
    assert!(message.contains("slide 2"), "{message}");
    assert!(message.contains("<redacted>"), "{message}");

    let err = error_for(422, json!({"message": "Invalid voice"}), &[]).await;
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::BadRequest,
            ..
        }
    ));
    let err = error_for(404, json!({"message": "Video not found"}), &[]).await;
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::NotFound,
            ..
        }
    ));
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(status_body("rendering").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let p = ElaiProvider::new(
        builder(&server)
            .request_timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = p.status(&handle("vid1", 1)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient { message } if message.contains("timed out")),
        "{err:?}"
    );

    // Nothing listens on a port the OS just handed out and took back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = ElaiProvider::new(
        ElaiConfig::builder()
            .base_url(format!("http://127.0.0.1:{port}/api/v1"))
            .api_key(ApiKey::new(SECRET).unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = p.status(&handle("vid1", 1)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient { .. }), "{err:?}");
    assert_no_secret(&err.to_string());
}

#[tokio::test(start_paused = true)]
async fn retry_after_holds_back_the_next_request_under_a_paused_clock() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(Sequence::new(vec![
            ResponseTemplate::new(429).insert_header("retry-after", "30"),
            status_body("rendering"),
        ]))
        .mount(&server)
        .await;
    let p = ElaiProvider::new(builder(&server).no_timeouts().build().unwrap()).unwrap();
    let h = handle("vid1", 1);
    let t0 = tokio::time::Instant::now();
    let err = p.status(&h).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30))
    );
    // The next request (from any task) waits out the Retry-After.
    assert!(matches!(
        p.status(&h).await.unwrap(),
        RenderStatus::Rendering { .. }
    ));
    assert!(
        t0.elapsed() >= Duration::from_secs(30),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn fetch_streams_the_mp4_and_refreshes_an_expired_url_once() {
    let server = MockServer::start().await;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let old = format!("{}/public/video/vid1.mp4?s=old", server.uri());
    let new = format!("{}/public/video/vid1.mp4?s=new", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(Sequence::new(vec![
            ResponseTemplate::new(200)
                .set_body_json(json!({"_id": "vid1", "status": "ready", "url": old})),
            ResponseTemplate::new(200)
                .set_body_json(json!({"_id": "vid1", "status": "ready", "url": new})),
        ]))
        .expect(2)
        .mount(&server)
        .await;
    let body = bytes.clone();
    Mock::given(method("GET"))
        .and(path("/public/video/vid1.mp4"))
        .respond_with(move |r: &Request| {
            if r.url.query() == Some("s=new") {
                ResponseTemplate::new(200).set_body_bytes(body.clone())
            } else {
                ResponseTemplate::new(403).set_body_string("<Error>Request has expired</Error>")
            }
        })
        .mount(&server)
        .await;
    let p = provider(&server);
    let h = handle("vid1", 1);
    assert_eq!(p.status(&h).await.unwrap(), RenderStatus::Ready);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip-001.mp4");
    p.fetch(&h, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    // Only the clip is left: the temporary file was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // The download never carries the API key.
    let received = server.received_requests().await.unwrap();
    for r in received
        .iter()
        .filter(|r| r.url.path().starts_with("/public"))
    {
        assert!(r.headers.get("authorization").is_none());
    }
}

#[tokio::test]
async fn a_url_refused_twice_is_transient_and_leaves_no_file() {
    let server = MockServer::start().await;
    let url = format!("{}/public/video/vid1.mp4?s=x", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/vid1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"_id": "vid1", "status": "ready", "url": url})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/public/video/vid1.mp4"))
        .respond_with(ResponseTemplate::new(404))
        .expect(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("clip.mp4");
    let err = provider(&server)
        .fetch(&handle("vid1", 3), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient { message } if message.contains("slide 3")),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn cancel_deletes_the_video_and_tolerates_it_being_gone() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/videos/vid1"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/videos/gone"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Video not found"})),
        )
        .mount(&server)
        .await;
    let p = provider(&server);
    p.cancel(&handle("vid1", 1)).await.unwrap();
    p.cancel(&handle("gone", 1)).await.unwrap();
}

#[tokio::test]
async fn bad_handles_never_reach_the_network() {
    let server = MockServer::start().await;
    let p = provider(&server);
    let err = p.status(&handle("../avatars", 1)).await.unwrap_err();
    assert!(matches!(
        err,
        ProviderError::Permanent {
            kind: PermanentKind::Local,
            ..
        }
    ));
    let mut other = handle("vid1", 1);
    other.provider = "heygen".into();
    assert!(p.start(&other).await.is_err());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn discovery_lists_typed_avatars_and_voices() {
    let server = MockServer::start().await;
    mount_avatars(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/voices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "English", "male": [{"voice": "en-US-GuyNeural", "name": "Guy", "voiceProvider": "azure"}],
             "female": [{"voice": "en-US-AriaNeural", "name": "Aria", "voiceProvider": "azure"}]}
        ])))
        .mount(&server)
        .await;
    let p = provider(&server);
    let avatars = p.list_avatars().await.unwrap();
    assert_eq!(avatars.len(), 1);
    assert_eq!(avatars[0].full_codes(), vec!["gia.casual", "gia.business"]);
    assert_eq!(avatars[0].gender.as_deref(), Some("female"));
    let table = AvatarTable(&avatars).to_string();
    assert!(table.contains("gia.business"), "{table}");
    let voices = p.list_voices().await.unwrap();
    assert_eq!(voices.len(), 2);
    assert!(voices
        .iter()
        .any(|v| v.id == "en-US-AriaNeural" && v.gender.as_deref() == Some("female")));
}

#[tokio::test]
async fn the_key_is_not_in_debug_output() {
    let server = MockServer::start().await;
    let p = provider(&server);
    assert_no_secret(&format!("{p:?}"));
    assert_no_secret(&format!("{:?}", p.config()));
    assert_no_secret(&format!("{:?}", builder(&server)));
    // A log line built from the config, as the CLI might print it.
    let logged = Mutex::new(String::new());
    logged
        .lock()
        .unwrap()
        .push_str(&format!("{}", p.config().client.api_key));
    assert_no_secret(&logged.lock().unwrap());
}

/// Every render at once, until Elai objects: a create answered 429 halves
/// the renders allowed in flight (never below one), and each render that
/// finishes lets one more start again (additive increase, multiplicative
/// decrease).
#[tokio::test]
async fn a_429_on_create_narrows_the_window_and_finished_renders_widen_it() {
    let server = MockServer::start().await;
    mount_avatars(&server).await;
    let created =
        |id: &str| ResponseTemplate::new(200).set_body_json(json!({"_id": id, "status": "draft"}));
    Mock::given(method("POST"))
        .and(path("/api/v1/videos"))
        .respond_with(Sequence::new(vec![
            created("v1"),
            created("v2"),
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(json!({"message": "Too many requests"})),
            created("v3"),
        ]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/videos/v1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"_id": "v1", "status": "ready", "url": "http://127.0.0.1:9/v1.mp4"}),
        ))
        .mount(&server)
        .await;
    let p = std::sync::Arc::new(provider(&server));
    let unlimited = p.window().0;
    assert!(unlimited >= 1000, "no cap by default: {unlimited}");
    let h1 = p.initiate(&request(1)).await.unwrap();
    p.initiate(&request(2)).await.unwrap();
    assert_eq!(p.window(), (unlimited, 2));

    let err = p.initiate(&request(3)).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    // Three in flight when Elai objected (two rendering, one creating).
    assert_eq!(p.window(), (1, 2));

    // The retry waits: two renders in flight, room for one.
    let retry = {
        let p = p.clone();
        tokio::spawn(async move { p.initiate(&request(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!retry.is_finished(), "the window is full");
    // A render finishes: the window grows by one and the create goes out.
    assert_eq!(p.status(&h1).await.unwrap(), RenderStatus::Ready);
    let h3 = tokio::time::timeout(Duration::from_secs(5), retry)
        .await
        .expect("room after a render finished")
        .unwrap()
        .unwrap();
    assert_eq!(h3.id, "v3");
    assert_eq!(p.window(), (2, 2));
}
