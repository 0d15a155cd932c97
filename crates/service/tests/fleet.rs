//! A fleet in one process: one API node and two workers, each with its own
//! data folder, sharing a database and a blob store — a SQLite file and a
//! folder, or PostgreSQL and S3 (moto_server) from `scripts/with-services`.
//! Three decks that share slides, submitted at once, render on whichever
//! worker takes them, and the vendor sees one create per distinct clip.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fake_elai, start, start_worker, with_fake};
use slidecast_service::{DatabaseUrl, Role, ServiceConfigBuilder};
use slidecast_tests::backends::{urls, Backends};
use slidecast_tests::Probe;

fn shared(database: &str, blobs: &str) -> impl Fn(ServiceConfigBuilder) -> ServiceConfigBuilder {
    let (database, blobs) = (database.to_string(), blobs.to_string());
    move |c: ServiceConfigBuilder| {
        c.database(DatabaseUrl::new(database.clone()))
            .blobs(blobs.clone())
            .lease_secs(3.0)
    }
}

async fn three_decks_sharing_slides(backends: Backends) {
    let dir = tempfile::tempdir().unwrap();
    let (database, blobs) = urls(backends, dir.path());
    let fake = fake_elai(dir.path(), 1.5, |c| c.render_delay(Duration::from_secs(2))).await;
    let elai = |c| with_fake(&fake, dir.path())(c);
    let both = |c| elai(shared(&database, &blobs)(c));
    let api = start(&dir.path().join("api"), |c| both(c).role(Role::Api)).await;
    let _w1 = start_worker(&dir.path().join("w1"), both).await;
    let _w2 = start_worker(&dir.path().join("w2"), both).await;

    let mut ids = Vec::new();
    for variant in ["A", "B", "C"] {
        let deck = dir.path().join(format!("deck-{variant}"));
        slidecast_tests::elai_deck_variant(&deck, variant);
        let job = api.submit(&deck, "{}").await;
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let done = api.wait_final(id, Duration::from_secs(240)).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        // The API node ran no job: the video comes from the blob store.
        let file = api.download_video(id, dir.path()).await;
        let probe = Probe::of(&file);
        assert!(probe.duration() > 4.0, "{probe:?}");
        // Progress made on a worker reached the API node's event stream.
        let events = api.events(id, None).await;
        assert!(
            events.iter().any(|(_, e)| e["event"]["type"] == "finished"),
            "{events:?}"
        );
    }
    assert!(!api.data_dir.join("cache").read_dir().unwrap().any(|e| e
        .unwrap()
        .path()
        .extension()
        .is_some_and(|x| x == "mp4")));
    // Narrated slides 1, 3 and 4 of each deck; 1 and 4 are shared:
    // 1, 4, 3A, 3B, 3C.
    let stats = fake.stats();
    assert_eq!(stats.creates, 5, "{stats:?}");
    assert_eq!(stats.renders, 5, "{stats:?}");
    ran_on_the_workers(&dir.path().join("w1"), &dir.path().join("w2"));
}

/// Each job ran on a worker (its folder there), which fetched the upload
/// from the blob store: the jobs really crossed processes.
fn ran_on_the_workers(w1: &Path, w2: &Path) {
    let jobs = |d: &Path| std::fs::read_dir(d.join("jobs")).map_or(0, |r| r.count());
    assert_eq!(jobs(w1) + jobs(w2), 3, "{} and {}", jobs(w1), jobs(w2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_files_three_decks_sharing_slides_pay_once() {
    three_decks_sharing_slides(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_s3_three_decks_sharing_slides_pay_once() {
    three_decks_sharing_slides(Backends::Cloud).await;
}
