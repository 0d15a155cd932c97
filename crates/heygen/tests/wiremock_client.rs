//! The HeyGen client's exact HTTP, against wiremock: the key header, the
//! request bodies, error answers of every class and where HeyGen puts them.

use std::time::Duration;

use serde_json::json;
use slidecast_core::deck::Rgb;
use slidecast_core::{AvatarProvider, ClipRequest, PermanentKind, ProviderError, RenderStatus};
use slidecast_heygen::{ApiKey, HeyGenConfig, HeyGenProvider};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "hg-wiremock-SECRET-77";

fn provider(server: &MockServer, transparent: bool) -> HeyGenProvider {
    HeyGenProvider::new(
        HeyGenConfig::builder()
            .base_url(server.uri())
            .api_key(ApiKey::new(SECRET).unwrap())
            .read_env(false)
            .rate_limit(1000.0, 100)
            .transparent(transparent)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn request() -> ClipRequest {
    ClipRequest {
        slide: 7,
        title: "Quarterly".into(),
        provider: "heygen".into(),
        script: "Revenue grew.".into(),
        avatar: "photo:tp-42".into(),
        voice: Some("voice-1".into()),
        voice_provider: None,
        language: None,
        avatar_background: Rgb {
            r: 0,
            g: 177,
            b: 64,
        },
        canvas: (1280, 720),
    }
}

#[tokio::test]
async fn a_create_sends_the_key_header_and_the_documented_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/video/generate"))
        .and(header("x-api-key", SECRET))
        .and(body_partial_json(json!({
            "video_inputs": [{
                "character": {"type": "talking_photo", "talking_photo_id": "tp-42"},
                "voice": {"type": "text", "input_text": "Revenue grew.", "voice_id": "voice-1"},
                "background": {"type": "color", "value": "#00B140"}
            }],
            "dimension": {"width": 1280, "height": 720}
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": null, "data": {"video_id": "abc123"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = provider(&server, true).initiate(&request()).await.unwrap();
    assert_eq!(h.id, "abc123");
    let sent = &server.received_requests().await.unwrap()[0];
    assert!(
        sent.headers.get("authorization").is_none(),
        "the key goes in X-Api-Key only"
    );
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    let title = body["title"].as_str().unwrap();
    assert!(
        title.starts_with("slidecast slidecast-req-") && title.ends_with("Quarterly - slide 7"),
        "{title}"
    );
    assert_eq!(
        body["callback_id"],
        title.split_whitespace().nth(1).unwrap()
    );
}

#[tokio::test]
async fn a_429_waits_its_retry_after_and_a_5xx_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/video_status.get"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"error": {"code": "rate_limit", "message": "Too many requests"}}),
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/video_status.get"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/video_status.get"))
        .and(query_param("video_id", "v1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 100, "data": {"status": "pending"}})),
        )
        .mount(&server)
        .await;
    let p = provider(&server, false);
    let h = slidecast_core::RenderHandle::new("heygen", "v1");
    let err = p.status(&h).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::RateLimited { retry_after: Some(d), message } if *d == Duration::from_secs(1) && message.contains("Too many requests")),
        "{err}"
    );
    let started = std::time::Instant::now();
    let err = p.status(&h).await.unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the next request waited for Retry-After"
    );
    assert!(
        matches!(&err, ProviderError::Transient { message } if message.contains("HeyGen server error (HTTP 503)")),
        "{err}"
    );
    assert!(matches!(
        p.status(&h).await.unwrap(),
        RenderStatus::Rendering { .. }
    ));
}

#[tokio::test]
async fn an_error_inside_a_200_create_answer_is_a_refusal_not_a_video() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/video/generate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"error": {"code": 40119, "message": "Video is too long"}, "data": null}),
        ))
        .mount(&server)
        .await;
    let err = provider(&server, false)
        .initiate(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message }
            if message.contains("slide 7") && message.contains("Video is too long (code 40119)")),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_webm_falls_back_to_mp4_and_other_errors_do_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/video.webm"))
        .and(body_partial_json(
            json!({"avatar_pose_id": "Studio-1", "avatar_style": "normal", "voice_id": "voice-1"}),
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"code": 400, "message": "avatar does not support webm"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/video/generate"))
        .and(body_partial_json(json!({"video_inputs": [{"character": {"type": "avatar", "avatar_id": "Studio-1", "avatar_style": "normal"}}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"error": null, "data": {"video_id": "mp4-1"}})))
        .expect(2)
        .mount(&server)
        .await;
    let p = provider(&server, true);
    let mut r = request();
    r.avatar = "Studio-1".into();
    let h = p.initiate(&r).await.unwrap();
    assert_eq!((h.id.as_str(), p.clip_extension(&h)), ("mp4-1", "mp4"));
    r.slide = 8;
    p.initiate(&r).await.unwrap(); // no second WebM attempt (expect(1))
}

#[tokio::test]
async fn status_answers_map_to_render_states() {
    let server = MockServer::start().await;
    let answer = |id: &str, data: serde_json::Value| {
        Mock::given(method("GET"))
            .and(path("/v1/video_status.get"))
            .and(query_param("video_id", id))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"code": 100, "data": data})),
            )
    };
    answer(
        "done",
        json!({"status": "completed", "video_url": format!("{}/f.mp4", server.uri())}),
    )
    .mount(&server)
    .await;
    answer(
        "bad",
        json!({"status": "failed", "error": {"code": 10001, "detail": "render node crashed"}}),
    )
    .mount(&server)
    .await;
    answer("ban", json!({"status": "failed", "error": {"code": 40003, "detail": "text did not pass moderation"}})).mount(&server).await;
    answer("odd", json!({"status": "thinking"}))
        .mount(&server)
        .await;
    let p = provider(&server, false);
    let st = |id: &str| {
        let h = slidecast_core::RenderHandle::new("heygen", id);
        let p = &p;
        async move { p.status(&h).await.unwrap() }
    };
    assert_eq!(st("done").await, RenderStatus::Ready);
    assert!(
        matches!(st("bad").await, RenderStatus::Failed { reason } if reason.contains("render node crashed"))
    );
    assert!(
        matches!(st("ban").await, RenderStatus::Rejected { reason } if reason.contains("moderation"))
    );
    assert!(matches!(st("odd").await, RenderStatus::Rendering { .. }));
    let foreign = slidecast_core::RenderHandle::new("elai", "done");
    assert!(matches!(
        p.status(&foreign).await,
        Err(ProviderError::Permanent {
            kind: PermanentKind::Local,
            ..
        })
    ));
}
