//! [`Pacing`]: how often a render is polled and how long it may take.

use std::time::Duration;

use slidecast_core::SpeechRate;

/// Poll backoff and render deadline of one vendor.
///
/// The wait before the next status read is `poll_growth` × the time the
/// render has run so far, at least `poll_initial` and at most `poll_max`:
/// polling stays quick while a render is young and backs off for a slow
/// one, so a ready clip is noticed at most `poll_growth` of its render
/// time late. The deadline is `deadline_base` plus `deadline_per_speech_minute`
/// for each estimated minute of speech, at most `deadline_cap`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacing {
    /// Shortest wait between polls.
    pub poll_initial: Duration,
    /// Wait as a share of the render's age.
    pub poll_growth: f64,
    /// Longest wait between polls.
    pub poll_max: Duration,
    /// Deadline of a render of no speech.
    pub deadline_base: Duration,
    /// Deadline added per minute of speech.
    pub deadline_per_speech_minute: Duration,
    /// Longest deadline.
    pub deadline_cap: Duration,
    /// Speaking rate speech length is estimated at.
    pub speech_rate: SpeechRate,
}

impl Default for Pacing {
    /// 10 s to 60 s polls growing at a quarter of the render's age; 10
    /// minutes plus 2 per minute of speech, at most an hour.
    fn default() -> Self {
        Pacing {
            poll_initial: Duration::from_secs(10),
            poll_growth: 0.25,
            poll_max: Duration::from_secs(60),
            deadline_base: Duration::from_secs(10 * 60),
            deadline_per_speech_minute: Duration::from_secs(2 * 60),
            deadline_cap: Duration::from_secs(60 * 60),
            speech_rate: SpeechRate::default(),
        }
    }
}

impl Pacing {
    /// Estimated speech length of `script`, in seconds.
    pub fn speech_seconds(&self, script: &str) -> f64 {
        self.speech_rate.duration(script).as_secs_f64()
    }

    /// The render deadline for `script`.
    pub fn deadline_for(&self, script: &str) -> Duration {
        let minutes = self.speech_seconds(script) / 60.0;
        let extra = self.deadline_per_speech_minute.mul_f64(minutes.max(0.0));
        (self.deadline_base + extra).min(self.deadline_cap.max(self.deadline_base))
    }

    /// The wait before the next status read of a render that has run for
    /// `rendering`.
    pub fn poll_interval(&self, rendering: Duration) -> Duration {
        let wait = rendering.mul_f64(self.poll_growth.max(0.0));
        wait.clamp(self.poll_initial, self.poll_max.max(self.poll_initial))
    }

    /// `Err` naming the problem when the backoff cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.poll_initial.is_zero()
            || self.poll_max < self.poll_initial
            || !self.poll_growth.is_finite()
        {
            return Err("poll backoff needs 0 < initial <= max and a finite growth".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_scales_with_speech_and_polls_back_off() {
        let p = Pacing::default();
        let s = Duration::from_secs;
        // 260 words = 2 minutes of speech at 130 wpm = 4 extra minutes.
        assert_eq!(p.deadline_for(&vec!["word"; 260].join(" ")), s(14 * 60));
        assert_eq!(p.deadline_for(&vec!["word"; 100_000].join(" ")), s(3600));
        assert_eq!(p.poll_interval(s(40)), s(10));
        assert_eq!(p.poll_interval(s(100)), s(25));
        assert_eq!(p.poll_interval(s(3600)), s(60));
    }
}
