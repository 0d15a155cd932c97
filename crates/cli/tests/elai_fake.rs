//! `slidecast render --provider elai` end to end against the fake Elai on
//! 127.0.0.1: every render is created before the first is ready, each slide
//! is created exactly once despite injected 5xx and a 429 burst, and a rerun
//! of the same command pays for nothing (clip cache).

mod common;

use std::time::Duration;

use common::{elai_deck, probe_codecs, probe_duration, slidecast, start_fake_elai};
use slidecast_elai::fake::{FakeElai, Faults, RateLimitBurst};

/// The fake's render time: longer than the worst retry chain of one create
/// (5xx backoffs of 1, 2 and 4 s), so "every render initiated before the
/// first is ready" does not depend on which request the faults hit.
const RENDER_DELAY_MS: u64 = 8000;

#[test]
fn render_through_the_fake_elai_creates_each_slide_once() {
    let dir = tempfile::tempdir().unwrap();
    let deck = elai_deck(dir.path(), 6);
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1500), |c| {
        c.render_delay(Duration::from_millis(RENDER_DELAY_MS))
            .faults(Faults {
                server_error_rate: 0.1,
                seed: 7,
                ..Faults::default()
            })
    });

    let out = dir.path().join("talk.mp4");
    let render = || {
        elai_command(&fake, "render", &deck, &out)
            .args(["--progress", "plain"])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .assert()
            .success()
    };
    render();
    let stats = fake.stats();
    // Slides 1, 3, 4, 5 and 6 are narrated; slide 2 is slide-only.
    assert_eq!(stats.creates, 5, "{stats:?}");
    assert!(
        stats.creates_by_slide.values().all(|n| *n == 1),
        "{stats:?}"
    );
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "every render initiated before the first was ready: last create {:?} after it; {stats:?}",
        stats
            .last_create_at
            .unwrap()
            .saturating_duration_since(stats.first_ready_at.unwrap())
    );
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
    assert!(probe_duration(&out) > 6.0);

    // The same command again: every clip comes from the cache.
    std::fs::remove_file(&out).unwrap();
    render();
    assert_eq!(fake.stats().creates, 5, "a rerun must not pay again");
    assert!(out.exists());
}

