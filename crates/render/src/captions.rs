//! Captions: cues from the slides' scripts, timed from the narration's
//! audio, written as SubRip (`.srt`) and WebVTT (`.vtt`).
//!
//! Text: each sentence is a cue; a sentence longer than two lines of
//! `LINE_CHARS` is cut into pieces of about equal length (at a comma
//! where one is near), so no cue is a lone word. A cue too short to read
//! (under `MIN_CUE`) joins its neighbour when the two fit in two lines.
//!
//! Timing: slide `n` starts where the segments before it end (their exact
//! durations from the run's report). The composer reports where the
//! narration is audible in each segment ([`SlideSegment::speech`]). Each
//! cue boundary is first placed where an even speaking rate over the
//! *speech* (pauses left out) would put it, then moved to the start of the
//! nearest pause's following speech, in order, each pause used at most once
//! (a sentence end prefers a real pause over a comma's short one). So cues
//! appear when their words begin. A boundary with no pause near it (a
//! long sentence said in one breath) keeps its estimate. Without speech
//! spans the cues share the span in proportion to their length. A narration
//! rendered in parts is timed part by part, each over its own clip. All
//! arithmetic is in whole milliseconds and every slide's cues are clamped
//! to its own interval, so no cue ever crosses a slide boundary.

use std::fmt::Write as _;
use std::ops::Range;
use std::time::Duration;

use slidecast_core::{Slide, SlideSegment};

/// Longest caption line, in characters (a common broadcast limit).
const LINE_CHARS: usize = 42;
/// Lines per cue; longer sentences are split into several cues.
const MAX_LINES: usize = 2;
/// The shortest a cue should stay on screen.
pub const MIN_CUE: Duration = Duration::from_millis(1000);
/// How long the last cue of a clip stays after its speech ends.
const LINGER: Duration = Duration::from_millis(600);
/// How far (seconds) an estimate may be from a pause to snap to it: the
/// cost of leaving a boundary unsnapped, as a squared distance.
const SNAP_SECONDS: f64 = 1.2;
/// A pause this long (seconds) or longer is a sentence end's pause.
const SENTENCE_PAUSE: f64 = 0.3;
/// What snapping a sentence end to a very short pause costs, as a squared
/// distance (seconds): text-to-speech and vendors pause at every full stop,
/// so a comma's short pause near the estimate is seldom the sentence end.
const SHORT_PAUSE_COST: f64 = 2.0;

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
/// (their durations place the slides on the timeline, their speech spans
/// time the cues); `slides` give the scripts. Slides without a script get
/// no cues.
pub fn captions(segments: &[SlideSegment], slides: &[Slide]) -> Vec<Cue> {
    let mut cues = Vec::new();
    // Exact slide boundaries, each rounded to the millisecond on its own so
    // rounding never accumulates over a long deck.
    let round_ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
    let mut elapsed = Duration::ZERO;
    for segment in segments {
        let slide_start = elapsed;
        elapsed += segment.duration;
        let Some(slide) = slides.iter().find(|s| s.number == segment.slide) else {
            continue;
        };
        let clips: Vec<Range<Duration>> = if segment.clip_starts.is_empty() {
            vec![Duration::ZERO..segment.duration]
        } else {
            let ends = segment.clip_starts.iter().skip(1).copied();
            segment
                .clip_starts
                .iter()
                .zip(ends.chain([segment.duration]))
                .map(|(&from, to)| from..to)
                .collect()
        };
        let (slide_start_ms, slide_end_ms) = (round_ms(slide_start), round_ms(elapsed));
        for (range, text) in slide_cues(slide, &clips, &segment.speech) {
            let start = (slide_start_ms + round_ms(range.start)).min(slide_end_ms);
            let end = (slide_start_ms + round_ms(range.end)).min(slide_end_ms);
            if end > start {
                cues.push(Cue {
                    slide: segment.slide,
                    start: Duration::from_millis(start),
                    end: Duration::from_millis(end),
                    text,
                });
            }
        }
    }
    cues
}

