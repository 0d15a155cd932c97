//! [`vendor_config_setters!`](crate::vendor_config_setters): the setters
//! every vendor config builder shares.

/// The setters every vendor config builder has, written once: inside an
/// `impl` of a builder with a `connection: ConnectionBuilder` field and a
/// `pacing: Pacing` field, it adds `base_url`, `api_key`, `api_key_file`,
/// `read_env`, `no_timeouts`, `rate_limit`, `pacing` and
/// `words_per_minute`. The argument is the vendor's key variable, for the
/// docs.
#[macro_export]
macro_rules! vendor_config_setters {
    ($key_env:literal) => {
        /// API root (default: the vendor's public API); for tests and proxies.
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.connection.base_url(url);
            self
        }

        /// The API key.
        pub fn api_key(mut self, key: $crate::ApiKey) -> Self {
            self.connection.api_key(key);
            self
        }

        /// Read the key from this file (its first non-empty line, trimmed).
        pub fn api_key_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
            self.connection.api_key_file(path);
            self
        }

        #[doc = concat!("Whether to fall back to `", $key_env, "` (default true).")]
        pub fn read_env(mut self, yes: bool) -> Self {
            self.connection.read_env(yes);
            self
        }

        /// Turn every timeout off (see [`ConnectionBuilder::no_timeouts`]($crate::ConnectionBuilder::no_timeouts)).
        pub fn no_timeouts(mut self) -> Self {
            self.connection.no_timeouts();
            self
        }

        /// Client-side rate limit: `per_second` requests, bursts of `burst`.
        pub fn rate_limit(mut self, per_second: f64, burst: u32) -> Self {
            self.connection.rate_limit(per_second, burst);
            self
        }

        /// Poll backoff and render deadline.
        pub fn pacing(mut self, pacing: $crate::Pacing) -> Self {
            self.pacing = pacing;
            self
        }

        /// The speaking rate speech (and so deadlines) is estimated at.
        pub fn words_per_minute(mut self, wpm: f64) -> Self {
            self.pacing.speech_rate = slidecast_core::SpeechRate::new(wpm);
            self
        }
    };
}
