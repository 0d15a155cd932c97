//! The clip writer: RGBA frames and mono float audio in, an MP4 with H.264
//! (libx264, yuv420p, BT.709) and AAC (48 kHz mono) out, all in-process on
//! the shared FFmpeg layer (`slidecast-av`), whose writers the media
//! composer uses too. Everything FFmpeg-specific of the crate lives here.

use std::path::{Path, PathBuf};

use slidecast_av::ffmpeg::util::channel_layout::ChannelLayout;
use slidecast_av::ffmpeg::{format, frame, software, Dictionary};
use slidecast_av::{compat, ffmpeg, init, AudioWriter, H264Writer, VideoSettings};

use crate::error::LocalError;
use crate::speech::Speech;

/// The clip's audio sample rate.
pub const AUDIO_RATE: u32 = compat::DECK_RATE;

/// AAC bit rate of the clip's mono speech.
const AUDIO_BIT_RATE: usize = 96_000;

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

/// Writes one clip. Frames and audio are pushed in step (one video frame,
/// then that frame's audio), so the muxer interleaves without buffering.
pub(crate) struct ClipWriter {
    path: PathBuf,
    octx: format::context::Output,
    video: H264Writer,
    audio: AudioWriter,
    scaler: software::scaling::Context,
    rgba: frame::Video,
    yuv: frame::Video,
    frames_written: i64,
    audio_frame_size: usize,
    pending_audio: Vec<f32>,
}

impl ClipWriter {
    /// Create `path` (an MP4, whatever its extension) for `settings`.
    pub(crate) fn create(path: &Path, settings: &VideoSettings) -> Result<ClipWriter, LocalError> {
        init();
        let err = |e: slidecast_av::AvError| LocalError::encode(path, e);
        let fferr = |what: &str, e: ffmpeg::Error| LocalError::encode(path, format!("{what}: {e}"));
        let mut octx =
            format::output_as(&path, "mp4").map_err(|e| fferr("opening the output", e))?;
        let video = H264Writer::add(&mut octx, settings).map_err(err)?;
        let audio = AudioWriter::add(
            &mut octx,
            "aac",
            AUDIO_RATE,
            ChannelLayout::MONO,
            AUDIO_BIT_RATE,
        )
        .map_err(err)?;
        let audio_frame_size = audio.frame_size().max(1);

        let mut header_options = Dictionary::new();
        header_options.set("movflags", "+faststart");
        octx.write_header_with(header_options)
            .map_err(|e| fferr("writing the MP4 header", e))?;
        let (mut video, mut audio) = (video, audio);
        video.header_written(&octx);
        audio.header_written(&octx);

        let mut scaler = software::scaling::Context::get(
            format::Pixel::RGBA,
            settings.width,
            settings.height,
            format::Pixel::YUV420P,
            settings.width,
            settings.height,
            software::scaling::Flags::BILINEAR,
        )
        .map_err(|e| fferr("colour conversion", e))?;
        // Full-range RGB in, limited-range BT.709 YUV out (swscale would
        // use BT.601 otherwise).
        compat::set_scaler_colorspace(&mut scaler, true, true, true, false);
        Ok(ClipWriter {
            path: path.to_path_buf(),
            octx,
            video,
            audio,
            scaler,
            rgba: frame::Video::new(format::Pixel::RGBA, settings.width, settings.height),
            yuv: frame::Video::new(format::Pixel::YUV420P, settings.width, settings.height),
            frames_written: 0,
            audio_frame_size,
            pending_audio: Vec::with_capacity(8192),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> LocalError {
        LocalError::encode(&self.path, e)
    }

    /// Encode one frame of opaque RGBA pixels, rows packed `width * 4` bytes.
    pub(crate) fn write_video(&mut self, rgba: &[u8]) -> Result<(), LocalError> {
        let width = self.rgba.width() as usize * 4;
        let stride = self.rgba.stride(0);
        let plane = self.rgba.data_mut(0);
        for (row, src) in rgba.chunks_exact(width).enumerate() {
            plane[row * stride..row * stride + width].copy_from_slice(src);
        }
        if let Err(e) = self.scaler.run(&self.rgba, &mut self.yuv) {
            return Err(self.error(format!("colour conversion: {e}")));
        }
        let index = self.frames_written;
        self.frames_written += 1;
        if let Err(e) = self.video.write(&mut self.octx, &mut self.yuv, index) {
            return Err(self.error(e));
        }
        Ok(())
    }

    /// Queue audio; whole encoder frames are encoded as they fill.
    pub(crate) fn write_audio(&mut self, samples: &[f32]) -> Result<(), LocalError> {
        self.pending_audio.extend_from_slice(samples);
        let whole = self.pending_audio.len() / self.audio_frame_size * self.audio_frame_size;
        for start in (0..whole).step_by(self.audio_frame_size) {
            let chunk = &self.pending_audio[start..start + self.audio_frame_size];
            if let Err(e) = self.audio.write_interleaved_f32(&mut self.octx, chunk) {
                return Err(self.error(e));
            }
        }
        self.pending_audio.drain(..whole);
        Ok(())
    }

    /// Flush both encoders and write the trailer.
    pub(crate) fn finish(mut self) -> Result<(), LocalError> {
        // The last AAC frame may be short; every other one is exactly
        // `frame_size` samples.
        let rest = std::mem::take(&mut self.pending_audio);
        let flushed = self
            .audio
            .write_interleaved_f32(&mut self.octx, &rest)
            .and_then(|()| self.audio.finish(&mut self.octx))
            .and_then(|()| self.video.finish(&mut self.octx));
        if let Err(e) = flushed {
            return Err(self.error(e));
        }
        self.octx
            .write_trailer()
            .map_err(|e| self.error(format!("writing the MP4 trailer: {e}")))
    }
}
