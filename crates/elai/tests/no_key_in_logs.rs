//! Every log line of a whole lifecycle, including failures, at TRACE level:
//! the API key appears in none of them.

use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_elai::fake::{FakeElai, FakeElaiConfig, Faults, RateLimitBurst};
use slidecast_elai::{ApiKey, ElaiProvider};
use slidecast_vendor::fake::{lifecycle_errors, LogCapture};

const KEY: &str = "sk-live-VERY-SECRET-0042";

#[tokio::test]
async fn the_key_never_reaches_a_log_line() {
    let (captured, _guard) = LogCapture::start();

    let fake = FakeElai::start(
        FakeElaiConfig::new(&b"clip bytes"[..])
            .api_key(KEY)
            .render_delay(Duration::from_millis(100))
            .faults(Faults {
                rate_limit_burst: Some(RateLimitBurst {
                    after: 2,
                    count: 1,
                    retry_after_secs: 1,
                }),
                truncated_downloads: 1,
                ..Faults::default()
            }),
    )
    .await
    .unwrap();
    let provider = ElaiProvider::new(fake.provider_config().build().unwrap()).unwrap();
    tracing::info!(?provider, "provider built");
    let request = ClipRequest {
        slide: 1,
        title: "Logs".into(),
        provider: "elai".into(),
        script: "Nothing secret is said here.".into(),
        avatar: "gia.casual".into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut errors = lifecycle_errors(&provider, &request, &dir.path().join("c.mp4")).await;
    let wrong = ElaiProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("sk-wrong-VERY-SECRET-1").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    errors.push(wrong.list_avatars().await.unwrap_err().to_string());
    tracing::error!(?errors, "errors seen");

    assert!(errors.len() >= 3, "faults were injected: {errors:?}");
    let text = captured.text();
    assert!(text.contains("provider built"), "logs were captured");
    assert!(
        !text.contains("VERY-SECRET"),
        "a log line carries the key:\n{text}"
    );
    for e in &errors {
        assert!(!e.contains("VERY-SECRET"), "{e}");
    }
}
