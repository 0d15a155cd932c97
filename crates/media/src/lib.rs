//! `slidecast-media`: the [`Composer`] of slidecast, entirely in-process on
//! FFmpeg's libraries (through `ffmpeg-next`); it never spawns the `ffmpeg`
//! command.
//!
//! The work follows the core's split:
//! - [`Composer::prepare`] decodes the slide image, fits it into the slide's
//!   area letterboxed with the deck's background colour, converts it once to
//!   BT.709 YUV 4:2:0 and stores the raw picture in the work directory (so
//!   memory does not grow with the deck).
//! - [`Composer::verify_clip`] reads every packet of a presenter clip and
//!   decodes its start; truncated, video-less or empty clips are a
//!   [`ComposeError::BadInput`] naming the file. Damage further in is found
//!   by `compose`, which decodes every frame anyway.
//! - [`Composer::compose`] streams the clip frame by frame: converts its frame
//!   rate to the deck's by timestamp, scales it into the presenter's area and
//!   cuts it out (rectangle, soft circle, chroma key, or the clip's own alpha
//!   for VP8/VP9 WebM), bakes fades in, encodes H.264 with the deck's x264
//!   settings, and keeps the clip's audio as 48 kHz stereo PCM beside it. A
//!   segment lasts the clip's length rounded up to whole frames.
//! - [`Composer::finish`] joins the segments' video by stream copy,
//!   encodes the deck's audio once to AAC and adds the captions as a soft
//!   subtitle track, all in one pass, into an MP4 with faststart written to
//!   a temporary file, synced and renamed.
//!
//! Layouts come from the deck: picture-in-picture draws the presenter over
//! the full-frame slide; side-by-side and split-screen fit the slide and the
//! presenter each into their part of the frame, letterboxed.
//!
//! ```no_run
//! # async fn run(deck: slidecast_core::Deck) -> Result<(), slidecast_core::ComposeError> {
//! use slidecast_core::Composer;
//! use slidecast_media::MediaComposer;
//!
//! let composer = MediaComposer::builder(deck.output.clone())
//!     .work_dir("/tmp")
//!     .slides_of(&deck) // fade-outs before slides that fade in, music
//!     .jobs(2) // segments composed at once: sizes the x264 threads
//!     .build()?;
//! let slide = &deck.slides[0];
//! let prepared = composer.prepare(slide).await?;
//! let segment = composer.compose(slide, prepared, &[]).await?; // a slide-only slide
//! composer.finish(&[segment], "out.mp4".as_ref(), &Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! [`mock_clip`] generates real presenter clips for `--provider mock` and
//! tests; [`image::write_image`] writes PNG/JPEG pictures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ffmpeg_next as ffmpeg;
use slidecast_core::composer::ClipInfo;
use slidecast_core::deck::{Output, Transition};
use slidecast_core::{
    ComposeError, Composer, Deck, FinishOptions, PreparedSlide, Slide, SlideSegment,
};

pub mod burn;
mod clip;
mod error;
mod figure;
pub mod image;
mod join;
pub mod mock_clip;
pub mod music;
pub mod picture;
mod segment;
mod speech;
mod subtitles;

pub use error::MediaError;
pub use join::AUDIO_BIT_RATE;
pub use mock_clip::MockClip;

/// Sample rate of the deck's audio track.
pub const AUDIO_RATE: u32 = slidecast_av::compat::DECK_RATE;

use slidecast_av::{init, read_packet, release_memory};

/// The composer on FFmpeg. Cheap to clone; clones share the work directory.
#[derive(Clone)]
pub struct MediaComposer {
    inner: Arc<Inner>,
}

struct Inner {
    output: Output,
    settings: slidecast_av::encode::VideoSettings,
    /// Private directory for prepared pictures and segments, removed when
    /// the last clone of the composer is dropped.
    work: tempfile::TempDir,
    /// Slide number -> fade-out length, when the next slide fades in.
    fade_out: HashMap<usize, Duration>,
    /// Slide number -> the music under it.
    music: HashMap<usize, PathBuf>,
    /// Captions drawn into the picture, and how they are timed.
    burn: Option<(burn::CaptionArt, CaptionTimer)>,
    counter: AtomicU64,
}

/// Times a slide's captions for drawing them into its picture: given the
/// slide, where each of its clips plays in its segment and where speech is
/// audible there, each cue's time in the segment and its wrapped text.
#[derive(Clone)]
pub struct CaptionTimer(pub Arc<TimeCaptions>);

/// The function inside a [`CaptionTimer`].
pub type TimeCaptions = dyn Fn(
        &Slide,
        &[std::ops::Range<Duration>],
        &[std::ops::Range<Duration>],
    ) -> Vec<(std::ops::Range<Duration>, String)>
    + Send
    + Sync;

