//! The clip writer: RGBA frames and mono float audio in, an MP4 with H.264
//! (libx264, yuv420p, BT.709) and AAC (48 kHz) out, all in-process with
//! ffmpeg-next. Everything FFmpeg-specific of the crate lives here.

use std::path::{Path, PathBuf};

use ffmpeg::util::channel_layout::ChannelLayout;
use ffmpeg::{codec, encoder, format, frame, software, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::LocalError;
use crate::speech::Speech;

/// The clip's audio sample rate.
pub const AUDIO_RATE: u32 = 48_000;

/// Initialise FFmpeg once and keep its logging to errors.
pub(crate) fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // init() only fails on a broken FFmpeg build; the first encoder
        // lookup then fails with a clear error anyway.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// Resample espeak-ng's speech to [`AUDIO_RATE`] mono floats.
pub fn resample_speech(speech: &Speech) -> Result<Vec<f32>, LocalError> {
    init();
    let err = |e: ffmpeg::Error| LocalError::encode("speech resampling", e);
    let mut resampler = software::resampling::Context::get(
        format::Sample::I16(format::sample::Type::Packed),
        ChannelLayout::MONO,
        speech.sample_rate,
        format::Sample::F32(format::sample::Type::Planar),
        ChannelLayout::MONO,
        AUDIO_RATE,
    )
    .map_err(err)?;
    let mut out = Vec::with_capacity(
        (speech.samples.len() as u64 * AUDIO_RATE as u64 / speech.sample_rate as u64) as usize
            + 4096,
    );
    // Chunks keep the frames small; the resampler carries its state across.
    for chunk in speech.samples.chunks(8192) {
        let mut input = frame::Audio::new(
            format::Sample::I16(format::sample::Type::Packed),
            chunk.len(),
            ChannelLayout::MONO,
        );
        input.set_rate(speech.sample_rate);
        input.plane_mut::<i16>(0).copy_from_slice(chunk);
        let capacity = chunk.len() * AUDIO_RATE as usize / speech.sample_rate as usize + 256;
        let mut output = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            capacity,
            ChannelLayout::MONO,
        );
        resampler.run(&input, &mut output).map_err(err)?;
        out.extend_from_slice(&output.plane::<f32>(0)[..output.samples()]);
    }
    loop {
        let mut output = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            4096,
            ChannelLayout::MONO,
        );
        resampler.flush(&mut output).map_err(err)?;
        if output.samples() == 0 {
            break;
        }
        out.extend_from_slice(&output.plane::<f32>(0)[..output.samples()]);
    }
    Ok(out)
}

/// Video encoder settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// x264 preset (`fast` by default).
    pub preset: String,
    /// x264 constant rate factor.
    pub crf: u8,
}

/// Writes one clip. Frames and audio are pushed in step (one video frame,
/// then that frame's audio), so the muxer interleaves without buffering.
pub(crate) struct ClipWriter {
    path: PathBuf,
    octx: format::context::Output,
    video: encoder::Video,
    audio: encoder::Audio,
    video_index: usize,
    audio_index: usize,
    video_time_base: Rational,
    audio_time_base: Rational,
    scaler: software::scaling::Context,
    rgba: frame::Video,
    yuv: frame::Video,
    frames_written: i64,
    audio_frame_size: usize,
    pending_audio: Vec<f32>,
    audio_pts: i64,
}

impl ClipWriter {
    /// Create `path` (an MP4, whatever its extension) for `settings`.
    pub(crate) fn create(path: &Path, settings: &VideoSettings) -> Result<ClipWriter, LocalError> {
        init();
        let err = |m: String| LocalError::encode(path, m);
        let fferr = |what: &str, e: ffmpeg::Error| LocalError::encode(path, format!("{what}: {e}"));
        let mut octx =
            format::output_as(&path, "mp4").map_err(|e| fferr("opening the output", e))?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);

