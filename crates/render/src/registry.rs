//! Which avatar providers a render can use: a name -> factory map.
//!
//! A deck names its provider per slide (`provider = "elai"`); the registry
//! turns each name into an [`AvatarProvider`] for one job. The built-in
//! registry ([`ProviderRegistry::builtin`]) knows `local` (the offline
//! presenter), the vendors `elai`, `heygen` and `did`, and `mock` (instant
//! generated clips, for trying the pipeline); a tool that brings its own
//! vendor crate registers it with [`ProviderRegistry::register`] (and says
//! how it bills with [`ProviderRegistry::set_billing`]), and decks may then
//! name it.
//!
//! Each vendor's API root and key file come from job settings
//! (`heygen.url`, `heygen.key_file`, ...), else the environment
//! (`HEYGEN_BASE_URL`, `HEYGEN_API_KEY`, ...).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use slidecast_core::{AvatarProvider, Billing};

use crate::error::RenderError;
use crate::mock::MockClips;

/// What a factory gets to build a provider for one render job.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderContext {
    /// A private folder of the job where the provider may keep files.
    pub work_dir: PathBuf,
    /// The deck's frame rate (providers that make clips locally make them
    /// at it, so the composer copies frames one for one).
    pub fps: u32,
    /// Clips a local provider may render at once (from the job's CPU budget).
    pub parallel_renders: usize,
    /// Provider settings by dotted name (`elai.url`, `elai.key_file`), from
    /// [`RenderJob::provider_setting`](crate::RenderJob::provider_setting).
    pub settings: BTreeMap<String, String>,
    /// The job's speaking-rate estimate (for render deadlines and limits).
    pub speech_rate: slidecast_core::SpeechRate,
}

impl ProviderContext {
    /// A context for a job working in `work_dir` at `fps`.
    pub fn new(work_dir: impl Into<PathBuf>, fps: u32) -> ProviderContext {
        ProviderContext {
            work_dir: work_dir.into(),
            fps,
            parallel_renders: crate::CpuBudget::default().jobs(),
            settings: BTreeMap::new(),
            speech_rate: slidecast_core::SpeechRate::default(),
        }
    }

