//! `slidecast serve` processes for end-to-end tests: started on free
//! loopback ports, their logs kept, killed like `kill -9`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slidecast_elai::fake::FakeElai;

/// A running `slidecast serve`, its address (none for a worker) and
/// everything it logged.
pub struct Serve {
    child: Child,
    pub base: Option<String>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    /// `slidecast GLOBAL... serve ARGS...`, answering Elai calls with
    /// `fake` (key in `key_file`). An API process is given a free loopback
    /// port.
    pub fn start(global: &[&str], fake: &FakeElai, key_file: &Path, args: &[OsString]) -> Serve {
        let worker = args
            .windows(2)
            .any(|w| w[0] == "--role" && w[1] == "worker");
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("slidecast"));
        cmd.args(global)
            .arg("serve")
            .args(["--elai-url", &fake.base_url(), "--elai-key-file"])
            .arg(key_file)
            .args(args);
        if !worker {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It says where it listens (or that it works); the log is kept, and
        // read to the end so the server never blocks on a full pipe.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve ended: {}", log.lock().unwrap()))
                .unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(w) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                break Some(w.trim_end_matches('/').to_string());
            }
            if line.contains("worker running") {
                break None;
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

    /// The API's root URL (panics for a worker).
    pub fn base(&self) -> &str {
        self.base.as_deref().expect("an API process")
    }

    /// Stop it (as `kill -9` does) and return its whole log.
    pub fn kill(&mut self) -> String {
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

/// A zipped deck folder whose narrated slides Elai presents; `variant`
/// changes slide 3 only.
pub fn zipped_deck(dir: &Path, variant: &str) -> Vec<u8> {
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

/// The requests the tests make, on their own runtime.
pub struct Api<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub client: reqwest::Client,
    pub base: String,
}

impl Api<'_> {
    /// Submit a zipped deck; its job id (asserts 202).
    pub fn submit(&self, zip: Vec<u8>) -> String {
        let form = reqwest::multipart::Form::new().part(
            "bundle",
            reqwest::multipart::Part::bytes(zip).file_name("deck.zip"),
        );
        let job: serde_json::Value = self.runtime.block_on(async {
            let r = self
                .client
                .post(format!("{}/v1/jobs", self.base))
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
            r.json().await.unwrap()
        });
        job["id"].as_str().unwrap().to_string()
    }

    /// Job `id`'s JSON now.
    pub fn job(&self, id: &str) -> serde_json::Value {
        self.runtime.block_on(async {
            self.client
                .get(format!("{}/v1/jobs/{id}", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    /// Wait until job `id` is final; its JSON.
    pub fn wait_final(&self, id: &str, within: Duration) -> serde_json::Value {
        let until = Instant::now() + within;
        loop {
            let job = self.job(id);
            if matches!(
                job["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(Instant::now() < until, "{job}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Download job `id`'s video into `file`.
    pub fn download_video(&self, id: &str, file: &Path) {
        let bytes = self.runtime.block_on(async {
            let r = self
                .client
                .get(format!("{}/v1/jobs/{id}/video", self.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.bytes().await.unwrap()
        });
        std::fs::write(file, bytes).unwrap();
    }
}
