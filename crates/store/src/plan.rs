//! The cost plan (see [`Plan`]).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use slidecast_core::{ClipIdentity, ClipSource, Deck, SpeechRate};

use crate::cache::ClipCache;
use crate::journal::{needed_clips, JournalSnapshot, NeededClip};
use crate::ClipKey;

/// How minutes are estimated and billed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Speaking rate the scripts are read at.
    pub speech_rate: SpeechRate,
    /// Each clip's estimated length is rounded up to a multiple of this.
    pub billing_step: Duration,
    /// Providers that render locally and bill nothing.
    pub free_providers: Vec<String>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            speech_rate: SpeechRate::default(),
            billing_step: Duration::from_secs(60),
            free_providers: vec!["local".to_string(), "mock".to_string()],
        }
    }
}

impl Rates {
    /// Estimated speech length of `script`.
    pub fn speech(&self, script: &str) -> Duration {
        self.speech_rate
            .duration(script)
            .max(Duration::from_secs(1))
    }

    /// `speech` rounded up to the billing step (unchanged for a zero step).
    pub fn billed(&self, speech: Duration) -> Duration {
        let step = self.billing_step.as_secs_f64();
        if step <= 0.0 {
            return speech;
        }
        Duration::from_secs_f64((speech.as_secs_f64() / step).ceil() * step)
    }

    fn is_free(&self, provider: &str) -> bool {
        self.free_providers.iter().any(|p| p == provider)
    }
}

/// Where one slide stands before a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlideStatus {
    /// A clip on disk serves it.
    Cached,
    /// A render an earlier run initiated; `started` says whether it was
    /// started (and so already billed).
    InFlight {
        /// Whether the render was started (and so already billed).
        started: bool,
    },
    /// A new vendor render.
    ToRender,
    /// The same clip as an earlier slide of this deck, rendered once.
    SameAs {
        /// The earlier slide that renders the clip.
        slide: usize,
    },
    /// No presenter.
    SlideOnly,
}

impl SlideStatus {
    /// A slide's status from its clips' (one per part): the one that costs
    /// most, so a slide with one part to render is to render.
    fn of_parts(parts: &[SlideStatus]) -> SlideStatus {
        let rank = |s: &SlideStatus| match s {
            SlideStatus::ToRender => 5,
            SlideStatus::InFlight { started: false } => 4,
            SlideStatus::InFlight { started: true } => 3,
            SlideStatus::SameAs { .. } => 2,
            SlideStatus::Cached => 1,
            SlideStatus::SlideOnly => 0,
        };
        parts
            .iter()
            .max_by_key(|s| rank(s))
            .cloned()
            .unwrap_or(SlideStatus::SlideOnly)
    }
}

impl fmt::Display for SlideStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlideStatus::Cached => f.write_str("cached"),
            SlideStatus::InFlight { started: true } => f.write_str("in flight"),
            SlideStatus::InFlight { started: false } => f.write_str("in flight (not started)"),
            SlideStatus::ToRender => f.write_str("to render"),
            SlideStatus::SameAs { slide } => write!(f, "same as slide {slide}"),
            SlideStatus::SlideOnly => f.write_str("slide only"),
        }
    }
}

/// One slide of a [`Plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlidePlan {
    /// 1-based slide number.
    pub slide: usize,
    /// Where the slide's clip comes from.
    pub status: SlideStatus,
    /// `None` for a slide-only slide.
    pub provider: Option<String>,
    /// The keys of the slide's clips: one, or one per part of a narration
    /// longer than its avatar speaks per clip; none for a slide-only slide.
    pub keys: Vec<ClipKey>,
    /// Words in the script.
    pub words: usize,
    /// Estimated clip length (zero for a slide-only slide).
    pub speech: Duration,
    /// Vendor time this run will be billed for the slide.
    pub billed: Duration,
    /// Clips of the slide this run creates at the vendor (new renders).
    pub creates: usize,
}

