//! `--progress json`: every event kind follows the schema documented in
//! docs/progress-json.md (the test reads the schema from the doc itself).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::schema::{check_event, progress_schema, validate};
use serde_json::json;
use slidecast_core::{Progress, RenderHandle, Schedule, SlideEvent};

fn every_event_kind() -> Vec<SlideEvent> {
    let mut handle = RenderHandle::new("elai", "65f0c0ffee");
    let plain = handle.clone();
    handle.data = json!({ "script_chars": 120 });
    vec![
        SlideEvent::Started {
            slides: 5,
            renders: 4,
            schedule: Schedule::InOrder,
        },
        SlideEvent::Initiated {
            slide: 1,
            handle: plain,
        },
        SlideEvent::Initiated { slide: 2, handle },
        SlideEvent::Rendering {
            slide: 1,
            percent: Some(45.5),
        },
        SlideEvent::Rendering {
            slide: 2,
            percent: None,
        },
        SlideEvent::Ready { slide: 1 },
        SlideEvent::Fetched {
            slide: 1,
            cached: false,
        },
        SlideEvent::Fetched {
            slide: 3,
            cached: true,
        },
        SlideEvent::Prepared { slide: 4 },
        SlideEvent::Composing { slide: 4 },
        SlideEvent::Composed {
            slide: 4,
            duration: Duration::from_millis(12_480),
        },
        SlideEvent::Retrying {
            slide: 2,
            attempt: 1,
            delay: Duration::from_millis(1500),
            reason: "transient: 503".into(),
        },
        SlideEvent::Resubmitted {
            slide: 2,
            attempt: 2,
            reason: "vendor error".into(),
        },
        SlideEvent::Joining,
        SlideEvent::Finished {
            output: PathBuf::from("/tmp/out.mp4"),
        },
        SlideEvent::Failed {
            slide: Some(3),
            reason: "slide 3: quota exhausted".into(),
        },
        SlideEvent::Failed {
            slide: None,
            reason: "join failed".into(),
        },
    ]
}

#[test]
fn every_event_kind_follows_the_documented_schema() {
    let schema = progress_schema();
    for (i, event) in every_event_kind().into_iter().enumerate() {
        let progress = Progress {
            at: Duration::from_millis(1000 * i as u64 + 250),
            overall: (i as f32 * 6.0).min(100.0),
            eta: (i % 2 == 0).then(|| Duration::from_secs(30)),
            event,
        };
        let line = slidecast_render::events::to_json_line(&progress);
        assert!(!line.contains('\n'), "one event per line");
        assert!(
            !line.contains("script_chars"),
            "provider-private handle data leaked: {line}"
        );
        check_event(&schema, &line).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_schema_rejects_what_it_should() {
    let schema = progress_schema();
    let bad = [
        // overall out of range
        json!({"at": 1.0, "overall": 120.0, "eta": null, "event": {"type": "joining"}}),
        // unknown event type
        json!({"at": 1.0, "overall": 1.0, "eta": null, "event": {"type": "exploded"}}),
        // slide numbers are 1-based
        json!({"at": 1.0, "overall": 1.0, "eta": null, "event": {"type": "ready", "slide": 0}}),
        // missing field
        json!({"at": 1.0, "overall": 1.0, "event": {"type": "joining"}}),
        // wrong type
        json!({"at": "soon", "overall": 1.0, "eta": null, "event": {"type": "joining"}}),
    ];
    for value in bad {
        assert!(
            validate(&schema, &schema, &value, "$").is_err(),
            "schema accepted {value}"
        );
    }
}
