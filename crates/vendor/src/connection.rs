//! [`ConnectionBuilder`]: the connection half of every vendor's config
//! builder (base URL, key, timeouts, rate limit).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::client::ClientSettings;
use crate::key::{read_key_file, ApiKey, KeyError};

/// Builds [`ClientSettings`]. The key comes from [`api_key`](Self::api_key),
/// else [`api_key_file`](Self::api_key_file), else the vendor's environment
/// variable (unless [`read_env(false)`](Self::read_env)).
#[derive(Debug, Clone)]
pub struct ConnectionBuilder {
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
}

impl ConnectionBuilder {
    /// Defaults for a vendor whose API root is `base_url` and that bears
    /// `requests_per_second` (bursts of as many).
    pub fn new(base_url: &str, requests_per_second: f64, burst: u32) -> ConnectionBuilder {
        ConnectionBuilder {
            base_url: base_url.to_string(),
            api_key: None,
            api_key_file: None,
            read_env: true,
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(Duration::from_secs(60)),
            download_stall_timeout: Some(Duration::from_secs(60)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            requests_per_second,
            burst,
        }
    }

    /// API root; for tests and proxies.
    pub fn base_url(&mut self, url: impl Into<String>) {
        self.base_url = url.into();
    }

    /// The key itself.
    pub fn api_key(&mut self, key: ApiKey) {
        self.api_key = Some(key);
    }

    /// Read the key from this file (its first non-empty line, trimmed).
    pub fn api_key_file(&mut self, path: impl Into<PathBuf>) {
        self.api_key_file = Some(path.into());
    }

    /// Whether to fall back to the vendor's environment variable.
    pub fn read_env(&mut self, yes: bool) {
        self.read_env = yes;
    }

    /// Turn every timeout off (the connection pool's idle timer too). Tests
    /// under tokio's paused clock need this: the clock jumps ahead to the
    /// next timer while a socket read is pending, firing timeouts early.
    pub fn no_timeouts(&mut self) {
        self.connect_timeout = None;
        self.request_timeout = None;
        self.download_stall_timeout = None;
        self.pool_idle_timeout = None;
    }

    /// Whole-request limit for API calls.
    pub fn request_timeout(&mut self, t: Duration) {
        self.request_timeout = Some(t);
    }

    /// Client-side rate limit: `per_second` requests, bursts of `burst`.
    pub fn rate_limit(&mut self, per_second: f64, burst: u32) {
        self.requests_per_second = per_second;
        self.burst = burst;
    }

    /// The settings, with the key found as described on the type.
    pub fn build(&self, vendor: &'static str, env: &'static str) -> Result<ClientSettings, String> {
        let api_key = match (&self.api_key, &self.api_key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(path)) => read_key_file(path).map_err(|e| e.to_string())?,
            (None, None) => {
                let from_env = self.read_env.then(|| std::env::var(env).ok()).flatten();
                match from_env {
                    Some(k) if !k.trim().is_empty() => ApiKey::new(k).map_err(|e| e.to_string())?,
                    _ => return Err(KeyError::Missing { vendor, env }.to_string()),
                }
            }
        };
        let base_url = parse_base_url(&self.base_url)
            .map_err(|m| format!("base URL `{}`: {m}", self.base_url))?;
        if !(self.requests_per_second > 0.0 && self.requests_per_second.is_finite()) {
            return Err("the request rate must be a positive number".into());
        }
        Ok(ClientSettings {
            base_url,
            api_key,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            download_stall_timeout: self.download_stall_timeout,
            pool_idle_timeout: self.pool_idle_timeout,
            requests_per_second: self.requests_per_second,
            burst: self.burst.max(1),
        })
    }
}

/// An http(s) API root without query or fragment, ending in `/` so paths
/// join under it.
pub fn parse_base_url(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("use an http or https URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the base URL takes no query or fragment".into());
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

    #[test]
    fn the_key_comes_from_the_file_and_a_missing_one_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "hg-SECRET-1\n").unwrap();
        let mut b = ConnectionBuilder::new("http://127.0.0.1:9/v", 3.0, 3);
        b.read_env(false);
        let err = b.build("HeyGen", "HEYGEN_API_KEY").unwrap_err();
        assert!(
            err.contains("HeyGen") && err.contains("HEYGEN_API_KEY"),
            "{err}"
        );
        b.api_key_file(&path);
        let s = b.build("HeyGen", "HEYGEN_API_KEY").unwrap();
        assert_eq!(s.api_key.expose_secret(), "hg-SECRET-1");
        assert_eq!(
            s.base_url.join("x").unwrap().as_str(),
            "http://127.0.0.1:9/v/x"
        );
        assert!(!format!("{s:?}").contains("SECRET"));
        b.base_url("ftp://x");
        assert!(b
            .build("HeyGen", "HEYGEN_API_KEY")
            .unwrap_err()
            .contains("http"));
    }
}
