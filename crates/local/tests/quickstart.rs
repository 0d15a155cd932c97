//! The quickstart deck validates, and the local provider makes a clip for
//! every narrated slide of it, driven the way the scheduler drives a vendor
//! (every render initiated at once, then polled and fetched).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{read_clip, read_clip_keeping};
use slidecast_core::deck::Transition;
use slidecast_core::{AvatarProvider, Deck, RenderStatus};
use slidecast_local::{LocalConfig, LocalProvider};

fn quickstart() -> Deck {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/deck.toml");
    Deck::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn quickstart_deck_has_the_promised_shape() {
    let deck = quickstart();
    assert_eq!(deck.slides.len(), 5);
    assert_eq!(deck.presenter_slides().count(), 4);
    let slide_only: Vec<_> = deck
        .slides
        .iter()
        .filter(|s| s.presenter.is_none())
        .collect();
    assert_eq!(slide_only.len(), 1);
    assert!(slide_only[0].duration.is_some());
    assert!(deck
        .slides
        .iter()
        .any(|s| matches!(s.transition, Transition::Fade { .. })));
    for slide in &deck.slides {
        assert!(slide.image.is_file(), "{}", slide.image.display());
        let size = std::fs::metadata(&slide.image).unwrap().len();
        assert!(
            size < 100_000,
            "{} is {size} bytes; keep committed slides small",
            slide.image.display()
        );
        if let Some(p) = &slide.presenter {
            assert_eq!(p.provider, "local");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_narrated_quickstart_slide_gets_a_talking_clip() {
    let deck = quickstart();
    let provider = LocalProvider::new(LocalConfig::default()).unwrap();
    let mut handles = Vec::new();
    for slide in deck.presenter_slides() {
        let request = slide.clip_requests(&deck).remove(0);
        handles.push((
            slide.number,
            request.canvas,
            provider.initiate(&request).await.unwrap(),
        ));
    }
    let dest = tempfile::tempdir().unwrap();
    for (slide, canvas, handle) in handles {
        let mut status = provider.status(&handle).await.unwrap();
        for _ in 0..6000 {
            if status == RenderStatus::Ready {
                break;
            }
            assert!(
                matches!(
                    status,
                    RenderStatus::Queued | RenderStatus::Rendering { .. }
                ),
                "slide {slide}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            status = provider.status(&handle).await.unwrap();
        }
        assert_eq!(status, RenderStatus::Ready, "slide {slide}");
        let path = dest.path().join(format!("{slide}.mp4"));
        provider.fetch(&handle, &path).await.unwrap();
        let clip = read_clip(&path);
        assert_eq!((clip.width, clip.height), canvas);
        assert!(
            clip.audio_seconds() > 3.0,
            "slide {slide}: {} s of narration",
            clip.audio_seconds()
        );
        assert!((clip.video_seconds() - clip.audio_seconds()).abs() <= 1.0 / clip.fps);
        assert!(
            common::rms(&clip.audio) > 0.02,
            "slide {slide} is not silent"
        );
    }
}

/// The whole default run: the quickstart deck through the scheduler, the
/// local presenter and the media composer, into one video.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_renders_end_to_end_with_the_local_presenter() {
    use std::sync::Arc;

    use slidecast_core::deck::{Quality, QualityLevel};
    use slidecast_core::Scheduler;
    use slidecast_media::MediaComposer;

    let mut deck = quickstart();
    // Draft encoding keeps the test quick; everything else is the real deck.
    deck.output.quality = Quality::Level(QualityLevel::Draft);
    let work = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(LocalConfig {
        work_dir: Some(work.path().join("local")),
        ..LocalConfig::default()
    })
    .unwrap();
    let composer = MediaComposer::for_deck(&deck, work.path().join("media")).unwrap();
    let out = work.path().join("quickstart.mp4");
    let report = Scheduler::new(Arc::new(provider), Arc::new(composer))
        .run(&deck, &out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.segments.len(), 5);
    assert_eq!(report.clips.len(), 4);

    // Keep one frame in the middle of slide 4 (a narrated slide).
    let starts: Vec<f64> = report
        .segments
        .iter()
        .scan(0.0, |t, s| {
            let start = *t;
            *t += s.duration.as_secs_f64();
            Some(start)
        })
        .collect();
    let slide4 = &report.segments[3];
    let probe_frame = ((starts[3] + slide4.duration.as_secs_f64() / 2.0) * 25.0) as usize;
    let video = read_clip_keeping(&out, |i| i == probe_frame);
    assert_eq!((video.width, video.height), (1280, 720));
    let total: f64 = report
        .segments
        .iter()
        .map(|s| s.duration.as_secs_f64())
        .sum();
    assert!((video.video_seconds() - total).abs() <= 1.0 / video.fps);
    assert!((video.video_seconds() - video.audio_seconds()).abs() <= 1.0 / video.fps);
    // Narration is audible on the narrated slides, silent on the closer.
    let rms_between = |a: f64, b: f64| {
        let rate = video.sample_rate as f64;
        common::rms(&video.audio[(a * rate) as usize..((b * rate) as usize).min(video.audio.len())])
    };
    for (i, seg) in report.segments.iter().enumerate().take(4) {
        let level = rms_between(starts[i], starts[i] + seg.duration.as_secs_f64());
        assert!(level > 0.02, "slide {} narration RMS {level}", i + 1);
    }
    assert!(
        rms_between(starts[4] + 0.5, total) < 1e-3,
        "the slide-only closer is silent"
    );
    // The presenter is on screen: in the circle at the bottom right (the
    // deck's placement: 358x200 at 890,488), the face is where the local
    // avatar draws it, warm skin rather than the bluish paper or backdrop.
    let [r, g, b] = video.pixel(probe_frame, 1069, 575);
    assert!(
        r as i32 > b as i32 + 40,
        "expected the presenter's face at (1069, 575), got {r},{g},{b}"
    );
}
