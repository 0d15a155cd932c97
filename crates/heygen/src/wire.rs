//! Everything this crate knows about HeyGen's HTTP API: endpoints, request
//! bodies and the fields read from answers. Nothing else in the crate
//! names a path or a JSON field.
//!
//! # Sources
//! From HeyGen's public API reference, as summarised in the project's
//! vendor notes; no real traffic has been recorded (slidecast has no HeyGen
//! account). What the notes show: `POST v2/video/generate` with header
//! `X-Api-Key` and a body of `video_inputs` (a `character` of type `avatar`
//! with `avatar_id` and `avatar_style`, or `talking_photo` with
//! `talking_photo_id`; a `voice` of type `text` with `input_text` and
//! `voice_id`; a `background` of type `color` with `#RRGGBB`), top-level
//! `dimension`, `title`, `callback_id`; the create starts the render and
//! answers `data.video_id`. `GET v1/video_status.get?video_id=` answers
//! `{code: 100, data: {status, video_url, duration, error}}`, status
//! `pending`, `waiting`, `processing`, `completed` or `failed`; errors can
//! arrive inside a 200 envelope (`error: {code: 40119, detail: "Video is
//! too long..."}`). `video_url` expires; each status call issues a fresh
//! one. `POST v1/video.webm` renders a transparent WebM (studio avatars
//! only).
//!
//! Not in the notes, taken from the reference's names and marked so in the
//! docs: the `v1/video.webm` body (`avatar_pose_id`, `avatar_style`,
//! `input_text`, `voice_id`, `dimension`), `GET v1/video.list` (a page of
//! `{video_id, status, video_title}`, newest first) used to find a create
//! whose answer was lost, `DELETE v1/video.delete?video_id=`, and the
//! discovery lists `GET v2/avatars` (`data.avatars[]` of `{avatar_id,
//! avatar_name, gender}`, `data.talking_photos[]` of `{talking_photo_id,
//! talking_photo_name}`) and `GET v2/voices` (`data.voices[]` of
//! `{voice_id, name, language, gender}`).
//!
//! # Deck avatars
//! `presenter.avatar` is a HeyGen `avatar_id`, or `photo:<talking_photo_id>`
//! for a talking photo.

use serde_json::{json, Value};
use slidecast_core::ClipRequest;
use slidecast_vendor::{Auth, Vendor};

/// HeyGen's public API root.
pub const DEFAULT_BASE_URL: &str = "https://api.heygen.com";
/// Create (and start) an MP4 render.
pub const GENERATE: &str = "v2/video/generate";
/// Create (and start) a transparent WebM render.
pub const GENERATE_WEBM: &str = "v1/video.webm";
/// The first page of the account's videos, newest first.
pub const LIST: &str = "v1/video.list";
/// Avatars and talking photos of the account.
pub const AVATARS: &str = "v2/avatars";
/// Voices.
pub const VOICES: &str = "v2/voices";
/// The prefix of a talking photo in `presenter.avatar`.
pub const PHOTO_PREFIX: &str = "photo:";
/// The title prefix every slidecast create carries (then the create token).
pub const TITLE_PREFIX: &str = "slidecast";

/// HeyGen as the shared HTTP client knows it.
pub const VENDOR: Vendor = Vendor {
    name: "HeyGen",
    key_env: crate::config::API_KEY_ENV,
    auth: Auth::Header("X-Api-Key"),
    error_message,
    billed_in: "credits",
};

/// `v1/video_status.get?video_id=<id>`.
pub fn status_path(id: &str) -> String {
    format!("v1/video_status.get?video_id={id}")
}

/// `v1/video.delete?video_id=<id>`.
pub fn delete_path(id: &str) -> String {
    format!("v1/video.delete?video_id={id}")
}

