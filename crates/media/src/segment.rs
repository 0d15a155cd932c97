//! Composing one slide's segment: the pre-converted slide picture, the
//! presenter clips (one, or the parts of a split narration played back to
//! back, each starting on a frame boundary) decoded frame by frame, converted to the deck's frame rate
//! by timestamp, scaled and cut out over the slide, fades baked in, encoded
//! with the deck's x264 settings; the clip's audio resampled to 48 kHz stereo
//! PCM beside it. The segment is a NUT file (H.264 + pcm_s16le): NUT keeps
//! exact 1/fps and 1/48000 timestamps, which Matroska's milliseconds would not.

use std::cell::RefCell;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg::software::scaling;
use ffmpeg::{format, frame};
use ffmpeg_next as ffmpeg;
use slidecast_core::deck::{Output, Presenter, Rect, Shape};

use crate::burn::{CaptionArt, Sprite, TimedText};
use crate::clip::Clip;
use crate::error::MediaError;
use crate::figure::FigureCrop;
use crate::picture::{fade, fit_rect, ChromaKey, Overlay, Yuv420};
use crate::speech::SpeechMeter;
use slidecast_av::compat::{self, DeckResampler, DECK_CHANNELS, DECK_RATE};
use slidecast_av::encode::{AudioWriter, H264Writer, VideoSettings};

/// Everything one segment needs.
pub struct SegmentJob<'a> {
    pub output: &'a Output,
    pub settings: &'a VideoSettings,
    /// The slide picture, already letterboxed to the output size.
    pub background: &'a Yuv420,
    pub presenter: Option<&'a Presenter>,
    /// The presenter clips, played one after the other; empty for a
    /// slide-only segment lasting `duration`.
    pub clips: &'a [PathBuf],
    pub duration: Option<Duration>,
    pub fade_in: Duration,
    pub fade_out: Duration,
    /// The segment file to write (via a temporary file beside it).
    pub dest: &'a Path,
    /// Captions to draw into the picture: the art, and each cue's time in
    /// the segment with its (wrapped) text.
    pub captions: Option<(&'a CaptionArt, &'a [TimedText])>,
}

/// A finished segment's length, and where its narration is audible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentLength {
    pub frames: u64,
    pub samples: u64,
    /// The first frame of each clip.
    pub clip_starts: Vec<u64>,
    /// The stretches of speech, from the segment's start.
    pub speech: Vec<Range<Duration>>,
}

/// Audio samples (per channel) in the first `frames` frames at `fps`.
pub fn samples_for_frames(frames: u64, fps: u32) -> u64 {
    (frames * u64::from(DECK_RATE) + u64::from(fps) / 2) / u64::from(fps)
}

/// Frames needed to cover `seconds` (never cutting the clip short).
pub fn frames_for(seconds: f64, fps: u32) -> u64 {
    ((seconds * f64::from(fps)) - 1e-6).ceil().max(1.0) as u64
}

/// Where each clip starts (frames) when `durations` (seconds) play back
/// to back, and where the last ends: each clip covers whole frames, so the
/// next starts on a frame boundary.
fn clip_frames(durations: impl IntoIterator<Item = f64>, fps: u32) -> (Vec<u64>, u64) {
    let mut starts = Vec::new();
    let mut frames = 0;
    for d in durations {
        starts.push(frames);
        frames += frames_for(d, fps);
    }
    (starts, frames)
}

/// The frames each of `clips` covers in their segment (their timing read
/// by demuxing only).
pub fn clip_frame_ranges(clips: &[PathBuf], fps: u32) -> Result<Vec<Range<u64>>, MediaError> {
    let mut durations = Vec::with_capacity(clips.len());
    for path in clips {
        durations.push(Clip::open(path)?.timing()?.duration());
    }
    let (starts, end) = clip_frames(durations, fps);
    let ends = starts.iter().skip(1).copied().chain([end]);
    Ok(starts.iter().zip(ends).map(|(&a, b)| a..b).collect())
}

