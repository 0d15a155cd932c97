//! The deck: what the video should be, loaded from TOML (or JSON) and
//! validated into resolved [`Deck`]/[`Slide`] values.
//!
//! A deck file has an `[output]` table, `[presenter]` defaults, and
//! `[[slides]]`, each of which may override any presenter field in its own
//! `[slides.presenter]` table. [`Deck::load`] reports every problem at once,
//! each naming the file, the slide and the field.
//!
//! ```toml
//! title = "Quarterly update"
//! music = "music/bed.mp3"         # optional: looped under every slide, ducked under speech
//!
//! [output]
//! width = 1920
//! height = 1080
//! fps = 25
//! background = "#101820"
//! quality = "standard"            # draft | standard | high | { preset = "veryfast", crf = 23 }
//! loudness = -16                  # narration level per slide, LUFS (EBU R128), peaks <= -1 dBTP; "off" keeps it as rendered
//! music_volume = -14              # music where nobody speaks, dB under the narration (12 dB lower under speech)
//!
//! [presenter]
//! provider = "local"              # local | elai | mock | any registered provider
//! avatar = "gia.casual"
//! voice = "en-US-AriaNeural"
//! language = "English"
//! layout = "picture-in-picture"   # | side-by-side | split-screen
//! placement = { corner = "bottom-right", margin = 40, scale = 0.3 }
//! shape = "circle"                # rectangle | circle | chroma-key
//! avatar_background = "#00FF00"
//!
//! [[slides]]
//! image = "slides/01-title.png"
//! title = "Welcome"               # the chapter name (default: "Slide 1")
//! script = "Welcome to the quarterly update."
//!
//! [[slides]]
//! image = "slides/02-agenda.png"
//! duration = 4.0                  # no script: a slide-only slide
//! transition = { kind = "fade", duration = 0.5 }
//! music = "music/outro.ogg"       # this slide's own music, or "off" for none
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod file;
mod validate;

use file::DeckFile;

/// An sRGB colour, written `#RRGGBB` in deck files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgb {
    /// Red, 0..=255.
    pub r: u8,
    /// Green, 0..=255.
    pub g: u8,
    /// Blue, 0..=255.
    pub b: u8,
}

impl Rgb {
    /// `#000000`, the default letterboxing colour.
    pub const BLACK: Rgb = Rgb { r: 0, g: 0, b: 0 };
    /// `#00FF00`, the default colour behind the avatar.
    pub const GREEN: Rgb = Rgb { r: 0, g: 255, b: 0 };

    /// A colour from its red, green and blue bytes.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Rgb { r, g, b }
    }
}

impl FromStr for Rgb {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix('#').unwrap_or(s);
        let bad = || format!("`{s}` is not a colour; write it as #RRGGBB");
        if hex.len() != 6 || !hex.is_ascii() {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgb::new(byte(0)?, byte(2)?, byte(4)?))
    }
}

impl TryFrom<String> for Rgb {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Rgb> for String {
    fn from(c: Rgb) -> String {
        c.to_string()
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02X}{:02X}{:02X}", self.r, self.g, self.b)
    }
}

/// A validated deck, every path resolved and every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Deck {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// The deck's title (vendor-side names, timelines).
    pub title: String,
    /// Output video settings.
    pub output: Output,
    /// The slides, in order; `slides[i].number == i + 1`.
    pub slides: Vec<Slide>,
}

/// Output video settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Letterboxing colour.
    pub background: Rgb,
    /// Encoder quality.
    pub quality: Quality,
    /// The integrated loudness (LUFS, EBU R128) every slide's narration is
    /// brought to, with the true peak kept at most -1 dBTP; `None` keeps
    /// the levels as rendered. Deck field `output.loudness` (`-16` when
    /// absent, `"off"` for `None`).
    pub loudness: Option<f64>,
    /// The level of background music where nobody speaks, in dB against
    /// the narration's loudness (negative: under the voice); under speech
    /// it goes a further 12 dB down. Deck field `output.music_volume`.
    pub music_volume: f64,
}

/// Background music's level against the narration unless the deck says
/// otherwise (dB).
pub const DEFAULT_MUSIC_VOLUME: f64 = -14.0;

/// The music levels a deck may ask for (dB against the narration).
pub const MUSIC_VOLUME_RANGE: (f64, f64) = (-40.0, 0.0);

/// The loudness a deck gets unless it says otherwise: what streaming and
/// e-learning players expect (LUFS).
pub const DEFAULT_LOUDNESS: f64 = -16.0;

/// The loudness targets a deck may ask for (LUFS, inclusive).
pub const LOUDNESS_RANGE: (f64, f64) = (-36.0, -10.0);

