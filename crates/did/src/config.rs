//! Configuration of the D-ID provider, built with [`DidConfig::builder`].

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
    slidecast_vendor::vendor_config_setters!("DID_API_KEY");

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
