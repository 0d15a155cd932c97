//! Typed progress events, for progress bars, JSON event streams and timelines.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::provider::RenderHandle;
use crate::schedule::Schedule;

/// One progress report: what happened, when, and how far the run is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Time since the run started (virtual time under a paused clock).
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    /// Overall completion in 0..=100; never goes backwards within a run.
    pub overall: f32,
    /// Estimated time left, once there is enough to estimate from.
    #[serde(serialize_with = "opt_secs")]
    pub eta: Option<Duration>,
    pub event: SlideEvent,
}

/// What happened. Slide numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlideEvent {
    /// The run began.
    Started {
        slides: usize,
        renders: usize,
        schedule: Schedule,
    },
    /// The vendor assigned a handle to the slide's render.
    Initiated { slide: usize, handle: RenderHandle },
    /// The render is under way (percent when the vendor reports one).
    Rendering { slide: usize, percent: Option<f32> },
    /// The vendor finished the render.
    Ready { slide: usize },
    /// The clip is on local disk and verified; `cached` when no render was
    /// needed at all.
    Fetched { slide: usize, cached: bool },
    /// The slide's clip-independent work is done.
    Prepared { slide: usize },
    /// Composition of the slide's segment began.
    Composing { slide: usize },
    /// The slide's segment is done.
    Composed {
        slide: usize,
        #[serde(serialize_with = "secs")]
        duration: Duration,
    },
    /// A call failed and will be tried again after `delay`.
    Retrying {
        slide: usize,
        attempt: u32,
        #[serde(serialize_with = "secs")]
        delay: Duration,
        reason: String,
    },
    /// The vendor's render failed and a new one was requested.
    Resubmitted {
        slide: usize,
        attempt: u32,
        reason: String,
    },
    /// All segments are done; joining them.
    Joining,
    /// The output is written.
    Finished { output: PathBuf },
    /// The run stopped because of this slide.
    Failed {
        slide: Option<usize>,
        reason: String,
    },
}

impl SlideEvent {
    /// The slide the event is about, if any.
    pub fn slide(&self) -> Option<usize> {
        use SlideEvent::*;
        match self {
            Initiated { slide, .. }
            | Rendering { slide, .. }
            | Ready { slide }
            | Fetched { slide, .. }
            | Prepared { slide }
            | Composing { slide }
            | Composed { slide, .. }
            | Retrying { slide, .. }
            | Resubmitted { slide, .. } => Some(*slide),
            Failed { slide, .. } => *slide,
            Started { .. } | Joining | Finished { .. } => None,
        }
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}