/// Who presents: a HeyGen avatar or a talking photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Character<'a> {
    /// `{type: "avatar", avatar_id}`.
    Avatar(&'a str),
    /// `{type: "talking_photo", talking_photo_id}`.
    TalkingPhoto(&'a str),
}

impl<'a> Character<'a> {
    /// The character a deck's `presenter.avatar` names.
    pub fn of(avatar: &'a str) -> Character<'a> {
        match avatar.strip_prefix(PHOTO_PREFIX) {
            Some(id) => Character::TalkingPhoto(id),
            None => Character::Avatar(avatar),
        }
    }
}

/// The title of a create: names the slide for people reading the HeyGen
/// dashboard, and carries the create token (and the container) that find
/// it again when its answer was lost.
pub fn title(request: &ClipRequest, token: &str, format: ClipFormat) -> String {
    format!(
        "{TITLE_PREFIX} {token} {} {} - slide {}",
        format.extension(),
        request.title.chars().take(60).collect::<String>(),
        request.slide
    )
}

/// The container a render answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClipFormat {
    /// H.264 MP4 over the flat key colour (`v2/video/generate`).
    Mp4,
    /// VP9 WebM with alpha (`v1/video.webm`).
    Webm,
}

impl ClipFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ClipFormat::Mp4 => "mp4",
            ClipFormat::Webm => "webm",
        }
    }
}

/// The `v2/video/generate` body: one video input, the avatar over the flat
/// key colour the composer removes.
pub fn generate_body(request: &ClipRequest, voice_id: &str, token: &str) -> Value {
    let character = match Character::of(&request.avatar) {
        Character::Avatar(id) => {
            json!({"type": "avatar", "avatar_id": id, "avatar_style": "normal"})
        }
        Character::TalkingPhoto(id) => json!({"type": "talking_photo", "talking_photo_id": id}),
    };
    json!({
        "video_inputs": [{
            "character": character,
            "voice": {"type": "text", "input_text": request.script, "voice_id": voice_id},
            "background": {"type": "color", "value": request.avatar_background.to_string()},
        }],
        "dimension": {"width": request.canvas.0, "height": request.canvas.1},
        "title": title(request, token, ClipFormat::Mp4),
        "callback_id": token,
    })
}

/// The `v1/video.webm` body: the avatar alone on a transparent background.
/// (`title` is assumed to be taken as by `v2/video/generate`.)
pub fn webm_body(request: &ClipRequest, avatar_id: &str, voice_id: &str, token: &str) -> Value {
    json!({
        "title": title(request, token, ClipFormat::Webm),
        "avatar_pose_id": avatar_id,
        "avatar_style": "normal",
        "input_text": request.script,
        "voice_id": voice_id,
        "dimension": {"width": request.canvas.0, "height": request.canvas.1},
    })
}

/// An error HeyGen put in an answer: `{code, message | detail}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeError {
    /// HeyGen's numeric (or string) code, as text.
    pub code: Option<String>,
    /// What it says, one line.
    pub message: String,
}

impl EnvelopeError {
    /// The render can never succeed as asked (too long, unknown avatar or
    /// voice, refused text): final, not worth paying for again.
    pub fn is_request_problem(&self) -> bool {
        let m = self.message.to_lowercase();
        self.code.as_deref() == Some(TOO_LONG)
            || [
                "too long",
                "not found",
                "invalid",
                "not supported",
                "moderation",
                "exceed",
            ]
            .iter()
            .any(|w| m.contains(w))
    }

    /// The account is out of credits.
    pub fn is_quota(&self) -> bool {
        let m = self.message.to_lowercase();
        ["insufficient", "credit", "quota", "balance"]
            .iter()
            .any(|w| m.contains(w))
    }
}

/// The code of HeyGen's "Video is too long" error.
pub const TOO_LONG: &str = "40119";

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{} (code {c})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The `error` of an answer or of its `data`, when there is one.
pub fn envelope_error(answer: &Value) -> Option<EnvelopeError> {
    let error = [answer.get("error"), answer.pointer("/data/error")]
        .into_iter()
        .flatten()
        .find(|e| !e.is_null())?;
    let (code, text) = match error {
        Value::String(s) => (None, s.clone()),
        Value::Object(_) => {
            let code = error.get("code").and_then(|c| match c {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(s.clone()),
                _ => None,
            });
            let text = ["detail", "message"]
                .iter()
                .filter_map(|k| error.get(*k).and_then(Value::as_str))
                .find(|s| !s.trim().is_empty())
                .unwrap_or("no message")
                .to_string();
            (code, text)
        }
        _ => return None,
    };
    Some(EnvelopeError {
        code,
        message: slidecast_vendor::one_line(&text).unwrap_or_else(|| "no message".into()),
    })
}