/// One slide's cues, from its segment's start: `clips` are where its clips
/// play in the segment (one range for a slide without clips: the whole
/// segment), `speech` where speech is audible. A narration in parts is
/// timed part by part, each over its own clip. The text is wrapped.
pub fn slide_cues(
    slide: &Slide,
    clips: &[Range<Duration>],
    speech: &[Range<Duration>],
) -> Vec<(Range<Duration>, String)> {
    let whole = match (clips.first(), clips.last()) {
        (Some(first), Some(last)) => first.start..last.end,
        _ => return Vec::new(),
    };
    let spans: Vec<(&str, Range<Duration>)> =
        if !slide.parts.is_empty() && slide.parts.len() == clips.len() {
            slide
                .parts
                .iter()
                .map(String::as_str)
                .zip(clips.iter().cloned())
                .collect()
        } else {
            vec![(slide.script.as_str(), Duration::ZERO..whole.end)]
        };
    let mut cues = Vec::new();
    for (script, span) in spans {
        let heard: Vec<Range<Duration>> = speech
            .iter()
            .filter(|r| r.end > span.start && r.start < span.end)
            .map(|r| r.start.max(span.start)..r.end.min(span.end))
            .collect();
        for (ms, text) in time_cues(cue_texts(script), span, &heard) {
            cues.push((
                Duration::from_millis(ms.start)..Duration::from_millis(ms.end),
                wrap(&text).join("\n"),
            ));
        }
    }
    cues
}

/// A cue's text before timing.
#[derive(Debug, Clone, PartialEq)]
struct CueText {
    text: String,
    /// It ends a sentence (a pause is expected after it).
    sentence_end: bool,
}

impl CueText {
    /// Its weight in speaking time: letters and digits.
    fn weight(&self) -> f64 {
        self.text
            .chars()
            .filter(|c| c.is_alphanumeric())
            .count()
            .max(1) as f64
    }
}

/// Time `texts` over `span` (from the segment's start) given where speech
/// is audible in it; whole milliseconds from the segment's start.
fn time_cues(
    mut texts: Vec<CueText>,
    span: Range<Duration>,
    speech: &[Range<Duration>],
) -> Vec<(Range<u64>, String)> {
    let ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
    let (span_start, span_end) = (ms(span.start), ms(span.end));
    if texts.is_empty() || span_end <= span_start {
        return Vec::new();
    }
    let mut starts: Vec<u64>;
    let speech_end;
    if speech.is_empty() {
        // No speech measured: shares in proportion to length.
        let total: f64 = texts.iter().map(CueText::weight).sum();
        let mut done = 0.0;
        starts = Vec::with_capacity(texts.len());
        for t in &texts {
            starts.push(span_start + ((span_end - span_start) as f64 * done / total) as u64);
            done += t.weight();
        }
        speech_end = span_end;
    } else {
        starts = snap_to_pauses(&texts, speech);
        speech_end = ms(speech[speech.len() - 1].end);
    }
    // Ends: the next cue's start; the last one lingers after the speech.
    let last_end = (speech_end + LINGER.as_millis() as u64).min(span_end);
    let mut timed: Vec<(Range<u64>, CueText)> = Vec::with_capacity(texts.len());
    for (i, text) in texts.drain(..).enumerate() {
        let start = starts[i].clamp(span_start, span_end);
        let end = starts
            .get(i + 1)
            .copied()
            .unwrap_or(last_end)
            .clamp(start, span_end);
        timed.push((start..end, text));
    }
    merge_short(&mut timed);
    // The last cue stays at least MIN_CUE when the span allows it.
    if let Some((range, _)) = timed.last_mut() {
        let min_end = range.start + MIN_CUE.as_millis() as u64;
        range.end = range.end.max(min_end.min(span_end));
    }
    timed.into_iter().map(|(r, t)| (r, t.text)).collect()
}

