//! Elai's webhook: check a delivery's signature and read which video it is
//! about.
//!
//! Elai signs each delivery with the account's webhook secret: the header
//! `Elai-Signature` is the hex HMAC-SHA256 of `Elai-Timestamp + "." + body`.
//! A delivery is accepted only when the signature matches (compared in
//! constant time) and the timestamp is recent, so a captured delivery
//! cannot be replayed later. `Delivery-ID` names the delivery; deduplicating
//! it is the receiver's job (it has the database).
//!
//! A webhook only says "look now": the receiver wakes the poll of that
//! video ([`ElaiProvider::wake`](crate::ElaiProvider::wake)); what the render
//! is comes from the poll, as always.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header with the delivery's signature.
pub const SIGNATURE_HEADER: &str = "Elai-Signature";
/// Header with the delivery's Unix time, in seconds.
pub const TIMESTAMP_HEADER: &str = "Elai-Timestamp";
/// Header naming the delivery (the same on a redelivery).
pub const DELIVERY_HEADER: &str = "Delivery-ID";
/// Deliveries older (or further in the future) than this are refused.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The webhook secret. Its value never appears in `Debug` output.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A secret from its text (as Elai shows it).
    pub fn new(secret: impl AsRef<[u8]>) -> WebhookSecret {
        WebhookSecret(secret.as_ref().to_vec())
    }

    /// The signature of `body` sent at `timestamp`, as Elai computes it
    /// (for tests and the fake server).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        hex::encode(self.mac(timestamp, body).finalize().into_bytes())
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is missing or not text.
    #[error("the header {0} is missing")]
    MissingHeader(&'static str),
    /// The timestamp is not a Unix time in seconds.
    #[error("the header {TIMESTAMP_HEADER} is not a Unix time")]
    BadTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("the delivery is {age_secs} s away from now (more than {tolerance_secs} s)")]
    Stale {
        /// How far from now, seconds.
        age_secs: u64,
        /// The tolerance, seconds.
        tolerance_secs: u64,
    },
    /// The signature does not match the body.
    #[error("the signature does not match")]
    BadSignature,
    /// The body is not a webhook payload.
    #[error("the body is not an Elai webhook payload: {0}")]
    BadPayload(String),
}

/// What a delivery says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// `video_ready`, `video_error`, `video_moderation`, ...
    pub event: String,
    /// The video it is about.
    pub video_id: String,
    /// The payload's `error`, on failures.
    pub error: Option<String>,
}

/// Check one delivery (headers as received) and read it.
pub fn verify(
    secret: &WebhookSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<WebhookEvent, WebhookError> {
    let timestamp = timestamp.ok_or(WebhookError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = signature.ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::BadTimestamp)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let age = now.abs_diff(sent);
    if age > tolerance.as_secs() {
        return Err(WebhookError::Stale {
            age_secs: age,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    let expected = hex::decode(signature.trim()).map_err(|_| WebhookError::BadSignature)?;
    secret
        .mac(timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature)?;
    parse(body)
}

/// Read a payload `{event, error, video}`; `video` is the video object
/// (`_id`) or its id.
fn parse(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    let event = value
        .get("event")
        .and_then(|v| v.as_str())
        .ok_or_else(|| WebhookError::BadPayload("no `event`".into()))?
        .to_string();
    let video = value.get("video");
    let video_id = video
        .and_then(|v| v.as_str())
        .or_else(|| video.and_then(|v| v.get("_id")).and_then(|v| v.as_str()))
        .or_else(|| video.and_then(|v| v.get("id")).and_then(|v| v.as_str()))
        .ok_or_else(|| WebhookError::BadPayload("no `video._id`".into()))?
        .to_string();
    let error = match value.get("error") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    Ok(WebhookEvent {
        event,
        video_id,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const BODY: &[u8] =
        br#"{"event":"video_ready","error":null,"video":{"_id":"v1","status":"ready"}}"#;

    #[test]
    fn a_signed_recent_delivery_is_read() {
        let secret = WebhookSecret::new("s3cret");
        let sig = secret.sign("1000", BODY);
        let event = verify(
            &secret,
            Some("1000"),
            Some(&sig),
            BODY,
            at(1010),
            DEFAULT_TOLERANCE,
        )
        .unwrap();
        assert_eq!(event.event, "video_ready");
        assert_eq!(event.video_id, "v1");
        assert_eq!(event.error, None);
    }

    #[test]
    fn a_wrong_signature_or_changed_body_is_refused() {
        let secret = WebhookSecret::new("s3cret");
        let sig = WebhookSecret::new("other").sign("1000", BODY);
        assert_eq!(
            verify(
                &secret,
                Some("1000"),
                Some(&sig),
                BODY,
                at(1000),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::BadSignature)
        );
        let sig = secret.sign("1000", BODY);
        let changed = br#"{"event":"video_ready","error":null,"video":{"_id":"v2"}}"#;
        assert_eq!(
            verify(
                &secret,
                Some("1000"),
                Some(&sig),
                changed,
                at(1000),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::BadSignature)
        );
        // The timestamp is signed too.
        assert_eq!(
            verify(
                &secret,
                Some("1001"),
                Some(&sig),
                BODY,
                at(1000),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(
                &secret,
                Some("1000"),
                Some("zz"),
                BODY,
                at(1000),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn stale_and_missing_headers_are_refused() {
        let secret = WebhookSecret::new("s3cret");
        let sig = secret.sign("1000", BODY);
        assert!(matches!(
            verify(
                &secret,
                Some("1000"),
                Some(&sig),
                BODY,
                at(1301),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::Stale { age_secs: 301, .. })
        ));
        assert_eq!(
            verify(&secret, None, Some(&sig), BODY, at(1000), DEFAULT_TOLERANCE),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(
                &secret,
                Some("soon"),
                Some(&sig),
                BODY,
                at(1000),
                DEFAULT_TOLERANCE
            ),
            Err(WebhookError::BadTimestamp)
        );
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let secret = WebhookSecret::new("s3cret-value");
        assert!(!format!("{secret:?}").contains("s3cret"));
    }
}
