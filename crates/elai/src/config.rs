//! Configuration of the Elai provider, built with [`ElaiConfig::builder`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

use crate::wire;

/// The environment variable the API key is read from by default.
pub const API_KEY_ENV: &str = "ELAI_API_KEY";

/// An Elai API key. Its `Debug` and `Display` print a redaction, so it can
/// sit in any struct that is logged; only the HTTP layer reads the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, trimming surrounding whitespace. Rejects an empty key or
    /// one with characters an HTTP header cannot carry (without echoing it).
    pub fn new(key: impl Into<String>) -> Result<ApiKey, ConfigError> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            return Err(ConfigError::InvalidApiKey("the key is empty".into()));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidApiKey(
                "the key contains spaces, control or non-ASCII characters".into(),
            ));
        }
        Ok(ApiKey(key))
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a configuration could not be built. Never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no Elai API key: set {API_KEY_ENV} or pass a key file")]
    MissingApiKey,
    #[error("invalid Elai API key: {0}")]
    InvalidApiKey(String),
    #[error("Elai API key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Elai API key file {}: {message}", path.display())]
    BadKeyFile { path: PathBuf, message: String },
    #[error("Elai base URL `{url}`: {message}")]
    BaseUrl { url: String, message: String },
    #[error("Elai configuration: {0}")]
    Invalid(String),
}

/// Videos an Elai account may create per 8 hours, by plan (Elai's published
/// plans): trial, paid, API.
pub const CREATION_QUOTAS_PER_8H: [(&str, u32); 3] =
    [("trial", 50), ("paid", 1_000), ("API", 6_000)];

/// Renders in flight by default: in effect none (see
/// [`ElaiConfig::max_in_flight`]).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// How the provider talks to Elai. Build one with [`ElaiConfig::builder`].
#[derive(Debug, Clone)]
pub struct ElaiConfig {
    /// API root, e.g. `https://apis.elai.io/api/v1` (always ends in `/`
    /// internally so paths join under it).
    pub base_url: Url,
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
    /// Renders in flight at once; becomes `limits().max_in_flight`. By
    /// default no cap: Elai documents no concurrency limit (only a creation
    /// quota per 8 hours), so every render of a deck starts at once. A 429
    /// on a create halves the renders allowed in flight and each finished
    /// render raises it by one, up to this cap.
    pub max_in_flight: usize,
    /// Poll backoff: the wait before the next status read is
    /// `poll_growth` × the time the render has run so far, at least
    /// `poll_initial` and at most `poll_max`. Polling stays quick while a
    /// render is young (Elai renders take about a minute) and backs off
    /// for a slow one; the ready clip is noticed at most `poll_growth` of
    /// its render time late.
    pub poll_initial: Duration,
    pub poll_growth: f64,
    pub poll_max: Duration,
    /// Render deadline: `deadline_base` + `deadline_per_speech_minute` for
    /// each (estimated) minute of speech, at most `deadline_cap`.
    pub deadline_base: Duration,
    pub deadline_per_speech_minute: Duration,
    pub deadline_cap: Duration,
    /// Speaking rate used to estimate speech length from the script.
    pub speech_rate: slidecast_core::SpeechRate,
    /// Longest script accepted, in characters (`None`: no local check).
    pub max_script_chars: Option<usize>,
    /// Used when a slide names no voice / voice provider / language.
    pub default_voice: String,
    pub default_voice_provider: String,
    pub default_language: String,
}

impl ElaiConfig {
    pub fn builder() -> ElaiConfigBuilder {
        ElaiConfigBuilder::default()
    }

    /// The render deadline for a script of `script` text.
    pub fn deadline_for(&self, script: &str) -> Duration {
        let minutes = self.speech_seconds(script) / 60.0;
        let extra = self.deadline_per_speech_minute.mul_f64(minutes.max(0.0));
        (self.deadline_base + extra).min(self.deadline_cap)
    }

    /// Estimated speech length of `script`, in seconds.
    pub fn speech_seconds(&self, script: &str) -> f64 {
        self.speech_rate.duration(script).as_secs_f64()
    }

    /// The wait before the next status read of a render that has run for
    /// `rendering`.
    pub fn poll_interval(&self, rendering: Duration) -> Duration {
        let wait = rendering.mul_f64(self.poll_growth.max(0.0));
        wait.clamp(self.poll_initial, self.poll_max)
    }
}

