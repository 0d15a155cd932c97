//! `slidecast validate`: every problem of a broken deck, or a summary.

mod common;

use std::path::Path;

use common::{png, slidecast};
use predicates::prelude::*;

#[test]
fn broken_deck_lists_every_problem_with_slide_and_field() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("ok.png"));
    let deck = dir.path().join("deck.toml");
    std::fs::write(
        &deck,
        r##"
title = "Broken"
[presenter]
provider = "local"

[[slides]]
image = "missing.png"
script = "Hello."

[[slides]]
image = "ok.png"

[[slides]]
image = "ok.png"
script = "Hi."
presenter = { provider = "nonesuch" }

[[slides]]
image = "ok.png"
script = "Bye."
presenter = { placement = { corner = "top-left", margin = 40, scale = 3.0 } }
"##,
    )
    .unwrap();
    let out = slidecast().arg("validate").arg(&deck).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert!(errors.len() >= 4, "expected 4+ problems, got:\n{stderr}");
    let has = |slide: usize, field: &str| {
        errors
            .iter()
            .any(|l| l.contains(&format!("slide {slide}:")) && l.contains(field))
    };
    assert!(has(1, "image"), "{stderr}");
    assert!(has(2, "script") || has(2, "duration"), "{stderr}");
    assert!(has(3, "provider"), "{stderr}");
    assert!(has(4, "placement"), "{stderr}");
    assert!(errors.iter().all(|l| l.contains("deck.toml")), "{stderr}");
    assert!(stderr.contains("problem(s)"));
}

#[test]
fn syntax_error_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let deck = dir.path().join("deck.toml");
    std::fs::write(&deck, "title = \"x\"\n[output\nwidth = 3\n").unwrap();
    slidecast()
        .arg("validate")
        .arg(&deck)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn good_deck_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"));
    let deck = dir.path().join("deck.toml");
    std::fs::write(
        &deck,
        r##"
title = "Fine"
[presenter]
provider = "mock"
[[slides]]
image = "a.png"
script = "One two three four five six seven eight nine ten."
[[slides]]
image = "a.png"
duration = 4.0
slide_only = true
"##,
    )
    .unwrap();
    slidecast()
        .arg("validate")
        .arg(&deck)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("slides:           2")
                .and(predicate::str::contains("presenter slides: 1"))
                .and(predicate::str::contains("mock (1 slide(s))"))
                .and(predicate::str::contains("estimated length: 0:08")),
        );
}

#[test]
fn missing_deck_file_says_so() {
    slidecast()
        .args(["validate", "/nonexistent/deck.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/deck.toml"));
}

/// `deck` (written into `dir`) is refused by `validate` with `expected`
/// (and no problem on slide 1), and by `render` the same way before any
/// render is paid for and before any output is written.
fn refused_before_rendering(dir: &Path, deck: &str, expected: &[&str]) {
    let path = dir.join("deck.toml");
    std::fs::write(&path, deck).unwrap();
    let run = slidecast().arg("validate").arg(&path).assert().code(2);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(expected.iter().all(|e| stderr.contains(e)), "{stderr}");
    assert!(!stderr.contains("slide 1:"), "{stderr}");

    let out = dir.join("o.mp4");
    let run = slidecast()
        .arg("render")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains(expected[0]), "{stderr}");
    assert!(!out.exists());
}

/// Every slide picture is opened: one that cannot be read is reported by
/// `validate` (and stops `render` before any render is paid for it).
#[test]
fn an_unreadable_slide_picture_is_reported_with_its_slide() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("ok.png"));
    std::fs::write(
        dir.path().join("bad.png"),
        b"\x89PNG but then nothing useful",
    )
    .unwrap();
    refused_before_rendering(
        dir.path(),
        "[presenter]\nprovider = \"mock\"\n[[slides]]\nimage = \"ok.png\"\nscript = \"Fine.\"\n[[slides]]\nimage = \"bad.png\"\nscript = \"Broken picture.\"\n",
        &["slide 2: image", "bad.png"],
    );
}

/// Music is decoded a moment before anything is rendered: a file that is
/// not audio is reported on the first slide that plays it.
#[test]
fn music_that_cannot_be_played_is_reported_with_its_slide() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("ok.png"));
    std::fs::write(dir.path().join("song.mp3"), b"ID3 but no audio at all").unwrap();
    refused_before_rendering(
        dir.path(),
        "[presenter]\nprovider = \"mock\"\n[[slides]]\nimage = \"ok.png\"\nscript = \"Quiet.\"\n[[slides]]\nimage = \"ok.png\"\nscript = \"With music.\"\nmusic = \"song.mp3\"\n[[slides]]\nimage = \"ok.png\"\nscript = \"Still.\"\nmusic = \"song.mp3\"\n",
        &["slide 2: music", "cannot be played as music"],
    );
}
