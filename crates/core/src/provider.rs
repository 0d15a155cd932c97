//! The vendor side: what an avatar vendor must do for the scheduler.
//!
//! A render has a lifecycle of *initiate* (the vendor assigns an id),
//! *start* (for vendors such as Elai that need a separate call), *status*
//! polling, and *fetch* of the finished clip. The split between initiate and
//! start exists so the scheduler can persist the vendor's id before the render
//! is started: a crash between the two resumes by starting the existing draft
//! instead of paying for a new one.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::deck::Rgb;

/// Everything a vendor needs to render one slide's presenter clip.
///
/// Every field except `slide` and `title` changes the clip, so
/// [`ClipRequest::identity`] is what a content-addressed cache hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRequest {
    /// 1-based slide number, for messages and vendor-side names.
    pub slide: usize,
    /// Deck title, for vendor-side names only.
    pub title: String,
    /// Provider name as written in the deck (`local`, `elai`, `mock`, ...).
    pub provider: String,
    /// The narration the avatar speaks.
    pub script: String,
    /// Vendor avatar code (Elai: `{avatar}.{variant}`).
    pub avatar: String,
    /// The vendor's voice id (`None`: the avatar's default voice).
    pub voice: Option<String>,
    /// Who supplies the voice, for vendors that mix voice providers.
    pub voice_provider: Option<String>,
    /// Language of the narration, as the vendor names it.
    pub language: Option<String>,
    /// The flat colour the vendor renders behind the avatar (for keying).
    pub avatar_background: Rgb,
    /// Requested clip size in pixels (width, height).
    pub canvas: (u32, u32),
}

impl ClipRequest {
    /// The request with the fields that do not change the clip blanked out:
    /// two requests with equal `cache_fields` produce the same clip.
    pub fn cache_fields(&self) -> ClipRequest {
        ClipRequest {
            slide: 0,
            title: String::new(),
            ..self.clone()
        }
    }

    /// What clip this request asks for (see [`ClipIdentity`]).
    pub fn identity(&self) -> ClipIdentity {
        ClipIdentity::of(self)
    }
}

/// What a clip is: a canonical serialization of every field of a
/// [`ClipRequest`] that changes the clip, and of nothing else. Two requests
/// with equal identities produce the same clip; the scheduler renders them
/// once, the store keys its cache and journal by a hash of it, and providers
/// derive their render ids from it.
///
/// One `name=length:value` line per field in a fixed order: strings are
/// length-prefixed, so no script can forge a field boundary, and an absent
/// option (`voice=none`) differs from an empty one (`voice=0:`). The slide
/// number and the deck title do not change the clip and are left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClipIdentity {
    /// The `provider=` line.
    provider: String,
    /// Every other line, in order.
    fields: String,
}

impl ClipIdentity {
    /// Version of the layout [`versioned`](Self::versioned) writes. Changing
    /// the layout must change this too, so old and new keys never collide.
    pub const SCHEME: &'static str = "slidecast-clip-key/1";

    fn of(request: &ClipRequest) -> ClipIdentity {
        // Destructured without `..`: a field added to `ClipRequest` fails to
        // compile here until someone decides whether it changes the clip.
        let ClipRequest {
            slide: _,
            title: _,
            provider,
            script,
            avatar,
            voice,
            voice_provider,
            language,
            avatar_background,
            canvas,
        } = request;

        fn text(out: &mut String, name: &str, value: &str) {
            out.push_str(&format!("{name}={}:{value}\n", value.len()));
        }
        fn optional(out: &mut String, name: &str, value: &Option<String>) {
            match value {
                Some(v) => text(out, name, v),
                None => out.push_str(&format!("{name}=none\n")),
            }
        }
        let mut head = String::new();
        text(&mut head, "provider", provider);
        let mut fields = String::with_capacity(script.len() + 200);
        text(&mut fields, "script", script);
        text(&mut fields, "avatar", avatar);
        optional(&mut fields, "voice", voice);
        optional(&mut fields, "voice_provider", voice_provider);
        optional(&mut fields, "language", language);
        fields.push_str(&format!("avatar_background={avatar_background}\n"));
        fields.push_str(&format!("canvas={}x{}\n", canvas.0, canvas.1));
        ClipIdentity {
            provider: head,
            fields,
        }
    }