/// Builder of [`ElaiConfig`]; every setting has a default except the key,
/// which comes from [`api_key`](Self::api_key), [`api_key_file`](Self::api_key_file)
/// or the `ELAI_API_KEY` environment variable, in that order.
#[derive(Debug, Clone)]
pub struct ElaiConfigBuilder {
    base_url: String,
    api_key: Option<ApiKey>,
    api_key_file: Option<PathBuf>,
    read_env: bool,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    download_stall_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    requests_per_second: f64,
    burst: u32,
    max_in_flight: usize,
    poll_initial: Duration,
    poll_growth: f64,
    poll_max: Duration,
    deadline_base: Duration,
    deadline_per_speech_minute: Duration,
    deadline_cap: Duration,
    speech_rate: slidecast_core::SpeechRate,
    max_script_chars: Option<usize>,
    default_voice: String,
    default_voice_provider: String,
    default_language: String,
}

impl Default for ElaiConfigBuilder {
    fn default() -> Self {
        ElaiConfigBuilder {
            base_url: wire::DEFAULT_BASE_URL.to_string(),
            api_key: None,
            api_key_file: None,
            read_env: true,
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(Duration::from_secs(60)),
            download_stall_timeout: Some(Duration::from_secs(60)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            requests_per_second: 5.0,
            burst: 5,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            poll_initial: Duration::from_secs(10),
            poll_growth: 0.25,
            poll_max: Duration::from_secs(60),
            deadline_base: Duration::from_secs(10 * 60),
            deadline_per_speech_minute: Duration::from_secs(2 * 60),
            deadline_cap: Duration::from_secs(60 * 60),
            speech_rate: slidecast_core::SpeechRate::default(),
            max_script_chars: None,
            default_voice: "en-US-AriaNeural".into(),
            default_voice_provider: "azure".into(),
            default_language: "English".into(),
        }
    }
}

impl ElaiConfigBuilder {
    /// API root (default Elai's public API); for tests and proxies.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Read the key from this file (its first line, trimmed).
    pub fn api_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.api_key_file = Some(path.into());
        self
    }

    /// Whether to fall back to `ELAI_API_KEY` (default true).
    pub fn read_env(mut self, yes: bool) -> Self {
        self.read_env = yes;
        self
    }

    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = Some(t);
        self
    }

    pub fn download_stall_timeout(mut self, t: Duration) -> Self {
        self.download_stall_timeout = Some(t);
        self
    }

    /// Turn every timeout off (the connection pool's idle timer too). Tests
    /// under tokio's paused clock need this: the clock jumps ahead to the
    /// next timer while a socket read is pending, firing timeouts early.
    pub fn no_timeouts(mut self) -> Self {
        self.connect_timeout = None;
        self.request_timeout = None;
        self.download_stall_timeout = None;
        self.pool_idle_timeout = None;
        self
    }

    /// Client-side rate limit: `per_second` requests, bursts of `burst`.
    pub fn rate_limit(mut self, per_second: f64, burst: u32) -> Self {
        self.requests_per_second = per_second;
        self.burst = burst;
        self
    }

    /// Cap renders in flight (default: none).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Poll backoff: wait `growth` × the render's age so far, at least
    /// `initial` and at most `max` (default 10 s, 0.25, 60 s).
    pub fn poll_backoff(mut self, initial: Duration, growth: f64, max: Duration) -> Self {
        self.poll_initial = initial;
        self.poll_growth = growth;
        self.poll_max = max;
        self
    }

    /// Render deadline: `base` + `per_speech_minute` per minute of speech,
    /// at most `cap`.
    pub fn deadline(mut self, base: Duration, per_speech_minute: Duration, cap: Duration) -> Self {
        self.deadline_base = base;
        self.deadline_per_speech_minute = per_speech_minute;
        self.deadline_cap = cap;
        self
    }

    /// The speaking rate deadlines are estimated at (default: the shared
    /// [`SpeechRate`](slidecast_core::SpeechRate)).
    pub fn words_per_minute(mut self, wpm: f64) -> Self {
        self.speech_rate = slidecast_core::SpeechRate::new(wpm);
        self
    }

    pub fn max_script_chars(mut self, n: usize) -> Self {
        self.max_script_chars = Some(n);
        self
    }

    pub fn default_voice(
        mut self,
        voice: impl Into<String>,
        provider: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        self.default_voice = voice.into();
        self.default_voice_provider = provider.into();
        self.default_language = language.into();
        self
    }

    pub fn build(self) -> Result<ElaiConfig, ConfigError> {
        let api_key = match (self.api_key, &self.api_key_file) {
            (Some(k), _) => k,
            (None, Some(path)) => read_key_file(path)?,
            (None, None) => {
                let from_env = if self.read_env {
                    std::env::var(API_KEY_ENV).ok()
                } else {
                    None
                };
                match from_env {
                    Some(k) if !k.trim().is_empty() => ApiKey::new(k)?,
                    _ => return Err(ConfigError::MissingApiKey),
                }
            }
        };
        let base_url = parse_base_url(&self.base_url)?;
        if !(self.requests_per_second > 0.0 && self.requests_per_second.is_finite()) {
            return Err(ConfigError::Invalid(
                "the request rate must be a positive number".into(),
            ));
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight must be at least 1".into(),
            ));
        }
        if self.poll_initial.is_zero()
            || self.poll_max < self.poll_initial
            || !self.poll_growth.is_finite()
        {
            return Err(ConfigError::Invalid(
                "poll backoff needs 0 < initial <= max and a finite growth".into(),
            ));
        }
        Ok(ElaiConfig {
            base_url,
            api_key,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            download_stall_timeout: self.download_stall_timeout,
            pool_idle_timeout: self.pool_idle_timeout,
            requests_per_second: self.requests_per_second,
            burst: self.burst.max(1),
            max_in_flight: self.max_in_flight,
            poll_initial: self.poll_initial,
            poll_growth: self.poll_growth,
            poll_max: self.poll_max,
            deadline_base: self.deadline_base,
            deadline_per_speech_minute: self.deadline_per_speech_minute,
            deadline_cap: self.deadline_cap.max(self.deadline_base),
            speech_rate: self.speech_rate,
            max_script_chars: self.max_script_chars,
            default_voice: self.default_voice,
            default_voice_provider: self.default_voice_provider,
            default_language: self.default_language,
        })
    }
}

