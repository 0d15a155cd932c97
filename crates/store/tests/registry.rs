//! The machine-wide registry of renders in flight: claim, attach, resume a
//! dead run's render, release.

mod common;

use std::time::Duration;

use common::request;
use slidecast_core::{RenderHandle, RenderRegistry};
use slidecast_store::FileRegistry;

#[tokio::test]
async fn a_second_run_attaches_to_the_first_runs_render() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FileRegistry::open(dir.path()).unwrap();
    let r = request("Shared slide.");

    let first = registry.claim(&r).await.unwrap();
    assert!(first.existing.is_none(), "nobody renders it yet: create");

    // A second run waits while the first has not created the render yet.
    let other = registry.clone();
    let r2 = r.clone();
    let waiting = tokio::spawn(async move { other.claim(&r2).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "no handle yet: the second run waits"
    );

    let handle = RenderHandle::new("elai", "v-shared");
    registry
        .created(&first.token, &handle, false)
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("attached once the handle is recorded")
        .unwrap();
    // It never starts the live run's render a second time.
    assert_eq!(second.existing, Some((handle, true)));

    // A different clip is not held up by it.
    let other_clip = registry.claim(&request("Another slide.")).await.unwrap();
    assert!(other_clip.existing.is_none());
}

#[tokio::test]
async fn a_dead_runs_render_is_resumed_and_a_finished_one_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FileRegistry::open(dir.path()).unwrap();
    let r = request("Crash in the middle.");
    let handle = RenderHandle::new("elai", "v-orphan");
    {
        let claim = registry.claim(&r).await.unwrap();
        registry.created(&claim.token, &handle, true).await.unwrap();
        // Dropped without `finished`, as a killed run's is.
    }
    let next = registry.claim(&r).await.unwrap();
    assert_eq!(
        next.existing,
        Some((handle.clone(), true)),
        "resumed, not created"
    );
    registry.finished(next.token).await.unwrap();

    let after = registry.claim(&r).await.unwrap();
    assert!(after.existing.is_none(), "a finished render is forgotten");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
