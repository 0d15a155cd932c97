//! Issue 6 end to end: the `slidecast` binary against the fake Elai on
//! 127.0.0.1, with real child processes where a crash is involved.
//!
//! 1. An edit to one script creates exactly one new render.
//! 2. `kill -9` after every render is initiated: the rerun creates nothing
//!    and writes a valid video.
//! 3. A truncated cached clip is detected and fetched again (from the
//!    existing render, so still no new create).
//! 4. Two renders of the same deck at once: both succeed, nothing is paid
//!    twice, cache and journal stay whole.
//! 5. `--max-minutes` prices a cached clip that fails verification as the
//!    render that replaces it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use slidecast_elai::fake::FakeElai;
use slidecast_tests::{decode_errors, Probe};

mod common;
use common::{png_sized, start_fake_elai};

/// Narrated slides in the test deck (plus one slide-only slide).
const NARRATED: u32 = 3;

struct World {
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
    fake: FakeElai,
}

impl World {
    fn new(render_delay: Duration) -> World {
        let dir = tempfile::tempdir().unwrap();
        let (runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1200), |c| {
            c.render_delay(render_delay)
        });
        let world = World {
            dir,
            _runtime: runtime,
            fake,
        };
        world.write_deck(&[]);
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The deck: slides 1, 3 and 4 narrated, slide 2 slide-only;
    /// `edits` replaces the script of the given slides.
    fn write_deck(&self, edits: &[(usize, &str)]) {
        let mut text = String::from(
            "title = \"Resume test\"\n[output]\nwidth = 320\nheight = 180\nfps = 25\n\
             quality = \"draft\"\n[presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\n",
        );
        for n in 1..=4usize {
            png_sized(
                &self.path(&format!("{n}.png")),
                64,
                36,
                [40 * n as u8, 90, 160],
            );
            text.push_str(&format!("\n[[slides]]\nimage = \"{n}.png\"\n"));
            if n == 2 {
                text.push_str("duration = 1.0\nslide_only = true\n");
            } else {
                let script = edits.iter().find(|(s, _)| *s == n).map_or_else(
                    || format!("This is slide number {n}."),
                    |(_, t)| t.to_string(),
                );
                text.push_str(&format!("script = {script:?}\n"));
            }
        }
        std::fs::write(self.path("deck.toml"), text).unwrap();
    }

    fn command(&self, progress: &str) -> Command {
        self.command_to(progress, "talk.mp4")
    }