/// The vendor's message in an error answer's body (for the HTTP client).
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if let Some(e) = envelope_error(&value) {
        return Some(e.to_string());
    }
    value
        .get("message")
        .and_then(Value::as_str)
        .and_then(slidecast_vendor::one_line)
}

/// `data.video_id` of a create answer.
pub fn created_id(answer: &Value) -> Option<String> {
    answer
        .pointer("/data/video_id")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Where a video stands, from `v1/video_status.get`.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoState {
    /// `pending` or `waiting`.
    Queued,
    /// `processing`.
    Processing,
    /// `completed`, with the fresh download URL when given.
    Completed(Option<String>),
    /// `failed`, with HeyGen's error when given.
    Failed(Option<EnvelopeError>),
    /// A status this version does not know.
    Unknown(String),
}

/// Parse a status answer.
pub fn video_state(answer: &Value) -> VideoState {
    let data = answer.get("data").unwrap_or(answer);
    let status = data.get("status").and_then(Value::as_str).unwrap_or("");
    match status {
        "pending" | "waiting" => VideoState::Queued,
        "processing" => VideoState::Processing,
        "completed" => VideoState::Completed(
            data.get("video_url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_string),
        ),
        "failed" => VideoState::Failed(envelope_error(answer)),
        other => VideoState::Unknown(other.to_string()),
    }
}

/// A video of the list that a create of ours made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVideo {
    /// Its id.
    pub id: String,
    /// Its container, from the title.
    pub format: ClipFormat,
}

/// The video in a `v1/video.list` page whose title carries `token` and that
/// did not fail.
pub fn find_titled_video(list: &Value, token: &str) -> Option<ListedVideo> {
    let videos = list
        .pointer("/data/videos")
        .or_else(|| list.get("videos"))
        .and_then(Value::as_array)?;
    videos.iter().find_map(|v| {
        let title = v
            .get("video_title")
            .or_else(|| v.get("title"))
            .and_then(Value::as_str)?;
        let status = v.get("status").and_then(Value::as_str).unwrap_or("");
        let id = v.get("video_id").and_then(Value::as_str)?;
        let mut words = title.split_whitespace();
        let ours = words.next() == Some(TITLE_PREFIX) && words.next() == Some(token);
        let format = match words.next() {
            Some("webm") => ClipFormat::Webm,
            _ => ClipFormat::Mp4,
        };
        (ours && status != "failed").then(|| ListedVideo {
            id: id.to_string(),
            format,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_from_the_envelope_and_its_data() {
        let too_long = json!({"code": 100, "data": {"status": "failed", "error": {"code": 40119, "detail": "Video is too long (> 300.0s)."}}});
        let VideoState::Failed(Some(e)) = video_state(&too_long) else {
            panic!("{:?}", video_state(&too_long))
        };
        assert_eq!(e.code.as_deref(), Some(TOO_LONG));
        assert!(e.is_request_problem() && !e.is_quota());
        let quota = json!({"error": {"code": "insufficient_credit", "message": "Insufficient credit."}, "data": null});
        assert!(envelope_error(&quota).unwrap().is_quota());
        assert_eq!(
            envelope_error(&json!({"error": null, "data": {"video_id": "v1"}})),
            None
        );
        assert_eq!(
            created_id(&json!({"error": null, "data": {"video_id": "v1"}})).as_deref(),
            Some("v1")
        );
        assert_eq!(
            error_message(br#"{"error": {"code": 400116, "message": "Avatar not found"}}"#)
                .as_deref(),
            Some("Avatar not found (code 400116)")
        );
    }

    #[test]
    fn statuses_map_and_unknown_ones_are_kept() {
        let s = |st: &str| {
            video_state(
                &json!({"code": 100, "data": {"status": st, "video_url": "http://x/v.mp4"}}),
            )
        };
        assert_eq!(s("waiting"), VideoState::Queued);
        assert_eq!(s("processing"), VideoState::Processing);
        assert_eq!(
            s("completed"),
            VideoState::Completed(Some("http://x/v.mp4".into()))
        );
        assert_eq!(s("paused"), VideoState::Unknown("paused".into()));
    }
}
