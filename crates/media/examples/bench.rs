//! Media benchmark: prints figures, asserts nothing.
//!
//! ```text
//! cargo run --release -p slidecast-media --example bench -- [--clip vendor|small]
//!     [--clip-seconds 30] [--decks 10,50] [--outputs 1080,720] [--jobs 2] [--threads 0]
//!     [--format table|json]
//! ```
//!
//! The clips are what vendors send (`--clip vendor`, the default): 1920x1080
//! at 25 fps, mono 24 kHz AAC, the avatar standing in a 1080x1080 box on a
//! flat key colour (as Elai renders, measured on real renders), keyed out
//! by the composer. `--clip small` uses 640x360 clips filling the frame.
//!
//! 1. Composes one 1080p slide in-process (the slide picture prepared
//!    before, as it is while vendors render), and encodes the same composed
//!    frames with bare libx264 (same settings, nothing else; 200 frames,
//!    composed losslessly and decoded into memory first, encoded three times
//!    over), taking turns three times; the medians.
//!    Then composes it with the `ffmpeg` CLI using the equivalent filter
//!    graph and the same x264 settings. Prints each one's frames per
//!    second.
//! 2. Renders decks (prepare, verify, compose with `--jobs` at once, finish)
//!    at each `--outputs` height and prints wall time, output seconds per
//!    wall second and peak RSS (VmHWM, reset between decks). `--threads N`
//!    sets each segment encoder's x264 threads (default: sized by `--jobs`).
//!
//! `--format json` prints one line instead: `clip` ({width, height, fps}),
//! `compose_fps`, `bare_encoder_fps`, `cli_fps` and `decks` ([{output,
//! slides, wall_s, output_s, peak_rss_mb}]).

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

/// The clips a bench composes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ClipKind {
    /// 1920x1080, 25 fps, mono 24 kHz, avatar in a 1080x1080 box on green.
    Vendor,
    /// 640x360 (or the presenter canvas), the figure filling the frame.
    Small,
}

impl ClipKind {
    /// A clip of this kind, `seconds` long, its voice at `tone_hz`.
    fn mock(self, seconds: f64, canvas: (u32, u32), tone_hz: f64) -> MockClip {
        let duration = Duration::from_secs_f64(seconds);
        match self {
            ClipKind::Vendor => MockClip {
                fps: FPS,
                tone_hz,
                sample_rate: 24_000,
                background: Rgb::GREEN,
                figure_box: Some((420, 0, 1080, 1080)),
                ..MockClip::new(duration, 1920, 1080)
            },
            ClipKind::Small => MockClip {
                fps: FPS,
                tone_hz,
                ..MockClip::new(duration, canvas.0, canvas.1)
            },
        }
    }

