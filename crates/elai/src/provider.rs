//! [`ElaiProvider`]: the [`AvatarProvider`] on Elai's REST API.
//!
//! Lifecycle of one slide: `initiate` creates a one-slide draft video
//! (`POST videos`) and returns its id in a [`RenderHandle`] whose `data`
//! carries what a later run needs to resume (slide, script length, deadline,
//! creation time); the scheduler persists it, then `start` begins the render
//! (`POST videos/render/{id}`); `status` reads the video (`GET videos/{id}`)
//! and maps its status; `fetch` streams the MP4 to disk; `cancel` deletes
//! the video.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus, RequestProblem,
};
use tokio::sync::{Notify, OnceCell};

use crate::config::{ConfigError, ElaiConfig};
use crate::discovery::{find_avatar, Avatar, Voice};
use crate::wire::{self, VideoObject, VideoState};
use slidecast_core::deck::nearest_names;
use slidecast_vendor::{Client, Clock, Ctx, RenderTracker};

/// The provider name decks use.
pub const PROVIDER_NAME: &str = "elai";

/// How Elai bills: each video's length rounded up to whole render minutes
/// (Elai does not publish its rounding; whole minutes err high).
pub const BILLING: slidecast_core::Billing = slidecast_core::Billing::per_minute();

/// What a [`RenderHandle`] of this provider carries in `data`, so a later
/// run can resume polling with the same deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandleData {
    pub slide: usize,
    pub script_chars: usize,
    /// Estimated speech length of the script, seconds.
    pub speech_secs: f64,
    /// The deadline clock (created at, deadline).
    #[serde(flatten)]
    pub clock: Clock,
}

/// The Elai avatar provider. Cheap to share (`Arc`) across the scheduler's
/// tasks; all state is behind locks.
pub struct ElaiProvider {
    config: ElaiConfig,
    http: Client,
    avatars: OnceCell<Arc<Vec<Avatar>>>,
    renders: RenderTracker,
    warned_statuses: Mutex<HashSet<String>>,
    /// Requests (as JSON) whose create call failed without a clear answer:
    /// a video tagged with their token ([`wire::create_token`]) may exist.
    unsure_creates: Mutex<HashSet<String>>,
    /// How many renders may be in flight: the vendor's only limits are
    /// the ones it shows (see [`Window`]).
    window: Mutex<Window>,
    window_changed: Notify,
    /// Renders whose next poll a webhook may bring forward, by video id.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// Videos this process created (or found as drafts) and has not
    /// started: the only ones it starts without looking first.
    known_drafts: Mutex<HashSet<String>>,
    /// Side of each avatar canvas image (by URL), read from its PNG header
    /// once: every create of a deck starts at once, and they share one read.
    canvas_sizes: Mutex<HashMap<String, Arc<OnceCell<f64>>>>,
}

/// Additive increase, multiplicative decrease of the renders in flight.
/// It starts at the configured cap (by default none). A create answered 429
/// halves it (never below 1), relative to the renders in flight then; each
/// render that finishes raises it by one again, up to the cap.
#[derive(Debug)]
struct Window {
    limit: usize,
    /// Creates under way.
    reserved: usize,
    /// Renders this provider created that have not finished.
    rendering: HashSet<String>,
}

impl Window {
    fn in_flight(&self) -> usize {
        self.reserved + self.rendering.len()
    }
}

impl std::fmt::Debug for ElaiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElaiProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ElaiProvider {
    pub fn new(config: ElaiConfig) -> Result<ElaiProvider, ConfigError> {
        let http = Client::new(wire::VENDOR, &config.client).map_err(ConfigError::Invalid)?;
        Ok(ElaiProvider {
            avatars: OnceCell::new(),
            renders: RenderTracker::default(),
            warned_statuses: Mutex::new(HashSet::new()),
            unsure_creates: Mutex::new(HashSet::new()),
            window: Mutex::new(Window {
                limit: config.max_in_flight.max(1),
                reserved: 0,
                rendering: HashSet::new(),
            }),
            window_changed: Notify::new(),
            wakers: Mutex::new(HashMap::new()),
            known_drafts: Mutex::new(HashSet::new()),
            canvas_sizes: Mutex::new(HashMap::new()),
            config,
            http,
        })
    }

