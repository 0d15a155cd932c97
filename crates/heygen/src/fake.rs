//! A fake HeyGen: a real HTTP server on 127.0.0.1 with stateful videos, for
//! end-to-end tests of this crate, the CLI and the workspace.
//!
//! It follows the project's HeyGen notes (see [`wire`](crate::wire)): a
//! create (`POST v2/video/generate`, or `POST v1/video.webm` for an avatar
//! that renders transparent) starts the render and answers
//! `{error: null, data: {video_id}}`; `GET v1/video_status.get` goes
//! `waiting` → `processing` → `completed` over
//! [`FakeHeyGenConfig::render_delay`], and every read of a completed video
//! issues a fresh download URL, the older ones answering 403 as expired
//! ones do; a narration longer than [`FakeHeyGenConfig::max_video_secs`]
//! ends `failed` with `error: {code: 40119, detail: "Video is too long..."}`
//! inside the 200 answer. The key goes in `X-Api-Key`.
//!
//! Not from evidence, chosen so each error path is exercised: an unknown
//! avatar is refused with HTTP 400; an unknown voice and an account out of
//! credits are refused inside a 200 answer (`error` set, `data` null); a
//! WebM asked for an avatar that has none is refused with HTTP 400; the
//! `v1/video.list` page and `v1/video.delete` answers.
//!
//! [`Faults`] injects 429 bursts with `Retry-After`, a seeded fraction of
//! 500s, failed renders, renders that never finish, expired download URLs,
//! truncated downloads and lost create answers. Time is tokio time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use slidecast_vendor::fake::{DownloadFault, FaultState, Outcome, Server};
pub use slidecast_vendor::fake::{Faults, RateLimitBurst};
use slidecast_vendor::ApiKey;
use tokio::time::Instant;

use crate::config::{HeyGenConfig, HeyGenConfigBuilder};

/// The API key the fake accepts unless configured otherwise.
pub const FAKE_API_KEY: &str = "fake-heygen-key-0123456789";

/// The fake's avatars: `(avatar_id, name, gender, renders WebM)`.
pub const AVATARS: &[(&str, &str, &str, bool)] = &[
    (
        "Angela-inTshirt-20220820",
        "Angela in T-shirt",
        "female",
        true,
    ),
    ("Daisy-inskirt-20220818", "Daisy in skirt", "female", false),
    (
        "Tyler-incasualsuit-20220721",
        "Tyler in casual suit",
        "male",
        true,
    ),
];

/// The fake's talking photos: `(talking_photo_id, name)`.
pub const TALKING_PHOTOS: &[(&str, &str)] = &[("c1d2e3f4a5b6", "Founder portrait")];

/// The fake's voices: `(voice_id, name, language, gender)`.
pub const VOICES: &[(&str, &str, &str, &str)] = &[
    (
        "1bd001e7e50f421d891986aad5158bc8",
        "Sara",
        "English",
        "female",
    ),
    (
        "2d5b0e6cf36f460aa7fc47e3eee4ba54",
        "Paul",
        "English",
        "male",
    ),
    (
        "f38a635bee7a4d1f9b0a654a31d050d2",
        "Klara",
        "German",
        "female",
    ),
];

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeHeyGenConfig {
    /// The key it accepts in `X-Api-Key`.
    pub api_key: String,
    /// Time from create to `completed`.
    pub render_delay: Duration,
    /// The MP4 every finished MP4 video serves.
    pub mp4: Bytes,
    /// The WebM (with alpha) a transparent render serves; `None`: no avatar
    /// renders WebM.
    pub webm: Option<Bytes>,
    /// Longer narrations (estimated at the shared speaking rate) fail with
    /// code 40119.
    pub max_video_secs: f64,
    /// Credits the account has (each started 30 s of speech costs one).
    pub credits: u32,
    /// Injected faults.
    pub faults: Faults,
}