/// What a render of a deck will do, slide by slide, and its vendor cost.
///
/// Vendor minutes are estimated from the script: words (split on white
/// space) at [`Rates::speech_rate`] (default [`SpeechRate::DEFAULT_WPM`],
/// measured on a common vendor voice), at least one second per clip, then rounded **up per clip** to
/// [`Rates::billing_step`] (default one whole minute). Elai does not publish
/// its rounding, and each slide is its own vendor video, so the default errs
/// high: a budget check should never let a render through that the plan
/// said fits and the vendor then refuses. Providers in
/// [`Rates::free_providers`] (`local`, `mock`) render on this machine and
/// cost nothing.
///
/// A narration longer than its avatar speaks per clip is rendered in parts
/// (see [`Deck::split_narration`](slidecast_core::Deck::split_narration)),
/// each its own vendor video: each part is estimated and rounded up on its
/// own.
///
/// What counts: a clip to render, and a render the journal has initiated but
/// not started (a vendor bills when the render starts). A render already
/// started, a cached clip, a slide whose identical request an earlier slide
/// renders, and a slide-only slide cost nothing more.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every slide of the deck, in order.
    pub slides: Vec<SlidePlan>,
    /// The rates the estimate used.
    pub rates: Rates,
}

/// The render would cost more vendor minutes than allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "this render needs about {needed} vendor minute(s) for {clips} clip(s), over the budget of \
     {max} minute(s); see `slidecast plan` for which slides cost what, or raise --max-minutes",
    needed = fmt_minutes(*needed),
    max = fmt_minutes(*max)
)]
pub struct BudgetError {
    /// Vendor minutes the render would be billed.
    pub needed: f64,
    /// The budget, in minutes.
    pub max: f64,
    /// Clips that would be billed.
    pub clips: usize,
}

/// Plan a render of `deck` with the default [`Rates`].
pub fn plan(deck: &Deck, cache: Option<&ClipCache>, journal: Option<&JournalSnapshot>) -> Plan {
    Plan::build(deck, cache, journal, Rates::default())
}

impl Plan {
    /// Plan a render of `deck`: the cache and the journal (either may be
    /// absent) decide each slide's status exactly as
    /// [`Journal::plan_sources`](crate::Journal::plan_sources) would.
    pub fn build(
        deck: &Deck,
        cache: Option<&ClipCache>,
        journal: Option<&JournalSnapshot>,
        rates: Rates,
    ) -> Plan {
        let empty;
        let journal = match journal {
            Some(j) => j,
            None => {
                empty = JournalSnapshot {
                    format: crate::journal::JOURNAL_FORMAT,
                    output: Default::default(),
                    entries: Default::default(),
                };
                &empty
            }
        };
        Plan::for_sources(deck, &journal.sources(deck, cache), rates)
    }

    /// Plan a render of `deck` whose clip sources are already decided (for
    /// example by [`Journal::verified_sources`](crate::Journal::verified_sources),
    /// so a cached clip that failed verification is priced as what replaces
    /// it). This is the plan to check `--max-minutes` against just before
    /// the run. Presenter slides missing from `sources` are to be rendered.
    pub fn for_sources(
        deck: &Deck,
        sources: &HashMap<ClipIdentity, ClipSource>,
        rates: Rates,
    ) -> Plan {
        let mut clips_of: HashMap<usize, Vec<NeededClip>> = HashMap::new();
        for clip in needed_clips(deck) {
            clips_of.entry(clip.slide).or_default().push(clip);
        }
        let mut first_of_key: HashMap<ClipKey, usize> = HashMap::new();
        let mut slides = Vec::with_capacity(deck.slides.len());
        for slide in &deck.slides {
            let words = slide.script.split_whitespace().count();
            let clips = clips_of.remove(&slide.number).unwrap_or_default();
            let Some(presenter) = slide.presenter.as_ref().filter(|_| !clips.is_empty()) else {
                slides.push(SlidePlan {
                    slide: slide.number,
                    status: SlideStatus::SlideOnly,
                    provider: None,
                    keys: Vec::new(),
                    words,
                    speech: Duration::ZERO,
                    billed: Duration::ZERO,
                    creates: 0,
                });
                continue;
            };
            let free = rates.is_free(&presenter.provider);
            let (mut speech, mut billed, mut creates) = (Duration::ZERO, Duration::ZERO, 0);
            let mut statuses = Vec::with_capacity(clips.len());
            for clip in &clips {
                let part_speech = rates.speech(&clip.script);
                speech += part_speech;
                let status = match sources.get(&clip.identity) {
                    Some(ClipSource::Cached(_)) => SlideStatus::Cached,
                    _ if first_of_key.contains_key(&clip.key) => SlideStatus::SameAs {
                        slide: first_of_key[&clip.key],
                    },
                    Some(ClipSource::Resume { started, .. }) => {
                        SlideStatus::InFlight { started: *started }
                    }
                    // Render, or a source this version does not know: priced as a render.
                    _ => SlideStatus::ToRender,
                };
                first_of_key.entry(clip.key.clone()).or_insert(slide.number);
                if status == SlideStatus::ToRender {
                    creates += 1;
                }
                let billable = matches!(
                    status,
                    SlideStatus::ToRender | SlideStatus::InFlight { started: false }
                );
                if billable && !free {
                    billed += rates.billed(part_speech);
                }
                statuses.push(status);
            }
            slides.push(SlidePlan {
                slide: slide.number,
                status: SlideStatus::of_parts(&statuses),
                provider: Some(presenter.provider.clone()),
                keys: clips.into_iter().map(|c| c.key).collect(),
                words,
                speech,
                billed,
                creates: if free { 0 } else { creates },
            });
        }
        Plan { slides, rates }
    }

