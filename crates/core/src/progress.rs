//! Typed progress events, for progress bars, event streams and timelines.
//!
//! These are plain Rust values; what leaves the process (JSON lines,
//! server-sent events) is a front end's serializable counterpart, which
//! decides what is public (a render handle's provider-private data is not).

use std::path::PathBuf;
use std::time::Duration;

use crate::provider::RenderHandle;
use crate::schedule::Schedule;

/// One progress report: what happened, when, and how far the run is.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Time since the run started (virtual time under a paused clock).
    pub at: Duration,
    /// Overall completion in 0..=100; never goes backwards within a run.
    pub overall: f32,
    /// Estimated time left, once there is enough to estimate from.
    pub eta: Option<Duration>,
    /// What happened.
    pub event: SlideEvent,
}

/// What happened. Slide numbers are 1-based.
///
/// Events of a run (`Started`, `Joining`, `Finished`, `Failed`) carry no
/// slide; the others name the slide they are about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SlideEvent {
    /// The run began.
    Started {
        /// Slides in the deck.
        slides: usize,
        /// Clips to render (cached ones excluded).
        renders: usize,
        /// The policy of the run.
        schedule: Schedule,
    },
    /// The vendor assigned a handle to the slide's render.
    Initiated {
        /// The slide.
        slide: usize,
        /// The vendor's handle (its `data` is provider-private).
        handle: RenderHandle,
    },
    /// The render is under way (percent when the vendor reports one).
    Rendering {
        /// The slide.
        slide: usize,
        /// 0..=100, when the vendor reports it.
        percent: Option<f32>,
    },
    /// The vendor finished the render.
    Ready {
        /// The slide.
        slide: usize,
    },
    /// The clip is on local disk and verified.
    Fetched {
        /// The slide.
        slide: usize,
        /// True when no render was needed at all.
        cached: bool,
    },
    /// The slide's clip-independent work is done.
    Prepared {
        /// The slide.
        slide: usize,
    },
    /// Composition of the slide's segment began.
    Composing {
        /// The slide.
        slide: usize,
    },
    /// The slide's segment is done.
    Composed {
        /// The slide.
        slide: usize,
        /// Length of its segment.
        duration: Duration,
    },
    /// A call failed and will be tried again after `delay`.
    Retrying {
        /// The slide.
        slide: usize,
        /// The attempt about to be made (2 for the first retry).
        attempt: u32,
        /// The wait before it.
        delay: Duration,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The vendor's render failed and a new one was requested.
    Resubmitted {
        /// The slide.
        slide: usize,
        /// The submission about to be made.
        attempt: u32,
        /// The vendor's reason for the failure.
        reason: String,
    },
    /// All segments are done; joining them.
    Joining,
    /// The output is written.
    Finished {
        /// The video.
        output: PathBuf,
    },
    /// The run stopped because of this slide.
    Failed {
        /// The slide, when the cause is one slide's.
        slide: Option<usize>,
        /// Why.
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
