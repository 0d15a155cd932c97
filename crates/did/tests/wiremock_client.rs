//! The D-ID client's exact HTTP, against wiremock: Basic auth, the bodies,
//! error answers of every class, and statuses.

use std::time::Duration;

use serde_json::json;
use slidecast_core::deck::Rgb;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, RenderHandle, RenderStatus,
};
use slidecast_did::{ApiKey, DidConfig, DidProvider};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "dXNlckBleGFtcGxl:SECRET-part";

fn provider(server: &MockServer) -> DidProvider {
    DidProvider::new(
        DidConfig::builder()
            .base_url(server.uri())
            .api_key(ApiKey::new(KEY).unwrap())
            .read_env(false)
            .rate_limit(1000.0, 100)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn request(avatar: &str) -> ClipRequest {
    ClipRequest {
        slide: 3,
        title: "t".into(),
        provider: "did".into(),
        script: "Hello.".into(),
        avatar: avatar.into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb {
            r: 0,
            g: 177,
            b: 64,
        },
        canvas: (640, 360),
    }
}

#[tokio::test]
async fn a_talk_sends_basic_auth_and_the_documented_body() {
    use base64::Engine;
    let server = MockServer::start().await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    );
    Mock::given(method("POST"))
        .and(path("/talks"))
        .and(header("authorization", auth.as_str()))
        .and(body_partial_json(json!({
            "source_url": "https://x.example/p.png",
            "script": {"type": "text", "input": "Hello."},
            "config": {"result_format": "mp4"}
        })))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "tlk_abc", "status": "created"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = provider(&server)
        .initiate(&request("https://x.example/p.png"))
        .await
        .unwrap();
    assert_eq!(h.id, "tlk_abc");
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(body["user_data"]
        .as_str()
        .unwrap()
        .starts_with("slidecast-req-"));
    assert!(
        body["script"].get("provider").is_none(),
        "no voice named: D-ID's default"
    );
}

#[tokio::test]
async fn a_402_is_quota_a_400_names_its_reason_and_a_429_waits() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/clips"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/clips"))
        .respond_with(ResponseTemplate::new(402).set_body_json(
            json!({"kind": "InsufficientCreditsError", "description": "not enough credits"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/clips"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"kind": "ValidationError", "description": "script.input is too long"}),
        ))
        .mount(&server)
        .await;
    let p = provider(&server);
    let r = request("amy-1");
    assert!(
        matches!(p.initiate(&r).await, Err(ProviderError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(1))
    );
    let t0 = std::time::Instant::now();
    let err = p.initiate(&r).await.unwrap_err();
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::QuotaExhausted, message } if message.contains("InsufficientCreditsError")),
        "{err}"
    );
    let err = p.initiate(&r).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permanent { kind: PermanentKind::BadRequest, message }
            if message.contains("slide 3") && message.contains("ValidationError: script.input is too long")),
        "{err}"
    );
}

#[tokio::test]
async fn statuses_map_to_render_states_and_handles_choose_the_collection() {
    let server = MockServer::start().await;
    let read = |p: &str, body: serde_json::Value| {
        Mock::given(method("GET"))
            .and(path(p.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    read("/talks/tlk_1", json!({"status": "started"}))
        .mount(&server)
        .await;
    read(
        "/clips/clp_2",
        json!({"status": "done", "result_url": "https://s3.example/r.mp4?sig=1"}),
    )
    .mount(&server)
    .await;
    read("/clips/clp_3", json!({"status": "rejected", "error": {"kind": "ModerationError", "description": "flagged"}})).mount(&server).await;
    read(
        "/talks/tlk_4",
        json!({"status": "error", "error": {"kind": "FaceError", "description": "no face found"}}),
    )
    .mount(&server)
    .await;
    let p = provider(&server);
    let st = |id: &str| RenderHandle::new("did", id);
    assert!(matches!(
        p.status(&st("tlk_1")).await.unwrap(),
        RenderStatus::Rendering { .. }
    ));
    assert_eq!(p.status(&st("clp_2")).await.unwrap(), RenderStatus::Ready);
    assert!(
        matches!(p.status(&st("clp_3")).await.unwrap(), RenderStatus::Rejected { reason } if reason.contains("flagged"))
    );
    assert!(
        matches!(p.status(&st("tlk_4")).await.unwrap(), RenderStatus::Failed { reason } if reason.contains("no face found"))
    );
    assert!(matches!(
        p.status(&RenderHandle::new("did", "../etc")).await,
        Err(ProviderError::Permanent {
            kind: PermanentKind::Local,
            ..
        })
    ));
}