/// Encoder quality: named levels map to x264 preset/CRF pairs.
///
/// | level      | preset      | CRF |
/// |------------|-------------|-----|
/// | `draft`    | `ultrafast` | 28  |
/// | `standard` | `veryfast`  | 23  |
/// | `high`     | `medium`    | 18  |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quality {
    /// A named level.
    Level(QualityLevel),
    /// An explicit x264 preset and CRF.
    Custom {
        /// x264 preset (`ultrafast` .. `veryslow`).
        preset: String,
        /// Constant rate factor, 0..=51 (lower is better).
        crf: u8,
    },
}

/// A named quality level (see [`Quality`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QualityLevel {
    /// Fast and rough: `ultrafast`, CRF 28.
    Draft,
    /// The default: `veryfast`, CRF 23.
    Standard,
    /// Slow and sharp: `medium`, CRF 18.
    High,
}

impl Quality {
    /// The x264 preset and CRF this quality stands for.
    pub fn x264(&self) -> (&str, u8) {
        match self {
            Quality::Level(QualityLevel::Draft) => ("ultrafast", 28),
            Quality::Level(QualityLevel::Standard) => ("veryfast", 23),
            Quality::Level(QualityLevel::High) => ("medium", 18),
            Quality::Custom { preset, crf } => (preset, *crf),
        }
    }
}

impl Default for Quality {
    fn default() -> Self {
        Quality::Level(QualityLevel::Standard)
    }
}

/// One validated slide.
#[derive(Debug, Clone, PartialEq)]
pub struct Slide {
    /// 1-based position in the deck.
    pub number: usize,
    /// Background image, resolved against the deck file's folder.
    pub image: PathBuf,
    /// The slide's title, when the deck gives one: its chapter's name.
    pub title: Option<String>,
    /// Narration; empty for a slide-only slide.
    pub script: String,
    /// The presenter for this slide; `None` for a slide-only slide.
    pub presenter: Option<Presenter>,
    /// Fixed length of a slide-only slide. A presenter slide lasts as long as
    /// its clip.
    pub duration: Option<Duration>,
    /// How this slide begins.
    pub transition: Transition,
    /// The narration as the vendor renders it, when it is longer than the
    /// avatar speaks per clip: consecutive parts of `script`, one clip each,
    /// composed into the slide's one segment (see
    /// [`Deck::split_narration`]). Empty: `script` is one clip.
    pub parts: Vec<String>,
    /// Background music under this slide (the deck's `music` unless the
    /// slide names its own or says `"off"`), resolved against the deck
    /// file's folder. Consecutive slides with the same file continue it.
    pub music: Option<PathBuf>,
}

impl Slide {
    /// The slide's chapter name: its [`title`](Self::title), or `Slide N`.
    pub fn chapter_title(&self) -> String {
        match &self.title {
            Some(t) => t.clone(),
            None => format!("Slide {}", self.number),
        }
    }

    /// The vendor requests for this slide's clips, in speaking order: one,
    /// or one per [part](Self::parts); none for a slide-only slide.
    pub fn clip_requests(&self, deck: &Deck) -> Vec<crate::ClipRequest> {
        let Some(p) = self.presenter.as_ref() else {
            return Vec::new();
        };
        let request = |script: &str| crate::ClipRequest {
            slide: self.number,
            title: deck.title.clone(),
            provider: p.provider.clone(),
            script: script.to_string(),
            avatar: p.avatar.clone(),
            voice: p.voice.clone(),
            voice_provider: p.voice_provider.clone(),
            language: p.language.clone(),
            avatar_background: p.avatar_background,
            canvas: p.canvas(&deck.output),
        };
        if self.parts.is_empty() {
            vec![request(&self.script)]
        } else {
            self.parts.iter().map(|part| request(part)).collect()
        }
    }
}

/// Resolved presenter settings for one slide.
#[derive(Debug, Clone, PartialEq)]
pub struct Presenter {
    /// Provider name (`local`, `elai`, `mock` or any registered provider).
    pub provider: String,
    /// The provider's avatar code (Elai: `{avatar}.{variant}`).
    pub avatar: String,
    /// The provider's voice id, when not the avatar's default.
    pub voice: Option<String>,
    /// Who supplies the voice (Elai: `azure`, `elevenlabs`, ...).
    pub voice_provider: Option<String>,
    /// Language of the narration, as the provider names it.
    pub language: Option<String>,
    /// Where the presenter goes on the frame.
    pub layout: Layout,
    /// How the avatar is cut out of its clip.
    pub shape: Shape,
    /// The flat colour the vendor renders behind the avatar.
    pub avatar_background: Rgb,
}

