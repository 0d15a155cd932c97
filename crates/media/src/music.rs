//! Background music under the narration: any audio file FFmpeg reads,
//! decoded as it is needed (never whole in memory), looped to cover the
//! slides it plays under, levelled to sit under the narration and ducked
//! while someone speaks.
//!
//! - Level: the file's integrated loudness (EBU R128, measured over its
//!   first minutes) is brought to the narration's level plus the deck's
//!   `music_volume` (dB, negative: under the voice).
//! - Ducking: a further [`DUCK_DB`] down while speech is audible, reached
//!   over [`DUCK_ATTACK`] *before* the words start (the speech spans are
//!   known in advance) and released over [`DUCK_RELEASE`] after they end.
//! - Continuity: consecutive slides with the same file continue it; a
//!   different file starts from its beginning; at the end of the video the
//!   music fades out over [`FADE_OUT`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg::{codec, format, frame, media, Packet};
use ffmpeg_next as ffmpeg;

use crate::error::MediaError;
use slidecast_av::compat::{DeckResampler, DECK_CHANNELS, DECK_RATE};

/// How far the music goes down under speech (dB).
pub const DUCK_DB: f64 = 12.0;
/// The duck's ramp down, ending where the words start.
pub const DUCK_ATTACK: Duration = Duration::from_millis(200);
/// The ramp back up after the words end.
pub const DUCK_RELEASE: Duration = Duration::from_millis(500);
/// The music's fade at the end of the video.
pub const FADE_OUT: Duration = Duration::from_millis(1500);
/// How much of a music file its level is measured on.
const MEASURE_SECONDS: u64 = 180;

/// A music file decoded on demand to the deck's 48 kHz stereo, looping.
pub struct MusicReader {
    path: PathBuf,
    ictx: format::context::Input,
    stream: usize,
    decoder: codec::decoder::Audio,
    resampler: Option<DeckResampler>,
    /// Decoded samples not yet handed out (interleaved stereo).
    buffer: Vec<i16>,
    /// Where in `buffer` the next sample starts.
    at: usize,
    /// Samples produced since the file was (re)opened; a file that gives
    /// none cannot loop.
    produced: u64,
}

impl MusicReader {
    /// Open `path`; errors name it.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        crate::init();
        let ictx = format::input(path)
            .map_err(|e| MediaError::bad_input(path, format!("not a readable audio file: {e}")))?;
        let stream = ictx
            .streams()
            .best(media::Type::Audio)
            .ok_or_else(|| MediaError::bad_input(path, "the music file has no audio stream"))?;
        let decoder = codec::context::Context::from_parameters(stream.parameters())
            .and_then(|c| c.decoder().audio())
            .map_err(|e| MediaError::bad_input(path, format!("no decoder for its audio: {e}")))?;
        Ok(MusicReader {
            path: path.to_path_buf(),
            stream: stream.index(),
            ictx,
            decoder,
            resampler: None,
            buffer: Vec::new(),
            at: 0,
            produced: 0,
        })
    }

    /// Fill `out` (interleaved stereo, -1..=1) with the next samples,
    /// starting the file again at its end.
    pub fn read(&mut self, out: &mut [f32]) -> Result<(), MediaError> {
        let mut filled = 0;
        while filled < out.len() {
            if self.at >= self.buffer.len() {
                self.buffer.clear();
                self.at = 0;
                if !self.decode_more()? {
                    if self.produced == 0 {
                        return Err(MediaError::bad_input(
                            &self.path,
                            "the music file has no sound",
                        ));
                    }
                    *self = MusicReader::open(&self.path)?;
                }
                continue;
            }
            let n = (self.buffer.len() - self.at).min(out.len() - filled);
            for (dst, &s) in out[filled..filled + n]
                .iter_mut()
                .zip(&self.buffer[self.at..self.at + n])
            {
                *dst = f32::from(s) / 32768.0;
            }
            self.at += n;
            filled += n;
        }
        Ok(())
    }

    /// Decode the next packet's worth into `buffer`; `false` at the end.
    fn decode_more(&mut self) -> Result<bool, MediaError> {
        let mut packet = Packet::empty();
        let mut decoded = frame::Audio::empty();
        loop {
            match slidecast_av::read_packet(&mut self.ictx, &mut packet) {
                Ok(()) => {
                    if packet.stream() != self.stream {
                        continue;
                    }
                    // A damaged packet in a music file is skipped, not fatal.
                    if self.decoder.send_packet(&packet).is_err() {
                        continue;
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    let _ = self.decoder.send_eof();
                    let before = self.buffer.len();
                    while self.decoder.receive_frame(&mut decoded).is_ok() {
                        self.convert(&decoded)?;
                    }
                    if let Some(r) = self.resampler.as_mut() {
                        r.convert(None, &mut self.buffer)
                            .map_err(MediaError::ff("music resampler"))?;
                    }
                    return Ok(self.buffer.len() > before);
                }
                Err(e) => {
                    return Err(MediaError::bad_input(
                        &self.path,
                        format!("reading the music failed: {e}"),
                    ))
                }
            }
            let before = self.buffer.len();
            while self.decoder.receive_frame(&mut decoded).is_ok() {
                self.convert(&decoded)?;
            }
            if self.buffer.len() > before {
                return Ok(true);
            }
        }
    }

    fn convert(&mut self, decoded: &frame::Audio) -> Result<(), MediaError> {
        if !self.resampler.as_ref().is_some_and(|r| r.accepts(decoded)) {
            if let Some(r) = self.resampler.as_mut() {
                r.convert(None, &mut self.buffer)
                    .map_err(MediaError::ff("music resampler"))?;
            }
            self.resampler =
                Some(DeckResampler::for_frame(decoded).map_err(MediaError::ff("music resampler"))?);
        }
        if let Some(r) = self.resampler.as_mut() {
            let before = self.buffer.len();
            r.convert(Some(decoded), &mut self.buffer)
                .map_err(MediaError::ff("resample music"))?;
            self.produced += ((self.buffer.len() - before) / DECK_CHANNELS) as u64;
        }
        Ok(())
    }
}