        // Video: libx264, yuv420p, tagged BT.709 limited range.
        let x264 = encoder::find_by_name("libx264").ok_or_else(|| {
            err("FFmpeg has no libx264 encoder (install libavcodec with x264)".into())
        })?;
        let video_time_base = Rational::new(1, settings.fps as i32);
        let mut video = codec::Context::new_with_codec(x264)
            .encoder()
            .video()
            .map_err(|e| fferr("video encoder", e))?;
        video.set_width(settings.width);
        video.set_height(settings.height);
        video.set_format(format::Pixel::YUV420P);
        video.set_time_base(video_time_base);
        video.set_frame_rate(Some(Rational::new(settings.fps as i32, 1)));
        video.set_colorspace(ffmpeg::color::Space::BT709);
        video.set_color_range(ffmpeg::color::Range::MPEG);
        video.set_color_primaries(ffmpeg::color::Primaries::BT709);
        video.set_color_transfer_characteristic(ffmpeg::color::TransferCharacteristic::BT709);
        if global_header {
            video.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        options.set("preset", &settings.preset);
        options.set("crf", &settings.crf.to_string());
        let video = video
            .open_with(options)
            .map_err(|e| fferr("opening libx264", e))?;
        let video_index = {
            let mut stream = octx
                .add_stream(x264)
                .map_err(|e| fferr("video stream", e))?;
            stream.set_parameters(&video);
            stream.set_time_base(video_time_base);
            stream.set_rate(Rational::new(settings.fps as i32, 1));
            stream.set_avg_frame_rate(Rational::new(settings.fps as i32, 1));
            stream.index()
        };

        // Audio: FFmpeg's native AAC, mono, 48 kHz.
        let aac =
            encoder::find(codec::Id::AAC).ok_or_else(|| err("FFmpeg has no AAC encoder".into()))?;
        let audio_time_base = Rational::new(1, AUDIO_RATE as i32);
        let mut audio = codec::Context::new_with_codec(aac)
            .encoder()
            .audio()
            .map_err(|e| fferr("audio encoder", e))?;
        audio.set_rate(AUDIO_RATE as i32);
        audio.set_format(format::Sample::F32(format::sample::Type::Planar));
        audio.set_channel_layout(ChannelLayout::MONO);
        audio.set_bit_rate(96_000);
        audio.set_time_base(audio_time_base);
        if global_header {
            audio.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let audio = audio
            .open()
            .map_err(|e| fferr("opening the AAC encoder", e))?;
        let audio_frame_size = (audio.frame_size() as usize).max(1);
        let audio_index = {
            let mut stream = octx.add_stream(aac).map_err(|e| fferr("audio stream", e))?;
            stream.set_parameters(&audio);
            stream.set_time_base(audio_time_base);
            stream.index()
        };

        let mut header_options = Dictionary::new();
        header_options.set("movflags", "+faststart");
        octx.write_header_with(header_options)
            .map_err(|e| fferr("writing the MP4 header", e))?;

        let scaler = bt709_scaler(settings.width, settings.height)
            .map_err(|e| fferr("colour conversion", e))?;
        Ok(ClipWriter {
            path: path.to_path_buf(),
            octx,
            video,
            audio,
            video_index,
            audio_index,
            video_time_base,
            audio_time_base,
            scaler,
            rgba: frame::Video::new(format::Pixel::RGBA, settings.width, settings.height),
            yuv: frame::Video::new(format::Pixel::YUV420P, settings.width, settings.height),
            frames_written: 0,
            audio_frame_size,
            pending_audio: Vec::with_capacity(8192),
            audio_pts: 0,
        })
    }

    fn fferr(&self, what: &str, e: ffmpeg::Error) -> LocalError {
        LocalError::encode(&self.path, format!("{what}: {e}"))
    }

    /// Encode one frame of opaque RGBA pixels, rows packed `width * 4` bytes.
    pub(crate) fn write_video(&mut self, rgba: &[u8]) -> Result<(), LocalError> {
        let width = self.rgba.width() as usize * 4;
        let stride = self.rgba.stride(0);
        let plane = self.rgba.data_mut(0);
        for (row, src) in rgba.chunks_exact(width).enumerate() {
            plane[row * stride..row * stride + width].copy_from_slice(src);
        }
        self.scaler
            .run(&self.rgba, &mut self.yuv)
            .map_err(|e| self.fferr("colour conversion", e))?;
        self.yuv.set_pts(Some(self.frames_written));
        self.frames_written += 1;
        self.video
            .send_frame(&self.yuv)
            .map_err(|e| self.fferr("libx264", e))?;
        self.drain_video()
    }

    /// Queue audio; whole encoder frames are encoded as they fill.
    pub(crate) fn write_audio(&mut self, samples: &[f32]) -> Result<(), LocalError> {
        self.pending_audio.extend_from_slice(samples);
        let mut start = 0;
        while self.pending_audio.len() - start >= self.audio_frame_size {
            let end = start + self.audio_frame_size;
            let chunk: Vec<f32> = self.pending_audio[start..end].to_vec();
            self.encode_audio_frame(&chunk)?;
            start = end;
        }
        self.pending_audio.drain(..start);
        Ok(())
    }

    fn encode_audio_frame(&mut self, samples: &[f32]) -> Result<(), LocalError> {
        let mut frame = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            samples.len(),
            ChannelLayout::MONO,
        );
        frame.set_rate(AUDIO_RATE);
        frame.plane_mut::<f32>(0).copy_from_slice(samples);
        frame.set_pts(Some(self.audio_pts));
        self.audio_pts += samples.len() as i64;
        self.audio
            .send_frame(&frame)
            .map_err(|e| self.fferr("AAC", e))?;
        self.drain_audio()
    }

