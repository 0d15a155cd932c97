//! A deck from a folder of slide images (`slidecast init FOLDER`), and the
//! pieces [`import`](crate::import) shares: natural sort of image names,
//! notes.md sections, the deck.toml text.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{DeckgenError, Generated};

/// File extensions taken as slide images.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"];

/// Seconds a slide without narration stays on screen in a generated deck.
pub const DEFAULT_SILENT_SECONDS: f64 = 5.0;

/// Compare two names the way people number files: digit runs compare by
/// value (`2` before `10`, `02` equal in rank to `2`), the rest ignoring case.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let a_digit = a.starts_with(|c: char| c.is_ascii_digit());
        let b_digit = b.starts_with(|c: char| c.is_ascii_digit());
        let (ca, ra) = split_run(a, a_digit);
        let (cb, rb) = split_run(b, b_digit);
        let ord = match (a_digit, b_digit) {
            (true, true) => {
                let (ta, tb) = (ca.trim_start_matches('0'), cb.trim_start_matches('0'));
                ta.len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| ca.len().cmp(&cb.len()))
            }
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => ca.to_lowercase().cmp(&cb.to_lowercase()).then(ca.cmp(cb)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (a, b) = (ra, rb);
    }
}

/// The leading run of digits (or of non-digits) and the rest.
fn split_run(s: &str, digits: bool) -> (&str, &str) {
    let end = s
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(end)
}

/// The slide images directly inside `folder`, in natural order.
pub fn slide_images(folder: &Path) -> Result<Vec<PathBuf>, DeckgenError> {
    let entries = std::fs::read_dir(folder).map_err(|e| DeckgenError::io(folder, e))?;
    let mut images = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DeckgenError::io(folder, e))?;
        let path = entry.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if is_image && path.is_file() {
            images.push(path);
        }
    }
    images.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(images)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A notes.md: an optional `# Title` and one script per `## ` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    /// The `# ` heading.
    pub title: Option<String>,
    /// One script per `## ` section, in order.
    pub scripts: Vec<String>,
}

/// Parse notes: a leading `# ` heading is the title; each `## ` heading
/// starts the next slide's script (the heading text itself is not spoken).
/// Paragraphs are kept (blank line between), other whitespace collapsed.
pub fn parse_notes(text: &str) -> Notes {
    let mut notes = Notes::default();
    let mut current: Option<Vec<String>> = None;
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, section: &mut Option<Vec<String>>| {
        if let (Some(section), false) = (section.as_mut(), paragraph.is_empty()) {
            section.push(paragraph.join(" "));
        }
        paragraph.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim();
        let is_section =
            trimmed == "##" || trimmed.starts_with("## ") || trimmed.starts_with("##\t");
        if is_section {
            flush(&mut paragraph, &mut current);
            if let Some(done) = current.take() {
                notes.scripts.push(done.join("\n\n"));
            }
            current = Some(Vec::new());
        } else if let Some(title) = trimmed.strip_prefix("# ") {
            if current.is_none() && notes.title.is_none() {
                notes.title = Some(title.trim().to_string());
            }
        } else if trimmed.is_empty() {
            flush(&mut paragraph, &mut current);
        } else {
            paragraph.extend(trimmed.split_whitespace());
        }
    }
    flush(&mut paragraph, &mut current);
    if let Some(done) = current.take() {
        notes.scripts.push(done.join("\n\n"));
    }
    notes
}

/// One slide of a generated deck.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSlide {
    /// Image path as written in the deck (relative to the deck file).
    pub image: String,
    /// Narration; empty makes a slide-only slide of [`DEFAULT_SILENT_SECONDS`].
    pub script: String,
    /// The slide's title (its chapter name), when the source has one.
    pub title: Option<String>,
}

/// A deck to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeck {
    /// The deck's title.
    pub title: String,
    /// A comment for the top of the file (where it came from).
    pub origin: String,
    /// The slides, in order.
    pub slides: Vec<NewSlide>,
}

/// A TOML string literal (escaped by the toml crate, so any text is safe).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The deck.toml text. It uses the offline `local` presenter so the first
/// render needs no account; every value is a documented deck field.
pub fn deck_toml(deck: &NewDeck) -> String {
    let mut out = String::new();
    for line in deck.origin.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "# Check it with `slidecast validate`, render it with `slidecast render`.\n"
    );
    let _ = writeln!(out, "title = {}\n", toml_str(&deck.title));
    out.push_str("[output]\nwidth = 1920\nheight = 1080\nfps = 25\nquality = \"standard\"\n\n");
    out.push_str(
        "[presenter]\nprovider = \"local\"  # local (offline) | elai | mock\n\
         layout = \"picture-in-picture\"\n\
         placement = { corner = \"bottom-right\", margin = 40, scale = 0.28 }\n\
         shape = \"circle\"\n",
    );
    for slide in &deck.slides {
        let _ = write!(out, "\n[[slides]]\nimage = {}\n", toml_str(&slide.image));
        if let Some(title) = slide.title.as_deref().filter(|t| !t.trim().is_empty()) {
            let _ = writeln!(out, "title = {}", toml_str(title.trim()));
        }
        if slide.script.trim().is_empty() {
            let _ = writeln!(
                out,
                "duration = {DEFAULT_SILENT_SECONDS:.1}  # no narration yet: add script = \"...\" to narrate this slide"
            );
        } else {
            let _ = writeln!(out, "script = {}", toml_str(slide.script.trim()));
        }
    }
    out
}

