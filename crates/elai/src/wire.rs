//! Everything this crate knows about Elai's wire format, in one place.
//!
//! # Endpoints (relative to the base URL, default [`DEFAULT_BASE_URL`])
//!
//! | call | method and path | body / answer |
//! |---|---|---|
//! | create | `POST videos` | [`create_video_body`] → a video object (id in `_id`, or `id`) |
//! | render | `POST videos/render/{id}` | empty → any 2xx (200, also 202) |
//! | status | `GET videos/{id}` | a video object, see [`VideoObject`] |
//! | delete | `DELETE videos/{id}` | empty → any 2xx |
//! | list | `GET videos?page=P&limit=N` | `{videos: [...]}` (or a bare list) of video objects with `tags` |
//! | avatars | `GET avatars` | a list of avatars, see [`parse_avatars`] |
//! | voices | `GET voices` | voices, see [`parse_voices`] (endpoint unconfirmed) |
//!
//! Every API call carries `Authorization: Bearer <key>` and
//! `Accept: application/json`; bodies are JSON. An error answer's body is
//! `{"message": "..."}` ([`error_message`]). The finished MP4 is fetched from
//! the signed URL in the video object *without* the API key (the URL carries
//! its own signature, and the key must never go to another host).
//!
//! # Video object fields read
//! - `_id` (fallback `id`): the video id.
//! - `status`: see [`VideoState::parse`] for every value.
//! - `url` (fallbacks `videoUrl`, `playerData.url`): the MP4 once ready.
//! - `duration`: seconds, float.
//! - `data.appError` (then `data.internalError`): why a render ended in
//!   `error`, as seen in real traffic ("Slide 1 is too long. Please limit
//!   speech to 60s."). A top-level `error` (a string or `{message}`) and
//!   `errorMessage` are read too (webhook payloads carry a top-level
//!   `error`; the status call was never seen with one).
//!
//! # Create body
//! One slide whose canvas holds a single avatar object filling the editor's
//! 640x360 canvas over a flat `background` colour (the key colour slidecast
//! removes locally); `slides[0].avatar` names the avatar by `code`
//! (`{avatar}.{variant}`) with its canvas PNG URL from `GET avatars`.
//! `tags` holds `slidecast` and a token derived from the request
//! ([`create_token`], `slidecast-req-<hex>`): when a create's answer is lost
//! (timeout, 5xx, or the process died before recording it), the retry, or
//! another process that takes the clip over, first looks for a video with
//! that token in the newest page of the list, so a clip is created only
//! once. (Whether the list can be paged further back by creation time is
//! not verified without an account; one page of 50 covers a lost create
//! unless 50 more videos were created since.)

use serde::Serialize;
use serde_json::{json, Value};
use slidecast_core::ClipRequest;

use crate::discovery::{Avatar, Voice};

/// Elai's public API.
pub const DEFAULT_BASE_URL: &str = "https://apis.elai.io/api/v1";

/// Elai as the shared HTTP client knows it: `Authorization: Bearer <key>`,
/// errors in `{"message": ...}`, billed in render minutes.
pub const VENDOR: slidecast_vendor::Vendor = slidecast_vendor::Vendor {
    name: "Elai",
    key_env: crate::config::API_KEY_ENV,
    auth: slidecast_vendor::Auth::Bearer,
    error_message,
    billed_in: "render minutes",
};

/// The editor canvas Elai positions objects on (16:9).
pub const EDITOR_CANVAS: (f64, f64) = (640.0, 360.0);

/// Side of the square avatar canvas PNG, in pixels, when its size cannot be
/// read: most avatars' canvas images are 1080 px, older ones 360 px (see
/// [`png_size`]). Scaling by `EDITOR_CANVAS.1 / side` makes the avatar as
/// tall as the canvas.
pub const AVATAR_IMAGE_PX: f64 = 1080.0;

/// Bytes of a PNG file that hold its size: the 8-byte signature, then the
/// `IHDR` chunk's length, type, width and height.
pub const PNG_HEAD: usize = 24;

