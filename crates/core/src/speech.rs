//! How long a narration takes to speak, estimated from its words.
//!
//! One estimate serves every place that needs a length before any audio
//! exists: deck validation (slide durations), plans and budgets, vendor
//! render deadlines and generated test clips. The default, 130 words a
//! minute, is what a common vendor voice was measured at (`en-US-AriaNeural`
//! spoke 41 words in 18.9 s and 138 words in 60.5 s); estimates at the often
//! quoted 150 wpm come out about 10% short.

use std::time::Duration;

/// A speaking rate, in words per minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechRate {
    words_per_minute: f64,
}

impl SpeechRate {
    /// The measured rate of a typical vendor voice.
    pub const DEFAULT_WPM: f64 = 130.0;

    /// A rate of `words_per_minute` (at least one word a minute).
    pub fn new(words_per_minute: f64) -> SpeechRate {
        let wpm = if words_per_minute.is_finite() {
            words_per_minute.max(1.0)
        } else {
            Self::DEFAULT_WPM
        };
        SpeechRate {
            words_per_minute: wpm,
        }
    }

    /// Words per minute.
    pub fn words_per_minute(&self) -> f64 {
        self.words_per_minute
    }

    /// How long `script` takes to speak at this rate (whitespace-separated
    /// words; at least one second for any script, zero for an empty one).
    pub fn duration(&self, script: &str) -> Duration {
        let words = script.split_whitespace().count();
        if words == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((words as f64 * 60.0 / self.words_per_minute).max(1.0))
    }
}

impl SpeechRate {
    /// Share of a vendor's speech limit a part is filled to: the estimate
    /// is a rate, real voices vary by a few percent, and a part that turns
    /// out longer than the limit is a paid render the vendor fails.
    pub const LIMIT_MARGIN: f64 = 0.85;

    /// Split `script` into parts that each take at most
    /// [`LIMIT_MARGIN`](Self::LIMIT_MARGIN) of `limit` to speak at this rate,
    /// for a vendor that speaks at most `limit` per clip.
    ///
    /// A script that fits is one part, unchanged. A longer one is cut at
    /// sentence ends (`.`, `!`, `?`, `…` followed by a space), a sentence
    /// still too long at its clauses (after `,`, `;`, `:` or a dash), into
    /// the fewest parts of about equal length. The parts, joined with
    /// single spaces, hold every word of the script in order.
    pub fn split(&self, script: &str, limit: Duration) -> Result<Vec<String>, TooLongToSplit> {
        let max_words =
            (limit.as_secs_f64() * Self::LIMIT_MARGIN * self.words_per_minute / 60.0).floor();
        let max_words = max_words.max(1.0) as usize;
        let total = script.split_whitespace().count();
        if total <= max_words {
            return Ok(vec![script.to_string()]);
        }
        // Units: sentences, and the clauses of any sentence over the limit.
        let mut units: Vec<Vec<&str>> = Vec::new();
        let words: Vec<&str> = script.split_whitespace().collect();
        for sentence in pieces(&words, is_sentence_end) {
            if sentence.len() <= max_words {
                units.push(sentence);
                continue;
            }
            for clause in pieces(&sentence, is_clause_end) {
                if clause.len() > max_words {
                    let start: Vec<&str> = clause.iter().take(8).copied().collect();
                    return Err(TooLongToSplit {
                        excerpt: format!("{} …", start.join(" ")),
                        words: clause.len(),
                        speech: self.duration(&clause.join(" ")),
                        limit,
                    });
                }
                units.push(clause);
            }
        }
        // Greedy packing towards an equal share: a part closes when the next
        // unit would not fit, or when closing now lands nearer the share.
        let parts_needed = total.div_ceil(max_words);
        let share = total as f64 / parts_needed as f64;
        let mut parts: Vec<String> = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        for unit in units {
            let (now, next) = (current.len(), current.len() + unit.len());
            let nearer_now = (now as f64 - share).abs() < (next as f64 - share).abs();
            if !current.is_empty() && (next > max_words || nearer_now) {
                parts.push(current.join(" "));
                current.clear();
            }
            current.extend(unit);
        }
        if !current.is_empty() {
            parts.push(current.join(" "));
        }
        Ok(parts)
    }
}

