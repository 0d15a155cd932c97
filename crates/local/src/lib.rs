//! `slidecast-local`: the offline default presenter. No vendor account, no
//! network: it makes a talking-presenter clip on the user's own machine, so
//! a deck's timing and narration can be previewed for free.
//!
//! A clip is made in three steps:
//! 1. [`speech`]: espeak-ng speaks the slide's script (voice and rate from
//!    the deck's `voice`/`language` fields, see the mapping table there).
//! 2. [`animate`] and [`avatar`]: a presenter bust drawn with antialiased
//!    vectors (tiny-skia) over the deck's flat avatar background; the mouth
//!    follows the speech's loudness, the eyes blink at seeded, natural
//!    intervals, the head sways and the shoulders breathe a little.
//! 3. `encode`: H.264 (libx264, yuv420p) and AAC 48 kHz in an MP4, written
//!    in-process with ffmpeg-next to a temporary file that is renamed when
//!    complete. Audio and video last exactly the same whole number of frames.
//!
//! [`LocalProvider`] puts this behind [`slidecast_core::AvatarProvider`], so
//! the scheduler drives it exactly like a vendor: `initiate` returns at once,
//! clips render in the background bounded by the CPU cores, and `status`,
//! `fetch` and `cancel` behave the same. [`render_clip`] makes one clip
//! directly, for tools and tests.

#![warn(missing_docs)]

pub mod animate;
pub mod avatar;
mod clip;
mod encode;
mod error;
mod provider;
pub mod speech;

pub use avatar::{HairStyle, Look, Pose};
pub use clip::{render_clip, ClipStats, RenderOptions};
pub use encode::AUDIO_RATE;
pub use error::LocalError;
pub use provider::{LocalConfig, LocalProvider};
pub use speech::{espeak_voice, voice_for_request, EspeakConfig};
