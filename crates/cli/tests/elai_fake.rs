//! `slidecast render --provider elai` end to end against the fake Elai on
//! 127.0.0.1: every render is created before the first is ready, each slide
//! is created exactly once despite injected 5xx and a 429 burst, and a rerun
//! of the same command pays for nothing (clip cache).

mod common;

use std::time::Duration;

use common::{elai_deck, probe_codecs, probe_duration, slidecast, start_fake_elai};
use slidecast_elai::fake::{Faults, RateLimitBurst};

/// The fake's render time: longer than the worst retry chain of one create
/// (the 429 burst's 1 s Retry-After, then 5xx backoffs of 1, 2 and 4 s), so
/// "every render initiated before the first is ready" does not depend on
/// which request the faults hit. At 1.5 s, and even 3 s, a create behind a
/// 429 and two 5xx came after.
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
                rate_limit_burst: Some(RateLimitBurst {
                    after: 3,
                    count: 3,
                    retry_after_secs: 1,
                }),
                ..Faults::default()
            })
    });

    let out = dir.path().join("talk.mp4");
    let render = || {
        slidecast()
            .arg("render")
            .arg(&deck)
            .arg("-o")
            .arg(&out)
            .args(["--provider", "elai", "--progress", "plain"])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("ELAI_BASE_URL", fake.base_url())
            .env("ELAI_API_KEY", fake.api_key())
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
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text"]);
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
