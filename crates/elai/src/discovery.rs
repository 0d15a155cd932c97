//! What an account can use: avatars (with variants) and voices, as typed
//! lists and as plain-text tables for `slidecast elai avatars`.

use std::fmt;

use serde::Serialize;

/// One avatar an account can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Avatar {
    /// Avatar code, the part before the dot in a deck's `avatar = "gia.casual"`.
    pub code: String,
    pub name: String,
    pub gender: Option<String>,
    /// Canvas PNG URL of the avatar itself (used when it has no variants).
    pub canvas: Option<String>,
    pub variants: Vec<AvatarVariant>,
    /// Elai's state of the avatar: only [`Avatar::USABLE`] renders (others
    /// are in training, disabled, ...). `None` when the list gave none.
    pub status: Option<u8>,
    /// Longest speech per slide, in seconds (60 for stock avatars).
    pub limit: Option<u32>,
}

/// A look of an avatar (outfit, setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvatarVariant {
    /// Variant code, the part after the dot.
    pub code: String,
    pub name: String,
    pub canvas: Option<String>,
    /// Longest speech per slide for this look, in seconds.
    pub limit: Option<u32>,
}

impl Avatar {
    /// The only `status` that renders.
    pub const USABLE: u8 = 2;

    /// The speech limit of `variant` (or of the avatar), in seconds.
    pub fn limit_of(&self, variant: Option<&str>) -> Option<u32> {
        variant
            .and_then(|v| self.variants.iter().find(|x| x.code == v))
            .and_then(|v| v.limit)
            .or(self.limit)
    }

    /// The codes a deck can name for this avatar: `{avatar}.{variant}` for
    /// each variant, or the bare avatar code when it has none.
    pub fn full_codes(&self) -> Vec<String> {
        if self.variants.is_empty() {
            vec![self.code.clone()]
        } else {
            self.variants
                .iter()
                .map(|v| format!("{}.{}", self.code, v.code))
                .collect()
        }
    }
}

/// Find the avatar and its canvas PNG URL for a deck's avatar code
/// (`{avatar}.{variant}` or a bare `{avatar}`). A bare code takes the
/// avatar's own canvas, or its first variant's.
pub fn find_avatar<'a>(avatars: &'a [Avatar], code: &str) -> Option<(&'a Avatar, &'a str)> {
    let (avatar_code, variant_code) = match code.split_once('.') {
        Some((a, v)) => (a, Some(v)),
        None => (code, None),
    };
    let avatar = avatars.iter().find(|a| a.code == avatar_code)?;
    let canvas = match variant_code {
        Some(v) => avatar
            .variants
            .iter()
            .find(|x| x.code == v)?
            .canvas
            .as_deref()?,
        None => avatar
            .canvas
            .as_deref()
            .or_else(|| avatar.variants.iter().find_map(|x| x.canvas.as_deref()))?,
    };
    Some((avatar, canvas))
}

/// A voice an account can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voice {
    /// What a deck's `voice` field takes, e.g. `en-US-AriaNeural`.
    pub id: String,
    pub name: String,
    pub gender: Option<String>,
    /// Language name (or locale) the voice speaks.
    pub language: Option<String>,
    /// What a deck's `voice_provider` field takes (`azure`, `elevenlabs`, ...).
    pub provider: Option<String>,
}

/// Avatars as a plain-text table, one row per usable code.
///
/// ```text
/// CODE          NAME  VARIANT   GENDER
/// gia.casual    Gia   Casual    female
/// ```
pub struct AvatarTable<'a>(pub &'a [Avatar]);

impl fmt::Display for AvatarTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![[
            "CODE".to_string(),
            "NAME".to_string(),
            "VARIANT".to_string(),
            "GENDER".to_string(),
        ]];
        for a in self.0 {
            let gender = a.gender.clone().unwrap_or_else(|| "-".into());
            if a.variants.is_empty() {
                rows.push([a.code.clone(), a.name.clone(), "-".into(), gender]);
            } else {
                for v in &a.variants {
                    rows.push([
                        format!("{}.{}", a.code, v.code),
                        a.name.clone(),
                        v.name.clone(),
                        gender.clone(),
                    ]);
                }
            }
        }
        write_table(f, &rows)
    }
}

/// Voices as a plain-text table.
pub struct VoiceTable<'a>(pub &'a [Voice]);

impl fmt::Display for VoiceTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let mut rows = vec![[
            "VOICE".to_string(),
            "NAME".to_string(),
            "GENDER".to_string(),
            "LANGUAGE".to_string(),
            "PROVIDER".to_string(),
        ]];
        for v in self.0 {
            rows.push([
                v.id.clone(),
                v.name.clone(),
                dash(&v.gender),
                dash(&v.language),
                dash(&v.provider),
            ]);
        }
        write_table(f, &rows)
    }
}

fn write_table<const N: usize>(f: &mut fmt::Formatter<'_>, rows: &[[String; N]]) -> fmt::Result {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gia() -> Avatar {
        Avatar {
            code: "gia".into(),
            name: "Gia".into(),
            gender: Some("female".into()),
            canvas: Some("top.png".into()),
            variants: vec![
                AvatarVariant {
                    code: "casual".into(),
                    name: "Casual".into(),
                    canvas: Some("casual.png".into()),
                    limit: Some(60),
                },
                AvatarVariant {
                    code: "business".into(),
                    name: "Business".into(),
                    canvas: Some("business.png".into()),
                    limit: None,
                },
            ],
            status: Some(2),
            limit: Some(300),
        }
    }

    #[test]
    fn codes_resolve_to_canvas_urls() {
        let list = [gia()];
        assert_eq!(
            find_avatar(&list, "gia.business").unwrap().1,
            "business.png"
        );
        assert_eq!(find_avatar(&list, "gia").unwrap().1, "top.png");
        assert!(find_avatar(&list, "gia.formal").is_none());
        assert!(find_avatar(&list, "dan.casual").is_none());
    }

    #[test]
    fn table_has_a_row_per_code() {
        let text = AvatarTable(&[gia()]).to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("CODE"));
        assert!(lines[1].starts_with("gia.casual") && lines[1].ends_with("female"));
        assert_eq!(gia().full_codes(), vec!["gia.casual", "gia.business"]);
    }
}
