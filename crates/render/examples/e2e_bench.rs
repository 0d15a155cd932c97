//! End-to-end benchmark: a whole deck through the fake Elai, against the
//! lower bound of its wall time. Prints figures, asserts nothing.
//!
//! ```text
//! cargo run --release -p slidecast-render --example e2e_bench -- --slides 20 --render-secs 30
//!     [--clip-secs 20] [--jobs 2] [--requests-per-second 200] [--format table|json] [--keep]
//! ```
//!
//! The deck: `--slides` narrated 1920x1080 slides, each presented by an
//! Elai avatar keyed out of its clip, picture-in-picture. The fake Elai on
//! 127.0.0.1 renders every video in exactly `--render-secs` (from its render
//! call) and serves a vendor-like clip of `--clip-secs`: 1920x1080, 25 fps,
//! mono 24 kHz AAC, the avatar in a 1080x1080 box on green. The Elai client
//! polls every render every 250 ms instead of backing off, standing in for
//! the webhook that tells a service at once (the real backoff notices a
//! ready clip up to a quarter of its render time late), with its own
//! request cap (5 a second; Elai documents none) raised to 200 so those
//! polls cost nothing (`--requests-per-second 5` shows the real cap). No
//! clip cache: every clip is rendered.
//!
//! The lower bound is the time nothing can beat on this machine: for the
//! clips in the order they are ready at the vendor (their render call plus
//! `--render-secs`), the time one is ready plus the compose work of it and
//! every clip ready after it, spread over the jobs; the largest of these,
//! plus the join. With every render started at once that is the time the
//! last clip is ready, plus the compose work that cannot start before it,
//! plus the join. A slide's compose work is the run's own: the wall time of
//! its compose (with `--jobs` at once) divided by the jobs, averaged over
//! the slides; the join is the run's own too. So the gap to the bound is
//! time the compose slots stood idle after clips were ready (waiting to be
//! noticed, fetched, verified, scheduled). As a check on that, the compose
//! work is also measured before the run (`--jobs` slides composed at once,
//! the faster of two rounds, divided by the jobs) and the bound printed
//! with it; this machine's speed drifts by several percent between minutes,
//! so that one can land on either side of the wall time.
//!
//! `--format json` prints one line: `slides`, `render_secs`, `clip_secs`,
//! `jobs`, `wall_s`, `lower_bound_s`, `ratio` (wall / lower bound),
//! `last_ready_s`, `compose_per_slide_s`, `calibrated_compose_per_slide_s`,
//! `calibrated_lower_bound_s`, `join_s`, `renders_at_once`, `output_s`,
//! `peak_rss_mb`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slidecast_core::schedule::Stage;
use slidecast_core::{AvatarProvider, Composer, Deck};
use slidecast_elai::fake::{FakeElai, FakeElaiConfig, FAKE_API_KEY};
use slidecast_media::{MediaComposer, MockClip};
use slidecast_render::{
    elai_config, CaptionOptions, ProviderRegistry, RenderError, RenderJob, StorePolicy,
};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const FPS: u32 = 25;
/// How often the Elai client asks whether a render is ready.
const POLL: Duration = Duration::from_millis(250);

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// A slide-like picture at the deck's size.
fn write_slide_image(path: &Path, hue: u8) {
    slidecast_media::image::write_mock_slide(path, WIDTH, HEIGHT, hue).expect("write slide image");
}

/// The deck file: `slides` narrated slides, Elai presenter keyed out.
fn write_deck(dir: &Path, slides: usize, clip_secs: f64) -> PathBuf {
    let words = ((clip_secs * 2.0) as usize).max(3);
    let mut text = format!(
        "title = \"End-to-end bench\"\n\
         [output]\nwidth = {WIDTH}\nheight = {HEIGHT}\nfps = {FPS}\nquality = \"standard\"\n\
         [presenter]\nprovider = \"elai\"\navatar = \"gia.casual\"\nshape = \"chroma-key\"\n\
         placement = {{ corner = \"bottom-right\", margin = 40, scale = 0.3 }}\n"
    );
    for n in 1..=slides {
        let image = format!("slide{n:02}.png");
        write_slide_image(&dir.join(&image), (n * 37 % 256) as u8);
        let script = vec!["narration"; words].join(" ");
        text.push_str(&format!(
            "\n[[slides]]\nimage = \"{image}\"\nscript = \"Slide {n}. {script}.\"\n"
        ));
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, text).expect("write deck");
    path
}

