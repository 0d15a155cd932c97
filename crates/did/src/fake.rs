//! A fake D-ID: a real HTTP server on 127.0.0.1 with stateful talks and
//! clips, for end-to-end tests of this crate, the CLI and the workspace.
//!
//! It follows the project's D-ID notes (see [`wire`](crate::wire)): `POST
//! talks` (a photo `source_url`) and `POST clips` (a `presenter_id`) start
//! the render and answer `{id, status: "created"}`; `GET talks/{id}` and
//! `clips/{id}` go `created` → `started` → `done` over
//! [`FakeDidConfig::render_delay`], then carry a signed `result_url` and
//! `duration`. The key comes as `Authorization: Basic base64(key)`.
//!
//! Not from evidence, chosen so each error path is exercised: a script
//! with one of [`FakeDidConfig::flagged_words`] ends `rejected` with
//! `error: {kind: "ModerationError", description}`; an unknown presenter
//! or a photo URL that is not http(s) is refused with 400
//! `{kind: "ValidationError", description}`; an account out of credits
//! with 402 `InsufficientCreditsError`; the lists, `user_data` and
//! deletes answer as the reference names them.
//!
//! [`Faults`] injects 429 bursts, 500s, failed renders (status `error`),
//! renders that never finish, expired result URLs (403), truncated
//! downloads and lost create answers. A D-ID body names no slide, so
//! `fail_renders` and `never_finish` count renders in creation order
//! (1 is the first created). Time is tokio time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use slidecast_vendor::fake::{DownloadFault, FaultState, Outcome, Server};
pub use slidecast_vendor::fake::{Faults, RateLimitBurst};
use slidecast_vendor::ApiKey;
use tokio::time::Instant;

use crate::config::{DidConfig, DidConfigBuilder};
use crate::wire::Kind;

/// The API key the fake accepts unless configured otherwise (`user:secret`).
pub const FAKE_API_KEY: &str = "ZmFrZUBleGFtcGxl:fake-did-secret-0123";

/// The fake's presenters: `(presenter_id, name, gender)`.
pub const PRESENTERS: &[(&str, &str, &str)] = &[
    ("amy-Aq6OmGZnMt", "Amy", "female"),
    ("rian-lZC6MmWfC1", "Rian", "male"),
];

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeDidConfig {
    /// The key it accepts (Basic auth of it).
    pub api_key: String,
    /// Time from create to `done`.
    pub render_delay: Duration,
    /// The MP4 every finished render serves.
    pub mp4: Bytes,
    /// Credits (each started 15 s of speech costs one).
    pub credits: u32,
    /// A script with one of these words is rejected by moderation.
    pub flagged_words: Vec<String>,
    /// Injected faults.
    pub faults: Faults,
}

impl FakeDidConfig {
    /// A fake serving `mp4`, rendering in 2 s, with 1000 credits.
    pub fn new(mp4: impl Into<Bytes>) -> Self {
        FakeDidConfig {
            api_key: FAKE_API_KEY.to_string(),
            render_delay: Duration::from_secs(2),
            mp4: mp4.into(),
            credits: 1000,
            flagged_words: vec!["forbidden".into()],
            faults: Faults::default(),
        }
    }

