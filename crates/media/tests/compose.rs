//! End-to-end composition on generated inputs, checked by reading the
//! outputs back with ffmpeg-next.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use ffmpeg_next::codec::Id;
use slidecast_core::deck::{Layout, Placement, Rect, Rgb, Shape, Slide, Transition};
use slidecast_core::{Composer, SlideSegment};
use slidecast_media::mock_clip::Gesture;
use slidecast_media::{MediaComposer, MockClip};

const FIGURE: Rgb = Rgb::new(0xE0, 0x66, 0x3A);

/// Prepare, compose and join `slides` (with their clips) into `out`.
async fn render(
    composer: &MediaComposer,
    slides: &[(Slide, Option<PathBuf>)],
    out: &Path,
) -> Vec<SlideSegment> {
    let mut segments = Vec::new();
    for (slide, clip) in slides {
        let prepared = composer.prepare(slide).await.unwrap();
        if let Some(c) = clip {
            composer.verify_clip(c).await.unwrap();
        }
        segments.push(
            composer
                .compose(slide, prepared, clip.as_slice())
                .await
                .unwrap(),
        );
    }
    composer
        .finish(&segments, out, &Default::default())
        .await
        .unwrap();
    segments
}

/// Render one presenter slide over a flat slide image and return frame 10.
async fn one_frame(
    layout: Layout,
    shape: Shape,
    image_size: (u32, u32),
) -> (slidecast_media::picture::Yuv420, Rect) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, image_size.0, image_size.1, SLIDE_COLOUR);
    let clip = mock_clip(dir.path(), "clip.mp4", 0.8);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let p = presenter(layout.clone(), shape);
    let area = layout.presenter_area(&output());
    let rect = slidecast_media::picture::fit_rect(192, 108, area);
    let out = dir.path().join("out.mp4");
    render(&composer, &[(slide(1, &image, Some(p)), Some(clip))], &out).await;
    (frame_at(&out, 10), rect)
}

fn at(rect: Rect, point: (f64, f64)) -> (u32, u32) {
    (
        rect.x + (rect.width as f64 * point.0) as u32,
        rect.y + (rect.height as f64 * point.1) as u32,
    )
}

#[tokio::test]
async fn presenter_and_slide_only_slides_join_into_a_clean_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let clip = mock_clip(dir.path(), "clip.mp4", 1.5);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();

    let info = composer.verify_clip(&clip).await.unwrap();
    assert!((info.duration.as_secs_f64() - 1.5).abs() < 0.05, "{info:?}");
    assert!(info.has_audio);
    assert_eq!((info.width, info.height), (192, 108));

    let mut s2 = slide(2, &image, None);
    s2.duration = Some(Duration::from_secs(1));
    let out = dir.path().join("out.mp4");
    let segments = render(
        &composer,
        &[
            (
                slide(1, &image, Some(presenter(pip(), Shape::Rectangle))),
                Some(clip),
            ),
            (s2, None),
        ],
        &out,
    )
    .await;
    // The clip's 1.5 s (plus AAC padding) rounds up to whole frames.
    assert_eq!(segments[0].duration, Duration::from_millis(1520));
    assert_eq!(segments[1].duration, Duration::from_secs(1));
    for s in &segments {
        assert!(!s.path.exists(), "segment {} left behind", s.path.display());
    }

    let p = probe(&out);
    assert_eq!(p.video_codec, Id::H264);
    assert_eq!(p.audio_codec, Some(Id::AAC));
    assert_eq!((p.width, p.height), (W, H));
    assert_eq!(p.fps, ffmpeg_next::Rational::new(25, 1));
    assert_eq!(p.video_frames, 38 + 25);
    assert!(
        (p.video_duration - 2.52).abs() < 1e-6,
        "{}",
        p.video_duration
    );
    assert!(
        (p.audio_duration - p.video_duration).abs() < 1.0 / 25.0,
        "{p:?}"
    );
    assert_eq!((p.audio_rate, p.audio_channels), (48_000, 2));
    // Every segment starts on a keyframe.
    assert_eq!(&p.keyframes[..2], &[0, 38]);
    // No temporary output left beside the result.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The avatar is where the placement says, the slide everywhere else.
    let frame = frame_at(&out, 10);
    let rect = slidecast_media::picture::fit_rect(192, 108, pip().presenter_area(&output()));
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    assert_colour(pixel(&frame, fx, fy), FIGURE, 24, "avatar figure");
    let (bx, by) = at(rect, MockClip::BACKGROUND_POINT);
    assert_colour(
        pixel(&frame, bx, by),
        Rgb::GREEN,
        40,
        "avatar background (rectangle keeps it)",
    );
    assert_colour(
        pixel(&frame, 20, 20),
        SLIDE_COLOUR,
        12,
        "slide outside the avatar",
    );
    // The slide-only slide has no avatar.
    let last = frame_at(&out, 50);
    assert_colour(pixel(&last, fx, fy), SLIDE_COLOUR, 12, "slide-only slide");
}

