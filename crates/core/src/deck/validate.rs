//! Turns a [`DeckFile`] into a [`Deck`], collecting every problem.
//!
//! Deck-level fields are checked once (problems carry no slide number);
//! per-slide overrides are checked where they are written. The merged
//! presenter of each slide is then built from values already known to be
//! valid, so one bad default is reported once, not once per slide.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{LoudnessFile, PlacementFile, PresenterFile, SlideFile, TransitionFile};
use super::{
    Deck, DeckError, DeckFile, DeckProblem, Layout, LoadOptions, Output, Placement, Presenter,
    Quality, Rgb, Shape, Slide, Transition, DEFAULT_LOUDNESS, DEFAULT_MUSIC_VOLUME, LOUDNESS_RANGE,
    MUSIC_VOLUME_RANGE,
};

/// Longest narration accepted for one slide, in characters. Vendors have
/// their own (smaller) limits, checked at run time through
/// [`ProviderLimits::max_script_chars`](crate::ProviderLimits).
pub const MAX_SCRIPT_CHARS: usize = 20_000;

/// Longest slide title, in characters (a chapter name in a player's menu).
pub const MAX_TITLE_CHARS: usize = 200;

/// Default x264-compatible presets, for `quality = { preset, crf }`.
const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

const LAYOUTS: &str = "picture-in-picture, side-by-side or split-screen";
const SHAPES: &str = "rectangle, circle or chroma-key";
const DEFAULT_FADE: Duration = Duration::from_millis(500);
const DEFAULT_MARGIN: u32 = 40;
const DEFAULT_SCALE: f32 = 0.3;
const DEFAULT_SPLIT_RATIO: f32 = 0.7;
const DEFAULT_SIMILARITY: f32 = 0.3;
const DEFAULT_BLEND: f32 = 0.1;

/// Collects problems for one deck file.
struct Problems {
    file: PathBuf,
    list: Vec<DeckProblem>,
    /// The provider names the caller can render with, when it said.
    providers: Option<Vec<String>>,
}

