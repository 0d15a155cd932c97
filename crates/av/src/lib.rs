//! `slidecast-av`: the small FFmpeg layer that slidecast's media composer
//! and its offline presenter share, so neither repeats the other and
//! neither depends on the other.
//!
//! - [`init`]: FFmpeg set up once per process (log level, allocator tuning).
//! - [`compat`]: everything that depends on the FFmpeg major version or
//!   needs raw FFI (channel layouts, resampling, colour-space set-up,
//!   codec parameters), each unsafe block with its SAFETY note.
//! - [`encode`]: the one place encoder settings are chosen: [`H264Writer`]
//!   (x264 with BT.709 tags, a fixed GOP, durations on every packet) and
//!   [`AudioWriter`] (AAC or PCM, fed in whole frames).
//! - [`read_packet`]: demuxing without the packet leak of a reused packet.
//!
//! Built against FFmpeg 5.1 (Debian 12) through `ffmpeg-next` 9.

pub mod compat;
pub mod encode;
pub mod limit;

use std::sync::Once;

pub use encode::{AudioWriter, H264Writer, VideoSettings};
pub use ffmpeg_next as ffmpeg;
pub use limit::Limiter;

/// Why an FFmpeg step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AvError {
    /// An FFmpeg call failed; `context` says which step.
    #[error("{context}: {source}")]
    Ffmpeg {
        /// The step (`open the libx264 encoder`, `write video packet`, ...).
        context: String,
        /// FFmpeg's error.
        #[source]
        source: ffmpeg::Error,
    },
    /// Anything else (a missing codec, an unsupported layout).
    #[error("{0}")]
    Other(String),
}

impl AvError {
    /// An error with no FFmpeg cause.
    pub fn msg(message: impl Into<String>) -> Self {
        AvError::Other(message.into())
    }

    /// A `map_err` adaptor naming the step that failed.
    pub fn ff(context: impl Into<String>) -> impl FnOnce(ffmpeg::Error) -> AvError {
        let context = context.into();
        move |source| AvError::Ffmpeg { context, source }
    }
}

/// Initialise FFmpeg once per process: its log lines go through `tracing`
/// (see [`compat::log_through_tracing`]), and the allocator is tuned for
/// frame-sized buffers.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // init() only fails on a broken FFmpeg build; the first codec
        // lookup then fails with a clear error anyway.
        let _ = ffmpeg::init();
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
        compat::log_through_tracing();
        tune_allocator();
    });
}

/// Serve frame-sized allocations (128 KiB and up) from their own mappings,
/// returned to the OS when freed. glibc otherwise raises this threshold
/// after the first large free and carves later frames out of its arenas,
/// where concurrent encoders fragment them: peak RSS then creeps up with
/// deck length. With it, peak RSS is flat from 10 to 50 slides. Process-wide
/// and idempotent; glibc only.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Hand memory freed by finished encoders back to the OS. x264 and the
/// decoders allocate and free many frame-sized buffers on short-lived
/// threads; glibc keeps them in per-thread arenas, so without this the
/// resident size creeps up with the work done instead of staying flat.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Read the next packet into `packet`. `av_read_frame` overwrites the
/// packet without releasing what it held, so the previous packet is dropped
/// (unreferenced) first; reusing a packet without this leaks every packet's
/// data.
pub fn read_packet(
    ictx: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
) -> Result<(), ffmpeg::Error> {
    *packet = ffmpeg::Packet::empty();
    packet.read(ictx)
}