/// Width and height of a PNG from its first [`PNG_HEAD`] bytes.
pub fn png_size(head: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let head = head.get(..PNG_HEAD)?;
    if &head[..8] != SIGNATURE || &head[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (w, h) = (be(&head[16..20]), be(&head[20..24]));
    (w > 0 && h > 0).then_some((w, h))
}

/// Canvas format version the editor writes.
pub const CANVAS_VERSION: &str = "4.4.0";

/// Path of the create call.
pub const VIDEOS: &str = "videos";
/// Path of the avatars listing.
pub const AVATARS: &str = "avatars";
/// Path of the voices listing.
pub const VOICES: &str = "voices";

/// Path of page `page` (1-based) of the video list, `limit` videos a page
/// (the order is not documented; newest first is what the fake serves).
pub fn list_path(page: u32, limit: u32) -> String {
    format!("videos?page={page}&limit={limit}")
}

/// How many videos one list page holds when slidecast asks.
pub const LIST_PAGE: u32 = 50;

/// How many list pages a search for a lost create reads at most: bounded,
/// so a large account is not listed whole on every unsure create.
pub const LIST_PAGES: u32 = 4;

/// How many videos a list answer holds.
pub fn listed_videos(list: &Value) -> usize {
    list.as_array()
        .or_else(|| list.get("videos").and_then(Value::as_array))
        .map_or(0, Vec::len)
}

pub use slidecast_vendor::create_token;

/// The video in a `GET videos` answer whose `tags` hold `token` and that
/// did not fail (a failed render of the same request is not the one to
/// resume).
pub fn find_tagged_video(list: &Value, token: &str) -> Option<VideoObject> {
    let videos = list
        .as_array()
        .or_else(|| list.get("videos").and_then(Value::as_array))?;
    videos
        .iter()
        .filter(|v| {
            v.get("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(token)))
        })
        .map(VideoObject::from_json)
        .find(|v| !matches!(v.state(), VideoState::Failed | VideoState::Error))
}

/// Path of one video (status and delete).
pub fn video_path(id: &str) -> String {
    format!("videos/{id}")
}

/// Path of the render call for one video.
pub fn render_path(id: &str) -> String {
    format!("videos/render/{id}")
}

/// Voice settings after defaults are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceChoice<'a> {
    pub voice: &'a str,
    pub voice_provider: &'a str,
    pub language: &'a str,
}

#[derive(Serialize)]
struct CreateVideo<'a> {
    name: String,
    tags: [&'a str; 2],
    slides: [SlideJson<'a>; 1],
    data: VideoData,
}

/// `data` as requests that rendered sent it: `resolution` was only ever
/// seen as `FullHD` (renders came out 1920x1080 either way), and
/// `subtitlesEnabled` as the string `"false"`.
#[derive(Serialize)]
struct VideoData {
    resolution: &'static str,
    #[serde(rename = "subtitlesEnabled")]
    subtitles_enabled: &'static str,
}

#[derive(Serialize)]
struct SlideJson<'a> {
    id: u32,
    canvas: Value,
    avatar: AvatarRef<'a>,
    animation: &'static str,
    language: &'a str,
    speech: &'a str,
    voice: &'a str,
    #[serde(rename = "voiceType")]
    voice_type: &'static str,
    #[serde(rename = "voiceProvider")]
    voice_provider: &'a str,
}

#[derive(Serialize)]
struct AvatarRef<'a> {
    code: &'a str,
    name: &'a str,
    /// Required: every request that rendered sent it.
    gender: &'a str,
    canvas: &'a str,
}

/// The gender sent when the avatar list gives none (every avatar seen in
/// `GET avatars` has one; this covers a partial answer).
const DEFAULT_GENDER: &str = "female";

