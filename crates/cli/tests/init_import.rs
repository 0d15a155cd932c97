//! `slidecast init` and `slidecast import` as a new user would run them.

mod common;

use std::io::Write;
use std::path::Path;

use common::{png, slidecast, tiny_pdf};
use predicates::prelude::*;

fn deck_images(deck: &Path) -> Vec<String> {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(deck).unwrap()).unwrap();
    value["slides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["image"].as_str().unwrap().to_string())
        .collect()
}

fn deck_scripts(deck: &Path) -> Vec<Option<String>> {
    deck_field(deck, "script")
}

/// `field` of every slide of the deck file, in order.
fn deck_field(deck: &Path, field: &str) -> Vec<Option<String>> {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(deck).unwrap()).unwrap();
    value["slides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.get(field).and_then(|v| v.as_str()).map(String::from))
        .collect()
}

#[test]
fn init_orders_1_to_12_images_naturally() {
    for n in 1..=12usize {
        let dir = tempfile::tempdir().unwrap();
        // Created in reverse so directory order cannot give the answer.
        for i in (1..=n).rev() {
            png(&dir.path().join(format!("slide{i}.png")));
        }
        std::fs::write(dir.path().join("README.txt"), "not an image").unwrap();
        slidecast().arg("init").arg(dir.path()).assert().success();
        let deck = dir.path().join("deck.toml");
        let expected: Vec<String> = (1..=n).map(|i| format!("slide{i}.png")).collect();
        assert_eq!(deck_images(&deck), expected, "with {n} images");
        // What init writes is a deck that validates.
        slidecast().arg("validate").arg(&deck).assert().success();
    }
}

#[test]
fn init_takes_scripts_and_title_from_notes_md() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["10-end.png", "2-body.png", "1-title.jpg"] {
        png(&dir.path().join(name));
    }
    std::fs::write(
        dir.path().join("notes.md"),
        "# Our plan\n\n## Title\nWelcome to the plan.\n\n## Body\nFirst point.\nSecond point.\n\n## End\n",
    )
    .unwrap();
    slidecast()
        .arg("init")
        .arg(dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("3 slide(s), 2 with a script"));
    let deck = dir.path().join("deck.toml");
    assert_eq!(
        deck_images(&deck),
        vec!["1-title.jpg", "2-body.png", "10-end.png"]
    );
    assert_eq!(
        deck_scripts(&deck),
        vec![
            Some("Welcome to the plan.".to_string()),
            Some("First point. Second point.".to_string()),
            None
        ]
    );
    let text = std::fs::read_to_string(&deck).unwrap();
    assert!(text.contains("title = \"Our plan\""));
    // Refuses to overwrite without --force.
    slidecast()
        .arg("init")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    slidecast()
        .args(["init", "--force"])
        .arg(dir.path())
        .assert()
        .success();
}

#[test]
fn init_on_an_empty_folder_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    slidecast()
        .arg("init")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("one image per slide"));
}

#[test]
fn import_pdf_renders_every_page_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("quarterly-talk.pdf");
    std::fs::write(&pdf, tiny_pdf(11)).unwrap();
    std::fs::write(
        dir.path().join("notes.md"),
        (1..=11)
            .map(|i| format!("## {i}\nThis is page {i}.\n"))
            .collect::<String>(),
    )
    .unwrap();
    slidecast()
        .arg("import")
        .arg(&pdf)
        .arg("--notes")
        .arg(dir.path().join("notes.md"))
        .args(["--width", "320"])
        .assert()
        .success();
    let deck = dir.path().join("quarterly-talk/deck.toml");
    let images = deck_images(&deck);
    assert_eq!(images.len(), 11);
    for (i, image) in images.iter().enumerate() {
        // pdftoppm pads page numbers (slide-01 .. slide-11); order must be page order.
        assert_eq!(image, &format!("slides/slide-{:02}.png", i + 1));
        let bytes = std::fs::read(dir.path().join("quarterly-talk").join(image)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR width is the requested 320 px.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 320);
    }
    assert_eq!(deck_scripts(&deck)[10].as_deref(), Some("This is page 11."));
    let text = std::fs::read_to_string(&deck).unwrap();
    assert!(text.contains("title = \"Quarterly talk\""));
    // No outline, no slide titles.
    assert!(deck_field(&deck, "title").iter().all(Option::is_none));
    slidecast().arg("validate").arg(&deck).assert().success();
}

