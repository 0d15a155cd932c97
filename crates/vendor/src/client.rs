//! The HTTP client of a vendor crate: authenticated JSON calls, error
//! classification and streaming downloads. Every error built here passes
//! through [`Client::scrub`], so the API key cannot leak into a message even
//! if a server echoes it.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use slidecast_core::{PermanentKind, ProviderError};
use tokio::io::AsyncWriteExt;

use crate::key::ApiKey;
use crate::limiter::{Lane, RateLimiter};

/// What a call is about, prefixed to its error messages
/// (`slide 3: HeyGen video 8f2c: status`).
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The vendor's name as users know it (`Elai`, `HeyGen`).
    pub vendor: &'static str,
    /// What the call does (`create video`).
    pub op: &'static str,
    /// The deck slide the call is for.
    pub slide: Option<usize>,
    /// The vendor's id of the render the call is about.
    pub video: Option<&'a str>,
    /// Which requests this one gives way to under the rate limit.
    pub lane: Lane,
}

impl<'a> Ctx<'a> {
    /// A call of `vendor` doing `op`.
    pub fn new(vendor: &'static str, op: &'static str) -> Self {
        Ctx {
            vendor,
            op,
            slide: None,
            video: None,
            lane: Lane::Work,
        }
    }

    /// A status poll: it gives way to every other request.
    pub fn polling(mut self) -> Self {
        self.lane = Lane::Poll;
        self
    }

    /// For deck slide `slide`.
    pub fn slide(mut self, slide: Option<usize>) -> Self {
        self.slide = slide;
        self
    }

    /// About the vendor's render `id`.
    pub fn video(mut self, id: &'a str) -> Self {
        self.video = Some(id);
        self
    }
}

impl fmt::Display for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.slide {
            write!(f, "slide {s}: ")?;
        }
        if let Some(v) = self.video {
            write!(f, "{} video {v}: ", self.vendor)?;
        }
        f.write_str(self.op)
    }
}

/// Why a download did not produce a file.
#[derive(Debug)]
#[non_exhaustive]
pub enum DownloadError {
    /// The signed URL was refused (403/404/410/401): it may have expired,
    /// and the vendor may issue a fresh one.
    Refused(StatusCode),
    /// Any other failure, classified.
    Failed(ProviderError),
}

impl DownloadError {
    /// The error as the scheduler sees it (a refused URL is transient: the
    /// next fetch asks the vendor for a fresh one).
    pub fn into_provider_error(self) -> ProviderError {
        match self {
            DownloadError::Failed(p) => p,
            DownloadError::Refused(code) => {
                ProviderError::transient(format!("download refused (HTTP {})", code.as_u16()))
            }
        }
    }
}

/// How a vendor takes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <key>` (Elai).
    Bearer,
    /// The key alone in the named header (HeyGen: `X-Api-Key`).
    Header(&'static str),
    /// `Authorization: Basic base64(<key>)`, the key written `user:secret`
    /// (D-ID).
    Basic,
}

/// What the client needs to know of a vendor to talk to it and to word its
/// errors.
#[derive(Debug, Clone, Copy)]
pub struct Vendor {
    /// The name users know (`HeyGen`), in every message.
    pub name: &'static str,
    /// The environment variable the key comes from, named when it is refused.
    pub key_env: &'static str,
    /// How the key is sent.
    pub auth: Auth,
    /// The vendor's error text in an error answer's body, one line.
    pub error_message: fn(&[u8]) -> Option<String>,
    /// What an exhausted account has run out of (`render minutes`, `credits`).
    pub billed_in: &'static str,
}

/// Connection settings of one vendor client (see [`ConnectionBuilder`](crate::ConnectionBuilder)).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// API root; always ends in `/`, so paths join under it.
    pub base_url: Url,
    /// The key; its `Debug` is redacted.
    pub api_key: ApiKey,
    /// Time to establish a connection.
    pub connect_timeout: Option<Duration>,
    /// Whole-request limit for API calls (not downloads).
    pub request_timeout: Option<Duration>,
    /// A download fails (transiently) when no bytes arrive for this long.
    pub download_stall_timeout: Option<Duration>,
    /// Idle pooled connections are closed after this.
    pub pool_idle_timeout: Option<Duration>,
    /// Client-side request rate, requests per second (token bucket).
    pub requests_per_second: f64,
    /// Requests that may go out at once before the rate applies.
    pub burst: u32,
}