impl FakeHeyGenConfig {
    /// A fake serving `mp4`, rendering in 2 s, with 1000 credits.
    pub fn new(mp4: impl Into<Bytes>) -> Self {
        FakeHeyGenConfig {
            api_key: FAKE_API_KEY.to_string(),
            render_delay: Duration::from_secs(2),
            mp4: mp4.into(),
            webm: None,
            max_video_secs: 300.0,
            credits: 1000,
            faults: Faults::default(),
        }
    }

    /// Time from create to `completed`.
    pub fn render_delay(mut self, d: Duration) -> Self {
        self.render_delay = d;
        self
    }

    /// Serve `webm` for transparent renders (avatars that have them).
    pub fn webm(mut self, webm: impl Into<Bytes>) -> Self {
        self.webm = Some(webm.into());
        self
    }

    /// Injected faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Credits on the account.
    pub fn credits(mut self, credits: u32) -> Self {
        self.credits = credits;
        self
    }
}

/// What the fake has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeStats {
    /// Videos created (either endpoint).
    pub creates: u32,
    /// Of those, transparent WebM renders.
    pub webm_creates: u32,
    /// WebM creates refused because the avatar has none.
    pub webm_refused: u32,
    /// Status reads.
    pub status_reads: u32,
    /// Pages of the video list served.
    pub list_reads: u32,
    /// Downloads that served the whole file.
    pub downloads: u32,
    /// Downloads refused as expired.
    pub expired_downloads: u32,
    /// Videos deleted.
    pub deletes: u32,
    /// Credits spent.
    pub credits_used: u32,
    /// 429 answers injected.
    pub injected_429: u32,
    /// 500 answers injected.
    pub injected_500: u32,
    /// Requests with a wrong or missing key.
    pub unauthorized: u32,
    /// Slide number (from the title) → videos created for it.
    pub creates_by_slide: BTreeMap<usize, u32>,
    /// When the last video was created.
    pub last_create_at: Option<Instant>,
    /// When the first render that succeeds is (or was) complete.
    pub first_ready_at: Option<Instant>,
    /// Every accepted create body, in arrival order.
    pub create_bodies: Vec<Value>,
}

#[derive(Debug)]
struct Video {
    seq: u64,
    title: String,
    created: Instant,
    outcome: Outcome,
    /// `(code, detail)` it fails with once processed.
    rejection: Option<(u32, String)>,
    webm: bool,
    /// The signature of the newest download URL issued.
    signature: u64,
}

struct Inner {
    config: FakeHeyGenConfig,
    origin: String,
    videos: HashMap<String, Video>,
    next_seq: u64,
    faults: FaultState,
    stats: FakeStats,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake HeyGen. Dropping it stops the server.
pub struct FakeHeyGen {
    server: Server,
    state: Shared,
}

impl FakeHeyGen {
    /// Start on a free port of 127.0.0.1 in the current tokio runtime.
    pub async fn start(config: FakeHeyGenConfig) -> std::io::Result<FakeHeyGen> {
        FakeHeyGen::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on `addr` (port 0 picks a free port).
    pub async fn start_on(
        config: FakeHeyGenConfig,
        addr: SocketAddr,
    ) -> std::io::Result<FakeHeyGen> {
        slidecast_vendor::fake::check_key(&config.api_key)?;
        let state = Arc::new(Mutex::new(Inner {
            faults: FaultState::new(config.faults.clone()),
            config,
            origin: String::new(),
            videos: HashMap::new(),
            next_seq: 1,
            stats: FakeStats::default(),
        }));
        let app = Router::new()
            .route("/v2/video/generate", post(generate))
            .route("/v1/video.webm", post(generate_webm))
            .route("/v1/video_status.get", get(status))
            .route("/v1/video.list", get(list))
            .route("/v1/video.delete", delete(remove))
            .route("/v2/avatars", get(avatars))
            .route("/v2/voices", get(voices))
            .route("/files/{file}", get(download))
            .with_state(state.clone());
        let server = Server::start(app, addr, "HeyGen").await?;
        lock(&state).origin = format!("http://{}", server.addr());
        Ok(FakeHeyGen { server, state })
    }

    /// The API root to configure a client with, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> String {
        lock(&self.state).config.api_key.clone()
    }

