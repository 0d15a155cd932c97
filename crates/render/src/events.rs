//! Progress events as JSON: the public, serializable counterpart of core's
//! [`slidecast_core::Progress`].
//!
//! This is the schema `--progress json` prints and the service streams
//! (`docs/progress-json.md`). Core's events stay plain Rust types; this
//! module decides what leaves the process. In particular a render's handle
//! is shown as its provider and vendor id only: the provider-private
//! resume data never leaves.

use serde::Serialize;
use slidecast_core::{Progress, SlideEvent};

/// One progress line (see `docs/progress-json.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EventRecord {
    /// Seconds since the run started.
    pub at: f64,
    /// Overall completion, 0..=100.
    pub overall: f32,
    /// Estimated seconds left.
    pub eta: Option<f64>,
    /// What happened.
    pub event: EventKind,
}

/// A render's public identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicHandle {
    /// The provider that issued it.
    pub provider: String,
    /// The vendor's id.
    pub id: String,
}

/// What happened (see `docs/progress-json.md` for each kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum EventKind {
    Started {
        slides: usize,
        renders: usize,
        schedule: &'static str,
    },
    Initiated {
        slide: usize,
        handle: PublicHandle,
    },
    Rendering {
        slide: usize,
        percent: Option<f32>,
    },
    Ready {
        slide: usize,
    },
    Fetched {
        slide: usize,
        cached: bool,
    },
    Prepared {
        slide: usize,
    },
    Composing {
        slide: usize,
    },
    Composed {
        slide: usize,
        duration: f64,
    },
    Retrying {
        slide: usize,
        attempt: u32,
        delay: f64,
        reason: String,
    },
    Resubmitted {
        slide: usize,
        attempt: u32,
        reason: String,
    },
    Joining,
    Finished {
        output: String,
    },
    Failed {
        slide: Option<usize>,
        reason: String,
    },
    /// An event kind this version does not describe.
    Other,
}

impl From<&Progress> for EventRecord {
    fn from(p: &Progress) -> Self {
        EventRecord {
            at: p.at.as_secs_f64(),
            overall: p.overall,
            eta: p.eta.map(|d| d.as_secs_f64()),
            event: EventKind::from(&p.event),
        }
    }
}

impl From<&SlideEvent> for EventKind {
    fn from(e: &SlideEvent) -> Self {
        match e {
            SlideEvent::Started {
                slides,
                renders,
                schedule,
            } => EventKind::Started {
                slides: *slides,
                renders: *renders,
                schedule: crate::schedule_name(*schedule),
            },
            SlideEvent::Initiated { slide, handle } => EventKind::Initiated {
                slide: *slide,
                handle: PublicHandle {
                    provider: handle.provider.clone(),
                    id: handle.id.clone(),
                },
            },
            SlideEvent::Rendering { slide, percent } => EventKind::Rendering {
                slide: *slide,
                percent: *percent,
            },
            SlideEvent::Ready { slide } => EventKind::Ready { slide: *slide },
            SlideEvent::Fetched { slide, cached } => EventKind::Fetched {
                slide: *slide,
                cached: *cached,
            },
            SlideEvent::Prepared { slide } => EventKind::Prepared { slide: *slide },
            SlideEvent::Composing { slide } => EventKind::Composing { slide: *slide },
            SlideEvent::Composed { slide, duration } => EventKind::Composed {
                slide: *slide,
                duration: duration.as_secs_f64(),
            },
            SlideEvent::Retrying {
                slide,
                attempt,
                delay,
                reason,
            } => EventKind::Retrying {
                slide: *slide,
                attempt: *attempt,
                delay: delay.as_secs_f64(),
                reason: reason.clone(),
            },
            SlideEvent::Resubmitted {
                slide,
                attempt,
                reason,
            } => EventKind::Resubmitted {
                slide: *slide,
                attempt: *attempt,
                reason: reason.clone(),
            },
            SlideEvent::Joining => EventKind::Joining,
            SlideEvent::Finished { output } => EventKind::Finished {
                output: output.display().to_string(),
            },
            SlideEvent::Failed { slide, reason } => EventKind::Failed {
                slide: *slide,
                reason: reason.clone(),
            },
            #[allow(unreachable_patterns)]
            _ => EventKind::Other,
        }
    }
}

/// `p` as one JSON line (no newline).
pub fn to_json_line(p: &Progress) -> String {
    serde_json::to_string(&EventRecord::from(p)).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slidecast_core::RenderHandle;
    use std::time::Duration;

    #[test]
    fn provider_private_handle_data_never_leaves() {
        let mut handle = RenderHandle::new("elai", "v-42");
        handle.data = serde_json::json!({"token": "private-resume-data"});
        let p = Progress {
            at: Duration::from_millis(1500),
            overall: 12.5,
            eta: Some(Duration::from_secs(30)),
            event: SlideEvent::Initiated { slide: 3, handle },
        };
        let line = to_json_line(&p);
        assert!(!line.contains("private-resume-data"), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"]["type"], "initiated");
        assert_eq!(v["event"]["handle"]["id"], "v-42");
        assert_eq!(v["event"]["handle"]["provider"], "elai");
        assert_eq!(v["at"], 1.5);
        assert_eq!(v["eta"], 30.0);
    }
}