/// The built-in providers, with Elai polling every [`POLL`] and sending
/// at most `per_second` requests a second.
fn registry(per_second: f64) -> ProviderRegistry {
    let mut registry = ProviderRegistry::builtin();
    registry.register("elai", move |ctx| {
        let mut config = elai_config(ctx)?;
        config.pacing.poll_initial = POLL;
        config.pacing.poll_growth = 0.0;
        config.pacing.poll_max = POLL;
        config.client.requests_per_second = per_second;
        config.client.burst = (per_second as u32).max(1);
        let provider =
            slidecast_elai::ElaiProvider::new(config).map_err(|e| RenderError::Credentials {
                provider: "elai".into(),
                message: e.to_string(),
                env: slidecast_elai::API_KEY_ENV.to_string(),
            })?;
        Ok(Arc::new(provider) as Arc<dyn AvatarProvider>)
    });
    registry
}

/// Wall time of one slide's compose when `jobs` run at once: the faster
/// of two rounds of `jobs` slides composed together, divided by `jobs`.
async fn compose_cost(deck: &Deck, clip: &Path, jobs: usize, work: &Path) -> f64 {
    let composer = Arc::new(
        MediaComposer::builder(deck.output.clone())
            .jobs(jobs)
            .slides_of(deck)
            .work_dir(work)
            .build()
            .expect("composer"),
    );
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let mut prepared = Vec::new();
        for slide in deck.slides.iter().take(jobs) {
            prepared.push((
                slide.clone(),
                composer.prepare(slide).await.expect("prepare"),
            ));
        }
        let started = Instant::now();
        let tasks: Vec<_> = prepared
            .into_iter()
            .map(|(slide, p)| {
                let (composer, clip) = (composer.clone(), clip.to_path_buf());
                tokio::spawn(async move {
                    composer
                        .compose(&slide, p, std::slice::from_ref(&clip))
                        .await
                        .expect("compose")
                })
            })
            .collect();
        let n = tasks.len().max(1);
        for t in tasks {
            let segment = t.await.expect("compose task");
            let _ = std::fs::remove_file(&segment.path);
        }
        best = best.min(started.elapsed().as_secs_f64() / n as f64);
    }
    best
}

/// The largest, over the clips in ready order, of the time one is ready
/// plus the compose work of it and every later one.
fn compose_bound(mut ready: Vec<f64>, per_slide: f64) -> f64 {
    ready.sort_by(f64::total_cmp);
    let n = ready.len();
    ready
        .iter()
        .enumerate()
        .map(|(k, r)| r + (n - k) as f64 * per_slide)
        .fold(0.0, f64::max)
}