    /// A config builder aimed at this fake (base URL and key set, the
    /// environment not read, quick polling, a generous rate limit).
    pub fn provider_config(&self) -> HeyGenConfigBuilder {
        let mut builder = HeyGenConfig::builder()
            .base_url(self.base_url())
            .read_env(false)
            .rate_limit(1000.0, 100)
            .default_voice(VOICES[0].0)
            .pacing(slidecast_vendor::fake::quick_pacing());
        if let Ok(key) = ApiKey::new(self.api_key()) {
            builder = builder.api_key(key);
        }
        builder
    }

    /// Counters and timestamps so far.
    pub fn stats(&self) -> FakeStats {
        let inner = lock(&self.state);
        let mut stats = inner.stats.clone();
        stats.injected_429 = inner.faults.injected_429;
        stats.injected_500 = inner.faults.injected_500;
        stats.first_ready_at = inner
            .videos
            .values()
            .filter(|v| v.outcome == Outcome::Ready && v.rejection.is_none())
            .map(|v| v.created + inner.config.render_delay)
            .min();
        stats
    }

    /// Replace the faults (their counters start again).
    pub fn set_faults(&self, faults: Faults) {
        let mut inner = lock(&self.state);
        inner.faults.reset(faults);
    }

    /// Ids of the videos that exist (not deleted).
    pub fn video_ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = lock(&self.state).videos.keys().cloned().collect();
        ids.sort();
        ids
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}, "data": null})),
    )
        .into_response()
}

/// Auth and injected faults of every API route; `Some` answers.
fn gate(inner: &mut Inner, headers: &HeaderMap) -> Option<Response> {
    let injected = inner.faults.injected_answer(|status, message| {
        let code = if status == StatusCode::TOO_MANY_REQUESTS {
            "rate_limit_exceeded"
        } else {
            "internal_error"
        };
        error(status, code, message)
    });
    if injected.is_some() {
        return injected;
    }
    let given = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if given != Some(inner.config.api_key.as_str()) {
        inner.stats.unauthorized += 1;
        return Some(error(StatusCode::UNAUTHORIZED, "401", "Unauthorized"));
    }
    None
}

fn slide_of(title: &str) -> Option<usize> {
    title.rsplit_once(" - slide ")?.1.trim().parse().ok()
}

fn speech_secs(text: &str) -> f64 {
    slidecast_core::SpeechRate::default()
        .duration(text)
        .as_secs_f64()
        .max(1.0)
}

/// What a create asks for, read from either endpoint's body.
struct Ask {
    avatar: Option<String>,
    photo: Option<String>,
    voice: String,
    text: String,
    title: String,
}

fn ask_of(body: &Value, webm: bool) -> Result<Ask, String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if webm {
        return Ok(Ask {
            avatar: s(body.get("avatar_pose_id")),
            photo: None,
            voice: s(body.get("voice_id")).ok_or("voice_id is required")?,
            text: s(body.get("input_text")).ok_or("input_text is required")?,
            title: s(body.get("title")).unwrap_or_default(),
        });
    }
    let inputs = body
        .get("video_inputs")
        .and_then(Value::as_array)
        .filter(|a| (1..=50).contains(&a.len()))
        .ok_or("video_inputs must hold 1 to 50 inputs")?;
    let input = &inputs[0];
    let character = input.get("character").ok_or("character is required")?;
    let voice = input.get("voice").ok_or("voice is required")?;
    if s(voice.get("type")).as_deref() != Some("text") {
        return Err("voice.type must be text".into());
    }
    let background = s(input.pointer("/background/value")).unwrap_or_default();
    if !(background.len() == 7
        && background.starts_with('#')
        && background[1..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!("background.value `{background}` is not #RRGGBB"));
    }
    let (avatar, photo) = match s(character.get("type")).as_deref() {
        Some("avatar") => (s(character.get("avatar_id")), None),
        Some("talking_photo") => (None, s(character.get("talking_photo_id"))),
        _ => return Err("character.type must be avatar or talking_photo".into()),
    };
    Ok(Ask {
        avatar,
        photo,
        voice: s(voice.get("voice_id")).ok_or("voice_id is required")?,
        text: s(voice.get("input_text")).ok_or("input_text is required")?,
        title: s(body.get("title")).unwrap_or_default(),
    })
}

