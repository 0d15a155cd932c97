//! [`SqlRegistry`]: renders in flight kept in the service's database, so
//! every job on every worker that needs a clip pays for one render.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use slidecast_core::{Claim, ClaimToken, ClipRequest, RenderHandle, RenderRegistry};
use slidecast_store::{ClipCache, ClipKey};
use sqlx::Row;

use crate::blobs::Blobs;
use crate::db::Db;

/// How often a claim waiting for another holder's create looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// Core's [`RenderRegistry`] on the `renders` table: one row per clip key.
///
/// - *claim*: the row is taken by a unique insert; its holder (a process,
///   under a lease it renews) alone creates, starts and finishes the
///   render. A claimant that finds a live holder attaches to the render
///   the row names (waiting until it names one); one that finds the row's
///   lease run out takes the row over and resumes the render it names
///   instead of creating one. A finished row stays, so a late claimant
///   attaches to the finished render (fetching it again costs nothing).
/// - *created*: the holder writes the vendor's handle into the row before
///   the render is started; a holder that lost the row is refused, and its
///   run stops.
/// - *finished*: the holder copies the clip to the blob store (when there
///   is one) and marks the row done.
///
/// Within one process, a set of held keys lets a second job wait for the
/// first without touching the database.
#[derive(Debug, Clone)]
pub struct SqlRegistry {
    db: Db,
    owner: String,
    lease_secs: f64,
    held: Arc<Mutex<HashSet<String>>>,
    clips: Option<(ClipCache, Blobs)>,
}

/// A claim's state: the key, and whether this process holds it.
struct Held {
    key: ClipKey,
    holder: bool,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.holder {
            self.held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(self.key.as_str());
        }
    }
}

/// One row of `renders`, as a claimant sees it.
struct RenderRow {
    owner: String,
    expired: bool,
    done: bool,
    recorded: Option<(RenderHandle, bool)>,
}

impl SqlRegistry {
    /// The registry of `db` for process `owner`, whose holds last
    /// `lease_secs` unless renewed (a task renews them while the registry
    /// lives).
    pub fn new(db: Db, owner: impl Into<String>, lease_secs: f64) -> SqlRegistry {
        let registry = SqlRegistry {
            db,
            owner: owner.into(),
            lease_secs,
            held: Arc::default(),
            clips: None,
        };
        registry.spawn_renewal();
        registry
    }

    /// Copy each finished clip from `cache` to `blobs`, where other
    /// processes find it.
    pub fn share_clips(mut self, cache: ClipCache, blobs: Blobs) -> SqlRegistry {
        self.clips = Some((cache, blobs));
        self
    }

    /// Renew the leases of the rows this process holds, until the
    /// registry is dropped.
    fn spawn_renewal(&self) {
        let held: Weak<Mutex<HashSet<String>>> = Arc::downgrade(&self.held);
        let db = self.db.clone();
        let owner = self.owner.clone();
        let lease = self.lease_secs;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs_f64(lease / 6.0)).await;
                let Some(held) = held.upgrade() else { return };
                let keys: Vec<String> = held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                drop(held);
                for key in keys {
                    let renewed = sqlx::query(db.sql(
                        "UPDATE renders SET lease_until = {now} + $1 \
                         WHERE clip_key = $2 AND owner = $3 AND done = 0",
                    ))
                    .bind(lease)
                    .bind(&key)
                    .bind(&owner)
                    .execute(db.pool())
                    .await;
                    if let Err(e) = renewed {
                        tracing::warn!(clip = %key, "renewing a render lease: {e}");
                    }
                }
            }
        });
    }

    fn try_hold(&self, key: &ClipKey) -> Option<Held> {
        let fresh = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string());
        fresh.then(|| Held {
            key: key.clone(),
            holder: true,
            held: self.held.clone(),
        })
    }

    fn attached(&self, key: &ClipKey) -> Held {
        Held {
            key: key.clone(),
            holder: false,
            held: self.held.clone(),
        }
    }

    async fn row(&self, key: &ClipKey) -> std::io::Result<Option<RenderRow>> {
        let row = sqlx::query(self.db.sql(
            "SELECT owner, CASE WHEN lease_until IS NULL OR lease_until < {now} THEN 1 ELSE 0 END, \
             done, handle, started FROM renders WHERE clip_key = $1",
        ))
        .bind(key.as_str())
        .fetch_optional(self.db.pool())
        .await
        .map_err(std::io::Error::other)?;
        Ok(row.map(|r| {
            let handle: Option<String> = r.get(3);
            let started: i64 = r.get(4);
            RenderRow {
                owner: r.get(0),
                expired: r.get::<i64, _>(1) != 0,
                done: r.get::<i64, _>(2) != 0,
                recorded: handle
                    .and_then(|h| serde_json::from_str::<RenderHandle>(&h).ok())
                    .map(|h| (h, started != 0)),
            }
        }))
    }

    /// Insert the row for `key`, held by this process. False when it
    /// exists.
    async fn insert(&self, key: &ClipKey) -> std::io::Result<bool> {
        let done = sqlx::query(self.db.sql(
            "INSERT INTO renders (clip_key, owner, claimed_at, lease_until, done) \
             VALUES ($1, $2, {now}, {now} + $3, 0) ON CONFLICT (clip_key) DO NOTHING",
        ))
        .bind(key.as_str())
        .bind(&self.owner)
        .bind(self.lease_secs)
        .execute(self.db.pool())
        .await
        .map_err(std::io::Error::other)?;
        Ok(done.rows_affected() == 1)
    }

    /// Take over the row of `key` from `previous`, whose hold is gone.
    async fn take_over(&self, key: &ClipKey, previous: &str) -> std::io::Result<bool> {
        let done = sqlx::query(self.db.sql(
            "UPDATE renders SET owner = $1, claimed_at = {now}, lease_until = {now} + $2 \
             WHERE clip_key = $3 AND owner = $4 AND done = 0 \
             AND (owner = $1 OR lease_until IS NULL OR lease_until < {now})",
        ))
        .bind(&self.owner)
        .bind(self.lease_secs)
        .bind(key.as_str())
        .bind(previous)
        .execute(self.db.pool())
        .await
        .map_err(std::io::Error::other)?;
        Ok(done.rows_affected() == 1)
    }

    async fn share_clip(&self, key: &ClipKey) {
        let Some((cache, blobs)) = &self.clips else {
            return;
        };
        let Some(path) = cache.peek(key) else {
            return;
        };
        if let Err(e) = blobs.put_file(&clip_blob(key), &path).await {
            // The row still names the render: another process fetches it
            // from the vendor instead.
            tracing::warn!(clip = %key, "sharing the clip: {e}");
        }
    }
}

