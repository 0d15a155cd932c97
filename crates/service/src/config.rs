//! What `slidecast serve` is told: where to listen and keep its data, the
//! vendor settings, the API tokens and the limits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use slidecast_elai::webhook::WebhookSecret;
use slidecast_render::ProviderRegistry;

use crate::error::ServiceError;

/// The address `slidecast serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// The service's settings (see [`ServiceConfig::builder`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Database, uploads, outputs and the clip cache.
    pub data_dir: PathBuf,
    /// Vendor settings every job gets (`elai.url`, `heygen.key_file`,
    /// ...; see the render library's provider registry). Unset, a vendor's
    /// root and key come from its environment variables.
    pub provider_settings: std::collections::BTreeMap<String, String>,
    /// CPU cores all running jobs share.
    pub cores: usize,
    /// Jobs rendered at once.
    pub concurrent_jobs: usize,
    /// Accepted API tokens, hashed.
    pub api_tokens: ApiTokens,
    /// Largest request body accepted, bytes.
    pub max_upload_bytes: usize,
    /// Most files a bundle may hold.
    pub max_bundle_files: usize,
    /// Elai's webhook secret; without it the webhook route refuses.
    pub webhook_secret: Option<WebhookSecret>,
    /// The providers decks may name.
    pub providers: ProviderRegistry,
    /// What this process does: answer the API, run jobs, or both.
    pub role: Role,
    /// The shared database; `None`: `state.sqlite` in the data folder.
    pub database: Option<DatabaseUrl>,
    /// The shared blob store (`s3://BUCKET/PREFIX` or a folder); `None`:
    /// `blobs/` in the data folder.
    pub blobs: Option<String>,
    /// How long a worker holds a job or a render claim without renewing
    /// it; a worker silent for longer is taken to be dead.
    pub lease_secs: f64,
}

/// What a `slidecast serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// The API and a worker (one machine).
    All,
    /// The API only: takes uploads, queues jobs, streams progress, serves
    /// downloads; holds no job.
    Api,
    /// A worker only: runs queued jobs; listens on no port.
    Worker,
}

impl Role {
    /// True when it answers HTTP.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
    /// True when it runs jobs.
    pub fn runs_jobs(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "all" => Ok(Role::All),
            "api" => Ok(Role::Api),
            "worker" => Ok(Role::Worker),
            other => Err(format!("unknown role `{other}`: all, api or worker")),
        }
    }
}

/// A database URL; its password never shows in Debug output or messages.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// `url` as given.
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }
    /// The URL itself, to connect with.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "(unparsable URL)".into(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl ServiceConfig {
    /// Defaults: loopback, the user's data folder, every core, four jobs.
    pub fn builder() -> ServiceConfigBuilder {
        ServiceConfigBuilder {
            config: ServiceConfig {
                listen: DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8787))),
                data_dir: default_data_dir(),
                provider_settings: Default::default(),
                cores: std::thread::available_parallelism().map_or(2, |n| n.get()),
                concurrent_jobs: 4,
                api_tokens: ApiTokens::default(),
                max_upload_bytes: 512 << 20,
                max_bundle_files: 2000,
                webhook_secret: None,
                providers: ProviderRegistry::builtin(),
                role: Role::All,
                database: None,
                blobs: None,
                lease_secs: 30.0,
            },
        }
    }

    /// Refuse settings that would be unsafe or cannot work.
    pub fn check(&self) -> Result<(), ServiceError> {
        if self.lease_secs.is_nan() || self.lease_secs < 1.0 {
            return Err(ServiceError::Config(format!(
                "a lease of {} s is too short: at least 1 s",
                self.lease_secs
            )));
        }
        if self.role.serves_api() && !self.listen.ip().is_loopback() && self.api_tokens.is_empty() {
            return Err(ServiceError::Config(format!(
                "refusing to listen on {} without API tokens: anyone who can reach it could \
                 spend your vendor minutes; give tokens with --api-tokens FILE, or listen on 127.0.0.1",
                self.listen
            )));
        }
        Ok(())
    }
}

/// Builds a [`ServiceConfig`].
#[derive(Debug)]
pub struct ServiceConfigBuilder {
    config: ServiceConfig,
}

