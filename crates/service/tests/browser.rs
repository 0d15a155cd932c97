//! The web page in a real headless browser (Debian's chromium, driven over
//! WebDriver by chromedriver): upload the quickstart as a zip, watch the
//! per-slide progress advance, and play the finished video with its
//! captions track.
//!
//! Needs `chromium` and `chromium-driver` (`scripts/install-deps --test` installs
//! them); without them the test fails and says so.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser(profile: &std::path::Path) -> (Driver, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver runs (install chromium and chromium-driver: scripts/install-deps --test)",
        );
    let driver = Driver(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => {
                assert!(Instant::now() < until, "cannot reach chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_uploads_the_quickstart_shows_progress_and_plays_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = slidecast_tests::workspace_root().join("examples/quickstart");
    let zip = dir.path().join("quickstart.zip");
    std::fs::write(&zip, common::zip_dir(&quickstart)).unwrap();
    let server = common::start(&dir.path().join("data"), |c| c).await;
    let (_driver, client) = browser(&dir.path().join("profile")).await;

    client.goto(&server.url("/")).await.unwrap();
    let input = client.find(Locator::Id("bundle")).await.unwrap();
    input.send_keys(zip.to_str().unwrap()).await.unwrap();

    // The plan first: five slides.
    client
        .find(Locator::Id("plan-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = wait_for(
        &client,
        "document.querySelectorAll('#plan-rows tr').length",
        |v| v.as_u64() == Some(5),
    )
    .await;
    assert_eq!(rows.as_u64(), Some(5));

    client
        .find(Locator::Id("render-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Progress advances while the job runs: some slide leaves "waiting"
    // before the job is done.
    let mut seen_stages = std::collections::BTreeSet::new();
    let mut percents = Vec::new();
    let until = Instant::now() + Duration::from_secs(300);
    loop {
        let state = client
            .execute(
                "return [document.getElementById('state').textContent, \
                 Number(document.getElementById('overall').value), \
                 Array.from(document.querySelectorAll('#stages tr')).map(r => r.cells[1].textContent)];",
                vec![],
            )
            .await
            .unwrap();
        let job_state = state[0].as_str().unwrap().to_string();
        percents.push(state[1].as_f64().unwrap());
        for stage in state[2].as_array().unwrap() {
            seen_stages.insert(stage.as_str().unwrap().to_string());
        }
        if job_state == "succeeded" {
            break;
        }
        assert!(
            job_state != "failed" && job_state != "cancelled",
            "the job ended {job_state}: {:?}",
            client
                .find(Locator::Id("job-error"))
                .await
                .unwrap()
                .text()
                .await
        );
        assert!(Instant::now() < until, "still {job_state} after 300 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen_stages
            .iter()
            .any(|s| s != "waiting" && s != "composed"),
        "no intermediate stage was shown: {seen_stages:?}"
    );
    assert!(
        percents.iter().any(|p| *p > 0.0 && *p < 100.0),
        "the progress bar never showed a value between 0 and 100: {percents:?}"
    );

    // The video plays, with its captions track.
    let ready = wait_for(
        &client,
        "document.getElementById('video').readyState",
        |v| v.as_u64().is_some_and(|n| n >= 2),
    )
    .await;
    assert!(ready.as_u64() >= Some(2));
    client
        .execute(
            "document.getElementById('video').muted = true; \
             document.getElementById('video').play();",
            vec![],
        )
        .await
        .unwrap();
    let played = wait_for(
        &client,
        "document.getElementById('video').currentTime",
        |v| v.as_f64().is_some_and(|t| t > 0.5),
    )
    .await;
    assert!(played.as_f64() > Some(0.5));
    let duration = client
        .execute("return document.getElementById('video').duration;", vec![])
        .await
        .unwrap();
    assert!(duration.as_f64().unwrap() > 30.0, "{duration}");
    // Captions and chapters; the chapters load with the quickstart's titles.
    let tracks = client
        .execute(
            "const t = document.getElementById('video').textTracks; \
             if (t.length > 1) { t[1].mode = 'hidden'; } \
             return Array.from(t).map(x => x.kind);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(tracks, serde_json::json!(["captions", "chapters"]));
    let chapters = wait_for(
        &client,
        "Array.from(document.getElementById('video').textTracks[1].cues || []).map(c => c.text)",
        |v| v.as_array().is_some_and(|a| a.len() == 5),
    )
    .await;
    assert_eq!(
        chapters,
        serde_json::json!([
            "Welcome",
            "What slidecast does",
            "How it works",
            "Charts",
            "Thank you"
        ])
    );
    client.close().await.unwrap();
}

/// Evaluate `expr` until `done` accepts its value (at most 60 s).
async fn wait_for(
    client: &Client,
    expr: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let v = client
            .execute(&format!("return {expr};"), vec![])
            .await
            .unwrap();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{expr} is still {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
