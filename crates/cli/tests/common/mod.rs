//! Helpers shared by the CLI's integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use slidecast_elai::fake::{FakeElai, FakeElaiConfig};

/// The `slidecast` binary under test, with a clean environment for logging.
pub fn slidecast() -> Command {
    let mut cmd = Command::cargo_bin("slidecast").expect("binary built");
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A valid 1x1 PNG (67 bytes).
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Write a 1x1 PNG at `path`.
pub fn png(path: &Path) {
    std::fs::write(path, PNG_1X1).unwrap();
}

pub mod schema;

#[allow(unused_imports)]
pub use slidecast_tests::{elai_deck, mock_deck, png_sized, tiny_pdf};

/// Duration of a media file's container, from ffprobe.
pub fn probe_duration(path: &Path) -> f64 {
    slidecast_tests::Probe::of(path).duration()
}

/// `(start, end)` seconds of every cue of an SRT file.
pub fn srt_cues(text: &str) -> Vec<(f64, f64, String)> {
    let ts = |s: &str| -> f64 {
        let (hms, ms) = s.trim().split_once(',').unwrap();
        let parts: Vec<f64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + ms.parse::<f64>().unwrap() / 1000.0
    };
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            let (a, b) = lines[1].split_once(" --> ").unwrap();
            (ts(a), ts(b), lines[2..].join("\n"))
        })
        .collect()
}

/// `codec_name` of every stream of a media file, from ffprobe (chapters
/// add a QuickTime chapter text track, `bin_data`).
pub fn probe_codecs(path: &Path) -> Vec<String> {
    slidecast_tests::Probe::of(path)
        .streams
        .into_iter()
        .filter_map(|s| s.codec_name)
        .collect()
}

/// The embedded subtitle track as SRT text, read back with the ffmpeg CLI.
pub fn embedded_srt(path: &Path) -> String {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:s:0", "-f", "srt", "-"])
        .output()
        .expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fake Elai on 127.0.0.1 that serves a generated 320x180 clip of
/// `clip_length`, set up by `configure`. Keep the runtime alive as long as
/// the fake is used.
pub fn start_fake_elai(
    dir: &Path,
    clip_length: std::time::Duration,
    configure: impl FnOnce(FakeElaiConfig) -> FakeElaiConfig,
) -> (tokio::runtime::Runtime, FakeElai) {
    let clip = dir.join("vendor.mp4");
    slidecast_media::mock_clip::write(&clip, clip_length, 320, 180, 25).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = configure(FakeElaiConfig::from_mp4_file(&clip).unwrap());
    let fake = runtime.block_on(FakeElai::start(config)).unwrap();
    (runtime, fake)
}
/// A clip maker for the fake Elai that makes each video as a real render
/// is (25 fps, mono 24 kHz AAC, the avatar in its box over the requested
/// background, as long as its speech), at `1/shrink` of Elai's 1920x1080 to
/// keep tests quick. Clips are written in `dir`.
pub fn elai_like_clips(
    dir: &Path,
    shrink: u32,
) -> impl Fn(&slidecast_elai::fake::RenderedVideo) -> Vec<u8> + Send + Sync + 'static {
    use slidecast_elai::fake::RenderedVideo;
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let made = std::sync::atomic::AtomicU64::new(0);
    move |look: &RenderedVideo| {
        let n = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("elai-{n}.mp4"));
        let (w, h) = RenderedVideo::FRAME;
        let (x, y, bw, bh) = look.avatar_box;
        slidecast_media::MockClip {
            fps: RenderedVideo::FPS,
            sample_rate: RenderedVideo::AUDIO_RATE,
            background: look.background.parse().unwrap(),
            figure_box: Some((x / shrink, y / shrink, bw / shrink, bh / shrink)),
            ..slidecast_media::MockClip::new(look.speech, w / shrink, h / shrink)
        }
        .write(&path)
        .unwrap();
        std::fs::read(&path).unwrap()
    }
}

pub mod serve;
