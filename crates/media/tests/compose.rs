//! End-to-end composition on generated inputs, checked by reading the
//! outputs back with ffmpeg-next.

mod common;

use std::time::Duration;

use common::*;
use slidecast_core::deck::Shape;
use slidecast_core::Composer;
use slidecast_media::MediaComposer;

#[tokio::test]
async fn two_slides_with_a_presenter_join_into_a_clean_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let clip = mock_clip(dir.path(), "clip.mp4", 1.5);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();

    let info = composer.verify_clip(&clip).await.unwrap();
    assert!((info.duration.as_secs_f64() - 1.5).abs() < 0.05, "{info:?}");
    assert!(info.has_audio);

    let s1 = slide(1, &image, Some(presenter(pip(), Shape::Rectangle)));
    let mut s2 = slide(2, &image, None);
    s2.duration = Some(Duration::from_secs(1));
    let p1 = composer.prepare(&s1).await.unwrap();
    let p2 = composer.prepare(&s2).await.unwrap();
    let seg1 = composer.compose(&s1, p1, Some(&clip)).await.unwrap();
    let seg2 = composer.compose(&s2, p2, None).await.unwrap();
    let out = dir.path().join("out.mp4");
    composer.finish(&[seg1, seg2], &out).await.unwrap();

    if let Ok(keep) = std::env::var("SLIDECAST_KEEP") {
        std::fs::copy(&out, keep).unwrap();
    }
    let p = probe(&out);
    eprintln!("{p:?}");
    assert_eq!(p.video_codec, ffmpeg_next::codec::Id::H264);
    assert_eq!(p.audio_codec, Some(ffmpeg_next::codec::Id::AAC));
    assert_eq!((p.width, p.height), (W, H));
    assert_eq!(p.video_frames, 38 + 25);
    assert!(
        (p.video_duration - 2.52).abs() < 1e-3,
        "{}",
        p.video_duration
    );
    assert!((p.audio_duration - p.video_duration).abs() < 1.0 / 25.0);
}
