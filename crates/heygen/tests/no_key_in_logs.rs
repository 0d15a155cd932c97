//! Every log line of a lifecycle with failures, at TRACE level: the key
//! appears in none of them, nor in any error.

use std::time::Duration;

use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_heygen::fake::{FakeHeyGen, FakeHeyGenConfig, Faults, RateLimitBurst};
use slidecast_heygen::{ApiKey, HeyGenProvider};
use slidecast_vendor::fake::{lifecycle_errors, LogCapture};

const KEY: &str = "hg-live-VERY-SECRET-0042";

#[tokio::test]
async fn the_key_never_reaches_a_log_line() {
    let (captured, _guard) = LogCapture::start();

    let mut config = FakeHeyGenConfig::new(&b"clip bytes"[..])
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
    let fake = FakeHeyGen::start(config).await.unwrap();
    let provider = HeyGenProvider::new(fake.provider_config().build().unwrap()).unwrap();
    tracing::info!(?provider, "provider built");
    let request = ClipRequest {
        slide: 1,
        title: "Logs".into(),
        provider: "heygen".into(),
        script: "Nothing secret is said here.".into(),
        avatar: "Daisy-inskirt-20220818".into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (640, 360),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut errors = lifecycle_errors(&provider, &request, &dir.path().join("c.mp4")).await;
    let wrong = HeyGenProvider::new(
        fake.provider_config()
            .api_key(ApiKey::new("hg-wrong-VERY-SECRET-1").unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    errors.push(wrong.list_avatars().await.unwrap_err().to_string());
    tracing::error!(?errors, "errors seen");

    assert!(errors.len() >= 3, "faults were injected: {errors:?}");
    let text = captured.text();
    assert!(
        text.contains("provider built") && text.contains("vendor request"),
        "logs were captured"
    );
    assert!(
        !text.contains("VERY-SECRET"),
        "a log line carries the key:\n{text}"
    );
    for e in &errors {
        assert!(!e.contains("VERY-SECRET"), "{e}");
    }
}
