//! [`HeyGenProvider`]: the [`AvatarProvider`] on HeyGen's REST API.
//!
//! Lifecycle of one slide: `initiate` creates the video, which also starts
//! its render (so `start` is the trait's no-op and the handle the scheduler
//! journals at create is already billed); `status` reads
//! `v1/video_status.get`, whose answer carries a fresh download URL each
//! time; `fetch` downloads it, and when the URL was refused (expired) reads
//! the status again for a new one; `cancel` deletes the video.
//!
//! With [`HeyGenConfig::transparent`], an avatar's render is asked for as a
//! transparent WebM first; when HeyGen refuses WebM for that avatar, it is
//! rendered as an MP4 over the key colour from then on.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use slidecast_core::deck::nearest_names;
use slidecast_core::{
    AvatarProvider, Billing, ClipRequest, PermanentKind, ProviderError, ProviderLimits,
    RenderHandle, RenderStatus, RequestProblem,
};
use slidecast_vendor::{Client, Clock, Ctx, RenderTracker};
use tokio::sync::OnceCell;

use crate::config::{ConfigError, HeyGenConfig};
use crate::discovery::{parse_avatars, parse_voices, Avatar, Voice};
use crate::wire::{self, Character, ClipFormat, VideoState};

/// The provider name decks use.
pub const PROVIDER_NAME: &str = "heygen";

/// How HeyGen bills: a credit for each started 30 s of video (HeyGen's API
/// plans as described to the project; not verified against an invoice).
pub const BILLING: Billing = Billing::metered("credits", Duration::from_secs(30), 1.0);

/// What a [`RenderHandle`] of this provider carries in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandleData {
    /// The deck slide.
    pub slide: usize,
    /// The deadline clock.
    #[serde(flatten)]
    pub clock: Clock,
    /// The container the clip comes in.
    pub format: ClipFormat,
}