#[tokio::test]
async fn chroma_key_removes_the_avatar_background() {
    let shape = Shape::ChromaKey {
        key: Rgb::GREEN,
        similarity: 0.2,
        blend: 0.1,
    };
    let (frame, rect) = one_frame(pip(), shape, (320, 180)).await;
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    assert_colour(pixel(&frame, fx, fy), FIGURE, 24, "figure kept");
    let (bx, by) = at(rect, MockClip::BACKGROUND_POINT);
    assert_colour(
        pixel(&frame, bx, by),
        SLIDE_COLOUR,
        16,
        "key colour replaced by the slide",
    );
    // No green left anywhere in the avatar's rectangle.
    for y in rect.y..rect.y + rect.height {
        for x in rect.x..rect.x + rect.width {
            let c = pixel(&frame, x, y);
            let greenish = c.g > 150 && c.r < 120 && c.b < 120;
            assert!(!greenish, "green pixel {c} left at ({x},{y})");
        }
    }
}

/// A vendor-shaped keyed clip: a wide frame, the avatar in a box in the
/// middle, flat key colour around it. Only the figure's part is scaled
/// (the composer crops to it), so this checks the crop is placed exactly
/// and that a hand raised outside the part seen so far is drawn whole.
#[tokio::test]
async fn a_keyed_vendor_clip_keeps_its_figure_and_a_hand_raised_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, W, H, SLIDE_COLOUR);
    let clip = dir.path().join("vendor.mp4");
    // 960x540, the figure in the middle 420x540; from 1.0 s to 1.5 s a hand
    // is raised at the far right, well outside the figure's box.
    let hand = (840, 200, 90, 90);
    MockClip {
        figure_box: Some((270, 0, 420, 540)),
        gesture: Some(Gesture {
            during: Duration::from_millis(1000)..Duration::from_millis(1500),
            hand,
        }),
        ..MockClip::new(Duration::from_secs(2), 960, 540)
    }
    .write(&clip)
    .unwrap();
    // Tight enough that the yellowish skin stays fully opaque.
    let shape = Shape::ChromaKey {
        key: Rgb::GREEN,
        similarity: 0.15,
        blend: 0.05,
    };
    // The presenter fills the frame: clip pixels map to output pixels / 3.
    let layout = Layout::PictureInPicture(Placement::Rect(Rect::new(0, 0, W, H)));
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let s = slide(1, &image, Some(presenter(layout, shape)));
    render(&composer, &[(s, Some(clip))], &out).await;

    let frames = frames_at(&out, &[10, 30, 45]);
    let hand_at = ((hand.0 + hand.2 / 2) / 3, (hand.1 + hand.3 / 2) / 3);
    let figure_at = (
        (270.0 + 420.0 * MockClip::FIGURE_POINT.0) as u32 / 3,
        (540.0 * MockClip::FIGURE_POINT.1) as u32 / 3,
    );
    for (frame, when) in frames.iter().zip(["before", "during", "after"]) {
        assert_colour(
            pixel(frame, figure_at.0, figure_at.1),
            FIGURE,
            24,
            &format!("the figure, {when} the gesture"),
        );
        let hand_colour = pixel(frame, hand_at.0, hand_at.1);
        if when == "during" {
            assert_colour(
                hand_colour,
                slidecast_media::mock_clip::SKIN,
                24,
                "the raised hand",
            );
        } else {
            assert_colour(hand_colour, SLIDE_COLOUR, 16, &format!("no hand {when}"));
        }
        // The key colour is gone everywhere, the crop's edges included.
        for y in (0..H).step_by(2) {
            for x in (0..W).step_by(2) {
                let c = pixel(frame, x, y);
                let greenish = c.g > 150 && c.r < 120 && c.b < 120;
                assert!(!greenish, "{when}: green pixel {c} left at ({x},{y})");
            }
        }
    }
    // Left and right of the figure's box: the slide.
    for x in [20, 300] {
        assert_colour(
            pixel(&frames[0], x, 90),
            SLIDE_COLOUR,
            16,
            "beside the figure",
        );
    }
}

