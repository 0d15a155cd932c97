//! Renders in flight on this machine (see [`FileRegistry`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slidecast_core::{Claim, ClaimToken, ClipRequest, RenderHandle, RenderRegistry};

use crate::fsutil::{self, FileLock};
use crate::{ClipKey, StoreError};

/// How often a run waiting for another run's create looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// The machine-wide [`RenderRegistry`]: one lock file and one record per
/// clip key in a folder (by default `inflight/` in the clip cache), so runs
/// of different outputs, decks or processes that need the same clip share
/// one render.
///
/// - *claim*: take the key's lock (`flock`, released by the kernel when a
///   process dies). Held by a live run: wait until its record names the
///   render, then attach to it. Free: hold it; a record left by a dead run
///   names a render to resume instead of creating one.
/// - *created*: the holder writes the record (atomically) with the vendor's
///   handle before the render is started.
/// - *finished*: the holder removes the record and lets the lock go; the
///   clip is in the cache from then on.
///
/// A run that attaches polls and fetches the same render itself (two
/// downloads, one render paid). The record holds what the journal holds
/// (the provider's resume data included), in the user's own cache folder.
#[derive(Debug, Clone)]
pub struct FileRegistry {
    dir: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    handle: RenderHandle,
    started: bool,
}

/// A claim's state: the key, and the lock when this run holds it.
struct Held {
    key: ClipKey,
    lock: Option<FileLock>,
}

impl FileRegistry {
    /// The registry in `dir` (created if needed).
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileRegistry, StoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io("creating registry directory", &dir, e))?;
        Ok(FileRegistry { dir })
    }

    /// The folder it keeps its locks and records in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, key: &ClipKey) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn lock_path(&self, key: &ClipKey) -> PathBuf {
        self.dir.join(format!("{key}.lock"))
    }

    fn read_record(&self, key: &ClipKey) -> Option<Record> {
        let bytes = std::fs::read(self.record_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// One attempt: the lock if free (with any record a dead run left), or
    /// the live holder's record once it names a render.
    fn try_claim(&self, key: &ClipKey) -> Result<Option<Claim>, StoreError> {
        match FileLock::try_exclusive(&self.lock_path(key))? {
            Some(lock) => {
                let existing = self.read_record(key).map(|r| (r.handle, r.started));
                let held = Held {
                    key: key.clone(),
                    lock: Some(lock),
                };
                Ok(Some(Claim::new(existing, ClaimToken::new(held))))
            }
            None => Ok(self.read_record(key).map(|r| {
                // The live holder starts its render itself: never start it
                // a second time from here.
                let held = Held {
                    key: key.clone(),
                    lock: None,
                };
                Claim::new(Some((r.handle, true)), ClaimToken::new(held))
            })),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&FileRegistry) -> Result<T, StoreError> + Send + 'static,
    ) -> std::io::Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| std::io::Error::other(format!("registry task failed: {e}")))?
            .map_err(Into::into)
    }
}

#[async_trait::async_trait]
impl RenderRegistry for FileRegistry {
    async fn claim(&self, request: &ClipRequest) -> std::io::Result<Claim> {
        let key = ClipKey::for_request(request);
        loop {
            let k = key.clone();
            if let Some(claim) = self.blocking(move |r| r.try_claim(&k)).await? {
                return Ok(claim);
            }
            // Another run holds the clip and has not created it yet.
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    async fn created(
        &self,
        claim: &ClaimToken,
        handle: &RenderHandle,
        started: bool,
    ) -> std::io::Result<()> {
        let Some(held) = claim.get::<Held>() else {
            return Ok(());
        };
        if held.lock.is_none() {
            return Ok(());
        }
        let path = self.record_path(&held.key);
        let record = Record {
            handle: handle.clone(),
            started,
        };
        let bytes = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        self.blocking(move |_| fsutil::write_atomic(&path, &bytes))
            .await
    }

    async fn finished(&self, claim: ClaimToken) -> std::io::Result<()> {
        let Some(held) = claim.into_inner::<Held>() else {
            return Ok(());
        };
        let Some(lock) = held.lock else {
            return Ok(());
        };
        let path = self.record_path(&held.key);
        self.blocking(move |_| {
            let removed = match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StoreError::io("removing", &path, e))
                }
                _ => Ok(()),
            };
            drop(lock);
            removed
        })
        .await
    }
}