impl ServiceConfigBuilder {
    /// Listen on `addr`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }
    /// Keep the data in `dir`.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = dir.into();
        self
    }
    /// A vendor setting every job gets (`elai.url`, `did.key_file`, ...).
    pub fn provider_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config
            .provider_settings
            .insert(name.into(), value.into());
        self
    }
    /// Elai's API root.
    pub fn elai_url(self, url: impl Into<String>) -> Self {
        self.provider_setting("elai.url", url)
    }
    /// Read the Elai key from `file`.
    pub fn elai_key_file(self, file: impl Into<PathBuf>) -> Self {
        let file = file.into().display().to_string();
        self.provider_setting("elai.key_file", file)
    }
    /// CPU cores the jobs share.
    pub fn cores(mut self, cores: usize) -> Self {
        self.config.cores = cores.max(1);
        self
    }
    /// Jobs rendered at once.
    pub fn concurrent_jobs(mut self, jobs: usize) -> Self {
        self.config.concurrent_jobs = jobs.max(1);
        self
    }
    /// Accept these API tokens.
    pub fn api_tokens(mut self, tokens: ApiTokens) -> Self {
        self.config.api_tokens = tokens;
        self
    }
    /// Largest request body.
    pub fn max_upload_bytes(mut self, bytes: usize) -> Self {
        self.config.max_upload_bytes = bytes;
        self
    }
    /// Most files per bundle.
    pub fn max_bundle_files(mut self, files: usize) -> Self {
        self.config.max_bundle_files = files;
        self
    }
    /// Elai's webhook secret.
    pub fn webhook_secret(mut self, secret: WebhookSecret) -> Self {
        self.config.webhook_secret = Some(secret);
        self
    }
    /// The providers decks may name.
    pub fn providers(mut self, providers: ProviderRegistry) -> Self {
        self.config.providers = providers;
        self
    }
    /// Answer the API, run jobs, or both.
    pub fn role(mut self, role: Role) -> Self {
        self.config.role = role;
        self
    }
    /// Keep jobs, progress and renders in the database at `url`
    /// (`sqlite://PATH` or `postgres://...`) instead of the data folder.
    pub fn database(mut self, url: DatabaseUrl) -> Self {
        self.config.database = Some(url);
        self
    }
    /// Keep uploads, outputs and clips in `url` (`s3://BUCKET/PREFIX` or a
    /// folder) instead of the data folder.
    pub fn blobs(mut self, url: impl Into<String>) -> Self {
        self.config.blobs = Some(url.into());
        self
    }
    /// Hold jobs and render claims for `secs` without renewal.
    pub fn lease_secs(mut self, secs: f64) -> Self {
        self.config.lease_secs = secs;
        self
    }
    /// The configuration.
    pub fn build(self) -> ServiceConfig {
        self.config
    }
}

/// `$XDG_DATA_HOME/slidecast/service`, else `~/.local/share/slidecast/service`.
pub fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("slidecast").join("service")
}

/// API tokens, kept only as SHA-256 hashes.
#[derive(Clone, Default)]
pub struct ApiTokens {
    hashes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiTokens({} token(s))", self.hashes.len())
    }
}

impl ApiTokens {
    /// Tokens from a file: one per line, either the token itself or
    /// `sha256:<hex>` of it; blank lines and `#` comments are skipped.
    pub fn from_file(path: &Path) -> Result<ApiTokens, ServiceError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServiceError::io(path, e))?;
        let mut tokens = ApiTokens::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.strip_prefix("sha256:") {
                Some(hex_hash) => {
                    let bytes = hex::decode(hex_hash.trim()).ok();
                    let hash: [u8; 32] =
                        bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
                            ServiceError::Config(format!(
                                "{} line {}: `sha256:` must be followed by 64 hex digits",
                                path.display(),
                                n + 1
                            ))
                        })?;
                    tokens.hashes.push(hash);
                }
                None => tokens.add(line),
            }
        }
        if tokens.is_empty() {
            return Err(ServiceError::Config(format!(
                "{}: no API token in the file",
                path.display()
            )));
        }
        Ok(tokens)
    }

    /// Accept `token` (only its hash is kept).
    pub fn add(&mut self, token: &str) {
        self.hashes.push(Sha256::digest(token.as_bytes()).into());
    }

    /// True when no token is configured (the API is open on loopback).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// True when `token` is one of them.
    pub fn accepts(&self, token: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every hash is compared in full, so timing tells nothing of which
        // token came close.
        self.hashes.iter().fold(false, |found, h| {
            found | (h.iter().zip(&hash).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_hashed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        let hashed = hex::encode(Sha256::digest(b"second"));
        std::fs::write(&file, format!("# ops\nfirst\nsha256:{hashed}\n")).unwrap();
        let tokens = ApiTokens::from_file(&file).unwrap();
        assert!(tokens.accepts("first"));
        assert!(tokens.accepts("second"));
        assert!(!tokens.accepts("third"));
        assert!(!format!("{tokens:?}").contains("first"));
    }

    #[test]
    fn a_public_address_needs_tokens() {
        let config = ServiceConfig::builder()
            .listen("0.0.0.0:8787".parse().unwrap())
            .build();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("refusing to listen on 0.0.0.0:8787"), "{err}");
        let mut tokens = ApiTokens::default();
        tokens.add("t");
        let config = ServiceConfig::builder()
            .listen("0.0.0.0:8787".parse().unwrap())
            .api_tokens(tokens)
            .build();
        assert!(config.check().is_ok());
        assert!(ServiceConfig::builder().build().check().is_ok());
        // A worker listens on nothing, so it needs no token.
        let config = ServiceConfig::builder()
            .listen("0.0.0.0:8787".parse().unwrap())
            .role(Role::Worker)
            .build();
        assert!(config.check().is_ok());
    }

    #[test]
    fn a_database_password_never_shows() {
        let url = DatabaseUrl::new("postgres://slidecast:hunter2@db.internal:5432/jobs");
        let config = ServiceConfig::builder().database(url.clone()).build();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(url.redacted().contains("slidecast:***@db.internal"));
        assert_eq!(
            url.expose(),
            "postgres://slidecast:hunter2@db.internal:5432/jobs"
        );
    }
}