#[tokio::test]
async fn circle_shows_the_slide_in_the_corners() {
    let (frame, rect) = one_frame(pip(), Shape::Circle, (320, 180)).await;
    let inset = 3;
    for (x, y) in [
        (rect.x + inset, rect.y + inset),
        (rect.x + rect.width - inset, rect.y + inset),
        (rect.x + inset, rect.y + rect.height - inset),
        (rect.x + rect.width - inset, rect.y + rect.height - inset),
    ] {
        assert_colour(pixel(&frame, x, y), SLIDE_COLOUR, 16, "circle corner");
    }
    // Inside the circle, left of the head: the clip's green background.
    let (x, y) = at(rect, (0.5 - 0.2, 0.5));
    assert_colour(pixel(&frame, x, y), Rgb::GREEN, 40, "inside the circle");
}

#[tokio::test]
async fn a_narrow_slide_is_letterboxed_with_the_deck_background() {
    // A 4:3 image in a 16:9 frame: bars left and right.
    let (frame, _) = one_frame(
        Layout::PictureInPicture(Placement::Rect(Rect::new(0, 0, 64, 36))),
        Shape::Rectangle,
        (240, 180),
    )
    .await;
    assert_colour(pixel(&frame, 10, 120), LETTERBOX, 12, "left bar");
    assert_colour(pixel(&frame, 310, 120), LETTERBOX, 12, "right bar");
    assert_colour(pixel(&frame, 160, 120), SLIDE_COLOUR, 12, "slide");
}

#[tokio::test]
async fn side_by_side_puts_slide_left_and_presenter_right() {
    let (frame, rect) = one_frame(Layout::SideBySide, Shape::Rectangle, (320, 180)).await;
    assert!(rect.x >= W / 2, "{rect:?}");
    // The 16:9 slide in the left half is letterboxed above and below.
    assert_colour(pixel(&frame, 80, 5), LETTERBOX, 12, "bar above the slide");
    assert_colour(pixel(&frame, 80, 90), SLIDE_COLOUR, 12, "slide");
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    assert_colour(pixel(&frame, fx, fy), FIGURE, 24, "figure");
    assert_colour(
        pixel(&frame, 240, 5),
        LETTERBOX,
        12,
        "bar above the presenter",
    );
}

#[tokio::test]
async fn jpeg_backgrounds_keep_their_colour() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.jpg");
    let colour = Rgb::new(200, 40, 60);
    write_flat_image(&image, 640, 360, colour);
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let mut s = slide(1, &image, None);
    s.duration = Some(Duration::from_millis(400));
    let out = dir.path().join("out.mp4");
    render(&composer, &[(s, None)], &out).await;
    let p = probe(&out);
    assert_eq!(p.video_frames, 10);
    assert_colour(
        pixel(&frame_at(&out, 5), 160, 90),
        colour,
        10,
        "BT.709 round trip",
    );
}

