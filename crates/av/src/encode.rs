//! Encoder set-up shared by segments, mock clips and the offline
//! presenter's clips: one place decides the x264 parameters, so every
//! segment of a deck is encoded identically and can be joined by stream
//! copy.

use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::compat;
use crate::AvError;

/// x264 settings of one deck (or one mock clip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSettings {
    /// Frame width (even).
    pub width: u32,
    /// Frame height (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// x264 preset.
    pub preset: String,
    /// x264 constant rate factor.
    pub crf: u8,
    /// x264 worker threads; 0 lets x264 choose (1.5 per core).
    pub threads: usize,
    /// Frames between keyframes; `None`: every 4 s (see [`Self::gop`]).
    pub keyframe_interval: Option<u32>,
}

impl VideoSettings {
    /// Keyframe interval: as set, else every 4 s, so a joined deck seeks
    /// well. Each segment also starts with its own IDR frame (a new
    /// encoder's first).
    pub fn gop(&self) -> u32 {
        self.keyframe_interval
            .unwrap_or_else(|| self.fps.saturating_mul(4))
            .max(1)
    }
}

/// A video stream (H.264 unless made with [`H264Writer::add_with`]) being
/// written to an output container.
pub struct H264Writer {
    encoder: encoder::Video,
    stream_index: usize,
    /// The stream's time base after `write_header` (the muxer may change it).
    stream_time_base: Rational,
    frame_time_base: Rational,
}

impl H264Writer {
    /// Add an H.264 stream to `octx` (before its header is written).
    pub fn add(octx: &mut format::context::Output, s: &VideoSettings) -> Result<Self, AvError> {
        let mut opts = Dictionary::new();
        opts.set("preset", &s.preset);
        opts.set("crf", &s.crf.to_string());
        if s.threads > 0 {
            opts.set("threads", &s.threads.to_string());
        }
        Self::add_with(octx, s, "libx264", format::Pixel::YUV420P, opts)
    }

    /// Add a video stream encoded by `codec_name` from `pixel` frames.
    pub fn add_with(
        octx: &mut format::context::Output,
        s: &VideoSettings,
        codec_name: &str,
        pixel: format::Pixel,
        opts: Dictionary,
    ) -> Result<Self, AvError> {
        let codec = encoder::find_by_name(codec_name)
            .ok_or_else(|| AvError::msg(format!("FFmpeg has no {codec_name} encoder")))?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let mut stream = octx
            .add_stream(codec)
            .map_err(AvError::ff("add video stream"))?;
        let stream_index = stream.index();
        // Pitfall: a plain Context::new() + open_as(libx264) fails; the
        // context must be created for the codec.
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(AvError::ff("video encoder"))?;
        let frame_time_base = Rational::new(1, s.fps as i32);
        enc.set_width(s.width);
        enc.set_height(s.height);
        enc.set_format(pixel);
        enc.set_time_base(frame_time_base);
        enc.set_frame_rate(Some(Rational::new(s.fps as i32, 1)));
        enc.set_gop(s.gop());
        enc.set_colorspace(ffmpeg::color::Space::BT709);
        enc.set_color_range(ffmpeg::color::Range::MPEG);
        enc.set_color_primaries(ffmpeg::color::Primaries::BT709);
        enc.set_color_transfer_characteristic(ffmpeg::color::TransferCharacteristic::BT709);
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let enc = enc
            .open_with(opts)
            .map_err(AvError::ff(format!("open the {codec_name} encoder")))?;
        stream.set_parameters(&enc);
        stream.set_time_base(frame_time_base);
        stream.set_avg_frame_rate(Rational::new(s.fps as i32, 1));
        stream.set_rate(Rational::new(s.fps as i32, 1));
        if pixel == format::Pixel::YUVA420P {
            // WebM readers find VP8/VP9 transparency by this track flag.
            let mut meta = Dictionary::new();
            meta.set("alpha_mode", "1");
            stream.set_metadata(meta);
        }
        Ok(H264Writer {
            encoder: enc,
            stream_index,
            stream_time_base: frame_time_base,
            frame_time_base,
        })
    }