impl Presenter {
    /// The clip size to ask the vendor for: the presenter's area on screen,
    /// at 16:9 and even dimensions.
    pub fn canvas(&self, output: &Output) -> (u32, u32) {
        let area = self.layout.presenter_area(output);
        let w = area.width.max(2);
        let h = (w * 9 / 16).max(2);
        (w & !1, h & !1)
    }
}

/// Where the presenter goes on the frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// The avatar over the slide at `placement`.
    PictureInPicture(Placement),
    /// Slide and presenter each in half the frame.
    SideBySide,
    /// Slide left at `ratio` of the width, presenter right.
    SplitScreen {
        /// Share of the width for the slide, in 0..1.
        ratio: f32,
    },
}

impl Layout {
    /// The rectangle the slide image is fitted into.
    pub fn slide_area(&self, output: &Output) -> Rect {
        let full = Rect::new(0, 0, output.width, output.height);
        match self {
            Layout::PictureInPicture(_) => full,
            Layout::SideBySide => Rect::new(0, 0, output.width / 2, output.height),
            Layout::SplitScreen { ratio } => {
                Rect::new(0, 0, (output.width as f32 * ratio) as u32, output.height)
            }
        }
    }

    /// The rectangle the presenter clip is fitted into.
    pub fn presenter_area(&self, output: &Output) -> Rect {
        match self {
            Layout::PictureInPicture(p) => p.rect(output),
            Layout::SideBySide | Layout::SplitScreen { .. } => {
                let left = self.slide_area(output).width;
                Rect::new(left, 0, output.width - left, output.height)
            }
        }
    }
}

/// Picture-in-picture placement.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// In a corner, `margin` pixels from the edges, `scale` of the frame width,
    /// 16:9.
    Corner {
        /// Which corner.
        corner: Corner,
        /// Distance from both edges, in pixels.
        margin: u32,
        /// Width as a share of the frame width.
        scale: f32,
    },
    /// An explicit rectangle in output pixels.
    Rect(Rect),
}

impl Placement {
    /// The rectangle in output pixels (even sizes and offsets, for 4:2:0).
    pub fn rect(&self, output: &Output) -> Rect {
        match self {
            Placement::Rect(r) => *r,
            Placement::Corner {
                corner,
                margin,
                scale,
            } => {
                let w = ((output.width as f32 * scale) as u32) & !1;
                let h = (w * 9 / 16) & !1;
                let right = output.width.saturating_sub(w + margin);
                let bottom = output.height.saturating_sub(h + margin);
                let (x, y) = match corner {
                    Corner::TopLeft => (*margin, *margin),
                    Corner::TopRight => (right, *margin),
                    Corner::BottomLeft => (*margin, bottom),
                    Corner::BottomRight => (right, bottom),
                };
                Rect::new(x & !1, y & !1, w, h)
            }
        }
    }
}

/// A corner of the frame, for picture-in-picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    BottomRight,
}

/// A rectangle in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// A rectangle at (`x`, `y`) of `width` x `height` pixels.
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// True when the rectangle lies wholly inside a `width` x `height` frame.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.width > 0
            && self.height > 0
            && self.x.checked_add(self.width).is_some_and(|r| r <= width)
            && self.y.checked_add(self.height).is_some_and(|b| b <= height)
    }
}

/// How the avatar is cut out of its clip.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// The whole clip frame.
    Rectangle,
    /// A soft-edged circle inscribed in the clip's area.
    Circle,
    /// Pixels close to `key` become transparent. `similarity` and `blend` are
    /// in 0..=1 as in FFmpeg's `chromakey` filter.
    ChromaKey {
        /// The key colour (the vendor's flat background).
        key: Rgb,
        /// How close to `key` a pixel must be to vanish.
        similarity: f32,
        /// How soft the edge between kept and keyed pixels is.
        blend: f32,
    },
}

/// How a slide begins.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Straight in.
    Cut,
    /// Fade in from black over `duration` (and the previous slide fades out).
    Fade {
        /// Length of the fade.
        duration: Duration,
    },
}

/// One problem found in a deck: the file, the slide (if any) and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeckProblem {
    /// The deck file.
    pub file: PathBuf,
    /// 1-based slide number, `None` for deck-level fields.
    pub slide: Option<usize>,
    /// Dotted field path, e.g. `presenter.placement.scale`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for DeckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(n) = self.slide {
            write!(f, ": slide {n}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A deck that could not be loaded: every problem found, or why the file
/// could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeckError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The deck file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A syntax error; the message carries line and column.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The deck file.
        path: PathBuf,
        /// The parser's message with line and column.
        message: String,
    },
    /// The deck parsed but has problems; every one is listed.
    #[error("{} problem(s) in the deck:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<DeckProblem>),
}