/// Write one segment.
pub fn write_segment(job: &SegmentJob<'_>) -> Result<SegmentLength, MediaError> {
    let fps = job.settings.fps;
    let mut clips = Vec::with_capacity(job.clips.len());
    for path in job.clips {
        let mut clip = Clip::open(path)?;
        let timing = clip.timing()?;
        clips.push((clip, timing));
    }
    let (clip_starts, mut frames) = clip_frames(clips.iter().map(|(_, t)| t.duration()), fps);
    if clips.is_empty() {
        let Some(d) = job.duration else {
            return Err(MediaError::msg(
                "a slide without a presenter clip needs a duration",
            ));
        };
        frames = frames_for(d.as_secs_f64(), fps);
    }
    let samples = samples_for_frames(frames, fps);
    let timing = clips.first().map(|(_, t)| *t);

    let overlay = match (&timing, job.presenter) {
        (Some(t), Some(p)) => {
            let area = p.layout.presenter_area(job.output);
            let rect = fit_rect(t.width, t.height, area);
            if !rect.fits(job.output.width, job.output.height) {
                return Err(MediaError::msg(format!(
                    "the presenter area {}x{}+{}+{} does not fit the {}x{} frame",
                    rect.width, rect.height, rect.x, rect.y, job.output.width, job.output.height
                )));
            }
            let key = match p.shape {
                Shape::ChromaKey {
                    key,
                    similarity,
                    blend,
                } => Some(ChromaKey::new(key, similarity, blend)),
                _ => None,
            };
            Some((Overlay::new(rect, p.shape == Shape::Circle, key), key))
        }
        (Some(_), None) => {
            return Err(MediaError::msg(
                "a clip was given for a slide without a presenter",
            ))
        }
        _ => None,
    };

    let at_frame = |d: Duration| (d.as_secs_f64() * f64::from(fps)).round() as u64;
    let captions: Vec<Sprite> = match job.captions {
        Some((art, cues)) => cues
            .iter()
            .map(|(time, text)| {
                art.sprite(
                    text,
                    at_frame(time.start)..at_frame(time.end),
                    job.output.width,
                    job.output.height,
                    overlay.as_ref().map(|(o, _)| o.rect),
                )
            })
            .collect(),
        None => Vec::new(),
    };

    let tmp = job.dest.with_extension("nut.partial");
    let result = (|| {
        let mut octx = format::output_as(&tmp, "nut")
            .map_err(MediaError::ff(format!("create segment {}", tmp.display())))?;
        let mut video = H264Writer::add(&mut octx, job.settings)?;
        let mut audio = AudioWriter::add(&mut octx, "pcm_s16le", DECK_RATE, compat::stereo(), 0)?;
        octx.write_header()
            .map_err(MediaError::ff("write segment header"))?;
        video.header_written(&octx);
        audio.header_written(&octx);

        let fade_frames = |d: Duration| {
            let f = (d.as_secs_f64() * f64::from(fps)).round() as u64;
            f.min(frames)
        };
        let (mut fade_in, mut fade_out) = (fade_frames(job.fade_in), fade_frames(job.fade_out));
        if fade_in + fade_out > frames {
            fade_in = fade_in.min(frames / 2);
            fade_out = fade_out.min(frames - fade_in);
        }
        let mut out =
            frame::Video::new(format::Pixel::YUV420P, job.output.width, job.output.height);
        job.background.copy_into(&mut out);
        let state = RefCell::new(SegmentState {
            octx,
            video,
            audio,
            out,
            background: job.background,
            presenter_rect: overlay.as_ref().map(|(o, _)| o.rect),
            key: overlay.as_ref().and_then(|(_, k)| *k),
            overlay: overlay.map(|(o, _)| o),
            figure: None,
            view: frame::Video::empty(),
            presenter_moved: false,
            scaler: None,
            avatar: None,
            frames,
            samples,
            part_end: frames,
            part_samples: samples,
            part_start: 0,
            fps,
            next_frame: 0,
            fade_in,
            fade_out,
            last_faded: false,
            resampler: None,
            pending: Vec::new(),
            audio_started: false,
            skip: 0,
            written: 0,
            audio_done: true,
            speech: SpeechMeter::default(),
            captions,
            captioned: None,
        });

        let ends = clip_starts.iter().skip(1).copied().chain([frames]);
        for ((clip, t), (&start, end)) in clips.iter_mut().zip(clip_starts.iter().zip(ends)) {
            state
                .borrow_mut()
                .begin_part(start, end, t.audio_end.is_some());
            let stats = clip.decode(
                t.start,
                |f, t| state.borrow_mut().on_video(f, t),
                |f, t| state.borrow_mut().on_audio(f, t),
            )?;
            // Verification read the clip's packets and decoded its start;
            // damage further in shows only now, and fails the segment.
            if stats.video_frames == 0 {
                return Err(MediaError::bad_input(
                    clip.path(),
                    "the clip has no decodable video frames",
                ));
            }
            if stats.damaged_frames > 0 {
                return Err(MediaError::bad_input(
                    clip.path(),
                    format!(
                        "{} damaged video frame(s) of {}: the clip is damaged",
                        stats.damaged_frames, stats.video_frames
                    ),
                ));
            }
            state.borrow_mut().end_part()?;
        }
        let mut s = state.into_inner();
        s.finish_audio()?;
        while s.next_frame < s.frames {
            s.emit()?;
        }
        s.pad_audio(s.samples)?;
        s.video.finish(&mut s.octx)?;
        s.audio.finish(&mut s.octx)?;
        s.octx
            .write_trailer()
            .map_err(MediaError::ff("write segment trailer"))?;
        Ok(SegmentLength {
            frames: s.frames,
            samples: s.written,
            clip_starts: clip_starts.clone(),
            speech: s.speech.spans(),
        })
    })();
    match result {
        Ok(len) => {
            std::fs::rename(&tmp, job.dest).map_err(MediaError::io(job.dest))?;
            Ok(len)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Length of the ramps at both ends of a segment's audio (5 ms): a clip cut
/// mid-waveform would click at the join.
const DECLICK_SAMPLES: u64 = 240;

/// Ramp interleaved stereo `chunk`, which starts at sample `from` of a
/// segment of `total` samples, in over the segment's first and out over its
/// last [`DECLICK_SAMPLES`].
fn declick(chunk: &mut [i16], from: u64, total: u64) {
    let fade_out_from = total.saturating_sub(DECLICK_SAMPLES);
    if from >= DECLICK_SAMPLES && from + (chunk.len() / DECK_CHANNELS) as u64 <= fade_out_from {
        return;
    }
    for (i, frame) in chunk.chunks_exact_mut(DECK_CHANNELS).enumerate() {
        let pos = from + i as u64;
        let gain = (pos.min(total - 1 - pos.min(total - 1)) as f32 + 0.5) / DECLICK_SAMPLES as f32;
        if gain < 1.0 {
            for s in frame {
                *s = (f32::from(*s) * gain) as i16;
            }
        }
    }
}

/// A scaler's job: the source's (format, width, height), and the size it
/// scales to.
type Conversion = (format::Pixel, u32, u32, u32, u32);

struct SegmentState<'a> {
    octx: format::context::Output,
    video: H264Writer,
    audio: AudioWriter,
    /// The frame handed to the encoder, reused across frames.
    out: frame::Video,
    background: &'a Yuv420,
    overlay: Option<Overlay>,
    /// The rectangle the whole clip frame fills.
    presenter_rect: Option<Rect>,
    /// The chroma key, for a keyed presenter.
    key: Option<ChromaKey>,
    /// Where the figure is in a keyed clip (only that part is scaled), for
    /// the clip frame size it was made for (`None`: not croppable).
    figure: Option<((u32, u32), Option<FigureCrop>)>,
    /// The cropped part of the current clip frame (borrowed planes).
    view: frame::Video,
    /// The drawn presenter moved or vanished: the slide must be restored
    /// under the presenter rectangle before the next frame is drawn.
    presenter_moved: bool,
    /// The scaler and what it converts.
    scaler: Option<(scaling::Context, Conversion)>,
    /// The latest clip frame, scaled to the overlay rectangle.
    avatar: Option<frame::Video>,
    frames: u64,
    samples: u64,
    /// The clip being decoded ends before this frame and this sample.
    part_end: u64,
    part_samples: u64,
    /// Its first frame in the segment.
    part_start: u64,
    fps: u32,
    next_frame: u64,
    fade_in: u64,
    fade_out: u64,
    last_faded: bool,
    resampler: Option<DeckResampler>,
    /// Resampled audio not yet written (interleaved stereo).
    pending: Vec<i16>,
    audio_started: bool,
    /// Resampled samples still to drop (audio that starts before the video).
    skip: u64,
    /// Samples written to the segment.
    written: u64,
    /// No more clip audio will come: pad with silence as video advances.
    audio_done: bool,
    /// The level of everything written, for the speech spans.
    speech: SpeechMeter,
    /// Captions to draw, in order.
    captions: Vec<Sprite>,
    /// Where the last frame had a caption drawn (to be restored).
    captioned: Option<(u32, u32, u32, u32)>,
}

impl SegmentState<'_> {
    /// The next clip covers frames `start..end`.
    fn begin_part(&mut self, start: u64, end: u64, has_audio: bool) {
        self.part_start = start;
        self.part_end = end;
        self.part_samples = samples_for_frames(end, self.fps);
        self.audio_started = false;
        self.audio_done = !has_audio;
        self.skip = 0;
    }

    /// The clip is decoded: show its last frame and pad its audio to its
    /// end, so the next one starts exactly on its frame.
    fn end_part(&mut self) -> Result<(), MediaError> {
        self.finish_audio()?;
        // A clip's audio may come from another format than the next one's.
        self.resampler = None;
        while self.next_frame < self.part_end {
            self.emit()?;
        }
        self.pad_audio(self.part_samples)
    }

    fn on_video(&mut self, decoded: &frame::Video, t: f64) -> Result<(), MediaError> {
        // Frame-rate conversion by timestamp: the clip frame nearest each
        // output frame's time is shown (duplicated or dropped as needed).
        let slot = self.part_start + (t * f64::from(self.fps)).round().max(0.0) as u64;
        while self.next_frame < slot.min(self.part_end) {
            self.emit()?;
        }
        if self.next_frame >= self.part_end {
            return Ok(());
        }
        let (Some(overlay), Some(full)) = (self.overlay.as_mut(), self.presenter_rect) else {
            return Ok(());
        };
        // A keyed clip: only the part with the figure is scaled and cut
        // out (see `figure`); the rest would come out transparent.
        let mut source = decoded;
        let mut rect = full;
        if let Some(key) = self.key {
            let size = (decoded.width(), decoded.height());
            if self.figure.as_ref().map(|(for_size, _)| *for_size) != Some(size) {
                // A new clip size (the next part): a new crop, if any.
                let crop = matches!(
                    decoded.format(),
                    format::Pixel::YUV420P | format::Pixel::YUVA420P
                )
                .then(|| FigureCrop::new(size, (full.width, full.height), &key))
                .flatten();
                self.figure = Some((size, crop));
                self.presenter_moved |= self.avatar.is_some();
            }
            if let Some((_, Some(figure))) = self.figure.as_mut() {
                if figure.update(decoded) {
                    self.presenter_moved |= self.avatar.is_some();
                }
                let (Some(crop), Some(placed)) = (figure.crop(), figure.placed(full)) else {
                    // Nothing but key colour so far: nothing to draw.
                    self.presenter_moved |= self.avatar.is_some();
                    self.avatar = None;
                    return Ok(());
                };
                compat::crop_view(
                    decoded,
                    &mut self.view,
                    (crop.x, crop.y, crop.width, crop.height),
                )
                .map_err(MediaError::ff("crop avatar frame"))?;
                source = &self.view;
                rect = placed;
            }
        }
        overlay.set_rect(rect);
        let from = (
            source.format(),
            source.width(),
            source.height(),
            rect.width,
            rect.height,
        );
        let rebuild = !matches!(&self.scaler, Some((_, f)) if *f == from);
        if rebuild {
            let has_alpha = matches!(
                from.0,
                format::Pixel::YUVA420P
                    | format::Pixel::RGBA
                    | format::Pixel::BGRA
                    | format::Pixel::ARGB
                    | format::Pixel::ABGR
                    | format::Pixel::YUVA444P
            );
            let dst_format = if has_alpha {
                format::Pixel::YUVA420P
            } else {
                format::Pixel::YUV420P
            };
            // Area averaging for large reductions (a vendor's 1080p frame
            // into a corner): no aliasing at a third of bicubic's cost.
            let flags = if from.1 >= 2 * rect.width && from.2 >= 2 * rect.height {
                scaling::Flags::AREA
            } else {
                scaling::Flags::BICUBIC
            };
            let scaler = scaling::Context::get(
                from.0,
                from.1,
                from.2,
                dst_format,
                rect.width,
                rect.height,
                flags,
            )
            .map_err(MediaError::ff("avatar scaler"))?;
            self.scaler = Some((scaler, from));
            self.avatar = None;
        }
        let Some((scaler, _)) = self.scaler.as_mut() else {
            return Ok(());
        };
        let avatar = self.avatar.get_or_insert_with(frame::Video::empty);
        scaler
            .run(source, avatar)
            .map_err(MediaError::ff("scale avatar frame"))?;
        Ok(())
    }

    fn on_audio(&mut self, decoded: &frame::Audio, t: f64) -> Result<(), MediaError> {
        if !self.audio_started {
            self.audio_started = true;
            let offset = (t * f64::from(DECK_RATE)).round() as i64;
            if offset > 0 {
                let start = samples_for_frames(self.part_start, self.fps);
                self.pad_audio(start + offset as u64)?;
            } else {
                self.skip = offset.unsigned_abs();
            }
        }
        if !self.resampler.as_ref().is_some_and(|r| r.accepts(decoded)) {
            // Flush what the old resampler holds before switching.
            self.flush_resampler()?;
            self.resampler =
                Some(DeckResampler::for_frame(decoded).map_err(MediaError::ff("audio resampler"))?);
        }
        if let Some(r) = self.resampler.as_mut() {
            r.convert(Some(decoded), &mut self.pending)
                .map_err(MediaError::ff("resample audio"))?;
        }
        self.write_pending()
    }

    fn flush_resampler(&mut self) -> Result<(), MediaError> {
        if let Some(r) = self.resampler.as_mut() {
            r.convert(None, &mut self.pending)
                .map_err(MediaError::ff("flush resampler"))?;
        }
        self.write_pending()
    }

    fn write_pending(&mut self) -> Result<(), MediaError> {
        let mut start = 0;
        if self.skip > 0 {
            let drop = (self.skip as usize).min(self.pending.len() / DECK_CHANNELS);
            self.skip -= drop as u64;
            start = drop * DECK_CHANNELS;
        }
        let available = (self.pending.len() - start) / DECK_CHANNELS;
        let room = self
            .part_samples
            .min(self.samples)
            .saturating_sub(self.written);
        let take = (available as u64).min(room) as usize;
        if take > 0 {
            let chunk = &mut self.pending[start..start + take * DECK_CHANNELS];
            declick(chunk, self.written, self.samples);
            let chunk = &*chunk;
            self.speech.add(chunk);
            self.audio.write_interleaved_i16(&mut self.octx, chunk)?;
            self.written += take as u64;
        }
        self.pending.clear();
        Ok(())
    }

    /// Write silence until `upto` samples are written.
    fn pad_audio(&mut self, upto: u64) -> Result<(), MediaError> {
        const CHUNK: u64 = 4800;
        static SILENCE: [i16; CHUNK as usize * DECK_CHANNELS] = [0; CHUNK as usize * DECK_CHANNELS];
        let upto = upto.min(self.samples);
        while self.written < upto {
            let n = (upto - self.written).min(CHUNK) as usize;
            self.audio
                .write_interleaved_i16(&mut self.octx, &SILENCE[..n * DECK_CHANNELS])?;
            self.speech.add_silence(n as u64);
            self.written += n as u64;
        }
        Ok(())
    }

    fn finish_audio(&mut self) -> Result<(), MediaError> {
        self.flush_resampler()?;
        self.audio_done = true;
        Ok(())
    }

    fn fade_level(&self, i: u64) -> u32 {
        let mut level = 256u64;
        if i < self.fade_in {
            level = level.min(i * 256 / self.fade_in);
        }
        if self.fade_out > 0 && i + self.fade_out >= self.frames {
            level = level.min((self.frames - 1 - i) * 256 / self.fade_out);
        }
        level as u32
    }

    /// Compose and encode output frame `next_frame`.
    fn emit(&mut self) -> Result<(), MediaError> {
        let i = self.next_frame;
        let level = self.fade_level(i);
        compat::make_writable(&mut self.out).map_err(MediaError::ff("frame buffer"))?;
        if level < 256 || self.last_faded {
            self.background.copy_into(&mut self.out);
        } else {
            if let Some(area) = self.captioned {
                self.background.copy_rect_into(&mut self.out, area);
            }
            if let (true, Some(r)) = (self.presenter_moved, self.presenter_rect) {
                self.background
                    .copy_rect_into(&mut self.out, (r.x, r.y, r.width, r.height));
            }
        }
        self.presenter_moved = false;
        if let (Some(overlay), Some(avatar)) = (self.overlay.as_mut(), self.avatar.as_ref()) {
            overlay.draw(&mut self.out, self.background, avatar);
        }
        self.captioned = None;
        if let Some(caption) = self.captions.iter().find(|c| c.frames.contains(&i)) {
            caption.draw(&mut self.out);
            self.captioned = Some(caption.area());
        }
        fade(&mut self.out, level);
        self.last_faded = level < 256;
        self.video.write(&mut self.octx, &mut self.out, i as i64)?;
        self.next_frame += 1;
        if self.audio_done {
            let upto = samples_for_frames(self.next_frame, self.fps);
            self.pad_audio(upto)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_ramps_in_and_out_at_the_segment_ends_only() {
        let total = 2000;
        let mut all = vec![10_000i16; total as usize * DECK_CHANNELS];
        // Written in uneven chunks, as the resampler hands them out.
        let mut from = 0;
        for chunk in all.chunks_mut(2 * 333) {
            declick(chunk, from, total);
            from += (chunk.len() / DECK_CHANNELS) as u64;
        }
        let at = |i: usize| all[i * DECK_CHANNELS];
        assert!(at(0) < 100, "{}", at(0));
        assert!(at(120) > 4000 && at(120) < 6000, "{}", at(120));
        assert_eq!(at(1000), 10_000);
        assert!(at(1999) < 100, "{}", at(1999));
        assert_eq!(all[1000 * DECK_CHANNELS + 1], 10_000, "both channels");
    }

    #[test]
    fn frame_and_sample_counts_cover_the_clip() {
        assert_eq!(frames_for(1.5, 25), 38);
        assert_eq!(frames_for(1.52, 25), 38, "an exact multiple adds no frame");
        assert_eq!(frames_for(1.5201, 25), 39, "never cut the clip short");
        assert_eq!(frames_for(0.0, 25), 1);
        assert_eq!(samples_for_frames(25, 25), 48_000);
        assert_eq!(samples_for_frames(1, 30), 1600);
        assert_eq!(samples_for_frames(3, 7), 20_571);
    }
}
