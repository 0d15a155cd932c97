//! Everything that depends on the FFmpeg major version (built against 5.1).
//!
//! FFmpeg 5.1 still uses the legacy `uint64_t` channel-layout masks; 7.0
//! replaced them with `AVChannelLayout`, and ffmpeg-next's types change with
//! it. All channel-layout, resampler and raw-FFI code lives here so a port to
//! a newer FFmpeg touches this module only.

use std::ptr;

use ffmpeg::ffi;
use ffmpeg::software::resampling;
use ffmpeg::util::channel_layout::ChannelLayout;
use ffmpeg::{format, frame};
use ffmpeg_next as ffmpeg;

/// The deck's audio format: 48 kHz, stereo, interleaved signed 16-bit.
pub const DECK_RATE: u32 = 48_000;
/// Channels of the deck's audio.
pub const DECK_CHANNELS: usize = 2;

/// The stereo layout.
pub fn stereo() -> ChannelLayout {
    ChannelLayout::STEREO
}

/// The mono layout.
pub fn mono() -> ChannelLayout {
    ChannelLayout::MONO
}

/// The layout of a decoded frame; a default one for its channel count when
/// the stream leaves it unspecified (common in raw/PCM streams).
fn frame_layout(frame: &frame::Audio) -> ChannelLayout {
    let layout = frame.channel_layout();
    if layout.is_empty() {
        ChannelLayout::default(i32::from(frame.channels()))
    } else {
        layout
    }
}

/// Set the layout (and the channel count that 5.1 keeps beside it) of a frame
/// we build ourselves.
pub fn set_frame_layout(frame: &mut frame::Audio, layout: ChannelLayout) {
    frame.set_channel_layout(layout);
    frame.set_channels(layout.channels() as u16);
}

/// Set an audio encoder's layout and channel count.
pub fn set_encoder_layout(encoder: &mut ffmpeg::encoder::audio::Audio, layout: ChannelLayout) {
    encoder.set_channel_layout(layout);
    encoder.set_channels(layout.channels());
}

/// Converts decoded audio of any format to the deck's format (48 kHz stereo
/// s16 interleaved), appending to a sample buffer.
pub struct DeckResampler {
    swr: resampling::Context,
    input: (format::Sample, ChannelLayout, u32),
}

impl DeckResampler {
    /// A resampler for frames shaped like `frame`.
    pub fn for_frame(frame: &frame::Audio) -> Result<Self, ffmpeg::Error> {
        let input = (frame.format(), frame_layout(frame), frame.rate());
        let swr = resampling::Context::get(
            input.0,
            input.1,
            input.2,
            format::Sample::I16(format::sample::Type::Packed),
            stereo(),
            DECK_RATE,
        )?;
        Ok(DeckResampler { swr, input })
    }

    /// True if `frame` has the shape this resampler was made for (a stream
    /// may change format mid-way; then a new resampler is needed).
    pub fn accepts(&self, frame: &frame::Audio) -> bool {
        (frame.format(), frame_layout(frame), frame.rate()) == self.input
    }

    /// Convert `frame` (or flush the resampler's delay when `None`),
    /// appending interleaved stereo samples to `out`.
    pub fn convert(
        &mut self,
        frame: Option<&frame::Audio>,
        out: &mut Vec<i16>,
    ) -> Result<(), ffmpeg::Error> {
        // SAFETY: swr was initialised for exactly this input shape (checked by
        // `accepts`), the output buffer is reserved for the count swr reports,
        // and the frame's data pointers stay valid for the call.
        unsafe {
            let ctx = self.swr.as_mut_ptr();
            let in_samples = frame.map_or(0, |f| f.samples() as i32);
            let capacity = ffi::swr_get_out_samples(ctx, in_samples).max(0) as usize + 32;
            out.reserve(capacity * DECK_CHANNELS);
            let dst = out.as_mut_ptr().add(out.len()) as *mut u8;
            let mut dst_planes = [dst];
            let (src, count) = match frame {
                Some(f) => ((*f.as_ptr()).extended_data as *mut *const u8, in_samples),
                None => (ptr::null_mut(), 0),
            };
            let n = ffi::swr_convert(ctx, dst_planes.as_mut_ptr(), capacity as i32, src, count);
            if n < 0 {
                return Err(ffmpeg::Error::from(n));
            }
            out.set_len(out.len() + n as usize * DECK_CHANNELS);
        }
        Ok(())
    }
}

