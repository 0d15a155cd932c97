//! The mock clip generator makes real, exact-length H.264 + AAC clips.

mod common;

use std::time::Duration;

use common::*;
use ffmpeg_next::codec::Id;
use slidecast_core::deck::Rgb;
use slidecast_media::MockClip;

#[test]
fn mock_clips_are_real_h264_aac_of_the_requested_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    slidecast_media::mock_clip::write(&path, Duration::from_millis(1600), 256, 144, 25).unwrap();
    let p = probe(&path);
    assert_eq!(p.video_codec, Id::H264);
    assert_eq!(p.audio_codec, Some(Id::AAC));
    assert_eq!((p.width, p.height), (256, 144));
    assert_eq!(p.video_frames, 40);
    assert!((p.video_duration - 1.6).abs() < 1e-6);
    assert!((p.audio_duration - 1.6).abs() < 0.01, "{p:?}");
    // The voice is audible, the picture shows the figure on its background.
    let (left, _) = audio_left(&path);
    let peak = left.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.2, "peak {peak}");
    let frame = frame_at(&path, 3);
    let (fx, fy) = MockClip::FIGURE_POINT;
    assert_colour(
        pixel(&frame, (256.0 * fx) as u32, (144.0 * fy) as u32),
        Rgb::new(0xE0, 0x66, 0x3A),
        24,
        "figure",
    );
    let (bx, by) = MockClip::BACKGROUND_POINT;
    assert_colour(
        pixel(&frame, (256.0 * bx) as u32, (144.0 * by) as u32),
        Rgb::GREEN,
        40,
        "background",
    );
}

/// A vendor-like clip: Elai's 1920x1080 frame at 25 fps with mono 24 kHz
/// sound, the avatar standing in the box the request placed it in (slidecast
/// asks for a 1080x1080 box in the middle) over the requested background.
#[test]
fn a_placed_figure_stands_in_its_box_on_a_full_hd_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vendor.mp4");
    let key = Rgb::new(0x00, 0xFF, 0x00);
    let (bx, by, bw, bh) = (420, 0, 1080, 1080);
    MockClip {
        sample_rate: 24_000,
        background: key,
        figure_box: Some((bx, by, bw, bh)),
        ..MockClip::new(Duration::from_millis(400), 1920, 1080)
    }
    .write(&path)
    .unwrap();
    let p = probe(&path);
    assert_eq!((p.width, p.height), (1920, 1080));
    assert_eq!(p.fps, ffmpeg_next::Rational::new(25, 1));
    assert_eq!((p.audio_rate, p.audio_channels), (24_000, 1));

    let frame = frame_at(&path, 2);
    let at = |(fx, fy): (f64, f64)| {
        (
            bx + (f64::from(bw) * fx) as u32,
            by + (f64::from(bh) * fy) as u32,
        )
    };
    let (x, y) = at(MockClip::FIGURE_POINT);
    assert_colour(
        pixel(&frame, x, y),
        Rgb::new(0xE0, 0x66, 0x3A),
        24,
        "figure",
    );
    let (x, y) = at(MockClip::BACKGROUND_POINT);
    assert_colour(pixel(&frame, x, y), key, 40, "background inside the box");
    // Outside the box, beside the shoulders: background, never the figure.
    for x in [100, bx - 20, bx + bw + 20, 1800] {
        assert_colour(pixel(&frame, x, 1060), key, 40, "background beside the box");
    }
}
