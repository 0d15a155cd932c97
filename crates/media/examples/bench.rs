//! Media benchmark: prints figures, asserts nothing.
//!
//! ```text
//! cargo run --release -p slidecast-media --example bench -- [--clip-seconds 30] [--decks 10,50] [--jobs 2] [--threads 0]
//! ```
//!
//! 1. Composes one slide (1920x1080 background, 640x360 avatar clip with
//!    audio) in-process and with the `ffmpeg` CLI using the equivalent filter
//!    graph and the same x264 settings; prints each one's frames per second.
//! 2. Renders decks of mock-clip slides (prepare, verify, compose with
//!    `--jobs` at once, finish) and prints wall time, output seconds per wall
//!    second and peak RSS (VmHWM, reset between decks). `--threads N` sets
//!    each segment encoder's x264 threads (default: sized by `--jobs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slidecast_core::deck::{
    Corner, Layout, Output, Placement, Presenter, Quality, QualityLevel, Rgb, Shape, Slide,
    Transition,
};
use slidecast_core::Composer;
use slidecast_media::{MediaComposer, MockClip};

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: u32 = 25;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn output() -> Output {
    Output {
        width: W,
        height: H,
        fps: FPS,
        background: Rgb::new(0x10, 0x18, 0x20),
        quality: Quality::Level(QualityLevel::Standard),
        loudness: Some(slidecast_core::deck::DEFAULT_LOUDNESS),
        music_volume: slidecast_core::deck::DEFAULT_MUSIC_VOLUME,
    }
}

fn layout() -> Layout {
    Layout::PictureInPicture(Placement::Corner {
        corner: Corner::BottomRight,
        margin: 40,
        scale: 0.3,
    })
}

fn presenter() -> Presenter {
    Presenter {
        provider: "mock".into(),
        avatar: "mock".into(),
        voice: None,
        voice_provider: None,
        language: None,
        layout: layout(),
        shape: Shape::Rectangle,
        avatar_background: Rgb::GREEN,
    }
}

/// A slide-like picture: a gradient with a title bar and "text" lines.
fn write_slide_image(path: &Path, hue: u8) {
    let mut rgb = vec![0u8; (W * H * 3) as usize];
    for y in 0..H {
        for x in 0..W {
            let i = ((y * W + x) * 3) as usize;
            let title = (80..200).contains(&y) && (120..1500).contains(&x);
            let line = y > 300 && (y - 300) % 90 < 30 && (160..(900 + (y * 7 % 600))).contains(&x);
            let (r, g, b) = if title {
                (hue, 60, 200u8.wrapping_sub(hue))
            } else if line {
                (40, 40, 50)
            } else {
                (
                    230u8.saturating_sub((x / 40) as u8),
                    235u8.saturating_sub((y / 40) as u8),
                    225,
                )
            };
            rgb[i..i + 3].copy_from_slice(&[r, g, b]);
        }
    }
    slidecast_media::image::write_image(path, W, H, &rgb).expect("write slide image");
}