/// Tell a swscale context which colour space it reads and writes: input
/// BT.709 (`input_709`) or BT.601, full range when `input_full_range`; the
/// same for the output. Without this swscale converts RGB to YUV with
/// BT.601 coefficients.
pub fn set_scaler_colorspace(
    scaler: &mut ffmpeg::software::scaling::Context,
    input_709: bool,
    input_full_range: bool,
    output_709: bool,
    output_full_range: bool,
) {
    let table = |is_709: bool| {
        let cs = if is_709 {
            ffi::SWS_CS_ITU709
        } else {
            ffi::SWS_CS_ITU601
        };
        // SAFETY: sws_getCoefficients returns a pointer to a static table.
        unsafe { ffi::sws_getCoefficients(cs) }
    };
    // SAFETY: the context pointer is valid for the scaler's lifetime; the
    // tables are static. 0 brightness, 1.0 (1<<16) contrast and saturation.
    unsafe {
        ffi::sws_setColorspaceDetails(
            scaler.as_mut_ptr(),
            table(input_709),
            i32::from(input_full_range),
            table(output_709),
            i32::from(output_full_range),
            0,
            1 << 16,
            1 << 16,
        );
    }
}

/// Clear a stream's codec tag so a stream copied from one container is
/// accepted by another (NUT/Matroska tags mean nothing to MP4).
pub fn clear_codec_tag(stream: &mut ffmpeg::format::stream::StreamMut) {
    // SAFETY: the parameters pointer belongs to the live stream.
    unsafe {
        (*stream.parameters().as_mut_ptr()).codec_tag = 0;
    }
}

/// The codec extradata of a stream (H.264 SPS/PPS), to check that segments
/// can be joined by stream copy.
pub fn extradata(stream: &ffmpeg::format::stream::Stream) -> Vec<u8> {
    // SAFETY: extradata/extradata_size describe one allocation owned by the
    // stream's parameters, which outlive this call.
    unsafe {
        let par = stream.parameters().as_ptr();
        if (*par).extradata.is_null() || (*par).extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts((*par).extradata, (*par).extradata_size as usize).to_vec()
    }
}

/// Make a frame's buffers exclusively ours before writing into them again:
/// an encoder may still hold a reference to the previous contents.
pub fn make_writable(frame: &mut frame::Video) -> Result<(), ffmpeg::Error> {
    // SAFETY: the frame is a valid, allocated AVFrame.
    let ret = unsafe { ffi::av_frame_make_writable(frame.as_mut_ptr()) };
    if ret < 0 {
        Err(ffmpeg::Error::from(ret))
    } else {
        Ok(())
    }
}

/// The "alpha_mode" tag VP8/VP9 WebM streams carry when they have a
/// transparency channel, which only the libvpx decoders decode.
pub fn has_alpha_tag(stream: &ffmpeg::format::stream::Stream) -> bool {
    stream.metadata().get("alpha_mode") == Some("1")
}

/// FFmpeg's internal time unit (per second), used by container durations.
pub const TIME_BASE: i32 = ffi::AV_TIME_BASE;

/// Width and height of a video stream as its codec parameters declare them.
pub fn video_size(stream: &ffmpeg::format::stream::Stream) -> (u32, u32) {
    // SAFETY: reading two ints of the stream's live codec parameters.
    unsafe {
        let par = stream.parameters().as_ptr();
        ((*par).width.max(0) as u32, (*par).height.max(0) as u32)
    }
}

/// Make a freshly added output stream a `mov_text` (3GPP timed text)
/// subtitle stream whose sample description is `sample_entry` (the `tx3g`
/// box body after its header). ffmpeg-next has no setter for a stream's
/// codec type, id or extradata, so this writes the codec parameters
/// directly.
pub fn set_mov_text_parameters(
    stream: &mut ffmpeg::format::stream::StreamMut,
    sample_entry: &[u8],
) -> Result<(), ffmpeg::Error> {
    let size = i32::try_from(sample_entry.len()).map_err(|_| ffmpeg::Error::InvalidData)?;
    // SAFETY: the parameters belong to the live output stream. The
    // extradata is allocated with av_mallocz (zeroed padding included, as
    // FFmpeg requires) and from here on owned by the parameters, which free
    // it; any earlier extradata is freed first so it does not leak.
    unsafe {
        let par = stream.parameters().as_mut_ptr();
        (*par).codec_type = ffi::AVMediaType::AVMEDIA_TYPE_SUBTITLE;
        (*par).codec_id = ffi::AVCodecID::AV_CODEC_ID_MOV_TEXT;
        (*par).codec_tag = 0;
        let pad = ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
        let data = ffi::av_mallocz(sample_entry.len() + pad) as *mut u8;
        if data.is_null() {
            return Err(ffmpeg::Error::Other {
                errno: ffmpeg::util::error::ENOMEM,
            });
        }
        ptr::copy_nonoverlapping(sample_entry.as_ptr(), data, sample_entry.len());
        ffi::av_freep(&mut (*par).extradata as *mut *mut u8 as *mut std::ffi::c_void);
        (*par).extradata = data;
        (*par).extradata_size = size;
    }
    Ok(())
}

