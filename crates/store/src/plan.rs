//! The cost plan (see [`Plan`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use slidecast_core::{Billing, ClipIdentity, ClipSource, Deck, SpeechRate};

use crate::cache::ClipCache;
use crate::journal::{needed_clips, JournalSnapshot, NeededClip};
use crate::ClipKey;

/// How speech is estimated and how each provider bills it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Speaking rate the scripts are read at.
    pub speech_rate: SpeechRate,
    /// How each provider bills, by the name decks use. A provider not
    /// listed is billed as [`Billing::default`] (whole minutes), never free.
    pub billing: BTreeMap<String, Billing>,
}

impl Default for Rates {
    /// `local` and `mock` free, `elai` in whole minutes.
    fn default() -> Self {
        Rates {
            speech_rate: SpeechRate::default(),
            billing: [
                ("local", Billing::FREE),
                ("mock", Billing::FREE),
                ("elai", Billing::per_minute()),
            ]
            .into_iter()
            .map(|(name, b)| (name.to_string(), b))
            .collect(),
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

    /// How `provider` bills.
    pub fn billing_of(&self, provider: &str) -> Billing {
        self.billing.get(provider).cloned().unwrap_or_default()
    }

    /// Set how `provider` bills.
    pub fn bill(mut self, provider: impl Into<String>, billing: Billing) -> Rates {
        self.billing.insert(provider.into(), billing);
        self
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
    /// Vendor time this run will be billed for the slide (each clip
    /// rounded up to its provider's billing step).
    pub billed: Duration,
    /// What that costs, in the provider's unit ([`SlidePlan::unit`]).
    pub cost: f64,
    /// The provider's billing unit (`minutes`, `credits`; empty: free).
    pub unit: &'static str,
    /// Clips of the slide this run creates at the vendor (new renders).
    pub creates: usize,
}

/// What a render of a deck will do, slide by slide, and its vendor cost.
///
/// Speech is estimated from the script: words (split on white space) at
/// [`Rates::speech_rate`] (default [`SpeechRate::DEFAULT_WPM`], measured on
/// a common vendor voice), at least one second per clip. Each clip is then
/// priced by its provider's [`Billing`] in [`Rates::billing`]: its length
/// rounded **up per clip** to the provider's step (Elai: a whole minute,
/// HeyGen 30 s, D-ID 15 s), each step costing the provider's unit (minutes,
/// credits). Vendors do not publish their rounding exactly, and each clip
/// is its own vendor video, so the estimate errs high: a budget check should
/// never let a render through that the plan said fits and the vendor then
/// refuses. A provider the rates do not know is priced in whole minutes;
/// `local` and `mock` render on this machine and cost nothing.
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

/// The render would cost more than a budget allows.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetError {
    /// What the render would be billed: vendor minutes, or one provider's
    /// units.
    pub needed: f64,
    /// The budget.
    pub max: f64,
    /// Clips that would be billed.
    pub clips: usize,
    /// `None` for a budget in vendor minutes over every provider; the
    /// provider and its unit for a budget of one provider's cost.
    pub cost_of: Option<(String, &'static str)>,
}

impl std::error::Error for BudgetError {}

impl fmt::Display for BudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (needed, max) = (fmt_minutes(self.needed), fmt_minutes(self.max));
        match &self.cost_of {
            None => write!(
                f,
                "this render needs about {needed} vendor minute(s) for {} clip(s), over the budget \
                 of {max} minute(s); see `slidecast plan` for which slides cost what, or raise \
                 --max-minutes",
                self.clips
            ),
            Some((provider, unit)) => write!(
                f,
                "this render needs about {} for {} clip(s), over the budget \
                 of {max}; see `slidecast plan` for which slides cost what, or raise \
                 --max-cost {provider}={needed}",
                {
                    // `2 heygen credits`
                    let cost = fmt_cost(self.needed, unit);
                    match cost.split_once(' ') {
                        Some((n, u)) => format!("{n} {provider} {u}"),
                        None => cost,
                    }
                },
                self.clips
            ),
        }
    }
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
                    cost: 0.0,
                    unit: "",
                    creates: 0,
                });
                continue;
            };
            let billing = rates.billing_of(&presenter.provider);
            let free = billing.is_free();
            let (mut speech, mut billed, mut cost, mut creates) =
                (Duration::ZERO, Duration::ZERO, 0.0, 0);
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
                    billed += billing.billed(part_speech);
                    cost += billing.cost(part_speech);
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
                cost,
                unit: billing.unit,
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

    /// `Err` when the render would be billed more than `max_minutes` of
    /// vendor time (every vendor, each clip rounded up to its vendor's step).
    pub fn check_budget(&self, max_minutes: f64) -> Result<(), BudgetError> {
        let needed = self.total_minutes();
        self.within(needed, max_minutes, |_| true, None)
    }

    /// What the render costs per billing provider, in each one's unit:
    /// `(provider, cost, unit)`, sorted by provider.
    pub fn costs(&self) -> Vec<(String, f64, &'static str)> {
        let mut by: BTreeMap<&str, (f64, &'static str)> = BTreeMap::new();
        for s in &self.slides {
            if let Some(p) = s.provider.as_deref().filter(|_| !s.unit.is_empty()) {
                let e = by.entry(p).or_insert((0.0, s.unit));
                e.0 += s.cost;
            }
        }
        by.into_iter()
            .map(|(p, (cost, unit))| (p.to_string(), cost, unit))
            .collect()
    }

    /// `Err` when the render would cost `provider` more than `max` of its
    /// unit (credits for HeyGen and D-ID, minutes for Elai).
    pub fn check_cost(&self, provider: &str, max: f64) -> Result<(), BudgetError> {
        let mine = |s: &SlidePlan| s.provider.as_deref() == Some(provider);
        let needed: f64 = self.slides.iter().filter(|s| mine(s)).map(|s| s.cost).sum();
        let unit = self.rates.billing_of(provider).unit;
        let unit = if unit.is_empty() { "units" } else { unit };
        self.within(needed, max, mine, Some((provider.to_string(), unit)))
    }

    fn within(
        &self,
        needed: f64,
        max: f64,
        counts: impl Fn(&SlidePlan) -> bool,
        cost_of: Option<(String, &'static str)>,
    ) -> Result<(), BudgetError> {
        // A hundredth of slack absorbs float sums of exact steps.
        if needed <= max + 0.01 {
            return Ok(());
        }
        Err(BudgetError {
            needed,
            max,
            clips: self
                .slides
                .iter()
                .filter(|s| counts(s) && !s.billed.is_zero())
                .map(|s| s.keys.len())
                .sum(),
            cost_of,
        })
    }
}

fn fmt_minutes(m: f64) -> String {
    if (m - m.round()).abs() < 0.005 {
        format!("{}", m.round() as i64)
    } else {
        format!("{m:.1}")
    }
}

/// `1 credit`, `2.5 credits`.
fn fmt_cost(cost: f64, unit: &str) -> String {
    let unit = if cost == 1.0 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!("{} {unit}", fmt_minutes(cost))
}

/// `in whole minutes`, `1 credit per started 30s`.
fn fmt_billing(b: &Billing) -> String {
    if b.unit == "minutes" && b.step == Duration::from_secs(60) && b.per_step == 1.0 {
        return "in whole minutes".to_string();
    }
    format!(
        "{} per started {}",
        fmt_cost(b.per_step, b.unit),
        humantime::format_duration(b.step)
    )
}

fn fmt_clock(d: Duration) -> String {
    let secs = d.as_secs_f64().ceil() as u64;
    format!("{}:{:02}", secs / 60, secs % 60)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>5}  {:<24}  {:<8}  {:>5}  {:>6}  {:>10}",
            "slide", "status", "provider", "words", "speech", "billed"
        )?;
        for s in &self.slides {
            let (speech, billed) = if s.status == SlideStatus::SlideOnly {
                (String::new(), String::new())
            } else if s.billed.is_zero() {
                (fmt_clock(s.speech), "-".to_string())
            } else if s.unit == "minutes" {
                let m = s.billed.as_secs_f64() / 60.0;
                (fmt_clock(s.speech), format!("{} min", fmt_minutes(m)))
            } else {
                (fmt_clock(s.speech), fmt_cost(s.cost, s.unit))
            };
            let status = match s.keys.len() {
                0 | 1 => s.status.to_string(),
                n => format!("{} ({n} parts)", s.status),
            };
            writeln!(
                f,
                "{:>5}  {:<24}  {:<8}  {:>5}  {:>6}  {:>10}",
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
        write!(
            f,
            "; about {} vendor minute(s)",
            fmt_minutes(self.total_minutes())
        )?;
        let costs: Vec<String> = self
            .costs()
            .into_iter()
            .filter(|(_, cost, unit)| *unit != "minutes" && *cost > 0.0)
            .map(|(p, cost, unit)| format!("{p} {}", fmt_cost(cost, unit)))
            .collect();
        if !costs.is_empty() {
            write!(f, ": {}", costs.join(", "))?;
        }
        writeln!(f)?;
        write!(
            f,
            "(estimated at {} words per minute",
            self.rates.speech_rate.words_per_minute()
        )?;
        // How the providers of this deck bill.
        let mut providers: Vec<&str> = self
            .slides
            .iter()
            .filter_map(|s| s.provider.as_deref())
            .collect();
        providers.sort_unstable();
        providers.dedup();
        let (free, billed): (Vec<&str>, Vec<&str>) = providers
            .into_iter()
            .partition(|p| self.rates.billing_of(p).is_free());
        let steps: Vec<String> = billed
            .iter()
            .map(|p| format!("{p} {}", fmt_billing(&self.rates.billing_of(p))))
            .collect();
        if !steps.is_empty() {
            write!(f, "; each clip billed on its own: {}", steps.join(", "))?;
        }
        if !free.is_empty() {
            write!(f, "; {} cost nothing", free.join(", "))?;
        }
        f.write_str(")")
    }
}