/// An HTTP client of one vendor account: every request of a provider goes
/// through one, so the rate limit and a `Retry-After` hold for all of them.
pub struct Client {
    client: reqwest::Client,
    /// The header that carries the key (marked sensitive).
    auth: (HeaderName, HeaderValue),
    vendor: Vendor,
    base: Url,
    key: ApiKey,
    limiter: RateLimiter,
    request_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("vendor", &self.vendor.name)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `vendor` with `settings`.
    pub fn new(vendor: Vendor, settings: &ClientSettings) -> Result<Client, String> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("slidecast/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(settings.pool_idle_timeout);
        if let Some(t) = settings.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        let client = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
        let auth = auth_header(vendor.auth, &settings.api_key)?;
        Ok(Client {
            client,
            auth,
            vendor,
            base: settings.base_url.clone(),
            key: settings.api_key.clone(),
            limiter: RateLimiter::new(settings.requests_per_second, settings.burst),
            request_timeout: settings.request_timeout,
            stall_timeout: settings.download_stall_timeout,
        })
    }

    /// A [`Ctx`] of this client's vendor.
    pub fn ctx(&self, op: &'static str) -> Ctx<'static> {
        Ctx::new(self.vendor.name, op)
    }

    /// Remove the API key (and its Basic encoding) from a message, wherever
    /// it came from.
    pub fn scrub(&self, message: String) -> String {
        let key = self.key.expose_secret();
        if key.len() < 4 {
            return message;
        }
        let mut out = message;
        if out.contains(key) {
            out = out.replace(key, "<redacted>");
        }
        if self.vendor.auth == Auth::Basic {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(key);
            if out.contains(&encoded) {
                out = out.replace(&encoded, "<redacted>");
            }
        }
        out
    }

    fn scrub_error(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Transient { message } => ProviderError::Transient {
                message: self.scrub(message),
            },
            ProviderError::RateLimited {
                retry_after,
                message,
            } => ProviderError::RateLimited {
                retry_after,
                message: self.scrub(message),
            },
            ProviderError::Permanent { kind, message } => ProviderError::Permanent {
                kind,
                message: self.scrub(message),
            },
            // A kind added later: never let its text through unscrubbed.
            other => ProviderError::permanent(
                slidecast_core::PermanentKind::Local,
                self.scrub(other.to_string()),
            ),
        }
    }