/// The HeyGen avatar provider. Cheap to share across the scheduler's tasks.
pub struct HeyGenProvider {
    config: HeyGenConfig,
    http: Client,
    catalog: OnceCell<Arc<(Vec<Avatar>, Vec<Voice>)>>,
    renders: RenderTracker,
    /// Tokens of creates whose answer did not arrive: a video may exist.
    unsure_creates: Mutex<HashSet<String>>,
    /// Avatars HeyGen refused a WebM render for.
    no_webm: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for HeyGenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeyGenProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked mid-update of plain
    // maps; the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HeyGenProvider {
    /// A provider with `config`.
    pub fn new(config: HeyGenConfig) -> Result<HeyGenProvider, ConfigError> {
        let http = Client::new(wire::VENDOR, &config.client).map_err(ConfigError::Invalid)?;
        Ok(HeyGenProvider {
            config,
            http,
            catalog: OnceCell::new(),
            renders: RenderTracker::default(),
            unsure_creates: Mutex::new(HashSet::new()),
            no_webm: Mutex::new(HashSet::new()),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &HeyGenConfig {
        &self.config
    }

    /// The avatars and talking photos of the account, fresh from HeyGen.
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
        Ok(parse_avatars(&value))
    }

    /// The voices, fresh from HeyGen.
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
        Ok(parse_voices(&value))
    }

    /// Avatars and voices, read once per provider.
    async fn catalog(&self) -> Result<Arc<(Vec<Avatar>, Vec<Voice>)>, ProviderError> {
        self.catalog
            .get_or_try_init(|| async {
                let (avatars, voices) = tokio::join!(self.list_avatars(), self.list_voices());
                // Voices are checked when HeyGen lists them; a list it does
                // not serve leaves them to the create.
                let voices = match voices {
                    Err(ProviderError::Permanent {
                        kind: PermanentKind::NotFound,
                        ..
                    }) => Vec::new(),
                    other => other?,
                };
                Ok(Arc::new((avatars?, voices)))
            })
            .await
            .cloned()
    }

    fn voice_of<'r>(&'r self, request: &'r ClipRequest) -> Result<&'r str, ProviderError> {
        request
            .voice
            .as_deref()
            .or(self.config.default_voice.as_deref())
            .ok_or_else(|| {
                ProviderError::permanent(
                    PermanentKind::BadRequest,
                    format!(
                        "slide {}: presenter.voice: HeyGen needs a voice id \
                         (`slidecast heygen voices` lists them)",
                        request.slide
                    ),
                )
            })
    }

    fn handle(&self, request: &ClipRequest, id: String, format: ClipFormat) -> RenderHandle {
        let deadline = self.config.pacing.deadline_for(&request.script);
        let clock = Clock::now(deadline);
        let data = HandleData {
            slide: request.slide,
            clock,
            format,
        };
        self.renders.started(&id, deadline);
        let mut handle = RenderHandle::new(PROVIDER_NAME, id);
        handle.data = serde_json::to_value(&data).unwrap_or(serde_json::Value::Null);
        handle
    }

    fn handle_data(handle: &RenderHandle) -> Option<HandleData> {
        serde_json::from_value(handle.data.clone()).ok()
    }

    /// The video a create with `token` made, when the list shows one.
    async fn find_created(
        &self,
        token: &str,
        ctx: Ctx<'_>,
    ) -> Result<Option<wire::ListedVideo>, ProviderError> {
        match self.http.call(Method::GET, wire::LIST, None, ctx).await {
            Ok(list) => Ok(wire::find_titled_video(&list, token)),
            // A list HeyGen does not serve counts as none.
            Err(ProviderError::Permanent {
                kind: PermanentKind::NotFound | PermanentKind::BadRequest,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One create call: the video id, or the error classified (a 200 with
    /// an error inside is the vendor's refusal, not a success).
    async fn create(
        &self,
        path: &str,
        body: &serde_json::Value,
        ctx: Ctx<'_>,
    ) -> Result<String, ProviderError> {
        let answer = self.http.call(Method::POST, path, Some(body), ctx).await?;
        if let Some(id) = wire::created_id(&answer).filter(|id| slidecast_vendor::is_safe_id(id)) {
            return Ok(id);
        }
        Err(match wire::envelope_error(&answer) {
            Some(e) if e.is_quota() => ProviderError::permanent(
                PermanentKind::QuotaExhausted,
                format!("{ctx}: no credits left on the HeyGen account: {e}"),
            ),
            Some(e) => ProviderError::permanent(
                PermanentKind::BadRequest,
                format!("{ctx}: HeyGen refused the video: {e}"),
            ),
            None => ProviderError::permanent(
                PermanentKind::BadRequest,
                format!("{ctx}: HeyGen answered without a usable video id"),
            ),
        })
    }

    /// Create the render of `request`: WebM first when asked for and the
    /// avatar has not refused it, else MP4.
    async fn create_render(
        &self,
        request: &ClipRequest,
        token: &str,
        ctx: Ctx<'_>,
    ) -> Result<(String, ClipFormat), ProviderError> {
        let voice = self.voice_of(request)?;
        if let Character::Avatar(avatar) = Character::of(&request.avatar) {
            let webm = self.config.transparent && !locked(&self.no_webm).contains(avatar);
            if webm {
                let body = wire::webm_body(request, avatar, voice, token);
                match self.create(wire::GENERATE_WEBM, &body, ctx).await {
                    Ok(id) => return Ok((id, ClipFormat::Webm)),
                    Err(ProviderError::Permanent {
                        kind: PermanentKind::BadRequest,
                        message,
                    }) => {
                        // Refused as WebM: this request renders as MP4. Only
                        // a refusal that names WebM (or support) marks the
                        // avatar; any other (a voice, say) will show again
                        // in the MP4 create, with its own message.
                        let lower = message.to_lowercase();
                        if lower.contains("webm") || lower.contains("support") {
                            locked(&self.no_webm).insert(avatar.to_string());
                        }
                        tracing::info!(
                            slide = request.slide,
                            avatar,
                            "HeyGen refused a WebM render ({message}); using MP4 over the key colour"
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let body = wire::generate_body(request, voice, token);
        let id = self.create(wire::GENERATE, &body, ctx).await?;
        Ok((id, ClipFormat::Mp4))
    }

    async fn read_state(&self, id: &str, ctx: Ctx<'_>) -> Result<VideoState, ProviderError> {
        let answer = self
            .http
            .call(Method::GET, &wire::status_path(id), None, ctx)
            .await?;
        let state = wire::video_state(&answer);
        if let (VideoState::Unknown(s), Some(e)) = (&state, wire::envelope_error(&answer)) {
            if s.is_empty() {
                // An error instead of a status: the video is not readable now.
                return Err(ProviderError::transient(format!(
                    "{ctx}: HeyGen answered the status with an error: {e}"
                )));
            }
        }
        Ok(state)
    }

    async fn fresh_url(&self, id: &str, ctx: Ctx<'_>) -> Result<String, ProviderError> {
        match self.read_state(id, ctx).await? {
            VideoState::Completed(Some(url)) => Ok(url),
            other => Err(ProviderError::transient(format!(
                "{ctx}: no download URL (status {other:?})"
            ))),
        }
    }
}

/// What HeyGen will refuse in `request`, each problem naming its field.
fn check_request(
    request: &ClipRequest,
    avatars: &[Avatar],
    voices: &[Voice],
    config: &HeyGenConfig,
) -> Vec<RequestProblem> {
    let problem = |field: &str, message: String| RequestProblem {
        slide: request.slide,
        field: field.to_string(),
        message,
    };
    let mut problems = Vec::new();
    if !avatars.iter().any(|a| a.code == request.avatar) {
        let near = nearest_names(&request.avatar, avatars.iter().map(|a| a.code.as_str()), 3);
        problems.push(problem(
            "presenter.avatar",
            format!(
                "HeyGen has no avatar `{}` for this account{} (`slidecast heygen avatars` lists them; \
                 a talking photo is `photo:<id>`)",
                request.avatar,
                hint(&near)
            ),
        ));
    }
    match request.voice.as_deref().or(config.default_voice.as_deref()) {
        None => problems.push(problem(
            "presenter.voice",
            "HeyGen needs a voice id (`slidecast heygen voices` lists them)".into(),
        )),
        Some(voice) if !voices.is_empty() && !voices.iter().any(|v| v.id == voice) => {
            let near = nearest_names(voice, voices.iter().map(|v| v.id.as_str()), 3);
            problems.push(problem(
                "presenter.voice",
                format!(
                    "HeyGen has no voice `{voice}`{} (`slidecast heygen voices` lists them)",
                    hint(&near)
                ),
            ));
        }
        Some(_) => {}
    }
    let chars = request.script.chars().count();
    if chars > config.max_script_chars {
        problems.push(problem(
            "script",
            format!(
                "the narration is {chars} characters; HeyGen takes at most {} per video",
                config.max_script_chars
            ),
        ));
    }
    problems
}

fn hint(near: &[&str]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!("; nearest: {}", near.join(", "))
    }
}

#[async_trait]
impl AvatarProvider for HeyGenProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn limits(&self) -> ProviderLimits {
        let mut limits = ProviderLimits::default();
        limits.max_in_flight = self.config.max_in_flight;
        limits.poll_interval = self.config.pacing.poll_max;
        limits.max_script_chars = Some(self.config.max_script_chars);
        limits
    }

    fn clip_extension(&self, handle: &RenderHandle) -> &str {
        match Self::handle_data(handle).map(|d| d.format) {
            Some(ClipFormat::Webm) => "webm",
            _ => "mp4",
        }
    }

    /// Every avatar (or talking photo) and voice exists for the account,
    /// every slide has a voice, and no script is longer than HeyGen takes.
    async fn check(&self, requests: &[ClipRequest]) -> Result<Vec<RequestProblem>, ProviderError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let catalog = self.catalog().await?;
        let (avatars, voices) = (&catalog.0, &catalog.1);
        Ok(requests
            .iter()
            .flat_map(|r| check_request(r, avatars, voices, &self.config))
            .collect())
    }

    async fn speech_limit(
        &self,
        _request: &ClipRequest,
    ) -> Result<Option<Duration>, ProviderError> {
        Ok(self.config.max_clip_speech)
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        let ctx = self.http.ctx("create video").slide(Some(request.slide));
        let token = slidecast_vendor::create_token(request);
        if locked(&self.unsure_creates).contains(&token) {
            if let Some(found) = self.find_created(&token, ctx).await? {
                tracing::info!(slide = request.slide, video = %found.id, "found the video a lost create answer made");
                locked(&self.unsure_creates).remove(&token);
                return Ok(self.handle(request, found.id, found.format));
            }
        }
        match self.create_render(request, &token, ctx).await {
            Ok((id, format)) => {
                locked(&self.unsure_creates).remove(&token);
                Ok(self.handle(request, id, format))
            }
            Err(e) => {
                // A timeout or server error may come after HeyGen created
                // (and started) the video: the retry looks for it first.
                if matches!(e, ProviderError::Transient { .. }) {
                    locked(&self.unsure_creates).insert(token);
                }
                Err(e)
            }
        }
    }

    /// HeyGen's create starts the render, so a found video is started.
    async fn find_lost_create(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<(RenderHandle, bool)>, ProviderError> {
        let ctx = self
            .http
            .ctx("find a lost create")
            .slide(Some(request.slide));
        let token = slidecast_vendor::create_token(request);
        Ok(self
            .find_created(&token, ctx)
            .await?
            .map(|found| (self.handle(request, found.id, found.format), true)))
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let data = Self::handle_data(handle);
        let ctx = self
            .http
            .ctx("status")
            .slide(data.as_ref().map(|d| d.slide))
            .video(id)
            .polling();
        let state = self.read_state(id, ctx).await?;
        let what = match state {
            VideoState::Completed(Some(url)) => {
                self.renders.set_url(id, Some(url));
                return Ok(RenderStatus::Ready);
            }
            VideoState::Failed(error) => {
                self.renders.forget(id);
                return Ok(match error {
                    Some(e) if e.is_request_problem() => RenderStatus::Rejected {
                        reason: format!("HeyGen says \"{e}\""),
                    },
                    Some(e) => RenderStatus::Failed {
                        reason: format!("{ctx}: HeyGen reported the render failed: {e}"),
                    },
                    None => RenderStatus::Failed {
                        reason: format!(
                            "{ctx}: HeyGen reported the render failed, giving no reason"
                        ),
                    },
                });
            }
            VideoState::Completed(None) => "completed without a URL".to_string(),
            VideoState::Queued => "waiting".to_string(),
            VideoState::Processing => "processing".to_string(),
            VideoState::Unknown(s) => s,
        };
        let clock = data.map(|d| d.clock);
        let elapsed = self.renders.check_deadline(
            id,
            clock,
            self.config.pacing.deadline_base,
            &what,
            &ctx,
        )?;
        Ok(RenderStatus::Rendering {
            progress: None,
            eta: Some(self.config.pacing.poll_interval(elapsed)),
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let slide = Self::handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("download").slide(slide).video(id);
        self.renders
            .download(&self.http, id, dest, ctx, || self.fresh_url(id, ctx))
            .await
            .map(|_| ())
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let slide = Self::handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("delete video").slide(slide).video(id);
        self.renders.forget(id);
        match self
            .http
            .call(Method::DELETE, &wire::delete_path(id), None, ctx)
            .await
        {
            Ok(_)
            | Err(ProviderError::Permanent {
                kind: PermanentKind::NotFound,
                ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
