//! Everything this crate knows about D-ID's HTTP API: endpoints, request
//! bodies and the fields read from answers. Nothing else in the crate
//! names a path or a JSON field.
//!
//! # Sources
//! From D-ID's public API reference, as summarised in the project's vendor
//! notes; no real traffic has been recorded (slidecast has no D-ID
//! account). What the notes show: `POST talks` with `{source_url, script}`
//! (a photo and a text script) or `POST clips` with `{presenter_id, script}`
//! (premium presenters); `Authorization: Basic` with the key; `GET
//! talks/{id}` or `clips/{id}` with `status` `created`, `started`, `done`,
//! `error` or `rejected`; the finished clip at `result_url` (signed, it
//! expires) with its `duration`.
//!
//! Not in the notes, taken from the reference's names and marked so in the
//! docs: the script's voice (`script.provider: {type, voice_id}`), a clip's
//! `background: {color}`, `user_data` (free text echoed in answers and
//! lists, used for the create token), the lists `GET talks` and `GET
//! clips` (`{talks|clips: [{id, status, user_data}]}`, newest first),
//! `DELETE talks/{id}` / `clips/{id}`, `GET clips/presenters`
//! (`{presenters: [{presenter_id, name, gender}]}`), and error answers
//! `{kind, description}` (402 `InsufficientCreditsError`).
//!
//! # Deck avatars
//! `presenter.avatar` is an http(s) URL of a photo (a *talk*: the photo
//! speaks, its own background stays, so use `shape = "circle"` or
//! `"rectangle"`), or a presenter id (a *clip*: a premium presenter over
//! the key colour).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use slidecast_core::ClipRequest;
use slidecast_vendor::{Auth, Vendor};

/// D-ID's public API root.
pub const DEFAULT_BASE_URL: &str = "https://api.d-id.com";
/// Presenters of clips.
pub const PRESENTERS: &str = "clips/presenters";
/// Voice provider of a script when the deck names none.
pub const DEFAULT_VOICE_PROVIDER: &str = "microsoft";

/// D-ID as the shared HTTP client knows it.
pub const VENDOR: Vendor = Vendor {
    name: "D-ID",
    key_env: crate::config::API_KEY_ENV,
    auth: Auth::Basic,
    error_message,
    billed_in: "credits",
};

/// A talk (a photo speaks) or a clip (a presenter speaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `talks`.
    Talk,
    /// `clips`.
    Clip,
}

impl Kind {
    /// What a deck's `presenter.avatar` asks for.
    pub fn of(avatar: &str) -> Kind {
        if avatar.starts_with("http://") || avatar.starts_with("https://") {
            Kind::Talk
        } else {
            Kind::Clip
        }
    }

    /// The collection path (`talks`, `clips`).
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Talk => "talks",
            Kind::Clip => "clips",
        }
    }

    /// The path of render `id`.
    pub fn path(self, id: &str) -> String {
        format!("{}/{id}", self.collection())
    }
}

/// The create body of `request` (a talk or a clip), tagged with `token`.
pub fn create_body(request: &ClipRequest, token: &str) -> Value {
    let mut script = json!({"type": "text", "input": request.script});
    if let Some(voice) = &request.voice {
        script["provider"] = json!({
            "type": request.voice_provider.as_deref().unwrap_or(DEFAULT_VOICE_PROVIDER),
            "voice_id": voice,
        });
    }
    let mut body = json!({
        "script": script,
        "config": {"result_format": "mp4"},
        "user_data": token,
    });
    match Kind::of(&request.avatar) {
        Kind::Talk => body["source_url"] = json!(request.avatar),
        Kind::Clip => {
            body["presenter_id"] = json!(request.avatar);
            body["background"] = json!({"color": request.avatar_background.to_string()});
        }
    }
    body
}

/// An error D-ID reported: `{kind, description}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DidError {
    /// `ValidationError`, `InsufficientCreditsError`, ...
    pub kind: Option<String>,
    /// What it says, one line.
    pub description: String,
}

impl std::fmt::Display for DidError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Some(k) => write!(f, "{k}: {}", self.description),
            None => f.write_str(&self.description),
        }
    }
}