#[tokio::test]
async fn fade_darkens_the_junction_without_breaking_the_join() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let mut deck_slides = Vec::new();
    for n in 1..=2 {
        let mut s = slide(n, &image, None);
        s.duration = Some(Duration::from_secs(1));
        deck_slides.push(s);
    }
    deck_slides[1].transition = Transition::Fade {
        duration: Duration::from_millis(400),
    };
    let deck = slidecast_core::Deck {
        source: dir.path().join("deck.toml"),
        title: "fade".into(),
        output: output(),
        slides: deck_slides.clone(),
    };
    let composer = MediaComposer::for_deck(&deck, dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    render(
        &composer,
        &deck_slides
            .into_iter()
            .map(|s| (s, None))
            .collect::<Vec<_>>(),
        &out,
    )
    .await;
    let p = probe(&out);
    assert_eq!(p.video_frames, 50);
    assert_eq!(&p.keyframes[..2], &[0, 25]);
    let frames = frames_at(&out, &[5, 20, 24, 25, 30, 40]);
    let luma = |i: usize| frames[i].y[(90 * W + 160) as usize];
    let full = luma(0);
    assert!(luma(1) < full, "fade-out has begun: {} vs {full}", luma(1));
    assert!(luma(2) < 30, "last frame of slide 1 is black: {}", luma(2));
    assert!(luma(3) < 30, "first frame of slide 2 is black: {}", luma(3));
    assert!(luma(3) < luma(4) && luma(4) < full, "fade-in rises");
    assert_eq!(luma(5), full, "after the fade");
}

#[tokio::test]
async fn clip_frame_rate_is_converted_to_the_deck_rate() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let clip = dir.path().join("clip30.mp4");
    MockClip {
        fps: 30,
        ..MockClip::new(Duration::from_millis(1200), 192, 108)
    }
    .write(&clip)
    .unwrap();
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let info = composer.verify_clip(&clip).await.unwrap();
    let out = dir.path().join("out.mp4");
    let s = slide(1, &image, Some(presenter(pip(), Shape::Rectangle)));
    render(&composer, &[(s, Some(clip))], &out).await;
    let p = probe(&out);
    assert_eq!(p.fps, ffmpeg_next::Rational::new(25, 1));
    let expected = (info.duration.as_secs_f64() * 25.0 - 1e-6).ceil() as u64;
    assert_eq!(p.video_frames, expected, "{info:?} at 25 fps");
    assert!((29..=31).contains(&p.video_frames));
}

