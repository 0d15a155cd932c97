//! The quickstart deck validates, and the local provider makes a clip for
//! every narrated slide of it, driven the way the scheduler drives a vendor
//! (every render initiated at once, then polled and fetched).

mod common;

use std::path::Path;
use std::time::Duration;

use common::read_clip;
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
        let request = slide.clip_request(&deck).unwrap();
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