/// Write `text` to `path` atomically ([`slidecast_core::atomic`]).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), DeckgenError> {
    slidecast_core::atomic::write_atomic(path, text.as_bytes())
        .map_err(|e| DeckgenError::io(path, e))
}

/// Refuse to overwrite an existing deck unless `force`.
pub fn check_overwrite(deck_path: &Path, force: bool) -> Result<(), DeckgenError> {
    if deck_path.exists() && !force {
        return Err(DeckgenError::Exists(deck_path.to_path_buf()));
    }
    Ok(())
}

/// Read scripts from a notes file: `explicit` if given, else `default` if
/// that file exists.
pub fn read_notes(
    explicit: Option<&Path>,
    default: Option<&Path>,
) -> Result<Option<Notes>, DeckgenError> {
    let path = match (explicit, default) {
        (Some(p), _) => p,
        (None, Some(d)) if d.is_file() => d,
        _ => return Ok(None),
    };
    let text = std::fs::read_to_string(path).map_err(|e| DeckgenError::io(path, e))?;
    Ok(Some(parse_notes(&text)))
}

/// Pair images with scripts (by position); a count mismatch is noted in
/// `notes`.
pub fn pair_scripts(
    images: Vec<String>,
    scripts: &[String],
    source: &str,
    notes: &mut Vec<String>,
) -> Vec<NewSlide> {
    if !scripts.is_empty() && scripts.len() != images.len() {
        notes.push(format!(
            "{source} has {} `## ` section(s) for {} slide(s); scripts were matched in order",
            scripts.len(),
            images.len()
        ));
    }
    images
        .into_iter()
        .enumerate()
        .map(|(i, image)| NewSlide {
            image,
            script: scripts.get(i).cloned().unwrap_or_default(),
            title: None,
        })
        .collect()
}

/// Write `FOLDER/deck.toml` for the slide images in `folder`, scripts from
/// `notes` (default: `FOLDER/notes.md` when it exists).
pub fn init(folder: &Path, notes: Option<&Path>, force: bool) -> Result<Generated, DeckgenError> {
    if !folder.is_dir() {
        return Err(DeckgenError::bad_input(
            folder,
            "not a folder; give the folder that holds the slide images",
        ));
    }
    let deck_path = folder.join("deck.toml");
    check_overwrite(&deck_path, force)?;
    let images = slide_images(folder)?;
    if images.is_empty() {
        return Err(DeckgenError::bad_input(
            folder,
            format!(
                "no slide images here; put one image per slide ({}) in the folder, named so they sort in order (1.png, 2.png, ... 10.png)",
                IMAGE_EXTENSIONS.join(", ")
            ),
        ));
    }
    let notes = read_notes(notes, Some(&folder.join("notes.md")))?.unwrap_or_default();
    let names: Vec<String> = images.iter().map(|p| file_name(p)).collect();
    let mut remarks = Vec::new();
    let slides = pair_scripts(names, &notes.scripts, "notes.md", &mut remarks);
    let title = notes.title.clone().unwrap_or_else(|| folder_title(folder));
    let deck = NewDeck {
        title,
        origin: format!(
            "Written by `slidecast init` from the images in this folder{}.",
            if notes.scripts.is_empty() {
                ""
            } else {
                " and notes.md"
            }
        ),
        slides,
    };
    write_atomic(&deck_path, &deck_toml(&deck))?;
    Ok(Generated {
        deck_path,
        deck,
        notes: remarks,
    })
}

/// A title from a folder name: `quarterly-update` -> `Quarterly update`.
pub fn folder_title(folder: &Path) -> String {
    let name = std::fs::canonicalize(folder)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "Untitled deck".to_string());
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Untitled deck".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut names = vec![
            "slide10.png",
            "slide2.png",
            "Slide1.png",
            "slide02b.png",
            "a.png",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "a.png",
                "Slide1.png",
                "slide2.png",
                "slide02b.png",
                "slide10.png"
            ]
        );
        assert_eq!(natural_cmp("2", "10"), Ordering::Less);
        assert_eq!(natural_cmp("002", "2"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }

    #[test]
    fn notes_sections() {
        let notes = parse_notes(
            "# My talk\nintro ignored\n\n## Slide 1\nHello\nworld.\n\nSecond   para.\n## \n\n## Three\nBye.\n",
        );
        assert_eq!(notes.title.as_deref(), Some("My talk"));
        assert_eq!(
            notes.scripts,
            vec!["Hello world.\n\nSecond para.", "", "Bye."]
        );
    }

    #[test]
    fn deck_text_is_valid_toml_with_escaped_scripts() {
        let deck = NewDeck {
            title: "A \"quoted\" title".into(),
            origin: "test".into(),
            slides: vec![
                NewSlide {
                    image: "1.png".into(),
                    script: "Line one.\n\nLine \"two\" \\ end.".into(),
                    title: Some("A \"quoted\" title".into()),
                },
                NewSlide {
                    image: "2.png".into(),
                    script: String::new(),
                    title: None,
                },
            ],
        };
        let value: toml::Value = toml::from_str(&deck_toml(&deck)).unwrap();
        let slides = value["slides"].as_array().unwrap();
        assert_eq!(
            slides[0]["script"].as_str(),
            Some("Line one.\n\nLine \"two\" \\ end.")
        );
        assert_eq!(slides[1]["duration"].as_float(), Some(5.0));
        assert_eq!(value["title"].as_str(), Some("A \"quoted\" title"));
        assert_eq!(slides[0]["title"].as_str(), Some("A \"quoted\" title"));
        assert!(slides[1].get("title").is_none());
    }
}