#[tokio::test]
async fn thirty_slides_keep_audio_and_video_aligned_at_every_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let out_settings = slidecast_core::deck::Output {
        fps: 30,
        ..output()
    };
    let composer = MediaComposer::new(out_settings, dir.path()).unwrap();
    // Odd lengths so nothing lines up by luck: narrated slides (tone)
    // alternate with silent slide-only slides.
    let mut slides = Vec::new();
    for n in 1..=30 {
        if n % 2 == 1 {
            let clip = dir.path().join(format!("clip{n}.mp4"));
            MockClip {
                fps: 25,
                ..MockClip::new(Duration::from_millis(310 + 37 * n as u64), 160, 90)
            }
            .write(&clip)
            .unwrap();
            slides.push((
                slide(n, &image, Some(presenter(pip(), Shape::Rectangle))),
                Some(clip),
            ));
        } else {
            let mut s = slide(n, &image, None);
            s.duration = Some(Duration::from_millis(250 + 13 * n as u64));
            slides.push((s, None));
        }
    }
    let out = dir.path().join("out.mp4");
    let segments = render(&composer, &slides, &out).await;
    let p = probe(&out);
    let frames_each: Vec<u64> = segments
        .iter()
        .map(|s| (s.duration.as_secs_f64() * 30.0).round() as u64)
        .collect();
    let total: u64 = frames_each.iter().sum();
    assert_eq!(p.video_frames, total);
    assert!((p.video_duration - total as f64 / 30.0).abs() < 1e-6);
    assert!(
        (p.audio_duration - p.video_duration).abs() < 1.0 / 30.0,
        "audio {} vs video {}",
        p.audio_duration,
        p.video_duration
    );
    // Every slide starts on a keyframe.
    let mut start = 0;
    let mut starts = Vec::new();
    for f in &frames_each {
        assert!(
            p.keyframes.contains(&start),
            "slide at frame {start} is no keyframe"
        );
        starts.push(start as f64 / 30.0);
        start += f;
    }
    // Each narrated slide's sound starts within one frame of its picture.
    let (left, rate) = audio_left(&out);
    let onsets = sound_onsets(&left, rate, 0.1);
    let narrated: Vec<f64> = starts.iter().step_by(2).copied().collect();
    assert_eq!(onsets.len(), narrated.len(), "onsets {onsets:?}");
    for (onset, start) in onsets.iter().zip(&narrated) {
        assert!(
            (onset - start).abs() <= 1.0 / 30.0,
            "sound at {onset:.4} s, slide at {start:.4} s"
        );
    }
}

#[tokio::test]
async fn b_frame_segments_join_by_stream_copy() {
    // veryfast uses B-frames: decode order differs from display order and
    // the segments' timestamps start below zero.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let settings = slidecast_core::deck::Output {
        quality: slidecast_core::deck::Quality::Level(slidecast_core::deck::QualityLevel::Standard),
        loudness: Some(slidecast_core::deck::DEFAULT_LOUDNESS),
        music_volume: slidecast_core::deck::DEFAULT_MUSIC_VOLUME,
        ..output()
    };
    let composer = MediaComposer::new(settings, dir.path()).unwrap();
    let clip = mock_clip(dir.path(), "clip.mp4", 1.0);
    let mut s2 = slide(2, &image, None);
    s2.duration = Some(Duration::from_millis(600));
    let out = dir.path().join("out.mp4");
    let segments = render(
        &composer,
        &[
            (
                slide(1, &image, Some(presenter(pip(), Shape::Rectangle))),
                Some(clip.clone()),
            ),
            (s2, None),
            (
                slide(3, &image, Some(presenter(pip(), Shape::Circle))),
                Some(clip),
            ),
        ],
        &out,
    )
    .await;
    let frames: Vec<u64> = segments
        .iter()
        .map(|s| (s.duration.as_secs_f64() * 25.0).round() as u64)
        .collect();
    assert_eq!(frames[1], 15);
    let p = probe(&out);
    assert_eq!(p.video_frames, frames.iter().sum::<u64>());
    assert_eq!(&p.keyframes[..3], &[0, frames[0], frames[0] + frames[1]]);
    assert!(
        (p.video_duration - p.video_frames as f64 / 25.0).abs() < 1e-6,
        "{p:?}"
    );
    assert!(
        (p.audio_duration - p.video_duration).abs() < 1.0 / 25.0,
        "{p:?}"
    );
    // Decodes cleanly across both joins.
    let last = frames_at(&out, &[p.video_frames as usize - 1]);
    assert_eq!(last[0].width, W);
}