#[test]
fn import_pdf_takes_slide_titles_from_its_outline() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("talk.pdf");
    let titles = [Some("Intro & aims"), None, Some("Résumé   of   results")];
    std::fs::write(&pdf, slidecast_tests::outlined_pdf(&titles)).unwrap();
    slidecast()
        .arg("import")
        .arg(&pdf)
        .args(["--width", "320"])
        .assert()
        .success();
    let deck = dir.path().join("talk/deck.toml");
    assert_eq!(
        deck_field(&deck, "title"),
        [
            Some("Intro & aims".to_string()),
            None,
            Some("Résumé of results".to_string())
        ]
    );
    let text = std::fs::read_to_string(&deck).unwrap();
    assert!(text.contains("2 titled from its outline"), "{text}");
    slidecast().arg("validate").arg(&deck).assert().success();
}

#[test]
fn import_rejects_other_files_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("talk.key");
    std::fs::write(&file, "x").unwrap();
    slidecast()
        .arg("import")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("slidecast init"));
}

/// A minimal PPTX: three slides whose presentation order (slide3, slide1,
/// slide2) differs from the part names; slide2 has no notes.
fn tiny_pptx(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    let mut add = |name: &str, body: &str| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    add(
        "[Content_Types].xml",
        r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#,
    );
    add(
        "docProps/core.xml",
        r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="cp" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Roadmap &amp; plans</dc:title></cp:coreProperties>"#,
    );
    add(
        "ppt/presentation.xml",
        r#"<?xml version="1.0"?><p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId5"/><p:sldId id="258" r:id="rId6"/></p:sldIdLst></p:presentation>"#,
    );
    add(
        "ppt/_rels/presentation.xml.rels",
        r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slideMaster" Target="slideMasters/slideMaster1.xml"/>
<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/>
<Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide2.xml"/>
<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide3.xml"/>
</Relationships>"#,
    );
    // Slide 3 (shown first) has a centred title over two lines, slide 1 a
    // title and a body text box, slide 2 no title.
    let slide_xml = |shapes: &str| {
        format!(
            r#"<?xml version="1.0"?><p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>{shapes}</p:spTree></p:cSld></p:sld>"#
        )
    };
    let shape = |kind: &str, paragraphs: &[&str]| {
        let text: String = paragraphs
            .iter()
            .map(|t| format!("<a:p><a:r><a:t>{t}</a:t></a:r></a:p>"))
            .collect();
        format!(
            r#"<p:sp><p:nvSpPr><p:nvPr><p:ph type="{kind}"/></p:nvPr></p:nvSpPr><p:txBody>{text}</p:txBody></p:sp>"#
        )
    };
    add(
        "ppt/slides/slide3.xml",
        &slide_xml(&shape("ctrTitle", &["Roadmap", "2027"])),
    );
    add(
        "ppt/slides/slide1.xml",
        &slide_xml(&format!(
            "{}{}",
            shape("title", &["Q&amp;A   time"]),
            shape("body", &["Not a title."])
        )),
    );
    add("ppt/slides/slide2.xml", &slide_xml(""));
    for (slide, notes) in [(1, Some(1)), (3, Some(2))] {
        add(
            &format!("ppt/slides/_rels/slide{slide}.xml.rels"),
            &format!(
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide" Target="../notesSlides/notesSlide{}.xml"/>
</Relationships>"#,
                notes.unwrap()
            ),
        );
    }
    let notes_xml = |text: &[&str]| {
        let paragraphs: String = text
            .iter()
            .map(|t| format!("<a:p><a:r><a:t>{t}</a:t></a:r></a:p>"))
            .collect();
        format!(
            r#"<?xml version="1.0"?><p:notes xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr></p:sp>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:txBody>{paragraphs}</p:txBody></p:sp>
<p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum" idx="2"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>9</a:t></a:r></a:p></p:txBody></p:sp>
</p:spTree></p:cSld></p:notes>"#
        )
    };
    add(
        "ppt/notesSlides/notesSlide1.xml",
        &notes_xml(&["Notes of the second slide."]),
    );
    add(
        "ppt/notesSlides/notesSlide2.xml",
        &notes_xml(&["Welcome &amp; hello.", "Today: the roadmap."]),
    );
    zip.finish().unwrap();
}

