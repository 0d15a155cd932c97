//! `slidecast plan` and `slidecast cache` (no API key is set, so no vendor is contacted).

mod common;

use common::{png, slidecast};
use predicates::prelude::*;

#[test]
fn plan_prices_elai_slides_and_enforces_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"));
    let deck = dir.path().join("deck.toml");
    let words = "word ".repeat(200); // 80 s of speech: billed as 2 minutes
    std::fs::write(
        &deck,
        format!(
            "[presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\n\
             [[slides]]\nimage = \"a.png\"\nscript = \"{words}\"\n\
             [[slides]]\nimage = \"a.png\"\nscript = \"Short.\"\n\
             [[slides]]\nimage = \"a.png\"\nduration = 2.0\nslide_only = true\n"
        ),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    slidecast()
        .arg("plan")
        .arg(&deck)
        .arg("--cache-dir")
        .arg(&cache)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("to render")
                .and(predicate::str::contains("slide only"))
                .and(predicate::str::contains("2 to render")),
        );
    slidecast()
        .arg("plan")
        .arg(&deck)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["--max-minutes", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("budget"));
    // The same deck rendered locally costs nothing.
    slidecast()
        .arg("plan")
        .arg(&deck)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["--provider", "local", "--max-minutes", "0"])
        .assert()
        .success();
}

#[test]
fn cache_list_and_prune_on_an_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    slidecast()
        .args(["cache", "list", "--cache-dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("is empty"));
    slidecast()
        .args(["cache", "prune", "--older-than", "30d", "--cache-dir"])
        .arg(dir.path())
        .assert()
        .success();
    slidecast()
        .args(["cache", "prune", "--older-than", "soon", "--cache-dir"])
        .arg(dir.path())
        .assert()
        .code(2);
}

#[test]
fn elai_without_a_key_says_how_to_set_one() {
    slidecast()
        .args(["elai", "avatars"])
        .env_remove("ELAI_API_KEY")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("ELAI_API_KEY")
                .and(predicate::str::contains("--provider local")),
        );
}

/// Each new Elai clip is one video against the account's creation quota
/// per 8 hours: `plan` says which plans a deck exceeds.
#[test]
fn plan_warns_when_a_deck_exceeds_elais_creation_quota() {
    let dir = tempfile::tempdir().unwrap();
    common::png(&dir.path().join("s.png"));
    let mut deck = String::from("[presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\n");
    for n in 1..=51 {
        deck.push_str(&format!(
            "[[slides]]\nimage = \"s.png\"\nscript = \"Slide {n} of a long course.\"\n"
        ));
    }
    let path = dir.path().join("course.toml");
    std::fs::write(&path, deck).unwrap();
    let run = slidecast()
        .arg("plan")
        .arg(&path)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env_remove("ELAI_API_KEY")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("51 new Elai video(s)") && stderr.contains("trial (50)"),
        "{stderr}"
    );
    assert!(!stderr.contains("paid (1000)"), "{stderr}");
}
