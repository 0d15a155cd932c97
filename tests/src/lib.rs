//! Shared helpers for slidecast's end-to-end tests: read outputs back at ffprobe level (streams, codecs,
//! durations, frame counts), the way a user's player would see them, and
//! write small test decks with real slide pictures.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

mod pptx;
pub use pptx::{write_pptx, PptxSlide};

/// What ffprobe reports about a media file.
#[derive(Debug, Clone, Deserialize)]
pub struct Probe {
    pub streams: Vec<ProbeStream>,
    pub format: ProbeFormat,
    #[serde(default)]
    pub chapters: Vec<ProbeChapter>,
}

/// One chapter as ffprobe reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeChapter {
    /// Seconds, as ffprobe prints them.
    pub start_time: String,
    pub end_time: String,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

impl ProbeChapter {
    /// The chapter's `title` tag.
    pub fn title(&self) -> &str {
        self.tags.get("title").map_or("", String::as_str)
    }

    /// Start and end, seconds.
    pub fn span(&self) -> (f64, f64) {
        (
            parse_f64(Some(&self.start_time)),
            parse_f64(Some(&self.end_time)),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProbeStream {
    pub codec_type: String,
    pub codec_name: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pix_fmt: Option<String>,
    pub avg_frame_rate: Option<String>,
    pub sample_rate: Option<String>,
    pub channels: Option<u32>,
    pub duration: Option<String>,
    pub nb_frames: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProbeFormat {
    pub format_name: String,
    pub duration: Option<String>,
    pub size: Option<String>,
}

impl Probe {
    /// Probe `path` with ffprobe (panics with ffprobe's message on failure:
    /// this is test support).
    pub fn of(path: &Path) -> Probe {
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_streams",
                "-show_format",
                "-show_chapters",
            ])
            .arg(path)
            .output()
            .expect("ffprobe runs (apt-get install ffmpeg)");
        assert!(
            out.status.success(),
            "ffprobe {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
    }

    pub fn stream(&self, kind: &str) -> Option<&ProbeStream> {
        self.streams.iter().find(|s| s.codec_type == kind)
    }

    pub fn video(&self) -> &ProbeStream {
        self.stream("video").expect("a video stream")
    }

    pub fn audio(&self) -> &ProbeStream {
        self.stream("audio").expect("an audio stream")
    }

    /// Container duration in seconds.
    pub fn duration(&self) -> f64 {
        parse_f64(self.format.duration.as_deref())
    }
}

impl ProbeStream {
    pub fn duration(&self) -> f64 {
        parse_f64(self.duration.as_deref())
    }

    /// Frames per second from `avg_frame_rate` ("25/1").
    pub fn fps(&self) -> f64 {
        let rate = self.avg_frame_rate.as_deref().unwrap_or("0/1");
        let (n, d) = rate.split_once('/').unwrap_or((rate, "1"));
        parse_f64(Some(n)) / parse_f64(Some(d)).max(1e-9)
    }

    pub fn frames(&self) -> u64 {
        self.nb_frames
            .as_deref()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

fn parse_f64(s: Option<&str>) -> f64 {
    s.and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Decode every frame of `path` with the ffmpeg CLI and return its complaints
/// (empty when the file decodes cleanly, as a standard player would need).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let mut errors = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        errors.push_str(&format!("ffmpeg exited with {}", out.status));
    }
    errors
}

/// What the `ffmpeg` CLI logs running the audio `filter` over the first
/// audio stream of `path` (the analysis filters report there).
fn audio_filter_log(path: &Path, filter: &str) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-af", filter, "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffmpeg -af {filter} failed: {log}");
    log
}

/// A file's audio loudness as the `ffmpeg` CLI's EBU R128 meter reads it
/// (an implementation independent of slidecast's own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// True peak, dBTP.
    pub true_peak: f64,
}

impl Loudness {
    /// Measure the first audio stream of `path`.
    pub fn of(path: &Path) -> Loudness {
        let log = audio_filter_log(path, "ebur128=peak=true:framelog=verbose");
        let summary = log
            .rsplit_once("Summary:")
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no ebur128 summary in: {log}"));
        // `I: -16.3 LUFS` in "Integrated loudness", `Peak: -1.8 dBFS` in
        // "True peak".
        let value = |section: &str, key: &str| -> f64 {
            let tail = summary
                .split_once(section)
                .unwrap_or_else(|| panic!("no {section} in: {summary}"))
                .1;
            let line = tail
                .lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap_or_else(|| panic!("no {key} under {section} in: {summary}"));
            parse_f64(line.split_whitespace().nth(1))
        };
        Loudness {
            integrated: value("Integrated loudness:", "I:"),
            true_peak: value("True peak:", "Peak:"),
        }
    }
}

/// Where speech starts in `path`'s audio, in seconds, as the `ffmpeg` CLI's
/// `silencedetect` finds it: the end of every quiet (under -45 dBFS) of at
/// least 0.1 s, and 0 when the audio starts with sound.
pub fn speech_onsets(path: &Path) -> Vec<f64> {
    let log = audio_filter_log(path, "silencedetect=n=-45dB:d=0.1");
    let value = |line: &str, key: &str| {
        line.split_once(key)
            .map(|(_, rest)| parse_f64(rest.split_whitespace().next()))
    };
    let mut onsets = Vec::new();
    let mut first_quiet = None;
    for line in log.lines() {
        if let Some(t) = value(line, "silence_start: ") {
            first_quiet.get_or_insert(t);
        }
        if let Some(t) = value(line, "silence_end: ") {
            onsets.push(t);
        }
    }
    if first_quiet.is_none_or(|t| t > 0.0) {
        onsets.insert(0, 0.0);
    }
    onsets
}

/// Frame `index` (from 0) of `path`'s video as 8-bit luma, decoded by the
/// `ffmpeg` CLI: `(width, height, pixels)`, rows top to bottom.
pub fn luma_frame(path: &Path, index: u64) -> (u32, u32, Vec<u8>) {
    let video = Probe::of(path).video().clone();
    let (width, height) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{index})"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success() && out.stdout.len() == (width * height) as usize,
        "frame {index} of {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (width, height, out.stdout)
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// A PNG of `width` x `height` in one colour.
pub fn png_sized(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    let pixels: Vec<u8> = rgb
        .iter()
        .copied()
        .cycle()
        .take((3 * width * height) as usize)
        .collect();
    slidecast_media::image::write_image(path, width, height, &pixels).expect("PNG written");
}

/// A small deck for render tests in `dir`: 320x180 draft, mock presenter,
/// `slides` slides of which the second is slide-only and the third fades in.
/// Returns the path of its `deck.toml`.
pub fn mock_deck(dir: &Path, slides: usize) -> PathBuf {
    let colours = [
        [200, 60, 60],
        [60, 160, 60],
        [60, 60, 200],
        [200, 180, 40],
        [120, 40, 160],
    ];
    let mut text = String::from(
        "title = \"Render test\"\n[output]\nwidth = 320\nheight = 180\nfps = 25\nquality = \"draft\"\n[presenter]\nprovider = \"mock\"\n",
    );
    for n in 1..=slides {
        png_sized(
            &dir.join(format!("{n}.png")),
            64,
            36,
            colours[(n - 1) % colours.len()],
        );
        text.push_str(&format!("\n[[slides]]\nimage = \"{n}.png\"\n"));
        if n == 1 {
            text.push_str("title = \"Opening\"\n");
        }
        if n == 2 {
            text.push_str("duration = 1.5\nslide_only = true\n");
        } else {
            text.push_str(&format!(
                "script = \"This is slide number {n}. It has two sentences, the second one a little longer than the first.\"\n"
            ));
        }
        if n == 3 {
            text.push_str("transition = \"fade\"\n");
        }
    }
    let path = dir.join("deck.toml");
    std::fs::write(&path, text).expect("deck written");
    path
}

/// A small but well-formed PDF with `pages` pages (a coloured box each),
/// with a correct cross-reference table.
pub fn tiny_pdf(pages: usize) -> Vec<u8> {
    outlined_pdf(&vec![None; pages])
}

/// [`tiny_pdf`] with one page per entry of `titles` and an outline
/// (bookmarks) entry pointing at each page that has a title, titles
/// written as UTF-16 as PDF writers do.
pub fn outlined_pdf(titles: &[Option<&str>]) -> Vec<u8> {
    let pages = titles.len();
    let mut objects: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let outlines = 3 + 2 * pages;
    let items: Vec<(usize, &str)> = titles
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (i, t)))
        .collect();
    objects.push(if items.is_empty() {
        "<< /Type /Catalog /Pages 2 0 R >>".into()
    } else {
        format!("<< /Type /Catalog /Pages 2 0 R /Outlines {outlines} 0 R /PageMode /UseOutlines >>")
    });
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    ));
    for i in 0..pages {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 180] /Contents {} 0 R >>",
            4 + 2 * i
        ));
        let shade = 0.2 + 0.1 * i as f32;
        let stream = format!("{shade:.1} 0.4 0.8 rg 20 20 {} 100 re f", 60 + 20 * i);
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    if !items.is_empty() {
        let (first, last) = (outlines + 1, outlines + items.len());
        objects.push(format!(
            "<< /Type /Outlines /First {first} 0 R /Last {last} 0 R /Count {} >>",
            items.len()
        ));
        for (k, (page, title)) in items.iter().enumerate() {
            let me = outlines + 1 + k;
            let prev = if k > 0 {
                format!("/Prev {} 0 R ", me - 1)
            } else {
                String::new()
            };
            let next = if k + 1 < items.len() {
                format!("/Next {} 0 R ", me + 1)
            } else {
                String::new()
            };
            let utf16: String = title.encode_utf16().map(|u| format!("{u:04X}")).collect();
            objects.push(format!(
                "<< /Title <FEFF{utf16}> /Parent {outlines} 0 R {prev}{next}/Dest [{} 0 R /Fit] >>",
                3 + 2 * page
            ));
        }
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// [`mock_deck`] with every narrated slide presented by Elai's `gia.casual`.
pub fn elai_deck(dir: &Path, slides: usize) -> PathBuf {
    let deck = mock_deck(dir, slides);
    let text = std::fs::read_to_string(&deck).unwrap().replace(
        "provider = \"mock\"",
        "provider = \"elai\"\navatar = \"gia.casual\"",
    );
    std::fs::write(&deck, text).unwrap();
    deck
}

/// A 4-slide [`elai_deck`] in `dir` (created) whose slide 3 says which
/// `variant` it is: two variants share the clips of slides 1 and 4 and
/// differ in slide 3's. Returns the deck file.
pub fn elai_deck_variant(dir: &Path, variant: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let deck = elai_deck(dir, 4);
    let text = std::fs::read_to_string(&deck).unwrap().replace(
        "This is slide number 3.",
        &format!("This is slide number 3 of deck {variant}."),
    );
    std::fs::write(&deck, text).unwrap();
    deck
}

/// The shared backends a fleet runs on, fresh for each test: a PostgreSQL
/// database and an S3 bucket from the services `scripts/with-services`
/// starts, or a SQLite file and a folder.
pub mod backends {
    use std::path::Path;
    use std::process::Command;

    /// Which backends a fleet test runs on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Backends {
        /// A SQLite file and a blob folder (one machine, several processes).
        Embedded,
        /// PostgreSQL and S3 (moto_server).
        Cloud,
    }

    /// A database URL and a blob store URL for one test; files go in `dir`.
    pub fn urls(backends: Backends, dir: &Path) -> (String, String) {
        match backends {
            Backends::Embedded => (
                // As a user writes it: the file is created when missing.
                format!("sqlite://{}", dir.join("fleet.sqlite").display()),
                dir.join("fleet-blobs").display().to_string(),
            ),
            Backends::Cloud => (postgres_database(), s3_bucket()),
        }
    }

    fn unique(prefix: &str) -> String {
        use std::time::{SystemTime, UNIX_EPOCH};
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{prefix}{}x{nanos:x}x{n}", std::process::id())
    }

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: the fleet tests need PostgreSQL and an S3 stand-in; \
                 run them as `scripts/with-services cargo test --workspace`"
            )
        })
    }

    /// A new, empty database on the PostgreSQL server `pg_virtualenv`
    /// started (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`); its URL.
    pub fn postgres_database() -> String {
        let (host, port, user, password) = (
            env("PGHOST"),
            env("PGPORT"),
            env("PGUSER"),
            env("PGPASSWORD"),
        );
        let name = unique("slidecast_t");
        let out = Command::new("createdb")
            .arg(&name)
            .output()
            .expect("createdb runs (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://{user}:{password}@{host}:{port}/{name}")
    }

    /// A new, empty bucket on the S3 stand-in (`SLIDECAST_TEST_S3`); its
    /// `s3://BUCKET/PREFIX` URL (the `AWS_*` variables point at it).
    pub fn s3_bucket() -> String {
        let endpoint = env("SLIDECAST_TEST_S3");
        let bucket = unique("slidecast-t").to_lowercase();
        let out = Command::new("curl")
            .args(["-fsS", "-X", "PUT", &format!("{endpoint}/{bucket}")])
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "creating bucket {bucket}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("s3://{bucket}/fleet")
    }
}