impl std::fmt::Debug for CaptionTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptionTimer")
    }
}

/// Builds a [`MediaComposer`].
#[derive(Debug, Clone)]
pub struct MediaComposerBuilder {
    output: Output,
    work_dir: PathBuf,
    fade_out: HashMap<usize, Duration>,
    music: HashMap<usize, PathBuf>,
    burn: Option<(burn::CaptionStyle, CaptionTimer)>,
    encoder_threads: usize,
}

impl MediaComposerBuilder {
    /// Threads of each segment's x264 encoder (0, the default: x264
    /// chooses). When several segments are composed at once, fewer threads
    /// each use the cores as well with less memory.
    pub fn encoder_threads(mut self, threads: usize) -> Self {
        self.encoder_threads = threads;
        self
    }

    /// The directory under which the composer makes its private work folder
    /// (default: the system temporary directory).
    pub fn work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = dir.into();
        self
    }

    /// Size the encoders for `jobs` segments composed at once (the
    /// scheduler's job count): each x264 gets its share of 1.5 threads per
    /// core, so concurrent segments neither oversubscribe the cores nor
    /// multiply x264's per-thread frame buffers. One job leaves x264 to choose.
    pub fn jobs(mut self, jobs: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.encoder_threads = if jobs <= 1 {
            0
        } else {
            (cores * 3).div_ceil(2 * jobs).max(1)
        };
        self
    }

    /// Learn what the slides of `deck` ask of the join and of their
    /// neighbours: a slide followed by one that fades in fades out over the
    /// same time (a dip through black), and the music under each slide.
    pub fn slides_of(mut self, deck: &Deck) -> Self {
        for pair in deck.slides.windows(2) {
            if let Transition::Fade { duration } = pair[1].transition {
                self.fade_out.insert(pair[0].number, duration);
            }
        }
        for slide in &deck.slides {
            if let Some(music) = &slide.music {
                self.music.insert(slide.number, music.clone());
            }
        }
        self
    }

    /// Draw captions into the picture in `style`, timed by `timer` from
    /// each slide's speech (measured from its clips' audio before the
    /// segment is written; the segment reports the same speech spans).
    pub fn burn_captions(mut self, style: burn::CaptionStyle, timer: CaptionTimer) -> Self {
        self.burn = Some((style, timer));
        self
    }

    /// Create the composer and its work folder.
    pub fn build(self) -> Result<MediaComposer, ComposeError> {
        init();
        let o = &self.output;
        if o.width < 2 || o.height < 2 || (o.width | o.height) & 1 != 0 || o.fps == 0 {
            return Err(ComposeError::Media(format!(
                "output {}x{} at {} fps: width and height must be even and positive, fps above 0",
                o.width, o.height, o.fps
            )));
        }
        if ffmpeg::encoder::find_by_name("libx264").is_none() {
            return Err(ComposeError::Media(
                "this FFmpeg has no libx264 encoder (install a libavcodec built with x264)".into(),
            ));
        }
        std::fs::create_dir_all(&self.work_dir).map_err(|e| ComposeError::io(&self.work_dir, e))?;
        let work = tempfile::Builder::new()
            .prefix("slidecast-media-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| ComposeError::io(&self.work_dir, e))?;
        let (preset, crf) = o.quality.x264();
        let settings = slidecast_av::encode::VideoSettings {
            width: o.width,
            height: o.height,
            fps: o.fps,
            preset: preset.to_string(),
            crf,
            threads: self.encoder_threads,
            keyframe_interval: None,
        };
        let burn = match self.burn {
            Some((style, timer)) => Some((
                burn::CaptionArt::new(style).map_err(ComposeError::from)?,
                timer,
            )),
            None => None,
        };
        Ok(MediaComposer {
            inner: Arc::new(Inner {
                output: self.output,
                settings,
                work,
                fade_out: self.fade_out,
                music: self.music,
                burn,
                counter: AtomicU64::new(0),
            }),
        })
    }
}

impl std::fmt::Debug for MediaComposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaComposer")
            .field("output", &self.inner.output)
            .field("work_dir", &self.inner.work.path())
            .field("encoder", &self.inner.settings)
            .finish()
    }
}

/// The payload of a [`PreparedSlide`] made by this composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedPicture {
    /// Raw YUV 4:2:0 planes of the full output frame.
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
}

impl MediaComposer {
    /// A builder for a deck with `output` settings.
    pub fn builder(output: Output) -> MediaComposerBuilder {
        MediaComposerBuilder {
            output,
            work_dir: std::env::temp_dir(),
            fade_out: HashMap::new(),
            music: HashMap::new(),
            burn: None,
            encoder_threads: 0,
        }
    }