    fn drain_video(&mut self) -> Result<(), LocalError> {
        let stream_tb = self.stream_time_base(self.video_index);
        let mut packet = Packet::empty();
        while self.video.receive_packet(&mut packet).is_ok() {
            // libx264 on FFmpeg 5.1 leaves the duration 0; without it the
            // last frame loses its length in the MP4.
            packet.set_duration(1);
            packet.set_stream(self.video_index);
            packet.rescale_ts(self.video_time_base, stream_tb);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|e| LocalError::encode(&self.path, format!("writing video: {e}")))?;
        }
        Ok(())
    }

    fn drain_audio(&mut self) -> Result<(), LocalError> {
        let stream_tb = self.stream_time_base(self.audio_index);
        let mut packet = Packet::empty();
        while self.audio.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.audio_index);
            packet.rescale_ts(self.audio_time_base, stream_tb);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|e| LocalError::encode(&self.path, format!("writing audio: {e}")))?;
        }
        Ok(())
    }

    /// The muxer may change a stream's time base in `write_header`.
    fn stream_time_base(&self, index: usize) -> Rational {
        self.octx
            .stream(index)
            .map(|s| s.time_base())
            .unwrap_or(Rational::new(1, 90_000))
    }

    /// Flush both encoders and write the trailer.
    pub(crate) fn finish(mut self) -> Result<(), LocalError> {
        if !self.pending_audio.is_empty() {
            // The last AAC frame may be short; every other one is exactly
            // `frame_size` samples.
            let rest = std::mem::take(&mut self.pending_audio);
            self.encode_audio_frame(&rest)?;
        }
        self.audio
            .send_eof()
            .map_err(|e| self.fferr("AAC flush", e))?;
        self.drain_audio()?;
        self.video
            .send_eof()
            .map_err(|e| self.fferr("libx264 flush", e))?;
        self.drain_video()?;
        self.octx
            .write_trailer()
            .map_err(|e| self.fferr("writing the MP4 trailer", e))
    }
}

/// RGB -> YUV in BT.709 (swscale defaults to BT.601): full-range RGB in,
/// limited-range YUV out.
fn bt709_scaler(width: u32, height: u32) -> Result<software::scaling::Context, ffmpeg::Error> {
    let mut scaler = software::scaling::Context::get(
        format::Pixel::RGBA,
        width,
        height,
        format::Pixel::YUV420P,
        width,
        height,
        software::scaling::Flags::BILINEAR,
    )?;
    // SAFETY: the context is valid for its lifetime; the coefficient table
    // is a static owned by swscale.
    unsafe {
        let coefficients = ffmpeg::ffi::sws_getCoefficients(ffmpeg::ffi::SWS_CS_ITU709);
        ffmpeg::ffi::sws_setColorspaceDetails(
            scaler.as_mut_ptr(),
            coefficients,
            1,
            coefficients,
            0,
            0,
            1 << 16,
            1 << 16,
        );
    }
    Ok(scaler)
}