    /// An authenticated JSON call to `path` under the base URL. Answers the
    /// body as JSON (`Null` when empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ctx: Ctx<'_>,
    ) -> Result<Value, ProviderError> {
        self.call_inner(method, path, body, ctx)
            .await
            .map_err(|e| self.scrub_error(e))
    }

    async fn call_inner(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ctx: Ctx<'_>,
    ) -> Result<Value, ProviderError> {
        let url = self.base.join(path).map_err(|e| {
            ProviderError::permanent(PermanentKind::Local, format!("{ctx}: bad URL path: {e}"))
        })?;
        self.limiter.acquire(ctx.lane).await;
        let mut request = self
            .client
            .request(method.clone(), url)
            .header(self.auth.0.clone(), self.auth.1.clone());
        if let Some(t) = self.request_timeout {
            request = request.timeout(t);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        tracing::debug!(vendor = self.vendor.name, %method, path, "vendor request");
        let response = request.send().await.map_err(|e| transport_error(e, &ctx))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(e, &ctx))?;
        if status.is_success() {
            return Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        }
        let message = (self.vendor.error_message)(&bytes);
        let err = classify(&self.vendor, status, retry_after, message, &ctx);
        if let ProviderError::RateLimited {
            retry_after: Some(d),
            ..
        } = &err
        {
            self.limiter.pause_for(*d).await;
        }
        tracing::debug!(vendor = self.vendor.name, %status, "vendor error answer");
        Err(err)
    }

    /// The first `len` bytes (or fewer) of the public file at `url`, asked
    /// for with a `Range` header and cut off there when the server sends
    /// more: enough to read an image's size. The API key is not sent.
    pub async fn head_bytes(
        &self,
        url: &str,
        len: usize,
        ctx: Ctx<'_>,
    ) -> Result<Vec<u8>, ProviderError> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ProviderError::permanent(
                    PermanentKind::BadRequest,
                    format!(
                        "{ctx}: {} gave an image URL that is not http(s)",
                        self.vendor.name
                    ),
                )
            })?;
        self.limiter.acquire(ctx.lane).await;
        let mut response = self
            .client
            .get(parsed)
            .header(
                reqwest::header::RANGE,
                format!("bytes=0-{}", len.saturating_sub(1)),
            )
            .send()
            .await
            .map_err(|e| self.scrub_error(transport_error(e, &ctx)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(classify(&self.vendor, status, None, None, &ctx));
        }
        let mut head = Vec::with_capacity(len);
        while head.len() < len {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(self.scrub_error(transport_error(e, &ctx))),
            }
        }
        head.truncate(len);
        Ok(head)
    }

    /// Stream the file at the signed `url` to `dest` (via a temporary file
    /// beside it, renamed on success). The API key is not sent.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        ctx: Ctx<'_>,
    ) -> Result<u64, DownloadError> {
        self.download_inner(url, dest, ctx)
            .await
            .map_err(|e| match e {
                DownloadError::Failed(p) => DownloadError::Failed(self.scrub_error(p)),
                refused => refused,
            })
    }

    async fn download_inner(
        &self,
        url: &str,
        dest: &Path,
        ctx: Ctx<'_>,
    ) -> Result<u64, DownloadError> {
        let failed = DownloadError::Failed;
        let parsed = Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                failed(ProviderError::permanent(
                    PermanentKind::BadRequest,
                    format!(
                        "{ctx}: {} gave a download URL that is not http(s)",
                        self.vendor.name
                    ),
                ))
            })?;
        self.limiter.acquire(ctx.lane).await;
        let response = self
            .client
            .get(parsed)
            .header(ACCEPT, "video/mp4, */*")
            .send()
            .await
            .map_err(|e| failed(transport_error(e, &ctx)))?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403 | 404 | 410) {
            return Err(DownloadError::Refused(status));
        }
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = response.bytes().await.unwrap_or_default();
            return Err(failed(classify(
                &self.vendor,
                status,
                retry_after,
                (self.vendor.error_message)(&body),
                &ctx,
            )));
        }
        let expected = response.content_length();
        let staged = slidecast_core::atomic::AtomicFile::new(dest);
        let temp = staged.temp_path().to_path_buf();
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| failed(local_io(&ctx, &temp, e)))?;
        let mut received: u64 = 0;
        let mut stream = response.bytes_stream();
        loop {
            let next = match self.stall_timeout {
                Some(t) => match tokio::time::timeout(t, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => {
                        return Err(failed(ProviderError::transient(format!(
                            "{ctx}: download stalled after {received} bytes (nothing for {}s)",
                            t.as_secs()
                        ))))
                    }
                },
                None => stream.next().await,
            };
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| failed(local_io(&ctx, &temp, e)))?;
                    received += chunk.len() as u64;
                }
                Some(Err(e)) => {
                    return Err(failed(ProviderError::transient(format!(
                        "{ctx}: download cut short after {received}{} bytes: {}",
                        expected.map(|n| format!(" of {n}")).unwrap_or_default(),
                        error_chain(&e.without_url())
                    ))))
                }
            }
        }
        if let Some(n) = expected {
            if n != received {
                return Err(failed(ProviderError::transient(format!(
                    "{ctx}: download cut short: {received} of {n} bytes"
                ))));
            }
        }
        if received == 0 {
            return Err(failed(ProviderError::transient(format!(
                "{ctx}: the download was empty"
            ))));
        }
        file.flush()
            .await
            .map_err(|e| failed(local_io(&ctx, &temp, e)))?;
        drop(file);
        // Sync, rename over `dest`, sync the folder: off the runtime.
        tokio::task::spawn_blocking(move || staged.commit())
            .await
            .map_err(|e| {
                failed(ProviderError::transient(format!(
                    "{ctx}: download task: {e}"
                )))
            })?
            .map_err(|e| failed(local_io(&ctx, dest, e)))?;
        Ok(received)
    }
}

/// The header that sends `key` as `auth` says.
fn auth_header(auth: Auth, key: &ApiKey) -> Result<(HeaderName, HeaderValue), String> {
    let key = key.expose_secret();
    let (name, text) = match auth {
        Auth::Bearer => (AUTHORIZATION, format!("Bearer {key}")),
        Auth::Basic => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(key);
            (AUTHORIZATION, format!("Basic {encoded}"))
        }
        Auth::Header(name) => (
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not an HTTP header name"))?,
            key.to_string(),
        ),
    };
    // ApiKey::new admits only visible ASCII, which a header always takes;
    // the error names no part of the key.
    let mut value = HeaderValue::from_str(&text)
        .map_err(|_| "the key cannot be sent in a header".to_string())?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn local_io(ctx: &Ctx<'_>, path: &Path, e: std::io::Error) -> ProviderError {
    ProviderError::permanent(
        PermanentKind::Local,
        format!("{ctx}: {}: {e}", path.display()),
    )
}

/// A reqwest error with its causes, without the URL (a signed URL's query
/// is a credential of sorts).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Timeouts, refused or reset connections and broken bodies are transient.
fn transport_error(e: reqwest::Error, ctx: &Ctx<'_>) -> ProviderError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let e = e.without_url();
    if e.is_builder() {
        return ProviderError::permanent(
            PermanentKind::Local,
            format!("{ctx}: {}", error_chain(&e)),
        );
    }
    ProviderError::transient(format!("{ctx}: {what}: {}", error_chain(&e)))
}

