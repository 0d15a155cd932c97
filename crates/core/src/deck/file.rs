//! The deck file as written by a user: every field optional, checked later
//! by `validate` so all problems are reported at once.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Corner, DeckError, Quality, QualityLevel, Rect};

/// A deck file before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeckFile {
    pub title: Option<String>,
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
pub struct OutputFile {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<u32>,
    pub background: Option<String>,
    #[serde(default, deserialize_with = "quality")]
    pub quality: Option<Quality>,
}

/// Presenter fields; used for the deck defaults and per-slide overrides.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenterFile {
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
pub enum PlacementFile {
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
pub struct SlideFile {
    /// Background image, relative to the deck file.
    pub image: Option<String>,
    pub script: Option<String>,
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
pub enum TransitionFile {
    Name(String),
    Full { kind: String, duration: Option<f64> },
}

impl DeckFile {
    /// Parse deck text; the extension of `path` picks JSON (`.json`) or TOML.
    pub fn parse(text: &str, path: &Path) -> Result<DeckFile, DeckError> {
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