fn peak_rss_mb() -> f64 {
    rss_mb("VmHWM:")
}

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Reset VmHWM to the current RSS (Linux: write 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn slide(number: usize, image: &Path, presenter: Option<Presenter>) -> Slide {
    Slide {
        number,
        image: image.to_path_buf(),
        script: "Benchmark narration.".into(),
        presenter,
        duration: None,
        transition: Transition::Cut,
        parts: Vec::new(),
        music: None,
        title: None,
    }
}

async fn same_slide(work: &Path, clip_seconds: f64) {
    let bg = work.join("bg.png");
    write_slide_image(&bg, 90);
    let clip = work.join("avatar.mp4");
    MockClip {
        fps: FPS,
        ..MockClip::new(Duration::from_secs_f64(clip_seconds), 640, 360)
    }
    .write(&clip)
    .expect("mock clip");
    let composer = MediaComposer::new(output(), work).expect("composer");
    let s = slide(1, &bg, Some(presenter()));

    let started = Instant::now();
    let prepared = composer.prepare(&s).await.expect("prepare");
    let segment = composer
        .compose(&s, prepared, std::slice::from_ref(&clip))
        .await
        .expect("compose");
    let in_process = started.elapsed().as_secs_f64();
    let frames = (segment.duration.as_secs_f64() * f64::from(FPS)).round();

    // The same work with the CLI: letterbox the background, overlay the
    // scaled clip at the same place, x264 with the same preset/CRF/GOP, PCM
    // audio at 48 kHz stereo into NUT (what a segment holds).
    let rect = layout().presenter_area(&output());
    let graph = format!(
        "[0:v]scale={W}:{H}:force_original_aspect_ratio=decrease,pad={W}:{H}:(ow-iw)/2:(oh-ih)/2:color=0x101820,format=yuv420p[bg];\
         [1:v]fps={FPS},scale={}:{}[av];[bg][av]overlay={}:{}:shortest=1,format=yuv420p[v]",
        rect.width, rect.height, rect.x, rect.y
    );
    let cli_out = work.join("cli.nut");
    let started = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate"])
        .arg(FPS.to_string())
        .arg("-i")
        .arg(&bg)
        .arg("-i")
        .arg(&clip)
        .args(["-filter_complex", &graph, "-map", "[v]", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g"])
        .arg((FPS * 4).to_string())
        .args([
            "-pix_fmt",
            "yuv420p",
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
        ])
        .args([
            "-color_trc",
            "bt709",
            "-c:a",
            "pcm_s16le",
            "-ar",
            "48000",
            "-ac",
            "2",
        ])
        .arg(&cli_out)
        .status();
    let cli = started.elapsed().as_secs_f64();
    println!("== 1. one slide: 1920x1080 background, 640x360 {clip_seconds:.0} s avatar clip with audio, veryfast CRF 23 ==");
    println!(
        "in-process (prepare + compose): {frames:.0} frames in {in_process:.2} s = {:.1} fps ({:.2}x realtime)",
        frames / in_process,
        frames / f64::from(FPS) / in_process
    );
    match status {
        Ok(s) if s.success() => {
            println!(
                "ffmpeg CLI (same graph):        {frames:.0} frames in {cli:.2} s = {:.1} fps",
                frames / cli
            );
            println!("ratio in-process / CLI: {:.2}x", cli / in_process);
        }
        other => println!("ffmpeg CLI failed or missing: {other:?}"),
    }
}

async fn deck(
    work: &Path,
    slides: usize,
    jobs: usize,
    threads: usize,
    images: &[PathBuf],
    clips: &[PathBuf],
) {
    let composer = Arc::new(
        match threads {
            0 => MediaComposer::builder(output()).jobs(jobs),
            n => MediaComposer::builder(output()).encoder_threads(n),
        }
        .work_dir(work)
        .build()
        .expect("composer"),
    );
    let deck: Vec<Slide> = (0..slides)
        .map(|i| slide(i + 1, &images[i % images.len()], Some(presenter())))
        .collect();
    reset_peak_rss();
    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut tasks = Vec::new();
    for (i, s) in deck.into_iter().enumerate() {
        let (composer, permits) = (composer.clone(), permits.clone());
        let clip = clips[i % clips.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let prepared = composer.prepare(&s).await.expect("prepare");
            composer.verify_clip(&clip).await.expect("verify");
            let segment = composer
                .compose(&s, prepared, std::slice::from_ref(&clip))
                .await
                .expect("compose");
            if std::env::var_os("BENCH_TRACE").is_some() {
                eprintln!(
                    "slide {} composed: RSS {:.0} MB, peak {:.0} MB",
                    s.number,
                    rss_mb("VmRSS:"),
                    peak_rss_mb()
                );
            }
            segment
        }));
    }
    let mut segments = Vec::new();
    for t in tasks {
        segments.push(t.await.expect("task"));
    }
    let out = work.join(format!("deck-{slides}.mp4"));
    composer
        .finish(&segments, &out, &Default::default())
        .await
        .expect("finish");
    let wall = started.elapsed().as_secs_f64();
    let video: f64 = segments.iter().map(|s| s.duration.as_secs_f64()).sum();
    println!(
        "{slides:>3} slides: {video:.1} s of video in {wall:.1} s wall = {:.2} output-s/wall-s, peak RSS {:.0} MB",
        video / wall,
        peak_rss_mb()
    );
}

#[tokio::main]
async fn main() {
    let clip_seconds: f64 = arg("--clip-seconds", "30").parse().expect("--clip-seconds");
    let jobs: usize = arg("--jobs", "2").parse().expect("--jobs");
    let threads: usize = arg("--threads", "0").parse().expect("--threads");
    let decks: Vec<usize> = arg("--decks", "10")
        .split(',')
        .map(|n| n.trim().parse().expect("--decks"))
        .collect();
    let keep = std::env::args().any(|a| a == "--keep");
    let root = tempfile::tempdir().expect("temp dir");
    let work = root.path();
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    same_slide(work, clip_seconds).await;

    // Inputs for the decks: 10 slide pictures and 10 mock clips (6-10 s at
    // the PiP canvas size), generated before timing starts.
    let started = Instant::now();
    let canvas = presenter().canvas(&output());
    let mut images = Vec::new();
    let mut clips = Vec::new();
    for i in 0..10 {
        let image = work.join(format!("slide{i}.png"));
        write_slide_image(&image, (i * 25) as u8);
        images.push(image);
        let clip = work.join(format!("clip{i}.mp4"));
        MockClip {
            fps: FPS,
            tone_hz: 180.0 + 20.0 * i as f64,
            ..MockClip::new(
                Duration::from_millis(6000 + 450 * i as u64),
                canvas.0,
                canvas.1,
            )
        }
        .write(&clip)
        .expect("mock clip");
        clips.push(clip);
    }
    println!(
        "\n== 2. decks of mock-clip slides (1920x1080, veryfast CRF 23, {jobs} compose jobs, x264 threads {threads} (0 = sized by jobs)) ==\n(inputs generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    for n in decks {
        deck(work, n, jobs, threads, &images, &clips).await;
    }
    if keep {
        let kept = root.keep();
        println!("outputs kept in {}", kept.display());
    }
}
