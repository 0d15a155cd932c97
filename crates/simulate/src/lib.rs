//! `slidecast-simulate`: the real scheduler on core's mock provider and
//! composer under tokio's paused clock — instant and deterministic.
//!
//! This crate is a planning and teaching tool, kept out of the shipped
//! `slidecast` binary because a paused clock needs tokio's `test-util`.
//!
//! A [`Scenario`] gives the number of slides (all narrated), the time of one
//! initiate (create + start request), each slide's render time, the time to
//! prepare and to compose one slide, the CPU slots (`jobs`) and the render
//! slots (`max_renders`). [`simulate`] runs the [`Scheduler`] once per
//! [`Schedule`], each in its own current-thread runtime with a paused clock,
//! and reports the makespans with a lower bound no schedule can beat.
//!
//! The seed's arithmetic comes out exactly: 5 slides, render 60 s, prepare
//! 10 s, compose 6 s, one job: sequential 380 s (init 0), in-order 150 s
//! (init 10), and eager 100 s, which equals the lower bound.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use slidecast_core::deck::Deck;
use slidecast_core::schedule::{RenderReport, RunOptions, Schedule, Scheduler, Span};
use slidecast_core::testing::{mock_deck, MockComposer, MockProvider};
use slidecast_core::Error;

/// Render times as written to `--render`: `60`, `50,60,70` or `40..80`.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderSpec {
    /// Every slide the same.
    Fixed(Duration),
    /// One value per slide, repeated when the deck is longer.
    List(Vec<Duration>),
    /// Uniform in `min..=max`, drawn from a seeded generator.
    Range(Duration, Duration),
}

/// Parse a number of seconds (`"60"`, `"2.5"`): finite and not negative.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(format!("`{t}` is not a usable number of seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

impl FromStr for RenderSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "write 60, 50,60,70 or 40..80";
        let num = |t: &str| parse_seconds(t).map_err(|e| format!("{e}; {hint}"));
        if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
            if a > b {
                return Err(format!("the range `{s}` is empty; {hint}"));
            }
            Ok(RenderSpec::Range(a, b))
        } else if s.contains(',') {
            Ok(RenderSpec::List(
                s.split(',').map(num).collect::<Result<_, _>>()?,
            ))
        } else {
            Ok(RenderSpec::Fixed(num(s)?))
        }
    }
}

impl RenderSpec {
    /// One render time per slide; `seed` drives a range, so the same seed
    /// gives the same times.
    pub fn durations(&self, slides: usize, seed: u64) -> Vec<Duration> {
        match self {
            RenderSpec::Fixed(d) => vec![*d; slides],
            RenderSpec::List(list) if list.is_empty() => vec![Duration::ZERO; slides],
            RenderSpec::List(list) => list.iter().copied().cycle().take(slides).collect(),
            RenderSpec::Range(min, max) => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                (0..slides)
                    .map(|_| {
                        // Whole milliseconds keep reports readable.
                        let ms = rng.gen_range(min.as_millis()..=max.as_millis());
                        Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
                    })
                    .collect()
            }
        }
    }
}

/// A simulated deck: every slide narrated, one render per slide.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub slides: usize,
    /// One initiate (create + start request) at the vendor.
    pub init: Duration,
    /// Each slide's render time, from start to ready; `slides` entries.
    pub render: Vec<Duration>,
    /// Preparing one slide (decode and scale the background).
    pub prep: Duration,
    /// Composing one slide's segment.
    pub compose: Duration,
    /// CPU slots for prepare/compose (eager only; the others use one).
    pub jobs: usize,
    /// Render slots at the vendor.
    pub max_renders: usize,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Scenario(String),
    #[error("{schedule:?} run failed: {source}")]
    Run {
        schedule: Schedule,
        #[source]
        source: Error,
    },
    #[error("simulation scratch folder {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Makespans of the three policies and the lower bound, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationReport {
    pub sequential: f64,
    pub in_order: f64,
    pub eager: f64,
    pub lower_bound: f64,
    /// The eager run's stages, for a timeline.
    #[serde(skip)]
    pub eager_spans: Vec<Span>,
}

impl Scenario {
    /// `slides` slides with the same render time, every render in flight at
    /// once.
    pub fn uniform(
        slides: usize,
        init: Duration,
        render: Duration,
        prep: Duration,
        compose: Duration,
        jobs: usize,
    ) -> Scenario {
        Scenario {
            slides,
            init,
            render: vec![render; slides],
            prep,
            compose,
            jobs,
            max_renders: slides.max(1),
        }
    }

    fn check(&self) -> Result<(), SimulateError> {
        let bad = |m: String| Err(SimulateError::Scenario(m));
        if self.slides == 0 {
            return bad("a simulation needs at least one slide".into());
        }
        if self.render.len() != self.slides {
            return bad(format!(
                "{} render times for {} slides",
                self.render.len(),
                self.slides
            ));
        }
        if self.jobs == 0 {
            return bad("jobs must be at least 1".into());
        }
        if self.max_renders == 0 {
            return bad("max_renders must be at least 1".into());
        }
        Ok(())
    }