    /// Bring the next status poll of video `id` forward (Elai's webhook
    /// said it changed). Returns false when this provider is not polling
    /// that video. Polling stays the backstop: a lost webhook only delays.
    pub fn wake(&self, id: &str) -> bool {
        if !self.renders.contains(id) {
            return false;
        }
        // `notify_one` keeps a permit when nobody waits yet, so a webhook
        // that arrives between two polls is not lost.
        self.waker(id).notify_one();
        true
    }

    fn waker(&self, id: &str) -> Arc<Notify> {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        wakers.entry(id.to_string()).or_default().clone()
    }

    /// A provider with every default, the key from `ELAI_API_KEY`.
    pub fn from_env() -> Result<ElaiProvider, ConfigError> {
        ElaiProvider::new(ElaiConfig::builder().build()?)
    }

    pub fn config(&self) -> &ElaiConfig {
        &self.config
    }

    /// The renders this provider lets be in flight now, and how many are.
    pub fn window(&self) -> (usize, usize) {
        let w = self.window_state();
        (w.limit, w.in_flight())
    }

    fn window_state(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for room in the window and take a place for one create.
    async fn reserve_create(&self) {
        loop {
            let changed = self.window_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut w = self.window_state();
                if w.in_flight() < w.limit {
                    w.reserved += 1;
                    return;
                }
            }
            changed.await;
        }
    }

    /// The create that took a place ended: with a render (`Some(id)`), or
    /// refused; a 429 halves the window.
    fn end_create(&self, created: Option<&str>, rate_limited: bool) {
        let mut w = self.window_state();
        let before = w.in_flight();
        w.reserved = w.reserved.saturating_sub(1);
        if let Some(id) = created {
            w.rendering.insert(id.to_string());
        }
        if rate_limited {
            let halved = (before / 2).max(1);
            if halved < w.limit {
                tracing::info!(
                    window = halved,
                    "Elai asked to slow down: fewer renders in flight"
                );
                w.limit = halved;
            }
        }
        drop(w);
        self.window_changed.notify_waiters();
    }