/// `words`, grouped into pieces that end where `ends` says.
fn pieces<'a>(words: &[&'a str], ends: fn(&str) -> bool) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for &word in words {
        current.push(word);
        if ends(word) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn trailing(word: &str) -> &str {
    word.trim_end_matches(['"', '\'', ')', ']', '”', '’', '»'])
}

fn is_sentence_end(word: &str) -> bool {
    trailing(word).ends_with(['.', '!', '?', '…', '。', '！', '？'])
}

fn is_clause_end(word: &str) -> bool {
    is_sentence_end(word)
        || trailing(word).ends_with([',', ';', ':', '，', '；', '—', '–'])
        || word == "-"
}

/// A narration with a sentence (and clause) longer than the vendor speaks
/// per clip: no cut at a sentence or clause keeps it whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "a sentence of {words} words (\"{excerpt}\") takes about {secs:.0} s to speak, longer \
     than the {limit_secs} s the avatar speaks per clip; split it into shorter sentences",
    secs = speech.as_secs_f64(),
    limit_secs = limit.as_secs()
)]
pub struct TooLongToSplit {
    /// The sentence's first words.
    pub excerpt: String,
    /// Its length in words.
    pub words: usize,
    /// Its estimated speaking time.
    pub speech: Duration,
    /// The vendor's speech limit per clip.
    pub limit: Duration,
}

impl Default for SpeechRate {
    fn default() -> Self {
        SpeechRate::new(Self::DEFAULT_WPM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rate_matches_the_measured_voice() {
        let rate = SpeechRate::default();
        let words = vec!["word"; 138].join(" ");
        let secs = rate.duration(&words).as_secs_f64();
        // Measured: 138 words in 60.5 s.
        assert!((secs - 60.5).abs() < 4.0, "{secs}");
        assert_eq!(rate.duration("   "), Duration::ZERO);
        assert_eq!(rate.duration("Hi."), Duration::from_secs(1));
    }

    fn sentence(n: usize, word: &str) -> String {
        let mut words = vec![word; n];
        words.push("end.");
        words.join(" ")
    }

    #[test]
    fn a_script_that_fits_is_one_unchanged_part() {
        let rate = SpeechRate::default();
        let script = "  Short   and sweet. ";
        let parts = rate.split(script, Duration::from_secs(60)).unwrap();
        assert_eq!(parts, vec![script.to_string()]);
    }

    #[test]
    fn long_narration_splits_at_sentences_into_even_parts_under_the_limit() {
        let rate = SpeechRate::default();
        // ~148 s of speech at 130 wpm: 32 sentences of 10 words; a part
        // holds at most 110 words (85% of 60 s).
        let script: Vec<String> = (0..32).map(|i| sentence(9, &format!("w{i}"))).collect();
        let script = script.join(" ");
        let limit = Duration::from_secs(60);
        let parts = rate.split(&script, limit).unwrap();
        assert_eq!(parts.len(), 3, "{parts:?}");
        for part in &parts {
            assert!(
                rate.duration(part) <= limit.mul_f64(SpeechRate::LIMIT_MARGIN),
                "{part}"
            );
            assert!(part.ends_with("end."), "cut inside a sentence: {part}");
        }
        let lengths: Vec<usize> = parts.iter().map(|p| p.split_whitespace().count()).collect();
        assert_eq!(lengths, vec![110, 110, 100]);
        assert_eq!(parts.join(" "), script, "every word, in order");
    }

    #[test]
    fn a_long_sentence_is_cut_at_its_clauses() {
        let rate = SpeechRate::default();
        // One 150-word sentence of three clauses, a 30 s limit (55 words).
        let clause = |w: &str, end: &str| format!("{} {w}{end}", vec![w; 49].join(" "));
        let script = format!(
            "{} {} {}",
            clause("a", ","),
            clause("b", ";"),
            clause("c", ".")
        );
        let parts = rate.split(&script, Duration::from_secs(30)).unwrap();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(
            parts[0].ends_with("a,") && parts[1].ends_with("b;"),
            "{parts:?}"
        );
        assert_eq!(parts.join(" "), script);
    }

    #[test]
    fn a_sentence_longer_than_the_limit_cannot_be_split() {
        let rate = SpeechRate::default();
        let script = format!("Fine. {}", vec!["word"; 200].join(" "));
        let err = rate.split(&script, Duration::from_secs(60)).unwrap_err();
        assert_eq!(err.words, 200);
        let text = err.to_string();
        assert!(
            text.contains("200 words") && text.contains("60 s"),
            "{text}"
        );
        assert!(text.contains("\"word word"), "{text}");
    }

    #[test]
    fn odd_rates_are_clamped() {
        assert_eq!(SpeechRate::new(0.0).words_per_minute(), 1.0);
        assert_eq!(SpeechRate::new(f64::NAN).words_per_minute(), 130.0);
    }
}