impl Problems {
    fn add(&mut self, slide: Option<usize>, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(DeckProblem {
            file: self.file.clone(),
            slide,
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Presenter fields that parsed and passed their own checks; `None` when
/// absent or invalid (an invalid value has been reported already).
#[derive(Default)]
struct PresenterParts {
    provider: Option<String>,
    avatar: Option<String>,
    voice: Option<String>,
    voice_provider: Option<String>,
    language: Option<String>,
    layout: Option<LayoutName>,
    placement: Option<Placement>,
    split_ratio: Option<f32>,
    shape: Option<ShapeName>,
    key_color: Option<Rgb>,
    key_similarity: Option<f32>,
    key_blend: Option<f32>,
    avatar_background: Option<Rgb>,
}

#[derive(Clone, Copy, PartialEq)]
enum LayoutName {
    PictureInPicture,
    SideBySide,
    SplitScreen,
}

#[derive(Clone, Copy, PartialEq)]
enum ShapeName {
    Rectangle,
    Circle,
    ChromaKey,
}

/// Validate `file` (read from `path`); `earlier` are problems already found
/// (unknown fields), reported first.
pub(super) fn validate(
    file: DeckFile,
    path: &Path,
    earlier: Vec<DeckProblem>,
    options: &LoadOptions,
) -> Result<Deck, DeckError> {
    let mut problems = Problems {
        file: path.to_path_buf(),
        list: earlier,
        providers: options.providers.clone(),
    };
    let folder = path.parent().unwrap_or(Path::new("")).to_path_buf();

    let output = check_output(&file, &mut problems);
    let deck_parts = check_presenter(&file.presenter, None, &output, &mut problems);

    if file.slides.is_empty() {
        problems.add(
            None,
            "slides",
            "the deck has no slides; add at least one [[slides]]",
        );
    }

    let deck_music = music_file(file.music.as_deref(), &folder, None, &mut problems);

    let mut avatar_reported = false;
    let mut slides = Vec::with_capacity(file.slides.len());
    for (index, slide_file) in file.slides.iter().enumerate() {
        let number = index + 1;
        let ctx = SlideContext {
            number,
            folder: &folder,
            deck_slide_only: file.slide_only,
            deck_parts: &deck_parts,
            deck_presenter: &file.presenter,
            deck_music: deck_music.as_deref(),
            output: &output,
        };
        if let Some(slide) = check_slide(slide_file, &ctx, &mut avatar_reported, &mut problems) {
            slides.push(slide);
        }
    }

    if !problems.list.is_empty() {
        return Err(DeckError::Invalid(problems.list));
    }
    let title = match file.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "slidecast".to_string()),
    };
    Ok(Deck {
        source: path.to_path_buf(),
        title,
        output,
        slides,
    })
}

fn check_output(file: &DeckFile, problems: &mut Problems) -> Output {
    let o = &file.output;
    let mut dimension = |value: Option<u32>, default: u32, field: &str| -> u32 {
        let v = value.unwrap_or(default);
        if v == 0 || v & 1 == 1 || v > 8192 {
            problems.add(
                None,
                field,
                format!("{v} is not usable; give an even number of pixels from 2 to 8192"),
            );
            return default;
        }
        v
    };
    let width = dimension(o.width, 1920, "output.width");
    let height = dimension(o.height, 1080, "output.height");
    let fps = o.fps.unwrap_or(25);
    if fps == 0 || fps > 120 {
        problems.add(
            None,
            "output.fps",
            format!("{fps} fps is not supported; use 1 to 120"),
        );
    }
    let background = colour(
        o.background.as_deref(),
        Rgb::BLACK,
        None,
        "output.background",
        problems,
    );
    let quality = o.quality.clone().unwrap_or_default();
    if let Quality::Custom { preset, crf } = &quality {
        if !X264_PRESETS.contains(&preset.as_str()) {
            problems.add(
                None,
                "output.quality.preset",
                format!(
                    "unknown preset `{preset}`; use one of {}",
                    X264_PRESETS.join(", ")
                ),
            );
        }
        if *crf > 51 {
            problems.add(
                None,
                "output.quality.crf",
                format!("CRF {crf} is out of range 0..=51"),
            );
        }
    }
    let loudness = match o.loudness {
        None => Some(DEFAULT_LOUDNESS),
        Some(LoudnessFile::Off) => None,
        Some(LoudnessFile::Lufs(v)) if (LOUDNESS_RANGE.0..=LOUDNESS_RANGE.1).contains(&v) => {
            Some(v)
        }
        Some(LoudnessFile::Lufs(v)) => {
            problems.add(
                None,
                "output.loudness",
                format!(
                    "{v} LUFS is outside {} to {} LUFS (streaming and e-learning use -16, broadcast -23), or use \"off\"",
                    LOUDNESS_RANGE.0, LOUDNESS_RANGE.1
                ),
            );
            Some(DEFAULT_LOUDNESS)
        }
    };
    let music_volume = match o.music_volume {
        None => DEFAULT_MUSIC_VOLUME,
        Some(v) if (MUSIC_VOLUME_RANGE.0..=MUSIC_VOLUME_RANGE.1).contains(&v) => v,
        Some(v) => {
            problems.add(
                None,
                "output.music_volume",
                format!(
                    "{v} dB is outside {} to {} dB (the music's level against the narration; {DEFAULT_MUSIC_VOLUME} when absent)",
                    MUSIC_VOLUME_RANGE.0, MUSIC_VOLUME_RANGE.1
                ),
            );
            DEFAULT_MUSIC_VOLUME
        }
    };
    Output {
        width,
        height,
        fps: if fps == 0 || fps > 120 { 25 } else { fps },
        background,
        quality,
        loudness,
        music_volume,
    }
}

fn colour(
    value: Option<&str>,
    default: Rgb,
    slide: Option<usize>,
    field: &str,
    problems: &mut Problems,
) -> Rgb {
    match value {
        None => default,
        Some(s) => match s.parse::<Rgb>() {
            Ok(c) => c,
            Err(message) => {
                problems.add(slide, field, message);
                default
            }
        },
    }
}

/// The dotted field name of a presenter field (the slide number, when there
/// is one, is carried by the problem itself).
fn presenter_field(name: &str) -> String {
    format!("presenter.{name}")
}

fn check_presenter(
    p: &PresenterFile,
    slide: Option<usize>,
    output: &Output,
    problems: &mut Problems,
) -> PresenterParts {
    let field = |name: &str| presenter_field(name);
    let mut parts = PresenterParts::default();

    if let Some(provider) = &p.provider {
        // Which providers exist is the render pipeline's registry's to say
        // (a vendor crate registers itself); the deck only checks the name.
        let well_formed = !provider.is_empty()
            && provider
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        let known = problems
            .providers
            .as_ref()
            .map_or(true, |names| names.iter().any(|n| n == provider));
        if well_formed && known {
            parts.provider = Some(provider.clone());
        } else if well_formed {
            let names = problems.providers.clone().unwrap_or_default().join(", ");
            problems.add(
                slide,
                field("provider"),
                format!("unknown provider `{provider}`; use one of {names}"),
            );
        } else {
            problems.add(
                slide,
                field("provider"),
                format!(
                    "`{provider}` is not a provider name; use lower-case letters, digits, `-` or `_` (for example local or elai)"
                ),
            );
        }
    }
    let text = |value: &Option<String>, name: &str, problems: &mut Problems| match value {
        Some(v) if v.trim().is_empty() => {
            problems.add(slide, field(name), "is empty; remove it or give a value");
            None
        }
        other => other.clone(),
    };
    parts.avatar = text(&p.avatar, "avatar", problems);
    parts.voice = text(&p.voice, "voice", problems);
    parts.voice_provider = text(&p.voice_provider, "voice_provider", problems);
    parts.language = text(&p.language, "language", problems);

    if let Some(layout) = &p.layout {
        parts.layout = match layout.as_str() {
            "picture-in-picture" => Some(LayoutName::PictureInPicture),
            "side-by-side" => Some(LayoutName::SideBySide),
            "split-screen" => Some(LayoutName::SplitScreen),
            other => {
                problems.add(
                    slide,
                    field("layout"),
                    format!("unknown layout `{other}`; use {LAYOUTS}"),
                );
                None
            }
        };
    }

    if let Some(placement) = &p.placement {
        parts.placement = check_placement(placement, slide, output, problems);
    }

    if let Some(ratio) = p.split_ratio {
        if ratio.is_finite() && ratio > 0.1 && ratio < 0.9 {
            parts.split_ratio = Some(ratio);
        } else {
            problems.add(
                slide,
                field("split_ratio"),
                format!("{ratio} is out of range; give the slide's share of the width, between 0.1 and 0.9"),
            );
        }
    }

    if let Some(shape) = &p.shape {
        parts.shape = match shape.as_str() {
            "rectangle" => Some(ShapeName::Rectangle),
            "circle" => Some(ShapeName::Circle),
            "chroma-key" => Some(ShapeName::ChromaKey),
            other => {
                problems.add(
                    slide,
                    field("shape"),
                    format!("unknown shape `{other}`; use {SHAPES}"),
                );
                None
            }
        };
    }
    if let Some(key) = &p.key_color {
        match key.parse::<Rgb>() {
            Ok(c) => parts.key_color = Some(c),
            Err(m) => problems.add(slide, field("key_color"), m),
        }
    }
    let unit = |value: Option<f32>, name: &str, zero_ok: bool, problems: &mut Problems| {
        let v = value?;
        let low_ok = if zero_ok { v >= 0.0 } else { v > 0.0 };
        if v.is_finite() && low_ok && v <= 1.0 {
            Some(v)
        } else {
            let range = if zero_ok {
                "0 to 1"
            } else {
                "above 0, up to 1"
            };
            problems.add(
                slide,
                field(name),
                format!("{v} is out of range; use {range}"),
            );
            None
        }
    };
    parts.key_similarity = unit(p.key_similarity, "key_similarity", false, problems);
    parts.key_blend = unit(p.key_blend, "key_blend", true, problems);
    if let Some(bg) = &p.avatar_background {
        match bg.parse::<Rgb>() {
            Ok(c) => parts.avatar_background = Some(c),
            Err(m) => problems.add(slide, field("avatar_background"), m),
        }
    }
    parts
}

fn check_placement(
    placement: &PlacementFile,
    slide: Option<usize>,
    output: &Output,
    problems: &mut Problems,
) -> Option<Placement> {
    let field = |name: &str| presenter_field(&format!("placement.{name}"));
    match placement {
        PlacementFile::Corner {
            corner,
            margin,
            scale,
        } => {
            let margin = margin.unwrap_or(DEFAULT_MARGIN);
            let scale = scale.unwrap_or(DEFAULT_SCALE);
            if !(scale.is_finite() && scale > 0.0 && scale <= 1.0) {
                problems.add(
                    slide,
                    field("scale"),
                    format!("{scale} is out of range; give the share of the frame width, above 0 up to 1"),
                );
                return None;
            }
            let placement = Placement::Corner {
                corner: *corner,
                margin,
                scale,
            };
            let r = placement.rect(output);
            let fits_with_margin = r.width > 0
                && r.height > 0
                && u64::from(r.width) + 2 * u64::from(margin) <= u64::from(output.width)
                && u64::from(r.height) + 2 * u64::from(margin) <= u64::from(output.height);
            if !fits_with_margin {
                problems.add(
                    slide,
                    presenter_field("placement"),
                    format!(
                        "a {}x{} presenter with margin {margin} does not fit in the {}x{} frame; lower scale or margin",
                        r.width, r.height, output.width, output.height
                    ),
                );
                return None;
            }
            Some(placement)
        }
        PlacementFile::Rect(r) => {
            if !r.fits(output.width, output.height) {
                problems.add(
                    slide,
                    presenter_field("placement"),
                    format!(
                        "rectangle {}x{} at ({}, {}) is not inside the {}x{} frame",
                        r.width, r.height, r.x, r.y, output.width, output.height
                    ),
                );
                return None;
            }
            Some(Placement::Rect(*r))
        }
    }
}

struct SlideContext<'a> {
    number: usize,
    folder: &'a Path,
    deck_slide_only: bool,
    deck_parts: &'a PresenterParts,
    deck_presenter: &'a PresenterFile,
    deck_music: Option<&'a Path>,
    output: &'a Output,
}

fn check_slide(
    s: &SlideFile,
    ctx: &SlideContext<'_>,
    avatar_reported: &mut bool,
    problems: &mut Problems,
) -> Option<Slide> {
    let n = Some(ctx.number);
    let before = problems.list.len();

    let image = match s.image.as_deref().map(str::trim) {
        None | Some("") => {
            problems.add(
                n,
                "image",
                "missing; give the slide's background image path",
            );
            PathBuf::new()
        }
        Some(rel) => {
            let resolved = ctx.folder.join(rel);
            check_readable(&resolved, rel, n, "image", problems);
            resolved
        }
    };
    let music = match s.music.as_deref() {
        None => ctx.deck_music.map(Path::to_path_buf),
        Some(written) => music_file(Some(written), ctx.folder, n, problems),
    };

    let title = match s.title.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            problems.add(
                n,
                "title",
                "is empty; give the slide's title or leave it out",
            );
            None
        }
        Some(t) if t.chars().count() > MAX_TITLE_CHARS => {
            problems.add(
                n,
                "title",
                format!("is longer than {MAX_TITLE_CHARS} characters; shorten it"),
            );
            None
        }
        // One line: a chapter name is shown in a player's menu.
        Some(t) => Some(t.split_whitespace().collect::<Vec<_>>().join(" ")),
    };

    let script = s.script.as_deref().unwrap_or("").trim().to_string();
    let chars = script.chars().count();
    if chars > MAX_SCRIPT_CHARS {
        problems.add(
            n,
            "script",
            format!("{chars} characters is too long (at most {MAX_SCRIPT_CHARS}); split the slide"),
        );
    }

    let duration = match s.duration {
        None => None,
        Some(d) if d.is_finite() && d > 0.0 && d <= 24.0 * 3600.0 => {
            Some(Duration::from_secs_f64(d))
        }
        Some(d) => {
            problems.add(
                n,
                "duration",
                format!("{d} is not a usable length; give seconds above 0"),
            );
            None
        }
    };
    let slide_only = ctx.deck_slide_only || s.slide_only;
    if script.is_empty() && s.duration.is_none() {
        problems.add(
            n,
            "script",
            "empty and no duration: give a script to narrate or a duration in seconds",
        );
    }

    let transition = check_transition(s.transition.as_ref(), n, problems);
    let slide_parts = check_presenter(&s.presenter, n, ctx.output, problems);

    let (presenter, duration) = if slide_only || script.is_empty() {
        // Slide-only: a narrated slide-only slide lasts its duration, or as
        // long as the narration would take to speak.
        let estimate =
            (!script.is_empty()).then(|| crate::speech::SpeechRate::default().duration(&script));
        (None, duration.or(estimate))
    } else {
        let presenter = merge_presenter(ctx, s, &slide_parts, avatar_reported, problems);
        (presenter, duration)
    };

    if problems.list.len() > before {
        return None;
    }
    Some(Slide {
        number: ctx.number,
        image,
        title,
        script,
        presenter,
        duration,
        transition,
        parts: Vec::new(),
        music,
    })
}

