//! Configuration of the D-ID provider, built with [`DidConfig::builder`].

use std::path::PathBuf;

pub use slidecast_vendor::ApiKey;
use slidecast_vendor::{ClientSettings, ConnectionBuilder, Pacing};

use crate::wire;

/// The environment variable the API key is read from by default.
pub const API_KEY_ENV: &str = "DID_API_KEY";

/// Why a configuration could not be built. Never contains the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key, the base URL or a setting is unusable.
    #[error("D-ID configuration: {0}")]
    Invalid(String),
}

/// How the provider talks to D-ID. Build one with [`DidConfig::builder`].
#[derive(Debug, Clone)]
pub struct DidConfig {
    /// API root, key (sent as `Authorization: Basic`, the key written
    /// `user:secret` as D-ID gives it and encoded here), timeouts, rate.
    pub client: ClientSettings,
    /// Poll backoff and render deadline.
    pub pacing: Pacing,
    /// Renders in flight at once (D-ID's concurrency limits are not in the
    /// notes; by default every render of a deck starts at once).
    pub max_in_flight: usize,
    /// The voice of a slide that names none (`None`: D-ID's default).
    pub default_voice: Option<String>,
}

impl DidConfig {
    /// A builder with every default; the key from `DID_API_KEY`.
    pub fn builder() -> DidConfigBuilder {
        DidConfigBuilder::default()
    }
}

/// Builder of [`DidConfig`].
#[derive(Debug, Clone)]
pub struct DidConfigBuilder {
    connection: ConnectionBuilder,
    pacing: Pacing,
    max_in_flight: usize,
    default_voice: Option<String>,
}

impl Default for DidConfigBuilder {
    fn default() -> Self {
        DidConfigBuilder {
            connection: ConnectionBuilder::new(wire::DEFAULT_BASE_URL, 3.0, 6),
            pacing: Pacing::default(),
            max_in_flight: 10_000,
            default_voice: None,
        }
    }
}

impl DidConfigBuilder {
    /// API root (default D-ID's public API); for tests and proxies.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.connection.base_url(url);
        self
    }

    /// The API key (`user:secret`).
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.connection.api_key(key);
        self
    }

    /// Read the key from this file (its first non-empty line).
    pub fn api_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.connection.api_key_file(path);
        self
    }

    /// Whether to fall back to `DID_API_KEY` (default true).
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

    /// The voice of slides that name none.
    pub fn default_voice(mut self, voice_id: impl Into<String>) -> Self {
        self.default_voice = Some(voice_id.into());
        self
    }

    /// The configuration, or what is wrong with it.
    pub fn build(self) -> Result<DidConfig, ConfigError> {
        let client = self
            .connection
            .build("D-ID", API_KEY_ENV)
            .map_err(ConfigError::Invalid)?;
        self.pacing.validate().map_err(ConfigError::Invalid)?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight must be at least 1".into(),
            ));
        }
        Ok(DidConfig {
            client,
            pacing: self.pacing,
            max_in_flight: self.max_in_flight,
            default_voice: self.default_voice,
        })
    }
}
