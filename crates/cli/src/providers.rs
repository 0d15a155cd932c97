//! Building the avatar provider a render uses: `local` (offline default),
//! `elai`, or `mock` (core's scripted [`MockProvider`] for timing and
//! progress, with real clips from the media crate's mock clip generator so
//! the whole pipeline runs with no vendor).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use slidecast_core::testing::{mock_clip_duration, MockProvider};
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus,
};

use crate::exit::CliError;

/// Environment variable overriding Elai's API root (proxies, tests).
pub const ELAI_URL_ENV: &str = "ELAI_BASE_URL";

/// Settings for building a provider, from the command line.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    /// Where providers keep their clips.
    pub work_dir: PathBuf,
    /// Frame rate of the deck (mock and local clips are made at it).
    pub fps: u32,
    /// Elai API root override.
    pub elai_url: Option<String>,
    /// Elai API key file (otherwise `ELAI_API_KEY`).
    pub elai_key_file: Option<PathBuf>,
}

/// Build the provider called `name`.
pub fn build(name: &str, settings: &ProviderSettings) -> Result<Arc<dyn AvatarProvider>, CliError> {
    match name {
        "local" => {
            // Clips at the deck's frame rate: the composer then copies
            // frames one for one instead of dropping or repeating them.
            // (No frame rate given: the local default.)
            let mut render = slidecast_local::RenderOptions::default();
            if settings.fps > 0 {
                render.fps = settings.fps;
            }
            let provider = slidecast_local::LocalProvider::new(slidecast_local::LocalConfig {
                render,
                work_dir: Some(settings.work_dir.join("local")),
                ..Default::default()
            })
            .map_err(|e| CliError::Run {
                message: format!("cannot set up the local presenter: {e}"),
            })?;
            if let Err(e) = provider.check_espeak() {
                return Err(CliError::MissingTool {
                    program: "espeak-ng".into(),
                    hint: format!(
                        "The local presenter speaks with it: apt-get install espeak-ng (or try the pipeline with --provider mock). ({e})"
                    ),
                });
            }
            Ok(Arc::new(provider))
        }
        "elai" => {
            let mut config = slidecast_elai::ElaiConfig::builder();
            if let Some(url) = elai_url(settings.elai_url.as_deref()) {
                config = config.base_url(url);
            }
            if let Some(file) = &settings.elai_key_file {
                config = config.api_key_file(file);
            }
            let config = config.build().map_err(elai_config_error)?;
            let provider = slidecast_elai::ElaiProvider::new(config).map_err(elai_config_error)?;
            Ok(Arc::new(provider))
        }
        "mock" => Ok(Arc::new(MockClips::new(settings.fps))),
        other => Err(CliError::Usage(format!(
            "unknown provider `{other}`; use local, elai or mock"
        ))),
    }
}

/// Elai's API root: the flag, else `ELAI_BASE_URL`, else the crate default.
pub fn elai_url(flag: Option<&str>) -> Option<String> {
    flag.map(String::from)
        .or_else(|| std::env::var(ELAI_URL_ENV).ok())
        .filter(|u| !u.is_empty())
}

/// An Elai configuration problem, with what to do about it.
pub fn elai_config_error(e: slidecast_elai::ConfigError) -> CliError {
    CliError::Usage(format!(
        "{e}\nhint: export {}=<your key> (or --elai-key-file FILE), or render offline with --provider local",
        slidecast_elai::API_KEY_ENV
    ))
}

/// `--provider mock`: core's [`MockProvider`] decides the timing (a couple of
/// seconds per render, finishing out of deck order so the eager schedule
/// shows), and each fetched clip is a real MP4 from
/// [`slidecast_media::mock_clip`], lasting the script's estimated speaking
/// time, at the requested canvas size over the avatar background colour.
pub struct MockClips {
    timing: MockProvider,
    requests: Mutex<HashMap<String, ClipRequest>>,
    fps: u32,
}

