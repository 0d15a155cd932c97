//! Configuration of the HeyGen provider, built with [`HeyGenConfig::builder`].

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
            // HeyGen's reference gives this for `input_text`; not in the
            // project's notes, so unverified.
            max_script_chars: 5_000,
            max_clip_speech: None,
        }
    }
}

impl HeyGenConfigBuilder {
    slidecast_vendor::vendor_config_setters!("HEYGEN_API_KEY");

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
