//! The service against the fake Elai on 127.0.0.1: jobs that share a clip
//! pay for it once, cancel deletes vendor renders on request, and the
//! webhook is checked before it wakes a poll.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{fake_elai, start, with_fake};
use slidecast_elai::fake::Faults;
use slidecast_elai::webhook::WebhookSecret;
use slidecast_tests::Probe;

/// The folder of [`slidecast_tests::elai_deck_variant`].
fn elai_deck(dir: &Path, variant: &str) -> PathBuf {
    slidecast_tests::elai_deck_variant(dir, variant);
    dir.to_path_buf()
}

/// A fake Elai whose renders of the deck's narrated slides (1, 3, 4)
/// never finish: a job against it runs until cancelled.
async fn never_finishing_elai(dir: &Path) -> slidecast_elai::fake::FakeElai {
    fake_elai(dir, 1.5, |c| {
        c.faults(Faults {
            never_finish: [1, 3, 4].into_iter().collect(),
            ..Faults::default()
        })
    })
    .await
}

/// Wait until `fake` has started `n` renders.
async fn wait_renders(fake: &slidecast_elai::fake::FakeElai, n: u32) {
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while fake.stats().renders < n {
        assert!(std::time::Instant::now() < until, "{:?}", fake.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_sharing_slides_pay_once_for_each_distinct_clip() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_elai(dir.path(), 1.5, |c| c.render_delay(Duration::from_secs(2))).await;
    let server = start(&dir.path().join("data"), with_fake(&fake, dir.path())).await;
    let a = elai_deck(&dir.path().join("a"), "A");
    let b = elai_deck(&dir.path().join("b"), "B");
    let job_a = server.submit(&a, "{}").await;
    let job_b = server.submit(&b, "{}").await;
    // Downloads wait for success.
    let (status, body) = server
        .get_json(&format!("/v1/jobs/{}/video", job_a["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_ready");

    for job in [&job_a, &job_b] {
        let id = job["id"].as_str().unwrap();
        let done = server.wait_final(id, Duration::from_secs(180)).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let file = server.download_video(id, dir.path()).await;
        assert!(Probe::of(&file).duration() > 4.0);
    }
    // Narrated slides 1, 3 and 4 of each deck; 1 and 4 are the same clip
    // in both: 1, 4, 3A, 3B.
    let stats = fake.stats();
    assert_eq!(stats.creates, 4, "{stats:?}");
    assert_eq!(stats.renders, 4, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_job_and_can_delete_its_vendor_renders() {
    let dir = tempfile::tempdir().unwrap();
    let fake = never_finishing_elai(dir.path()).await;
    let server = start(&dir.path().join("data"), with_fake(&fake, dir.path())).await;
    let deck = elai_deck(&dir.path().join("a"), "A");
    let job = server.submit(&deck, "{}").await;
    let id = job["id"].as_str().unwrap().to_string();
    // Wait for the three renders to be started at the vendor.
    wait_renders(&fake, 3).await;
    let r = server
        .client
        .post(server.url(&format!("/v1/jobs/{id}/cancel?remote=delete")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let done = server.wait_final(&id, Duration::from_secs(60)).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert_eq!(fake.stats().deletes, 3, "{:?}", fake.stats());
    let events = server.events(&id, None).await;
    let last = &events.last().unwrap().1;
    assert_eq!(last["event"]["type"], "cancelled", "{last}");
    assert_eq!(last["event"]["remote_deleted"], true, "{last}");
    // Cancel again: the same answer, nothing more deleted.
    let r = server
        .client
        .post(server.url(&format!("/v1/jobs/{id}/cancel")))
        .send()
        .await
        .unwrap();
    let again: serde_json::Value = r.json().await.unwrap();
    assert_eq!(again["state"], "cancelled");
    assert_eq!(fake.stats().deletes, 3);
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_verified_deduplicated_and_wakes_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let fake = never_finishing_elai(dir.path()).await;
    let secret = WebhookSecret::new("whsec-test-value");
    let with = with_fake(&fake, dir.path());
    let hook_secret = secret.clone();
    let server = start(&dir.path().join("data"), move |c| {
        with(c).webhook_secret(hook_secret)
    })
    .await;
    let deck = elai_deck(&dir.path().join("a"), "A");
    let job = server.submit(&deck, "{}").await;
    wait_renders(&fake, 3).await;
    let video = fake.video_ids()[0].clone();
    let body = format!(r#"{{"event":"video_ready","error":null,"video":{{"_id":"{video}"}}}}"#);
    let post = |timestamp: u64, signature: String, delivery: &str| {
        server
            .client
            .post(server.url("/v1/webhooks/elai"))
            .header("Elai-Timestamp", timestamp.to_string())
            .header("Elai-Signature", signature)
            .header("Delivery-ID", delivery.to_string())
            .body(body.clone())
            .send()
    };
    let t = now();
    let polls_before = fake.stats().status_reads;
    let r = post(t, secret.sign(&t.to_string(), body.as_bytes()), "d1")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["woke"], true, "{answer}");
    // The woken poll reads the video at once (polls are 10 s apart otherwise).
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while fake.stats().status_reads == polls_before {
        assert!(
            std::time::Instant::now() < until,
            "the webhook did not wake the poll"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The same delivery again.
    let r = post(t, secret.sign(&t.to_string(), body.as_bytes()), "d1")
        .await
        .unwrap();
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["duplicate"], true, "{answer}");
    // A wrong signature, and a stale one.
    let wrong = WebhookSecret::new("guess").sign(&t.to_string(), body.as_bytes());
    let r = post(t, wrong, "d2").await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let stale = t - 3600;
    let r = post(
        stale,
        secret.sign(&stale.to_string(), body.as_bytes()),
        "d3",
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let text = r.text().await.unwrap();
    assert!(text.contains("away from now"), "{text}");
    assert!(!text.contains("whsec-test-value"));

    let id = job["id"].as_str().unwrap();
    server
        .client
        .post(server.url(&format!("/v1/jobs/{id}/cancel")))
        .send()
        .await
        .unwrap();
    server.wait_final(id, Duration::from_secs(60)).await;
}
