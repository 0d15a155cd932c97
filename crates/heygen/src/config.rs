//! Configuration of the HeyGen provider, built with [`HeyGenConfig::builder`].

use std::path::PathBuf;
use std::time::Duration;

pub use slidecast_vendor::ApiKey;
use slidecast_vendor::{ClientSettings, ConnectionBuilder, Pacing};

use crate::wire;

/// The environment variable the API key is read from by default.
pub const API_KEY_ENV: &str = "HEYGEN_API_KEY";

/// Why a configuration could not be built. Never contains the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key, the base URL or a setting is unusable.
    #[error("HeyGen configuration: {0}")]
    Invalid(String),
}

/// How the provider talks to HeyGen. Build one with [`HeyGenConfig::builder`].
#[derive(Debug, Clone)]
pub struct HeyGenConfig {
    /// API root, key (sent as `X-Api-Key`), timeouts, client-side rate.
    pub client: ClientSettings,
    /// Poll backoff and render deadline.
    pub pacing: Pacing,
    /// Renders in flight at once. HeyGen limits concurrent renders per plan
    /// (not published in the notes slidecast has); by default every render
    /// of a deck starts at once and a 429 is retried after `Retry-After`.
    pub max_in_flight: usize,
    /// Ask for a transparent WebM (`v1/video.webm`) first; an avatar HeyGen
    /// refuses it for is rendered as MP4 over the key colour from then on.
    pub transparent: bool,
    /// The voice of a slide that names none (HeyGen needs one).
    pub default_voice: Option<String>,
    /// Longest script HeyGen takes per video input, in characters.
    pub max_script_chars: usize,
    /// Longest narration per clip (`None`: no limit known). A longer one is
    /// split into parts before anything is created.
    pub max_clip_speech: Option<Duration>,
}

impl HeyGenConfig {
    /// A builder with every default; the key from `HEYGEN_API_KEY`.
    pub fn builder() -> HeyGenConfigBuilder {
        HeyGenConfigBuilder::default()
    }
}

/// Builder of [`HeyGenConfig`].
#[derive(Debug, Clone)]
pub struct HeyGenConfigBuilder {
    connection: ConnectionBuilder,
    pacing: Pacing,
    max_in_flight: usize,
    transparent: bool,
    default_voice: Option<String>,
    max_script_chars: usize,
    max_clip_speech: Option<Duration>,
}

impl Default for HeyGenConfigBuilder {
    fn default() -> Self {
        HeyGenConfigBuilder {
            // HeyGen publishes no request rate in the notes: a modest one.
            connection: ConnectionBuilder::new(wire::DEFAULT_BASE_URL, 3.0, 6),
            pacing: Pacing::default(),
            max_in_flight: 10_000,
            transparent: true,
            default_voice: None,
            // The reference's limit for `input_text`.
            max_script_chars: 5_000,
            max_clip_speech: None,
        }
    }
}

impl HeyGenConfigBuilder {
    /// API root (default HeyGen's public API); for tests and proxies.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.connection.base_url(url);
        self
    }

    /// The API key.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.connection.api_key(key);
        self
    }

    /// Read the key from this file (its first non-empty line).
    pub fn api_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.connection.api_key_file(path);
        self
    }

    /// Whether to fall back to `HEYGEN_API_KEY` (default true).
    pub fn read_env(mut self, yes: bool) -> Self {
        self.connection.read_env(yes);
        self
    }

    /// Turn every timeout off (tests under a paused clock).
    pub fn no_timeouts(mut self) -> Self {
        self.connection.no_timeouts();
        self
    }

    /// Client-side rate limit: `per_second` requests, bursts of `burst`.
    pub fn rate_limit(mut self, per_second: f64, burst: u32) -> Self {
        self.connection.rate_limit(per_second, burst);
        self
    }

    /// Poll backoff and deadline.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The speaking rate speech is estimated at.
    pub fn words_per_minute(mut self, wpm: f64) -> Self {
        self.pacing.speech_rate = slidecast_core::SpeechRate::new(wpm);
        self
    }

    /// Cap renders in flight.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Whether to try transparent WebM first (default true).
    pub fn transparent(mut self, yes: bool) -> Self {
        self.transparent = yes;
        self
    }

    /// The voice of slides that name none.
    pub fn default_voice(mut self, voice_id: impl Into<String>) -> Self {
        self.default_voice = Some(voice_id.into());
        self
    }

    /// Longest narration per clip; longer ones are split into parts.
    pub fn max_clip_speech(mut self, d: Duration) -> Self {
        self.max_clip_speech = Some(d);
        self
    }

    /// The configuration, or what is wrong with it.
    pub fn build(self) -> Result<HeyGenConfig, ConfigError> {
        let client = self
            .connection
            .build("HeyGen", API_KEY_ENV)
            .map_err(ConfigError::Invalid)?;
        self.pacing.validate().map_err(ConfigError::Invalid)?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight must be at least 1".into(),
            ));
        }
        Ok(HeyGenConfig {
            client,
            pacing: self.pacing,
            max_in_flight: self.max_in_flight,
            transparent: self.transparent,
            default_voice: self.default_voice,
            max_script_chars: self.max_script_chars,
            max_clip_speech: self.max_clip_speech,
        })
    }
}
