//! A look-ahead peak limiter over interleaved float audio: FFmpeg's
//! `alimiter` filter, delay-compensated so what comes out lines up with
//! what went in and has the same number of samples.
//!
//! `alimiter` limits sample peaks. The peaks between samples (true peak,
//! ITU-R BS.1770) and an AAC encoder's overshoot both sit a little above
//! them, so a caller aiming at a true-peak ceiling sets the limit somewhat
//! lower (see [`Limiter::new`]).

use ffmpeg::{filter, format, frame, ChannelLayout};
use ffmpeg_next as ffmpeg;

use crate::{compat, AvError};

/// Look-ahead (ms): long enough to catch a consonant's onset smoothly.
const ATTACK_MS: f64 = 5.0;
/// Recovery (ms): short enough not to duck the next syllable audibly.
const RELEASE_MS: f64 = 80.0;

/// A running limiter; feed it with [`Limiter::push`], end with
/// [`Limiter::finish`].
pub struct Limiter {
    graph: filter::Graph,
    rate: u32,
    layout: ChannelLayout,
    channels: usize,
    /// Samples (per channel) pushed so far: the next frame's pts.
    pushed: i64,
    out: frame::Audio,
}

impl Limiter {
    /// A limiter holding sample peaks at `ceiling_db` dBFS for `channels`
    /// interleaved channels at `rate` Hz.
    pub fn new(rate: u32, layout: ChannelLayout, ceiling_db: f64) -> Result<Self, AvError> {
        let find = |name: &str| {
            filter::find(name).ok_or_else(|| AvError::msg(format!("FFmpeg has no {name} filter")))
        };
        let channels = layout.channels() as usize;
        let layout_name = match channels {
            1 => "mono",
            2 => "stereo",
            n => {
                return Err(AvError::msg(format!(
                    "the limiter takes 1 or 2 channels, not {n}"
                )))
            }
        };
        let mut graph = filter::Graph::new();
        let args = format!(
            "time_base=1/{rate}:sample_rate={rate}:sample_fmt=flt:channel_layout={layout_name}"
        );
        graph
            .add(&find("abuffer")?, "in", &args)
            .map_err(AvError::ff("limiter source"))?;
        graph
            .add(&find("abuffersink")?, "out", "")
            .map_err(AvError::ff("limiter sink"))?;
        // `level=0`: no automatic make-up gain, the caller sets the level.
        // `latency=1`: the look-ahead delay is taken out again.
        let limit = 10f64.powf(ceiling_db / 20.0).clamp(0.0625, 1.0);
        let spec = format!(
            "alimiter=limit={limit:.6}:attack={ATTACK_MS}:release={RELEASE_MS}:level=0:latency=1,\
             aformat=sample_fmts=flt:channel_layouts={layout_name}"
        );
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&spec))
            .map_err(AvError::ff(format!("limiter graph `{spec}`")))?;
        graph.validate().map_err(AvError::ff("limiter graph"))?;
        Ok(Limiter {
            graph,
            rate,
            layout,
            channels,
            pushed: 0,
            out: frame::Audio::empty(),
        })
    }

    /// Limit `samples` (interleaved); whatever the filter has ready is
    /// appended to `out` (less than was pushed while it looks ahead).
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), AvError> {
        let count = samples.len() / self.channels;
        if count == 0 {
            return Ok(());
        }
        let mut frame = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Packed),
            count,
            self.layout,
        );
        compat::set_frame_layout(&mut frame, self.layout);
        frame.set_rate(self.rate);
        frame.set_pts(Some(self.pushed));
        self.pushed += count as i64;
        let bytes = frame.data_mut(0);
        for (dst, s) in bytes
            .chunks_exact_mut(4)
            .zip(&samples[..count * self.channels])
        {
            dst.copy_from_slice(&s.to_ne_bytes());
        }
        self.graph
            .get("in")
            .ok_or_else(|| AvError::msg("limiter source vanished"))?
            .source()
            .add(&frame)
            .map_err(AvError::ff("limiter input"))?;
        self.drain(out)
    }

    /// End the stream: the samples still held for look-ahead go to `out`.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AvError> {
        self.graph
            .get("in")
            .ok_or_else(|| AvError::msg("limiter source vanished"))?
            .source()
            .flush()
            .map_err(AvError::ff("limiter flush"))?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<f32>) -> Result<(), AvError> {
        let mut sink = self
            .graph
            .get("out")
            .ok_or_else(|| AvError::msg("limiter sink vanished"))?;
        loop {
            match sink.sink().frame(&mut self.out) {
                Ok(()) => {
                    let n = self.out.samples() * self.channels;
                    let bytes = &self.out.data(0)[..n * 4];
                    out.extend(
                        bytes
                            .chunks_exact(4)
                            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                    );
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => {
                    return Err(AvError::Ffmpeg {
                        context: "limiter output".into(),
                        source: e,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 440 Hz tone at `level` for `seconds`, interleaved stereo at 48 kHz.
    fn tone(level: f32, seconds: f32) -> Vec<f32> {
        let n = (48_000.0 * seconds) as usize;
        (0..n)
            .flat_map(|i| {
                let s = level * (std::f32::consts::TAU * 440.0 * i as f32 / 48_000.0).sin();
                [s, s]
            })
            .collect()
    }

    #[test]
    fn peaks_are_held_at_the_ceiling_and_quiet_audio_passes_untouched() {
        crate::init();
        let mut input = tone(0.2, 1.0);
        input.extend(tone(1.0, 0.5));
        input.extend(tone(0.2, 1.0));
        let mut limiter = Limiter::new(48_000, compat::stereo(), -6.0).unwrap();
        let mut out = Vec::new();
        // Pieces of an AAC frame's size, as the join feeds it.
        for piece in input.chunks(1024 * 2) {
            limiter.push(piece, &mut out).unwrap();
        }
        limiter.finish(&mut out).unwrap();
        assert_eq!(out.len(), input.len(), "as many samples out as in");

        let ceiling = 10f32.powf(-6.0 / 20.0);
        let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= ceiling * 1.01, "peak {peak} over {ceiling}");
        let loud = &out[2 * 48_000 + 2_400..2 * 72_000 - 2_400];
        let loud_peak = loud.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(
            loud_peak > ceiling * 0.9,
            "the loud part is limited, not muted: {loud_peak}"
        );
        // Well before the loud part the output is the input, in place
        // (the look-ahead delay is compensated).
        for (i, (a, b)) in input[..2 * 40_000].iter().zip(&out).enumerate() {
            assert!((a - b).abs() < 1e-3, "sample {i}: {b} instead of {a}");
        }
    }
}
