//! `provider = "mock"`: try the whole pipeline with no vendor and no speech.
//!
//! Each render "takes" about a second (uneven per slide, so clips arrive out
//! of deck order as they do at a vendor) and its clip is a real MP4 from
//! [`slidecast_media::MockClip`]: a plain picture and a tone lasting the
//! script's estimated speaking time, at the requested size over the avatar
//! background colour. Renders live in this process only, so a mock render
//! is never cached or resumed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus, SpeechRate,
};
use tokio::time::Instant;

/// How long creating a mock render takes.
const INITIATE: Duration = Duration::from_millis(150);

/// The mock provider: each render takes about a second and its clip is a
/// real MP4 from [`slidecast_media::MockClip`] (a picture and a tone as
/// long as the script's estimated speech), made in this process only.
#[derive(Debug)]
pub struct MockClips {
    fps: u32,
    next_id: AtomicU64,
    renders: Mutex<HashMap<String, MockRender>>,
}

#[derive(Debug, Clone)]
struct MockRender {
    request: ClipRequest,
    started: Option<Instant>,
}

impl MockClips {
    /// A mock provider whose clips are made at `fps`.
    pub fn new(fps: u32) -> MockClips {
        MockClips {
            fps: fps.max(1),
            next_id: AtomicU64::new(1),
            renders: Mutex::new(HashMap::new()),
        }
    }

    /// How long the render of `slide` takes: 0.8 to 1.8 s, uneven.
    fn render_time(slide: usize) -> Duration {
        Duration::from_millis(800 + (slide * 7 % 5) as u64 * 250)
    }

    fn render(&self, handle: &RenderHandle) -> Result<MockRender, ProviderError> {
        let renders = self.renders.lock().unwrap_or_else(|p| p.into_inner());
        renders.get(&handle.id).cloned().ok_or_else(|| {
            ProviderError::permanent(
                PermanentKind::NotFound,
                format!("mock render {} was made by another run", handle.id),
            )
        })
    }
}

#[async_trait]
impl AvatarProvider for MockClips {
    fn name(&self) -> &str {
        "mock"
    }

    fn limits(&self) -> ProviderLimits {
        let mut limits = ProviderLimits::default();
        // No vendor limit: every render at once.
        limits.max_in_flight = 4096;
        limits.poll_interval = Duration::from_millis(200);
        limits
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        tokio::time::sleep(INITIATE).await;
        let id = format!("mock-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut renders = self.renders.lock().unwrap_or_else(|p| p.into_inner());
        renders.insert(
            id.clone(),
            MockRender {
                request: request.clone(),
                started: None,
            },
        );
        Ok(RenderHandle::new("mock", id))
    }

    async fn start(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        let mut renders = self.renders.lock().unwrap_or_else(|p| p.into_inner());
        match renders.get_mut(&handle.id) {
            Some(r) => {
                r.started.get_or_insert_with(Instant::now);
                Ok(())
            }
            None => Err(ProviderError::permanent(
                PermanentKind::NotFound,
                format!("mock render {} was made by another run", handle.id),
            )),
        }
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let render = self.render(handle)?;
        let Some(started) = render.started else {
            return Ok(RenderStatus::Queued);
        };
        let total = Self::render_time(render.request.slide);
        let elapsed = started.elapsed();
        if elapsed >= total {
            return Ok(RenderStatus::Ready);
        }
        Ok(RenderStatus::Rendering {
            progress: Some((100.0 * elapsed.as_secs_f32() / total.as_secs_f32()).min(99.0)),
            eta: Some(total - elapsed),
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let request = self.render(handle)?.request;
        let (width, height) = request.canvas;
        let length = SpeechRate::default()
            .duration(&request.script)
            .max(Duration::from_secs(1));
        let clip = slidecast_media::MockClip {
            fps: self.fps,
            background: request.avatar_background,
            ..slidecast_media::MockClip::new(length, width, height)
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
        let mut renders = self.renders.lock().unwrap_or_else(|p| p.into_inner());
        renders.remove(&handle.id);
        Ok(())
    }
}