/// Check that `path` is music FFmpeg can play: it opens and gives sound.
/// Cheap (a fraction of a second of it is decoded).
pub fn check(path: &Path) -> Result<(), MediaError> {
    let mut reader = MusicReader::open(path)?;
    let mut probe = vec![0.0f32; DECK_RATE as usize / 10 * DECK_CHANNELS];
    reader.read(&mut probe)
}

/// Integrated loudness (LUFS) of the start of a music file (at most
/// `MEASURE_SECONDS`, once through); `None` when it is silent.
pub fn measure(path: &Path) -> Result<Option<f64>, MediaError> {
    let mut reader = MusicReader::open(path)?;
    let mut meter = ebur128::EbuR128::new(DECK_CHANNELS as u32, DECK_RATE, ebur128::Mode::I)
        .map_err(|e| MediaError::msg(format!("loudness meter: {e}")))?;
    let mut seconds = 0;
    loop {
        let before = reader.buffer.len();
        if !reader.decode_more()? || seconds >= MEASURE_SECONDS {
            break;
        }
        meter
            .add_frames_i16(&reader.buffer[before..])
            .map_err(|e| MediaError::msg(format!("loudness meter: {e}")))?;
        seconds = reader.produced / u64::from(DECK_RATE);
        reader.buffer.clear();
    }
    if reader.produced == 0 {
        return Err(MediaError::bad_input(path, "the music file has no sound"));
    }
    Ok(meter.loudness_global().ok().filter(|l| l.is_finite()))
}

/// The ducking gain (linear) at one instant, from the speech around it
/// (`speech` in order, on the same clock as `t`): 1 away from speech,
/// `10^(-DUCK_DB/20)` during it, with linear ramps [`DUCK_ATTACK`] before
/// each span and [`DUCK_RELEASE`] after it.
pub fn duck(t: f64, speech: &[Range<f64>]) -> f32 {
    let low = 10f64.powf(-DUCK_DB / 20.0);
    let (attack, release) = (DUCK_ATTACK.as_secs_f64(), DUCK_RELEASE.as_secs_f64());
    // How far down (0 = full level, 1 = fully ducked), the deepest of the
    // spans near `t`.
    let mut depth: f64 = 0.0;
    for span in speech {
        if t < span.start - attack {
            break;
        }
        let d = if t > span.end + release {
            0.0
        } else if t < span.start {
            1.0 - (span.start - t) / attack
        } else if t <= span.end {
            1.0
        } else {
            1.0 - (t - span.end) / release
        };
        depth = depth.max(d);
        if depth >= 1.0 {
            break;
        }
    }
    (1.0 - depth * (1.0 - low)) as f32
}

/// Consecutive segments with the same music: their output samples, and
/// the file (none: silence) with the gain that levels it.
type Stretch = (Range<u64>, Option<(PathBuf, f32)>);

/// Music mixed under the joined narration, sample by sample in output
/// order.
pub struct MusicMix {
    stretches: Vec<Stretch>,
    /// All speech on the output's clock (seconds), in order.
    speech: Vec<Range<f64>>,
    /// Speech spans wholly before the current position.
    speech_done: usize,
    stretch: usize,
    reader: Option<MusicReader>,
    /// Output samples mixed so far.
    position: u64,
    buffer: Vec<f32>,
}

/// How fast music starts where a stretch begins.
const FADE_IN: Duration = Duration::from_millis(500);
/// The most music is raised or lowered to reach its level (dB).
const MAX_MUSIC_GAIN_DB: f64 = 30.0;

