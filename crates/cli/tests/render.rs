//! `slidecast render` end to end with `--provider mock`: a real, small video,
//! captions that respect slide boundaries, JSON progress that follows the
//! schema, a timeline, and Ctrl-C leaving nothing behind.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::Instant;

use common::schema::{check_event, progress_schema};
use common::{embedded_srt, mock_deck, probe_codecs, probe_duration, slidecast, srt_cues};
use predicates::prelude::*;

#[test]
fn mock_render_writes_video_captions_timeline_and_schema_valid_events() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 4);
    let out = dir.path().join("talk.mp4");
    let svg = dir.path().join("talk.svg");
    let run = slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args(["--progress", "json", "--jobs", "2"])
        .arg("--timeline")
        .arg(&svg)
        .assert()
        .success();

    // Every stdout line is one schema-valid event.
    let schema = progress_schema();
    let stdout = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| check_event(&schema, l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(events.first().unwrap()["event"]["type"], "started");
    assert_eq!(events.last().unwrap()["event"]["type"], "finished");
    let mut last_overall = 0.0;
    for e in &events {
        let overall = e["overall"].as_f64().unwrap();
        assert!(
            overall + 1e-6 >= last_overall,
            "overall never goes backwards"
        );
        last_overall = overall;
    }

    // Slide boundaries from the composed segments (deck order).
    let mut durations = [0.0f64; 4];
    for e in &events {
        if e["event"]["type"] == "composed" {
            let n = e["event"]["slide"].as_u64().unwrap() as usize;
            durations[n - 1] = e["event"]["duration"].as_f64().unwrap();
        }
    }
    assert!(durations.iter().all(|d| *d > 0.0), "{durations:?}");
    let mut bounds = vec![0.0];
    for d in durations {
        bounds.push(bounds.last().unwrap() + d);
    }

    // The video lasts as long as its segments.
    let total = *bounds.last().unwrap();
    let probed = probe_duration(&out);
    assert!(
        (probed - total).abs() < 0.1,
        "video {probed} s vs segments {total} s"
    );

    // Captions: both files, sentence cues, none crossing a slide boundary,
    // none on the slide-only slide 2.
    let srt = std::fs::read_to_string(dir.path().join("talk.srt")).unwrap();
    let vtt = std::fs::read_to_string(dir.path().join("talk.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT"));
    let cues = srt_cues(&srt);
    assert_eq!(
        cues.len(),
        6,
        "two sentences on each of 3 narrated slides:\n{srt}"
    );
    for (start, end, text) in &cues {
        assert!(end > start, "{text}");
        let slide = bounds
            .windows(2)
            .position(|w| *start >= w[0] - 1e-3 && *start < w[1] - 1e-3)
            .unwrap();
        assert!(
            *end <= bounds[slide + 1] + 1e-3,
            "cue `{text}` crosses the end of slide {}",
            slide + 1
        );
        assert_ne!(slide, 1, "slide 2 has no narration");
    }
    assert_eq!(vtt.matches(" --> ").count(), cues.len());

    // One chapter per slide, named by its title (or "Slide N"), starting
    // where its slide starts, in the video and beside it.
    let chapters = slidecast_tests::Probe::of(&out).chapters;
    let titles: Vec<&str> = chapters.iter().map(|c| c.title()).collect();
    assert_eq!(titles, ["Opening", "Slide 2", "Slide 3", "Slide 4"]);
    for (c, w) in chapters.iter().zip(bounds.windows(2)) {
        let (start, end) = c.span();
        assert!(
            (start - w[0]).abs() < 0.002 && (end - w[1]).abs() < 0.002,
            "{c:?} vs {w:?}"
        );
    }
    let list = std::fs::read_to_string(dir.path().join("talk.chapters.txt")).unwrap();
    assert_eq!(list.lines().next(), Some("0:00 Opening"));
    assert_eq!(list.lines().count(), 4);
    let vtt_chapters = std::fs::read_to_string(dir.path().join("talk.chapters.vtt")).unwrap();
    assert_eq!(vtt_chapters.matches(" --> ").count(), 4);

    // The same cues are embedded as a soft subtitle track.
    assert_eq!(probe_codecs(&out), ["h264", "aac", "mov_text", "bin_data"]);
    let embedded = srt_cues(&embedded_srt(&out));
    assert_eq!(embedded.len(), cues.len());
    for ((a, b, text), (ea, eb, etext)) in cues.iter().zip(&embedded) {
        assert!((a - ea).abs() < 0.002 && (b - eb).abs() < 0.002, "{text}");
        assert!(
            etext.contains(text.lines().next().unwrap()),
            "{etext} vs {text}"
        );
    }

    let svg = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let rows = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("row"))
        .count();
    assert_eq!(rows, 4);

    // Nothing else left beside the outputs (work folder cleaned up).
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "1.png",
            "2.png",
            "3.png",
            "4.png",
            "deck.toml",
            "talk.chapters.txt",
            "talk.chapters.vtt",
            "talk.mp4",
            "talk.srt",
            "talk.svg",
            "talk.vtt"
        ]
    );
}