async fn generate(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    create(&state, &headers, body, false)
}

async fn generate_webm(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    create(&state, &headers, body, true)
}

fn create(state: &Shared, headers: &HeaderMap, body: Value, webm: bool) -> Response {
    let mut inner = lock(state);
    if let Some(r) = gate(&mut inner, headers) {
        return r;
    }
    let ask = match ask_of(&body, webm) {
        Ok(a) => a,
        Err(m) => return error(StatusCode::BAD_REQUEST, "invalid_parameter", &m),
    };
    let known_avatar = match (&ask.avatar, &ask.photo) {
        (Some(a), _) => AVATARS.iter().find(|x| x.0 == a).map(|x| x.3),
        (None, Some(p)) => TALKING_PHOTOS.iter().any(|x| x.0 == p).then_some(false),
        (None, None) => None,
    };
    let Some(has_webm) = known_avatar else {
        return error(
            StatusCode::BAD_REQUEST,
            "avatar_not_found",
            "Avatar not found",
        );
    };
    if webm && !(has_webm && inner.config.webm.is_some()) {
        inner.stats.webm_refused += 1;
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "This avatar does not support WebM output",
        );
    }
    if !VOICES.iter().any(|v| v.0 == ask.voice) {
        // Inside a 200 answer.
        return Json(json!({"error": {"code": 400140, "message": format!("Voice {} not found", ask.voice)}, "data": null}))
            .into_response();
    }
    let speech = speech_secs(&ask.text);
    let cost = (speech / 30.0).ceil() as u32;
    if inner.stats.credits_used + cost > inner.config.credits {
        return Json(json!({"error": {"code": "insufficient_credit", "message": "Insufficient credit to generate the video"}, "data": null}))
            .into_response();
    }
    inner.stats.credits_used += cost;
    let slide = slide_of(&ask.title);
    let rejection = (speech > inner.config.max_video_secs).then(|| {
        (
            40119,
            format!(
                "Video is too long (> {:.1}s). Please upgrade your plan to generate longer videos",
                inner.config.max_video_secs
            ),
        )
    });
    let outcome = inner.faults.render_outcome(slide);
    let seq = inner.next_seq;
    inner.next_seq += 1;
    let id = format!("hg{seq:06}{:08x}", seq.wrapping_mul(2_654_435_761) as u32);
    let now = Instant::now();
    inner.videos.insert(
        id.clone(),
        Video {
            seq,
            title: ask.title,
            created: now,
            outcome,
            rejection,
            webm,
            signature: 0,
        },
    );
    inner.stats.creates += 1;
    if webm {
        inner.stats.webm_creates += 1;
    }
    if let Some(s) = slide {
        *inner.stats.creates_by_slide.entry(s).or_insert(0) += 1;
    }
    inner.stats.last_create_at = Some(now);
    inner.stats.create_bodies.push(body);
    if inner.faults.lose_create_answer() {
        return error(StatusCode::BAD_GATEWAY, "bad_gateway", "Bad gateway");
    }
    Json(json!({"error": null, "data": {"video_id": id}})).into_response()
}

fn video_id(query: &HashMap<String, String>) -> Option<String> {
    query.get("video_id").cloned()
}