/// Cue starts (ms from the segment's start) for `texts` spoken over
/// `speech`: the first at the first speech, each other at the start of the
/// speech after the pause nearest its even-rate estimate.
fn snap_to_pauses(texts: &[CueText], speech: &[Range<Duration>]) -> Vec<u64> {
    let secs = |d: Duration| d.as_secs_f64();
    let talking: f64 = speech.iter().map(|r| secs(r.end) - secs(r.start)).sum();
    // Speech time -> time in the segment, skipping the pauses.
    let at_speech = |mut x: f64| -> f64 {
        for r in speech {
            let len = secs(r.end) - secs(r.start);
            if x <= len {
                return secs(r.start) + x;
            }
            x -= len;
        }
        secs(speech[speech.len() - 1].end)
    };
    let total: f64 = texts.iter().map(CueText::weight).sum();
    let mut done = 0.0;
    // Estimates for the boundaries before cues 1.. (cue 0 starts with speech).
    let estimates: Vec<f64> = texts[..texts.len() - 1]
        .iter()
        .map(|t| {
            done += t.weight();
            at_speech(talking * done / total)
        })
        .collect();
    // Pauses: (speech onset after it, pause length).
    let pauses: Vec<(f64, f64)> = speech
        .windows(2)
        .map(|w| (secs(w[1].start), secs(w[1].start) - secs(w[0].end)))
        .collect();

    // Monotone alignment of boundaries to pauses (each pause at most once):
    // cost[j][q] = best cost for the first j boundaries using pauses < q.
    let (k, m) = (estimates.len(), pauses.len());
    let unmatched = SNAP_SECONDS * SNAP_SECONDS;
    let match_cost = |j: usize, q: usize| {
        let (onset, gap) = pauses[q];
        let d = estimates[j] - onset;
        let weak = if texts[j].sentence_end {
            (1.0 - (gap / SENTENCE_PAUSE).min(1.0)) * SHORT_PAUSE_COST
        } else {
            0.0
        };
        d * d + weak
    };
    let mut cost = vec![vec![f64::INFINITY; m + 1]; k + 1];
    // How each state was reached: 0 skip pause, 1 match, 2 unmatched.
    let mut how = vec![vec![0u8; m + 1]; k + 1];
    cost[0][0] = 0.0;
    for j in 0..=k {
        for q in 0..=m {
            let c = cost[j][q];
            if !c.is_finite() {
                continue;
            }
            if q < m && c < cost[j][q + 1] {
                cost[j][q + 1] = c;
                how[j][q + 1] = 0;
            }
            if j < k {
                if q < m {
                    let next = c + match_cost(j, q);
                    if next < cost[j + 1][q + 1] {
                        cost[j + 1][q + 1] = next;
                        how[j + 1][q + 1] = 1;
                    }
                }
                let next = c + unmatched;
                if next < cost[j + 1][q] {
                    cost[j + 1][q] = next;
                    how[j + 1][q] = 2;
                }
            }
        }
    }
    let mut boundary = estimates.clone();
    let (mut j, mut q) = (k, m);
    while j > 0 {
        match how[j][q] {
            0 => q -= 1,
            1 => {
                boundary[j - 1] = pauses[q - 1].0;
                j -= 1;
                q -= 1;
            }
            _ => j -= 1,
        }
    }
    let mut starts = Vec::with_capacity(texts.len());
    starts.push((secs(speech[0].start) * 1000.0).round() as u64);
    for b in boundary {
        let t = ((b * 1000.0).round() as u64).max(*starts.last().unwrap_or(&0));
        starts.push(t);
    }
    starts
}

/// Join each cue shorter than [`MIN_CUE`] to the neighbour whose joined
/// text is shorter, when that fits in [`MAX_LINES`] lines.
fn merge_short(timed: &mut Vec<(Range<u64>, CueText)>) {
    let min = MIN_CUE.as_millis() as u64;
    let fits =
        |a: &CueText, b: &CueText| wrap(&format!("{} {}", a.text, b.text)).len() <= MAX_LINES;
    let mut i = 0;
    while i < timed.len() {
        let short = timed[i].0.end - timed[i].0.start < min;
        let with_next = i + 1 < timed.len() && fits(&timed[i].1, &timed[i + 1].1);
        let with_prev = i > 0 && fits(&timed[i - 1].1, &timed[i].1);
        let into = match (short, with_prev, with_next) {
            (false, _, _) | (true, false, false) => None,
            (true, true, true) => {
                let len = |j: usize| timed[j].1.text.len();
                Some(if len(i - 1) <= len(i + 1) { i - 1 } else { i })
            }
            (true, true, false) => Some(i - 1),
            (true, false, true) => Some(i),
        };
        match into {
            Some(first) => {
                let (second_range, second) = timed.remove(first + 1);
                let (range, text) = &mut timed[first];
                range.end = second_range.end;
                text.text = format!("{} {}", text.text, second.text);
                text.sentence_end = second.sentence_end;
                i = first;
            }
            None => i += 1,
        }
    }
}