    /// The identity under a provider's clip format version, prefixed with
    /// the [scheme](Self::SCHEME): what a content-addressed store hashes
    /// (bump the version when the provider's clip for the same request
    /// changes, and every old key stops matching).
    pub fn versioned(&self, format_version: u32) -> String {
        format!(
            "{}\n{}format_version={format_version}\n{}",
            Self::SCHEME,
            self.provider,
            self.fields
        )
    }
}

impl std::fmt::Display for ClipIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.provider, self.fields)
    }
}

/// Something a provider will refuse in a request, found before anything is
/// paid for (see [`AvatarProvider::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestProblem {
    /// The slide whose request it is.
    pub slide: usize,
    /// The deck field to change (`presenter.avatar`, `presenter.voice`,
    /// `script`, ...).
    pub field: String,
    /// What is wrong and what the vendor accepts instead.
    pub message: String,
}

/// A vendor's reference to one render, serializable so a journal can persist
/// it and a later run can resume polling without creating the render again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderHandle {
    /// Provider name that issued the handle.
    pub provider: String,
    /// The vendor's id for the render (Elai: the video `_id`).
    pub id: String,
    /// Provider-private data needed to resume (for example a script length
    /// for a deadline). Opaque to the scheduler.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl RenderHandle {
    /// A handle with no provider-private data.
    pub fn new(provider: impl Into<String>, id: impl Into<String>) -> Self {
        RenderHandle {
            provider: provider.into(),
            id: id.into(),
            data: serde_json::Value::Null,
        }
    }
}

/// Where a render stands at the vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RenderStatus {
    /// Accepted, not yet rendering.
    Queued,
    /// Rendering; `progress` in 0..=100 when the vendor reports it, and an
    /// estimate of the time left when the provider can tell (the scheduler
    /// polls no later than that).
    Rendering {
        /// 0..=100, when the vendor reports it.
        progress: Option<f32>,
        /// Time left, when the provider can tell.
        eta: Option<Duration>,
    },
    /// Finished; [`AvatarProvider::fetch`] may be called.
    Ready,
    /// The vendor gave up on this render. The scheduler may resubmit it.
    Failed {
        /// The vendor's reason, as reported.
        reason: String,
    },
    /// The vendor refused the request itself (too long for the avatar, an
    /// unknown voice, a malformed colour, ...). Final at once: the same
    /// request would fail the same way, and each submission is paid for.
    Rejected {
        /// The vendor's reason, quoted as it reported it.
        reason: String,
    },
}

/// What a provider can bear; the scheduler sizes itself from this.
///
/// Non-exhaustive: start from [`ProviderLimits::default`] and set fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProviderLimits {
    /// Renders in flight at once (initiated and not yet ready).
    pub max_in_flight: usize,
    /// How often to poll a render's status when it gives no estimate.
    pub poll_interval: Duration,
    /// Longest script the vendor accepts, in characters.
    pub max_script_chars: Option<usize>,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        ProviderLimits {
            max_in_flight: 8,
            poll_interval: Duration::from_secs(10),
            max_script_chars: None,
        }
    }
}

/// How a vendor bills its clips, so a deck can be priced before anything
/// is created: each clip's length is rounded up to a whole number of
/// [`step`](Self::step)s, each costing [`per_step`](Self::per_step)
/// [`unit`](Self::unit)s.
///
/// Elai bills render minutes (`Billing::per_minute()`), HeyGen credits per
/// 30 s, D-ID credits per 15 s of clip; a local provider nothing
/// ([`Billing::FREE`]). Each vendor crate exports its `BILLING`; it belongs
/// to the provider's name rather than to a built [`AvatarProvider`], since
/// a plan is priced offline, without the key a provider needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Billing {
    /// What the vendor bills in, plural (`minutes`, `credits`); empty when
    /// nothing is billed.
    pub unit: &'static str,
    /// The length each clip is rounded up to a multiple of.
    pub step: Duration,
    /// What one step costs, in `unit`s.
    pub per_step: f64,
}

