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
