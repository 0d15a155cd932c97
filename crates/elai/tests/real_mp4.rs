//! A real MP4 (generated with the ffmpeg CLI, test-only) served by the fake
//! Elai and fetched by the provider arrives intact and probes as a valid
//! clip with video and audio.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use slidecast_core::deck::Rgb;
use slidecast_core::{AvatarProvider, ClipRequest, RenderStatus};
use slidecast_elai::fake::{FakeElai, FakeElaiConfig};
use slidecast_elai::ElaiProvider;

fn generate_mp4(path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=25:duration=1",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest", "-movflags", "+faststart"])
        .arg(path)
        .status()
        .expect("the ffmpeg CLI runs");
    assert!(status.success(), "ffmpeg failed to generate the test clip");
}

fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_generated_mp4_round_trips_through_the_fake() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.mp4");
    generate_mp4(&source);
    let fake = FakeElai::start(
        FakeElaiConfig::from_mp4_file(&source)
            .unwrap()
            .render_delay(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    let provider = ElaiProvider::new(fake.provider_config().build().unwrap()).unwrap();
    let request = ClipRequest {
        slide: 1,
        title: "Real clip".into(),
        provider: "elai".into(),
        script: "A real clip.".into(),
        avatar: "gia.business".into(),
        voice: None,
        voice_provider: None,
        language: None,
        avatar_background: Rgb::GREEN,
        canvas: (320, 180),
    };
    let handle = provider.initiate(&request).await.unwrap();
    provider.start(&handle).await.unwrap();
    while provider.status(&handle).await.unwrap() != RenderStatus::Ready {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dest = dir.path().join("clip-slide-001.mp4");
    provider.fetch(&handle, &dest).await.unwrap();
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(&source).unwrap()
    );

    let info = probe(&dest);
    let streams = info["streams"].as_array().unwrap();
    let kinds: Vec<_> = streams
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"video") && kinds.contains(&"audio"),
        "{kinds:?}"
    );
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(180))
    );
    let duration: f64 = info["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.9..1.2).contains(&duration), "{duration}");
}
