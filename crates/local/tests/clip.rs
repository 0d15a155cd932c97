//! Real clips, rendered with espeak-ng and read back with ffmpeg-next.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{read_clip, request, rms};
use slidecast_local::avatar::mouth_region;
use slidecast_local::{render_clip, EspeakConfig, LocalError, RenderOptions};

fn out(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn clip_is_h264_and_aac_with_equal_durations_and_audible_speech() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "hello.mp4");
    let stats = render_clip(
        &request("Hello, and welcome to the demo."),
        &path,
        &RenderOptions::default(),
    )
    .unwrap();
    let clip = read_clip(&path);

    assert_eq!(clip.video_codec, "h264");
    assert_eq!(clip.audio_codec, "aac");
    assert_eq!((clip.width, clip.height), (320, 180));
    assert_eq!(clip.pixel_format, ffmpeg_next::format::Pixel::YUV420P);
    assert_eq!(clip.fps, 25.0);
    assert_eq!(clip.sample_rate, 48_000);
    assert_eq!(clip.frames.len(), stats.frames);

    // Clip duration == audio duration within one frame, in the container
    // and in decoded media.
    let frame = 1.0 / clip.fps;
    assert!(
        (clip.video_stream_seconds - clip.audio_stream_seconds).abs() <= frame,
        "streams: video {} s, audio {} s",
        clip.video_stream_seconds,
        clip.audio_stream_seconds
    );
    assert!(
        (clip.video_seconds() - clip.audio_seconds()).abs() <= frame,
        "decoded: video {} s, audio {} s",
        clip.video_seconds(),
        clip.audio_seconds()
    );
    assert!((clip.video_seconds() - stats.video_duration.as_secs_f64()).abs() < 1e-6);

    // Speech, not silence: the whole clip's RMS is well above a floor, and
    // the loudest frames are clearly loud.
    let level = rms(&clip.audio);
    assert!(level > 0.02, "clip RMS {level} is too quiet for speech");
    let loudest = (0..clip.frames.len())
        .map(|i| clip.frame_rms(i))
        .fold(0.0, f32::max);
    assert!(loudest > 0.08, "loudest frame RMS {loudest}");
    // The speech fills most of the clip (lead-in and tail are short).
    let voiced = (0..clip.frames.len())
        .filter(|&i| clip.frame_rms(i) > 0.01)
        .count();
    assert!(
        voiced * 2 > clip.frames.len(),
        "{voiced} of {} frames voiced",
        clip.frames.len()
    );

    // The background is the requested flat colour (for chroma key).
    let [r, g, b] = clip.pixel(0, 4, 4);
    assert!(r < 24 && g > 230 && b < 24, "corner pixel {r},{g},{b}");
}

#[test]
fn duration_grows_with_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let options = RenderOptions::default();
    let short = render_clip(&request("Hello."), &out(&dir, "short.mp4"), &options).unwrap();
    let long = render_clip(
        &request("Hello. This script is quite a lot longer, so the clip must last longer too."),
        &out(&dir, "long.mp4"),
        &options,
    )
    .unwrap();
    assert!(
        long.speech_duration > short.speech_duration + Duration::from_secs(2),
        "short {:?}, long {:?}",
        short.speech_duration,
        long.speech_duration
    );
    let (short_clip, long_clip) = (
        read_clip(&out(&dir, "short.mp4")),
        read_clip(&out(&dir, "long.mp4")),
    );
    assert!(long_clip.audio_seconds() > short_clip.audio_seconds() + 2.0);
    assert!(long_clip.frames.len() > short_clip.frames.len() + 50);
}

/// Mean absolute difference of the mouth region between two frames.
fn mouth_change(clip: &common::Clip, a: usize, b: usize) -> f64 {
    let (cx, cy, r) = mouth_region(clip.width, clip.height);
    let (x0, x1) = ((cx - r) as u32, (cx + r) as u32);
    let (y0, y1) = ((cy - r) as u32, (cy + r) as u32);
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            let (p, q) = (clip.pixel(a, x, y), clip.pixel(b, x, y));
            sum += (0..3).map(|c| p[c].abs_diff(q[c]) as u64).sum::<u64>();
            n += 3;
        }
    }
    sum as f64 / n as f64
}

