//! A deck folder from a presentation (`slidecast import FILE.pdf|FILE.pptx`).
//!
//! - PDF: every page rendered to PNG by poppler's `pdftoppm`; scripts from
//!   `--notes` if given; slide titles from the PDF's outline (bookmarks, as
//!   PowerPoint, Keynote, LibreOffice and Beamer export them), read by
//!   poppler's `pdftohtml -xml`: a page's title is the first outline entry
//!   that points at it.
//! - PPTX: the speaker notes become the scripts (read straight from the zip:
//!   `ppt/presentation.xml` for the slide order, each slide's relationships
//!   for its notes page, the notes page's body placeholder for the text).
//!   Slide images come from LibreOffice (`soffice --headless --convert-to
//!   pdf`, then `pdftoppm`) when it is installed; otherwise the deck is
//!   written with the image paths it expects and a note on how to fill them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::folder::{self as deckgen, NewDeck, NewSlide};
use crate::{DeckgenError, Generated};

/// Where import writes and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportOptions {
    /// The PDF or PPTX.
    pub file: PathBuf,
    /// Deck folder (created); default: beside the file, named after it.
    pub output: Option<PathBuf>,
    /// A notes.md whose `## ` sections are the scripts, in slide order.
    pub notes: Option<PathBuf>,
    /// Pixel width of rendered slide images.
    pub width: u32,
    /// Overwrite an existing deck.toml.
    pub force: bool,
}

impl ImportOptions {
    /// Import `file` beside itself, 1920 px wide slides.
    pub fn new(file: impl Into<PathBuf>) -> ImportOptions {
        ImportOptions {
            file: file.into(),
            output: None,
            notes: None,
            width: 1920,
            force: false,
        }
    }
}

/// Import a PDF or PPTX into a deck folder.
pub fn import(opts: &ImportOptions) -> Result<Generated, DeckgenError> {
    let ext = opts
        .file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !opts.file.is_file() {
        return Err(DeckgenError::bad_input(&opts.file, "no such file"));
    }
    let dir = match &opts.output {
        Some(d) => d.clone(),
        None => {
            let stem = opts
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "deck".into());
            opts.file.parent().unwrap_or(Path::new(".")).join(stem)
        }
    };
    let deck_path = dir.join("deck.toml");
    deckgen::check_overwrite(&deck_path, opts.force)?;
    let slides_dir = dir.join("slides");
    std::fs::create_dir_all(&slides_dir).map_err(|e| DeckgenError::io(&slides_dir, e))?;
    let mut notes = Vec::new();
    let deck = match ext.as_deref() {
        Some("pdf") => import_pdf(opts, &slides_dir, &mut notes)?,
        Some("pptx") => import_pptx(opts, &slides_dir, &mut notes)?,
        _ => return Err(DeckgenError::bad_input(
            &opts.file,
            "import reads .pdf and .pptx files; for a folder of images use `slidecast init FOLDER`",
        )),
    };
    deckgen::write_atomic(&deck_path, &deckgen::deck_toml(&deck))?;
    Ok(Generated {
        deck_path,
        deck,
        notes,
    })
}

fn stem_title(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default();
    let mut chars = stem.trim().chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Imported deck".into(),
    }
}

fn import_pdf(
    opts: &ImportOptions,
    slides_dir: &Path,
    remarks: &mut Vec<String>,
) -> Result<NewDeck, DeckgenError> {
    let images = render_pdf(&opts.file, slides_dir, opts.width)?;
    let notes = deckgen::read_notes(opts.notes.as_deref(), None)?;
    let scripts = notes
        .as_ref()
        .map(|n| n.scripts.clone())
        .unwrap_or_default();
    let title = notes
        .and_then(|n| n.title)
        .unwrap_or_else(|| stem_title(&opts.file));
    let pages = images.len();
    let mut slides = deckgen::pair_scripts(images, &scripts, "the notes file", remarks);
    match pdf_outline(&opts.file) {
        Ok(outline) => {
            for (page, entry) in outline {
                if let Some(slide) = slides.get_mut(page.wrapping_sub(1)) {
                    slide.title.get_or_insert(entry);
                }
            }
        }
        Err(why) => remarks.push(format!("slide titles were not read: {why}")),
    }
    let titled = slides.iter().filter(|s| s.title.is_some()).count();
    Ok(NewDeck {
        title,
        origin: format!(
            "Written by `slidecast import` from {} ({pages} page(s), {titled} titled from its outline).",
            file_label(&opts.file),
        ),
        slides,
    })
}