#[tokio::test]
async fn vp9_alpha_clips_show_the_slide_through_transparency() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    let clip = dir.path().join("clip.webm");
    MockClip {
        transparent: true,
        ..MockClip::new(Duration::from_millis(800), 192, 108)
    }
    .write(&clip)
    .unwrap();
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let info = composer.verify_clip(&clip).await.unwrap();
    assert!(!info.has_audio);
    let out = dir.path().join("out.mp4");
    let s = slide(1, &image, Some(presenter(pip(), Shape::Rectangle)));
    render(&composer, &[(s, Some(clip))], &out).await;
    let p = probe(&out);
    assert_eq!(p.video_frames, 20);
    assert!(
        (p.audio_duration - 0.8).abs() < 1.0 / 25.0,
        "silent track: {p:?}"
    );
    let frame = frame_at(&out, 10);
    let rect = slidecast_media::picture::fit_rect(192, 108, pip().presenter_area(&output()));
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    assert_colour(pixel(&frame, fx, fy), FIGURE, 24, "opaque figure");
    let (bx, by) = at(rect, MockClip::BACKGROUND_POINT);
    assert_colour(
        pixel(&frame, bx, by),
        SLIDE_COLOUR,
        16,
        "transparent background",
    );
}

#[tokio::test]
async fn split_screen_gives_the_slide_its_share_of_the_width() {
    let layout = Layout::SplitScreen { ratio: 0.7 };
    let (frame, rect) = one_frame(layout, Shape::Circle, (224, 180)).await;
    // 224x180 fits the 224-wide slide area exactly in width: no side bars
    // inside it, the presenter column starts at x = 224.
    assert_eq!(rect.x.max(224), rect.x);
    assert_colour(
        pixel(&frame, 4, 90),
        SLIDE_COLOUR,
        12,
        "slide at the left edge",
    );
    assert_colour(
        pixel(&frame, 220, 90),
        SLIDE_COLOUR,
        12,
        "slide up to its share",
    );
    assert_colour(
        pixel(&frame, 228, 5),
        LETTERBOX,
        12,
        "presenter column background",
    );
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    assert_colour(pixel(&frame, fx, fy), FIGURE, 24, "figure");
}

/// Zero crossings per second of `samples` (a pure tone crosses twice a cycle).
fn crossings_per_second(samples: &[f32], rate: u32) -> f64 {
    let n = samples
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    n as f64 * f64::from(rate) / samples.len() as f64
}

#[tokio::test]
async fn the_parts_of_a_split_narration_play_back_to_back_in_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    // Two parts a viewer can tell apart: shirt colour and voice pitch.
    let second_figure = Rgb::new(0x3A, 0x66, 0xE0);
    let part = |name: &str, seconds: f64, figure: Rgb, tone_hz: f64| {
        let path = dir.path().join(name);
        let mut clip = MockClip::new(Duration::from_secs_f64(seconds), 192, 108);
        clip.figure = figure;
        clip.tone_hz = tone_hz;
        clip.write(&path).unwrap();
        path
    };
    let clips = vec![
        part("part-1.mp4", 1.0, FIGURE, 220.0),
        part("part-2.mp4", 1.3, second_figure, 440.0),
    ];
    let composer = MediaComposer::new(output(), dir.path()).unwrap();
    let lengths: Vec<f64> = {
        let mut l = Vec::new();
        for c in &clips {
            l.push(
                composer
                    .verify_clip(c)
                    .await
                    .unwrap()
                    .duration
                    .as_secs_f64(),
            );
        }
        l
    };
    let p = presenter(pip(), Shape::Rectangle);
    let s = slide(1, &image, Some(p.clone()));
    let prepared = composer.prepare(&s).await.unwrap();
    let segment = composer.compose(&s, prepared, &clips).await.unwrap();
    let out = dir.path().join("out.mp4");
    composer
        .finish(std::slice::from_ref(&segment), &out, &Default::default())
        .await
        .unwrap();

    // Each part covers whole frames; the second starts where the first ends.
    let frames: Vec<u64> = lengths
        .iter()
        .map(|&l| (l * 25.0 - 1e-6).ceil() as u64)
        .collect();
    assert_eq!(
        segment.clip_starts,
        vec![Duration::ZERO, Duration::from_millis(frames[0] * 40)]
    );
    assert_eq!(
        segment.duration,
        Duration::from_millis((frames[0] + frames[1]) * 40)
    );
    let probed = probe(&out);
    assert_eq!(probed.video_frames, frames[0] + frames[1]);
    assert!(
        (probed.audio_duration - probed.video_duration).abs() < 1.0 / 25.0,
        "{probed:?}"
    );

    // The picture: the first part's figure up to the boundary, then the second's.
    let rect = slidecast_media::picture::fit_rect(192, 108, pip().presenter_area(&output()));
    let (fx, fy) = at(rect, MockClip::FIGURE_POINT);
    let boundary = frames[0] as usize;
    let pics = frames_at(&out, &[boundary - 2, boundary + 2]);
    assert_colour(pixel(&pics[0], fx, fy), FIGURE, 40, "last frames of part 1");
    assert_colour(
        pixel(&pics[1], fx, fy),
        second_figure,
        40,
        "first frames of part 2",
    );

    // The sound: part 1's voice right up to the boundary, part 2's from it,
    // with no silence between.
    let (left, rate) = audio_left(&out);
    let at_s = |t: f64| (t * f64::from(rate)) as usize;
    let b = boundary as f64 / 25.0;
    let before = crossings_per_second(&left[at_s(b - 0.3)..at_s(b - 0.05)], rate);
    let after = crossings_per_second(&left[at_s(b + 0.05)..at_s(b + 0.3)], rate);
    assert!(
        (before - 440.0).abs() < 40.0,
        "part 1 at {before} crossings/s"
    );
    assert!(
        (after - 880.0).abs() < 60.0,
        "part 2 at {after} crossings/s"
    );
    let onsets = sound_onsets(&left, rate, 0.1);
    assert_eq!(onsets.len(), 1, "one continuous narration: {onsets:?}");
}

