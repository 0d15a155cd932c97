//! Broken inputs fail with an error naming the file, and leave no output.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use slidecast_core::deck::Shape;
use slidecast_core::{ComposeError, Composer};
use slidecast_media::{MediaComposer, MockClip};

fn assert_names(err: &ComposeError, file: &Path) {
    match err {
        ComposeError::BadInput { path, .. } => assert_eq!(path, file, "{err}"),
        other => panic!("expected BadInput for {}, got {other:?}", file.display()),
    }
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

/// No segment (finished or partial) is left in `work`.
fn assert_no_segment_left(work: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("segment"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Verify and compose `clip` for a presenter slide: both must fail naming
/// the clip, and no segment or output may be left in the work folder.
async fn assert_rejected(clip: &Path) -> String {
    let dir = clip.parent().unwrap();
    let image = dir.join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let composer = MediaComposer::new(output(), dir).unwrap();
    let err = composer.verify_clip(clip).await.unwrap_err();
    assert_names(&err, clip);
    let s = slide(3, &image, Some(presenter(pip(), Shape::Rectangle)));
    let prepared = composer.prepare(&s).await.unwrap();
    let compose_err = composer
        .compose(&s, prepared, &[clip.to_path_buf()])
        .await
        .unwrap_err();
    assert_names(&compose_err, clip);
    assert_no_segment_left(composer.work_dir());
    eprintln!("verify: {err}\ncompose: {compose_err}");
    err.to_string()
}

#[tokio::test]
async fn a_truncated_clip_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let clip = mock_clip(dir.path(), "clip.mp4", 2.0);
    let bytes = std::fs::read(&clip).unwrap();
    std::fs::write(&clip, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let msg = assert_rejected(&clip).await;
    assert!(
        msg.contains("truncated") || msg.contains("damaged"),
        "{msg}"
    );
}

/// Verification reads every packet but decodes only the start (composing
/// decodes every frame anyway): a clip whose pictures are damaged further
/// in passes it, and composing it fails naming the clip, leaving nothing.
#[tokio::test]
async fn a_clip_damaged_inside_fails_to_compose_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let clip = mock_clip(dir.path(), "clip.mp4", 3.0);
    let mut bytes = std::fs::read(&clip).unwrap();
    // Scramble a stretch in the second half of the media data, keeping
    // the file's length and its index.
    let len = bytes.len();
    for (i, b) in bytes[len * 6 / 10..len * 7 / 10].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151) ^ 0x5A;
    }
    std::fs::write(&clip, &bytes).unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let info = composer.verify_clip(&clip).await.unwrap();
    assert!(info.duration > Duration::from_secs(2), "{info:?}");
    let s = slide(3, &image, Some(presenter(pip(), Shape::Rectangle)));
    let prepared = composer.prepare(&s).await.unwrap();
    let err = composer
        .compose(&s, prepared, &[clip.to_path_buf()])
        .await
        .unwrap_err();
    assert_names(&err, &clip);
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_no_segment_left(composer.work_dir());
}

#[tokio::test]
async fn a_clip_cut_before_its_index_is_rejected() {
    // Without faststart-like layout the cut loses the index: not readable.
    let dir = tempfile::tempdir().unwrap();
    let clip = mock_clip(dir.path(), "clip.mp4", 1.0);
    let bytes = std::fs::read(&clip).unwrap();
    std::fs::write(&clip, &bytes[..200]).unwrap();
    assert_rejected(&clip).await;
}

#[tokio::test]
async fn a_clip_without_video_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("audio-only.mp4");
    MockClip {
        with_video: false,
        ..MockClip::new(Duration::from_secs(1), 192, 108)
    }
    .write(&clip)
    .unwrap();
    let msg = assert_rejected(&clip).await;
    assert!(msg.contains("no video"), "{msg}");
}

#[tokio::test]
async fn a_zero_length_clip_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("empty.mp4");
    MockClip {
        with_audio: false,
        ..MockClip::new(Duration::ZERO, 192, 108)
    }
    .write(&clip)
    .unwrap();
    assert_rejected(&clip).await;
}

#[tokio::test]
async fn garbage_and_missing_clips_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("garbage.mp4");
    std::fs::write(&clip, vec![0x42u8; 4096]).unwrap();
    assert_rejected(&clip).await;
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let missing = dir.path().join("missing.mp4");
    assert_names(&composer.verify_clip(&missing).await.unwrap_err(), &missing);
}

#[tokio::test]
async fn a_broken_slide_image_is_rejected_by_prepare() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    std::fs::write(&image, b"not a png").unwrap();
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let err = composer.prepare(&slide(2, &image, None)).await.unwrap_err();
    assert_names(&err, &image);
}

#[tokio::test]
async fn a_failed_join_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let mut s = slide(1, &image, None);
    s.duration = Some(Duration::from_millis(200));
    let prepared = composer.prepare(&s).await.unwrap();
    let good = composer.compose(&s, prepared, &[]).await.unwrap();
    let mut gone = good.clone();
    gone.slide = 2;
    gone.path = dir.path().join("no-such-segment.nut");
    let out = dir.path().join("out.mp4");
    let err = composer
        .finish(&[good, gone], &out, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-segment"), "{err}");
    assert!(!out.exists());
    let partial: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn odd_output_sizes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let odd = slidecast_core::deck::Output {
        width: 321,
        ..output()
    };
    let err = MediaComposer::new(odd, dir.path()).err().unwrap();
    assert!(err.to_string().contains("321x180"), "{err}");
}