    /// Vendor minutes this render will be billed, in total.
    pub fn total_minutes(&self) -> f64 {
        self.slides
            .iter()
            .map(|s| s.billed.as_secs_f64())
            .sum::<f64>()
            / 60.0
    }

    /// Slides with the given status kind.
    pub fn count(&self, matches: impl Fn(&SlideStatus) -> bool) -> usize {
        self.slides.iter().filter(|s| matches(&s.status)).count()
    }

    /// `Err` when the render would be billed more than `max_minutes`.
    pub fn check_budget(&self, max_minutes: f64) -> Result<(), BudgetError> {
        let needed = self.total_minutes();
        // A hundredth of a minute of slack absorbs float sums of exact steps.
        if needed <= max_minutes + 0.01 {
            Ok(())
        } else {
            Err(BudgetError {
                needed,
                max: max_minutes,
                clips: self
                    .slides
                    .iter()
                    .filter(|s| !s.billed.is_zero())
                    .map(|s| s.keys.len())
                    .sum(),
            })
        }
    }
}

fn fmt_minutes(m: f64) -> String {
    if (m - m.round()).abs() < 0.005 {
        format!("{}", m.round() as i64)
    } else {
        format!("{m:.1}")
    }
}

fn fmt_clock(d: Duration) -> String {
    let secs = d.as_secs_f64().ceil() as u64;
    format!("{}:{:02}", secs / 60, secs % 60)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>5}  {:<24}  {:<8}  {:>5}  {:>6}  {:>8}",
            "slide", "status", "provider", "words", "speech", "billed"
        )?;
        for s in &self.slides {
            let (speech, billed) = if s.status == SlideStatus::SlideOnly {
                (String::new(), String::new())
            } else if s.billed.is_zero() {
                (fmt_clock(s.speech), "-".to_string())
            } else {
                let m = s.billed.as_secs_f64() / 60.0;
                (fmt_clock(s.speech), format!("{} min", fmt_minutes(m)))
            };
            let status = match s.keys.len() {
                0 | 1 => s.status.to_string(),
                n => format!("{} ({n} parts)", s.status),
            };
            writeln!(
                f,
                "{:>5}  {:<24}  {:<8}  {:>5}  {:>6}  {:>8}",
                s.slide,
                status,
                s.provider.as_deref().unwrap_or(""),
                if s.status == SlideStatus::SlideOnly {
                    String::new()
                } else {
                    s.words.to_string()
                },
                speech,
                billed
            )?;
        }
        let to_render = self.count(|s| *s == SlideStatus::ToRender);
        let in_flight = self.count(|s| matches!(s, SlideStatus::InFlight { .. }));
        let cached = self.count(|s| *s == SlideStatus::Cached);
        let same = self.count(|s| matches!(s, SlideStatus::SameAs { .. }));
        write!(
            f,
            "{to_render} to render, {in_flight} in flight, {cached} cached"
        )?;
        if same > 0 {
            write!(f, ", {same} repeated")?;
        }
        writeln!(
            f,
            "; about {} vendor minute(s)",
            fmt_minutes(self.total_minutes())
        )?;
        let step = self.rates.billing_step;
        let minutes = step.as_secs() / 60;
        let step = if minutes > 0 && Duration::from_secs(minutes * 60) == step {
            format!("{minutes} minute(s)")
        } else {
            humantime::format_duration(step).to_string()
        };
        write!(
            f,
            "(estimated at {} words per minute, each clip rounded up to {step}",
            self.rates.speech_rate.words_per_minute()
        )?;
        if !self.rates.free_providers.is_empty() {
            write!(f, "; {} cost nothing", self.rates.free_providers.join(", "))?;
        }
        f.write_str(")")
    }
}