#[test]
fn ctrl_c_with_cleanup_remote_deletes_the_started_renders() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let deck = elai_deck(dir.path(), 4);
    // Renders that never finish: the run can only end by Ctrl-C.
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| {
        c.faults(Faults {
            never_finish: [1, 3, 4].into_iter().collect(),
            ..Faults::default()
        })
    });
    let out = dir.path().join("o.mp4");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("slidecast"))
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args([
            "--provider",
            "elai",
            "--progress",
            "json",
            "--cleanup-remote",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env("ELAI_BASE_URL", fake.base_url())
        .env("ELAI_API_KEY", fake.api_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut initiated = 0;
    while initiated < 3 {
        let line = lines.next().expect("events").unwrap();
        initiated += usize::from(line.contains("\"initiated\""));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in lines {}
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("cancelled remote render").count(),
        3,
        "{stderr}"
    );
    assert_eq!(fake.stats().deletes, 3);
    assert!(!out.exists());
}

/// The `slidecast` binary aimed at `fake` (API root and key).
fn with_fake(fake: &FakeElai) -> assert_cmd::Command {
    let mut cmd = slidecast();
    cmd.env("ELAI_BASE_URL", fake.base_url())
        .env("ELAI_API_KEY", fake.api_key());
    cmd
}

/// `slidecast COMMAND DECK -o OUT --provider elai` against `fake`.
fn elai_command(
    fake: &FakeElai,
    command: &str,
    deck: &std::path::Path,
    out: &std::path::Path,
) -> assert_cmd::Command {
    let mut cmd = with_fake(fake);
    cmd.arg(command)
        .arg(deck)
        .arg("-o")
        .arg(out)
        .args(["--provider", "elai"]);
    cmd
}

/// A deck of `slides` narrated Elai slides in `dir` with `extra` appended
/// to slide `n`'s table for each `(n, extra)` (a voice, a long script).
fn elai_deck_with(
    dir: &std::path::Path,
    slides: usize,
    extra: &[(usize, &str)],
) -> std::path::PathBuf {
    let mut text = String::from(
        "title = \"Vendor check\"\n[output]\nwidth = 320\nheight = 180\nfps = 25\nquality = \"draft\"\n[presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\n",
    );
    for n in 1..=slides {
        common::png_sized(&dir.join(format!("{n}.png")), 64, 36, [40, 90, 160]);
        text.push_str(&format!("\n[[slides]]\nimage = \"{n}.png\"\n"));
        match extra.iter().find(|(s, _)| *s == n) {
            Some((_, more)) => text.push_str(more),
            None => text.push_str(&format!("script = \"Slide {n} says a few words.\"\n")),
        }
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What Elai would refuse is found before anything is created: an unknown
/// voice and a narration over the avatar's 60 s limit that has no sentence
/// end to split it at are listed with their slide and field, with Elai's
/// nearest voice, and nothing is paid.
#[test]
fn vendor_problems_are_reported_before_any_create() {
    let dir = tempfile::tempdir().unwrap();
    // About 150 s of narration at 130 words a minute.
    let long = format!("script = \"{}\"\n", vec!["word"; 325].join(" "));
    let deck = elai_deck_with(
        dir.path(),
        3,
        &[
            (
                2,
                "script = \"Hello.\"\npresenter = { voice = \"en-US-AriaNeurall\" }\n",
            ),
            (3, &long),
        ],
    );
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| c);
    let out = dir.path().join("talk.mp4");
    for command in ["render", "plan"] {
        let assert = elai_command(&fake, command, &deck, &out)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            stderr.contains("slide 2: presenter.voice")
                && stderr.contains("nearest: en-US-AriaNeural"),
            "{command}: {stderr}"
        );
        // One 325-word sentence: no cut keeps a part under the limit.
        assert!(
            stderr.contains("slide 3: script")
                && stderr.contains("325 words")
                && stderr.contains("the 60 s the avatar speaks per clip"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("slide 1:"), "{command}: {stderr}");
    }
    // `validate --online` asks the same questions.
    let assert = with_fake(&fake)
        .args(["validate", "--online", "--provider", "elai"])
        .arg(&deck)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("slide 2: presenter.voice") && stderr.contains("slide 3: script"),
        "validate --online: {stderr}"
    );
    assert_eq!(fake.stats().creates, 0, "nothing created, nothing paid");
    assert!(!out.exists());
}

/// Every render at once: with no cap on renders in flight, all twelve
/// creates go out before the first clip is ready.
#[test]
fn a_twelve_slide_deck_creates_every_render_before_the_first_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let deck = elai_deck_with(dir.path(), 12, &[]);
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| {
        c.render_delay(Duration::from_millis(RENDER_DELAY_MS))
    });
    let out = dir.path().join("talk.mp4");
    elai_command(&fake, "render", &deck, &out)
        .args(["--no-cache", "-q"])
        .assert()
        .success();
    let stats = fake.stats();
    assert_eq!(stats.creates, 12, "{stats:?}");
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "the last create came {:?} after the first clip was ready",
        stats
            .last_create_at
            .unwrap()
            .saturating_duration_since(stats.first_ready_at.unwrap())
    );
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
}

/// Two renders of different outputs that share a slide, started together,
/// make one create for it: the second run attaches to the first's render
/// through the machine-wide registry of renders in flight.
#[test]
fn two_concurrent_renders_sharing_a_slide_pay_for_it_once() {
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let shared = "script = \"This slide is in both decks.\"\n";
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let deck_a = elai_deck_with(&a, 2, &[(2, shared)]);
    let deck_b = elai_deck_with(&b, 2, &[(1, shared)]);
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| {
        c.render_delay(Duration::from_millis(4000))
    });
    let spawn = |deck: &std::path::Path, out: &std::path::Path| {
        Command::new(assert_cmd::cargo::cargo_bin("slidecast"))
            .arg("render")
            .arg(deck)
            .arg("-o")
            .arg(out)
            .args(["--provider", "elai", "-q"])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("ELAI_BASE_URL", fake.base_url())
            .env("ELAI_API_KEY", fake.api_key())
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (out_a, out_b) = (dir.path().join("a.mp4"), dir.path().join("b.mp4"));
    let first = spawn(&deck_a, &out_a);
    let second = spawn(&deck_b, &out_b);
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stats = fake.stats();
    let shared_creates = stats
        .create_bodies
        .iter()
        .filter(|b| b["slides"][0]["speech"] == "This slide is in both decks.")
        .count();
    assert_eq!(
        shared_creates, 1,
        "the shared slide is paid once: {stats:?}"
    );
    assert_eq!(stats.creates, 3, "3 distinct clips, 3 creates");
    assert_eq!(
        probe_codecs(&out_a),
        ["h264", "aac", "mov_text", "bin_data"]
    );
    assert_eq!(
        probe_codecs(&out_b),
        ["h264", "aac", "mov_text", "bin_data"]
    );
}