    /// A render of this provider finished (`ready`: it went well, and the
    /// window grows by one).
    fn end_render(&self, id: &str, ready: bool) {
        let mut w = self.window_state();
        let was_ours = w.rendering.remove(id);
        if ready && was_ours {
            w.limit = (w.limit + 1).min(self.config.max_in_flight.max(1));
        }
        drop(w);
        self.window_changed.notify_waiters();
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.known_drafts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The avatars the account can use (`GET avatars`), fresh from Elai.
    pub async fn list_avatars(&self) -> Result<Vec<Avatar>, ProviderError> {
        let value = self
            .http
            .call(
                Method::GET,
                wire::AVATARS,
                None,
                self.http.ctx("list avatars"),
            )
            .await?;
        Ok(wire::parse_avatars(&value))
    }

    /// The voices the account can use (`GET voices`; Elai's public reference
    /// does not confirm this endpoint, so a 404 is reported as such).
    pub async fn list_voices(&self) -> Result<Vec<Voice>, ProviderError> {
        let value = self
            .http
            .call(
                Method::GET,
                wire::VOICES,
                None,
                self.http.ctx("list voices"),
            )
            .await?;
        Ok(wire::parse_voices(&value))
    }

    /// The avatar list, fetched once per provider and cached (a failed
    /// fetch is tried again on the next call).
    async fn cached_avatars(&self, slide: usize) -> Result<Arc<Vec<Avatar>>, ProviderError> {
        self.avatars
            .get_or_try_init(|| async {
                let value = self
                    .http
                    .call(
                        Method::GET,
                        wire::AVATARS,
                        None,
                        self.http.ctx("look up avatars").slide(Some(slide)),
                    )
                    .await?;
                Ok(Arc::new(wire::parse_avatars(&value)))
            })
            .await
            .cloned()
    }

    /// The side of the avatar canvas image at `url`, read once from its PNG
    /// header (older avatars' images are 360 px, most 1080): the avatar
    /// object's `width`/`height` and scale depend on it. When it cannot be
    /// read, [`wire::AVATAR_IMAGE_PX`].
    async fn canvas_px(&self, url: &str, slide: usize) -> f64 {
        let cell = self
            .canvas_sizes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(url.to_string())
            .or_default()
            .clone();
        let read = cell
            .get_or_try_init(|| async {
                let ctx = self
                    .http
                    .ctx("read the avatar canvas size")
                    .slide(Some(slide));
                let head = self.http.head_bytes(url, wire::PNG_HEAD, ctx).await?;
                Ok::<f64, ProviderError>(match wire::png_size(&head) {
                    Some((w, h)) => f64::from(w.max(h)),
                    None => {
                        tracing::debug!("the avatar canvas is not a PNG; assuming 1080 px");
                        wire::AVATAR_IMAGE_PX
                    }
                })
            })
            .await;
        match read {
            Ok(side) => *side,
            Err(e) => {
                // Not kept: a passing failure is asked again next time.
                tracing::debug!("cannot read the avatar canvas size ({e}); assuming 1080 px");
                wire::AVATAR_IMAGE_PX
            }
        }
    }

    fn unsure(&self) -> MutexGuard<'_, HashSet<String>> {
        self.unsure_creates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The video tagged `token` that did not fail, if the video list has
    /// one. A list Elai does not serve (4xx) counts as none; a transient
    /// failure is returned, so the retry does not create a second video
    /// blindly.
    async fn find_created(
        &self,
        token: &str,
        ctx: Ctx<'_>,
    ) -> Result<Option<VideoObject>, ProviderError> {
        // A few pages at most: a create whose answer was lost is recent.
        for page in 1..=wire::LIST_PAGES {
            let path = wire::list_path(page, wire::LIST_PAGE);
            let list = match self.http.call(Method::GET, &path, None, ctx).await {
                Ok(list) => list,
                Err(ProviderError::Permanent {
                    kind: PermanentKind::BadRequest | PermanentKind::NotFound,
                    message,
                }) => {
                    tracing::debug!("cannot list videos to find a lost create: {message}");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let found = wire::find_tagged_video(&list, token)
                .filter(|v| v.id.as_deref().is_some_and(slidecast_vendor::is_safe_id));
            if found.is_some() {
                return Ok(found);
            }
            if wire::listed_videos(&list) < wire::LIST_PAGE as usize {
                break;
            }
        }
        Ok(None)
    }

    /// Start tracking video `id`, made for `request` and not started: its
    /// handle.
    fn track(&self, request: &ClipRequest, id: String) -> RenderHandle {
        self.known_drafts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        let deadline = self.config.deadline_for(&request.script);
        let data = HandleData {
            slide: request.slide,
            script_chars: request.script.chars().count(),
            speech_secs: self.config.speech_seconds(&request.script),
            clock: Clock::now(deadline),
        };
        self.renders.started(&id, deadline);
        let mut handle = RenderHandle::new(PROVIDER_NAME, id);
        handle.data = serde_json::to_value(&data).unwrap_or(serde_json::Value::Null);
        handle
    }

    fn handle_data(&self, handle: &RenderHandle) -> Option<HandleData> {
        serde_json::from_value(handle.data.clone()).ok()
    }

    /// Check the handle's id before it goes into a URL path.
    fn warn_unknown_status_once(&self, status: &str, id: &str) {
        let mut warned = self
            .warned_statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if warned.insert(status.to_string()) {
            tracing::warn!(
                video = id,
                status,
                "Elai reported an unknown video status; waiting as if it were rendering"
            );
        }
    }

    async fn read_video(&self, id: &str, ctx: Ctx<'_>) -> Result<VideoObject, ProviderError> {
        let value = self
            .http
            .call(Method::GET, &wire::video_path(id), None, ctx)
            .await?;
        Ok(VideoObject::from_json(&value))
    }
}

#[async_trait]
impl AvatarProvider for ElaiProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn limits(&self) -> ProviderLimits {
        let mut limits = ProviderLimits::default();
        limits.max_in_flight = self.config.max_in_flight;
        // The scheduler waits `eta` (the backed-off interval `status`
        // reports) clamped to this, so this is the backoff's maximum.
        limits.poll_interval = self.config.pacing.poll_max;
        limits.max_script_chars = self.config.max_script_chars;
        limits
    }

    /// Before anything is created: every avatar exists, has the variant and
    /// is usable (status 2), every voice exists (when `GET voices` answers),
    /// and no narration is longer than its avatar's speech limit (estimated
    /// at the configured speaking rate).
    async fn check(&self, requests: &[ClipRequest]) -> Result<Vec<RequestProblem>, ProviderError> {
        let Some(first) = requests.first() else {
            return Ok(Vec::new());
        };
        let avatars = self.cached_avatars(first.slide).await?;
        let voices = match self.list_voices().await {
            Ok(v) if !v.is_empty() => Some(v),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("cannot check voices before rendering: {e}");
                None
            }
        };
        let mut problems = Vec::new();
        let mut canvases = HashSet::new();
        for request in requests {
            problems.extend(check_request(
                request,
                &avatars,
                voices.as_deref(),
                &self.config,
            ));
            if let Some((_, url)) = find_avatar(&avatars, &request.avatar) {
                if canvases.insert(url.to_string()) {
                    // Read now, so the creates that follow all at once
                    // have it.
                    self.canvas_px(url, request.slide).await;
                }
            }
        }
        Ok(problems)
    }

    /// The avatar's (or its variant's) `limit` from `GET avatars`; `None`
    /// for an avatar Elai does not list (the check reports it).
    async fn speech_limit(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<std::time::Duration>, ProviderError> {
        let avatars = self.cached_avatars(request.slide).await?;
        let (code, variant) = match request.avatar.split_once('.') {
            Some((a, v)) => (a, Some(v)),
            None => (request.avatar.as_str(), None),
        };
        Ok(avatars
            .iter()
            .find(|a| a.code == code)
            .and_then(|a| a.limit_of(variant))
            .map(|secs| std::time::Duration::from_secs(u64::from(secs))))
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        let slide = request.slide;
        let bad = |message: String| ProviderError::permanent(PermanentKind::BadRequest, message);
        if request.script.trim().is_empty() {
            return Err(bad(format!("slide {slide}: the script is empty")));
        }
        if let Some(max) = self.config.max_script_chars {
            let chars = request.script.chars().count();
            if chars > max {
                return Err(bad(format!(
                    "slide {slide}: the script has {chars} characters; Elai takes at most {max}"
                )));
            }
        }
        let avatars = self.cached_avatars(slide).await?;
        let (avatar, canvas_url) = find_avatar(&avatars, &request.avatar).ok_or_else(|| {
            bad(format!(
                "slide {slide}: avatar `{}` is not available to this Elai account \
                 (`slidecast elai avatars` lists the codes)",
                request.avatar
            ))
        })?;
        let voice = wire::VoiceChoice {
            voice: request
                .voice
                .as_deref()
                .unwrap_or(&self.config.default_voice),
            voice_provider: request
                .voice_provider
                .as_deref()
                .unwrap_or(&self.config.default_voice_provider),
            language: request
                .language
                .as_deref()
                .unwrap_or(&self.config.default_language),
        };
        let ctx = self.http.ctx("create video").slide(Some(slide));
        let request_key = serde_json::to_string(request).unwrap_or_default();
        let token = wire::create_token(request);
        let mut found = None;
        if self.unsure().contains(&request_key) {
            found = self
                .find_created(&token, ctx)
                .await?
                .and_then(|video| video.id);
        }
        let id = match found {
            Some(id) => {
                tracing::info!(slide, video = %id, "found the video a lost create answer made");
                id
            }
            None => {
                let canvas_px = self.canvas_px(canvas_url, slide).await;
                let body =
                    wire::create_video_body(request, avatar, canvas_url, canvas_px, &voice, &token);
                self.reserve_create().await;
                let created = self
                    .http
                    .call(Method::POST, wire::VIDEOS, Some(&body), ctx)
                    .await;
                let id = created
                    .as_ref()
                    .ok()
                    .and_then(|a| VideoObject::from_json(a).id);
                self.end_create(
                    id.as_deref(),
                    matches!(created, Err(ProviderError::RateLimited { .. })),
                );
                match created {
                    Ok(answer) => VideoObject::from_json(&answer)
                        .id
                        .filter(|id| slidecast_vendor::is_safe_id(id))
                        .ok_or_else(|| {
                            ProviderError::permanent(
                                PermanentKind::BadRequest,
                                format!("{ctx}: Elai answered without a usable video id"),
                            )
                        })?,
                    Err(e) => {
                        // A timeout or server error may come after Elai
                        // created the video: remember the request so the
                        // retry looks for its token before creating another.
                        if matches!(e, ProviderError::Transient { .. }) {
                            self.unsure().insert(request_key);
                        } else {
                            self.unsure().remove(&request_key);
                        }
                        return Err(e);
                    }
                }
            }
        };
        self.unsure().remove(&request_key);
        tracing::debug!(slide, video = %id, "Elai video created");
        Ok(self.track(request, id))
    }

    async fn find_lost_create(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<(RenderHandle, bool)>, ProviderError> {
        let ctx = self
            .http
            .ctx("find a lost create")
            .slide(Some(request.slide));
        let Some(video) = self.find_created(&wire::create_token(request), ctx).await? else {
            return Ok(None);
        };
        let Some(id) = video.id.clone() else {
            return Ok(None);
        };
        let started = !matches!(video.state(), VideoState::Draft);
        let handle = self.track(request, id);
        if started {
            self.known_drafts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&handle.id);
        }
        Ok(Some((handle, started)))
    }

    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let data = self.handle_data(handle);
        let slide = data.as_ref().map(|d| d.slide);
        let ctx = self.http.ctx("start render").slide(slide).video(id);
        // A video this process did not create (resumed from a journal or
        // taken over from a dead worker) may have been started after its
        // start was last recorded: look before sending a second render call.
        let known_draft = self
            .known_drafts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let under_way = !known_draft
            && matches!(
                self.read_video(id, ctx).await?.state(),
                VideoState::Working(_) | VideoState::Ready
            );
        let started = if under_way {
            tracing::debug!(video = id, "already rendering: not started again");
            Ok(serde_json::Value::Null)
        } else {
            self.http
                .call(Method::POST, &wire::render_path(id), None, ctx)
                .await
        };
        if let Err(e) = started {
            // A run that stopped between start and its journal entry starts
            // the render again on resume; Elai may refuse a second render
            // call. If the video is already past `draft`, the render runs.
            let refused = matches!(
                &e,
                ProviderError::Permanent {
                    kind: PermanentKind::BadRequest,
                    ..
                }
            );
            if !refused {
                return Err(e);
            }
            let video = self.read_video(id, ctx).await?;
            match video.state() {
                VideoState::Working(_) | VideoState::Ready => {
                    tracing::debug!(
                        video = id,
                        "render call refused, but the render is under way"
                    );
                }
                _ => return Err(e),
            }
        }
        // The deadline runs from the start of the render, not the create
        // (a resumed draft may have waited long before being started).
        let deadline = data
            .map(|d| d.clock.deadline())
            .unwrap_or(self.config.pacing.deadline_base);
        self.renders.started(id, deadline);
        Ok(())
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let data = self.handle_data(handle);
        let slide = data.as_ref().map(|d| d.slide);
        let ctx = self.http.ctx("status").slide(slide).video(id).polling();
        let video = self.read_video(id, ctx).await?;
        let state = video.state();
        let status_text = video.status.clone().unwrap_or_else(|| "<missing>".into());
        if let VideoState::Unknown(s) = &state {
            self.warn_unknown_status_once(s, id);
        }

        match state {
            VideoState::Ready if video.url.is_some() => {
                self.renders.set_url(id, video.url.clone());
                self.end_render(id, true);
                return Ok(RenderStatus::Ready);
            }
            VideoState::Ready => {
                tracing::warn!(
                    video = id,
                    "Elai says the video is ready but gives no URL yet"
                );
            }
            VideoState::Failed => {
                self.renders.forget(id);
                self.end_render(id, false);
                return Ok(RenderStatus::Failed {
                    reason: format!(
                        "{ctx}: Elai reported the render failed{}",
                        video.error.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                });
            }
            VideoState::Error => {
                self.renders.forget(id);
                self.end_render(id, false);
                let reason = match video.error {
                    Some(e) => format!("Elai says \"{e}\""),
                    None => "Elai reported status `error` and gave no reason".to_string(),
                };
                return Ok(RenderStatus::Rejected { reason });
            }
            VideoState::Draft | VideoState::Working(_) | VideoState::Unknown(_) => {}
        }

        // A render from an earlier run: its deadline clock started when it
        // was created.
        let clock = data.as_ref().map(|d| d.clock);
        let elapsed = match self.renders.check_deadline(
            id,
            clock,
            self.config.pacing.deadline_base,
            &status_text,
            &ctx,
        ) {
            Ok(elapsed) => elapsed,
            Err(e) => {
                self.end_render(id, false);
                return Err(e);
            }
        };
        // Every waiting state (draft included) is reported as `Rendering`
        // with the backed-off poll interval as its estimate: the scheduler
        // polls at `eta` clamped to `limits().poll_interval` (the backoff's
        // maximum), and `Queued` carries no estimate.
        let wait = self.config.poll_interval(elapsed);
        Ok(RenderStatus::Rendering {
            progress: None,
            eta: Some(wait),
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let slide = self.handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("download").slide(slide).video(id);
        let bytes = self
            .renders
            .download(&self.http, id, dest, ctx, || fresh_url(self, id, ctx))
            .await?;
        tracing::debug!(video = id, bytes, "Elai clip downloaded");
        Ok(())
    }

    async fn wait_for_change(&self, handle: &RenderHandle, wait: Duration) {
        let waker = self.waker(&handle.id);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = waker.notified() => {
                tracing::debug!(video = %handle.id, "webhook: polling now");
            }
        }
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let slide = self.handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("delete video").slide(slide).video(id);
        self.renders.forget(id);
        self.end_render(id, false);
        match self
            .http
            .call(Method::DELETE, &wire::video_path(id), None, ctx)
            .await
        {
            Ok(_) => Ok(()),
            Err(ProviderError::Permanent {
                kind: PermanentKind::NotFound,
                ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Read the video for its MP4 URL.
/// What Elai will refuse in `request`, each problem naming its field.
fn check_request(
    request: &ClipRequest,
    avatars: &[Avatar],
    voices: Option<&[Voice]>,
    config: &ElaiConfig,
) -> Vec<RequestProblem> {
    let slide = request.slide;
    let problem = |field: &str, message: String| RequestProblem {
        slide,
        field: field.to_string(),
        message,
    };
    let mut problems = Vec::new();
    let (avatar_code, variant) = match request.avatar.split_once('.') {
        Some((a, v)) => (a, Some(v)),
        None => (request.avatar.as_str(), None),
    };
    match avatars.iter().find(|a| a.code == avatar_code) {
        None => {
            let codes: Vec<String> = avatars.iter().flat_map(Avatar::full_codes).collect();
            let near = nearest_names(&request.avatar, codes.iter().map(String::as_str), 3);
            problems.push(problem(
                "presenter.avatar",
                format!(
                    "Elai has no avatar `{}` for this account{} (`slidecast elai avatars` lists them)",
                    request.avatar,
                    hint(&near)
                ),
            ));
        }
        Some(avatar) => {
            if let Some(v) = variant {
                if !avatar.variants.iter().any(|x| x.code == v) {
                    let names: Vec<&str> =
                        avatar.variants.iter().map(|x| x.code.as_str()).collect();
                    problems.push(problem(
                        "presenter.avatar",
                        format!(
                            "avatar `{avatar_code}` has no variant `{v}`; it has {}",
                            if names.is_empty() {
                                "none (use the bare code)".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    ));
                }
            }
            if let Some(status) = avatar.status.filter(|s| *s != Avatar::USABLE) {
                problems.push(problem(
                    "presenter.avatar",
                    format!(
                        "avatar `{avatar_code}` cannot render now (Elai status {status}: \
                         in training, disabled or otherwise not ready); choose another"
                    ),
                ));
            }
            if let Some(limit) = avatar.limit_of(variant) {
                let speech = config.speech_seconds(&request.script);
                if speech > f64::from(limit) {
                    problems.push(problem(
                        "script",
                        format!(
                            "the narration is about {speech:.0} s ({} words); avatar `{}` \
                             speaks at most {limit} s per clip: split it into parts \
                             (`Deck::split_narration`, as slidecast's render does), shorten \
                             it, or choose an avatar with a longer limit",
                            request.script.split_whitespace().count(),
                            request.avatar
                        ),
                    ));
                }
            }
        }
    }
    if let Some(voices) = voices {
        let voice = request.voice.as_deref().unwrap_or(&config.default_voice);
        if !voices.iter().any(|v| v.id == voice) {
            let near = nearest_names(voice, voices.iter().map(|v| v.id.as_str()), 3);
            problems.push(problem(
                "presenter.voice",
                format!(
                    "Elai has no voice `{voice}`{} (`slidecast elai voices` lists them)",
                    hint(&near)
                ),
            ));
        }
    }
    problems
}

/// `; nearest: a, b` for a non-empty list of suggestions.
fn hint(near: &[&str]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!("; nearest: {}", near.join(", "))
    }
}

async fn fresh_url(p: &ElaiProvider, id: &str, ctx: Ctx<'_>) -> Result<String, ProviderError> {
    let video = p.read_video(id, ctx).await?;
    match (video.state(), video.url) {
        (VideoState::Ready, Some(url)) => Ok(url),
        (state, _) => Err(ProviderError::transient(format!(
            "{ctx}: no download URL yet (status {:?})",
            match state {
                VideoState::Working(s) | VideoState::Unknown(s) => s,
                other => format!("{other:?}").to_lowercase(),
            }
        ))),
    }
}
