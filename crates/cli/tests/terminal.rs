//! The live progress display, driven in a pseudo-terminal (util-linux
//! `script`) and read back, as a user at a terminal would see it.

mod common;

use std::process::Command;

use common::mock_deck;

#[test]
fn bars_on_a_terminal_show_every_slide_and_the_overall_bar() {
    // scripts/install-deps installs `script`; without it this test fails
    // rather than passing untested.
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (Debian package bsdutils) is needed to drive a pseudo-terminal; run scripts/install-deps"
    );
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 3);
    let out = dir.path().join("o.mp4");
    let bin = assert_cmd::cargo::cargo_bin("slidecast");
    let cmdline = format!(
        "'{}' render '{}' -o '{}'",
        bin.display(),
        deck.display(),
        out.display()
    );
    let run = Command::new("script")
        .args(["-qfec", &cmdline, "/dev/null"])
        .env("COLUMNS", "100")
        .env("LINES", "40")
        .env("TERM", "xterm-256color")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{screen}");
    // Bars, not log lines: ANSI cursor movement and the bar glyphs.
    assert!(screen.contains("\u{1b}["), "ANSI escapes on a terminal");
    assert!(screen.contains('━') || screen.contains('█'), "bar glyphs");
    assert!(
        !screen.contains("started: 3 slide(s)"),
        "plain lines only off a terminal"
    );
    for n in 1..=3 {
        assert!(
            screen.contains(&format!("Slide {n}")),
            "a line for slide {n}"
        );
    }
    assert!(screen.contains("rendering"), "vendor stage shown");
    assert!(screen.contains("done ("), "finished slides say done");
    assert!(screen.contains("100%"), "overall bar reaches 100%");
    assert!(screen.contains("wrote "));
    // The summary starts on its own line after the bars.
    let summary = screen.lines().find(|l| l.contains("s of video")).unwrap();
    assert!(summary.trim_start().starts_with("wrote"), "{summary:?}");
    assert!(out.exists());
}