/// A burst of 429s: slidecast backs off (the window of renders in flight
/// halves, so later creates may wait for a render to finish) and still
/// creates each slide exactly once.
#[test]
fn a_429_burst_slows_creates_down_but_pays_each_slide_once() {
    let dir = tempfile::tempdir().unwrap();
    let deck = elai_deck(dir.path(), 6);
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| {
        c.render_delay(Duration::from_millis(2000)).faults(Faults {
            rate_limit_burst: Some(RateLimitBurst {
                after: 3,
                count: 3,
                retry_after_secs: 1,
            }),
            ..Faults::default()
        })
    });
    let out = dir.path().join("talk.mp4");
    elai_command(&fake, "render", &deck, &out)
        .args(["-q", "--no-cache"])
        .assert()
        .success();
    let stats = fake.stats();
    assert_eq!(stats.injected_429, 3, "{stats:?}");
    assert_eq!(stats.creates, 5, "{stats:?}");
    assert!(
        stats.creates_by_slide.values().all(|n| *n == 1),
        "{stats:?}"
    );
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
}

/// Long narration just works: about 150 s of sentences on `gia.casual`
/// (60 s per clip) renders as three parts, all created at once with the
/// deck's other slide, each under the limit, and composed into one slide
/// as long as the three clips; the captions follow the parts.
#[test]
fn a_150_second_narration_on_a_60_second_avatar_renders_as_one_slide() {
    let dir = tempfile::tempdir().unwrap();
    // 32 sentences of ten words: 320 words, about 148 s at 130 wpm.
    let sentences: Vec<String> = (0..32)
        .map(|i| format!("Sentence {i} of the long slide has exactly ten words."))
        .collect();
    let long = format!("script = \"{}\"\n", sentences.join(" "));
    let deck = elai_deck_with(dir.path(), 2, &[(2, &long)]);
    // Each video its own clip, as long as its speech, as Elai renders it (at
    // a fifth of its size: the size does not change what is checked here).
    let clips = common::elai_like_clips(&dir.path().join("made"), 5);
    let (_runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1000), |c| {
        c.render_delay(Duration::from_millis(3000)).clips(clips)
    });
    let out = dir.path().join("talk.mp4");
    let assert = elai_command(&fake, "render", &deck, &out)
        .args(["--no-cache"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();

    let stats = fake.stats();
    assert_eq!(stats.creates, 4, "slide 1 and three parts: {stats:?}");
    assert_eq!(stats.creates_by_slide.get(&2), Some(&3), "{stats:?}");
    assert!(
        stats.last_create_at.unwrap() <= stats.first_ready_at.unwrap(),
        "every part is created before the first clip is ready"
    );
    // Each part fits the avatar's limit, and together they say every word.
    let speeches: Vec<String> = stats
        .create_bodies
        .iter()
        .map(|b| b["slides"][0]["speech"].as_str().unwrap().to_string())
        .filter(|s| s.starts_with("Sentence"))
        .collect();
    assert_eq!(speeches.len(), 3);
    // Created at once, so in any order: put them back in speaking order.
    let mut speeches = speeches;
    speeches.sort_by_key(|s| {
        s.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u32>().ok())
    });
    for speech in &speeches {
        let words = speech.split_whitespace().count();
        assert!(
            words * 60 <= 130 * 60 * 85 / 100,
            "{words} words: over the limit"
        );
    }
    assert_eq!(speeches.join(" "), sentences.join(" "));

    // One slide of about 148 s after slide 1's clip.
    let length = probe_duration(&out);
    assert!((148.0..155.0).contains(&length), "{length} s\n{stderr}");
    let cues = common::srt_cues(&std::fs::read_to_string(out.with_extension("srt")).unwrap());
    let first_of_part_2 = cues
        .iter()
        .find(|(_, _, text)| text.starts_with("Sentence 11 "))
        .or_else(|| {
            cues.iter()
                .find(|(_, _, text)| text.starts_with("Sentence 10 "))
        })
        .map(|(start, _, _)| *start)
        .unwrap();
    assert!(
        first_of_part_2 > 40.0,
        "part 2's captions start at {first_of_part_2} s"
    );
}