/// The body of `POST videos` for one slide's presenter clip.
///
/// `canvas_url` is the avatar (variant) canvas PNG from `GET avatars`, and
/// `canvas_px` the side of that (square) image; `token` tags the video so a
/// retried create can find it.
pub fn create_video_body(
    request: &ClipRequest,
    avatar: &Avatar,
    canvas_url: &str,
    canvas_px: f64,
    voice: &VoiceChoice<'_>,
    token: &str,
) -> Value {
    let (editor_w, editor_h) = EDITOR_CANVAS;
    let side = if canvas_px.is_finite() && canvas_px >= 1.0 {
        canvas_px
    } else {
        AVATAR_IMAGE_PX
    };
    let scale = editor_h / side;
    let left = (editor_w - side * scale) / 2.0;
    let background = request.avatar_background.to_string();
    // The object's shape is the one every request that rendered sent:
    // `width`/`height` are the avatar canvas image's size (never omitted).
    let canvas = json!({
        "version": CANVAS_VERSION,
        "background": background,
        "objects": [{
            "type": "avatar",
            "avatarType": "transparent",
            "left": left,
            "top": 0.0,
            "width": side,
            "height": side,
            "scaleX": scale,
            "scaleY": scale,
            "src": canvas_url,
            "animation": {"type": null, "exitType": null},
        }],
    });
    let body = CreateVideo {
        name: format!("{} - slide {}", request.title, request.slide),
        tags: ["slidecast", token],
        slides: [SlideJson {
            id: 1,
            canvas,
            avatar: AvatarRef {
                code: &request.avatar,
                name: &avatar.name,
                gender: avatar.gender.as_deref().unwrap_or(DEFAULT_GENDER),
                canvas: canvas_url,
            },
            animation: "fade_in",
            language: voice.language,
            speech: &request.script,
            voice: voice.voice,
            voice_type: "text",
            voice_provider: voice.voice_provider,
        }],
        data: VideoData {
            resolution: "FullHD",
            subtitles_enabled: "false",
        },
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// Where a video stands, from its `status` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoState {
    /// `draft`: created, render not started.
    Draft,
    /// `validating`, `queued`, `rendering` (the value is kept for messages).
    Working(String),
    /// `ready`, `rendered`, `completed`: the object has the MP4 URL.
    Ready,
    /// `failed`: final (never seen in real traffic; accepted).
    Failed,
    /// `error`: Elai refused the request (every `error` seen in real traffic
    /// was a validation failure with its reason in `data.appError`, and the
    /// same request failed the same way again).
    Error,
    /// Anything else (including a missing status): keep waiting.
    Unknown(String),
}

impl VideoState {
    /// Map a `status` value (case-insensitive).
    pub fn parse(status: Option<&str>) -> VideoState {
        let Some(raw) = status else {
            return VideoState::Unknown(String::from("<missing>"));
        };
        let s = raw.trim().to_ascii_lowercase();
        match s.as_str() {
            "draft" => VideoState::Draft,
            "validating" | "queued" | "rendering" => VideoState::Working(s),
            "ready" | "rendered" | "completed" => VideoState::Ready,
            "failed" => VideoState::Failed,
            "error" => VideoState::Error,
            _ => VideoState::Unknown(raw.to_string()),
        }
    }
}

/// The fields of a video object slidecast reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoObject {
    pub id: Option<String>,
    pub status: Option<String>,
    pub url: Option<String>,
    pub duration: Option<f64>,
    pub error: Option<String>,
}