impl MusicMix {
    /// `music[k]` plays under segment `k`, which starts at output sample
    /// `starts[k]` (`starts` has one more entry: the end) and has `speech`
    /// (from its start). Each file is measured once and levelled to
    /// `level` LUFS. `None` when no segment has music.
    pub fn new(
        music: &[Option<PathBuf>],
        starts: &[u64],
        speech: &[Vec<Range<Duration>>],
        level: f64,
    ) -> Result<Option<Self>, MediaError> {
        if music.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut gains: Vec<(PathBuf, f32)> = Vec::new();
        let mut stretches: Vec<Stretch> = Vec::new();
        for (k, file) in music.iter().enumerate() {
            let (from, to) = (starts[k], starts[k + 1]);
            if let Some((range, current)) = stretches.last_mut() {
                if current.as_ref().map(|(p, _)| p) == file.as_ref() {
                    range.end = to;
                    continue;
                }
            }
            let levelled = match file {
                None => None,
                Some(path) => {
                    let gain = match gains.iter().find(|(p, _)| p == path) {
                        Some((_, g)) => *g,
                        None => {
                            let g = match measure(path)? {
                                Some(m) => {
                                    let db =
                                        (level - m).clamp(-MAX_MUSIC_GAIN_DB, MAX_MUSIC_GAIN_DB);
                                    10f64.powf(db / 20.0) as f32
                                }
                                None => 1.0,
                            };
                            gains.push((path.clone(), g));
                            g
                        }
                    };
                    Some((path.clone(), gain))
                }
            };
            stretches.push((from..to, levelled));
        }
        let rate = f64::from(DECK_RATE);
        let speech = speech
            .iter()
            .zip(starts)
            .flat_map(|(spans, &start)| {
                let offset = start as f64 / rate;
                spans
                    .iter()
                    .map(move |r| offset + r.start.as_secs_f64()..offset + r.end.as_secs_f64())
            })
            .collect();
        Ok(Some(MusicMix {
            stretches,
            speech,
            speech_done: 0,
            stretch: 0,
            reader: None,
            position: 0,
            buffer: Vec::new(),
        }))
    }

    /// Add the music under `chunk` (interleaved stereo, the next output
    /// samples).
    pub fn mix(&mut self, chunk: &mut [f32]) -> Result<(), MediaError> {
        let rate = f64::from(DECK_RATE);
        let (fade_in, fade_out) = (FADE_IN.as_secs_f64() * rate, FADE_OUT.as_secs_f64() * rate);
        let mut done = 0;
        let total = chunk.len() / DECK_CHANNELS;
        while done < total {
            // The stretch this sample is in; a new one starts its file.
            while self.stretch + 1 < self.stretches.len()
                && self.position >= self.stretches[self.stretch].0.end
            {
                self.stretch += 1;
                self.reader = None;
            }
            let Some((range, file)) = self.stretches.get(self.stretch) else {
                return Ok(());
            };
            if self.position >= range.end {
                // Past the last stretch: the video has ended.
                return Ok(());
            }
            let run = ((range.end - self.position) as usize).min(total - done);
            if let Some((path, level)) = file {
                let reader = match self.reader.as_mut() {
                    Some(r) => r,
                    None => self.reader.insert(MusicReader::open(path)?),
                };
                self.buffer.resize(run * DECK_CHANNELS, 0.0);
                reader.read(&mut self.buffer)?;
                for i in 0..run {
                    let g = self.position + i as u64;
                    let t = g as f64 / rate;
                    while self.speech_done < self.speech.len()
                        && self.speech[self.speech_done].end + DUCK_RELEASE.as_secs_f64() < t
                    {
                        self.speech_done += 1;
                    }
                    let edge = ((g - range.start) as f64 / fade_in)
                        .min(range.end.saturating_sub(g) as f64 / fade_out)
                        .clamp(0.0, 1.0) as f32;
                    let gain = level * edge * duck(t, &self.speech[self.speech_done..]);
                    let at = (done + i) * DECK_CHANNELS;
                    for c in 0..DECK_CHANNELS {
                        chunk[at + c] += self.buffer[i * DECK_CHANNELS + c] * gain;
                    }
                }
            }
            done += run;
            self.position += run as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duck_ramps_down_before_speech_and_up_after_it() {
        let speech = [1.0..2.0, 2.3..3.0];
        let low = 10f32.powf(-DUCK_DB as f32 / 20.0);
        assert_eq!(duck(0.5, &speech), 1.0);
        // Halfway down the attack, which ends at the first word.
        let mid = duck(0.9, &speech);
        assert!((mid - (1.0 + low) / 2.0).abs() < 1e-3, "{mid}");
        assert!((duck(1.0, &speech) - low).abs() < 1e-6);
        assert!((duck(1.5, &speech) - low).abs() < 1e-6);
        // A short pause between spans stays ducked (no pumping).
        assert!(duck(2.15, &speech) < 0.5);
        assert!((duck(3.25, &speech) - (1.0 + low) / 2.0).abs() < 1e-3);
        assert_eq!(duck(3.6, &speech), 1.0);
    }
}
