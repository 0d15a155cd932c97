//! `slidecast serve` end to end: the real binary against the fake Elai on
//! 127.0.0.1, killed with `-9` once every render is created, then started
//! again on the same data folder. Both jobs finish and the vendor sees one
//! create per distinct clip.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::serve::{zipped_deck, Api, Serve};
use common::start_fake_elai;
use slidecast_elai::fake::FakeElai;
use slidecast_tests::Probe;

fn serve(data: &Path, fake: &FakeElai, key_file: &Path) -> Serve {
    serve_with(data, fake, key_file, &[], &[])
}

/// `slidecast GLOBAL... serve --data-dir DATA EXTRA...`.
fn serve_with(
    data: &Path,
    fake: &FakeElai,
    key_file: &Path,
    global: &[&str],
    extra: &[&std::ffi::OsStr],
) -> Serve {
    let mut args = vec!["--data-dir".into(), data.as_os_str().to_owned()];
    args.extend(extra.iter().map(|a| a.to_os_string()));
    Serve::start(global, fake, key_file, &args)
}

#[test]
fn kill_9_after_the_creates_then_restart_finishes_both_jobs_paying_once() {
    let dir = tempfile::tempdir().unwrap();
    // Renders long enough that the kill lands while they are in flight.
    let (runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1500), |c| {
        c.render_delay(Duration::from_secs(6))
    });
    let key_file = dir.path().join("elai.key");
    std::fs::write(&key_file, fake.api_key()).unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();

    let first = serve(&data, &fake, &key_file);
    let api = Api {
        runtime: &runtime,
        client: client.clone(),
        base: first.base().to_string(),
    };
    let ids: Vec<String> = ["A", "B"]
        .iter()
        .map(|v| api.submit(zipped_deck(&dir.path().join(v), v)))
        .collect();

    // Slides 1 and 4 are shared, 3 differs: four distinct clips.
    let until = Instant::now() + Duration::from_secs(60);
    while fake.stats().renders < 4 {
        assert!(Instant::now() < until, "{:?}", fake.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut first = first;
    first.kill();
    assert_eq!(fake.stats().creates, 4, "{:?}", fake.stats());
    assert!(
        fake.stats()
            .first_ready_at
            .is_some_and(|t| Instant::now() < t.into_std()),
        "killed while every render was still in flight"
    );

    let second = serve(&data, &fake, &key_file);
    let api = Api {
        runtime: &runtime,
        client,
        base: second.base().to_string(),
    };
    for id in &ids {
        let job = api.wait_final(id, Duration::from_secs(180));
        assert_eq!(job["state"], "succeeded", "{job}");
        let file = dir.path().join(format!("{id}.mp4"));
        api.download_video(id, &file);
        assert!(Probe::of(&file).duration() > 4.0);
    }
    let stats = fake.stats();
    assert_eq!(stats.creates, 4, "no render paid twice: {stats:?}");
    assert_eq!(stats.renders, 4, "{stats:?}");
}

#[test]
fn no_secret_reaches_a_log_line_an_answer_or_a_file_of_the_service() {
    const KEY: &str = "sk-live-VERY-SECRET-0042";
    const WEBHOOK_SECRET: &str = "whsec-VERY-SECRET-0043";
    const TOKEN: &str = "tok-VERY-SECRET-0044";
    let dir = tempfile::tempdir().unwrap();
    let (runtime, fake) = start_fake_elai(dir.path(), Duration::from_millis(1500), |c| {
        c.api_key(KEY).render_delay(Duration::from_millis(500))
    });
    let key_file = dir.path().join("elai.key");
    std::fs::write(&key_file, KEY).unwrap();
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, WEBHOOK_SECRET).unwrap();
    let tokens_file = dir.path().join("tokens");
    std::fs::write(&tokens_file, format!("{TOKEN}\n")).unwrap();
    let data = dir.path().join("data");

    let mut serve = serve_with(
        &data,
        &fake,
        &key_file,
        &["-vvv"],
        &[
            "--elai-webhook-secret-file".as_ref(),
            secret_file.as_os_str(),
            "--api-tokens".as_ref(),
            tokens_file.as_os_str(),
        ],
    );

    let client = reqwest::Client::new();
    let mut answers = String::new();
    runtime.block_on(async {
        // A job through Elai, to the end.
        let zip = zipped_deck(&dir.path().join("deck"), "A");
        let form = reqwest::multipart::Form::new().part(
            "bundle",
            reqwest::multipart::Part::bytes(zip).file_name("deck.zip"),
        );
        let r = client
            .post(format!("{}/v1/jobs", serve.base()))
            .bearer_auth(TOKEN)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let job: serde_json::Value = r.json().await.unwrap();
        let id = job["id"].as_str().unwrap().to_string();
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let text = client
                .get(format!("{}/v1/jobs/{id}", serve.base()))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            answers.push_str(&text);
            let job: serde_json::Value = serde_json::from_str(&text).unwrap();
            if job["state"] != "queued" && job["state"] != "running" {
                assert_eq!(job["state"], "succeeded", "{job}");
                break;
            }
            assert!(Instant::now() < until, "{job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        answers.push_str(
            &client
                .get(format!("{}/v1/jobs/{id}/events", serve.base()))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        // A wrong token, a forged webhook and a signed one.
        let r = client
            .get(format!("{}/v1/jobs", serve.base()))
            .bearer_auth("tok-wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        answers.push_str(&r.text().await.unwrap());
        let body = r#"{"event":"video_ready","error":null,"video":{"_id":"v1"}}"#;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let secret = slidecast_elai::webhook::WebhookSecret::new(WEBHOOK_SECRET);
        for signature in ["00ff".to_string(), secret.sign(&t, body.as_bytes())] {
            let r = client
                .post(format!("{}/v1/webhooks/elai", serve.base()))
                .header("Elai-Timestamp", &t)
                .header("Elai-Signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            answers.push_str(&r.text().await.unwrap());
        }
    });
    let log = serve.kill();
    assert!(
        log.contains("running"),
        "the log was captured at trace level: {log}"
    );

    for secret in [KEY, WEBHOOK_SECRET, TOKEN] {
        assert!(!log.contains(secret), "{secret} in the log");
        assert!(!answers.contains(secret), "{secret} in an answer");
        let mut stack = vec![data.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "{secret} in {}",
                        path.display()
                    );
                }
            }
        }
    }
    // Each answer named no server path either.
    assert!(!answers.contains(data.to_str().unwrap()), "{answers}");
}