    /// Call after `write_header`: the muxer may have changed the time base.
    pub fn header_written(&mut self, octx: &format::context::Output) {
        if let Some(st) = octx.stream(self.stream_index) {
            self.stream_time_base = st.time_base();
        }
    }

    /// Encode `frame` as frame number `index` (pts in frames).
    pub fn write(
        &mut self,
        octx: &mut format::context::Output,
        frame: &mut frame::Video,
        index: i64,
    ) -> Result<(), AvError> {
        frame.set_pts(Some(index));
        frame.set_kind(ffmpeg::picture::Type::None);
        self.encoder
            .send_frame(frame)
            .map_err(AvError::ff("encode video frame"))?;
        self.drain(octx)
    }

    /// Flush the encoder's delayed frames.
    pub fn finish(&mut self, octx: &mut format::context::Output) -> Result<(), AvError> {
        self.encoder
            .send_eof()
            .map_err(AvError::ff("flush video encoder"))?;
        self.drain(octx)
    }

    fn drain(&mut self, octx: &mut format::context::Output) -> Result<(), AvError> {
        // libx264 on 5.1 leaves the duration 0: the last frame would lose
        // its length. Every frame lasts one tick of 1/fps.
        let times = (self.frame_time_base, self.stream_time_base, Some(1));
        write_ready_packets(&mut self.encoder, octx, self.stream_index, times, "video")
    }
}

/// Write every packet `encoder` has ready to stream `index` of `octx`, its
/// timestamps moved from the encoder's time base to the stream's (`times`:
/// from, to, and a duration to set when the encoder leaves it out).
fn write_ready_packets(
    encoder: &mut encoder::Encoder,
    octx: &mut format::context::Output,
    index: usize,
    times: (Rational, Rational, Option<i64>),
    kind: &str,
) -> Result<(), AvError> {
    let (from, to, duration) = times;
    let mut packet = Packet::empty();
    while encoder.receive_packet(&mut packet).is_ok() {
        if let Some(d) = duration {
            packet.set_duration(d);
        }
        packet.set_stream(index);
        packet.rescale_ts(from, to);
        packet
            .write_interleaved(octx)
            .map_err(AvError::ff(format!("write {kind} packet")))?;
    }
    Ok(())
}

/// A PCM (s16le, 48 kHz stereo) or AAC audio stream being written.
pub struct AudioWriter {
    encoder: encoder::Audio,
    stream_index: usize,
    stream_time_base: Rational,
    rate: u32,
    layout: ffmpeg::ChannelLayout,
    format: format::Sample,
    /// Samples sent so far (the next frame's pts).
    sent: i64,
}

impl AudioWriter {
    /// Add an audio stream encoded with `codec_name` (`pcm_s16le` or `aac`).
    pub fn add(
        octx: &mut format::context::Output,
        codec_name: &str,
        rate: u32,
        layout: ffmpeg::ChannelLayout,
        bit_rate: usize,
    ) -> Result<Self, AvError> {
        let codec = encoder::find_by_name(codec_name)
            .ok_or_else(|| AvError::msg(format!("FFmpeg has no {codec_name} encoder")))?;
        let format = match codec_name {
            "pcm_s16le" => format::Sample::I16(format::sample::Type::Packed),
            _ => format::Sample::F32(format::sample::Type::Planar),
        };
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let mut stream = octx
            .add_stream(codec)
            .map_err(AvError::ff("add audio stream"))?;
        let stream_index = stream.index();
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(AvError::ff("audio encoder"))?;
        let time_base = Rational::new(1, rate as i32);
        enc.set_rate(rate as i32);
        compat::set_encoder_layout(&mut enc, layout);
        enc.set_format(format);
        enc.set_time_base(time_base);
        if bit_rate > 0 {
            enc.set_bit_rate(bit_rate);
        }
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let enc = enc
            .open()
            .map_err(AvError::ff(format!("open {codec_name} encoder")))?;
        stream.set_parameters(&enc);
        stream.set_time_base(time_base);
        Ok(AudioWriter {
            encoder: enc,
            stream_index,
            stream_time_base: time_base,
            rate,
            layout,
            format,
            sent: 0,
        })
    }

