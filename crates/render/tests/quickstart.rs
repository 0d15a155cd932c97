//! The quickstart deck as a lecture video: one chapter per slide, even
//! loudness, and captions that appear when their words are spoken, each
//! read back from the output with the `ffmpeg` CLI (an implementation
//! independent of slidecast's own).

use std::time::Duration;

use slidecast_core::deck::{Quality, QualityLevel};
use slidecast_render::{Deck, RenderJob, StorePolicy};
use slidecast_tests::{speech_onsets, workspace_root, Loudness, Probe};

/// A WebVTT cue: start, end (seconds) and text.
fn vtt_cues(text: &str) -> Vec<(f64, f64, String)> {
    let secs = |t: &str| -> f64 {
        let parts: Vec<f64> = t.split(':').map(|p| p.parse().unwrap()).collect();
        parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
    };
    text.split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().skip_while(|l| !l.contains(" --> "));
            let (start, end) = lines.next()?.split_once(" --> ")?;
            let text: Vec<&str> = lines.collect();
            Some((secs(start), secs(end.trim()), text.join("\n")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_has_chapters_even_loudness_and_captions_on_the_voice() {
    let mut deck = Deck::load(&workspace_root().join("examples/quickstart/deck.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Draft encoding keeps the test quick; the audio is the real deck's.
    deck.output.quality = Quality::Level(QualityLevel::Draft);
    let slides = deck.slides.len();
    let target = deck.output.loudness.expect("the quickstart is levelled");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("quickstart.mp4");
    let outcome = RenderJob::new(deck, &out)
        .store(StorePolicy::default().no_cache())
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Chapters == slides.
    assert_eq!(Probe::of(&out).chapters.len(), slides);

    // Loudness: the target within 1 LU, true peak at most -1 dBTP.
    let level = Loudness::of(&out);
    assert!(
        (level.integrated - target).abs() <= 1.0 && level.true_peak <= -1.0,
        "{level:?}, expected {target} LUFS ± 1 and a true peak <= -1 dBTP"
    );

    // Captions: every cue starts near a speech onset measured in the
    // output (median within 0.15 s, worst within 0.4 s), none is shorter
    // than 0.8 s, at most two lines of 42 characters, at most 20
    // characters a second.
    let (_, vtt) = outcome.captions.clone().expect("caption files");
    let cues = vtt_cues(&std::fs::read_to_string(vtt).unwrap());
    let onsets = speech_onsets(&out);
    assert!(cues.len() >= 8, "{cues:?}");
    let mut distances: Vec<f64> = cues
        .iter()
        .map(|(start, _, _)| {
            onsets
                .iter()
                .map(|o| (o - start).abs())
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    distances.sort_by(f64::total_cmp);
    let median = distances[distances.len() / 2];
    let worst = distances[distances.len() - 1];
    assert!(
        median <= 0.15 && worst <= 0.4,
        "cue starts vs speech onsets: median {median:.3} s, worst {worst:.3} s\ncues {cues:#?}\nonsets {onsets:?}"
    );
    for (start, end, text) in &cues {
        let length = end - start;
        assert!(length >= 0.8, "{text:?} shows for {length:.2} s");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() <= 2 && lines.iter().all(|l| l.chars().count() <= 42),
            "{text:?}"
        );
        let rate = text.chars().filter(|c| *c != '\n').count() as f64 / length;
        assert!(rate <= 20.0, "{text:?}: {rate:.1} characters a second");
    }
    // No cue crosses a slide boundary.
    let mut boundary = Duration::ZERO;
    for segment in &outcome.report.segments {
        boundary += segment.duration;
        let at = boundary.as_secs_f64();
        assert!(
            cues.iter()
                .all(|(s, e, _)| !(*s < at - 0.001 && *e > at + 0.001)),
            "a cue crosses the slide boundary at {at:.3} s"
        );
    }
}
