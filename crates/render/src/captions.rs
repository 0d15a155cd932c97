//! Captions: sentence-level cues from the slides' scripts, timed from the
//! composed segments, written as SubRip (`.srt`) and WebVTT (`.vtt`).
//!
//! Timing: slide `n` starts where the segments before it end (their exact
//! durations from the run's report). Within a slide the narration is assumed
//! to fill the segment at an even speaking rate, so each cue gets a share of
//! the segment proportional to its length in characters; a narration
//! rendered in parts is timed part by part, each over its own clip. All arithmetic is in
//! whole milliseconds and every slide's cues are clamped to its own interval,
//! so no cue ever crosses a slide boundary even after rounding.

use std::fmt::Write as _;
use std::time::Duration;

use slidecast_core::{Slide, SlideSegment};

/// Longest caption line, in characters (a common broadcast limit).
const LINE_CHARS: usize = 42;
/// Lines per cue; longer sentences are split into several cues.
const MAX_LINES: usize = 2;

/// One caption cue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// The slide whose narration this is (1-based).
    pub slide: usize,
    /// When the cue appears, from the start of the video.
    pub start: Duration,
    /// When it goes.
    pub end: Duration,
    /// The text, already wrapped into at most two lines.
    pub text: String,
}

/// Cues for a rendered deck. `segments` are the run's segments in deck order
/// (their durations place the slides on the timeline); `slides` give the
/// scripts. Slides without a script get no cues.
pub fn captions(segments: &[SlideSegment], slides: &[Slide]) -> Vec<Cue> {
    let mut cues = Vec::new();
    // Exact slide boundaries, each rounded to the millisecond on its own so
    // rounding never accumulates over a long deck.
    let round_ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
    let mut elapsed = Duration::ZERO;
    for segment in segments {
        let slide_start = elapsed;
        elapsed += segment.duration;
        let slide = slides.iter().find(|s| s.number == segment.slide);
        // A narration in parts: each part's text over its own clip.
        let spans: Vec<(&str, Duration, Duration)> = match slide {
            Some(s) if !s.parts.is_empty() && s.parts.len() == segment.clip_starts.len() => {
                let ends = segment.clip_starts.iter().skip(1).copied();
                s.parts
                    .iter()
                    .zip(
                        segment
                            .clip_starts
                            .iter()
                            .zip(ends.chain([segment.duration])),
                    )
                    .map(|(text, (&from, to))| {
                        (text.as_str(), slide_start + from, slide_start + to)
                    })
                    .collect()
            }
            Some(s) => vec![(s.script.as_str(), slide_start, elapsed)],
            None => Vec::new(),
        };
        for (script, from, to) in spans {
            let (span_start_ms, span_end_ms) = (round_ms(from), round_ms(to));
            let span_ms = span_end_ms.saturating_sub(span_start_ms);
            let chunks = cue_texts(script);
            let weights: Vec<u64> = chunks
                .iter()
                .map(|c| c.chars().filter(|c| !c.is_whitespace()).count().max(1) as u64)
                .collect();
            let total: u64 = weights.iter().sum();
            let mut done: u64 = 0;
            for (text, weight) in chunks.into_iter().zip(weights) {
                // Boundaries from cumulative weight, so rounding never accumulates.
                let start = span_start_ms + span_ms * done / total;
                done += weight;
                let end = (span_start_ms + span_ms * done / total).min(span_end_ms);
                if end > start {
                    cues.push(Cue {
                        slide: segment.slide,
                        start: Duration::from_millis(start),
                        end: Duration::from_millis(end),
                        text: wrap(&text).join("\n"),
                    });
                }
            }
        }
    }
    cues
}

/// The script split into sentences, long sentences further split so each
/// piece fits in [`MAX_LINES`] lines.
fn cue_texts(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in sentences(script) {
        let lines = wrap(&sentence);
        if lines.len() <= MAX_LINES {
            out.push(sentence);
        } else {
            for pair in lines.chunks(MAX_LINES) {
                out.push(pair.join(" "));
            }
        }
    }
    out
}

/// Split text into sentences at `.`, `!`, `?` (and `…`) followed by
/// whitespace, and at blank lines. Whitespace is collapsed.
pub fn sentences(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut current: Vec<&str> = Vec::new();
        for word in paragraph.split_whitespace() {
            current.push(word);
            let trimmed = word.trim_end_matches(['"', '\'', ')', '\u{201D}', '\u{2019}']);
            if trimmed.ends_with(['.', '!', '?', '\u{2026}']) && !is_abbreviation(trimmed) {
                out.push(current.join(" "));
                current.clear();
            }
        }
        if !current.is_empty() {
            out.push(current.join(" "));
        }
    }
    out
}

/// Common abbreviations that end in a dot but do not end a sentence.
fn is_abbreviation(word: &str) -> bool {
    const ABBREVIATIONS: &[&str] = &[
        "e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "approx.",
        "No.", "Inc.", "Ltd.",
    ];
    ABBREVIATIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(word.trim_start_matches(['(', '"', '\''])))
}

/// Greedy word wrap at [`LINE_CHARS`]; a word longer than a line stands alone.
fn wrap(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > LINE_CHARS {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

pub(crate) fn timestamp(d: Duration, separator: char) -> String {
    let ms = d.as_millis();
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `text` as WebVTT cue text: `&` and `<` escaped (they start entities
/// and tags), and no `-->` (it may not appear in a cue).
pub(crate) fn vtt_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace("-->", "->")
}

/// Append one WebVTT cue (`id`, times, escaped text) to `out`.
pub(crate) fn push_vtt_cue(out: &mut String, id: &str, start: Duration, end: Duration, text: &str) {
    let _ = write!(
        out,
        "{id}\n{} --> {}\n{}\n\n",
        timestamp(start, '.'),
        timestamp(end, '.'),
        vtt_text(text)
    );
}

/// The cues as a SubRip file.
pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            timestamp(cue.start, ','),
            timestamp(cue.end, ','),
            cue.text
        );
    }
    out
}

