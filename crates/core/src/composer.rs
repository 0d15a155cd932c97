//! The media side: what a composer must do for the scheduler.
//!
//! Work is split so the scheduler can overlap it with vendor rendering:
//! [`Composer::prepare`] does everything that does not need the avatar clip
//! (decode and scale the background), [`Composer::compose`] turns a prepared
//! slide and its clip into a [`SlideSegment`], and [`Composer::finish`] joins
//! the segments in deck order into the output file.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use crate::deck::Slide;

/// A slide after [`Composer::prepare`]: an opaque payload owned by the
/// composer that made it (for example a path to a pre-scaled background).
pub struct PreparedSlide {
    /// 1-based slide number.
    pub slide: usize,
    payload: Box<dyn Any + Send + Sync>,
}

impl PreparedSlide {
    /// Wrap a composer-private payload for `slide`.
    pub fn new<T: Any + Send + Sync>(slide: usize, payload: T) -> Self {
        PreparedSlide {
            slide,
            payload: Box::new(payload),
        }
    }

    /// The payload, if it is a `T` (a composer only reads its own).
    pub fn payload<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref()
    }

    /// Take the payload out, if it is a `T`.
    pub fn into_payload<T: Any>(self) -> Option<T> {
        self.payload.downcast().ok().map(|b| *b)
    }
}

impl fmt::Debug for PreparedSlide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedSlide")
            .field("slide", &self.slide)
            .finish_non_exhaustive()
    }
}

/// One composed slide, ready to be joined.
#[derive(Debug, Clone, PartialEq)]
pub struct SlideSegment {
    /// 1-based slide number.
    pub slide: usize,
    /// The segment file (format private to the composer).
    pub path: PathBuf,
    /// Exact length of the segment.
    pub duration: Duration,
    /// Where each of the slide's clips begins in the segment, in speaking
    /// order (one entry per clip: several when the narration is split into
    /// [parts](crate::Slide::parts); none for a slide-only slide).
    pub clip_starts: Vec<Duration>,
    /// Where the narration is audible, from the segment's start: the
    /// stretches of speech between pauses, in order (empty when the
    /// segment is silent or the composer does not measure it). Captions
    /// start their cues where these start.
    pub speech: Vec<std::ops::Range<Duration>>,
}

/// A clip that passed [`Composer::verify_clip`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    /// Length of the clip (its longest stream).
    pub duration: Duration,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// True when the clip has an audio stream (the narration).
    pub has_audio: bool,
}

/// One subtitle: `text` is shown from `start` to `end` of the video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleCue {
    /// When the text appears, from the start of the video.
    pub start: Duration,
    /// When it goes (a cue ending before it starts shows for no time).
    pub end: Duration,
    /// The text, UTF-8, at most two lines.
    pub text: String,
}

/// A timed text track to carry inside the finished video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleTrack {
    /// ISO 639-2 code of the language (`eng`, `deu`, ...; `und` unknown).
    pub language: String,
    /// The cues, in any order.
    pub cues: Vec<SubtitleCue>,
}

/// A named part of the finished video (players list them as chapters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    /// Where it begins, from the start of the video.
    pub start: Duration,
    /// Where it ends.
    pub end: Duration,
    /// Its name, one line.
    pub title: String,
}

/// What the finished video carries besides the segments' pictures and
/// sound, written in the same pass as the join (never a second rewrite of
/// the output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FinishOptions {
    /// Soft subtitles (captions players show on request).
    pub subtitles: Option<SubtitleTrack>,
    /// Chapters, in order (none: the video has no chapters).
    pub chapters: Vec<Chapter>,
}

impl FinishOptions {
    /// Carry `chapters` (in order, not overlapping).
    pub fn chapters(mut self, chapters: Vec<Chapter>) -> Self {
        self.chapters = chapters;
        self
    }

    /// Carry `track` as a subtitle track.
    pub fn subtitles(mut self, track: SubtitleTrack) -> Self {
        self.subtitles = Some(track);
        self
    }
}

/// Why a composer step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// A slide's input (background image or clip) is unusable; names the file.
    #[error("{path}: {message}")]
    BadInput {
        /// The unusable file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The media back end failed.
    #[error("{0}")]
    Media(String),
}

impl ComposeError {
    /// A slide input at `path` is unusable, for `message`.
    pub fn bad_input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ComposeError::BadInput {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Reading or writing `path` failed.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ComposeError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Turns slides and clips into the finished video.
///
/// One composer value serves one deck render: it is built with the deck's
/// output settings and a work directory. CPU-heavy work must run off the async
/// runtime (for example in `tokio::task::spawn_blocking`); the scheduler bounds
/// how many `prepare`/`compose` calls run at once.
#[async_trait]
pub trait Composer: Send + Sync {
    /// Do all work for `slide` that does not need its avatar clip.
    async fn prepare(&self, slide: &Slide) -> Result<PreparedSlide, ComposeError>;

    /// Check that a clip is complete and starts to decode before it is
    /// composed (a truncated download must be fetched again, never
    /// composed). It runs on the critical path after every render, so it
    /// should be cheap: damage deep inside the pictures may be left to
    /// `compose`, which must then fail naming the clip.
    async fn verify_clip(&self, clip: &Path) -> Result<ClipInfo, ComposeError>;

    /// Compose one slide's segment from its clips, played one after the
    /// other with no gap (one clip, or one per part of a split narration).
    /// `clips` is empty for a slide-only slide, whose segment lasts
    /// `slide.duration`.
    async fn compose(
        &self,
        slide: &Slide,
        prepared: PreparedSlide,
        clips: &[PathBuf],
    ) -> Result<SlideSegment, ComposeError>;

    /// Join `segments` (in deck order) into `output`, with what `options`
    /// adds. Writes to a temporary file beside `output` and renames it only
    /// on success.
    async fn finish(
        &self,
        segments: &[SlideSegment],
        output: &Path,
        options: &FinishOptions,
    ) -> Result<(), ComposeError>;
}