    /// A render of the deck to `output` (its own journal, the shared cache).
    fn command_to(&self, progress: &str, output: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slidecast"));
        cmd.arg("render")
            .arg(self.path("deck.toml"))
            .arg("-o")
            .arg(self.path(output))
            .args([
                "--provider",
                "elai",
                "--progress",
                progress,
                "--no-captions",
            ])
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .env("ELAI_BASE_URL", self.fake.base_url())
            .env("ELAI_API_KEY", self.fake.api_key())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn render(&self) -> Output {
        let out = self.command("plain").output().unwrap();
        assert_success(&out);
        out
    }

    fn spawn(&self) -> Child {
        self.command("json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn creates(&self) -> u32 {
        self.fake.stats().creates
    }

    /// The cached clips (`<key>.mp4` in the cache folder).
    fn cached_clips(&self) -> Vec<PathBuf> {
        let mut clips: Vec<PathBuf> = std::fs::read_dir(self.path("cache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
            .collect();
        clips.sort();
        clips
    }
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "slidecast failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The output is a whole, decodable video of the right length: four slides
/// (three 1.2 s clips and a 1 s slide-only slide).
fn assert_valid_video(path: &Path) {
    let probe = Probe::of(path);
    assert_eq!(probe.video().codec_name.as_deref(), Some("h264"));
    assert_eq!(probe.audio().codec_name.as_deref(), Some("aac"));
    let duration = probe.duration();
    assert!((4.0..6.5).contains(&duration), "duration {duration}");
    let errors = decode_errors(path);
    assert!(errors.is_empty(), "decode errors: {errors}");
}

#[test]
fn editing_one_script_creates_exactly_one_new_render() {
    let w = World::new(Duration::from_millis(800));
    w.render();
    assert_eq!(w.creates(), NARRATED);
    assert_valid_video(&w.path("talk.mp4"));

    w.write_deck(&[(3, "Slide three now says something else.")]);
    w.render();
    let stats = w.fake.stats();
    assert_eq!(stats.creates, NARRATED + 1, "{stats:?}");
    assert_eq!(stats.creates_by_slide.get(&3), Some(&2), "{stats:?}");
    assert_valid_video(&w.path("talk.mp4"));
    assert_eq!(w.cached_clips().len(), NARRATED as usize + 1);
}

#[test]
fn kill_9_after_every_render_is_initiated_resumes_without_new_creates() {
    // Renders take long enough that the kill lands before any is ready.
    let w = World::new(Duration::from_secs(4));
    let mut child = w.spawn();
    let stdout = child.stdout.take().unwrap();
    let mut initiated = 0;
    for line in BufReader::new(stdout).lines() {
        initiated += u32::from(line.unwrap().contains("\"initiated\""));
        if initiated == NARRATED {
            break;
        }
    }
    assert_eq!(
        initiated, NARRATED,
        "the run ended before initiating every render"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(w.creates(), NARRATED);
    assert!(!w.path("talk.mp4").exists(), "no output from a killed run");

    w.render();
    assert_eq!(w.creates(), NARRATED, "the rerun created a render again");
    assert_valid_video(&w.path("talk.mp4"));
}

#[test]
fn a_truncated_cached_clip_is_fetched_again_and_never_composed() {
    let w = World::new(Duration::from_millis(800));
    w.render();
    let clips = w.cached_clips();
    assert_eq!(clips.len(), NARRATED as usize);
    let full = truncate_to_half(&clips[0]);
    let downloads = w.fake.stats().downloads;
    std::fs::remove_file(w.path("talk.mp4")).unwrap();

    w.render();
    let stats = w.fake.stats();
    assert_eq!(stats.creates, NARRATED, "fetched again, not rendered again");
    assert_eq!(stats.downloads, downloads + 1, "{stats:?}");
    assert_eq!(
        std::fs::metadata(&clips[0]).unwrap().len(),
        full,
        "cache healed"
    );
    assert_valid_video(&w.path("talk.mp4"));
}

#[test]
fn the_budget_prices_a_cached_clip_that_fails_verification() {
    let w = World::new(Duration::from_millis(800));
    w.render();
    let budget_zero = |output: &str| {
        w.command_to("plain", output)
            .args(["--max-minutes", "0"])
            .output()
            .unwrap()
    };
    // Every clip cached and whole: a render to another output (no journal
    // of its own) is billed nothing.
    assert_success(&budget_zero("copy.mp4"));
    let clips = w.cached_clips();
    truncate_to_half(&clips[0]);
    // The truncated clip must be rendered again, so the budget stops the
    // run before anything is created.
    let out = budget_zero("again.mp4");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("budget") && stderr.contains("1 clip(s)"),
        "{stderr}"
    );
    assert_eq!(w.creates(), NARRATED, "nothing rendered over the budget");
    assert!(!w.path("again.mp4").exists());
}

#[test]
fn two_renders_of_the_same_deck_at_once_pay_once_and_corrupt_nothing() {
    let w = World::new(Duration::from_millis(1500));
    let a = w.spawn();
    let b = w.spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_success(&a);
    assert_success(&b);
    // The second run waited for the first's journal, then found every clip
    // in the cache.
    assert_eq!(w.creates(), NARRATED);
    assert_valid_video(&w.path("talk.mp4"));

    let cache = slidecast_store::ClipCache::open(w.path("cache")).unwrap();
    let entries = cache.list().unwrap();
    assert_eq!(entries.len(), NARRATED as usize);
    assert!(entries
        .iter()
        .all(|e| e.meta.as_ref().is_some_and(|m| m.size == e.size)));
    let journal = slidecast_store::Journal::read(
        &slidecast_store::Journal::default_state_dir(&w.path("talk.mp4")),
        &w.path("talk.mp4"),
    )
    .unwrap();
    assert_eq!(journal.entries.len(), NARRATED as usize);
    assert!(journal.entries.values().all(|e| e.clip.is_some()));
}

/// Cut `clip` to half its length, as an interrupted download would; returns
/// its whole length.
fn truncate_to_half(clip: &Path) -> u64 {
    let full = std::fs::metadata(clip).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(clip)
        .unwrap()
        .set_len(full / 2)
        .unwrap();
    full
}