/// The cues as a WebVTT file.
pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        let id = format!("slide-{}-{}", cue.slide, cue.start.as_millis());
        push_vtt_cue(&mut out, &id, cue.start, cue.end, &cue.text);
    }
    out
}

/// ISO 639-2 code of the narration language, for the subtitle track
/// (`und` when the deck's language is not one of the common ones).
pub fn language_code(deck: &slidecast_core::Deck) -> &'static str {
    let language = deck
        .presenter_slides()
        .find_map(|s| s.presenter.as_ref().and_then(|p| p.language.clone()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let code = language.split(['-', '_', ' ']).next().unwrap_or("");
    match code {
        "english" | "en" => "eng",
        "german" | "deutsch" | "de" => "deu",
        "french" | "fr" => "fra",
        "spanish" | "es" => "spa",
        "italian" | "it" => "ita",
        "portuguese" | "pt" => "por",
        "dutch" | "nl" => "nld",
        "polish" | "pl" => "pol",
        "japanese" | "ja" => "jpn",
        "chinese" | "zh" => "zho",
        _ => "und",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_keeps_abbreviations() {
        assert_eq!(
            sentences("Hello there. We sell apples, e.g. red ones!  Why?\nBecause."),
            vec![
                "Hello there.",
                "We sell apples, e.g. red ones!",
                "Why?",
                "Because."
            ]
        );
        assert_eq!(
            sentences("A heading\n\nThen text. More"),
            vec!["A heading", "Then text.", "More"]
        );
        assert!(sentences("   ").is_empty());
    }

    #[test]
    fn wraps_at_42_and_splits_long_sentences() {
        let long = "word ".repeat(40);
        let pieces = cue_texts(&long);
        assert!(pieces.len() > 1);
        for p in pieces {
            assert!(wrap(&p).len() <= MAX_LINES);
            assert!(wrap(&p).iter().all(|l| l.chars().count() <= LINE_CHARS));
        }
    }

    fn slide(number: usize, script: &str) -> Slide {
        Slide {
            number,
            image: format!("{number}.png").into(),
            script: script.into(),
            presenter: None,
            duration: None,
            transition: slidecast_core::deck::Transition::Cut,
            parts: Vec::new(),
            title: None,
        }
    }

    #[test]
    fn cues_stay_inside_their_slides_over_a_long_deck() {
        let scripts = [
            "One. Two two. Three three three.",
            "",
            "A much longer sentence that needs to wrap over more than one caption line, and then some more words to force a split into several cues. Short.",
        ];
        let slides: Vec<Slide> = (1..=30)
            .map(|n| slide(n, scripts[(n - 1) % scripts.len()]))
            .collect();
        // Awkward lengths so rounding would accumulate if it could.
        let segments: Vec<SlideSegment> = (1..=30)
            .map(|n| SlideSegment {
                slide: n,
                path: "x".into(),
                duration: Duration::from_micros(1_000_333 + 7_777 * n as u64),
                clip_starts: vec![Duration::ZERO],
            })
            .collect();
        let cues = captions(&segments, &slides);
        let mut start = Duration::ZERO;
        for seg in &segments {
            let end = start + seg.duration;
            let (lo, hi) = (start.as_secs_f64() - 0.0005, end.as_secs_f64() + 0.0005);
            let mine: Vec<&Cue> = cues.iter().filter(|c| c.slide == seg.slide).collect();
            if slides[seg.slide - 1].script.is_empty() {
                assert!(mine.is_empty());
            } else {
                assert!(!mine.is_empty());
                // Contiguous, ordered, inside the slide, ending at its end.
                for w in mine.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                for c in &mine {
                    assert!(c.start.as_secs_f64() >= lo && c.end.as_secs_f64() <= hi);
                    assert!(c.text.lines().count() <= MAX_LINES);
                }
                assert!((mine.last().unwrap().end.as_secs_f64() - end.as_secs_f64()).abs() < 0.001);
            }
            start = end;
        }
        // Longer sentences get longer cues.
        let first: Vec<&Cue> = cues.iter().filter(|c| c.slide == 1).collect();
        assert!(first[0].end - first[0].start < first[2].end - first[2].start);
        let srt = to_srt(&cues);
        assert!(srt.starts_with("1\n00:00:00,000 --> "));
    }

    #[test]
    fn timestamps() {
        let d = Duration::from_millis(3_723_045);
        assert_eq!(timestamp(d, ','), "01:02:03,045");
        assert_eq!(timestamp(d, '.'), "01:02:03.045");
    }

    #[test]
    fn a_narration_in_parts_is_timed_part_by_part() {
        let mut s = slide(1, "First part here. Second.");
        s.parts = vec!["First part here.".into(), "Second.".into()];
        // The second clip is long: proportional timing over the whole
        // segment would start its cue far too early.
        let segment = SlideSegment {
            slide: 1,
            path: "x".into(),
            duration: Duration::from_secs(10),
            clip_starts: vec![Duration::ZERO, Duration::from_secs(2)],
        };
        let cues = captions(&[segment], &[s]);
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["First part here.", "Second."]);
        assert_eq!(cues[0].start, Duration::ZERO);
        assert_eq!(cues[0].end, Duration::from_secs(2));
        assert_eq!(cues[1].start, Duration::from_secs(2));
        assert_eq!(cues[1].end, Duration::from_secs(10));
    }
}
