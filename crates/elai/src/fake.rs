//! A fake Elai: a real HTTP server on 127.0.0.1 with stateful videos, for
//! end-to-end tests of this crate, the CLI and the workspace.
//!
//! It behaves as real traffic against Elai shows (`elai-api.md` in the
//! project's reference notes): videos go `draft` → (render) → `validating`
//! → `rendering` → `ready` after [`FakeElaiConfig::render_delay`], then
//! serve the MP4 bytes given to [`FakeElaiConfig::new`] (or, with
//! [`FakeElaiConfig::clips`], each video's own clip, as long as its speech,
//! with the background and avatar box its request asked for) from a
//! signed-looking URL. A request Elai cannot render is accepted at create
//! and fails *after the render call* with status `error` and its reason in
//! `data.appError`: speech longer than the avatar's `limit` (estimated at
//! the shared speaking rate; the real service measures the synthesized
//! speech), a voice it does not have, a background colour that is not full
//! 6-digit hex. `GET avatars` is a bare array with a null top-level
//! `canvas`, `status` and `limit`; `GET voices` is language groups of
//! `{character, voice, voiceProvider, locale}`.
//!
//! Not from evidence (no real traffic shows them): the answer to an unknown
//! avatar code (400 here), and a create body whose shape no rendering
//! request had (`data.resolution` other than `FullHD`, an avatar object
//! without `width`/`height`, no `gender`): refused with 400 here so tests
//! catch the client sending them.
//!
//! [`Faults`] injects 429 bursts with `Retry-After`, a seeded fraction of
//! 500s, failed renders, renders that never finish, expired download URLs,
//! truncated downloads and lost create answers. [`FakeElai::stats`] counts
//! what arrived. Time is tokio time, so the fake works under a paused clock
//! when it runs in the test's runtime.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use slidecast_elai::fake::{FakeElai, FakeElaiConfig};
//! use slidecast_elai::ElaiProvider;
//! let fake = FakeElai::start(FakeElaiConfig::new(std::fs::read("clip.mp4")?)).await?;
//! let provider = ElaiProvider::new(fake.provider_config().build()?)?;
//! # Ok(()) }
//! ```
//!
//! Endpoints (under `/api/v1`): `POST videos`, `GET videos` (first page,
//! newest first), `POST videos/render/{id}`,
//! `GET|DELETE videos/{id}`, `GET avatars`, `GET voices`; downloads at
//! `/public/video/{id}.mp4?s=<signature>` (no key needed).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use slidecast_vendor::fake::{DownloadFault, FaultState, Outcome as Planned, Server};
use tokio::time::Instant;

use crate::config::{ApiKey, ElaiConfig, ElaiConfigBuilder};

/// The API key the fake accepts unless configured otherwise.
pub const FAKE_API_KEY: &str = "fake-elai-key-0123456789";

pub use slidecast_vendor::fake::{Faults, RateLimitBurst};

/// What a finished video shows, as the create request placed it: what a
/// [`ClipMaker`] draws.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedVideo {
    /// How long the narration speaks (estimated at the shared speaking
    /// rate; the real service synthesizes it).
    pub speech: Duration,
    /// The canvas background, `#RRGGBB`, behind the avatar.
    pub background: String,
    /// The avatar's box in the 1920x1080 frame, pixels `(left, top, width,
    /// height)`: the canvas object's editor units times 3, as measured on
    /// real renders.
    pub avatar_box: (u32, u32, u32, u32),
}

impl RenderedVideo {
    /// Width and height of every real Elai render.
    pub const FRAME: (u32, u32) = (1920, 1080);
    /// Frame rate of every real Elai render.
    pub const FPS: u32 = 25;
    /// Audio of every real Elai render: mono AAC at this rate.
    pub const AUDIO_RATE: u32 = 24_000;