    /// Time from create to `done`.
    pub fn render_delay(mut self, d: Duration) -> Self {
        self.render_delay = d;
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
    /// Talks created.
    pub talks: u32,
    /// Clips created.
    pub clips: u32,
    /// Status reads.
    pub status_reads: u32,
    /// Pages of the lists served.
    pub list_reads: u32,
    /// Downloads that served the whole file.
    pub downloads: u32,
    /// Downloads refused as expired.
    pub expired_downloads: u32,
    /// Renders deleted.
    pub deletes: u32,
    /// Credits spent.
    pub credits_used: u32,
    /// 429 answers injected.
    pub injected_429: u32,
    /// 500 answers injected.
    pub injected_500: u32,
    /// Requests with a wrong or missing key.
    pub unauthorized: u32,
    /// When the last render was created.
    pub last_create_at: Option<Instant>,
    /// When the first render that succeeds is (or was) done.
    pub first_ready_at: Option<Instant>,
    /// Every accepted create body, in arrival order.
    pub create_bodies: Vec<Value>,
    /// Renders created per `user_data` token.
    pub creates_by_token: BTreeMap<String, u32>,
}

#[derive(Debug)]
struct Render {
    seq: u64,
    kind: Kind,
    user_data: Option<String>,
    created: Instant,
    outcome: Outcome,
    moderated: Option<String>,
}

struct Inner {
    config: FakeDidConfig,
    origin: String,
    renders: HashMap<String, Render>,
    next_seq: u64,
    faults: FaultState,
    stats: FakeStats,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake D-ID. Dropping it stops the server.
pub struct FakeDid {
    server: Server,
    state: Shared,
}

impl FakeDid {
    /// Start on a free port of 127.0.0.1 in the current tokio runtime.
    pub async fn start(config: FakeDidConfig) -> std::io::Result<FakeDid> {
        FakeDid::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on `addr` (port 0 picks a free port).
    pub async fn start_on(config: FakeDidConfig, addr: SocketAddr) -> std::io::Result<FakeDid> {
        slidecast_vendor::fake::check_key(&config.api_key)?;
        let state = Arc::new(Mutex::new(Inner {
            faults: FaultState::new(config.faults.clone()),
            config,
            origin: String::new(),
            renders: HashMap::new(),
            next_seq: 1,
            stats: FakeStats::default(),
        }));
        let app = Router::new()
            .route("/talks", get(list_talks).post(create_talk))
            .route("/clips", get(list_clips).post(create_clip))
            .route("/clips/presenters", get(presenters))
            .route("/talks/{id}", get(read_talk).delete(delete_render))
            .route("/clips/{id}", get(read_clip).delete(delete_render))
            .route("/results/{file}", get(download))
            .with_state(state.clone());
        let server = Server::start(app, addr, "D-ID").await?;
        lock(&state).origin = format!("http://{}", server.addr());
        Ok(FakeDid { server, state })
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
    pub fn provider_config(&self) -> DidConfigBuilder {
        let mut builder = DidConfig::builder()
            .base_url(self.base_url())
            .read_env(false)
            .rate_limit(1000.0, 100)
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
            .renders
            .values()
            .filter(|r| r.outcome == Outcome::Ready && r.moderated.is_none())
            .map(|r| r.created + inner.config.render_delay)
            .min();
        stats
    }

    /// Replace the faults (their counters start again).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state).faults.reset(faults);
    }

    /// Ids of the renders that exist (not deleted).
    pub fn render_ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = lock(&self.state).renders.keys().cloned().collect();
        ids.sort();
        ids
    }
}

fn error(status: StatusCode, kind: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"kind": kind, "description": description})),
    )
        .into_response()
}

/// Auth and injected faults of every API route; `Some` answers.
fn gate(inner: &mut Inner, headers: &HeaderMap) -> Option<Response> {
    let injected = inner.faults.injected_answer(|status, message| {
        let kind = if status == StatusCode::TOO_MANY_REQUESTS {
            "TooManyRequestsError"
        } else {
            "InternalServerError"
        };
        error(status, kind, message)
    });
    if injected.is_some() {
        return injected;
    }
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&inner.config.api_key)
    );
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        inner.stats.unauthorized += 1;
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "AuthorizationError",
            "Unauthorized",
        ));
    }
    None
}

fn speech_secs(text: &str) -> f64 {
    slidecast_core::SpeechRate::default()
        .duration(text)
        .as_secs_f64()
        .max(1.0)
}

async fn create_talk(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    create(&state, &headers, body, Kind::Talk)
}

async fn create_clip(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    create(&state, &headers, body, Kind::Clip)
}

fn create(state: &Shared, headers: &HeaderMap, body: Value, kind: Kind) -> Response {
    let mut inner = lock(state);
    if let Some(r) = gate(&mut inner, headers) {
        return r;
    }
    let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_string);
    let Some(input) = text("/script/input").filter(|s| !s.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "script.input is required",
        );
    };
    match kind {
        Kind::Talk => {
            let url = text("/source_url").unwrap_or_default();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    "source_url must be a valid url",
                );
            }
        }
        Kind::Clip => {
            let id = text("/presenter_id").unwrap_or_default();
            if !PRESENTERS.iter().any(|p| p.0 == id) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    &format!("presenter {id} not found"),
                );
            }
        }
    }
    let cost = (speech_secs(&input) / 15.0).ceil() as u32;
    if inner.stats.credits_used + cost > inner.config.credits {
        return error(
            StatusCode::PAYMENT_REQUIRED,
            "InsufficientCreditsError",
            "not enough credits",
        );
    }
    inner.stats.credits_used += cost;
    let lower = input.to_lowercase();
    let moderated = inner
        .config
        .flagged_words
        .iter()
        .find(|w| lower.contains(w.as_str()))
        .map(|w| format!("The script was flagged by moderation (\"{w}\")"));
    let user_data = text("/user_data");
    // Slides are not named in a D-ID body: faults by slide use creation order.
    let seq = inner.next_seq;
    inner.next_seq += 1;
    let outcome = inner.faults.render_outcome(Some(seq as usize));
    let prefix = match kind {
        Kind::Talk => "tlk",
        Kind::Clip => "clp",
    };
    let id = format!(
        "{prefix}_{seq:04}{:08x}",
        seq.wrapping_mul(2_246_822_519) as u32
    );
    let now = Instant::now();
    inner.renders.insert(
        id.clone(),
        Render {
            seq,
            kind,
            user_data: user_data.clone(),
            created: now,
            outcome,
            moderated,
        },
    );
    match kind {
        Kind::Talk => inner.stats.talks += 1,
        Kind::Clip => inner.stats.clips += 1,
    }
    if let Some(t) = user_data {
        *inner.stats.creates_by_token.entry(t).or_insert(0) += 1;
    }
    inner.stats.last_create_at = Some(now);
    inner.stats.create_bodies.push(body);
    if inner.faults.lose_create_answer() {
        return error(StatusCode::BAD_GATEWAY, "BadGateway", "Bad gateway");
    }
    (StatusCode::CREATED, Json(json!({"id": id, "object": kind.collection().trim_end_matches('s'), "status": "created"})))
        .into_response()
}