impl MockClips {
    /// A mock provider whose clips are made at `fps`.
    pub fn new(fps: u32) -> MockClips {
        let mut timing = MockProvider::builder()
            .init_latency(Duration::from_millis(150))
            .render_latency(Duration::from_millis(1200))
            .poll_interval(Duration::from_millis(200));
        // Uneven render times: clips arrive out of deck order, as at a vendor.
        for slide in 1..=200 {
            let extra = (slide * 7 % 5) as u64 * 250;
            timing = timing.render_latency_for(slide, Duration::from_millis(800 + extra));
        }
        MockClips {
            timing: timing.build(),
            requests: Mutex::new(HashMap::new()),
            fps: fps.max(1),
        }
    }

    fn request(&self, id: &str) -> Option<ClipRequest> {
        self.requests.lock().ok().and_then(|r| r.get(id).cloned())
    }
}

#[async_trait]
impl AvatarProvider for MockClips {
    fn name(&self) -> &str {
        "mock"
    }

    fn limits(&self) -> ProviderLimits {
        self.timing.limits()
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        let handle = self.timing.initiate(request).await?;
        if let Ok(mut r) = self.requests.lock() {
            r.insert(handle.id.clone(), request.clone());
        }
        Ok(handle)
    }

    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        self.timing.start(handle).await
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        self.timing.status(handle).await
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        self.timing.fetch(handle, dest).await?;
        let request = self.request(&handle.id).ok_or_else(|| {
            ProviderError::permanent(
                PermanentKind::NotFound,
                format!("mock render {} was made by another run", handle.id),
            )
        })?;
        let (width, height) = request.canvas;
        let clip = slidecast_media::MockClip {
            fps: self.fps,
            background: request.avatar_background,
            ..slidecast_media::MockClip::new(mock_clip_duration(&request.script), width, height)
        };
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || clip.write(&dest))
            .await
            .map_err(|e| {
                ProviderError::permanent(PermanentKind::Local, format!("mock clip task: {e}"))
            })?
            .map_err(|e| ProviderError::permanent(PermanentKind::Local, format!("mock clip: {e}")))
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        self.timing.cancel(handle).await
    }
}

/// Several providers behind one, for a deck whose slides name different
/// providers: a render goes to the provider its request names, and every
/// later call to the provider that issued the handle.
pub struct Router {
    providers: HashMap<String, Arc<dyn AvatarProvider>>,
}

impl Router {
    /// Route between `providers`, keyed by their deck names.
    pub fn new(providers: HashMap<String, Arc<dyn AvatarProvider>>) -> Router {
        Router { providers }
    }

    fn get(&self, name: &str) -> Result<&Arc<dyn AvatarProvider>, ProviderError> {
        self.providers.get(name).ok_or_else(|| {
            ProviderError::permanent(
                PermanentKind::BadRequest,
                format!("no provider `{name}` in this run"),
            )
        })
    }
}

#[async_trait]
impl AvatarProvider for Router {
    fn name(&self) -> &str {
        "mixed"
    }

    /// The strictest of the providers' limits, so none is overrun.
    fn limits(&self) -> ProviderLimits {
        let all: Vec<ProviderLimits> = self.providers.values().map(|p| p.limits()).collect();
        ProviderLimits {
            max_in_flight: all.iter().map(|l| l.max_in_flight).min().unwrap_or(1),
            poll_interval: all
                .iter()
                .map(|l| l.poll_interval)
                .min()
                .unwrap_or(Duration::from_secs(10)),
            max_script_chars: all.iter().filter_map(|l| l.max_script_chars).min(),
        }
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        self.get(&request.provider)?.initiate(request).await
    }

    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        self.get(&handle.provider)?.start(handle).await
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        self.get(&handle.provider)?.status(handle).await
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        self.get(&handle.provider)?.fetch(handle, dest).await
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        self.get(&handle.provider)?.cancel(handle).await
    }
}