/// Route FFmpeg's own log lines (`[png @ 0x...] Invalid PNG signature`)
/// through `tracing` (target `ffmpeg`) instead of raw writes to stderr.
/// slidecast reports every failure itself, naming the file and slide, so
/// FFmpeg's lines are diagnostics: its errors at `debug` (`-vv`), its
/// warnings at `trace`, fatal ones at `warn`.
///
/// The callback receives a C `va_list`, whose Rust type is the
/// platform's: this is built for x86_64 (elsewhere FFmpeg keeps its own
/// logging, quieted to errors).
pub fn log_through_tracing() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the callback has exactly the signature av_log_set_callback
    // takes on this platform; it only formats into a stack buffer with
    // FFmpeg's own formatter and never keeps the pointers it is given.
    unsafe {
        ffi::av_log_set_callback(Some(log_line));
    }
}

#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn log_line(
    avcl: *mut std::ffi::c_void,
    level: std::ffi::c_int,
    fmt: *const std::ffi::c_char,
    args: *mut ffi::__va_list_tag,
) {
    if level > ffi::AV_LOG_WARNING {
        return;
    }
    let mut line = [0 as std::ffi::c_char; 1024];
    let mut print_prefix: std::ffi::c_int = 1;
    // SAFETY: FFmpeg hands us a valid format and argument list; the buffer
    // and its length match, and the formatter NUL-terminates within it.
    let text = unsafe {
        ffi::av_log_format_line2(
            avcl,
            level,
            fmt,
            args,
            line.as_mut_ptr(),
            line.len() as std::ffi::c_int,
            &mut print_prefix,
        );
        std::ffi::CStr::from_ptr(line.as_ptr())
    };
    let text = text.to_string_lossy();
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    if level <= ffi::AV_LOG_FATAL {
        tracing::warn!(target: "ffmpeg", "{text}");
    } else if level <= ffi::AV_LOG_ERROR {
        tracing::debug!(target: "ffmpeg", "{text}");
    } else {
        tracing::trace!(target: "ffmpeg", "{text}");
    }
}

/// Point `view` at the `(x, y, width, height)` part of `frame`, a YUV 4:2:0
/// frame (with or without alpha), borrowing its planes: no pixel is copied
/// and nothing is allocated. `x` and `y` must be even. The view is only
/// valid while `frame` holds the same picture; use it at once (to scale
/// it) and set it again for the next frame.
pub fn crop_view(
    frame: &frame::Video,
    view: &mut frame::Video,
    (x, y, width, height): (u32, u32, u32, u32),
) -> Result<(), ffmpeg::Error> {
    use ffmpeg::format::Pixel;
    let planes = match frame.format() {
        Pixel::YUV420P => 3,
        Pixel::YUVA420P => 4,
        _ => return Err(ffmpeg::Error::PatchWelcome),
    };
    if x % 2 != 0 || y % 2 != 0 || x + width > frame.width() || y + height > frame.height() {
        return Err(ffmpeg::Error::InvalidData);
    }
    // SAFETY: `view` is an AVFrame that never owns buffers here (its `buf`
    // stays empty, so freeing it frees no pixels); its data pointers are
    // set inside `frame`'s planes at offsets checked against the frame's
    // size above, with `frame`'s line sizes.
    unsafe {
        let src = frame.as_ptr();
        let dst = view.as_mut_ptr();
        if !(*dst).buf[0].is_null() {
            ffi::av_frame_unref(dst);
        }
        for plane in 0..planes {
            let (px, py) = if plane == 1 || plane == 2 {
                (x / 2, y / 2)
            } else {
                (x, y)
            };
            let stride = (*src).linesize[plane];
            let offset = py as isize * stride as isize + px as isize;
            (*dst).data[plane] = (*src).data[plane].offset(offset);
            (*dst).linesize[plane] = stride;
        }
        (*dst).width = width as i32;
        (*dst).height = height as i32;
        (*dst).format = (*src).format;
        (*dst).color_range = (*src).color_range;
        (*dst).colorspace = (*src).colorspace;
    }
    Ok(())
}