/// The script split into sentences, each longer sentence cut into pieces
/// of about equal length that fit in [`MAX_LINES`] lines.
fn cue_texts(script: &str) -> Vec<CueText> {
    let mut out = Vec::new();
    for sentence in sentences(script) {
        let pieces = balanced_pieces(&sentence);
        let last = pieces.len() - 1;
        for (i, text) in pieces.into_iter().enumerate() {
            out.push(CueText {
                text,
                sentence_end: i == last,
            });
        }
    }
    out
}

/// `sentence` in the fewest pieces that each wrap to at most
/// [`MAX_LINES`] lines, cut where the pieces come out about equal, moving a
/// cut to a nearby comma (or `;`, `:`) when there is one.
fn balanced_pieces(sentence: &str) -> Vec<String> {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    if words.is_empty() {
        return vec![sentence.to_string()];
    }
    let len = |ws: &[&str]| ws.iter().map(|w| w.chars().count() + 1).sum::<usize>();
    let total = len(&words);
    let mut n = wrap(sentence).len().div_ceil(MAX_LINES).max(1);
    loop {
        let mut pieces = Vec::with_capacity(n);
        let mut from = 0;
        for p in 1..n {
            let target = total * p / n;
            // The cut after word `i` nearest the target, or a clause end
            // within a quarter of a piece of it.
            let mut best = from + 1;
            let mut best_score = usize::MAX;
            let slack = total / n / 4;
            for i in from + 1..words.len() - (n - p) + 1 {
                let at = len(&words[..i]);
                let distance = at.abs_diff(target);
                let clause = words[i - 1].ends_with([',', ';', ':']);
                let score = if clause && distance <= slack {
                    distance / 4
                } else {
                    distance
                };
                if score < best_score {
                    best_score = score;
                    best = i;
                }
            }
            pieces.push(words[from..best].join(" "));
            from = best;
        }
        pieces.push(words[from..].join(" "));
        if n >= words.len() || pieces.iter().all(|p| wrap(p).len() <= MAX_LINES) {
            return pieces;
        }
        n += 1;
    }
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

/// Word wrap at [`LINE_CHARS`]: the fewest lines, and when that is two,
/// the cut that makes them most even (no lone word on the second line); a
/// word longer than a line stands alone.
fn wrap(text: &str) -> Vec<String> {
    let lines = greedy_wrap(text);
    if lines.len() != 2 {
        return lines;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    (1..words.len())
        .map(|i| (words[..i].join(" "), words[i..].join(" ")))
        .filter(|(a, b)| a.chars().count() <= LINE_CHARS && b.chars().count() <= LINE_CHARS)
        .min_by_key(|(a, b)| a.chars().count().max(b.chars().count()))
        .map(|(a, b)| vec![a, b])
        .unwrap_or(lines)
}

/// Greedy word wrap at [`LINE_CHARS`].
fn greedy_wrap(text: &str) -> Vec<String> {
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
        for p in &pieces {
            assert!(wrap(&p.text).len() <= MAX_LINES);
            assert!(wrap(&p.text)
                .iter()
                .all(|l| l.chars().count() <= LINE_CHARS));
        }
        assert!(pieces.last().unwrap().sentence_end);
        assert!(!pieces[0].sentence_end);
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
            music: None,
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
                duration: Duration::from_micros(10_000_333 + 7_777 * n as u64),
                clip_starts: vec![Duration::ZERO],
                speech: Vec::new(),
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
            speech: Vec::new(),
        };
        let cues = captions(&[segment], &[s]);
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["First part here.", "Second."]);
        assert_eq!(cues[0].start, Duration::ZERO);
        assert_eq!(cues[0].end, Duration::from_secs(2));
        assert_eq!(cues[1].start, Duration::from_secs(2));
        assert_eq!(cues[1].end, Duration::from_secs(10));
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn two_lines_are_balanced() {
        let lines = wrap("In the next minute you will see how a few slides");
        assert_eq!(
            lines,
            ["In the next minute you", "will see how a few slides"]
        );
        assert_eq!(wrap("Short and sweet."), ["Short and sweet."]);
    }

    #[test]
    fn no_piece_of_a_long_sentence_is_a_lone_word() {
        // Greedy wrapping would leave "me." alone in a third cue.
        let sentence = "The presenter can come from a vendor, or be drawn right here on your machine, just like me.";
        let pieces = balanced_pieces(sentence);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        for p in &pieces {
            assert!(p.split_whitespace().count() >= 5, "{pieces:?}");
            assert!(wrap(p).len() <= MAX_LINES, "{p}");
        }
        // The cut moved to the comma near the middle.
        assert!(pieces[0].ends_with("vendor,"), "{pieces:?}");
        assert_eq!(pieces.join(" "), sentence);
    }

    #[test]
    fn cues_start_where_the_speech_after_a_pause_starts() {
        // The even-rate estimate of the first boundary (3.6 s) is nearer
        // the comma's pause after "Today," than the full stop's.
        let texts =
            cue_texts("Hello and welcome to the show. Today, we talk about trains. Goodbye now.");
        let speech = [
            ms(300)..ms(2600),
            ms(3100)..ms(3600), // "Today,"
            ms(3750)..ms(6400),
            ms(6900)..ms(8000),
        ];
        let cues = time_cues(texts, ms(0)..ms(10_000), &speech);
        let starts: Vec<u64> = cues.iter().map(|c| c.0.start).collect();
        assert_eq!(starts, [300, 3100, 6900], "{cues:?}");
        // Contiguous, the last lingering after the speech.
        assert_eq!(cues[0].0.end, 3100);
        assert_eq!(cues[1].0.end, 6900);
        assert_eq!(cues[2].0.end, 8000 + LINGER.as_millis() as u64);
    }

    #[test]
    fn a_sentence_end_prefers_a_real_pause_to_a_comma() {
        let texts = cue_texts("One two three four five, six seven. Eight nine ten eleven twelve.");
        // The estimate lands nearer the comma's 0.12 s pause (at 2.1 s)
        // than the sentence's 0.5 s pause (at 3.0 s).
        let speech = [ms(0)..ms(1980), ms(2100)..ms(2500), ms(3000)..ms(6000)];
        let cues = time_cues(texts, ms(0)..ms(7000), &speech);
        assert_eq!(cues[1].0.start, 3000, "{cues:?}");
    }

    #[test]
    fn a_lone_short_sentence_joins_its_neighbour() {
        let texts = cue_texts("Why? Because the trains run late on Mondays.");
        let speech = [ms(0)..ms(400), ms(700)..ms(3500)];
        let cues = time_cues(texts, ms(0)..ms(4000), &speech);
        assert_eq!(cues.len(), 1, "{cues:?}");
        assert_eq!(cues[0].1, "Why? Because the trains run late on Mondays.");
        assert!(cues[0].0.end - cues[0].0.start >= MIN_CUE.as_millis() as u64);
    }

    #[test]
    fn parts_use_only_their_own_speech() {
        let mut s = slide(1, "First part here. Second part there.");
        s.parts = vec!["First part here.".into(), "Second part there.".into()];
        let segment = SlideSegment {
            slide: 1,
            path: "x".into(),
            duration: Duration::from_secs(10),
            clip_starts: vec![Duration::ZERO, Duration::from_secs(4)],
            speech: vec![ms(200)..ms(2500), ms(4400)..ms(7000)],
        };
        let cues = captions(&[segment], &[s]);
        let times: Vec<(u128, u128)> = cues
            .iter()
            .map(|c| (c.start.as_millis(), c.end.as_millis()))
            .collect();
        assert_eq!(times, [(200, 3100), (4400, 7600)]);
    }
}
