//! The local provider through the same AvatarProvider calls the scheduler
//! makes for a vendor.

mod common;

use std::time::Duration;

use common::{read_clip, request};
use slidecast_core::{AvatarProvider, PermanentKind, ProviderError, RenderHandle, RenderStatus};
use slidecast_local::{EspeakConfig, LocalConfig, LocalProvider, RenderOptions};

/// Poll like the scheduler until the render leaves Queued/Rendering; returns
/// every status seen.
async fn wait_ready(provider: &LocalProvider, handle: &RenderHandle) -> Vec<RenderStatus> {
    let mut seen = Vec::new();
    for _ in 0..3000 {
        let status = provider.status(handle).await.unwrap();
        let done = !matches!(
            status,
            RenderStatus::Queued | RenderStatus::Rendering { .. }
        );
        seen.push(status);
        if done {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("render never finished: {seen:?}");
}

fn one_at_a_time() -> LocalConfig {
    LocalConfig {
        parallel_renders: Some(1),
        ..LocalConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_status_fetch_delivers_a_clip() {
    let provider = LocalProvider::new(one_at_a_time()).unwrap();
    assert_eq!(provider.name(), "local");
    let limits = provider.limits();
    assert!(limits.max_in_flight >= 32);
    assert!(limits.poll_interval <= Duration::from_millis(500));

    let first = provider.initiate(&request("First clip.")).await.unwrap();
    let second = provider
        .initiate(&request("Second clip, a little longer."))
        .await
        .unwrap();
    assert_eq!(first.provider, "local");
    assert_ne!(first.id, second.id);
    // One CPU slot: whichever render took it first, the other waits its
    // turn (the order the two tasks start in is the runtime's choice).
    let statuses = [
        provider.status(&first).await.unwrap(),
        provider.status(&second).await.unwrap(),
    ];
    assert!(
        statuses.contains(&RenderStatus::Queued),
        "one of two renders on one CPU slot must be queued: {statuses:?}"
    );

    let seen = wait_ready(&provider, &first).await;
    assert_eq!(seen.last(), Some(&RenderStatus::Ready), "{seen:?}");
    assert!(
        seen[..seen.len() - 1]
            .iter()
            .all(|s| matches!(s, RenderStatus::Queued | RenderStatus::Rendering { .. })),
        "{seen:?}"
    );
    let seen = wait_ready(&provider, &second).await;
    assert_eq!(seen.last(), Some(&RenderStatus::Ready));
    assert!(
        seen.iter()
            .any(|s| matches!(s, RenderStatus::Queued | RenderStatus::Rendering { .. })),
        "the second render was observed before it was ready: {seen:?}"
    );

    let dest = tempfile::tempdir().unwrap();
    for (handle, name) in [(&first, "1.mp4"), (&second, "2.mp4")] {
        let path = dest.path().join(name);
        provider.fetch(handle, &path).await.unwrap();
        let clip = read_clip(&path);
        assert_eq!((clip.width, clip.height), (320, 180));
        assert!((clip.video_seconds() - clip.audio_seconds()).abs() <= 1.0 / clip.fps);
    }
    // Only the fetched clips are in the destination (no partial files).
    let mut names: Vec<_> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["1.mp4", "2.mp4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendering_reports_progress_and_an_estimate() {
    let provider = LocalProvider::new(LocalConfig::default()).unwrap();
    let handle = provider
        .initiate(&request(
            "A longer script gives the render time to report its progress on the way.",
        ))
        .await
        .unwrap();
    let seen = wait_ready(&provider, &handle).await;
    let progress: Vec<f32> = seen
        .iter()
        .filter_map(|s| match s {
            RenderStatus::Rendering { progress, .. } => *progress,
            _ => None,
        })
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {progress:?}"
    );
    assert!(progress.iter().all(|p| (0.0..100.0).contains(p)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_espeak_is_a_permanent_local_error_at_initiate() {
    let provider = LocalProvider::new(LocalConfig {
        render: RenderOptions {
            espeak: EspeakConfig {
                program: "/nonexistent/bin/espeak-ng".into(),
                ..EspeakConfig::default()
            },
            ..RenderOptions::default()
        },
        ..LocalConfig::default()
    })
    .unwrap();
    let err = provider.initiate(&request("Hello.")).await.unwrap_err();
    match &err {
        ProviderError::Permanent { kind, message } => {
            assert_eq!(*kind, PermanentKind::Local);
            assert!(message.contains("apt-get install espeak-ng"), "{message}");
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_voice_fails_the_render_as_a_bad_request() {
    let provider = LocalProvider::new(LocalConfig::default()).unwrap();
    let mut req = request("Hello.");
    req.voice = Some("xx-nowhere".into());
    let handle = provider.initiate(&req).await.unwrap();
    let mut result = provider.status(&handle).await;
    for _ in 0..500 {
        if !matches!(
            result,
            Ok(RenderStatus::Queued | RenderStatus::Rendering { .. })
        ) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        result = provider.status(&handle).await;
    }
    match result {
        Err(ProviderError::Permanent {
            kind: PermanentKind::BadRequest,
            message,
        }) => {
            assert!(message.contains("xx-nowhere"), "{message}")
        }
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_from_an_earlier_run_renders_again_and_cancel_forgets_it() {
    let earlier = LocalProvider::new(one_at_a_time()).unwrap();
    let handle = earlier.initiate(&request("Resume me.")).await.unwrap();
    earlier.cancel(&handle).await.unwrap();
    let err = earlier.status(&handle).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Permanent {
                kind: PermanentKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    drop(earlier);

    // A new process (a new provider) gets the handle from the journal: the
    // request it carries is rendered again.
    let later = LocalProvider::new(one_at_a_time()).unwrap();
    let seen = wait_ready(&later, &handle).await;
    assert_eq!(seen.last(), Some(&RenderStatus::Ready));
    let dest = tempfile::tempdir().unwrap();
    later
        .fetch(&handle, &dest.path().join("c.mp4"))
        .await
        .unwrap();

    // A handle with no request and no clip is not found.
    let bare = RenderHandle::new("local", "local-unknown");
    let err = later.status(&bare).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Permanent {
                kind: PermanentKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_clip_in_a_kept_work_dir_is_ready_for_the_next_run() {
    let work = tempfile::tempdir().unwrap();
    let config = LocalConfig {
        work_dir: Some(work.path().to_path_buf()),
        ..LocalConfig::default()
    };
    let first_run = LocalProvider::new(config.clone()).unwrap();
    assert_eq!(first_run.work_dir(), work.path());
    let handle = first_run.initiate(&request("Keep me.")).await.unwrap();
    assert_eq!(
        wait_ready(&first_run, &handle).await.last(),
        Some(&RenderStatus::Ready)
    );
    drop(first_run);

    // The next run finds the clip at once; nothing renders again.
    let next_run = LocalProvider::new(config).unwrap();
    assert_eq!(next_run.status(&handle).await.unwrap(), RenderStatus::Ready);
    let dest = tempfile::tempdir().unwrap();
    next_run
        .fetch(&handle, &dest.path().join("kept.mp4"))
        .await
        .unwrap();
    assert!(read_clip(&dest.path().join("kept.mp4")).audio_seconds() > 0.5);
    // No temporary files are left in the work dir.
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".mp4") || n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