/// A clip whose voice peaks at `level` of full scale.
fn voiced_clip(dir: &Path, name: &str, level: f64) -> PathBuf {
    let path = dir.join(name);
    MockClip {
        voice_level: level,
        ..MockClip::new(Duration::from_secs(3), 192, 108)
    }
    .write(&path)
    .unwrap();
    path
}

#[tokio::test]
async fn a_quiet_and_a_loud_slide_come_out_at_the_deck_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    // About 30 dB apart, as a quiet vendor clip beside a loud local voice.
    let quiet = voiced_clip(dir.path(), "quiet.mp4", 0.03);
    let loud = voiced_clip(dir.path(), "loud.mp4", 0.9);
    let p = || Some(presenter(pip(), Shape::Rectangle));
    let slides = [
        (slide(1, &image, p()), Some(quiet)),
        (slide(2, &image, p()), Some(loud)),
    ];
    let level = |loudness: Option<f64>| {
        let dir = &dir;
        let slides = &slides;
        async move {
            let settings = slidecast_core::deck::Output {
                loudness,
                ..output()
            };
            let work = tempfile::tempdir_in(dir.path()).unwrap();
            let composer = MediaComposer::new(settings, work.path()).unwrap();
            let out = work.path().join("out.mp4");
            let segments = render(&composer, slides, &out).await;
            let (audio, rate) = audio_channels(&out);
            assert_eq!(audio.len(), 2, "stereo");
            let first = segments[0].duration.as_secs_f64();
            let end = first + segments[1].duration.as_secs_f64();
            [
                loudness_of(&audio, rate, 0.0, first),
                loudness_of(&audio, rate, first, end),
            ]
        }
    };
    let as_rendered = level(None).await;
    let (quiet_in, loud_in) = (as_rendered[0].0, as_rendered[1].0);
    assert!(
        loud_in - quiet_in > 25.0,
        "the clips differ as made: {as_rendered:?}"
    );
    let levelled = level(Some(-16.0)).await;
    for (n, (lufs, peak)) in levelled.iter().enumerate() {
        assert!(
            (lufs - -16.0).abs() <= 1.0,
            "slide {}: {lufs:.1} LUFS, not -16 ± 1 (as rendered {as_rendered:?})",
            n + 1
        );
        assert!(*peak <= -1.0, "slide {}: true peak {peak:.1} dBTP", n + 1);
    }
}