    /// A composer for `output`, working under `work_dir`.
    pub fn new(output: Output, work_dir: impl Into<PathBuf>) -> Result<Self, ComposeError> {
        Self::builder(output).work_dir(work_dir).build()
    }

    /// A composer for `deck` (its output settings and transitions), working
    /// under `work_dir`.
    pub fn for_deck(deck: &Deck, work_dir: impl Into<PathBuf>) -> Result<Self, ComposeError> {
        Self::builder(deck.output.clone())
            .work_dir(work_dir)
            .slides_of(deck)
            .build()
    }

    /// The private work folder (prepared pictures, segments).
    pub fn work_dir(&self) -> &Path {
        self.inner.work.path()
    }

    /// The output settings.
    pub fn output(&self) -> &Output {
        &self.inner.output
    }

    /// [`Composer::prepare`], blocking.
    pub fn prepare_blocking(&self, slide: &Slide) -> Result<PreparedSlide, ComposeError> {
        self.inner.prepare(slide).map_err(Into::into)
    }

    /// [`Composer::verify_clip`], blocking.
    pub fn verify_clip_blocking(&self, clip: &Path) -> Result<ClipInfo, ComposeError> {
        verify_clip(clip).map_err(Into::into)
    }

    /// [`Composer::compose`], blocking.
    pub fn compose_blocking(
        &self,
        slide: &Slide,
        prepared: PreparedSlide,
        clips: &[PathBuf],
    ) -> Result<SlideSegment, ComposeError> {
        self.inner
            .compose(slide, prepared, clips)
            .map_err(Into::into)
    }

    /// [`Composer::finish`], blocking.
    pub fn finish_blocking(
        &self,
        segments: &[SlideSegment],
        output: &Path,
        options: &FinishOptions,
    ) -> Result<(), ComposeError> {
        self.inner
            .finish(segments, output, options)
            .map_err(Into::into)
    }
}

/// Check `clip` and describe it without decoding it all: every packet is
/// read (a truncated or cut download fails here, as does one shorter than
/// its container declares) and the start is decoded (the codecs open, the
/// first picture is whole). Damage inside later pictures is found when the
/// clip is composed, which then fails naming the file: composing decodes
/// every frame anyway, so a clip is decoded once, not twice.
pub fn verify_clip(clip: &Path) -> Result<ClipInfo, MediaError> {
    let mut reader = clip::Clip::open(clip)?;
    let timing = reader.timing()?;
    let has_audio = reader.decode_start()?;
    if let Some(declared) = reader.declared_duration() {
        if timing.duration() + 0.5 < declared * 0.95 {
            return Err(MediaError::bad_input(
                clip,
                format!(
                    "the clip is truncated: {:.2} s of {:.2} s readable",
                    timing.duration(),
                    declared
                ),
            ));
        }
    }
    Ok(ClipInfo {
        duration: Duration::from_secs_f64(timing.duration()),
        width: timing.width,
        height: timing.height,
        has_audio: timing.audio_end.is_some() && has_audio,
    })
}

impl Inner {
    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn prepare(&self, slide: &Slide) -> Result<PreparedSlide, MediaError> {
        let o = &self.output;
        let area = match &slide.presenter {
            Some(p) => p.layout.slide_area(o),
            None => slidecast_core::deck::Rect::new(0, 0, o.width, o.height),
        };
        let picture = image::slide_picture(&slide.image, o.width, o.height, area, o.background)?;
        let path =
            self.work
                .path()
                .join(format!("slide-{:04}-{}.yuv", slide.number, self.next_id()));
        picture.write_raw(&path)?;
        Ok(PreparedSlide::new(
            slide.number,
            PreparedPicture {
                path,
                width: o.width,
                height: o.height,
            },
        ))
    }