impl Billing {
    /// Nothing to pay (renders on this machine).
    pub const FREE: Billing = Billing {
        unit: "",
        step: Duration::ZERO,
        per_step: 0.0,
    };

    /// `per_step` `unit`s for each started `step` of a clip.
    pub const fn metered(unit: &'static str, step: Duration, per_step: f64) -> Billing {
        Billing {
            unit,
            step,
            per_step,
        }
    }

    /// One minute for each started minute of a clip.
    pub const fn per_minute() -> Billing {
        Billing::metered("minutes", Duration::from_secs(60), 1.0)
    }

    /// True when nothing is billed.
    pub fn is_free(&self) -> bool {
        self.per_step <= 0.0 || self.unit.is_empty()
    }

    /// The vendor time a clip of `speech` is billed for: rounded up to the
    /// step (zero when free).
    pub fn billed(&self, speech: Duration) -> Duration {
        if self.is_free() {
            return Duration::ZERO;
        }
        let step = self.step.as_secs_f64();
        if step <= 0.0 {
            return speech;
        }
        // A millisecond of slack: an estimate of exactly two steps is two.
        let steps = ((speech.as_secs_f64() - 0.001) / step).ceil().max(1.0);
        Duration::from_secs_f64(steps * step)
    }

    /// What a clip of `speech` costs, in [`unit`](Self::unit)s.
    pub fn cost(&self, speech: Duration) -> f64 {
        let step = self.step.as_secs_f64();
        if self.is_free() {
            0.0
        } else if step <= 0.0 {
            speech.as_secs_f64() * self.per_step
        } else {
            (self.billed(speech).as_secs_f64() / step).round() * self.per_step
        }
    }
}

impl Default for Billing {
    /// Whole minutes: a vendor that does not say how it bills is priced
    /// high rather than free.
    fn default() -> Self {
        Billing::per_minute()
    }
}

/// Why a provider call failed, typed so the scheduler can decide what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Worth retrying with exponential backoff (5xx, timeout, reset).
    #[error("transient: {message}")]
    Transient {
        /// What happened.
        message: String,
    },
    /// The vendor asked us to slow down; retry after `retry_after` when given.
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// The vendor's requested wait.
        retry_after: Option<Duration>,
        /// What the vendor said.
        message: String,
    },
    /// Retrying cannot help: the run stops and reports this.
    #[error("{kind}: {message}")]
    Permanent {
        /// The class of the failure.
        kind: PermanentKind,
        /// What the vendor (or the provider) said.
        message: String,
    },
}

impl ProviderError {
    /// A transient error (retried with backoff).
    pub fn transient(message: impl Into<String>) -> Self {
        ProviderError::Transient {
            message: message.into(),
        }
    }

    /// A permanent error of `kind` (never retried).
    pub fn permanent(kind: PermanentKind, message: impl Into<String>) -> Self {
        ProviderError::Permanent {
            kind,
            message: message.into(),
        }
    }

    /// True for errors the scheduler retries.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ProviderError::Permanent { .. })
    }
}

/// The class of a permanent provider error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PermanentKind {
    /// The vendor rejected the request (validation, unknown avatar, ...).
    BadRequest,
    /// The credentials were refused.
    Authentication,
    /// The account has no render minutes or creations left.
    QuotaExhausted,
    /// The render or clip does not exist (any more).
    NotFound,
    /// A local failure the provider cannot recover from (missing tool, disk).
    Local,
    /// The render did not finish within the provider's deadline.
    DeadlineExceeded,
}

impl std::fmt::Display for PermanentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PermanentKind::BadRequest => "request rejected",
            PermanentKind::Authentication => "authentication failed",
            PermanentKind::QuotaExhausted => "quota exhausted",
            PermanentKind::NotFound => "not found",
            PermanentKind::Local => "local failure",
            PermanentKind::DeadlineExceeded => "render deadline exceeded",
        })
    }
}

/// An avatar vendor (or a local stand-in) that renders presenter clips.
///
/// Implementations must be cheap to call concurrently: the scheduler calls
/// `initiate` for every slide at once (bounded by
/// [`ProviderLimits::max_in_flight`]) and polls each render's status.
/// Every method returns quickly; the waiting is the scheduler's job.
#[async_trait]
pub trait AvatarProvider: Send + Sync {
    /// Short name, matching the deck's `provider` field (`elai`, `local`, ...).
    fn name(&self) -> &str;