async fn status(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.status_reads += 1;
    let delay = inner.config.render_delay;
    let origin = inner.origin.clone();
    let Some(video) = video_id(&query).and_then(|id| inner.videos.get_mut(&id).map(|v| (id, v)))
    else {
        return error(StatusCode::NOT_FOUND, "video_not_found", "Video not found");
    };
    let (id, video) = video;
    let age = video.created.elapsed();
    let done = age >= delay;
    let status = match (&video.outcome, &video.rejection) {
        _ if age < delay / 4 => "waiting",
        (Outcome::Never, _) => "processing",
        _ if !done => "processing",
        (_, Some(_)) | (Outcome::Fail, _) => "failed",
        (Outcome::Ready, None) => "completed",
    };
    let mut data = json!({"id": id, "status": status, "video_url": null, "thumbnail_url": null, "duration": null, "error": null});
    match status {
        "completed" => {
            video.signature += 1;
            let ext = if video.webm { "webm" } else { "mp4" };
            data["video_url"] = json!(format!("{origin}/files/{id}.{ext}?sig={}", video.signature));
            data["duration"] = json!(1.0);
        }
        "failed" => {
            data["error"] = match &video.rejection {
                Some((code, detail)) => json!({"code": code, "detail": detail, "message": detail}),
                None => {
                    json!({"code": 10001, "detail": "Internal render error", "message": "Internal render error"})
                }
            };
        }
        _ => {}
    }
    Json(json!({"code": 100, "data": data, "message": "Success"})).into_response()
}

async fn list(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.list_reads += 1;
    let delay = inner.config.render_delay;
    let mut videos: Vec<(&String, &Video)> = inner.videos.iter().collect();
    videos.sort_by_key(|(_, v)| std::cmp::Reverse(v.seq));
    let page: Vec<Value> = videos
        .into_iter()
        .take(100)
        .map(|(id, v)| {
            let failed = v.created.elapsed() >= delay && (v.rejection.is_some() || v.outcome == Outcome::Fail);
            json!({"video_id": id, "video_title": v.title, "status": if failed { "failed" } else { "processing" }})
        })
        .collect();
    Json(json!({"code": 100, "data": {"videos": page}, "message": "Success"})).into_response()
}

async fn remove(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    match video_id(&query).and_then(|id| inner.videos.remove(&id)) {
        Some(_) => {
            inner.stats.deletes += 1;
            Json(json!({"code": 100, "data": {}, "message": "Success"})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "video_not_found", "Video not found"),
    }
}

async fn avatars(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    let avatars: Vec<Value> = AVATARS
        .iter()
        .map(
            |(id, name, gender, _)| json!({"avatar_id": id, "avatar_name": name, "gender": gender}),
        )
        .collect();
    let photos: Vec<Value> = TALKING_PHOTOS
        .iter()
        .map(|(id, name)| json!({"talking_photo_id": id, "talking_photo_name": name}))
        .collect();
    Json(json!({"error": null, "data": {"avatars": avatars, "talking_photos": photos}}))
        .into_response()
}

async fn voices(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    let voices: Vec<Value> = VOICES
        .iter()
        .map(|(id, name, language, gender)| {
            json!({"voice_id": id, "name": name, "language": language, "gender": gender})
        })
        .collect();
    Json(json!({"error": null, "data": {"voices": voices}})).into_response()
}

async fn download(
    State(state): State<Shared>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&state);
    let Some((id, _ext)) = file.rsplit_once('.') else {
        return error(StatusCode::NOT_FOUND, "not_found", "Not found");
    };
    let sig: Option<u64> = query.get("sig").and_then(|s| s.parse().ok());
    let Some(video) = inner.videos.get(id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "Not found");
    };
    // Only the newest URL of a completed video is valid.
    if sig != Some(video.signature) || video.signature == 0 {
        inner.stats.expired_downloads += 1;
        return error(StatusCode::FORBIDDEN, "expired", "Request has expired");
    }
    let (bytes, kind) = if video.webm {
        (inner.config.webm.clone().unwrap_or_default(), "video/webm")
    } else {
        (inner.config.mp4.clone(), "video/mp4")
    };
    let expired = error(StatusCode::FORBIDDEN, "expired", "Request has expired");
    let (response, fault) = inner.faults.download_answer(bytes, kind, expired);
    match fault {
        DownloadFault::Expired => inner.stats.expired_downloads += 1,
        DownloadFault::None => inner.stats.downloads += 1,
        DownloadFault::Truncated => {}
    }
    response
}
