//! Reading presenter clips: their timing (from packet timestamps, no
//! decoding), the start decoded for verification, and streaming decode for
//! composition. Frames are handed out one at a time; a clip is never held in
//! memory.

use std::path::Path;

use ffmpeg::{codec, decoder, format, frame, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::MediaError;

/// Where a clip's streams start and end, in seconds on the clip's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipTiming {
    /// The first video timestamp: the clip's time zero.
    pub start: f64,
    pub video_end: f64,
    /// `None` when the clip has no audio stream.
    pub audio_end: Option<f64>,
    pub width: u32,
    pub height: u32,
}

impl ClipTiming {
    /// The clip's length: until its last video frame or audio sample ends.
    pub fn duration(&self) -> f64 {
        (self.video_end.max(self.audio_end.unwrap_or(0.0)) - self.start).max(0.0)
    }
}

/// An opened clip with its video (and audio) stream chosen.
pub struct Clip<'p> {
    path: &'p Path,
    ictx: format::context::Input,
    video: usize,
    video_tb: Rational,
    frame_duration: f64,
    audio: Option<(usize, Rational)>,
}

fn secs(ts: i64, tb: Rational) -> f64 {
    ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator())
}

impl<'p> Clip<'p> {
    /// Open `path` and find its streams; errors name the file.
    pub fn open(path: &'p Path) -> Result<Self, MediaError> {
        crate::init();
        if !path.is_file() {
            return Err(MediaError::bad_input(path, "clip file does not exist"));
        }
        let ictx = format::input(path).map_err(|e| {
            MediaError::bad_input(path, format!("not a readable video (truncated?): {e}"))
        })?;
        let video = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::bad_input(path, "the clip has no video stream"))?;
        let rate = video.avg_frame_rate();
        let frame_duration = if rate.numerator() > 0 && rate.denominator() > 0 {
            f64::from(rate.denominator()) / f64::from(rate.numerator())
        } else {
            1.0 / 25.0
        };
        let video_tb = video.time_base();
        let video_index = video.index();
        let audio = ictx
            .streams()
            .best(media::Type::Audio)
            .map(|s| (s.index(), s.time_base()));
        Ok(Clip {
            path,
            ictx,
            video: video_index,
            video_tb,
            frame_duration,
            audio,
        })
    }

    /// The clip's file.
    pub fn path(&self) -> &'p Path {
        self.path
    }

    fn read(&mut self, packet: &mut Packet) -> Result<bool, MediaError> {
        match crate::read_packet(&mut self.ictx, packet) {
            Ok(()) => {
                if packet.is_corrupt() {
                    return Err(MediaError::bad_input(
                        self.path,
                        "the clip is truncated or damaged (corrupt packet)",
                    ));
                }
                Ok(true)
            }
            Err(ffmpeg::Error::Eof) => Ok(false),
            Err(e) => Err(MediaError::bad_input(
                self.path,
                format!("reading the clip failed (truncated?): {e}"),
            )),
        }
    }

    /// The clip's timing from its packet timestamps (demuxing only), then
    /// rewinds. Errors if the clip has no video frame or lasts zero time.
    pub fn timing(&mut self) -> Result<ClipTiming, MediaError> {
        let mut packet = Packet::empty();
        let (mut start, mut video_end, mut audio_end) = (f64::INFINITY, f64::NEG_INFINITY, None);
        while self.read(&mut packet)? {
            let Some(pts) = packet.pts().or(packet.dts()) else {
                continue;
            };
            if packet.stream() == self.video {
                let t = secs(pts, self.video_tb);
                let d = if packet.duration() > 0 {
                    secs(packet.duration(), self.video_tb)
                } else {
                    self.frame_duration
                };
                start = start.min(t);
                video_end = video_end.max(t + d);
            } else if let Some((index, tb)) = self.audio {
                if packet.stream() == index {
                    let end = secs(pts + packet.duration().max(0), tb);
                    audio_end = Some(audio_end.map_or(end, |a: f64| a.max(end)));
                }
            }
        }
        if !start.is_finite() {
            return Err(MediaError::bad_input(
                self.path,
                "the clip has no video frames",
            ));
        }
        let (width, height) = self
            .ictx
            .stream(self.video)
            .map(|st| slidecast_av::compat::video_size(&st))
            .ok_or_else(|| MediaError::bad_input(self.path, "video stream vanished"))?;
        let timing = ClipTiming {
            start,
            video_end,
            audio_end,
            width,
            height,
        };
        if timing.duration() < 1e-3 || width == 0 || height == 0 {
            return Err(MediaError::bad_input(self.path, "the clip lasts zero time"));
        }
        self.rewind()?;
        Ok(timing)
    }

    /// Decode every frame, calling `on_video(frame, seconds)` and
    /// `on_audio(frame, seconds)` with times relative to `start`.
    pub fn decode(
        &mut self,
        start: f64,
        on_video: impl FnMut(&frame::Video, f64) -> Result<(), MediaError>,
        on_audio: impl FnMut(&frame::Audio, f64) -> Result<(), MediaError>,
    ) -> Result<DecodeStats, MediaError> {
        self.decode_streams(start, true, on_video, on_audio)
    }

    /// Decode the audio only (the video's packets are read and skipped).
    pub fn decode_audio(
        &mut self,
        start: f64,
        on_audio: impl FnMut(&frame::Audio, f64) -> Result<(), MediaError>,
    ) -> Result<DecodeStats, MediaError> {
        self.decode_streams(start, false, |_, _| Ok(()), on_audio)
    }

    fn decode_streams(
        &mut self,
        start: f64,
        with_video: bool,
        mut on_video: impl FnMut(&frame::Video, f64) -> Result<(), MediaError>,
        mut on_audio: impl FnMut(&frame::Audio, f64) -> Result<(), MediaError>,
    ) -> Result<DecodeStats, MediaError> {
        let path = self.path;
        let bad = |what: &str, e: ffmpeg::Error| {
            MediaError::bad_input(path, format!("{what} (damaged clip?): {e}"))
        };
        let mut vdec = self.video_decoder()?;
        let mut adec = self.audio_decoder()?;
        let audio_tb = self.audio.map(|(_, tb)| tb);
        let mut stats = DecodeStats::default();
        let mut vframe = frame::Video::empty();
        let mut aframe = frame::Audio::empty();
        let video_tb = self.video_tb;
        let mut packet = Packet::empty();

        let mut pull_video =
            |dec: &mut decoder::Video, stats: &mut DecodeStats| -> Result<(), MediaError> {
                while dec.receive_frame(&mut vframe).is_ok() {
                    let t = vframe
                        .timestamp()
                        .map_or(stats.video_frames as f64 * 0.04, |ts| secs(ts, video_tb))
                        - start;
                    if vframe.has_decode_errors() {
                        stats.damaged_frames += 1;
                    }
                    stats.video_frames += 1;
                    on_video(&vframe, t)?;
                }
                Ok(())
            };
        let mut pull_audio =
            |dec: &mut decoder::Audio, stats: &mut DecodeStats| -> Result<(), MediaError> {
                while dec.receive_frame(&mut aframe).is_ok() {
                    let tb = audio_tb.unwrap_or(Rational::new(1, aframe.rate() as i32));
                    let t = aframe.timestamp().map_or(0.0, |ts| secs(ts, tb)) - start;
                    stats.audio_samples += aframe.samples() as u64;
                    on_audio(&aframe, t)?;
                }
                Ok(())
            };

        while self.read(&mut packet)? {
            if packet.stream() == self.video {
                if !with_video {
                    continue;
                }
                vdec.send_packet(&packet)
                    .map_err(|e| bad("video decoding failed", e))?;
                pull_video(&mut vdec, &mut stats)?;
            } else if let (Some(dec), Some((index, _))) = (adec.as_mut(), self.audio) {
                if packet.stream() == index {
                    dec.send_packet(&packet)
                        .map_err(|e| bad("audio decoding failed", e))?;
                    pull_audio(dec, &mut stats)?;
                }
            }
        }
        vdec.send_eof()
            .map_err(|e| bad("video decoding failed", e))?;
        pull_video(&mut vdec, &mut stats)?;
        if let Some(dec) = adec.as_mut() {
            dec.send_eof()
                .map_err(|e| bad("audio decoding failed", e))?;
            pull_audio(dec, &mut stats)?;
        }
        Ok(stats)
    }

    /// Decode from the start until the first video frame (and the first
    /// audio frame, when there is audio) comes out: the codecs open and the
    /// stream starts cleanly. Returns whether audio decoded. A clip whose
    /// first picture is damaged is an error.
    pub fn decode_start(&mut self) -> Result<bool, MediaError> {
        let path = self.path;
        let bad = |e: ffmpeg::Error| {
            MediaError::bad_input(path, format!("decoding failed (damaged clip?): {e}"))
        };
        let mut vdec = self.video_decoder()?;
        let mut adec = self.audio_decoder()?;
        let (mut vframe, mut aframe) = (frame::Video::empty(), frame::Audio::empty());
        let (mut video, mut audio) = (false, adec.is_none());
        let mut packet = Packet::empty();
        loop {
            let more = self.read(&mut packet)?;
            if !more {
                vdec.send_eof().map_err(bad)?;
                if let Some(dec) = adec.as_mut() {
                    dec.send_eof().map_err(bad)?;
                }
            } else if packet.stream() == self.video {
                vdec.send_packet(&packet).map_err(bad)?;
            } else if let (Some(dec), Some((index, _))) = (adec.as_mut(), self.audio) {
                if packet.stream() == index {
                    dec.send_packet(&packet).map_err(bad)?;
                }
            }
            // Drain what came out, so the decoders always take the next
            // packet.
            while vdec.receive_frame(&mut vframe).is_ok() {
                if !video && vframe.has_decode_errors() {
                    return Err(MediaError::bad_input(
                        path,
                        "the first video frame is damaged",
                    ));
                }
                video = true;
            }
            if let Some(dec) = adec.as_mut() {
                while dec.receive_frame(&mut aframe).is_ok() {
                    audio = true;
                }
            }
            if (video && audio) || !more {
                break;
            }
        }
        if !video {
            return Err(MediaError::bad_input(
                path,
                "the clip has no decodable video frames",
            ));
        }
        self.rewind()?;
        Ok(audio && adec.is_some())
    }

    /// Back to the first packet, by reopening: seeking to the start is not
    /// reliable in every container, reopening is.
    fn rewind(&mut self) -> Result<(), MediaError> {
        self.ictx = format::input(self.path).map_err(|e| {
            MediaError::bad_input(self.path, format!("cannot reopen the clip: {e}"))
        })?;
        Ok(())
    }

    fn audio_decoder(&self) -> Result<Option<decoder::Audio>, MediaError> {
        let Some((index, _)) = self.audio else {
            return Ok(None);
        };
        let bad = |e: ffmpeg::Error| {
            MediaError::bad_input(self.path, format!("audio decoder (damaged clip?): {e}"))
        };
        let st = self
            .ictx
            .stream(index)
            .ok_or_else(|| MediaError::bad_input(self.path, "audio stream vanished"))?;
        let ctx = codec::context::Context::from_parameters(st.parameters()).map_err(bad)?;
        Ok(Some(ctx.decoder().audio().map_err(bad)?))
    }

    fn video_decoder(&self) -> Result<decoder::Video, MediaError> {
        let st = self
            .ictx
            .stream(self.video)
            .ok_or_else(|| MediaError::bad_input(self.path, "video stream vanished"))?;
        let params = st.parameters();
        let mut ctx = codec::context::Context::from_parameters(params.clone())
            .map_err(|e| MediaError::bad_input(self.path, format!("video decoder: {e}")))?;
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: 0,
            ..Default::default()
        });
        // VP8/VP9 transparency is carried beside the picture; only the
        // libvpx decoders decode it into a YUVA frame.
        let alpha_decoder = if slidecast_av::compat::has_alpha_tag(&st) {
            match params.id() {
                codec::Id::VP8 => decoder::find_by_name("libvpx"),
                codec::Id::VP9 => decoder::find_by_name("libvpx-vp9"),
                _ => None,
            }
        } else {
            None
        };
        let codec = alpha_decoder
            .or_else(|| decoder::find(params.id()))
            .ok_or_else(|| {
                MediaError::bad_input(self.path, format!("no decoder for {:?} video", params.id()))
            })?;
        let opened = ctx.decoder().open_as(codec);
        opened
            .and_then(|d| d.video())
            .map_err(|e| MediaError::bad_input(self.path, format!("no decoder for the video: {e}")))
    }
}

/// What a full decode saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub video_frames: u64,
    pub damaged_frames: u64,
    pub audio_samples: u64,
}

impl Clip<'_> {
    /// The duration the container declares, if any.
    pub fn declared_duration(&self) -> Option<f64> {
        let d = self.ictx.duration();
        (d > 0).then(|| d as f64 / f64::from(slidecast_av::compat::TIME_BASE))
    }
}
