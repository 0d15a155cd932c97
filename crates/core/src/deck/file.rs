//! The deck file as written by a user: every field optional, checked later
//! by `validate` so all problems are reported at once.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Corner, DeckError, DeckProblem, Quality, QualityLevel, Rect};

/// A deck file before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeckFile {
    pub title: Option<String>,
    /// Background music under every slide (a slide may change or stop it).
    pub music: Option<String>,
    /// No avatar anywhere: every slide is slide-only.
    #[serde(default)]
    pub slide_only: bool,
    #[serde(default)]
    pub output: OutputFile,
    #[serde(default)]
    pub presenter: PresenterFile,
    #[serde(default)]
    pub slides: Vec<SlideFile>,
}

/// The `[output]` table before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputFile {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<u32>,
    pub background: Option<String>,
    #[serde(default, deserialize_with = "quality")]
    pub quality: Option<Quality>,
    #[serde(default, deserialize_with = "loudness")]
    pub loudness: Option<LoudnessFile>,
    /// The music's level against the narration's (dB).
    pub music_volume: Option<f64>,
}

/// `loudness = -16` (LUFS) or `loudness = "off"` / `false`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum LoudnessFile {
    Off,
    Lufs(f64),
}

/// Presenter fields; used for the deck defaults and per-slide overrides.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresenterFile {
    pub provider: Option<String>,
    pub avatar: Option<String>,
    pub voice: Option<String>,
    pub voice_provider: Option<String>,
    pub language: Option<String>,
    /// `picture-in-picture`, `side-by-side` or `split-screen`.
    pub layout: Option<String>,
    #[serde(default, deserialize_with = "placement")]
    pub placement: Option<PlacementFile>,
    /// Slide share of the width in `split-screen` (default 0.7).
    pub split_ratio: Option<f32>,
    /// `rectangle`, `circle` or `chroma-key`.
    pub shape: Option<String>,
    /// Key colour for `chroma-key` (default: `avatar_background`).
    pub key_color: Option<String>,
    pub key_similarity: Option<f32>,
    pub key_blend: Option<f32>,
    /// The colour the vendor renders behind the avatar.
    pub avatar_background: Option<String>,
}

/// `{ corner, margin, scale }` or `{ x, y, width, height }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub(crate) enum PlacementFile {
    Corner {
        corner: Corner,
        margin: Option<u32>,
        scale: Option<f32>,
    },
    Rect(Rect),
}

/// One `[[slides]]` entry before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlideFile {
    /// Background image, relative to the deck file.
    pub image: Option<String>,
    /// The slide's title: its chapter name.
    pub title: Option<String>,
    pub script: Option<String>,
    /// Music under this slide instead of the deck's; `"off"` for none.
    pub music: Option<String>,
    /// Seconds, for a slide without narration.
    pub duration: Option<f64>,
    /// `"cut"`, `"fade"`, or `{ kind = "fade", duration = 0.5 }`.
    pub transition: Option<TransitionFile>,
    /// This slide has no presenter even though the deck has one.
    #[serde(default)]
    pub slide_only: bool,
    #[serde(default)]
    pub presenter: PresenterFile,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum TransitionFile {
    Name(String),
    Full { kind: String, duration: Option<f64> },
}

impl DeckFile {
    /// Parse deck text; the extension of `path` picks JSON (`.json`) or TOML.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<DeckFile, DeckError> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let syntax = |message: String| DeckError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        if is_json {
            serde_json::from_str(text).map_err(|e| syntax(e.to_string()))
        } else {
            toml::from_str(text).map_err(|e| syntax(toml_message(&e, text)))
        }
    }
}

const TOP_FIELDS: &[&str] = &[
    "title",
    "music",
    "slide_only",
    "output",
    "presenter",
    "slides",
];
const OUTPUT_FIELDS: &[&str] = &[
    "width",
    "height",
    "fps",
    "background",
    "quality",
    "loudness",
    "music_volume",
];
const PRESENTER_FIELDS: &[&str] = &[
    "provider",
    "avatar",
    "voice",
    "voice_provider",
    "language",
    "layout",
    "placement",
    "split_ratio",
    "shape",
    "key_color",
    "key_similarity",
    "key_blend",
    "avatar_background",
];
const SLIDE_FIELDS: &[&str] = &[
    "image",
    "title",
    "script",
    "music",
    "duration",
    "transition",
    "slide_only",
    "presenter",
];

/// The deck text as a generic tree (syntax errors carry line and column).
fn tree(text: &str, path: &Path) -> Result<serde_json::Value, DeckError> {
    let syntax = |message: String| DeckError::Syntax {
        path: path.to_path_buf(),
        message,
    };
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(text).map_err(|e| syntax(e.to_string()))
    } else {
        toml::from_str(text).map_err(|e| syntax(toml_message(&e, text)))
    }
}