/// The most renders that were in progress at the vendor at one moment.
fn most_at_once(spans: &[(f64, f64)]) -> usize {
    spans
        .iter()
        .map(|&(at, _)| spans.iter().filter(|&&(s, e)| s <= at && at < e).count())
        .max()
        .unwrap_or(0)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let slides: usize = arg("--slides", "20").parse().expect("--slides");
    let render_secs: f64 = arg("--render-secs", "30").parse().expect("--render-secs");
    let clip_secs: f64 = arg("--clip-secs", "20").parse().expect("--clip-secs");
    let jobs: usize = arg("--jobs", "2").parse().expect("--jobs");
    let per_second: f64 = arg("--requests-per-second", "200")
        .parse()
        .expect("--requests-per-second");
    let json = arg("--format", "table") == "json";
    let keep = std::env::args().any(|a| a == "--keep");
    let root = tempfile::tempdir().expect("temp dir");
    let work = root.path().to_path_buf();

    // Inputs, before anything is timed.
    let clip = work.join("vendor.mp4");
    MockClip {
        fps: FPS,
        sample_rate: 24_000,
        figure_box: Some((420, 0, 1080, 1080)),
        ..MockClip::new(Duration::from_secs_f64(clip_secs), WIDTH, HEIGHT)
    }
    .write(&clip)
    .expect("vendor clip");
    let deck_path = write_deck(&work, slides, clip_secs);
    let deck = Deck::load(&deck_path).expect("deck");
    let calibration = work.join("calibration");
    std::fs::create_dir_all(&calibration).expect("calibration folder");
    let per_slide = compose_cost(&deck, &clip, jobs, &calibration).await;

    let mut config = FakeElaiConfig::from_mp4_file(&clip).expect("read clip");
    config.render_delay = Duration::from_secs_f64(render_secs);
    config.duration_secs = clip_secs;
    let fake = FakeElai::start(config).await.expect("fake Elai");
    let key_file = work.join("elai.key");
    std::fs::write(&key_file, FAKE_API_KEY).expect("key file");

    let output = work.join("deck.mp4");
    let job = RenderJob::new(deck, &output)
        .registry(registry(per_second))
        .provider_setting("elai.url", fake.base_url())
        .provider_setting("elai.key_file", key_file.display().to_string())
        .store(
            StorePolicy::default()
                .no_cache()
                .state_dir(work.join("state")),
        )
        .captions(CaptionOptions::default())
        .jobs(jobs);
    let started = Instant::now();
    let outcome = job.run().await.expect("render");
    let wall_s = started.elapsed().as_secs_f64();

    let spans = &outcome.report.spans;
    if std::env::var_os("BENCH_TRACE").is_some() {
        for s in spans {
            eprintln!(
                "{:?} {:?}: {:.2} .. {:.2}",
                s.slide,
                s.stage,
                s.start.as_secs_f64(),
                s.end.as_secs_f64()
            );
        }
    }
    let secs = |d: Duration| d.as_secs_f64();
    let ready: Vec<f64> = spans
        .iter()
        .filter(|s| s.stage == Stage::Initiate && s.slide.is_some())
        .map(|s| secs(s.end) + render_secs)
        .collect();
    let rendering: Vec<(f64, f64)> = spans
        .iter()
        .filter(|s| s.stage == Stage::Render)
        .map(|s| (secs(s.start), secs(s.end)))
        .collect();
    let join_s: f64 = spans
        .iter()
        .filter(|s| s.stage == Stage::Join)
        .map(|s| secs(s.end - s.start))
        .sum();
    // The compose work as this run did it: each compose's wall time (with
    // `jobs` at once), spread over the jobs.
    let composing: Vec<f64> = spans
        .iter()
        .filter(|s| s.stage == Stage::Compose)
        .map(|s| secs(s.end - s.start))
        .collect();
    let in_run = composing.iter().sum::<f64>() / (composing.len().max(1) * jobs) as f64;
    let last_ready_s = ready.iter().copied().fold(0.0, f64::max);
    let lower_bound_s = compose_bound(ready.clone(), in_run) + join_s;
    let calibrated_bound_s = compose_bound(ready.clone(), per_slide) + join_s;
    let ratio = wall_s / lower_bound_s;
    let output_s = outcome.video_length.as_secs_f64();
    let renders_at_once = most_at_once(&rendering);

    if json {
        println!(
            "{}",
            serde_json::json!({
                "slides": slides,
                "render_secs": render_secs,
                "clip_secs": clip_secs,
                "jobs": jobs,
                "wall_s": (wall_s * 100.0).round() / 100.0,
                "lower_bound_s": (lower_bound_s * 100.0).round() / 100.0,
                "ratio": (ratio * 1000.0).round() / 1000.0,
                "last_ready_s": (last_ready_s * 100.0).round() / 100.0,
                "compose_per_slide_s": (in_run * 1000.0).round() / 1000.0,
                "calibrated_compose_per_slide_s": (per_slide * 1000.0).round() / 1000.0,
                "calibrated_lower_bound_s": (calibrated_bound_s * 100.0).round() / 100.0,
                "join_s": (join_s * 100.0).round() / 100.0,
                "renders_at_once": renders_at_once,
                "output_s": (output_s * 10.0).round() / 10.0,
                "peak_rss_mb": (peak_rss_mb() * 10.0).round() / 10.0,
            })
        );
    } else {
        println!(
            "cores: {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "{slides} slides, {clip_secs:.0} s vendor-like clips (1920x1080 keyed), renders of {render_secs:.0} s, {jobs} compose jobs"
        );
        println!("renders at the vendor at once: {renders_at_once}");
        println!(
            "last clip ready at the vendor: {last_ready_s:.1} s; a slide's compose work {in_run:.2} s in the run ({per_slide:.2} s measured before it); join {join_s:.1} s"
        );
        println!(
            "wall {wall_s:.1} s for {output_s:.0} s of video; lower bound {lower_bound_s:.1} s; wall / lower bound = {ratio:.3} ({:+.1}%)",
            (ratio - 1.0) * 100.0
        );
        println!(
            "with the compose work measured before the run: lower bound {calibrated_bound_s:.1} s, wall / it = {:.3}",
            wall_s / calibrated_bound_s
        );
    }
    if keep {
        let kept = root.keep();
        eprintln!("outputs kept in {}", kept.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_takes_the_tightest_ready_time() {
        // All ready at 10 s: 10 + 3 slides of 2 s.
        assert_eq!(compose_bound(vec![10.0, 10.0, 10.0], 2.0), 16.0);
        // One early clip is done before the others arrive: 10 + 2 x 2.
        assert_eq!(compose_bound(vec![0.0, 10.0, 10.0], 2.0), 14.0);
        // Spread out: the last one alone bounds it.
        assert_eq!(compose_bound(vec![0.0, 5.0, 10.0], 2.0), 12.0);
    }

    #[test]
    fn renders_at_once_counts_the_overlap() {
        assert_eq!(most_at_once(&[(0.0, 10.0), (1.0, 11.0), (10.5, 12.0)]), 2);
        assert_eq!(most_at_once(&[]), 0);
    }
}
