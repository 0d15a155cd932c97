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

    #[test]
    fn odd_rates_are_clamped() {
        assert_eq!(SpeechRate::new(0.0).words_per_minute(), 1.0);
        assert_eq!(SpeechRate::new(f64::NAN).words_per_minute(), 130.0);
    }
}