/// A `music` field: `"off"` (or nothing) for none, else a readable file
/// resolved against the deck's folder.
fn music_file(
    written: Option<&str>,
    folder: &Path,
    slide: Option<usize>,
    problems: &mut Problems,
) -> Option<PathBuf> {
    match written.map(str::trim) {
        None | Some("off") => None,
        Some("") => {
            problems.add(
                slide,
                "music",
                "empty; give an audio file, or \"off\" for no music",
            );
            None
        }
        Some(rel) => {
            let resolved = folder.join(rel);
            check_readable(&resolved, rel, slide, "music", problems);
            Some(resolved)
        }
    }
}

fn check_readable(
    path: &Path,
    written: &str,
    slide: Option<usize>,
    field: &str,
    problems: &mut Problems,
) {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.add(
                slide,
                field,
                format!("`{written}` not found (looked for {})", path.display()),
            );
        }
        Err(e) => problems.add(slide, field, format!("`{written}` cannot be read: {e}")),
        Ok(meta) if !meta.is_file() => {
            problems.add(slide, field, format!("`{written}` is not a file"));
        }
        Ok(meta) if meta.len() == 0 => {
            problems.add(slide, field, format!("`{written}` is empty"));
        }
        Ok(_) => {
            if let Err(e) = std::fs::File::open(path) {
                problems.add(slide, field, format!("`{written}` cannot be read: {e}"));
            }
        }
    }
}

