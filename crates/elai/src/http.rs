//! The HTTP layer: authenticated JSON calls, error classification and
//! streaming downloads. Every error built here passes through
//! [`Http::scrub`], so the API key cannot leak into a message even if a
//! server echoes it.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use slidecast_core::{PermanentKind, ProviderError};
use tokio::io::AsyncWriteExt;

use crate::config::{ApiKey, ConfigError, ElaiConfig, API_KEY_ENV};
use crate::limiter::{Lane, RateLimiter};
use crate::wire;

/// What a call is about, prefixed to its error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub op: &'static str,
    pub slide: Option<usize>,
    pub video: Option<&'a str>,
    /// Which requests this one gives way to under the rate limit.
    pub lane: Lane,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(op: &'static str) -> Self {
        Ctx {
            op,
            slide: None,
            video: None,
            lane: Lane::Work,
        }
    }

    /// A status poll: it gives way to every other request.
    pub(crate) fn polling(mut self) -> Self {
        self.lane = Lane::Poll;
        self
    }

    pub(crate) fn slide(mut self, slide: Option<usize>) -> Self {
        self.slide = slide;
        self
    }

    pub(crate) fn video(mut self, id: &'a str) -> Self {
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
            write!(f, "Elai video {v}: ")?;
        }
        f.write_str(self.op)
    }
}

/// Why a download did not produce a file.
#[derive(Debug)]
pub(crate) enum DownloadError {
    /// The signed URL was refused (403/404/410/401): it may have expired.
    Refused(StatusCode),
    Failed(ProviderError),
}

pub(crate) struct Http {
    client: reqwest::Client,
    base: Url,
    key: ApiKey,
    limiter: RateLimiter,
    request_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
}

impl Http {
    pub(crate) fn new(config: &ElaiConfig) -> Result<Http, ConfigError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("slidecast/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(config.pool_idle_timeout);
        if let Some(t) = config.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Http {
            client,
            base: config.base_url.clone(),
            key: config.api_key.clone(),
            limiter: RateLimiter::new(config.requests_per_second, config.burst),
            request_timeout: config.request_timeout,
            stall_timeout: config.download_stall_timeout,
        })
    }

    fn auth_header(&self) -> HeaderValue {
        // ApiKey::new admits only visible ASCII, which a header always takes.
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.key.expose()))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        value.set_sensitive(true);
        value
    }

    /// Remove the API key from a message, wherever it came from.
    pub(crate) fn scrub(&self, message: String) -> String {
        let key = self.key.expose();
        if key.len() >= 4 && message.contains(key) {
            message.replace(key, "<redacted>")
        } else {
            message
        }
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
    pub(crate) async fn call(
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
            .header(AUTHORIZATION, self.auth_header());
        if let Some(t) = self.request_timeout {
            request = request.timeout(t);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        tracing::debug!(%method, path, "elai request");
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
        let message = wire::error_message(&bytes);
        let err = classify(status, retry_after, message, &ctx);
        if let ProviderError::RateLimited {
            retry_after: Some(d),
            ..
        } = &err
        {
            self.limiter.pause_for(*d).await;
        }
        tracing::debug!(%status, "elai error answer");
        Err(err)
    }

    /// The first `len` bytes (or fewer) of the public file at `url`, asked
    /// for with a `Range` header and cut off there when the server sends
    /// more: enough to read an image's size. The API key is not sent.
    pub(crate) async fn head_bytes(
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
                    format!("{ctx}: Elai gave an image URL that is not http(s)"),
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
            return Err(classify(status, None, None, &ctx));
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
    pub(crate) async fn download(
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
                    format!("{ctx}: Elai gave a download URL that is not http(s)"),
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
                status,
                retry_after,
                wire::error_message(&body),
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
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// Parse a `Retry-After` value (delay seconds or an HTTP date) relative to
/// `now`, at most [`MAX_RETRY_AFTER`].
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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

/// Map an HTTP error answer to the scheduler's error classes.
pub(crate) fn classify(
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
    match code {
        // Elai's message is not repeated: nothing from an auth failure is echoed.
        401 | 403 => ProviderError::permanent(
            PermanentKind::Authentication,
            format!(
                "{ctx}: Elai refused the API key (HTTP {code}); check {API_KEY_ENV} or the key file"
            ),
        ),
        402 => ProviderError::permanent(
            PermanentKind::QuotaExhausted,
            format!("{ctx}: no render minutes left on the Elai account (HTTP 402{said})"),
        ),
        404 => ProviderError::permanent(
            PermanentKind::NotFound,
            format!("{ctx}: not found at Elai (HTTP 404{said})"),
        ),
        408 => ProviderError::transient(format!("{ctx}: Elai timed out (HTTP 408{said})")),
        429 => ProviderError::RateLimited {
            retry_after,
            message: format!("{ctx}: Elai rate limit (HTTP 429{said})"),
        },
        500..=599 => {
            ProviderError::transient(format!("{ctx}: Elai server error (HTTP {code}{said})"))
        }
        400..=499 => ProviderError::permanent(
            PermanentKind::BadRequest,
            format!(
                "{ctx}: Elai rejected the request (HTTP {code}): {}",
                message.as_deref().unwrap_or("no message")
            ),
        ),
        _ => ProviderError::transient(format!("{ctx}: unexpected HTTP {code} from Elai{said}")),
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
        let ctx = Ctx::new("create video").slide(Some(3));
        let c = |code: u16, msg: Option<&str>| {
            classify(
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
}
