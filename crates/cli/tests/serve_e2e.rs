//! `slidecast serve` end to end: the real binary against the fake Elai on
//! 127.0.0.1, killed with `-9` once every render is created, then started
//! again on the same data folder. Both jobs finish and the vendor sees one
//! create per distinct clip.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::start_fake_elai;
use slidecast_elai::fake::FakeElai;
use slidecast_tests::Probe;

/// A running `slidecast serve`, its address and everything it logged.
struct Serve {
    child: Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    /// Stop it (as `kill -9` does) and return its whole log.
    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends with the pipe; give it a moment to take the rest.
        std::thread::sleep(Duration::from_millis(200));
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, fake: &FakeElai, key_file: &Path) -> Serve {
    serve_with(data, fake, key_file, &[], &[])
}

/// `slidecast GLOBAL... serve ... EXTRA...` on a free loopback port.
fn serve_with(
    data: &Path,
    fake: &FakeElai,
    key_file: &Path,
    global: &[&str],
    extra: &[&std::ffi::OsStr],
) -> Serve {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("slidecast"))
        .args(global)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(["--elai-url", &fake.base_url(), "--elai-key-file"])
        .arg(key_file)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It names the address it listens on; the log is kept, and read to
    // the end so the server never blocks on a full pipe.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let base = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        log.lock().unwrap().push_str(&format!("{line}\n"));
        if let Some(w) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break w.trim_end_matches('/').to_string();
        }
    };
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    Serve { child, base, log }
}

/// A zipped deck folder whose narrated slides Elai presents; `variant`
/// changes slide 3 only.
fn zipped_deck(dir: &Path, variant: &str) -> Vec<u8> {
    slidecast_tests::elai_deck_variant(dir, variant);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&std::fs::read(&path).unwrap()).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
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
    let mut ids = Vec::new();
    for variant in ["A", "B"] {
        let zip = zipped_deck(&dir.path().join(variant), variant);
        let form = reqwest::multipart::Form::new().part(
            "bundle",
            reqwest::multipart::Part::bytes(zip).file_name("deck.zip"),
        );
        let job: serde_json::Value = runtime.block_on(async {
            let r = client
                .post(format!("{}/v1/jobs", first.base))
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
            r.json().await.unwrap()
        });
        ids.push(job["id"].as_str().unwrap().to_string());
    }

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
    for id in &ids {
        let until = Instant::now() + Duration::from_secs(180);
        let job = loop {
            let job: serde_json::Value = runtime.block_on(async {
                client
                    .get(format!("{}/v1/jobs/{id}", second.base))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap()
            });
            if matches!(
                job["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                break job;
            }
            assert!(Instant::now() < until, "{job}");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(job["state"], "succeeded", "{job}");
        let bytes = runtime.block_on(async {
            client
                .get(format!("{}/v1/jobs/{id}/video", second.base))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        let file = dir.path().join(format!("{id}.mp4"));
        std::fs::write(&file, bytes).unwrap();
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
            .post(format!("{}/v1/jobs", serve.base))
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
                .get(format!("{}/v1/jobs/{id}", serve.base))
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
                .get(format!("{}/v1/jobs/{id}/events", serve.base))
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
            .get(format!("{}/v1/jobs", serve.base))
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
                .post(format!("{}/v1/webhooks/elai", serve.base))
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