impl VideoObject {
    /// Read a video object leniently: fields may be missing or of an
    /// unexpected type; the answer of `POST videos` may wrap it in `video`.
    pub fn from_json(value: &Value) -> VideoObject {
        let v = match value.get("video") {
            Some(inner) if inner.is_object() && value.get("_id").is_none() => inner,
            _ => value,
        };
        let string = |field: &str| -> Option<String> {
            match v.get(field)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let id = string("_id").or_else(|| string("id"));
        let url = string("url").or_else(|| string("videoUrl")).or_else(|| {
            v.get("playerData")
                .and_then(|p| p.get("url"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        });
        let nested = |outer: &str, field: &str| {
            v.get(outer)
                .and_then(|d| d.get(field))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let error = nested("data", "appError")
            .or_else(|| nested("data", "internalError"))
            .or_else(|| match v.get("error") {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Object(o)) => o
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                _ => None,
            })
            .or_else(|| string("errorMessage"));
        VideoObject {
            id,
            status: string("status"),
            url,
            duration: v.get("duration").and_then(Value::as_f64),
            error,
        }
    }

    pub fn state(&self) -> VideoState {
        VideoState::parse(self.status.as_deref())
    }
}

/// Elai's error message from an error answer's body (`{"message": ...}`),
/// shortened to one line of at most 300 characters.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let msg = value
        .get("message")
        .or_else(|| value.get("error"))
        .and_then(Value::as_str)?;
    slidecast_vendor::one_line(msg)
}

/// Parse `GET avatars`: a list (or `{avatars: [...]}`) of avatars, each with
/// `code`, `name`, `gender`, `canvas`, and `variants` (each with `code`,
/// `name`, `canvas`). Entries without a code are skipped.
pub fn parse_avatars(value: &Value) -> Vec<Avatar> {
    let list = value
        .as_array()
        .or_else(|| value.get("avatars").and_then(Value::as_array));
    let Some(list) = list else {
        return Vec::new();
    };
    let text = |v: &Value, field: &str| {
        v.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let seconds = |v: &Value| {
        v.get("limit")
            .and_then(Value::as_f64)
            .filter(|l| *l > 0.0)
            .map(|l| l as u32)
    };
    list.iter()
        .filter_map(|a| {
            let code = text(a, "code")?;
            let variants = a
                .get("variants")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| {
                            Some(crate::discovery::AvatarVariant {
                                code: text(v, "code")?,
                                name: text(v, "name").unwrap_or_default(),
                                canvas: text(v, "canvas"),
                                limit: seconds(v),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(Avatar {
                name: text(a, "name").unwrap_or_else(|| code.clone()),
                gender: text(a, "gender"),
                canvas: text(a, "canvas"),
                code,
                variants,
                status: a
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u8::try_from(s).ok()),
                limit: seconds(a),
            })
        })
        .collect()
}

/// Parse `GET voices`. Two shapes are accepted: a flat list of voice objects
/// (`voice` or `id`, `name`, `gender`, `language` or `locale`,
/// `voiceProvider` or `provider`), or a list of language groups
/// `{name: "English", male: [voice...], female: [voice...]}`.
pub fn parse_voices(value: &Value) -> Vec<Voice> {
    let list = value
        .as_array()
        .or_else(|| value.get("voices").and_then(Value::as_array));
    let Some(list) = list else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in list {
        let is_group = entry.get("male").is_some() || entry.get("female").is_some();
        if is_group {
            let language = entry.get("name").and_then(Value::as_str);
            for gender in ["male", "female"] {
                for v in entry
                    .get(gender)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(voice) = voice_from(v, language, Some(gender)) {
                        out.push(voice);
                    }
                }
            }
        } else if let Some(voice) = voice_from(entry, None, None) {
            out.push(voice);
        }
    }
    out
}

fn voice_from(v: &Value, language: Option<&str>, gender: Option<&str>) -> Option<Voice> {
    let text = |field: &str| {
        v.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let id = text("voice").or_else(|| text("id"))?;
    Some(Voice {
        name: text("name")
            .or_else(|| text("character"))
            .unwrap_or_else(|| id.clone()),
        gender: text("gender").or_else(|| gender.map(str::to_string)),
        language: text("language")
            .or_else(|| language.map(str::to_string))
            .or_else(|| text("locale")),
        provider: text("voiceProvider").or_else(|| text("provider")),
        id,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn png_size_reads_the_ihdr_of_a_png_head() {
        let mut head = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        head.extend_from_slice(&360u32.to_be_bytes());
        head.extend_from_slice(&360u32.to_be_bytes());
        assert_eq!(png_size(&head), Some((360, 360)));
        assert_eq!(png_size(&head[..20]), None, "too short");
        let mut jpeg = head.clone();
        jpeg[1] = b'J';
        assert_eq!(png_size(&jpeg), None, "not a PNG");
    }

    use super::*;

    #[test]
    fn every_status_value_maps() {
        assert_eq!(VideoState::parse(Some("draft")), VideoState::Draft);
        for s in ["validating", "queued", "rendering"] {
            assert_eq!(VideoState::parse(Some(s)), VideoState::Working(s.into()));
        }
        for s in ["ready", "rendered", "completed", "READY"] {
            assert_eq!(VideoState::parse(Some(s)), VideoState::Ready);
        }
        assert_eq!(VideoState::parse(Some("failed")), VideoState::Failed);
        assert_eq!(VideoState::parse(Some("error")), VideoState::Error);
        assert_eq!(
            VideoState::parse(Some("moderation")),
            VideoState::Unknown("moderation".into())
        );
        assert!(matches!(VideoState::parse(None), VideoState::Unknown(_)));
    }

    #[test]
    fn video_object_accepts_both_id_forms_and_url_fallbacks() {
        let v = VideoObject::from_json(&json!({"_id": "a1", "status": "ready", "url": "u"}));
        assert_eq!(v.id.as_deref(), Some("a1"));
        assert_eq!(v.url.as_deref(), Some("u"));
        let v = VideoObject::from_json(&json!({"id": "b2", "videoUrl": "v"}));
        assert_eq!(v.id.as_deref(), Some("b2"));
        assert_eq!(v.url.as_deref(), Some("v"));
        let v = VideoObject::from_json(&json!({"id": "b2", "playerData": {"url": "p"}}));
        assert_eq!(v.url.as_deref(), Some("p"));
        let v = VideoObject::from_json(&json!({"_id": "x", "id": "y"}));
        assert_eq!(v.id.as_deref(), Some("x"));
        let v = VideoObject::from_json(&json!({"error": {"message": "bad voice"}}));
        assert_eq!(v.error.as_deref(), Some("bad voice"));
        // Where real traffic carries the reason.
        let v = VideoObject::from_json(&json!({"status": "error", "data": {
            "appError": "Slide 1 is too long. Please limit speech to 60s.",
            "internalError": "RangeError", "errorEmailSent": true}}));
        assert_eq!(
            v.error.as_deref(),
            Some("Slide 1 is too long. Please limit speech to 60s.")
        );
        let v = VideoObject::from_json(&json!({"data": {"internalError": "boom"}}));
        assert_eq!(v.error.as_deref(), Some("boom"));
    }

    #[test]
    fn error_message_is_one_short_line() {
        let long = "x".repeat(1000);
        let body = serde_json::to_vec(&json!({"message": format!("a\n b {long}")})).unwrap();
        let m = error_message(&body).unwrap();
        assert!(m.starts_with("a b x"));
        assert_eq!(m.chars().count(), 300);
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn tagged_videos_are_found_in_either_list_shape() {
        let list = json!({"videos": [
            {"_id": "a", "tags": ["slidecast", "slidecast-req-1"]},
            {"_id": "e", "status": "error", "tags": ["slidecast", "slidecast-req-2"]},
            {"_id": "b", "status": "draft", "tags": ["slidecast", "slidecast-req-2"]},
            {"_id": "c"}
        ]});
        let id = |v: Option<VideoObject>| v.and_then(|v| v.id);
        // The failed render of the same request is passed over.
        assert_eq!(
            id(find_tagged_video(&list, "slidecast-req-2")).as_deref(),
            Some("b")
        );
        assert_eq!(id(find_tagged_video(&list, "slidecast-req-9")), None);
        let bare = json!([{"id": "d", "tags": ["t"]}]);
        assert_eq!(id(find_tagged_video(&bare, "t")).as_deref(), Some("d"));
    }

    #[test]
    fn voices_parse_in_both_shapes() {
        let grouped = json!([{"name": "English", "male": [{"voice": "en-US-GuyNeural", "name": "Guy", "voiceProvider": "azure"}], "female": [{"voice": "en-US-AriaNeural", "name": "Aria"}]}]);
        let v = parse_voices(&grouped);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].gender.as_deref(), Some("male"));
        assert_eq!(v[0].language.as_deref(), Some("English"));
        assert_eq!(v[0].provider.as_deref(), Some("azure"));
        let flat = json!([{"id": "x", "gender": "female", "locale": "de-DE"}]);
        let v = parse_voices(&flat);
        assert_eq!(v[0].id, "x");
        assert_eq!(v[0].language.as_deref(), Some("de-DE"));
    }
}