#[test]
fn mouth_moves_with_speech_and_is_still_in_silence() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "mouth.mp4");
    // Idle motion moves the whole head (and so the mouth region); the mouth
    // itself is what this test watches. A long lead-in and tail give silence.
    let options = RenderOptions {
        idle_motion: false,
        lead_in: Duration::from_millis(600),
        tail: Duration::from_millis(800),
        ..RenderOptions::default()
    };
    render_clip(
        &request("Good morning everyone, let us look at the numbers."),
        &path,
        &options,
    )
    .unwrap();
    let clip = read_clip(&path);
    let n = clip.frames.len();
    let silent = |i: usize| (i.saturating_sub(8)..=i).all(|j| clip.frame_rms(j) < 1e-3);
    let speaking = |i: usize| clip.frame_rms(i) > 0.02;

    let silent_frames: Vec<usize> = (1..n).filter(|&i| silent(i) && silent(i - 1)).collect();
    assert!(
        silent_frames.len() >= 8,
        "expected silent frames at both ends, got {silent_frames:?}"
    );
    for &i in &silent_frames {
        let change = mouth_change(&clip, i - 1, i);
        assert!(
            change < 0.6,
            "mouth changed by {change:.2} in silent frame {i}"
        );
    }

    let speech_frames: Vec<usize> = (1..n).filter(|&i| speaking(i)).collect();
    assert!(speech_frames.len() > 20);
    let moving = speech_frames
        .iter()
        .filter(|&&i| mouth_change(&clip, i - 1, i) > 2.0)
        .count();
    assert!(
        moving * 3 > speech_frames.len(),
        "mouth moved in only {moving} of {} speech frames",
        speech_frames.len()
    );
    // Open during speech versus closed at the start.
    let widest = speech_frames
        .iter()
        .map(|&i| mouth_change(&clip, 0, i))
        .fold(0.0, f64::max);
    assert!(
        widest > 8.0,
        "the mouth never opened wide (max change {widest:.2})"
    );
}

#[test]
fn missing_espeak_says_how_to_install_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "never.mp4");
    let options = RenderOptions {
        espeak: EspeakConfig {
            program: dir.path().join("no-such-dir/espeak-ng"),
            ..EspeakConfig::default()
        },
        ..RenderOptions::default()
    };
    let err = render_clip(&request("Hello."), &path, &options).unwrap_err();
    assert!(matches!(err, LocalError::EspeakMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("apt-get install espeak-ng"), "{message}");
    assert!(message.contains("no-such-dir/espeak-ng"), "{message}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no file written"
    );

    // A bare program name that is on no PATH directory is missing too.
    let options = RenderOptions {
        espeak: EspeakConfig {
            program: "espeak-ng-that-does-not-exist".into(),
            ..EspeakConfig::default()
        },
        ..RenderOptions::default()
    };
    let err = render_clip(&request("Hello."), &path, &options).unwrap_err();
    assert!(err.to_string().contains("apt-get install espeak-ng"));
}

#[test]
fn bad_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = out(&dir, "bad.mp4");
    let options = RenderOptions::default();

    let mut unknown_voice = request("Hello.");
    unknown_voice.voice = Some("xx-nowhere".into());
    let err = render_clip(&unknown_voice, &path, &options).unwrap_err();
    assert!(
        matches!(err, LocalError::UnknownVoice { ref voice, .. } if voice == "xx-nowhere"),
        "{err:?}"
    );
    assert!(err.to_string().contains("espeak-ng --voices"));

    let err = render_clip(&request("   "), &path, &options).unwrap_err();
    assert!(matches!(err, LocalError::EmptyScript), "{err:?}");

    let mut odd = request("Hello.");
    odd.canvas = (321, 180);
    let err = render_clip(&odd, &path, &options).unwrap_err();
    assert!(
        matches!(
            err,
            LocalError::BadCanvas {
                width: 321,
                height: 180
            }
        ),
        "{err:?}"
    );
    assert!(!path.exists());
}