fn read_key_file(path: &Path) -> Result<ApiKey, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        None => Err(ConfigError::BadKeyFile {
            path: path.to_path_buf(),
            message: "the file is empty".into(),
        }),
        Some(line) => ApiKey::new(line).map_err(|e| ConfigError::BadKeyFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = |message: &str| ConfigError::BaseUrl {
        url: raw.to_string(),
        message: message.to_string(),
    };
    let mut url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("the base URL takes no query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("sk-live-SECRET-123").unwrap()
    }

    #[test]
    fn key_never_prints() {
        let k = key();
        assert!(!format!("{k:?}").contains("SECRET"));
        assert!(!format!("{k}").contains("SECRET"));
        let cfg = ElaiConfig::builder().api_key(k).build().unwrap();
        assert!(!format!("{cfg:?}").contains("SECRET"));
        assert!(!format!("{:?}", ElaiConfig::builder().api_key(key())).contains("SECRET"));
    }

    #[test]
    fn bad_keys_are_rejected_without_echo() {
        let err = ApiKey::new("sk SECRET").unwrap_err().to_string();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(ApiKey::new("  ").is_err());
    }

    #[test]
    fn key_file_is_read_and_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elai.key");
        std::fs::write(&path, "\n  sk-file-SECRET \n").unwrap();
        let cfg = ElaiConfig::builder()
            .read_env(false)
            .api_key_file(&path)
            .build()
            .unwrap();
        assert_eq!(cfg.api_key.expose(), "sk-file-SECRET");
        let missing = dir.path().join("nope.key");
        let err = ElaiConfig::builder()
            .api_key_file(&missing)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("nope.key"), "{err}");
        let err = ElaiConfig::builder().read_env(false).build().unwrap_err();
        assert!(err.to_string().contains(API_KEY_ENV));
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        let cfg = ElaiConfig::builder()
            .api_key(key())
            .base_url("http://127.0.0.1:9/api/v1")
            .build()
            .unwrap();
        assert_eq!(
            cfg.base_url.join("videos").unwrap().as_str(),
            "http://127.0.0.1:9/api/v1/videos"
        );
        assert!(ElaiConfig::builder()
            .api_key(key())
            .base_url("ftp://x")
            .build()
            .is_err());
    }

    #[test]
    fn deadline_scales_with_speech_and_is_capped() {
        let cfg = ElaiConfig::builder().api_key(key()).build().unwrap();
        let short = cfg.deadline_for("Hello there.");
        assert!(short >= Duration::from_secs(600) && short < Duration::from_secs(610));
        // 260 words = 2 minutes of speech at 130 wpm = 4 extra minutes.
        let words = vec!["word"; 260].join(" ");
        assert_eq!(cfg.deadline_for(&words), Duration::from_secs(14 * 60));
        let huge = vec!["word"; 100_000].join(" ");
        assert_eq!(cfg.deadline_for(&huge), Duration::from_secs(3600));
    }

    #[test]
    fn poll_interval_backs_off_to_the_max() {
        let cfg = ElaiConfig::builder().api_key(key()).build().unwrap();
        let s = Duration::from_secs;
        assert_eq!(cfg.poll_interval(s(0)), s(10));
        assert_eq!(cfg.poll_interval(s(40)), s(10));
        assert_eq!(cfg.poll_interval(s(100)), s(25));
        assert_eq!(cfg.poll_interval(s(3600)), s(60));
    }
}
