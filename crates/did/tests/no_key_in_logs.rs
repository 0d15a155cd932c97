//! Every log line of a lifecycle with failures, at TRACE level: the key
//! appears in none of them, nor in any error.

use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_did::fake::{FakeDid, FakeDidConfig, Faults, RateLimitBurst};
use slidecast_did::{ApiKey, DidProvider};
use slidecast_vendor::fake::{lifecycle_errors, LogCapture};

const KEY: &str = "me@example:VERY-SECRET-0042";

#[tokio::test]
async fn the_key_never_reaches_a_log_line() {
    let (captured, _guard) = LogCapture::start();

    let mut config = FakeDidConfig::new(&b"clip bytes"[..])
        .render_delay(Duration::from_millis(100))
        .faults(Faults {
            rate_limit_burst: Some(RateLimitBurst {
                after: 1,
                count: 1,
                retry_after_secs: 1,
            }),
            expired_urls: 1,
            truncated_downloads: 1,
            ..Faults::default()
        });
    config.api_key = KEY.into();
    let fake = FakeDid::start(config).await.unwrap();
    let provider = DidProvider::new(fake.provider_config().build().unwrap()).unwrap();
    tracing::info!(?provider, "provider built");
    let request = ClipRequest {
        slide: 1,
        title: "Logs".into(),
        provider: "did".into(),
        script: "Nothing secret is said here.".into(),
        avatar: "https://images.example/me.jpg".into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut errors = lifecycle_errors(&provider, &request, &dir.path().join("c.mp4")).await;
    let wrong = DidProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("me:wrong-VERY-SECRET-1").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    errors.push(wrong.list_presenters().await.unwrap_err().to_string());
    tracing::error!(?errors, "errors seen");

    assert!(errors.len() >= 3, "faults were injected: {errors:?}");
    let text = captured.text();
    assert!(
        text.contains("provider built") && text.contains("vendor request"),
        "logs were captured"
    );
    // Basic auth sends the key base64-encoded: that form must not leak either.
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(KEY);
    for leak in ["VERY-SECRET", encoded.as_str()] {
        assert!(!text.contains(leak), "a log line carries the key:\n{text}");
        for e in &errors {
            assert!(!e.contains(leak), "{e}");
        }
    }
}
