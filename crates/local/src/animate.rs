//! From speech to a pose per video frame: the mouth follows the speech's
//! loudness, the eyes blink at seeded, natural intervals and the head and
//! shoulders move a little so the presenter never looks frozen.

use crate::avatar::Pose;

/// Below this mouth opening the mouth is drawn closed (exactly 0), so silent
/// stretches give identical mouth pixels.
const MOUTH_CLOSED_BELOW: f32 = 0.04;

/// Loudness (dBFS of a frame's RMS) that maps to a closed and a fully open
/// mouth; espeak-ng speech sits around -20 dBFS.
const QUIET_DB: f32 = -46.0;
const LOUD_DB: f32 = -16.0;

/// A blink takes about 150 ms, and comes every 2.8 to 5 s.
const BLINK_SECONDS: f64 = 0.15;
const BLINK_GAP: (f64, f64) = (2.8, 5.0);

/// The per-frame performance of one clip.
#[derive(Debug, Clone)]
pub struct Animation {
    fps: f64,
    mouth: Vec<f32>,
    round: Vec<f32>,
    /// Glances: (start time, gaze offset), each held until the next.
    glances: Vec<(f64, (f32, f32))>,
    brows: Vec<f32>,
    blinks: Vec<f64>,
    phases: [f32; 4],
    idle_motion: bool,
}

/// The loudness envelope of `samples` per video frame, mapped to a mouth
/// opening in 0..=1 and smoothed (fast attack, slower release) so the mouth
/// neither flickers nor snaps shut between syllables.
pub fn mouth_envelope(samples: &[f32], sample_rate: u32, fps: u32, frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames);
    let mut level = 0.0f32;
    for i in 0..frames {
        let window = frame_window(samples.len(), sample_rate, fps, i);
        let chunk = &samples[window];
        let rms = if chunk.is_empty() {
            0.0
        } else {
            (chunk.iter().map(|s| s * s).sum::<f32>() / chunk.len() as f32).sqrt()
        };
        let db = 20.0 * rms.max(1e-6).log10();
        let target = ((db - QUIET_DB) / (LOUD_DB - QUIET_DB))
            .clamp(0.0, 1.0)
            .powf(0.8);
        let rate = if target > level { 0.7 } else { 0.45 };
        level += (target - level) * rate;
        if target == 0.0 && level < MOUTH_CLOSED_BELOW {
            level = 0.0;
        }
        out.push(if level < MOUTH_CLOSED_BELOW {
            0.0
        } else {
            level
        });
    }
    out
}

/// How round the mouth is per frame, from the speech's brightness: dull,
/// low-frequency sound (`oo`, `o`, `m`) reads as round, bright sound (`ee`,
/// `s`) as spread. The ratio of the first difference's RMS to the signal's
/// RMS rises with the frequency content; it is smoothed like the envelope.
pub fn mouth_roundness(samples: &[f32], sample_rate: u32, fps: u32, frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames);
    let mut level = 0.0f32;
    for i in 0..frames {
        let chunk = &samples[frame_window(samples.len(), sample_rate, fps, i)];
        let energy: f32 = chunk.iter().map(|s| s * s).sum();
        let target = if chunk.len() < 2 || energy < 1e-6 {
            0.0
        } else {
            let diff: f32 = chunk.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
            let brightness = (diff / energy).sqrt();
            ((0.4 - brightness) / 0.28).clamp(0.0, 1.0)
        };
        level += (target - level) * 0.5;
        out.push(level);
    }
    out
}

/// The sample range of video frame `i`.
pub(crate) fn frame_window(
    len: usize,
    sample_rate: u32,
    fps: u32,
    i: usize,
) -> std::ops::Range<usize> {
    let at = |i: usize| ((i as u64 * sample_rate as u64) / fps as u64) as usize;
    at(i).min(len)..at(i + 1).min(len)
}