#[test]
fn import_pptx_takes_speaker_notes_as_scripts_in_presentation_order() {
    let dir = tempfile::tempdir().unwrap();
    let pptx = dir.path().join("roadmap.pptx");
    tiny_pptx(&pptx);
    let out_dir = dir.path().join("deck-out");
    // Without LibreOffice on PATH the deck is written with a note.
    slidecast()
        .arg("import")
        .arg(&pptx)
        .arg("-o")
        .arg(&out_dir)
        .env("PATH", "/nonexistent")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("LibreOffice is not installed")
                .and(predicate::str::contains("slide-1.png"))
                .and(predicate::str::contains("slide-3.png")),
        );
    let deck = out_dir.join("deck.toml");
    assert_eq!(
        deck_scripts(&deck),
        vec![
            Some("Welcome & hello.\n\nToday: the roadmap.".to_string()),
            Some("Notes of the second slide.".to_string()),
            None,
        ]
    );
    // The slides' title placeholders become their titles (chapter names).
    assert_eq!(
        deck_field(&deck, "title"),
        vec![
            Some("Roadmap 2027".to_string()),
            Some("Q&A time".to_string()),
            None,
        ]
    );
    assert_eq!(
        deck_images(&deck),
        vec![
            "slides/slide-1.png",
            "slides/slide-2.png",
            "slides/slide-3.png"
        ]
    );
    let text = std::fs::read_to_string(&deck).unwrap();
    assert!(text.contains("title = \"Roadmap & plans\""), "{text}");
    // Once the images are exported where the note said, the deck is valid.
    slidecast()
        .arg("validate")
        .arg(&deck)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("slide-2.png"));
    for n in 1..=3 {
        png(&out_dir.join(format!("slides/slide-{n}.png")));
    }
    slidecast().arg("validate").arg(&deck).assert().success();
}

#[test]
fn import_garbage_pptx_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pptx = dir.path().join("broken.pptx");
    std::fs::write(&pptx, "not a zip").unwrap();
    slidecast()
        .arg("import")
        .arg(&pptx)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a PPTX"));
}

/// The colour of pixel `(x, y)` of an image, read by the `ffmpeg` CLI.
fn pixel(image: &Path, x: u32, y: u32) -> [u8; 3] {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(image)
        .args(["-vf", &format!("crop=1:1:{x}:{y}"), "-f", "rawvideo"])
        .args(["-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success() && out.stdout.len() == 3, "{out:?}");
    [out.stdout[0], out.stdout[1], out.stdout[2]]
}

/// A real three-slide PowerPoint file through LibreOffice: three slide
/// pictures in order, three scripts from the notes, three titles, and a
/// video whose chapters carry the titles. Run from the file's folder with
/// relative paths, as a user types it.
#[test]
fn import_a_real_pptx_renders_its_slides_with_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let slides = [
        slidecast_tests::PptxSlide {
            title: "Why trains run late",
            body: "Signals, weather and timetables",
            notes: &["Welcome to the course.", "Today we look at delays."],
            background: [0xC0, 0x39, 0x2B],
        },
        slidecast_tests::PptxSlide {
            title: "Signals",
            body: "Most delays start at a red signal",
            notes: &["Signals are the first cause."],
            background: [0x27, 0xAE, 0x60],
        },
        slidecast_tests::PptxSlide {
            title: "What we can do",
            body: "Plan with buffers",
            notes: &["Buffers help & timetables too."],
            background: [0x29, 0x80, 0xB9],
        },
    ];
    slidecast_tests::write_pptx(&dir.path().join("lecture.pptx"), "Trains", &slides);
    let assert = slidecast()
        .current_dir(dir.path())
        .args(["import", "lecture.pptx", "-o", "lecture"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        !stderr.contains("not installed"),
        "LibreOffice is installed: {stderr}"
    );

    let deck = dir.path().join("lecture/deck.toml");
    let images = deck_images(&deck);
    assert_eq!(images.len(), 3, "{images:?}");
    for (image, slide) in images.iter().zip(&slides) {
        let path = dir.path().join("lecture").join(image);
        // The slide's own background, away from its text.
        let got = pixel(&path, 8, 8);
        let near = got
            .iter()
            .zip(slide.background)
            .all(|(a, b)| a.abs_diff(b) <= 12);
        assert!(near, "{image}: {got:?}, expected {:?}", slide.background);
    }
    assert_eq!(
        deck_scripts(&deck),
        [
            Some("Welcome to the course.\n\nToday we look at delays.".to_string()),
            Some("Signals are the first cause.".to_string()),
            Some("Buffers help & timetables too.".to_string()),
        ]
    );
    let titles: Vec<Option<String>> = slides.iter().map(|s| Some(s.title.to_string())).collect();
    assert_eq!(deck_field(&deck, "title"), titles);

    // The titles become the video's chapter names.
    let out = dir.path().join("lecture.mp4");
    slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args(["--provider", "mock", "--no-cache"])
        .assert()
        .success();
    let chapters: Vec<String> = slidecast_tests::Probe::of(&out)
        .chapters
        .iter()
        .map(|c| c.title().to_string())
        .collect();
    assert_eq!(
        chapters,
        ["Why trains run late", "Signals", "What we can do"]
    );
}