fn render_json(inner: &Inner, id: &str, r: &Render) -> Value {
    let delay = inner.config.render_delay;
    let age = r.created.elapsed();
    let status = match (&r.outcome, &r.moderated) {
        _ if age < delay / 4 => "created",
        (Outcome::Never, _) => "started",
        _ if age < delay => "started",
        (_, Some(_)) => "rejected",
        (Outcome::Fail, None) => "error",
        (Outcome::Ready, None) => "done",
    };
    let mut v = json!({"id": id, "status": status, "user_data": r.user_data});
    match status {
        "done" => {
            v["result_url"] = json!(format!(
                "{}/results/{id}.mp4?Expires=9999&Signature=s{}",
                inner.origin, r.seq
            ));
            v["duration"] = json!(1.0);
        }
        "rejected" => {
            v["error"] = json!({"kind": "ModerationError", "description": r.moderated});
        }
        "error" => {
            v["error"] = json!({"kind": "InternalServerError", "description": "render failed"})
        }
        _ => {}
    }
    v
}

async fn read_talk(state: State<Shared>, headers: HeaderMap, id: Path<String>) -> Response {
    read(state, headers, id, Kind::Talk)
}

async fn read_clip(state: State<Shared>, headers: HeaderMap, id: Path<String>) -> Response {
    read(state, headers, id, Kind::Clip)
}

fn read(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    kind: Kind,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.status_reads += 1;
    match inner.renders.get(&id).filter(|r| r.kind == kind) {
        Some(r) => Json(render_json(&inner, &id, r)).into_response(),
        None => error(StatusCode::NOT_FOUND, "NotFoundError", "not found"),
    }
}

async fn list_talks(state: State<Shared>, headers: HeaderMap) -> Response {
    list(state, headers, Kind::Talk)
}

async fn list_clips(state: State<Shared>, headers: HeaderMap) -> Response {
    list(state, headers, Kind::Clip)
}

fn list(State(state): State<Shared>, headers: HeaderMap, kind: Kind) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    inner.stats.list_reads += 1;
    let mut items: Vec<(&String, &Render)> = inner
        .renders
        .iter()
        .filter(|(_, r)| r.kind == kind)
        .collect();
    items.sort_by_key(|(_, r)| std::cmp::Reverse(r.seq));
    let page: Vec<Value> = items
        .into_iter()
        .take(100)
        .map(|(id, r)| render_json(&inner, id, r))
        .collect();
    Json(json!({ kind.collection(): page })).into_response()
}

async fn delete_render(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    match inner.renders.remove(&id) {
        Some(_) => {
            inner.stats.deletes += 1;
            Json(json!({"deleted": 1})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "NotFoundError", "not found"),
    }
}

async fn presenters(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = lock(&state);
    if let Some(r) = gate(&mut inner, &headers) {
        return r;
    }
    let list: Vec<Value> = PRESENTERS
        .iter()
        .map(|(id, name, gender)| json!({"presenter_id": id, "name": name, "gender": gender}))
        .collect();
    Json(json!({"presenters": list})).into_response()
}

async fn download(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let mut inner = lock(&state);
    let id = file.trim_end_matches(".mp4").to_string();
    let done = inner
        .renders
        .get(&id)
        .is_some_and(|r| render_json(&inner, &id, r)["status"] == "done");
    if !done {
        return error(StatusCode::NOT_FOUND, "NotFoundError", "not found");
    }
    let bytes = inner.config.mp4.clone();
    let expired = error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    let (response, fault) = inner.faults.download_answer(bytes, "video/mp4", expired);
    match fault {
        DownloadFault::Expired => inner.stats.expired_downloads += 1,
        DownloadFault::None => inner.stats.downloads += 1,
        DownloadFault::Truncated => {}
    }
    response
}