/// The PDF's outline as `(page, title)` in document order (nested entries
/// after their parent), titles trimmed to one line of at most 200
/// characters; empty when the PDF has none.
fn pdf_outline(pdf: &Path) -> Result<Vec<(usize, String)>, String> {
    // `-f 1 -l 1`: the outline is the whole document's; no need for the
    // text of every page.
    let output = Command::new("pdftohtml")
        .args([
            "-xml", "-i", "-stdout", "-q", "-nodrm", "-f", "1", "-l", "1",
        ])
        .arg(pdf)
        .output()
        .map_err(|e| format!("pdftohtml: {e} (apt-get install poppler-utils)"))?;
    if !output.status.success() {
        return Err(format!(
            "pdftohtml: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let xml = String::from_utf8_lossy(&output.stdout);
    let mut reader = Reader::from_str(&xml);
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(usize, String)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == b"outline" => depth += 1,
            Ok(Event::End(e)) if e.name().as_ref() == b"outline" => depth = depth.saturating_sub(1),
            Ok(Event::Start(e)) if depth > 0 && e.name().as_ref() == b"item" => {
                let page = e
                    .try_get_attribute("page")
                    .ok()
                    .flatten()
                    .and_then(|a| String::from_utf8_lossy(&a.value).parse().ok());
                current = page.map(|p| (p, String::new()));
            }
            Ok(Event::Text(t)) => {
                if let (Some((_, text)), Ok(s)) = (current.as_mut(), t.unescape()) {
                    text.push_str(&s);
                }
            }
            Ok(Event::End(e)) if e.name().as_ref() == b"item" => {
                if let Some((page, text)) = current.take() {
                    let title: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    let title: String = title.chars().take(200).collect();
                    if !title.is_empty() {
                        entries.push((page, title));
                    }
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("pdftohtml's outline: {e}")),
            _ => {}
        }
    }
    Ok(entries)
}

fn file_label(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Render every page of `pdf` into `slides_dir` as `slide-N.png`; returns the
/// image paths relative to the deck folder (`slides/slide-N.png`), in order.
pub fn render_pdf(pdf: &Path, slides_dir: &Path, width: u32) -> Result<Vec<String>, DeckgenError> {
    // Clear images of an earlier import so a shorter deck leaves no strays.
    if let Ok(entries) = std::fs::read_dir(slides_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("slide-") && name.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let output = Command::new("pdftoppm")
        .arg("-png")
        .arg("-scale-to-x")
        .arg(width.to_string())
        .arg("-scale-to-y")
        .arg("-1")
        .arg(pdf)
        .arg(slides_dir.join("slide"))
        .output()
        .map_err(|e| {
            missing_or_io(
                "pdftoppm",
                "Install it with: apt-get install poppler-utils",
                pdf,
                e,
            )
        })?;
    if !output.status.success() {
        return Err(DeckgenError::bad_input(
            pdf,
            format!(
                "pdftoppm could not render it: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let images = deckgen::slide_images(slides_dir)?;
    if images.is_empty() {
        return Err(DeckgenError::bad_input(pdf, "the PDF has no pages"));
    }
    Ok(images
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| format!("slides/{}", n.to_string_lossy()))
        .collect())
}

fn missing_or_io(program: &str, hint: &str, input: &Path, e: std::io::Error) -> DeckgenError {
    if e.kind() == std::io::ErrorKind::NotFound {
        DeckgenError::MissingTool {
            program: program.into(),
            hint: hint.into(),
        }
    } else {
        DeckgenError::io(input, e)
    }
}

fn import_pptx(
    opts: &ImportOptions,
    slides_dir: &Path,
    remarks: &mut Vec<String>,
) -> Result<NewDeck, DeckgenError> {
    let pptx = read_pptx(&opts.file)?;
    let mut scripts: Vec<String> = pptx.slides.iter().map(|s| s.notes.clone()).collect();
    if let Some(notes) = deckgen::read_notes(opts.notes.as_deref(), None)? {
        scripts = notes.scripts;
    }
    let title = pptx.title.clone().unwrap_or_else(|| stem_title(&opts.file));
    let n = pptx.slides.len();
    let (images, how) = match office_program() {
        Some(office) => {
            let images = render_pptx(&office, &opts.file, slides_dir, opts.width)?;
            if images.len() != n {
                remarks.push(format!(
                    "LibreOffice produced {} page(s) for {n} slide(s) (hidden slides?); scripts were matched in order",
                    images.len()
                ));
            }
            (images, "slide images rendered by LibreOffice")
        }
        None => {
            let images: Vec<String> = (1..=n)
                .map(|i| format!("slides/slide-{}.png", pad(i, n)))
                .collect();
            remarks.push(format!(
                "LibreOffice is not installed, so the slide images were not made.\n  \
                 Export the slides as PNG (PowerPoint: File > Export > PNG; Keynote/Google Slides: download as PNG)\n  \
                 into {} named {} ... {},\n  \
                 or install LibreOffice (apt-get install libreoffice-impress) and run this import again.",
                slides_dir.display(),
                images.first().map_or("", |s| s.trim_start_matches("slides/")),
                images.last().map_or("", |s| s.trim_start_matches("slides/")),
            ));
            (images, "slide images still to be exported: see slides/")
        }
    };
    let with_notes = pptx.slides.iter().filter(|s| !s.notes.is_empty()).count();
    let titles: Vec<Option<String>> = pptx.slides.iter().map(|s| s.title.clone()).collect();
    Ok(NewDeck {
        title,
        origin: format!(
            "Written by `slidecast import` from {}: {n} slide(s), {with_notes} with speaker notes;\n{how}.",
            file_label(&opts.file)
        ),
        slides: images
            .into_iter()
            .enumerate()
            .map(|(i, image)| NewSlide {
                image,
                script: scripts.get(i).cloned().unwrap_or_default(),
                title: titles.get(i).cloned().flatten(),
            })
            .collect(),
    })
}

/// Zero-pad `i` to as many digits as `n` has, like pdftoppm names pages.
fn pad(i: usize, n: usize) -> String {
    format!("{i:0width$}", width = n.to_string().len())
}

/// LibreOffice's command, if installed.
fn office_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["soffice", "libreoffice"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn render_pptx(
    office: &Path,
    pptx: &Path,
    slides_dir: &Path,
    width: u32,
) -> Result<Vec<String>, DeckgenError> {
    // LibreOffice needs absolute paths throughout: with a relative `HOME`
    // or profile it fails with "Unspecified Application Error".
    let absolute = |p: &Path| std::fs::canonicalize(p).map_err(|e| DeckgenError::io(p, e));
    let pptx = absolute(pptx)?;
    let tmp = absolute(slides_dir)?.join(format!(".convert-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| DeckgenError::io(&tmp, e))?;
    let result = (|| {
        let output = Command::new(office)
            // A private profile, so a running LibreOffice (or another
            // import) does not swallow the call or lock the profile.
            .arg(format!(
                "-env:UserInstallation={}",
                file_url(&tmp.join("profile"))
            ))
            .args([
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
            ])
            .arg(&tmp)
            .arg(&pptx)
            .env("HOME", &tmp)
            .output()
            .map_err(|e| DeckgenError::io(office, e))?;
        let pdf = tmp.join(format!(
            "{}.pdf",
            pptx.file_stem().unwrap_or_default().to_string_lossy()
        ));
        if !output.status.success() || !pdf.is_file() {
            return Err(DeckgenError::bad_input(
                &pptx,
                format!(
                    "LibreOffice could not convert it to PDF: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            ));
        }
        render_pdf(&pdf, slides_dir, width)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// `path` (absolute) as a `file://` URL, bytes outside the unreserved set
/// percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// What slidecast reads from a PPTX.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pptx {
    /// `dc:title` of the document properties, if set.
    pub title: Option<String>,
    /// Slides in presentation order.
    pub slides: Vec<PptxSlide>,
}

/// One slide of a PPTX.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PptxSlide {
    /// Path of the slide part inside the zip (`ppt/slides/slide1.xml`).
    pub part: String,
    /// Speaker notes (paragraphs separated by blank lines); empty if none.
    pub notes: String,
    /// The text of the slide's title placeholder, if it has one.
    pub title: Option<String>,
}

/// Read slide order, speaker notes and title from a PPTX file.
pub fn read_pptx(path: &Path) -> Result<Pptx, DeckgenError> {
    let file = std::fs::File::open(path).map_err(|e| DeckgenError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| DeckgenError::bad_input(path, format!("not a PPTX (zip) file: {e}")))?;
    let mut read = |name: &str| -> Option<String> {
        let mut entry = zip.by_name(name).ok()?;
        let mut text = String::new();
        entry.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let presentation = read("ppt/presentation.xml").ok_or_else(|| {
        DeckgenError::bad_input(
            path,
            "no ppt/presentation.xml inside: is this a PowerPoint file?",
        )
    })?;
    let bad_xml = |part: &str, e: quick_xml::Error| {
        DeckgenError::bad_input(path, format!("{part}: malformed XML: {e}"))
    };
    let rels = read("ppt/_rels/presentation.xml.rels")
        .map(|t| relationships(&t))
        .transpose()
        .map_err(|e| bad_xml("ppt/_rels/presentation.xml.rels", e))?
        .unwrap_or_default();
    let order = slide_ids(&presentation).map_err(|e| bad_xml("ppt/presentation.xml", e))?;
    let mut slides = Vec::new();
    for rid in order {
        let Some((_, target)) = rels.get(&rid) else {
            continue;
        };
        let part = resolve("ppt", target);
        let rels_part = match part.rsplit_once('/') {
            Some((dir, name)) => format!("{dir}/_rels/{name}.rels"),
            None => continue,
        };
        let slide_dir = part.rsplit_once('/').map_or("ppt", |(d, _)| d).to_string();
        let notes_part = read(&rels_part)
            .map(|t| relationships(&t))
            .transpose()
            .map_err(|e| bad_xml(&rels_part, e))?
            .and_then(|r| {
                r.values()
                    .find(|(kind, _)| kind.ends_with("/notesSlide"))
                    .map(|(_, target)| resolve(&slide_dir, target))
            });
        let notes = match notes_part {
            Some(np) => match read(&np) {
                Some(xml) => notes_text(&xml).map_err(|e| bad_xml(&np, e))?,
                None => String::new(),
            },
            None => String::new(),
        };
        let title = match read(&part) {
            Some(xml) => placeholder_paragraphs(&xml, &["title", "ctrTitle"])
                .map_err(|e| bad_xml(&part, e))?
                .join(" "),
            None => String::new(),
        };
        let title = (!title.is_empty()).then_some(title);
        slides.push(PptxSlide { part, notes, title });
    }
    if slides.is_empty() {
        return Err(DeckgenError::bad_input(
            path,
            "the presentation has no slides",
        ));
    }
    let title = read("docProps/core.xml")
        .and_then(|xml| element_text(&xml, b"title"))
        .filter(|t| !t.trim().is_empty());
    Ok(Pptx { title, slides })
}

/// Resolve a relationship target against the folder of the part that owns it.
fn resolve(base_dir: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_string();
    }
    let mut parts: Vec<&str> = base_dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn attr(e: &quick_xml::events::BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| a.unescape_value().ok().map(|v| v.into_owned()))
            .flatten()
    })
}

/// `Id -> (Type, Target)` of a `.rels` part.
fn relationships(xml: &str) -> Result<HashMap<String, (String, String)>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut out = HashMap::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Relationship" => {
                if let (Some(id), Some(kind), Some(target)) =
                    (attr(&e, b"Id"), attr(&e, b"Type"), attr(&e, b"Target"))
                {
                    out.insert(id, (kind, target));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The `r:id` of every `<p:sldId>` in presentation order.
fn slide_ids(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"sldId" => {
                // The relationship id is the namespaced `r:id`, not the numeric `id`.
                let rel_id = e.attributes().flatten().find_map(|a| {
                    a.key
                        .as_ref()
                        .ends_with(b":id")
                        .then(|| a.unescape_value().ok().map(|v| v.into_owned()))
                        .flatten()
                });
                if let Some(id) = rel_id {
                    out.push(id);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The text of the body placeholder(s) of a notes page: paragraphs joined by
/// blank lines. The slide-image and slide-number placeholders are skipped.
fn notes_text(xml: &str) -> Result<String, quick_xml::Error> {
    Ok(placeholder_paragraphs(xml, &["body"])?.join("\n\n"))
}

/// The paragraphs (white space collapsed, empty ones left out) of every
/// shape of a slide or notes part that is a placeholder of one of `kinds`
/// (`body` for the notes, `title`/`ctrTitle` for a slide's title).
fn placeholder_paragraphs(xml: &str, kinds: &[&str]) -> Result<Vec<String>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut paragraphs: Vec<String> = Vec::new();
    let is_kind = |e: &quick_xml::events::BytesStart<'_>| {
        attr(e, b"type").is_some_and(|t| kinds.contains(&t.as_str()))
    };
    // Per shape: is it a wanted placeholder, and its paragraphs so far.
    let mut in_shape = false;
    let mut is_body = false;
    let mut shape_paragraphs: Vec<String> = Vec::new();
    let mut paragraph = String::new();
    let mut in_text = false;
    loop {
        match reader.read_event()? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"sp" => {
                    in_shape = true;
                    is_body = false;
                    shape_paragraphs.clear();
                }
                b"ph" => is_body |= is_kind(&e),
                b"t" => in_text = true,
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"ph" => is_body |= is_kind(&e),
                b"br" if in_shape => paragraph.push(' '),
                _ => {}
            },
            Event::Text(t) if in_text => {
                paragraph.push_str(&t.unescape()?);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" if in_shape => {
                    let p = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !p.is_empty() {
                        shape_paragraphs.push(p);
                    }
                    paragraph.clear();
                }
                b"sp" => {
                    if is_body {
                        paragraphs.append(&mut shape_paragraphs);
                    }
                    in_shape = false;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(paragraphs)
}

/// The text of the first element named `local` (any namespace).
fn element_text(xml: &str, local: &[u8]) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == local => inside = true,
            Event::Text(t) if inside => text.push_str(&t.unescape().ok()?),
            Event::End(e) if inside && e.local_name().as_ref() == local => return Some(text),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_urls_are_absolute_and_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/my deck/.convert-7/profile")),
            "file:///tmp/my%20deck/.convert-7/profile"
        );
        assert_eq!(file_url(Path::new("/a/ü")), "file:///a/%C3%BC");
    }

    #[test]
    fn resolves_targets() {
        assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
        assert_eq!(
            resolve("ppt/slides", "../notesSlides/notesSlide3.xml"),
            "ppt/notesSlides/notesSlide3.xml"
        );
        assert_eq!(resolve("ppt/slides", "/ppt/x.xml"), "ppt/x.xml");
    }

    #[test]
    fn notes_body_only() {
        let xml = r#"<p:notes xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr></p:sp>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr>
            <p:txBody><a:p><a:r><a:t>Hello &amp; </a:t></a:r><a:r><a:t>welcome.</a:t></a:r></a:p>
            <a:p><a:r><a:t>Second.</a:t></a:r></a:p><a:p/></p:txBody></p:sp>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum"/></p:nvPr></p:nvSpPr>
            <p:txBody><a:p><a:r><a:t>7</a:t></a:r></a:p></p:txBody></p:sp>
        </p:spTree></p:cSld></p:notes>"#;
        assert_eq!(notes_text(xml).unwrap(), "Hello & welcome.\n\nSecond.");
    }

    #[test]
    fn pads_like_pdftoppm() {
        assert_eq!(pad(3, 12), "03");
        assert_eq!(pad(3, 9), "3");
    }
}
