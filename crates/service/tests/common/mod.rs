//! A service on 127.0.0.1 in this process, and the requests tests make.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use slidecast_elai::fake::{FakeElai, FakeElaiConfig};
use slidecast_service::{Service, ServiceConfig, ServiceConfigBuilder};

/// A running service and the folder it keeps its data in.
pub struct Server {
    pub base: String,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a service on a free loopback port with its data in `data_dir`,
/// set up further by `configure`.
pub async fn start(
    data_dir: &Path,
    configure: impl FnOnce(ServiceConfigBuilder) -> ServiceConfigBuilder,
) -> Server {
    let config: ServiceConfig = configure(
        ServiceConfig::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .data_dir(data_dir)
            .cores(2),
    )
    .build();
    let service = Service::start(config).await.expect("service starts");
    let base = format!("http://{}", service.local_addr().expect("the API listens"));
    let task = tokio::spawn(async move {
        let _ = service.serve().await;
    });
    Server {
        base,
        data_dir: data_dir.to_path_buf(),
        client: reqwest::Client::new(),
        task,
    }
}

/// `configure` for a service whose `elai` provider is `fake`.
pub fn with_fake(
    fake: &FakeElai,
    dir: &Path,
) -> impl FnOnce(ServiceConfigBuilder) -> ServiceConfigBuilder {
    let key_file = dir.join("elai.key");
    std::fs::write(&key_file, fake.api_key()).unwrap();
    let url = fake.base_url();
    move |c: ServiceConfigBuilder| c.elai_url(url).elai_key_file(key_file)
}

/// A fake Elai serving a generated 320x180 clip of `clip_secs`.
pub async fn fake_elai(
    dir: &Path,
    clip_secs: f64,
    configure: impl FnOnce(FakeElaiConfig) -> FakeElaiConfig,
) -> FakeElai {
    let clip = dir.join("vendor.mp4");
    slidecast_media::mock_clip::write(&clip, Duration::from_secs_f64(clip_secs), 320, 180, 25)
        .unwrap();
    FakeElai::start(configure(FakeElaiConfig::from_mp4_file(&clip).unwrap()))
        .await
        .unwrap()
}

/// The files of folder `dir` as a zip, paths relative to it.
pub fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                w.start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
        w.finish().unwrap();
    }
    out.into_inner()
}

/// A zip of entries given by name.
pub fn zip_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }
    out.into_inner()
}

/// A multipart body with `bundle` and `options`.
pub fn bundle_form(zip: Vec<u8>, options: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "bundle",
            reqwest::multipart::Part::bytes(zip)
                .file_name("deck.zip")
                .mime_str("application/zip")
                .unwrap(),
        )
        .text("options", options.to_string())
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST a form to `path`; the status and the JSON answer.
    pub async fn post_form(&self, path: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Submit a zipped deck folder; the job's JSON (asserts 202).
    pub async fn submit(&self, deck_dir: &Path, options: &str) -> Value {
        let (status, job) = self
            .post_form("/v1/jobs", bundle_form(zip_dir(deck_dir), options))
            .await;
        assert_eq!(status, 202, "{job}");
        job
    }

    /// Download job `id`'s video into `dir` (asserts 200); the file.
    pub async fn download_video(&self, id: &str, dir: &Path) -> PathBuf {
        let r = self
            .client
            .get(self.url(&format!("/v1/jobs/{id}/video")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let file = dir.join(format!("{id}.mp4"));
        std::fs::write(&file, r.bytes().await.unwrap()).unwrap();
        file
    }

    /// GET `path` as text (asserts 200).
    pub async fn get_text(&self, path: &str) -> String {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Wait until job `id` is in a final state; its JSON.
    pub async fn wait_final(&self, id: &str, within: Duration) -> Value {
        let until = Instant::now() + within;
        loop {
            let (_, job) = self.get_json(&format!("/v1/jobs/{id}")).await;
            if matches!(
                job["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(Instant::now() < until, "job {id} still {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every SSE event of a job from `last_id` on, until the stream ends:
    /// `(id, data)` pairs.
    pub async fn events(&self, id: &str, last_id: Option<u64>) -> Vec<(u64, Value)> {
        let mut req = self.client.get(self.url(&format!("/v1/jobs/{id}/events")));
        if let Some(last) = last_id {
            req = req.header("Last-Event-ID", last.to_string());
        }
        let text = tokio::time::timeout(Duration::from_secs(120), async {
            req.send().await.unwrap().text().await.unwrap()
        })
        .await
        .expect("the stream of a finished job ends");
        parse_sse(&text)
    }
}

/// `(id, data as JSON)` of each event in an SSE body.
pub fn parse_sse(text: &str) -> Vec<(u64, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                }
                if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim()).ok();
                }
            }
            Some((id?, data?))
        })
        .collect()
}

/// A worker (no API) in this process; stops when dropped.
pub struct Worker {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a worker with its data in `data_dir`, set up by `configure`.
pub async fn start_worker(
    data_dir: &Path,
    configure: impl FnOnce(ServiceConfigBuilder) -> ServiceConfigBuilder,
) -> Worker {
    let config: ServiceConfig = configure(
        ServiceConfig::builder()
            .role(slidecast_service::Role::Worker)
            .data_dir(data_dir)
            .cores(2),
    )
    .build();
    let service = Service::start(config).await.expect("worker starts");
    assert!(
        service.local_addr().is_none(),
        "a worker listens on nothing"
    );
    Worker {
        task: tokio::spawn(async move {
            let _ = service.serve().await;
        }),
    }
}
