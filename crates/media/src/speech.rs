//! Where a segment's narration is audible: the audio as written, in 10 ms
//! frames, split into speech and pauses. Captions use the pauses to start
//! each cue where its words start.
//!
//! The threshold follows the segment's own level (30 dB under its loud
//! frames, never under -60 dBFS), so a quiet vendor clip and a loud local
//! voice are read alike, and a vendor's noise floor is not speech.

use std::ops::Range;
use std::time::Duration;

use std::path::PathBuf;

use slidecast_av::compat::{DeckResampler, DECK_CHANNELS, DECK_RATE};

use crate::clip::Clip;
use crate::error::MediaError;

/// Samples (per channel) in one analysis frame: 10 ms.
const FRAME: usize = DECK_RATE as usize / 100;
/// Quiet shorter than this is inside a word (a stop consonant, a breath
/// between syllables), not a pause.
const MIN_PAUSE_FRAMES: usize = 10;
/// Sound shorter than this alone is a click, not speech.
const MIN_SPEECH_FRAMES: usize = 4;
/// How far under the segment's loud frames speech may fall (dB).
const RANGE_DB: f64 = 30.0;
/// Nothing quieter than this is speech (dBFS).
const FLOOR_DB: f64 = -60.0;

/// Collects the level of the audio written to a segment.
#[derive(Debug, Default)]
pub struct SpeechMeter {
    /// Mean square per finished frame.
    frames: Vec<f32>,
    sum: f64,
    count: usize,
}

impl SpeechMeter {
    /// Add interleaved stereo samples, in the order they are written.
    pub fn add(&mut self, interleaved: &[i16]) {
        for frame in interleaved.chunks_exact(DECK_CHANNELS) {
            let power: f64 = frame
                .iter()
                .map(|&s| {
                    let v = f64::from(s) / 32768.0;
                    v * v
                })
                .sum();
            self.sum += power / DECK_CHANNELS as f64;
            self.count += 1;
            if self.count == FRAME {
                self.close_frame();
            }
        }
    }

    /// Add `samples` of silence.
    pub fn add_silence(&mut self, samples: u64) {
        let mut left = samples as usize;
        while left > 0 {
            let n = left.min(FRAME - self.count);
            self.count += n;
            left -= n;
            if self.count == FRAME {
                self.close_frame();
            }
        }
    }

    fn close_frame(&mut self) {
        self.frames.push((self.sum / FRAME as f64) as f32);
        self.sum = 0.0;
        self.count = 0;
    }

    /// The stretches of speech, from the segment's start, in order and not
    /// overlapping; empty when the segment is silent.
    pub fn spans(mut self) -> Vec<Range<Duration>> {
        if self.count > 0 {
            let n = self.count;
            self.frames.push((self.sum / n as f64) as f32);
        }
        let db: Vec<f64> = self
            .frames
            .iter()
            .map(|&p| 10.0 * f64::from(p).max(1e-12).log10())
            .collect();
        let mut loud: Vec<f64> = db.iter().copied().filter(|&d| d > FLOOR_DB).collect();
        if loud.is_empty() {
            return Vec::new();
        }
        loud.sort_by(f64::total_cmp);
        let reference = loud[(loud.len() * 95 / 100).min(loud.len() - 1)];
        let threshold = (reference - RANGE_DB).max(FLOOR_DB);

        // Runs of frames above the threshold, joined across short quiet.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, &d) in db.iter().enumerate() {
            match (d > threshold, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    push_run(&mut runs, s, i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            push_run(&mut runs, s, db.len());
        }
        let at = |frame: usize| Duration::from_millis(frame as u64 * 10);
        runs.into_iter()
            .filter(|(a, b)| b - a >= MIN_SPEECH_FRAMES)
            .map(|(a, b)| at(a)..at(b))
            .collect()
    }
}

/// The speech spans a segment of `clips` will have, clip `k` placed at
/// output sample `starts[k]`, measured from the clips' audio alone (no
/// video is decoded): what captions drawn into the picture are timed by,
/// before the segment is written.
pub fn clip_speech(clips: &[PathBuf], starts: &[u64]) -> Result<Vec<Range<Duration>>, MediaError> {
    let mut meter = SpeechMeter::default();
    let mut written: u64 = 0;
    for (path, &start) in clips.iter().zip(starts) {
        meter.add_silence(start.saturating_sub(written));
        written = written.max(start);
        let mut clip = Clip::open(path)?;
        let timing = clip.timing()?;
        let mut resampler: Option<DeckResampler> = None;
        let mut pcm: Vec<i16> = Vec::new();
        clip.decode_audio(timing.start, |frame, _| {
            if !resampler.as_ref().is_some_and(|r| r.accepts(frame)) {
                resampler = Some(
                    DeckResampler::for_frame(frame).map_err(MediaError::ff("audio resampler"))?,
                );
            }
            if let Some(r) = resampler.as_mut() {
                pcm.clear();
                r.convert(Some(frame), &mut pcm)
                    .map_err(MediaError::ff("resample audio"))?;
                meter.add(&pcm);
                written += (pcm.len() / DECK_CHANNELS) as u64;
            }
            Ok(())
        })?;
    }
    Ok(meter.spans())
}

fn push_run(runs: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    match runs.last_mut() {
        Some(last) if start - last.1 < MIN_PAUSE_FRAMES => last.1 = end,
        _ => runs.push((start, end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize, level: f64) -> Vec<i16> {
        (0..ms * 48)
            .flat_map(|i| {
                let s = (level * (i as f64 * 0.06).sin() * 32767.0) as i16;
                [s, s]
            })
            .collect()
    }

    #[test]
    fn pauses_split_speech_and_short_gaps_do_not() {
        let mut meter = SpeechMeter::default();
        meter.add_silence(48 * 300);
        meter.add(&tone(500, 0.3));
        meter.add(&tone(50, 0.0)); // inside a word
        meter.add(&tone(400, 0.1)); // softer syllable, still speech
        meter.add(&tone(250, 0.0)); // a pause
        meter.add(&tone(20, 0.3)); // a click
        meter.add(&tone(250, 0.0));
        meter.add(&tone(700, 0.3));
        meter.add_silence(48 * 100);
        let ms = |d: Duration| d.as_millis();
        let spans: Vec<(u128, u128)> = meter
            .spans()
            .iter()
            .map(|r| (ms(r.start), ms(r.end)))
            .collect();
        assert_eq!(spans, [(300, 1250), (1770, 2470)]);
    }

    #[test]
    fn silence_has_no_speech() {
        let mut meter = SpeechMeter::default();
        meter.add_silence(48_000);
        meter.add(&tone(100, 0.0));
        assert!(meter.spans().is_empty());
    }
}