/// Where a finished clip is kept in the blob store.
pub fn clip_blob(key: &ClipKey) -> String {
    format!("clips/{key}.mp4")
}

#[async_trait::async_trait]
impl RenderRegistry for SqlRegistry {
    async fn claim(&self, request: &ClipRequest) -> std::io::Result<Claim> {
        let key = ClipKey::for_request(request);
        loop {
            if let Some(held) = self.try_hold(&key) {
                if self.insert(&key).await? {
                    return Ok(Claim::new(None, ClaimToken::new(held)));
                }
                match self.row(&key).await? {
                    // Deleted between the insert and the read: again.
                    None => {}
                    Some(row) if row.done => {
                        drop(held);
                        if let Some((handle, _)) = row.recorded {
                            return Ok(Claim::new(
                                Some((handle, true)),
                                ClaimToken::new(self.attached(&key)),
                            ));
                        }
                    }
                    // No live holder (a dead process, or a run of this
                    // one that ended without finishing): resume its render.
                    Some(row) if row.expired || row.owner == self.owner => {
                        if self.take_over(&key, &row.owner).await? {
                            if row.owner != self.owner {
                                tracing::info!(clip = %key.short(), from = %row.owner, "took over a render claim");
                            }
                            let maybe_created = row.recorded.is_none();
                            let claim = Claim::new(row.recorded, ClaimToken::new(held));
                            // The previous holder may have sent a create
                            // whose answer it never recorded.
                            return Ok(if maybe_created {
                                claim.maybe_created()
                            } else {
                                claim
                            });
                        } else {
                            tracing::debug!(clip = %key.short(), "another claimant took the row over first");
                        }
                    }
                    Some(row) => {
                        drop(held);
                        if let Some((handle, _)) = row.recorded {
                            // The live holder starts its render itself.
                            return Ok(Claim::new(
                                Some((handle, true)),
                                ClaimToken::new(self.attached(&key)),
                            ));
                        }
                    }
                }
            } else if let Some(RenderRow {
                recorded: Some((handle, _)),
                ..
            }) = self.row(&key).await?
            {
                // Another job of this process holds it and has created it.
                return Ok(Claim::new(
                    Some((handle, true)),
                    ClaimToken::new(self.attached(&key)),
                ));
            }
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
        if !held.holder {
            return Ok(());
        }
        let json = serde_json::to_string(handle).map_err(std::io::Error::other)?;
        let done = sqlx::query(
            "UPDATE renders SET provider = $1, vendor_id = $2, handle = $3, started = $4 \
             WHERE clip_key = $5 AND owner = $6 AND done = 0",
        )
        .bind(&handle.provider)
        .bind(&handle.id)
        .bind(json)
        .bind(i64::from(started))
        .bind(held.key.as_str())
        .bind(&self.owner)
        .execute(self.db.pool())
        .await
        .map_err(std::io::Error::other)?;
        if done.rows_affected() != 1 {
            return Err(std::io::Error::other(format!(
                "render {} of clip {}: this worker's claim ran out and another took it over",
                handle.id,
                held.key.short()
            )));
        }
        Ok(())
    }

    async fn finished(&self, claim: ClaimToken) -> std::io::Result<()> {
        let Some(held) = claim.into_inner::<Held>() else {
            return Ok(());
        };
        if !held.holder {
            return Ok(());
        }
        self.share_clip(&held.key).await;
        sqlx::query(
            "UPDATE renders SET done = 1, lease_until = NULL WHERE clip_key = $1 AND owner = $2",
        )
        .bind(held.key.as_str())
        .bind(&self.owner)
        .execute(self.db.pool())
        .await
        .map_err(std::io::Error::other)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The render-claim contract, on SQLite and on PostgreSQL: two
    //! processes (two registries with their own owner names) share a table.

    use super::*;
    use slidecast_tests::backends::{urls, Backends};

    fn request(script: &str) -> ClipRequest {
        ClipRequest {
            slide: 1,
            title: "Fleet".into(),
            provider: "elai".into(),
            script: script.into(),
            avatar: "gia.casual".into(),
            voice: None,
            voice_provider: None,
            language: None,
            avatar_background: slidecast_core::deck::Rgb::GREEN,
            canvas: (1920, 1080),
        }
    }

    fn handle(id: &str) -> RenderHandle {
        RenderHandle::new("elai", id)
    }

    /// Two processes on one database.
    async fn two(backends: Backends, dir: &std::path::Path) -> (Db, SqlRegistry, SqlRegistry) {
        let (url, _) = urls(backends, dir);
        let db = Db::open(&url).await.unwrap();
        let a = SqlRegistry::new(db.clone(), "worker-a", 2.0);
        let b = SqlRegistry::new(db.clone(), "worker-b", 2.0);
        (db, a, b)
    }

    async fn one_holder_and_the_other_attaches(backends: Backends) {
        let dir = tempfile::tempdir().unwrap();
        let (_db, a, b) = two(backends, dir.path()).await;
        let req = request("Shared narration.");
        let claim_a = a.claim(&req).await.unwrap();
        assert!(claim_a.existing.is_none(), "the first claimant creates");
        // B waits while A has not recorded its render...
        let b2 = b.clone();
        let req2 = req.clone();
        let waiting = tokio::spawn(async move { b2.claim(&req2).await.unwrap() });
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!waiting.is_finished(), "no render to attach to yet");
        // ...and attaches once it has, without creating.
        a.created(&claim_a.token, &handle("v-1"), false)
            .await
            .unwrap();
        let claim_b = waiting.await.unwrap();
        assert_eq!(
            claim_b.existing.as_ref().map(|(h, _)| h.id.as_str()),
            Some("v-1")
        );
        // B's calls on an attached claim change nothing.
        b.created(&claim_b.token, &handle("v-other"), true)
            .await
            .unwrap();
        a.created(&claim_a.token, &handle("v-1"), true)
            .await
            .unwrap();
        a.finished(claim_a.token).await.unwrap();
        // A finished render stays: a late claimant attaches to it.
        let late = b.claim(&req).await.unwrap();
        assert_eq!(late.existing, Some((handle("v-1"), true)));
    }

    async fn a_stale_holder_is_refused_and_its_render_resumed(backends: Backends) {
        let dir = tempfile::tempdir().unwrap();
        let (db, a, b) = two(backends, dir.path()).await;
        let req = request("Narration of a worker that stalls.");
        let claim_a = a.claim(&req).await.unwrap();
        a.created(&claim_a.token, &handle("v-7"), false)
            .await
            .unwrap();
        // A stops renewing (a stall, a partition): its lease runs out.
        sqlx::query("UPDATE renders SET lease_until = 0 WHERE owner = 'worker-a'")
            .execute(db.pool())
            .await
            .unwrap();
        let claim_b = b.claim(&req).await.unwrap();
        assert_eq!(
            claim_b.existing,
            Some((handle("v-7"), false)),
            "B resumes A's render, not started yet, instead of creating one"
        );
        // A wakes up: recording its start is refused, so it never starts
        // the render B now holds; finishing changes nothing.
        let err = a
            .created(&claim_a.token, &handle("v-7"), true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("another took it over"), "{err}");
        a.finished(claim_a.token).await.unwrap();
        let row = sqlx::query("SELECT owner, done FROM renders")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "worker-b");
        assert_eq!(row.get::<i64, _>(1), 0);
        b.created(&claim_b.token, &handle("v-7"), true)
            .await
            .unwrap();
        b.finished(claim_b.token).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_one_holder_and_the_other_attaches() {
        one_holder_and_the_other_attaches(Backends::Embedded).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_one_holder_and_the_other_attaches() {
        one_holder_and_the_other_attaches(Backends::Cloud).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_a_stale_holder_is_refused_and_its_render_resumed() {
        a_stale_holder_is_refused_and_its_render_resumed(Backends::Embedded).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_stale_holder_is_refused_and_its_render_resumed() {
        a_stale_holder_is_refused_and_its_render_resumed(Backends::Cloud).await;
    }
}