/// The `Retry-After` header as a delay: seconds, or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// The longest `Retry-After` honoured: a longer one (a misconfigured proxy,
/// a date far ahead) is cut to this, so a run never stalls for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// Parse a `Retry-After` value (delay seconds or an HTTP date) relative to
/// `now`, at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    parse_retry_after_uncapped(value, now).map(|d| d.min(MAX_RETRY_AFTER))
}

fn parse_retry_after_uncapped(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Map an HTTP error answer of `vendor` to the scheduler's error classes.
pub fn classify(
    vendor: &Vendor,
    status: StatusCode,
    retry_after: Option<Duration>,
    message: Option<String>,
    ctx: &Ctx<'_>,
) -> ProviderError {
    let code = status.as_u16();
    let said = message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let name = vendor.name;
    match code {
        // The vendor's message is not repeated: nothing from an auth failure is echoed.
        401 | 403 => ProviderError::permanent(
            PermanentKind::Authentication,
            format!(
                "{ctx}: {name} refused the API key (HTTP {code}); check {} or the key file",
                vendor.key_env
            ),
        ),
        402 => ProviderError::permanent(
            PermanentKind::QuotaExhausted,
            format!(
                "{ctx}: no {} left on the {name} account (HTTP 402{said})",
                vendor.billed_in
            ),
        ),
        404 => ProviderError::permanent(
            PermanentKind::NotFound,
            format!("{ctx}: not found at {name} (HTTP 404{said})"),
        ),
        408 => ProviderError::transient(format!("{ctx}: {name} timed out (HTTP 408{said})")),
        429 => ProviderError::RateLimited {
            retry_after,
            message: format!("{ctx}: {name} rate limit (HTTP 429{said})"),
        },
        500..=599 => {
            ProviderError::transient(format!("{ctx}: {name} server error (HTTP {code}{said})"))
        }
        400..=499 => ProviderError::permanent(
            PermanentKind::BadRequest,
            format!(
                "{ctx}: {name} rejected the request (HTTP {code}): {}",
                message.as_deref().unwrap_or("no message")
            ),
        ),
        _ => ProviderError::transient(format!("{ctx}: unexpected HTTP {code} from {name}{said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn statuses_map_to_error_classes() {
        let ctx = Ctx::new("Elai", "create video").slide(Some(3));
        let vendor = Vendor {
            name: "Elai",
            key_env: "ELAI_API_KEY",
            auth: Auth::Bearer,
            error_message: |_| None,
            billed_in: "render minutes",
        };
        let c = |code: u16, msg: Option<&str>| {
            classify(
                &vendor,
                StatusCode::from_u16(code).unwrap(),
                Some(Duration::from_secs(2)),
                msg.map(str::to_string),
                &ctx,
            )
        };
        assert!(matches!(
            c(401, Some("bad key sk-123")),
            ProviderError::Permanent { kind: PermanentKind::Authentication, ref message } if !message.contains("sk-123")
        ));
        assert!(matches!(
            c(402, None),
            ProviderError::Permanent { kind: PermanentKind::QuotaExhausted, ref message } if message.contains("no render minutes left")
        ));
        assert!(matches!(
            c(429, None),
            ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2)
        ));
        assert!(matches!(c(503, None), ProviderError::Transient { .. }));
        let bad = c(400, Some("Slide 1 is too long."));
        assert!(matches!(
            &bad,
            ProviderError::Permanent { kind: PermanentKind::BadRequest, message }
                if message.contains("slide 3") && message.contains("Slide 1 is too long.")
        ));
    }

    #[test]
    fn scrub_removes_the_key_and_its_basic_encoding() {
        use base64::Engine;
        let settings = ClientSettings {
            base_url: Url::parse("http://127.0.0.1:9/").unwrap(),
            api_key: ApiKey::new("me:SECRET-9").unwrap(),
            connect_timeout: None,
            request_timeout: None,
            download_stall_timeout: None,
            pool_idle_timeout: None,
            requests_per_second: 1.0,
            burst: 1,
        };
        let vendor = Vendor {
            name: "D-ID",
            key_env: "DID_API_KEY",
            auth: Auth::Basic,
            error_message: |_| None,
            billed_in: "credits",
        };
        let client = Client::new(vendor, &settings).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("me:SECRET-9");
        let said = client.scrub(format!("echo me:SECRET-9 and Basic {encoded}"));
        assert_eq!(said, "echo <redacted> and Basic <redacted>");
        assert!(!format!("{client:?}").contains("SECRET"));
    }
}