    /// Samples per frame the encoder requires (0: any size).
    pub fn frame_size(&self) -> usize {
        self.encoder.frame_size() as usize
    }

    /// Call after `write_header`.
    pub fn header_written(&mut self, octx: &format::context::Output) {
        if let Some(st) = octx.stream(self.stream_index) {
            self.stream_time_base = st.time_base();
        }
    }

    /// Encode interleaved s16 samples (`channels` per sample frame). For AAC
    /// the caller passes exactly `frame_size()` samples except at the end.
    pub fn write_interleaved_i16(
        &mut self,
        octx: &mut format::context::Output,
        samples: &[i16],
    ) -> Result<(), AvError> {
        let channels = self.layout.channels() as usize;
        let count = samples.len() / channels;
        if count == 0 {
            return Ok(());
        }
        let mut frame = frame::Audio::new(self.format, count, self.layout);
        compat::set_frame_layout(&mut frame, self.layout);
        frame.set_rate(self.rate);
        match self.format {
            format::Sample::I16(format::sample::Type::Packed) => {
                let data = frame.plane_mut::<(i16, i16)>(0);
                if channels == 2 {
                    for (dst, src) in data.iter_mut().zip(samples.chunks_exact(2)) {
                        *dst = (src[0], src[1]);
                    }
                } else {
                    return Err(AvError::msg("PCM writer expects stereo"));
                }
            }
            _ => {
                for ch in 0..channels {
                    let plane = frame.plane_mut::<f32>(ch);
                    for (i, dst) in plane.iter_mut().enumerate().take(count) {
                        *dst = f32::from(samples[i * channels + ch]) / 32768.0;
                    }
                }
            }
        }
        self.send(octx, frame, count)
    }

    /// Encode interleaved float samples (`channels` per sample frame, in
    /// -1..=1), for an encoder that takes planar floats (AAC). The caller
    /// passes exactly `frame_size()` samples except at the end.
    pub fn write_interleaved_f32(
        &mut self,
        octx: &mut format::context::Output,
        samples: &[f32],
    ) -> Result<(), AvError> {
        if self.format != format::Sample::F32(format::sample::Type::Planar) {
            return Err(AvError::msg(
                "this audio encoder does not take float samples",
            ));
        }
        let channels = self.layout.channels() as usize;
        let count = samples.len() / channels;
        if count == 0 {
            return Ok(());
        }
        let mut frame = frame::Audio::new(self.format, count, self.layout);
        compat::set_frame_layout(&mut frame, self.layout);
        frame.set_rate(self.rate);
        for ch in 0..channels {
            let plane = frame.plane_mut::<f32>(ch);
            for (i, dst) in plane.iter_mut().enumerate().take(count) {
                *dst = samples[i * channels + ch];
            }
        }
        self.send(octx, frame, count)
    }

    fn send(
        &mut self,
        octx: &mut format::context::Output,
        mut frame: frame::Audio,
        count: usize,
    ) -> Result<(), AvError> {
        frame.set_pts(Some(self.sent));
        self.sent += count as i64;
        self.encoder
            .send_frame(&frame)
            .map_err(AvError::ff("encode audio frame"))?;
        self.drain(octx)
    }

    /// Flush the encoder.
    pub fn finish(&mut self, octx: &mut format::context::Output) -> Result<(), AvError> {
        self.encoder
            .send_eof()
            .map_err(AvError::ff("flush audio encoder"))?;
        self.drain(octx)
    }

    fn drain(&mut self, octx: &mut format::context::Output) -> Result<(), AvError> {
        let times = (
            Rational::new(1, self.rate as i32),
            self.stream_time_base,
            None,
        );
        write_ready_packets(&mut self.encoder, octx, self.stream_index, times, "audio")
    }
}