#[test]
fn plain_progress_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 2);
    slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(dir.path().join("o.mp4"))
        .arg("--no-captions")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("started: 2 slide(s), 1 render(s), schedule eager")
                .and(predicate::str::contains("slide 1: rendering"))
                .and(predicate::str::contains("slide 2: done"))
                .and(predicate::str::contains("wrote")),
        );
    // --no-captions: files beside the video, no track inside it.
    assert_eq!(
        probe_codecs(&dir.path().join("o.mp4")),
        ["h264", "aac", "bin_data"]
    );
    assert!(dir.path().join("o.srt").exists() && dir.path().join("o.vtt").exists());
}

/// `-q` is errors only: no progress lines, no summary, the video written.
#[test]
fn quiet_prints_nothing_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 2);
    let out = dir.path().join("o.mp4");
    let run = slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args(["-q", "--progress", "plain"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert_eq!(stderr, "", "nothing but errors with -q");
    assert!(probe_duration(&out) > 1.0);
}

/// FFmpeg's own complaints (`[png @ 0x...] ...`) go through slidecast's
/// log, not raw to stderr; the error names the slide and the file.
#[test]
fn an_unreadable_slide_image_is_one_clear_error_without_ffmpeg_noise() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 2);
    std::fs::write(dir.path().join("1.png"), b"not a png at all, just bytes").unwrap();
    let run = slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(dir.path().join("o.mp4"))
        .args(["--progress", "plain"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("1.png"), "{stderr}");
    assert!(!stderr.contains(" @ 0x"), "raw FFmpeg log line: {stderr}");
}

#[test]
fn ctrl_c_stops_quickly_with_exit_130_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 5);
    let out = dir.path().join("o.mp4");
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("slidecast"))
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args(["--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until renders are under way, then interrupt as Ctrl-C would.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("events before the end").unwrap();
        if line.contains("\"initiated\"") {
            break;
        }
    }
    let interrupted = Instant::now();
    let status = StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in lines {}
    let status = child.wait().unwrap();
    let took = interrupted.elapsed();
    assert_eq!(status.code(), Some(130));
    // A figure, not an assert (no timing asserts): the run stops at once.
    eprintln!("stopped {took:?} after Ctrl-C");
    assert!(!out.exists(), "no partial output");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with("o."))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn invalid_deck_exits_2_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let deck = dir.path().join("deck.toml");
    std::fs::write(
        &deck,
        "[[slides]]\nimage = \"nope.png\"\nscript = \"Hi.\"\n",
    )
    .unwrap();
    slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(dir.path().join("o.mp4"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("slide 1").and(predicate::str::contains("nope.png")));
    assert!(!dir.path().join("o.mp4").exists());
}

#[test]
fn a_deck_mixing_providers_renders_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 3);
    // Slide 3 switches to the offline presenter.
    let text = std::fs::read_to_string(&deck).unwrap().replace(
        "transition = \"fade\"\n",
        "transition = \"fade\"\npresenter = { provider = \"local\" }\n",
    );
    std::fs::write(&deck, text).unwrap();
    let out = dir.path().join("mixed.mp4");
    let run = slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .args(["--progress", "json"])
        .assert()
        .success();
    let stdout = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    let providers: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"]["type"] == "initiated")
        .map(|e| {
            e["event"]["handle"]["provider"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(providers.len(), 2);
    assert!(providers.contains(&"mock".to_string()) && providers.contains(&"local".to_string()));
    assert!(probe_duration(&out) > 1.5);
}

#[test]
fn missing_output_folder_is_a_usage_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 1);
    slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(dir.path().join("no/such/dir/o.mp4"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("mkdir -p"));
}

#[test]
fn every_schedule_renders_the_same_video_length() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 3);
    let mut lengths = Vec::new();
    for schedule in ["sequential", "in-order", "eager"] {
        let out = dir.path().join(format!("{schedule}.mp4"));
        slidecast()
            .arg("render")
            .arg(&deck)
            .arg("-o")
            .arg(&out)
            .args(["--schedule", schedule, "--progress", "plain", "--jobs", "1"])
            .assert()
            .success()
            .stderr(predicate::str::contains(format!("schedule {schedule}")));
        lengths.push(probe_duration(&out));
    }
    assert!(
        lengths.windows(2).all(|w| (w[0] - w[1]).abs() < 0.05),
        "{lengths:?}"
    );
}

/// `r_frame_rate` of a file's first video stream, from ffprobe.
fn probe_frame_rate(path: &std::path::Path) -> String {
    let out = StdCommand::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=r_frame_rate",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn local_clips_are_made_at_the_decks_frame_rate() {
    let dir = tempfile::tempdir().unwrap();
    let deck = mock_deck(dir.path(), 1);
    let text = std::fs::read_to_string(&deck)
        .unwrap()
        .replace("fps = 25", "fps = 30")
        .replace("provider = \"mock\"", "provider = \"local\"");
    std::fs::write(&deck, text).unwrap();
    let (out, cache) = (dir.path().join("local.mp4"), dir.path().join("cache"));
    slidecast()
        .arg("render")
        .arg(&deck)
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .assert()
        .success();
    assert_eq!(probe_frame_rate(&out), "30/1");
    // The presenter clip itself (kept in the cache) is 30 fps, not the
    // local provider's default 25.
    let clips: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert_eq!(clips.len(), 1, "{clips:?}");
    assert_eq!(probe_frame_rate(&clips[0]), "30/1");
}