/// Power of the `hz` component of `samples` (one channel) from `from` to
/// `to` seconds (Goertzel), as an amplitude.
fn tone_amplitude(samples: &[f32], rate: u32, hz: f64, from: f64, to: f64) -> f64 {
    let (a, b) = ((from * rate as f64) as usize, (to * rate as f64) as usize);
    let window = &samples[a..b.min(samples.len())];
    let w = std::f64::consts::TAU * hz / rate as f64;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in window {
        let s = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    2.0 * power.sqrt() / window.len() as f64
}

#[tokio::test]
async fn music_loops_under_the_deck_ducks_under_speech_and_fades_out() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slide.png");
    write_flat_image(&image, 320, 180, SLIDE_COLOUR);
    // A 2 s music file at 660 Hz (audio only), shorter than the video.
    let music = dir.path().join("bed.m4a");
    MockClip {
        tone_hz: 660.0,
        with_video: false,
        voice_level: 0.5,
        ..MockClip::new(Duration::from_secs(2), 192, 108)
    }
    .write(&music)
    .unwrap();
    // Slide 1 is narrated at 220 Hz for 3 s, slide 2 is 4 s of silence.
    let clip = voiced_clip(dir.path(), "voice.mp4", 0.3);
    let mut narrated = slide(1, &image, Some(presenter(pip(), Shape::Rectangle)));
    narrated.music = Some(music.clone());
    let mut quiet = slide(2, &image, None);
    quiet.duration = Some(Duration::from_secs(4));
    quiet.music = Some(music.clone());
    let deck = slidecast_core::Deck {
        source: dir.path().join("deck.toml"),
        title: "music".into(),
        output: output(),
        slides: vec![narrated.clone(), quiet.clone()],
    };
    let composer = MediaComposer::for_deck(&deck, dir.path()).unwrap();
    let out = dir.path().join("out.mp4");
    let segments = render(&composer, &[(narrated, Some(clip)), (quiet, None)], &out).await;
    assert!(!segments[0].speech.is_empty(), "the narration is heard");
    assert!(segments[1].speech.is_empty(), "the closer is silent");

    let (audio, rate) = audio_channels(&out);
    let left = &audio[0];
    let first = segments[0].duration.as_secs_f64();
    let end = first + segments[1].duration.as_secs_f64();
    // The music's level over one second (its 3 Hz swell averages out),
    // in quarter seconds so the phase jump where it loops cancels nothing.
    let music_level = |from: f64| {
        (0..4)
            .map(|q| {
                let t = from + 0.25 * q as f64;
                tone_amplitude(left, rate, 660.0, t, t + 0.25)
            })
            .sum::<f64>()
            / 4.0
    };
    // Under the speech the music is 12 dB down from where nobody speaks
    // (the second slide, after the 2 s file has looped).
    let under_speech = music_level(1.0);
    let free = music_level(first + 1.0);
    let ducked_db = 20.0 * (under_speech / free).log10();

    assert!(
        (-13.5..=-10.5).contains(&ducked_db),
        "ducked by {ducked_db:.1} dB ({under_speech} vs {free})"
    );
    // The narration itself is untouched by the music's presence.
    assert!(tone_amplitude(left, rate, 220.0, 1.0, 2.0) > 10.0 * under_speech);
    // Where nobody speaks, the music sits 14 dB under the narration's -16.
    let (lufs, _) = loudness_of(&audio, rate, first + 0.8, first + 2.4);
    assert!((lufs - -30.0).abs() <= 1.5, "music alone at {lufs:.1} LUFS");
    // It fades out at the end of the video.
    let tail = tone_amplitude(left, rate, 660.0, end - 0.3, end - 0.05);
    assert!(tail < free / 4.0, "tail {tail} vs {free}");
}