    fn shape(self) -> Shape {
        match self {
            ClipKind::Vendor => Shape::ChromaKey {
                key: Rgb::GREEN,
                similarity: 0.3,
                blend: 0.1,
            },
            ClipKind::Small => Shape::Rectangle,
        }
    }
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn output() -> Output {
    output_at(H)
}

/// The bench's output settings at `height` (16:9).
fn output_at(height: u32) -> Output {
    Output {
        width: (height * 16 / 9) & !1,
        height,
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

fn presenter(kind: ClipKind) -> Presenter {
    Presenter {
        provider: "mock".into(),
        avatar: "mock".into(),
        voice: None,
        voice_provider: None,
        language: None,
        layout: layout(),
        shape: kind.shape(),
        avatar_background: Rgb::GREEN,
    }
}

/// A slide-like picture at the deck's size.
fn write_slide_image(path: &Path, hue: u8) {
    slidecast_media::image::write_mock_slide(path, W, H, hue).expect("write slide image");
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

/// Figures of the one-slide comparison.
struct SlideFigures {
    frames: f64,
    prepare_s: f64,
    compose_fps: f64,
    bare_encoder_fps: f64,
    cli_fps: Option<f64>,
}

async fn same_slide(work: &Path, kind: ClipKind, clip_seconds: f64) -> SlideFigures {
    let bg = work.join("bg.png");
    write_slide_image(&bg, 90);
    let clip = work.join("avatar.mp4");
    kind.mock(clip_seconds, (640, 360), 220.0)
        .write(&clip)
        .expect("mock clip");
    let composer = MediaComposer::new(output(), work).expect("composer");
    let s = slide(1, &bg, Some(presenter(kind)));

    // Preparing the slide picture happens while the vendor renders, off
    // the critical path: timed apart. Composing and the bare encoder take
    // turns, three times each (so a busy moment on the machine touches
    // both), and each figure is the median of its three.
    let mut prepare_s = 0.0;
    let mut composes = Vec::new();
    let mut bare = Vec::new();
    let mut segment = None;
    // The composed frames for the bare encoder, exactly: composed once more
    // losslessly (x264 at CRF 0), then decoded. Frames decoded from a CRF 23
    // segment would flatter the encoder, which re-encodes its own
    // quantization cheaply.
    let lossless = MediaComposer::new(
        Output {
            quality: Quality::Custom {
                preset: "ultrafast".into(),
                crf: 0,
            },
            ..output()
        },
        work,
    )
    .expect("lossless composer");
    let prepared = lossless.prepare(&s).await.expect("prepare");
    let exact = lossless
        .compose(&s, prepared, std::slice::from_ref(&clip))
        .await
        .expect("lossless compose");
    let mut composed_frames = decoded_frames(&exact.path, 200);
    let _ = std::fs::remove_file(&exact.path);
    for run in 0..3 {
        let started = Instant::now();
        let prepared = composer.prepare(&s).await.expect("prepare");
        prepare_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let composed = composer
            .compose(&s, prepared, std::slice::from_ref(&clip))
            .await
            .expect("compose");
        composes.push(started.elapsed().as_secs_f64());
        bare.push(bare_encoder_fps(&mut composed_frames, &composed.path));
        if std::env::var_os("BENCH_TRACE").is_some() {
            let frames = composed.duration.as_secs_f64() * f64::from(FPS);
            eprintln!(
                "run {run}: compose {:.1} fps, bare encoder {:.1} fps",
                frames / composes[run],
                bare[run]
            );
        }
        segment = Some(composed);
    }
    let segment = segment.expect("three composes");
    let in_process = median(composes);
    let frames = (segment.duration.as_secs_f64() * f64::from(FPS)).round();
    let bare_encoder_fps = median(bare);
    drop(composed_frames);

    // The same work with the CLI: letterbox the background, overlay the
    // scaled (and, for vendor clips, keyed) clip at the same place, x264
    // with the same preset/CRF/GOP, PCM audio at 48 kHz stereo into NUT
    // (what a segment holds).
    let rect = slidecast_media::picture::fit_rect(
        if kind == ClipKind::Vendor { 1920 } else { 640 },
        if kind == ClipKind::Vendor { 1080 } else { 360 },
        layout().presenter_area(&output()),
    );
    let key = match kind {
        ClipKind::Vendor => ",colorkey=0x00FF00:0.3:0.1",
        ClipKind::Small => "",
    };
    let graph = format!(
        "[0:v]scale={W}:{H}:force_original_aspect_ratio=decrease,pad={W}:{H}:(ow-iw)/2:(oh-ih)/2:color=0x101820,format=yuv420p[bg];\
         [1:v]fps={FPS},scale={}:{}{key}[av];[bg][av]overlay={}:{}:shortest=1,format=yuv420p[v]",
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
    SlideFigures {
        frames,
        prepare_s,
        compose_fps: frames / in_process,
        bare_encoder_fps,
        cli_fps: matches!(status, Ok(s) if s.success()).then(|| frames / cli),
    }
}

/// The first `limit` video frames of `segment`, decoded into memory.
fn decoded_frames(segment: &Path, limit: usize) -> Vec<ffmpeg_next::frame::Video> {
    use ffmpeg_next as ffmpeg;
    let mut ictx = ffmpeg::format::input(segment).expect("open segment");
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .expect("segment video");
    let index = stream.index();
    let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .expect("decoder");
    let mut frames = Vec::new();
    let mut decoded = ffmpeg::frame::Video::empty();
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        decoder.send_packet(&packet).expect("decode");
        while frames.len() < limit && decoder.receive_frame(&mut decoded).is_ok() {
            frames.push(decoded.clone());
        }
        if frames.len() >= limit {
            break;
        }
    }
    frames
}

/// Passes of the bare encoder over the frames in memory.
const BARE_PASSES: usize = 3;

/// libx264 alone on `frames` (already in memory, [`BARE_PASSES`] times),
/// encoded with the deck's settings into a file beside `segment` and
/// timed, so nothing but the encoder is measured.
fn bare_encoder_fps(frames: &mut [ffmpeg_next::frame::Video], segment: &Path) -> f64 {
    use ffmpeg_next as ffmpeg;
    let settings = slidecast_av::VideoSettings {
        width: W,
        height: H,
        fps: FPS,
        preset: "veryfast".into(),
        crf: 23,
        threads: 0,
        keyframe_interval: None,
    };
    let out = segment.with_extension("bare.nut");
    let mut octx = ffmpeg::format::output_as(&out, "nut").expect("bare output");
    let mut writer = slidecast_av::H264Writer::add(&mut octx, &settings).expect("x264");
    octx.write_header().expect("header");
    writer.header_written(&octx);
    // Three passes over the frames: a run long enough to time steadily
    // (the encoder's start and end are a small part of it), without
    // holding more frames in memory.
    let started = Instant::now();
    let mut pts = 0;
    for _ in 0..BARE_PASSES {
        for frame in frames.iter_mut() {
            writer.write(&mut octx, frame, pts).expect("encode");
            pts += 1;
        }
    }
    writer.finish(&mut octx).expect("flush");
    let seconds = started.elapsed().as_secs_f64();
    octx.write_trailer().expect("trailer");
    let _ = std::fs::remove_file(&out);
    pts as f64 / seconds
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// One deck's figures.
struct DeckFigures {
    output: String,
    slides: usize,
    wall_s: f64,
    output_s: f64,
    peak_rss_mb: f64,
}

#[allow(clippy::too_many_arguments)]
async fn deck(
    work: &Path,
    settings: Output,
    kind: ClipKind,
    slides: usize,
    jobs: usize,
    threads: usize,
    images: &[PathBuf],
    clips: &[PathBuf],
) -> DeckFigures {
    let label = format!("{}x{}", settings.width, settings.height);
    let composer = Arc::new(
        match threads {
            0 => MediaComposer::builder(settings).jobs(jobs),
            n => MediaComposer::builder(settings).encoder_threads(n),
        }
        .work_dir(work)
        .build()
        .expect("composer"),
    );
    let deck: Vec<Slide> = (0..slides)
        .map(|i| slide(i + 1, &images[i % images.len()], Some(presenter(kind))))
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
    let out = work.join(format!("deck-{label}-{slides}.mp4"));
    composer
        .finish(&segments, &out, &Default::default())
        .await
        .expect("finish");
    DeckFigures {
        output: label,
        slides,
        wall_s: started.elapsed().as_secs_f64(),
        output_s: segments.iter().map(|s| s.duration.as_secs_f64()).sum(),
        peak_rss_mb: peak_rss_mb(),
    }
}

#[tokio::main]
async fn main() {
    let clip_seconds: f64 = arg("--clip-seconds", "30").parse().expect("--clip-seconds");
    let jobs: usize = arg("--jobs", "2").parse().expect("--jobs");
    let threads: usize = arg("--threads", "0").parse().expect("--threads");
    let list = |name: &str, default: &str| -> Vec<u32> {
        arg(name, default)
            .split(',')
            .map(|n| n.trim().parse().expect(name))
            .collect()
    };
    let decks = list("--decks", "10");
    let outputs = list("--outputs", "1080,720");
    let kind = match arg("--clip", "vendor").as_str() {
        "vendor" => ClipKind::Vendor,
        "small" => ClipKind::Small,
        other => panic!("--clip {other}: use vendor or small"),
    };
    let json = arg("--format", "table") == "json";
    let keep = std::env::args().any(|a| a == "--keep");
    let root = tempfile::tempdir().expect("temp dir");
    let work = root.path();

    let one = same_slide(work, kind, clip_seconds).await;
    let clip = match kind {
        ClipKind::Vendor => (1920, 1080),
        ClipKind::Small => (640, 360),
    };
    if !json {
        println!(
            "cores: {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "== 1. one slide: 1920x1080 background, {}x{} {clip_seconds:.0} s {kind:?} clip with audio, veryfast CRF 23 ==",
            clip.0, clip.1
        );
        println!(
            "in-process compose: {:.0} frames, {:.1} fps ({:.2}x realtime; median of 3; the slide prepared in {:.2} s before)",
            one.frames,
            one.compose_fps,
            one.compose_fps / f64::from(FPS),
            one.prepare_s
        );
        println!(
            "bare libx264 on the same frames: {:.1} fps (compose / bare encoder: {:.2})",
            one.bare_encoder_fps,
            one.compose_fps / one.bare_encoder_fps
        );
        match one.cli_fps {
            Some(cli) => println!(
                "ffmpeg CLI (same graph):        {cli:.1} fps (compose / CLI: {:.2}x)",
                one.compose_fps / cli
            ),
            None => println!("ffmpeg CLI failed or missing"),
        }
    }

    // Inputs for the decks: 10 slide pictures and 10 clips (6-10 s),
    // generated before timing starts.
    let started = Instant::now();
    let canvas = presenter(kind).canvas(&output());
    let mut images = Vec::new();
    let mut clips = Vec::new();
    for i in 0..10 {
        let image = work.join(format!("slide{i}.png"));
        write_slide_image(&image, (i * 25) as u8);
        images.push(image);
        let clip = work.join(format!("clip{i}.mp4"));
        kind.mock(6.0 + 0.45 * i as f64, canvas, 180.0 + 20.0 * i as f64)
            .write(&clip)
            .expect("mock clip");
        clips.push(clip);
    }
    if !json {
        println!(
            "\n== 2. decks of {kind:?}-clip slides (veryfast CRF 23, {jobs} compose jobs, x264 threads {threads} (0 = sized by jobs)) ==\n(inputs generated in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let mut figures = Vec::new();
    for &height in &outputs {
        for &n in &decks {
            let d = deck(
                work,
                output_at(height),
                kind,
                n as usize,
                jobs,
                threads,
                &images,
                &clips,
            )
            .await;
            if !json {
                println!(
                    "{} {:>3} slides: {:.1} s of video in {:.1} s wall = {:.2} output-s/wall-s, peak RSS {:.0} MB",
                    d.output,
                    d.slides,
                    d.output_s,
                    d.wall_s,
                    d.output_s / d.wall_s,
                    d.peak_rss_mb
                );
            }
            figures.push(d);
        }
    }
    if json {
        let round = |v: f64| (v * 100.0).round() / 100.0;
        let line = serde_json::json!({
            "clip": { "width": clip.0, "height": clip.1, "fps": FPS },
            "compose_fps": round(one.compose_fps),
            "bare_encoder_fps": round(one.bare_encoder_fps),
            "cli_fps": one.cli_fps.map(round),
            "decks": figures.iter().map(|d| serde_json::json!({
                "output": d.output,
                "slides": d.slides,
                "wall_s": round(d.wall_s),
                "output_s": round(d.output_s),
                "peak_rss_mb": round(d.peak_rss_mb),
            })).collect::<Vec<_>>(),
        });
        println!("{line}");
    }
    if keep {
        let kept = root.keep();
        eprintln!("outputs kept in {}", kept.display());
    }
}