    fn compose(
        &self,
        slide: &Slide,
        prepared: PreparedSlide,
        clips: &[PathBuf],
    ) -> Result<SlideSegment, MediaError> {
        let picture: PreparedPicture = prepared.into_payload().ok_or_else(|| {
            MediaError::msg(format!(
                "slide {}: the prepared slide was not made by the media composer",
                slide.number
            ))
        })?;
        let o = &self.output;
        if (picture.width, picture.height) != (o.width, o.height) {
            return Err(MediaError::msg(format!(
                "slide {}: prepared for {}x{}, composing {}x{}",
                slide.number, picture.width, picture.height, o.width, o.height
            )));
        }
        let background = picture::Yuv420::read_raw(&picture.path, o.width, o.height)?;
        let fade_in = match slide.transition {
            Transition::Fade { duration } => duration,
            Transition::Cut => Duration::ZERO,
        };
        let fade_out = self
            .fade_out
            .get(&slide.number)
            .copied()
            .unwrap_or_default();
        let dest = self.work.path().join(format!(
            "segment-{:04}-{}.nut",
            slide.number,
            self.next_id()
        ));
        let at_frame = |f: u64| Duration::from_nanos(f * 1_000_000_000 / u64::from(o.fps));
        // Burned captions are timed from the clips' speech before the
        // segment is written (its audio alone is decoded for it).
        let burned = match &self.burn {
            Some((art, timer)) if !clips.is_empty() => {
                let frames = segment::clip_frame_ranges(clips, o.fps)?;
                let samples: Vec<u64> = frames
                    .iter()
                    .map(|f| segment::samples_for_frames(f.start, o.fps))
                    .collect();
                let speech = speech::clip_speech(clips, &samples)?;
                let ranges: Vec<std::ops::Range<Duration>> = frames
                    .into_iter()
                    .map(|f| at_frame(f.start)..at_frame(f.end))
                    .collect();
                let cues = (timer.0)(slide, &ranges, &speech);
                Some((art, cues, speech))
            }
            _ => None,
        };
        let job = segment::SegmentJob {
            output: o,
            settings: &self.settings,
            background: &background,
            presenter: slide.presenter.as_ref(),
            clips,
            duration: slide.duration,
            fade_in,
            fade_out,
            dest: &dest,
            captions: burned
                .as_ref()
                .map(|(art, cues, _)| (*art, cues.as_slice())),
        };
        let length = segment::write_segment(&job).map_err(|e| match e {
            MediaError::Other(m) => MediaError::Other(format!("slide {}: {m}", slide.number)),
            other => other,
        })?;
        let _ = std::fs::remove_file(&picture.path);
        release_memory();
        Ok(SlideSegment {
            slide: slide.number,
            path: dest,
            duration: at_frame(length.frames),
            clip_starts: length.clip_starts.iter().map(|&f| at_frame(f)).collect(),
            // With burned captions, the spans they were timed by, so the
            // soft captions match them exactly.
            speech: burned.map_or(length.speech, |(_, _, speech)| speech),
        })
    }

    fn finish(
        &self,
        segments: &[SlideSegment],
        output: &Path,
        options: &FinishOptions,
    ) -> Result<(), MediaError> {
        let paths: Vec<PathBuf> = segments.iter().map(|s| s.path.clone()).collect();
        let music: Vec<Option<PathBuf>> = segments
            .iter()
            .map(|s| self.music.get(&s.slide).cloned())
            .collect();
        let speech: Vec<_> = segments.iter().map(|s| s.speech.clone()).collect();
        let report = join::join(
            &paths,
            output,
            self.output.fps,
            join::JoinAudio {
                loudness: self.output.loudness,
                music: &music,
                music_volume: self.output.music_volume,
                speech: &speech,
            },
            options.subtitles.as_ref(),
            &options.chapters,
        )?;
        for (segment, measured) in segments.iter().zip(&report.loudness) {
            let gain = join::gain_for(self.output.loudness, *measured);
            tracing::debug!(
                slide = segment.slide,
                loudness_lufs = measured.map(|l| (l * 10.0).round() / 10.0),
                gain_db = ((20.0 * f64::from(gain).log10()) * 10.0).round() / 10.0,
                "slide loudness"
            );
        }
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        release_memory();
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ComposeError> + Send + 'static,
) -> Result<T, ComposeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ComposeError::Media(format!("media task failed: {e}")))?
}

#[async_trait]
impl Composer for MediaComposer {
    async fn prepare(&self, slide: &Slide) -> Result<PreparedSlide, ComposeError> {
        let (this, slide) = (self.clone(), slide.clone());
        blocking(move || this.prepare_blocking(&slide)).await
    }

    async fn verify_clip(&self, clip: &Path) -> Result<ClipInfo, ComposeError> {
        let clip = clip.to_path_buf();
        blocking(move || verify_clip(&clip).map_err(Into::into)).await
    }

    async fn compose(
        &self,
        slide: &Slide,
        prepared: PreparedSlide,
        clips: &[PathBuf],
    ) -> Result<SlideSegment, ComposeError> {
        let (this, slide, clips) = (self.clone(), slide.clone(), clips.to_vec());
        blocking(move || this.compose_blocking(&slide, prepared, &clips)).await
    }

    async fn finish(
        &self,
        segments: &[SlideSegment],
        output: &Path,
        options: &FinishOptions,
    ) -> Result<(), ComposeError> {
        let (this, segments, output) = (self.clone(), segments.to_vec(), output.to_path_buf());
        let options = options.clone();
        blocking(move || this.finish_blocking(&segments, &output, &options)).await
    }
}