    /// A best case no schedule can beat. With `r_i = init + render_i` (the
    /// earliest slide `i`'s clip can exist), `a_i = max(r_i, p)` (the earliest
    /// its compose can start: clip and preparation both done), `n` slides,
    /// `c` compose, `p` prepare, `J` jobs and `R` render slots:
    ///
    /// `max( max_i(a_i) + c,  n(p + c)/J,  max_k(a_(k) + (n-k+1)c/J),  Σr_i/R + c )`
    ///
    /// - a slide's own chain: its clip and its preparation, then its compose;
    /// - all CPU work spread over every job slot;
    /// - with `a_(k)` the k-th smallest, the `n-k+1` composes that cannot
    ///   start before `a_(k)` share the job slots after it;
    /// - the render slots are busy from initiate to ready, so the last clip
    ///   is ready no earlier than `Σr_i/R`, and its compose follows.
    pub fn lower_bound(&self) -> Duration {
        let n = self.render.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let secs = |d: Duration| d.as_secs_f64();
        let (c, p, jobs) = (secs(self.compose), secs(self.prep), self.jobs.max(1) as f64);
        let ready: Vec<f64> = self.render.iter().map(|r| secs(self.init + *r)).collect();
        let mut startable: Vec<f64> = ready.iter().map(|r| r.max(p)).collect();
        startable.sort_by(f64::total_cmp);
        let chain = startable[n - 1] + c;
        let cpu = n as f64 * (p + c) / jobs;
        let tail = startable
            .iter()
            .enumerate()
            .map(|(k, a)| a + (n - k) as f64 * c / jobs)
            .fold(0.0, f64::max);
        let slots = ready.iter().sum::<f64>() / self.max_renders.max(1) as f64 + c;
        Duration::from_secs_f64(chain.max(cpu).max(tail).max(slots))
    }

    /// The in-memory deck of the scenario (no files behind it; the mock
    /// composer does not read images).
    pub fn deck(&self) -> Deck {
        mock_deck(self.slides)
    }

    /// The mocks set up for this scenario.
    pub fn mocks(&self) -> (MockProvider, MockComposer) {
        let mut provider = MockProvider::builder()
            .init_latency(self.init)
            .max_in_flight(self.max_renders.max(1))
            .poll_interval(Duration::from_secs(10));
        for (i, r) in self.render.iter().enumerate() {
            provider = provider.render_latency_for(i + 1, *r);
        }
        let composer = MockComposer::builder()
            .prep_latency(self.prep)
            .compose_latency(self.compose);
        (provider.build(), composer.build())
    }

    /// Run one policy in its own runtime under a paused clock.
    pub fn run(&self, schedule: Schedule) -> Result<RenderReport, SimulateError> {
        self.check()?;
        let scratch = Scratch::new()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|source| SimulateError::Io {
                path: scratch.0.clone(),
                source,
            })?;
        let deck = self.deck();
        let (provider, composer) = self.mocks();
        let mut options = RunOptions::default();
        options.schedule = schedule;
        options.jobs = self.jobs;
        options.max_in_flight = Some(self.max_renders);
        options.work_dir = scratch.0.join("clips");
        let output = scratch.0.join("out.mock");
        runtime
            .block_on(
                Scheduler::new(Arc::new(provider), Arc::new(composer))
                    .options(options)
                    .run(&deck, &output),
            )
            .map_err(|source| SimulateError::Run { schedule, source })
    }
}

/// Run the scenario under every policy and compare them.
pub fn simulate(scenario: &Scenario) -> Result<SimulationReport, SimulateError> {
    let sequential = scenario.run(Schedule::Sequential)?;
    let in_order = scenario.run(Schedule::InOrder)?;
    let eager = scenario.run(Schedule::Eager)?;
    Ok(SimulationReport {
        sequential: sequential.elapsed.as_secs_f64(),
        in_order: in_order.elapsed.as_secs_f64(),
        eager: eager.elapsed.as_secs_f64(),
        lower_bound: scenario.lower_bound().as_secs_f64(),
        eager_spans: eager.spans,
    })
}

/// A scratch folder for the mocks' few small files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, SimulateError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "slidecast-simulate-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(|source| SimulateError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_render_specs() {
        let s = Duration::from_secs;
        assert_eq!("60".parse(), Ok(RenderSpec::Fixed(s(60))));
        assert_eq!(
            "50, 60,70".parse(),
            Ok(RenderSpec::List(vec![s(50), s(60), s(70)]))
        );
        assert_eq!("40..80".parse(), Ok(RenderSpec::Range(s(40), s(80))));
        assert_eq!("40..=80".parse(), Ok(RenderSpec::Range(s(40), s(80))));
        for bad in ["", "x", "-1", "80..40", "1,,2", "nan", "inf", "1..x"] {
            assert!(bad.parse::<RenderSpec>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn render_durations_cycle_and_ranges_are_seeded() {
        let s = Duration::from_secs;
        let list = RenderSpec::List(vec![s(1), s(2)]);
        assert_eq!(list.durations(5, 0), vec![s(1), s(2), s(1), s(2), s(1)]);
        let range = RenderSpec::Range(s(40), s(80));
        let a = range.durations(50, 7);
        assert_eq!(a, range.durations(50, 7));
        assert_ne!(a, range.durations(50, 8));
        assert!(a.iter().all(|d| (s(40)..=s(80)).contains(d)));
    }

    #[test]
    fn lower_bound_of_the_seed_scenario() {
        let s = Duration::from_secs;
        let sc = Scenario::uniform(5, s(10), s(60), s(10), s(6), 1);
        assert_eq!(sc.lower_bound(), s(100));
        // A slow preparation is part of a slide's chain.
        let sc = Scenario::uniform(1, s(0), s(3), s(28), s(17), 3);
        assert_eq!(sc.lower_bound(), s(45));
        // One render slot: the renders queue.
        let mut sc = Scenario::uniform(4, s(0), s(10), s(0), s(1), 4);
        sc.max_renders = 1;
        assert_eq!(sc.lower_bound(), s(41));
    }
}