/// A small deterministic generator (SplitMix64): blinks and sway phases must
/// be the same on every render of the same request.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Animation {
    /// The animation for `frames` video frames of speech `samples`.
    /// `seed` picks blink times and sway phases; `idle_motion` turns the
    /// head sway and breathing on.
    pub fn new(
        samples: &[f32],
        sample_rate: u32,
        fps: u32,
        frames: usize,
        seed: u64,
        idle_motion: bool,
    ) -> Animation {
        let mouth = mouth_envelope(samples, sample_rate, fps, frames);
        let round = mouth_roundness(samples, sample_rate, fps, frames);
        // The brows follow a much slower envelope: emphasis, not syllables.
        let mut brows = Vec::with_capacity(frames);
        let mut level = 0.0f32;
        for &m in &mouth {
            level += (m - level) * if m > level { 0.12 } else { 0.05 };
            brows.push(level);
        }
        let mut rng = SplitMix(seed);
        let duration = frames as f64 / fps as f64;
        let mut blinks = Vec::new();
        let mut t = rng.uniform(0.8, 2.4);
        while t < duration {
            blinks.push(t);
            t += rng.uniform(BLINK_GAP.0, BLINK_GAP.1);
        }
        // Mostly at the viewer, with a short glance aside every few seconds.
        let mut glances = vec![(0.0, (0.0, 0.0))];
        let mut t = rng.uniform(1.5, 4.0);
        while t < duration {
            let side = if rng.next() & 1 == 0 { -1.0 } else { 1.0 };
            let aside = (
                side * rng.uniform(0.4, 0.8) as f32,
                rng.uniform(-0.25, 0.1) as f32,
            );
            glances.push((t, aside));
            t += rng.uniform(0.5, 1.2);
            glances.push((t, (0.0, 0.0)));
            t += rng.uniform(2.5, 5.5);
        }
        let mut phase = || rng.uniform(0.0, std::f64::consts::TAU) as f32;
        let phases = [phase(), phase(), phase(), phase()];
        Animation {
            fps: fps as f64,
            mouth,
            round,
            glances,
            brows,
            blinks,
            phases,
            idle_motion,
        }
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.mouth.len()
    }

    /// The mouth opening of every frame.
    pub fn mouth(&self) -> &[f32] {
        &self.mouth
    }

    /// The pose of frame `i`.
    pub fn pose(&self, i: usize) -> Pose {
        let t = i as f64 / self.fps;
        let mouth_open = self.mouth.get(i).copied().unwrap_or(0.0);
        let emphasis = self.brows.get(i).copied().unwrap_or(0.0);
        let eye_open = self
            .blinks
            .iter()
            .find(|&&start| t >= start && t < start + BLINK_SECONDS)
            .map(|&start| {
                let phase = (t - start) / BLINK_SECONDS;
                (1.0 - (std::f64::consts::PI * phase).sin()) as f32
            })
            .unwrap_or(1.0);
        let mut pose = Pose {
            mouth_open,
            eye_open,
            brow_raise: emphasis * 0.9,
            mouth_round: self.round.get(i).copied().unwrap_or(0.0),
            ..Pose::default()
        };
        if self.idle_motion {
            pose.gaze = self
                .glances
                .iter()
                .rev()
                .find(|(start, _)| *start <= t)
                .map_or((0.0, 0.0), |g| g.1);
            let tf = t as f32;
            let wave =
                |period: f32, phase: f32| (std::f32::consts::TAU * tf / period + phase).sin();
            let [a, b, c, d] = self.phases;
            pose.head_tilt = 1.6 * wave(5.3, a) + 0.6 * wave(2.7, b);
            pose.head_offset = (
                0.5 * wave(6.1, c),
                // A slight nod that follows the emphasis while speaking.
                0.25 * wave(3.1, d) + 0.5 * emphasis,
            );
            pose.breath = 0.35 * wave(3.9, a + 1.0);
        }
        pose
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_zero_in_silence_and_opens_with_sound() {
        let rate = 48_000;
        let mut samples = vec![0.0f32; rate as usize / 2];
        samples.extend((0..rate / 2).map(|i| 0.3 * (i as f32 * 0.05).sin()));
        samples.extend(vec![0.0f32; rate as usize]);
        let env = mouth_envelope(&samples, rate, 25, 50);
        assert!(env[..12].iter().all(|&m| m == 0.0));
        assert!(env[14..25].iter().all(|&m| m > 0.5));
        assert!(env[45..].iter().all(|&m| m == 0.0), "{env:?}");
    }

    #[test]
    fn blinks_are_seeded_and_spaced_naturally() {
        let samples = vec![0.0f32; 48_000 * 20];
        let a = Animation::new(&samples, 48_000, 25, 500, 7, true);
        let b = Animation::new(&samples, 48_000, 25, 500, 7, true);
        assert_eq!(a.blinks, b.blinks);
        assert!((4..=8).contains(&a.blinks.len()), "{:?}", a.blinks);
        assert!(a.blinks.windows(2).all(|w| w[1] - w[0] >= BLINK_GAP.0));
        let closed = (0..500).filter(|&i| a.pose(i).eye_open < 0.5).count();
        assert!(
            closed >= a.blinks.len(),
            "every blink closes the eyes in some frame"
        );
    }
}