/// Every misspelt or unknown field of the deck, each naming its slide, with
/// the nearest known name when there is one. Tables nested deeper
/// (placement, quality, transition) are checked when they are parsed.
pub(super) fn unknown_fields(text: &str, path: &Path) -> Result<Vec<DeckProblem>, DeckError> {
    let root = tree(text, path)?;
    let mut found = Vec::new();
    let mut check =
        |value: &serde_json::Value, known: &[&str], prefix: &str, slide: Option<usize>| {
            let Some(table) = value.as_object() else {
                return;
            };
            for key in table.keys().filter(|k| !known.contains(&k.as_str())) {
                let message = match nearest(key, known) {
                    Some(near) => format!("unknown field; did you mean `{near}`?"),
                    None => format!("unknown field; expected one of {}", known.join(", ")),
                };
                found.push(DeckProblem {
                    file: path.to_path_buf(),
                    slide,
                    field: format!("{prefix}{key}"),
                    message,
                });
            }
        };
    check(&root, TOP_FIELDS, "", None);
    check(&root["output"], OUTPUT_FIELDS, "output.", None);
    check(&root["presenter"], PRESENTER_FIELDS, "presenter.", None);
    if let Some(slides) = root["slides"].as_array() {
        for (i, slide) in slides.iter().enumerate() {
            check(slide, SLIDE_FIELDS, "", Some(i + 1));
            check(
                &slide["presenter"],
                PRESENTER_FIELDS,
                "presenter.",
                Some(i + 1),
            );
        }
    }
    Ok(found)
}

/// The deck with unknown fields left out, or `None` when it still does not
/// fit the deck format (a wrong type somewhere).
pub(super) fn parse_known(text: &str, path: &Path) -> Option<DeckFile> {
    let mut root = tree(text, path).ok()?;
    let keep = |value: &mut serde_json::Value, known: &[&str]| {
        if let Some(table) = value.as_object_mut() {
            table.retain(|k, _| known.contains(&k.as_str()));
        }
    };
    keep(&mut root, TOP_FIELDS);
    if let Some(table) = root.as_object_mut() {
        for (key, value) in table.iter_mut() {
            match key.as_str() {
                "output" => keep(value, OUTPUT_FIELDS),
                "presenter" => keep(value, PRESENTER_FIELDS),
                "slides" => {
                    for slide in value.as_array_mut().into_iter().flatten() {
                        keep(slide, SLIDE_FIELDS);
                        if let Some(p) = slide.get_mut("presenter") {
                            keep(p, PRESENTER_FIELDS);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    serde_json::from_value(root).ok()
}

/// The known name closest to `key` (at most two edits away).
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `line L, column C: message`, from a TOML error's byte span.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim_end();
    match e.span() {
        Some(span) => {
            // The span is in bytes; fall back to the whole text if it does
            // not fall on a character boundary.
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {msg}")
        }
        None => msg.to_string(),
    }
}

/// `quality`, with a message that says what is accepted (serde's own for an
/// untagged enum only says that nothing matched).
fn loudness<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<LoudnessFile>, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(d)?;
    let hint = "give a target in LUFS such as -16, or \"off\" to keep the rendered levels";
    match &value {
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|v| Some(LoudnessFile::Lufs(v)))
            .ok_or_else(|| D::Error::custom(format!("loudness: {hint}"))),
        serde_json::Value::String(s) if s == "off" => Ok(Some(LoudnessFile::Off)),
        serde_json::Value::Bool(false) => Ok(Some(LoudnessFile::Off)),
        _ => Err(D::Error::custom(format!("loudness: {hint}"))),
    }
}

fn quality<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Quality>, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(d)?;
    let hint = "use draft, standard, high or { preset = \"veryfast\", crf = 23 }";
    match &value {
        serde_json::Value::String(level) => match level.as_str() {
            "draft" => Ok(Some(Quality::Level(QualityLevel::Draft))),
            "standard" => Ok(Some(Quality::Level(QualityLevel::Standard))),
            "high" => Ok(Some(Quality::Level(QualityLevel::High))),
            other => Err(D::Error::custom(format!(
                "unknown quality `{other}`; {hint}"
            ))),
        },
        serde_json::Value::Object(_) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Custom {
                preset: String,
                crf: u8,
            }
            let c: Custom = serde_json::from_value(value)
                .map_err(|e| D::Error::custom(format!("quality: {e}; {hint}")))?;
            Ok(Some(Quality::Custom {
                preset: c.preset,
                crf: c.crf,
            }))
        }
        _ => Err(D::Error::custom(format!("quality: {hint}"))),
    }
}

/// `placement`, with a message that says what is accepted.
fn placement<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PlacementFile>, D::Error> {
    use serde::de::Error;
    let value = serde_json::Value::deserialize(d)?;
    let hint = "use { corner = \"bottom-right\", margin = 40, scale = 0.3 } or { x, y, width, height } in pixels";
    let is_corner = value.get("corner").is_some();
    let parsed = if is_corner {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CornerFile {
            corner: Corner,
            margin: Option<u32>,
            scale: Option<f32>,
        }
        serde_json::from_value::<CornerFile>(value).map(|c| PlacementFile::Corner {
            corner: c.corner,
            margin: c.margin,
            scale: c.scale,
        })
    } else {
        serde_json::from_value::<Rect>(value).map(PlacementFile::Rect)
    };
    parsed
        .map(Some)
        .map_err(|e| D::Error::custom(format!("placement: {e}; {hint}")))
}
