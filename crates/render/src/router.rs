//! Several providers behind one, for a deck whose slides name different
//! providers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus, RequestProblem,
};

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
        let mut limits = ProviderLimits::default();
        limits.max_in_flight = all.iter().map(|l| l.max_in_flight).min().unwrap_or(1);
        limits.poll_interval = all
            .iter()
            .map(|l| l.poll_interval)
            .min()
            .unwrap_or(Duration::from_secs(10));
        limits.max_script_chars = all.iter().filter_map(|l| l.max_script_chars).min();
        limits
    }

    fn clip_extension(&self, handle: &RenderHandle) -> &str {
        match self.get(&handle.provider) {
            Ok(p) => p.clip_extension(handle),
            Err(_) => "mp4",
        }
    }

    async fn check(&self, requests: &[ClipRequest]) -> Result<Vec<RequestProblem>, ProviderError> {
        let mut by_provider: HashMap<&str, Vec<ClipRequest>> = HashMap::new();
        for r in requests {
            by_provider.entry(&r.provider).or_default().push(r.clone());
        }
        let mut problems = Vec::new();
        for (name, list) in by_provider {
            problems.extend(self.get(name)?.check(&list).await?);
        }
        problems.sort_by_key(|p| p.slide);
        Ok(problems)
    }

    async fn speech_limit(&self, request: &ClipRequest) -> Result<Option<Duration>, ProviderError> {
        self.get(&request.provider)?.speech_limit(request).await
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        self.get(&request.provider)?.initiate(request).await
    }

    async fn find_lost_create(
        &self,
        request: &ClipRequest,
    ) -> Result<Option<(RenderHandle, bool)>, ProviderError> {
        self.get(&request.provider)?.find_lost_create(request).await
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

    async fn wait_for_change(&self, handle: &RenderHandle, wait: Duration) {
        match self.get(&handle.provider) {
            Ok(p) => p.wait_for_change(handle, wait).await,
            Err(_) => tokio::time::sleep(wait).await,
        }
    }
}
