//! [`DidProvider`]: the [`AvatarProvider`] on D-ID's REST API.
//!
//! Lifecycle of one slide: `initiate` creates a talk or a clip, which also
//! starts its render (`start` is the trait's no-op); `status` reads it
//! (`created`, `started`, `done`, `error`, `rejected`); `fetch` downloads
//! its signed `result_url`, reading the render again for a fresh one when
//! the URL was refused; `cancel` deletes it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
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

use crate::config::{ConfigError, DidConfig};
use crate::discovery::{parse_presenters, Presenter};
use crate::wire::{self, Kind, RenderState};

/// The provider name decks use.
pub const PROVIDER_NAME: &str = "did";

/// How D-ID bills: a credit for each started 15 s of video (D-ID's plans as
/// described to the project; not verified against an invoice).
pub const BILLING: Billing = Billing::metered("credits", Duration::from_secs(15), 1.0);

/// What a [`RenderHandle`] of this provider carries in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandleData {
    /// The deck slide.
    pub slide: usize,
    /// A talk or a clip.
    pub kind: Kind,
    /// The deadline clock.
    #[serde(flatten)]
    pub clock: Clock,
}

/// The D-ID avatar provider. Cheap to share across the scheduler's tasks.
pub struct DidProvider {
    config: DidConfig,
    http: Client,
    presenters: OnceCell<Vec<Presenter>>,
    renders: RenderTracker,
    /// Tokens of creates whose answer did not arrive: a render may exist.
    unsure_creates: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for DidProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DidProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DidProvider {
    /// A provider with `config`.
    pub fn new(config: DidConfig) -> Result<DidProvider, ConfigError> {
        let http = Client::new(wire::VENDOR, &config.client).map_err(ConfigError::Invalid)?;
        Ok(DidProvider {
            config,
            http,
            presenters: OnceCell::new(),
            renders: RenderTracker::default(),
            unsure_creates: Mutex::new(HashSet::new()),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &DidConfig {
        &self.config
    }

    fn unsure(&self) -> MutexGuard<'_, HashSet<String>> {
        self.unsure_creates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The presenters of clips, fresh from D-ID.
    pub async fn list_presenters(&self) -> Result<Vec<Presenter>, ProviderError> {
        let value = self
            .http
            .call(
                Method::GET,
                wire::PRESENTERS,
                None,
                self.http.ctx("list presenters"),
            )
            .await?;
        Ok(parse_presenters(&value))
    }

    fn kind_of(handle: &RenderHandle) -> Kind {
        match Self::handle_data(handle) {
            Some(d) => d.kind,
            // D-ID's talk ids start `tlk_`.
            None if handle.id.starts_with("tlk_") => Kind::Talk,
            None => Kind::Clip,
        }
    }

    fn handle_data(handle: &RenderHandle) -> Option<HandleData> {
        serde_json::from_value(handle.data.clone()).ok()
    }

    fn handle(&self, request: &ClipRequest, id: String) -> RenderHandle {
        let deadline = self.config.pacing.deadline_for(&request.script);
        let clock = Clock::now(deadline);
        let data = HandleData {
            slide: request.slide,
            kind: Kind::of(&request.avatar),
            clock,
        };
        self.renders.started(&id, deadline);
        let mut handle = RenderHandle::new(PROVIDER_NAME, id);
        handle.data = serde_json::to_value(&data).unwrap_or(serde_json::Value::Null);
        handle
    }

    fn with_default_voice(&self, request: &ClipRequest) -> ClipRequest {
        let mut request = request.clone();
        if request.voice.is_none() {
            request.voice = self.config.default_voice.clone();
        }
        request
    }

    /// The render of kind `kind` tagged `token` that did not fail.
    async fn find_created(
        &self,
        kind: Kind,
        token: &str,
        ctx: Ctx<'_>,
    ) -> Result<Option<String>, ProviderError> {
        match self
            .http
            .call(Method::GET, kind.collection(), None, ctx)
            .await
        {
            Ok(list) => Ok(wire::find_tagged(&list, kind, token).map(|(id, _)| id)),
            Err(ProviderError::Permanent {
                kind: PermanentKind::NotFound | PermanentKind::BadRequest,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read(&self, kind: Kind, id: &str, ctx: Ctx<'_>) -> Result<RenderState, ProviderError> {
        let answer = self
            .http
            .call(Method::GET, &kind.path(id), None, ctx)
            .await?;
        Ok(wire::render_state(&answer))
    }

    async fn fresh_url(&self, kind: Kind, id: &str, ctx: Ctx<'_>) -> Result<String, ProviderError> {
        match self.read(kind, id, ctx).await? {
            RenderState::Done(Some(url)) => Ok(url),
            other => Err(ProviderError::transient(format!(
                "{ctx}: no result URL (status {other:?})"
            ))),
        }
    }
}

/// What D-ID will refuse in `request`, each problem naming its field.
fn check_request(request: &ClipRequest, presenters: Option<&[Presenter]>) -> Vec<RequestProblem> {
    let problem = |field: &str, message: String| RequestProblem {
        slide: request.slide,
        field: field.to_string(),
        message,
    };
    let mut problems = Vec::new();
    match Kind::of(&request.avatar) {
        Kind::Talk => {
            if reqwest::Url::parse(&request.avatar).is_err() {
                problems.push(problem(
                    "presenter.avatar",
                    format!(
                        "`{}` is not a URL D-ID can fetch the photo from",
                        request.avatar
                    ),
                ));
            }
        }
        Kind::Clip => {
            if let Some(list) = presenters {
                if !list.iter().any(|p| p.id == request.avatar) {
                    let near =
                        nearest_names(&request.avatar, list.iter().map(|p| p.id.as_str()), 3);
                    problems.push(problem(
                        "presenter.avatar",
                        format!(
                            "D-ID has no presenter `{}`{} (`slidecast did presenters` lists them; \
                             a photo URL makes a talk instead)",
                            request.avatar,
                            if near.is_empty() {
                                String::new()
                            } else {
                                format!("; nearest: {}", near.join(", "))
                            }
                        ),
                    ));
                }
            }
        }
    }
    if request.script.trim().is_empty() {
        problems.push(problem("script", "D-ID needs a script to speak".into()));
    }
    problems
}

#[async_trait]
impl AvatarProvider for DidProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn limits(&self) -> ProviderLimits {
        let mut limits = ProviderLimits::default();
        limits.max_in_flight = self.config.max_in_flight;
        limits.poll_interval = self.config.pacing.poll_max;
        limits
    }

    /// Photo URLs parse, presenters exist (when any slide names one), and
    /// no script is empty.
    async fn check(&self, requests: &[ClipRequest]) -> Result<Vec<RequestProblem>, ProviderError> {
        let clips = requests.iter().any(|r| Kind::of(&r.avatar) == Kind::Clip);
        let presenters = if clips {
            Some(
                self.presenters
                    .get_or_try_init(|| self.list_presenters())
                    .await?
                    .as_slice(),
            )
        } else {
            None
        };
        Ok(requests
            .iter()
            .flat_map(|r| check_request(r, presenters))
            .collect())
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        let kind = Kind::of(&request.avatar);
        let ctx = self
            .http
            .ctx(match kind {
                Kind::Talk => "create talk",
                Kind::Clip => "create clip",
            })
            .slide(Some(request.slide));
        let token = slidecast_vendor::create_token(request);
        if self.unsure().contains(&token) {
            if let Some(id) = self.find_created(kind, &token, ctx).await? {
                tracing::info!(slide = request.slide, render = %id, "found the render a lost create answer made");
                self.unsure().remove(&token);
                return Ok(self.handle(request, id));
            }
        }
        let body = wire::create_body(&self.with_default_voice(request), &token);
        match self
            .http
            .call(Method::POST, kind.collection(), Some(&body), ctx)
            .await
        {
            Ok(answer) => {
                self.unsure().remove(&token);
                let id = wire::created_id(&answer)
                    .filter(|id| slidecast_vendor::is_safe_id(id))
                    .ok_or_else(|| {
                        ProviderError::permanent(
                            PermanentKind::BadRequest,
                            format!("{ctx}: D-ID answered without a usable id"),
                        )
                    })?;
                Ok(self.handle(request, id))
            }
            Err(e) => {
                // A timeout or server error may come after D-ID created
                // (and started) the render: the retry looks for it first.
                if matches!(e, ProviderError::Transient { .. }) {
                    self.unsure().insert(token);
                }
                Err(e)
            }
        }
    }

    /// D-ID's create starts the render, so a found one is started.
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
            .find_created(Kind::of(&request.avatar), &token, ctx)
            .await?
            .map(|id| (self.handle(request, id), true)))
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let data = Self::handle_data(handle);
        let kind = Self::kind_of(handle);
        let ctx = self
            .http
            .ctx("status")
            .slide(data.as_ref().map(|d| d.slide))
            .video(id)
            .polling();
        let state = match self.read(kind, id, ctx).await? {
            RenderState::Done(Some(url)) => {
                self.renders.set_url(id, Some(url));
                return Ok(RenderStatus::Ready);
            }
            RenderState::Rejected(error) => {
                self.renders.forget(id);
                return Ok(RenderStatus::Rejected {
                    reason: match error {
                        Some(e) => format!("D-ID rejected it: {e}"),
                        None => "D-ID rejected it (moderation) and gave no reason".into(),
                    },
                });
            }
            RenderState::Error(error) => {
                self.renders.forget(id);
                return Ok(RenderStatus::Failed {
                    reason: format!(
                        "{ctx}: D-ID reported an error{}",
                        error.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                });
            }
            RenderState::Done(None) => "done without a result URL".to_string(),
            RenderState::Created => "created".to_string(),
            RenderState::Started => "started".to_string(),
            RenderState::Unknown(s) => s,
        };
        let clock = data.map(|d| d.clock);
        let elapsed = self.renders.check_deadline(
            id,
            clock,
            self.config.pacing.deadline_base,
            &state,
            &ctx,
        )?;
        Ok(RenderStatus::Rendering {
            progress: None,
            eta: Some(self.config.pacing.poll_interval(elapsed)),
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let kind = Self::kind_of(handle);
        let slide = Self::handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("download").slide(slide).video(id);
        self.renders
            .download(&self.http, id, dest, ctx, || self.fresh_url(kind, id, ctx))
            .await
            .map(|_| ())
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let id = slidecast_vendor::checked_id(handle, PROVIDER_NAME, wire::VENDOR.name)?;
        let kind = Self::kind_of(handle);
        let slide = Self::handle_data(handle).map(|d| d.slide);
        let ctx = self.http.ctx("delete").slide(slide).video(id);
        self.renders.forget(id);
        match self
            .http
            .call(Method::DELETE, &kind.path(id), None, ctx)
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