    /// What this provider can bear.
    fn limits(&self) -> ProviderLimits;

    /// File extension of the clip [`fetch`](Self::fetch) writes for
    /// `handle` (without the dot); the scheduler names fetched clips
    /// `clip-slide-NNN.<ext>`. Per render, because one vendor may answer in
    /// more than one container (HeyGen: MP4 over a key colour, or WebM with
    /// alpha for the avatars that have it). The default is `mp4`.
    fn clip_extension(&self, handle: &RenderHandle) -> &str {
        let _ = handle;
        "mp4"
    }

    /// Check `requests` against what the vendor accepts (avatar and voice
    /// codes, per-slide limits) before any of them is created, so a deck
    /// that cannot render fails before anything is paid for. Every problem
    /// is reported, each naming its slide and field. The default accepts
    /// everything.
    async fn check(&self, requests: &[ClipRequest]) -> Result<Vec<RequestProblem>, ProviderError> {
        let _ = requests;
        Ok(Vec::new())
    }

    /// The longest narration `request`'s avatar speaks in one clip, when the
    /// vendor limits it (`None`: no limit). A slide whose narration is
    /// longer is split into [parts](crate::Slide::parts) that fit, before
    /// anything is created. The default has no limit.
    async fn speech_limit(&self, request: &ClipRequest) -> Result<Option<Duration>, ProviderError> {
        let _ = request;
        Ok(None)
    }

    /// Ask the vendor for a render of `request` and return its handle as soon
    /// as the vendor has assigned an id. The scheduler persists the handle
    /// before calling [`start`](Self::start).
    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError>;

    /// A render of `request` whose create answer never reached its caller
    /// (the process that sent it died, or the connection dropped), with
    /// whether it was started; `None` when there is none or the vendor
    /// cannot tell. The scheduler asks before creating when the render
    /// registry says a create may have been sent, so a lost answer is not
    /// paid for twice. Providers whose creates carry a token derived from
    /// the request look it up; the default finds none.
    async fn find_lost_create(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<(RenderHandle, bool)>, ProviderError> {
        let _ = request;
        Ok(None)
    }

    /// Start a render that [`initiate`](Self::initiate) created. Vendors whose
    /// create call also starts the render keep the default, which does nothing.
    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let _ = handle;
        Ok(())
    }

    /// Where the render stands now.
    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError>;

    /// Write the finished clip to `dest` (a path the scheduler chose; the
    /// provider may assume its directory exists and nothing else writes there).
    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError>;

    /// Wait up to `wait` before the next [`status`](Self::status) poll of
    /// `handle`. A provider that hears of changes itself (a vendor's
    /// webhook) returns as soon as it does; polling stays the backstop. The
    /// default sleeps for `wait`.
    async fn wait_for_change(&self, handle: &RenderHandle, wait: std::time::Duration) {
        let _ = handle;
        tokio::time::sleep(wait).await;
    }

    /// Stop and discard a render (used on explicit user request only: an
    /// interrupted run keeps its renders so a rerun can resume them).
    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError>;
}

#[cfg(test)]
mod billing_tests {
    use super::*;

    #[test]
    fn clips_are_rounded_up_to_whole_steps_each() {
        let s = Duration::from_secs;
        let minutes = Billing::per_minute();
        assert_eq!(minutes.billed(s(4)), s(60));
        assert_eq!(minutes.billed(s(60)), s(60));
        assert_eq!(minutes.billed(Duration::from_millis(60_400)), s(120));
        assert_eq!(minutes.cost(Duration::from_millis(60_400)), 2.0);
        let credits = Billing::metered("credits", s(30), 1.0);
        assert_eq!((credits.billed(s(31)), credits.cost(s(31))), (s(60), 2.0));
        assert_eq!(credits.cost(s(1)), 1.0);
        assert!(Billing::FREE.is_free());
        assert_eq!(
            (Billing::FREE.billed(s(90)), Billing::FREE.cost(s(90))),
            (s(0), 0.0)
        );
    }
}
