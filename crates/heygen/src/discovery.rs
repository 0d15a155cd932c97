//! What a HeyGen account can use: avatars, talking photos and voices, as
//! typed lists and as the tables `slidecast heygen avatars|voices` prints.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// An avatar or a talking photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Avatar {
    /// What a deck writes in `presenter.avatar` (`photo:<id>` for a
    /// talking photo).
    pub code: String,
    /// HeyGen's name for it.
    pub name: String,
    /// `female`, `male`, ... when given.
    pub gender: Option<String>,
    /// True for a talking photo.
    pub talking_photo: bool,
}

/// A voice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voice {
    /// The `voice_id` a deck writes in `presenter.voice`.
    pub id: String,
    /// HeyGen's name for it.
    pub name: String,
    /// Its language, when given.
    pub language: Option<String>,
    /// `female`, `male`, ... when given.
    pub gender: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// The avatars and talking photos of a `v2/avatars` answer.
pub fn parse_avatars(answer: &Value) -> Vec<Avatar> {
    let data = answer.get("data").unwrap_or(answer);
    let list = |key: &str| {
        data.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut out: Vec<Avatar> = list("avatars")
        .iter()
        .filter_map(|a| {
            Some(Avatar {
                code: text(a, "avatar_id")?,
                name: text(a, "avatar_name").unwrap_or_default(),
                gender: text(a, "gender"),
                talking_photo: false,
            })
        })
        .collect();
    out.extend(list("talking_photos").iter().filter_map(|p| {
        Some(Avatar {
            code: format!(
                "{}{}",
                crate::wire::PHOTO_PREFIX,
                text(p, "talking_photo_id")?
            ),
            name: text(p, "talking_photo_name").unwrap_or_default(),
            gender: None,
            talking_photo: true,
        })
    }));
    out
}

/// The voices of a `v2/voices` answer.
pub fn parse_voices(answer: &Value) -> Vec<Voice> {
    let data = answer.get("data").unwrap_or(answer);
    data.get("voices")
        .and_then(Value::as_array)
        .map(|voices| {
            voices
                .iter()
                .filter_map(|v| {
                    Some(Voice {
                        id: text(v, "voice_id")?,
                        name: text(v, "name").unwrap_or_default(),
                        language: text(v, "language"),
                        gender: text(v, "gender"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A plain-text table of avatars.
pub struct AvatarTable<'a>(pub &'a [Avatar]);

impl fmt::Display for AvatarTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<40}  {:<24}  {:<8}  kind",
            "avatar (deck code)", "name", "gender"
        )?;
        for a in self.0 {
            writeln!(
                f,
                "{:<40}  {:<24}  {:<8}  {}",
                a.code,
                a.name,
                a.gender.as_deref().unwrap_or("-"),
                if a.talking_photo {
                    "talking photo"
                } else {
                    "avatar"
                }
            )?;
        }
        Ok(())
    }
}

/// A plain-text table of voices.
pub struct VoiceTable<'a>(pub &'a [Voice]);

impl fmt::Display for VoiceTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<36}  {:<24}  {:<16}  gender",
            "voice id", "name", "language"
        )?;
        for v in self.0 {
            writeln!(
                f,
                "{:<36}  {:<24}  {:<16}  {}",
                v.id,
                v.name,
                v.language.as_deref().unwrap_or("-"),
                v.gender.as_deref().unwrap_or("-")
            )?;
        }
        Ok(())
    }
}