/// The error of an error answer, or of a render that ended in `error` or
/// `rejected`.
pub fn did_error(value: &Value) -> Option<DidError> {
    let e = value.get("error").filter(|e| !e.is_null()).unwrap_or(value);
    if let Some(s) = e.as_str() {
        return Some(DidError {
            kind: None,
            description: slidecast_vendor::one_line(s)?,
        });
    }
    let text = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .and_then(slidecast_vendor::one_line)
    };
    let description = text("description").or_else(|| text("message"))?;
    Some(DidError {
        kind: text("kind"),
        description,
    })
}

/// The vendor's message in an error answer's body (for the HTTP client).
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    did_error(&value).map(|e| e.to_string())
}

/// `id` of a create answer.
pub fn created_id(answer: &Value) -> Option<String> {
    answer.get("id").and_then(Value::as_str).map(str::to_string)
}

/// Where a render stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderState {
    /// `created`.
    Created,
    /// `started`.
    Started,
    /// `done`, with its `result_url` when given.
    Done(Option<String>),
    /// `error`: the render failed.
    Error(Option<DidError>),
    /// `rejected`: moderation refused it; final.
    Rejected(Option<DidError>),
    /// A status this version does not know.
    Unknown(String),
}

/// Parse a `GET talks/{id}` or `clips/{id}` answer.
pub fn render_state(answer: &Value) -> RenderState {
    let status = answer.get("status").and_then(Value::as_str).unwrap_or("");
    let error = || answer.get("error").and_then(|_| did_error(answer));
    match status {
        "created" => RenderState::Created,
        "started" => RenderState::Started,
        "done" => RenderState::Done(
            answer
                .get("result_url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_string),
        ),
        "error" => RenderState::Error(error()),
        "rejected" => RenderState::Rejected(error()),
        other => RenderState::Unknown(other.to_string()),
    }
}

/// The render in a list page whose `user_data` is `token` and that did not
/// end in error: `(id, status)`.
pub fn find_tagged(list: &Value, kind: Kind, token: &str) -> Option<(String, String)> {
    let items = list
        .get(kind.collection())
        .or(Some(list))
        .and_then(Value::as_array)?;
    items.iter().find_map(|item| {
        let status = item.get("status").and_then(Value::as_str).unwrap_or("");
        let ours = item.get("user_data").and_then(Value::as_str) == Some(token);
        let id = item.get("id").and_then(Value::as_str)?;
        (ours && !matches!(status, "error" | "rejected"))
            .then(|| (id.to_string(), status.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slidecast_core::deck::Rgb;

    fn request(avatar: &str) -> ClipRequest {
        ClipRequest {
            slide: 1,
            title: "t".into(),
            provider: "did".into(),
            script: "Hi.".into(),
            avatar: avatar.into(),
            voice: Some("en-US-JennyNeural".into()),
            voice_provider: None,
            language: None,
            avatar_background: Rgb::GREEN,
            canvas: (640, 360),
        }
    }

    #[test]
    fn a_photo_url_is_a_talk_and_an_id_a_clip_over_the_key_colour() {
        let talk = create_body(&request("https://example.com/me.jpg"), "tok");
        assert_eq!(talk["source_url"], "https://example.com/me.jpg");
        assert!(talk.get("presenter_id").is_none() && talk.get("background").is_none());
        assert_eq!(talk["script"]["provider"]["type"], "microsoft");
        let clip = create_body(&request("amy-Aq6OmGZnMt"), "tok");
        assert_eq!(clip["presenter_id"], "amy-Aq6OmGZnMt");
        assert_eq!(clip["background"]["color"], "#00FF00");
        assert_eq!(clip["user_data"], "tok");
    }

    #[test]
    fn statuses_and_errors_are_read() {
        let rejected = json!({"status": "rejected", "error": {"kind": "ModerationError", "description": "The text was flagged"}});
        assert_eq!(
            render_state(&rejected),
            RenderState::Rejected(Some(DidError {
                kind: Some("ModerationError".into()),
                description: "The text was flagged".into()
            }))
        );
        assert_eq!(
            render_state(&json!({"status": "done", "result_url": "u"})),
            RenderState::Done(Some("u".into()))
        );
        assert_eq!(
            render_state(&json!({"status": "error"})),
            RenderState::Error(None)
        );
        assert_eq!(
            error_message(
                br#"{"kind":"InsufficientCreditsError","description":"not enough credits"}"#
            )
            .as_deref(),
            Some("InsufficientCreditsError: not enough credits")
        );
    }
}