    /// The setting `name`, if given and not empty.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Builds one provider for one job.
pub type ProviderFactory =
    Arc<dyn Fn(&ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError> + Send + Sync>;

/// Provider names and how to build each.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    factories: BTreeMap<String, ProviderFactory>,
    /// How each provider bills; known without building one (no key needed),
    /// so a plan can price a deck offline.
    billing: BTreeMap<String, Billing>,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("providers", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Environment variable overriding Elai's API root (proxies, tests).
pub const ELAI_URL_ENV: &str = "ELAI_BASE_URL";
/// Environment variable overriding HeyGen's API root (proxies, tests).
pub const HEYGEN_URL_ENV: &str = "HEYGEN_BASE_URL";
/// Environment variable overriding D-ID's API root (proxies, tests).
pub const DID_URL_ENV: &str = "DID_BASE_URL";

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> ProviderRegistry {
        ProviderRegistry::default()
    }

    /// `local`, `elai`, `heygen`, `did` and `mock`.
    pub fn builtin() -> ProviderRegistry {
        let mut r = ProviderRegistry::new();
        r.register("local", build_local)
            .set_billing("local", Billing::FREE);
        r.register("elai", build_elai)
            .set_billing("elai", slidecast_elai::BILLING);
        r.register("heygen", build_heygen)
            .set_billing("heygen", slidecast_heygen::BILLING);
        r.register("did", build_did)
            .set_billing("did", slidecast_did::BILLING);
        r.register("mock", |ctx: &ProviderContext| {
            Ok(Arc::new(MockClips::new(ctx.fps)) as Arc<dyn AvatarProvider>)
        })
        .set_billing("mock", Billing::FREE);
        r
    }

    /// Say how `name` bills (a provider registered without this is priced
    /// in whole minutes: never free by mistake).
    pub fn set_billing(&mut self, name: impl Into<String>, billing: Billing) -> &mut Self {
        self.billing.insert(name.into(), billing);
        self
    }

    /// How each registered provider bills, by name.
    pub fn billing_table(&self) -> BTreeMap<String, Billing> {
        self.names()
            .map(|n| {
                let b = self.billing.get(n).cloned().unwrap_or_default();
                (n.to_string(), b)
            })
            .collect()
    }

    /// Make `name` available to decks (replacing any earlier factory).
    pub fn register<F>(&mut self, name: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError>
            + Send
            + Sync
            + 'static,
    {
        self.factories.insert(name.into(), Arc::new(factory));
        self
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    /// Deck loading options that accept exactly these providers, so an
    /// unknown name is reported with the deck's other problems.
    pub fn load_options(&self) -> slidecast_core::LoadOptions {
        slidecast_core::LoadOptions::default().providers(self.names())
    }

    /// True when `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// Build the provider called `name`.
    pub fn build(
        &self,
        name: &str,
        ctx: &ProviderContext,
    ) -> Result<Arc<dyn AvatarProvider>, RenderError> {
        match self.factories.get(name) {
            Some(factory) => factory(ctx),
            None => Err(RenderError::UnknownProvider {
                name: name.to_string(),
                slide: None,
                known: self.names().map(String::from).collect(),
            }),
        }
    }
}

fn build_local(ctx: &ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError> {
    // Clips at the deck's frame rate: the composer then copies frames one
    // for one instead of dropping or repeating them.
    let mut render = slidecast_local::RenderOptions::default();
    if ctx.fps > 0 {
        render.fps = ctx.fps;
    }
    let provider = slidecast_local::LocalProvider::new(slidecast_local::LocalConfig {
        render,
        work_dir: Some(ctx.work_dir.join("local")),
        parallel_renders: Some(ctx.parallel_renders.max(1)),
    })
    .map_err(|e| RenderError::ProviderSetup {
        provider: "local".into(),
        message: e.to_string(),
    })?;
    if let Err(e) = provider.check_espeak() {
        return Err(RenderError::MissingTool {
            program: "espeak-ng".into(),
            purpose: format!("the local presenter speaks with it ({e})"),
        });
    }
    Ok(Arc::new(provider))
}

/// A vendor's API root: the `<vendor>.url` setting, else the environment
/// variable `env`, else `None` (the client's default).
fn vendor_url(ctx: &ProviderContext, vendor: &str, env: &str) -> Option<String> {
    ctx.setting(&format!("{vendor}.url"))
        .map(String::from)
        .or_else(|| std::env::var(env).ok())
        .filter(|u| !u.is_empty())
}

/// Elai's API root: the `elai.url` setting, else `ELAI_BASE_URL`, else the
/// client's default.
pub fn elai_url(ctx: &ProviderContext) -> Option<String> {
    vendor_url(ctx, "elai", ELAI_URL_ENV)
}

fn credentials(provider: &str, env: &str, e: impl fmt::Display) -> RenderError {
    RenderError::Credentials {
        provider: provider.into(),
        message: e.to_string(),
        env: env.to_string(),
    }
}

/// The Elai client configuration of a job's settings.
pub fn elai_config(ctx: &ProviderContext) -> Result<slidecast_elai::ElaiConfig, RenderError> {
    let mut config =
        slidecast_elai::ElaiConfig::builder().words_per_minute(ctx.speech_rate.words_per_minute());
    if let Some(url) = elai_url(ctx) {
        config = config.base_url(url);
    }
    if let Some(file) = ctx.setting("elai.key_file") {
        config = config.api_key_file(file);
    }
    config
        .build()
        .map_err(|e| credentials("elai", slidecast_elai::API_KEY_ENV, e))
}

fn build_elai(ctx: &ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError> {
    let provider = slidecast_elai::ElaiProvider::new(elai_config(ctx)?)
        .map_err(|e| credentials("elai", slidecast_elai::API_KEY_ENV, e))?;
    Ok(Arc::new(provider))
}

/// The HeyGen client configuration of a job's settings (`heygen.url`,
/// `heygen.key_file`, `heygen.voice`: the voice of slides that name none).
pub fn heygen_config(ctx: &ProviderContext) -> Result<slidecast_heygen::HeyGenConfig, RenderError> {
    let mut config = slidecast_heygen::HeyGenConfig::builder()
        .words_per_minute(ctx.speech_rate.words_per_minute());
    if let Some(url) = vendor_url(ctx, "heygen", HEYGEN_URL_ENV) {
        config = config.base_url(url);
    }
    if let Some(file) = ctx.setting("heygen.key_file") {
        config = config.api_key_file(file);
    }
    if let Some(voice) = ctx.setting("heygen.voice") {
        config = config.default_voice(voice);
    }
    config
        .build()
        .map_err(|e| credentials("heygen", slidecast_heygen::API_KEY_ENV, e))
}

fn build_heygen(ctx: &ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError> {
    let provider = slidecast_heygen::HeyGenProvider::new(heygen_config(ctx)?)
        .map_err(|e| credentials("heygen", slidecast_heygen::API_KEY_ENV, e))?;
    Ok(Arc::new(provider))
}

/// The D-ID client configuration of a job's settings (`did.url`,
/// `did.key_file`).
pub fn did_config(ctx: &ProviderContext) -> Result<slidecast_did::DidConfig, RenderError> {
    let mut config =
        slidecast_did::DidConfig::builder().words_per_minute(ctx.speech_rate.words_per_minute());
    if let Some(url) = vendor_url(ctx, "did", DID_URL_ENV) {
        config = config.base_url(url);
    }
    if let Some(file) = ctx.setting("did.key_file") {
        config = config.api_key_file(file);
    }
    config
        .build()
        .map_err(|e| credentials("did", slidecast_did::API_KEY_ENV, e))
}

fn build_did(ctx: &ProviderContext) -> Result<Arc<dyn AvatarProvider>, RenderError> {
    let provider = slidecast_did::DidProvider::new(did_config(ctx)?)
        .map_err(|e| credentials("did", slidecast_did::API_KEY_ENV, e))?;
    Ok(Arc::new(provider))
}