    fn of(body: &Value) -> RenderedVideo {
        let slide = body.get("slides").and_then(|s| s.get(0));
        let speech = slide
            .and_then(|s| s.get("speech"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let canvas = slide.and_then(|s| s.get("canvas"));
        let background = canvas
            .and_then(|c| c.get("background"))
            .and_then(Value::as_str)
            .unwrap_or("#FFFFFF")
            .to_string();
        let object = canvas.and_then(|c| c.get("objects")).and_then(|o| o.get(0));
        let num = |name: &str, default: f64| {
            object
                .and_then(|o| o.get(name))
                .and_then(Value::as_f64)
                .unwrap_or(default)
        };
        let px = |editor_units: f64| (editor_units * 3.0).round().max(0.0) as u32;
        // The avatar is drawn at its canvas image's own size times the
        // scale, whatever `width`/`height` the request claimed.
        let code = slide
            .and_then(|s| s.get("avatar"))
            .and_then(|a| a.get("code"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let side = f64::from(canvas_px(code));
        RenderedVideo {
            speech: slidecast_core::SpeechRate::default().duration(speech),
            background,
            avatar_box: (
                px(num("left", 0.0)),
                px(num("top", 0.0)),
                px(side * num("scaleX", 1.0)),
                px(side * num("scaleY", 1.0)),
            ),
        }
    }
}

/// The function a [`ClipMaker`] calls.
type MakeClip = dyn Fn(&RenderedVideo) -> Vec<u8> + Send + Sync;

/// Makes the MP4 a finished video serves (see [`FakeElaiConfig::clips`]).
#[derive(Clone)]
pub struct ClipMaker(Arc<MakeClip>);

impl std::fmt::Debug for ClipMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClipMaker")
    }
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeElaiConfig {
    /// The key it accepts in `Authorization: Bearer`.
    pub api_key: String,
    /// Time from the render call to `ready`.
    pub render_delay: Duration,
    /// The bytes every finished video serves.
    pub mp4: Bytes,
    /// Video duration reported once ready, seconds.
    pub duration_secs: f64,
    /// Makes each video's own clip instead of serving `mp4`.
    pub clips: Option<ClipMaker>,
    pub faults: Faults,
}

impl FakeElaiConfig {
    /// A fake serving `mp4` for every finished video, rendering in 2 s.
    pub fn new(mp4: impl Into<Bytes>) -> Self {
        FakeElaiConfig {
            api_key: FAKE_API_KEY.to_string(),
            render_delay: Duration::from_secs(2),
            mp4: mp4.into(),
            duration_secs: 1.0,
            clips: None,
            faults: Faults::default(),
        }
    }

    /// Serve each finished video's own clip, made once (on a blocking
    /// thread) by `maker` from what the create request asked for: its
    /// speech length, background and avatar box. The fake itself encodes
    /// nothing; a test makes clips as real renders are
    /// ([`RenderedVideo::FRAME`], [`RenderedVideo::FPS`],
    /// [`RenderedVideo::AUDIO_RATE`] mono).
    pub fn clips(
        mut self,
        maker: impl Fn(&RenderedVideo) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        self.clips = Some(ClipMaker(Arc::new(maker)));
        self
    }

    /// A fake serving the file at `path` (for example a small MP4 a test
    /// generated) for every finished video.
    pub fn from_mp4_file(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Ok(FakeElaiConfig::new(std::fs::read(path)?))
    }

    pub fn render_delay(mut self, d: Duration) -> Self {
        self.render_delay = d;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }
}

/// What the fake has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeStats {
    /// Videos created (requests that were answered 200).
    pub creates: u32,
    /// Render calls answered 200.
    pub renders: u32,
    pub deletes: u32,
    pub status_reads: u32,
    /// Pages of the video list served.
    pub list_reads: u32,
    /// Downloads that served the whole file.
    pub downloads: u32,
    pub injected_429: u32,
    pub injected_500: u32,
    pub unauthorized: u32,
    /// Slide number (from the video name) → videos created for it.
    pub creates_by_slide: BTreeMap<usize, u32>,
    /// When the last video was created.
    pub last_create_at: Option<Instant>,
    /// When the first render that will succeed is (or was) ready.
    pub first_ready_at: Option<Instant>,
    /// Every create request's JSON body, in arrival order.
    pub create_bodies: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ready,
    Fail,
    Never,
    /// `error` with this `data.appError`.
    Rejected(String),
}

#[derive(Debug)]
struct Video {
    /// Creation order, for the newest-first list.
    seq: u64,
    tags: Value,
    name: String,
    slide: Option<usize>,
    render_started: Option<Instant>,
    outcome: Outcome,
    /// Why Elai will refuse to render it (found at create, reported after
    /// the render call, as the real service does).
    rejection: Option<String>,
    /// What it shows, and its clip once made (with a clip maker).
    look: RenderedVideo,
    clip: Option<Bytes>,
}

struct Inner {
    config: FakeElaiConfig,
    origin: String,
    videos: HashMap<String, Video>,
    next_id: u64,
    faults: FaultState,
    signature: u64,
    /// Canvas PNGs made so far, by side.
    canvas_pngs: HashMap<u32, Bytes>,
    stats: FakeStats,
    ready_times: Vec<Instant>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake Elai. Dropping it stops the server.
pub struct FakeElai {
    server: Server,
    state: Shared,
}

impl FakeElai {
    /// Start on a free port of 127.0.0.1 in the current tokio runtime.
    pub async fn start(config: FakeElaiConfig) -> std::io::Result<FakeElai> {
        FakeElai::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on `addr` (port 0 picks a free port).
    pub async fn start_on(config: FakeElaiConfig, addr: SocketAddr) -> std::io::Result<FakeElai> {
        slidecast_vendor::fake::check_key(&config.api_key)?;
        let state = Arc::new(Mutex::new(Inner {
            faults: FaultState::new(config.faults.clone()),
            config,
            origin: String::new(),
            videos: HashMap::new(),
            next_id: 1,
            signature: 0,
            canvas_pngs: HashMap::new(),
            stats: FakeStats::default(),
            ready_times: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/v1/videos", post(create_video).get(list_videos))
            .route("/api/v1/videos/render/{id}", post(render_video))
            .route("/api/v1/videos/{id}", get(get_video).delete(delete_video))
            .route("/api/v1/avatars", get(list_avatars))
            .route("/api/v1/voices", get(list_voices))
            .route("/public/video/{file}", get(download))
            .route("/public/avatars/{file}", get(avatar_image))
            .with_state(state.clone());
        let server = Server::start(app, addr, "Elai").await?;
        lock(&state).origin = format!("http://{}", server.addr());
        Ok(FakeElai { server, state })
    }

    /// The API root to configure a client with, `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.server.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> String {
        lock(&self.state).config.api_key.clone()
    }

    /// A config builder aimed at this fake (base URL and key set, the
    /// environment not read, quick polling and a generous rate limit).
    pub fn provider_config(&self) -> ElaiConfigBuilder {
        // `start` checked that the key is valid.
        let key = ApiKey::new(self.api_key()).expect("the fake's key was checked at start");
        ElaiConfig::builder()
            .base_url(self.base_url())
            .api_key(key)
            .read_env(false)
            .rate_limit(1000.0, 100)
            .poll_backoff(Duration::from_millis(50), 0.25, Duration::from_millis(500))
    }

    /// Counters and timestamps so far.
    pub fn stats(&self) -> FakeStats {
        let inner = lock(&self.state);
        let mut stats = inner.stats.clone();
        stats.first_ready_at = inner.ready_times.iter().min().copied();
        stats.injected_429 = inner.faults.injected_429;
        stats.injected_500 = inner.faults.injected_500;
        stats
    }

    /// Replace the faults (counters of bursts and downloads start again).
    pub fn set_faults(&self, faults: Faults) {
        let mut inner = lock(&self.state);
        inner.faults.reset(faults.clone());
        inner.config.faults = faults;
    }

    /// Ids of the videos that exist (not deleted).
    pub fn video_ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = lock(&self.state).videos.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The name a video was created with.
    pub fn video_name(&self, id: &str) -> Option<String> {
        lock(&self.state).videos.get(id).map(|v| v.name.clone())
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

/// Auth and injected faults shared by every API route; `Some` answers.
fn gate(inner: &mut Inner, headers: &HeaderMap) -> Option<Response> {
    let injected = inner.faults.injected_answer(message);
    if injected.is_some() {
        return injected;
    }
    let expected = format!("Bearer {}", inner.config.api_key);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        inner.stats.unauthorized += 1;
        return Some(message(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    None
}

fn slide_of(name: &str) -> Option<usize> {
    name.rsplit_once(" - slide ")?.1.trim().parse().ok()
}

/// One avatar of the fake's account.
struct FakeAvatar {
    code: &'static str,
    name: &'static str,
    gender: &'static str,
    /// 2 renders; anything else (training, disabled) does not.
    status: u8,
    /// Longest speech per slide, seconds.
    limit: u32,
    /// (variant code, its limit).
    variants: &'static [(&'static str, u32)],
    /// Side of its square canvas PNGs, pixels (older avatars: 360).
    canvas_px: u32,
}

/// `gia` is a stock avatar (60 s per slide, as measured), `dan` allows
/// 300 s and has the 360 px canvas images of older avatars, `tom` is still
/// in training (status 1).
const AVATARS: &[FakeAvatar] = &[
    FakeAvatar {
        code: "gia",
        name: "Gia",
        gender: "female",
        status: 2,
        limit: 60,
        variants: &[("casual", 60), ("business", 60)],
        canvas_px: 1080,
    },
    FakeAvatar {
        code: "dan",
        name: "Dan",
        gender: "male",
        status: 2,
        limit: 300,
        variants: &[("casual", 300)],
        canvas_px: 360,
    },
    FakeAvatar {
        code: "tom",
        name: "Tom",
        gender: "male",
        status: 1,
        limit: 300,
        variants: &[("casual", 300)],
        canvas_px: 1080,
    },
];

/// The fake's voices: (locale, gender, character, voice, provider).
const VOICES: &[(&str, &str, &str, &str, &str)] = &[
    ("en-US", "female", "Aria", "en-US-AriaNeural", "azure"),
    ("en-US", "female", "Jenny", "en-US-JennyNeural", "azure"),
    ("en-US", "male", "Guy", "en-US-GuyNeural", "azure"),
    ("de-DE", "female", "Katja", "de-DE-KatjaNeural", "azure"),
];

/// The side of an avatar's canvas PNGs (`gia` or `gia.casual`), pixels;
/// 1080 for a code the fake does not have.
fn canvas_px(code: &str) -> u32 {
    let avatar = code.split('.').next().unwrap_or_default();
    AVATARS
        .iter()
        .find(|a| a.code == avatar)
        .map_or(1080, |a| a.canvas_px)
}

/// A transparent square PNG of `side` pixels, as Elai's avatar canvas
/// images are (the avatar cut out on a transparent ground).
fn transparent_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels = vec![0u8; (side * side * 4) as usize];
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels));
    if let Err(e) = written {
        tracing::warn!("fake elai: cannot encode a canvas PNG: {e}");
    }
    out
}

/// The speech limit of an avatar code (`gia` or `gia.casual`).
fn speech_limit(code: &str) -> Option<u32> {
    let (avatar, variant) = match code.split_once('.') {
        Some((a, v)) => (a, Some(v)),
        None => (code, None),
    };
    let a = AVATARS.iter().find(|a| a.code == avatar)?;
    match variant {
        None => Some(a.limit),
        Some(v) => a.variants.iter().find(|(c, _)| *c == v).map(|(_, l)| *l),
    }
}

/// Why Elai would fail this (well-formed) request after the render call,
/// with the reason as it words it in `data.appError`.
fn rejection_of(body: &Value) -> Option<String> {
    let slide = body.get("slides")?.get(0)?;
    let background = slide
        .get("canvas")
        .and_then(|c| c.get("background"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let hex = background.len() == 7
        && background.starts_with('#')
        && background[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Some(format!(
            "Invalid color: {background}, full HEX format required (#000000)"
        ));
    }
    let voice = slide.get("voice").and_then(Value::as_str).unwrap_or("");
    if !VOICES.iter().any(|v| v.3 == voice) {
        // The wording for an unknown voice was not seen in real traffic.
        return Some(format!("Voice {voice} is not available"));
    }
    let code = slide
        .get("avatar")
        .and_then(|a| a.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let speech = slide.get("speech").and_then(Value::as_str).unwrap_or("");
    let limit = speech_limit(code)?;
    let seconds = slidecast_core::SpeechRate::default().duration(speech);
    (seconds.as_secs_f64() > f64::from(limit))
        .then(|| format!("Slide 1 is too long. Please limit speech to {limit}s."))
}

/// Why a create body is not what Elai takes, if it is not.
fn check_create_body(body: &Value) -> Result<(), String> {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }
    text(body.get("name")).ok_or("name is required")?;
    let slides = body
        .get("slides")
        .and_then(Value::as_array)
        .ok_or("slides must be an array")?;
    let slide = match slides.as_slice() {
        [one] => one,
        _ => return Err("exactly one slide is expected".into()),
    };
    text(slide.get("speech")).ok_or("Slide 1: speech is required")?;
    text(slide.get("voice")).ok_or("Slide 1: voice is required")?;
    text(slide.get("voiceProvider")).ok_or("Slide 1: voiceProvider is required")?;
    text(slide.get("language")).ok_or("Slide 1: language is required")?;
    let code = text(slide.get("avatar").and_then(|a| a.get("code")))
        .ok_or("Slide 1: avatar.code is required")?;
    if speech_limit(code).is_none() {
        return Err(format!("Avatar {code} not found"));
    }
    text(slide.get("avatar").and_then(|a| a.get("gender")))
        .ok_or("slidecast fake: avatar.gender was sent by every request that rendered")?;
    if let Some(resolution) = body.get("data").and_then(|d| d.get("resolution")) {
        if resolution != "FullHD" {
            return Err(format!(
                "slidecast fake: data.resolution {resolution} was never seen working (only FullHD)"
            ));
        }
    }
    let object = slide
        .get("canvas")
        .and_then(|c| c.get("objects"))
        .and_then(Value::as_array)
        .and_then(|o| o.first())
        .ok_or("Slide 1: canvas.objects is required")?;
    text(object.get("src")).ok_or("Slide 1: the avatar object needs src")?;
    if object.get("width").and_then(Value::as_f64).is_none()
        || object.get("height").and_then(Value::as_f64).is_none()
    {
        return Err(
            "slidecast fake: the avatar object had width and height in every request that rendered"
                .into(),
        );
    }
    if object.get("type").and_then(Value::as_str) != Some("avatar") {
        return Err("Slide 1: the canvas object must be an avatar".into());
    }
    Ok(())
}

async fn create_video(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let hang = { lock(&state).faults.hang_create_answer() };
    let answer = create_video_now(&state, &headers, body, hang);
    if hang {
        std::future::pending::<()>().await;
    }
    answer
}

/// The create call; with `hang`, it makes the video but nobody hears.
fn create_video_now(state: &Shared, headers: &HeaderMap, body: Bytes, hang: bool) -> Response {
    let mut inner = lock(state);
    if let Some(r) = gate(&mut inner, headers) {
        return r;
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return message(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    if let Err(problem) = check_create_body(&body) {
        return message(StatusCode::BAD_REQUEST, &problem);
    }
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let slide = slide_of(&name);
    let rejection = rejection_of(&body);
    let look = RenderedVideo::of(&body);
    let seq = inner.next_id;
    let id = format!("{:024x}", 0x5eed_0000_0000_0000_u64 + seq);
    inner.next_id += 1;
    inner.videos.insert(
        id.clone(),
        Video {
            seq,
            tags: body.get("tags").cloned().unwrap_or(Value::Null),
            name: name.clone(),
            slide,
            render_started: None,
            outcome: Outcome::Ready,
            rejection,
            look,
            clip: None,
        },
    );
    inner.stats.creates += 1;
    if let Some(s) = slide {
        *inner.stats.creates_by_slide.entry(s).or_default() += 1;
    }
    inner.stats.last_create_at = Some(Instant::now());
    inner.stats.create_bodies.push(body.clone());
    if inner.faults.lose_create_answer() {
        return message(StatusCode::BAD_GATEWAY, "Bad gateway");
    }
    if hang {
        return message(StatusCode::BAD_GATEWAY, "Bad gateway");
    }
    let mut answer = body;
    answer["_id"] = json!(id);
    answer["status"] = json!("draft");
    Json(answer).into_response()
}

/// `page` (1-based) and `limit` of `GET videos`.
#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    page: Option<usize>,
    limit: Option<usize>,
}

async fn list_videos(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.list_reads += 1;
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let mut videos: Vec<_> = inner.videos.iter().collect();
    videos.sort_by_key(|(_, v)| std::cmp::Reverse(v.seq));
    let list: Vec<Value> = videos
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|(id, v)| {
            let status = if v.render_started.is_some() {
                "rendering"
            } else {
                "draft"
            };
            json!({"_id": id, "name": v.name, "tags": v.tags, "status": status})
        })
        .collect();
    Json(json!({ "videos": list })).into_response()
}

async fn render_video(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    let delay = inner.config.render_delay;
    let Some((slide, rejection)) = inner
        .videos
        .get(&id)
        .map(|v| (v.slide, v.rejection.clone()))
    else {
        return message(StatusCode::NOT_FOUND, "Video not found");
    };
    let planned = inner.faults.render_outcome(slide);
    let outcome = match (rejection, planned) {
        (Some(reason), _) => Outcome::Rejected(reason),
        (None, Planned::Never) => Outcome::Never,
        (None, Planned::Fail) => Outcome::Fail,
        (None, Planned::Ready) => Outcome::Ready,
    };
    let now = Instant::now();
    if let Some(v) = inner.videos.get_mut(&id) {
        v.render_started = Some(now);
        v.outcome = outcome.clone();
    }
    if outcome == Outcome::Ready {
        inner.ready_times.push(now + delay);
    }
    inner.stats.renders += 1;
    Json(json!({ "success": true, "_id": id })).into_response()
}

async fn get_video(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.status_reads += 1;
    let delay = inner.config.render_delay;
    let duration = inner.config.duration_secs;
    inner.signature += 1;
    let url = format!(
        "{}/public/video/{id}.mp4?s={:016x}",
        inner.origin, inner.signature
    );
    let with_clips = inner.config.clips.is_some();
    let Some(video) = inner.videos.get_mut(&id) else {
        return message(StatusCode::NOT_FOUND, "Video not found");
    };
    let duration = if with_clips {
        video.look.speech.as_secs_f64()
    } else {
        duration
    };
    let mut answer = json!({ "_id": id, "name": video.name });
    let status = match video.render_started {
        None => "draft",
        Some(t) => {
            let elapsed = t.elapsed();
            if elapsed < delay / 5 {
                "validating"
            } else if let Outcome::Rejected(reason) = &video.outcome {
                // As seen: `error`, the reason in `data.appError`, no
                // top-level `error` field.
                answer["data"] = json!({
                    "appError": reason,
                    "internalError": reason,
                    "errorEmailSent": true,
                });
                "error"
            } else if elapsed < delay || video.outcome == Outcome::Never {
                "rendering"
            } else if video.outcome == Outcome::Fail {
                answer["error"] = json!("Avatar rendering failed");
                "failed"
            } else {
                answer["url"] = json!(url);
                answer["duration"] = json!(duration);
                "ready"
            }
        }
    };
    answer["status"] = json!(status);
    Json(answer).into_response()
}

async fn delete_video(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    if inner.videos.remove(&id).is_none() {
        return message(StatusCode::NOT_FOUND, "Video not found");
    }
    inner.stats.deletes += 1;
    Json(json!({ "success": true })).into_response()
}

async fn list_avatars(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    let o = inner.origin.clone();
    let png = |code: &str| format!("{o}/public/avatars/{code}.png");
    // As seen: a bare array; the avatar-level canvas may be null (use the
    // variant's); `status` 2 is the only usable one; `limit` in seconds.
    let list: Vec<Value> = AVATARS
        .iter()
        .map(|a| {
            let code = a.code;
            let variants: Vec<Value> = a
                .variants
                .iter()
                .map(|(v, l)| {
                    json!({"code": v, "name": v, "canvas": png(&format!("{code}.{v}")),
                           "thumbnail": png(&format!("{code}.{v}.thumb")), "limit": l})
                })
                .collect();
            json!({
                "id": format!("a-{code}"), "code": code, "name": a.name, "type": null,
                "status": a.status, "gender": a.gender, "canvas": null,
                "thumbnail": png(code), "limit": a.limit,
                "defaultVoice": "en-US-AriaNeural", "variants": variants
            })
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

/// An avatar's canvas or thumbnail PNG (no key needed, as on a CDN).
async fn avatar_image(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let Some(code) = file.strip_suffix(".png") else {
        return message(StatusCode::NOT_FOUND, "Not found");
    };
    let side = match code.strip_suffix(".thumb") {
        Some(_) => 256,
        None => canvas_px(code),
    };
    // Made once per size, off the lock and the runtime.
    let made = lock(&state).canvas_pngs.get(&side).cloned();
    let bytes = match made {
        Some(bytes) => bytes,
        None => {
            let png = tokio::task::spawn_blocking(move || transparent_png(side))
                .await
                .unwrap_or_default();
            let png = Bytes::from(png);
            lock(&state).canvas_pngs.insert(side, png.clone());
            png
        }
    };
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

async fn list_voices(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    // As seen: language groups with `male` and `female` lists; the group's
    // own language key was not seen (clients fall back to `locale`).
    let mut groups: BTreeMap<&str, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for (locale, gender, character, voice, provider) in VOICES {
        let entry = json!({"character": character, "voice": voice,
                           "voiceProvider": provider, "locale": locale,
                           "premium": false, "tags": []});
        let group = groups.entry(locale).or_default();
        if *gender == "male" {
            group.0.push(entry);
        } else {
            group.1.push(entry);
        }
    }
    let list: Vec<Value> = groups
        .into_values()
        .map(|(male, female)| json!({"male": male, "female": female}))
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn download(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".mp4") else {
        return message(StatusCode::NOT_FOUND, "Not found");
    };
    // A video's own clip is made once, off the lock and the runtime.
    let to_make = {
        let inner = lock(&state);
        match (&inner.config.clips, inner.videos.get(id)) {
            (Some(maker), Some(v)) if v.clip.is_none() => Some((maker.clone(), v.look.clone())),
            _ => None,
        }
    };
    if let Some((maker, look)) = to_make {
        let made = tokio::task::spawn_blocking(move || (maker.0)(&look)).await;
        let Ok(made) = made else {
            return message(StatusCode::INTERNAL_SERVER_ERROR, "the clip maker failed");
        };
        if let Some(v) = lock(&state).videos.get_mut(id) {
            v.clip.get_or_insert_with(|| Bytes::from(made));
        }
    }
    let mut inner = lock(&state);
    let ready = inner.videos.get(id).is_some_and(|v| {
        v.outcome == Outcome::Ready
            && v.render_started
                .is_some_and(|t| t.elapsed() >= inner.config.render_delay)
    });
    if !ready {
        return message(StatusCode::NOT_FOUND, "Not found");
    }
    let bytes = inner
        .videos
        .get(id)
        .and_then(|v| v.clip.clone())
        .unwrap_or_else(|| inner.config.mp4.clone());
    let expired = message(StatusCode::FORBIDDEN, "Request has expired");
    let (response, fault) = inner.faults.download_answer(bytes, "video/mp4", expired);
    if fault == DownloadFault::None {
        inner.stats.downloads += 1;
    }
    response
}