/// Up to `max` of `known` closest to `word` (by edit distance, closest
/// first; at most a third of the word's length away, and at least two), for
/// "did you mean" hints on deck values such as avatar and voice codes.
pub fn nearest_names<'a>(
    word: &str,
    known: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<&'a str> {
    let reach = (word.chars().count() / 3).max(2);
    let mut ranked: Vec<(usize, &str)> = known
        .into_iter()
        .map(|k| {
            (
                file::edit_distance(&word.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(d, _)| *d <= reach)
        .collect();
    ranked.sort();
    ranked.dedup_by(|a, b| a.1 == b.1);
    ranked.into_iter().take(max).map(|(_, k)| k).collect()
}

/// How a deck is checked while it loads.
///
/// ```
/// # use slidecast_core::deck::{Deck, LoadOptions};
/// let options = LoadOptions::default().providers(["local", "elai"]);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The provider names that may appear, when the caller knows them (a
    /// render pipeline's registry). `None`: any well-formed name.
    pub providers: Option<Vec<String>>,
}

impl LoadOptions {
    /// Only these provider names may appear; any other is reported with
    /// the deck's other problems, naming slide and field.
    pub fn providers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.providers = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

impl Deck {
    /// Load and validate a deck file (`.toml`, or `.json`), reporting every
    /// problem at once. Any well-formed provider name is accepted: which
    /// providers exist is for the render pipeline to say (see
    /// [`Deck::load_with`]).
    pub fn load(path: &Path) -> Result<Deck, DeckError> {
        Deck::load_with(path, &LoadOptions::default())
    }

    /// [`Deck::load`] with extra checks.
    pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Deck, DeckError> {
        let text = std::fs::read_to_string(path).map_err(|source| DeckError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Deck::from_str_with(&text, path, options)
    }

    /// Parse and validate deck text as if read from `path` (whose extension
    /// picks the format and whose folder resolves relative image paths).
    pub fn from_str_at(text: &str, path: &Path) -> Result<Deck, DeckError> {
        Deck::from_str_with(text, path, &LoadOptions::default())
    }

    /// [`Deck::from_str_at`] with extra checks.
    pub fn from_str_with(
        text: &str,
        path: &Path,
        options: &LoadOptions,
    ) -> Result<Deck, DeckError> {
        // Misspelt fields are collected with the other problems; a file with
        // none takes the direct path, whose type errors carry a position.
        let unknown = file::unknown_fields(text, path)?;
        if unknown.is_empty() {
            return validate::validate(DeckFile::parse(text, path)?, path, Vec::new(), options);
        }
        match file::parse_known(text, path) {
            Some(file) => validate::validate(file, path, unknown, options),
            None => Err(DeckFile::parse(text, path)
                .err()
                .unwrap_or(DeckError::Invalid(unknown))),
        }
    }

    /// Slides that need an avatar clip.
    pub fn presenter_slides(&self) -> impl Iterator<Item = &Slide> {
        self.slides.iter().filter(|s| s.presenter.is_some())
    }

    /// Split every narration longer than its avatar speaks per clip into
    /// [parts](Slide::parts) that fit (see [`SpeechRate::split`]).
    /// `speech_limit` tells the limit of a slide's request (`None`: no
    /// limit). Every slide that cannot be split is reported at once, naming
    /// its `script`, before anything is rendered (the others are split
    /// either way, so a caller can go on to find the deck's other problems).
    ///
    /// [`SpeechRate::split`]: crate::SpeechRate::split
    pub fn split_narration(
        &mut self,
        rate: crate::SpeechRate,
        mut speech_limit: impl FnMut(&crate::ClipRequest) -> Option<Duration>,
    ) -> Result<(), DeckError> {
        let mut problems = Vec::new();
        let mut split = Vec::new();
        for slide in &self.slides {
            let Some(request) = slide.clip_requests(self).into_iter().next() else {
                continue;
            };
            let request = crate::ClipRequest {
                script: slide.script.clone(),
                ..request
            };
            let Some(limit) = speech_limit(&request) else {
                continue;
            };
            match rate.split(&slide.script, limit) {
                Ok(parts) if parts.len() > 1 => split.push((slide.number, parts)),
                Ok(_) => split.push((slide.number, Vec::new())),
                Err(e) => problems.push(DeckProblem {
                    file: self.source.clone(),
                    slide: Some(slide.number),
                    field: "script".into(),
                    message: e.to_string(),
                }),
            }
        }
        for (number, parts) in split {
            if let Some(slide) = self.slides.iter_mut().find(|s| s.number == number) {
                slide.parts = parts;
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeckError::Invalid(problems))
        }
    }
}
