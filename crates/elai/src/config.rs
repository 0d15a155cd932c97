//! Configuration of the Elai provider, built with [`ElaiConfig::builder`].

use std::time::Duration;

pub use slidecast_vendor::ApiKey;
use slidecast_vendor::{ClientSettings, ConnectionBuilder, Pacing};

use crate::wire;

/// The environment variable the API key is read from by default.
pub const API_KEY_ENV: &str = "ELAI_API_KEY";

/// Why a configuration could not be built. Never contains the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key, the base URL or a setting is unusable.
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
    /// API root (e.g. `https://apis.elai.io/api/v1`), key, timeouts and the
    /// client-side rate limit.
    pub client: ClientSettings,
    /// Poll backoff and render deadline. Elai renders take about a minute.
    pub pacing: Pacing,
    /// Renders in flight at once; becomes `limits().max_in_flight`. By
    /// default no cap: Elai documents no concurrency limit (only a creation
    /// quota per 8 hours), so every render of a deck starts at once. A 429
    /// on a create halves the renders allowed in flight and each finished
    /// render raises it by one, up to this cap.
    pub max_in_flight: usize,
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
        self.pacing.deadline_for(script)
    }

    /// Estimated speech length of `script`, in seconds.
    pub fn speech_seconds(&self, script: &str) -> f64 {
        self.pacing.speech_seconds(script)
    }

    /// The wait before the next status read of a render that has run for
    /// `rendering`.
    pub fn poll_interval(&self, rendering: Duration) -> Duration {
        self.pacing.poll_interval(rendering)
    }
}

/// Builder of [`ElaiConfig`]; every setting has a default except the key,
/// which comes from [`api_key`](Self::api_key), [`api_key_file`](Self::api_key_file)
/// or the `ELAI_API_KEY` environment variable, in that order.
#[derive(Debug, Clone)]
pub struct ElaiConfigBuilder {
    connection: ConnectionBuilder,
    pacing: Pacing,
    max_in_flight: usize,
    max_script_chars: Option<usize>,
    default_voice: String,
    default_voice_provider: String,
    default_language: String,
}

impl Default for ElaiConfigBuilder {
    fn default() -> Self {
        ElaiConfigBuilder {
            connection: ConnectionBuilder::new(wire::DEFAULT_BASE_URL, 5.0, 5),
            pacing: Pacing::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_script_chars: None,
            default_voice: "en-US-AriaNeural".into(),
            default_voice_provider: "azure".into(),
            default_language: "English".into(),
        }
    }
}

impl ElaiConfigBuilder {
    slidecast_vendor::vendor_config_setters!("ELAI_API_KEY");

    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.connection.request_timeout(t);
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
        self.pacing.poll_initial = initial;
        self.pacing.poll_growth = growth;
        self.pacing.poll_max = max;
        self
    }

    /// Render deadline: `base` + `per_speech_minute` per minute of speech,
    /// at most `cap`.
    pub fn deadline(mut self, base: Duration, per_speech_minute: Duration, cap: Duration) -> Self {
        self.pacing.deadline_base = base;
        self.pacing.deadline_per_speech_minute = per_speech_minute;
        self.pacing.deadline_cap = cap;
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
        let client = self
            .connection
            .build("Elai", API_KEY_ENV)
            .map_err(ConfigError::Invalid)?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight must be at least 1".into(),
            ));
        }
        self.pacing.validate().map_err(ConfigError::Invalid)?;
        let mut pacing = self.pacing;
        pacing.deadline_cap = pacing.deadline_cap.max(pacing.deadline_base);
        Ok(ElaiConfig {
            client,
            pacing,
            max_in_flight: self.max_in_flight,
            max_script_chars: self.max_script_chars,
            default_voice: self.default_voice,
            default_voice_provider: self.default_voice_provider,
            default_language: self.default_language,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("sk-live-SECRET-123").unwrap()
    }

    #[test]
    fn key_never_prints() {
        let cfg = ElaiConfig::builder().api_key(key()).build().unwrap();
        assert!(!format!("{cfg:?}").contains("SECRET"));
        assert!(!format!("{:?}", ElaiConfig::builder().api_key(key())).contains("SECRET"));
    }

    #[test]
    fn a_missing_key_names_the_variable() {
        let err = ElaiConfig::builder().read_env(false).build().unwrap_err();
        assert!(err.to_string().contains(API_KEY_ENV), "{err}");
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        let cfg = ElaiConfig::builder()
            .api_key(key())
            .base_url("http://127.0.0.1:9/api/v1")
            .build()
            .unwrap();
        assert_eq!(
            cfg.client.base_url.join("videos").unwrap().as_str(),
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
        let huge = vec!["word"; 100_000].join(" ");
        assert_eq!(cfg.deadline_for(&huge), Duration::from_secs(3600));
    }

    #[test]
    fn poll_interval_backs_off_to_the_max() {
        let cfg = ElaiConfig::builder().api_key(key()).build().unwrap();
        let s = Duration::from_secs;
        assert_eq!(cfg.poll_interval(s(0)), s(10));
        assert_eq!(cfg.poll_interval(s(3600)), s(60));
    }
}