fn check_transition(
    t: Option<&TransitionFile>,
    slide: Option<usize>,
    problems: &mut Problems,
) -> Transition {
    let (kind, duration, field) = match t {
        None => return Transition::Cut,
        Some(TransitionFile::Name(kind)) => (kind.as_str(), None, "transition"),
        Some(TransitionFile::Full { kind, duration }) => {
            (kind.as_str(), *duration, "transition.kind")
        }
    };
    match kind {
        "cut" => Transition::Cut,
        "fade" => match duration {
            None => Transition::Fade {
                duration: DEFAULT_FADE,
            },
            Some(d) if d.is_finite() && d > 0.0 && d <= 60.0 => Transition::Fade {
                duration: Duration::from_secs_f64(d),
            },
            Some(d) => {
                problems.add(
                    slide,
                    "transition.duration",
                    format!("{d} is not a usable fade length; give seconds above 0 (at most 60)"),
                );
                Transition::Cut
            }
        },
        other => {
            problems.add(
                slide,
                field,
                format!("unknown transition `{other}`; use cut or fade"),
            );
            Transition::Cut
        }
    }
}

/// The slide's presenter: slide overrides over deck defaults over built-in
/// defaults. `None` when a required field is missing (reported).
fn merge_presenter(
    ctx: &SlideContext<'_>,
    s: &SlideFile,
    slide: &PresenterParts,
    avatar_reported: &mut bool,
    problems: &mut Problems,
) -> Option<Presenter> {
    let deck = ctx.deck_parts;
    let n = Some(ctx.number);
    // A field the file set but that failed its check was reported already;
    // fall back to the default for the merge so no second problem follows.
    let provider = slide
        .provider
        .clone()
        .or_else(|| deck.provider.clone())
        .unwrap_or_else(|| "local".to_string());

    let avatar = match slide.avatar.clone().or_else(|| deck.avatar.clone()) {
        Some(a) => a,
        None if provider == "elai" => {
            let written_anywhere =
                s.presenter.avatar.is_some() || ctx.deck_presenter.avatar.is_some();
            if !written_anywhere {
                let from_deck = s.presenter.provider.is_none();
                if !from_deck {
                    problems.add(
                        n,
                        "presenter.avatar",
                        "required for provider elai (an avatar code such as `gia.casual`)",
                    );
                } else if !*avatar_reported {
                    *avatar_reported = true;
                    problems.add(
                        None,
                        "presenter.avatar",
                        "required for provider elai (an avatar code such as `gia.casual`)",
                    );
                }
            }
            return None;
        }
        None => "default".to_string(),
    };

    let layout_name = slide
        .layout
        .or(deck.layout)
        .unwrap_or(LayoutName::PictureInPicture);
    let layout = match layout_name {
        LayoutName::PictureInPicture => {
            let placement = slide
                .placement
                .clone()
                .or_else(|| deck.placement.clone())
                .unwrap_or(Placement::Corner {
                    corner: super::Corner::BottomRight,
                    margin: DEFAULT_MARGIN,
                    scale: DEFAULT_SCALE,
                });
            Layout::PictureInPicture(placement)
        }
        LayoutName::SideBySide => Layout::SideBySide,
        LayoutName::SplitScreen => Layout::SplitScreen {
            ratio: slide
                .split_ratio
                .or(deck.split_ratio)
                .unwrap_or(DEFAULT_SPLIT_RATIO),
        },
    };
    let avatar_background = slide
        .avatar_background
        .or(deck.avatar_background)
        .unwrap_or(Rgb::GREEN);
    let shape = match slide.shape.or(deck.shape).unwrap_or(ShapeName::Rectangle) {
        ShapeName::Rectangle => Shape::Rectangle,
        ShapeName::Circle => Shape::Circle,
        ShapeName::ChromaKey => Shape::ChromaKey {
            key: slide
                .key_color
                .or(deck.key_color)
                .unwrap_or(avatar_background),
            similarity: slide
                .key_similarity
                .or(deck.key_similarity)
                .unwrap_or(DEFAULT_SIMILARITY),
            blend: slide.key_blend.or(deck.key_blend).unwrap_or(DEFAULT_BLEND),
        },
    };
    Some(Presenter {
        provider,
        avatar,
        voice: slide.voice.clone().or_else(|| deck.voice.clone()),
        voice_provider: slide
            .voice_provider
            .clone()
            .or_else(|| deck.voice_provider.clone()),
        language: slide.language.clone().or_else(|| deck.language.clone()),
        layout,
        shape,
        avatar_background,
    })
}
