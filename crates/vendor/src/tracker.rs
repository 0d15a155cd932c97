//! [`RenderTracker`]: the renders a provider polls, their deadline clocks
//! and their latest download URLs.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slidecast_core::{PermanentKind, ProviderError};
use tokio::time::Instant;

use crate::client::{Client, Ctx, DownloadError};

#[derive(Debug)]
struct Track {
    since: Instant,
    deadline: Duration,
    url: Option<String>,
}

/// A render's deadline clock as its handle records it (flattened into the
/// handle's data), so a later run resumes the same deadline.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clock {
    /// The render deadline, seconds from `created_at`.
    pub deadline_secs: f64,
    /// When the render was created, seconds since the Unix epoch.
    pub created_at: u64,
}

impl Clock {
    /// A clock starting now.
    pub fn now(deadline: Duration) -> Clock {
        Clock {
            deadline_secs: deadline.as_secs_f64(),
            created_at: unix_now(),
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs_f64(self.deadline_secs.max(0.0))
    }
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The renders one provider is polling, keyed by the vendor's id. Deadline
/// clocks run on tokio time, so tests under a paused clock see them pass.
#[derive(Debug, Default)]
pub struct RenderTracker {
    renders: Mutex<HashMap<String, Track>>,
}

impl RenderTracker {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Track>> {
        // A poisoned lock only means another task panicked mid-update of a
        // plain map; the data is still usable.
        self.renders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Render `id` started now with `deadline`.
    pub fn started(&self, id: &str, deadline: Duration) {
        self.map().insert(
            id.to_string(),
            Track {
                since: Instant::now(),
                deadline,
                url: None,
            },
        );
    }

    /// True while `id` is tracked.
    pub fn contains(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }

    /// Stop tracking `id`.
    pub fn forget(&self, id: &str) {
        self.map().remove(id);
    }

    /// The download URL the last status read gave for `id`.
    pub fn url(&self, id: &str) -> Option<String> {
        self.map().get(id).and_then(|t| t.url.clone())
    }

    /// Remember `url` as `id`'s download URL (`None`: read a fresh one).
    pub fn set_url(&self, id: &str, url: Option<String>) {
        if let Some(t) = self.map().get_mut(id) {
            t.url = url;
        }
    }

    /// `Err(DeadlineExceeded)` when `id` has run past its deadline (it is
    /// then forgotten), else how long it has run. A render this process did
    /// not start is tracked from `clock` (from its handle), or from now
    /// with `fallback` when the handle has none. `state` is the vendor's
    /// word for where the render stands, for the message.
    pub fn check_deadline(
        &self,
        id: &str,
        clock: Option<Clock>,
        fallback: Duration,
        state: &str,
        ctx: &Ctx<'_>,
    ) -> Result<Duration, ProviderError> {
        let mut map = self.map();
        let track = map.entry(id.to_string()).or_insert_with(|| {
            let (deadline, age) = match clock {
                Some(c) => (
                    c.deadline(),
                    Duration::from_secs(unix_now().saturating_sub(c.created_at)),
                ),
                None => (fallback, Duration::ZERO),
            };
            let now = Instant::now();
            Track {
                since: now.checked_sub(age).unwrap_or(now),
                deadline,
                url: None,
            }
        });
        let elapsed = track.since.elapsed();
        if elapsed <= track.deadline {
            return Ok(elapsed);
        }
        let deadline = track.deadline;
        map.remove(id);
        Err(ProviderError::permanent(
            PermanentKind::DeadlineExceeded,
            format!(
                "{ctx}: still `{state}` after {:.1} min, past its {:.1} min deadline; \
                 the render stays in the {} account under id {id}",
                elapsed.as_secs_f64() / 60.0,
                deadline.as_secs_f64() / 60.0,
                ctx.vendor
            ),
        ))
    }

    /// Download `id`'s finished clip to `dest` with `client`: from the URL
    /// the last status read gave, else one `fresh_url` reads. Signed URLs
    /// expire, so a refused one is replaced by a fresh one once. On success
    /// the render is forgotten; on failure its URL is, so the next attempt
    /// reads a fresh one.
    pub async fn download<F, Fut>(
        &self,
        client: &Client,
        id: &str,
        dest: &Path,
        ctx: Ctx<'_>,
        fresh_url: F,
    ) -> Result<u64, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<String, ProviderError>>,
    {
        let url = match self.url(id) {
            Some(u) => u,
            None => fresh_url().await?,
        };
        let result = match client.download(&url, dest, ctx).await {
            Err(DownloadError::Refused(code)) => {
                tracing::debug!(render = id, %code, "download URL refused; asking for a fresh one");
                let url = fresh_url().await?;
                match client.download(&url, dest, ctx).await {
                    Err(DownloadError::Refused(code)) => Err(ProviderError::transient(format!(
                        "{ctx}: the download URL was refused twice (HTTP {})",
                        code.as_u16()
                    ))),
                    other => other.map_err(DownloadError::into_provider_error),
                }
            }
            other => other.map_err(DownloadError::into_provider_error),
        };
        match &result {
            Ok(_) => self.forget(id),
            Err(_) => self.set_url(id, None),
        }
        result
    }
}
