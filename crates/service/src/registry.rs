//! [`SqlRegistry`]: renders in flight kept in the service's database.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slidecast_core::{Claim, ClaimToken, ClipRequest, RenderHandle, RenderRegistry};
use slidecast_store::ClipKey;
use sqlx::{Row, SqlitePool};

use crate::db::now;

/// How often a claim waiting for another job's create looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// Core's [`RenderRegistry`] on the `renders` table: one row per clip key,
/// so jobs that need the same clip pay for one render.
///
/// - *claim*: a job of this process already holds the key: wait until its
///   row names the render, then attach to it. Otherwise hold the key (in
///   memory) and take the row: a row another process left names a render
///   to resume instead of creating one.
/// - *created*: the holder writes the vendor's handle into the row before
///   the render is started.
/// - *finished*: the holder deletes the row; the clip is in the clip cache.
///
/// Liveness is this process's set of held keys: the service holds its data
/// folder's lock, so a row owned by another process is a dead one's. (A
/// fleet needs leases instead: several live processes share the table.)
#[derive(Debug, Clone)]
pub struct SqlRegistry {
    pool: SqlitePool,
    owner: String,
    held: Arc<Mutex<HashSet<String>>>,
}

/// A claim's state: the key, and whether this job holds it.
struct Held {
    key: String,
    holder: bool,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.holder {
            self.held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&self.key);
        }
    }
}

impl SqlRegistry {
    /// The registry of the database behind `pool`, for process `owner`.
    pub fn new(pool: SqlitePool, owner: impl Into<String>) -> SqlRegistry {
        SqlRegistry {
            pool,
            owner: owner.into(),
            held: Arc::default(),
        }
    }

    fn try_hold(&self, key: &str) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string())
    }

    async fn recorded(&self, key: &str) -> std::io::Result<Option<(RenderHandle, bool)>> {
        let row = sqlx::query("SELECT handle, started FROM renders WHERE clip_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(std::io::Error::other)?;
        Ok(row.and_then(|r| {
            let handle: Option<String> = r.get(0);
            let started: i64 = r.get(1);
            let handle: RenderHandle = serde_json::from_str(&handle?).ok()?;
            Some((handle, started != 0))
        }))
    }
}

#[async_trait::async_trait]
impl RenderRegistry for SqlRegistry {
    async fn claim(&self, request: &ClipRequest) -> std::io::Result<Claim> {
        let key = ClipKey::for_request(request).to_string();
        loop {
            if self.try_hold(&key) {
                let held = Held {
                    key: key.clone(),
                    holder: true,
                    held: self.held.clone(),
                };
                sqlx::query(
                    "INSERT INTO renders (clip_key, owner, claimed_at) VALUES (?, ?, ?) \
                     ON CONFLICT (clip_key) DO UPDATE SET owner = excluded.owner, \
                     claimed_at = excluded.claimed_at",
                )
                .bind(&key)
                .bind(&self.owner)
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(std::io::Error::other)?;
                // A render a dead process recorded is resumed, not paid again.
                let existing = self.recorded(&key).await?;
                return Ok(Claim::new(existing, ClaimToken::new(held)));
            }
            if let Some((handle, _)) = self.recorded(&key).await? {
                // The live holder starts its render itself.
                let held = Held {
                    key: key.clone(),
                    holder: false,
                    held: self.held.clone(),
                };
                return Ok(Claim::new(Some((handle, true)), ClaimToken::new(held)));
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
        sqlx::query(
            "UPDATE renders SET provider = ?, vendor_id = ?, handle = ?, started = ? \
             WHERE clip_key = ? AND owner = ?",
        )
        .bind(&handle.provider)
        .bind(&handle.id)
        .bind(json)
        .bind(started)
        .bind(&held.key)
        .bind(&self.owner)
        .execute(&self.pool)
        .await
        .map_err(std::io::Error::other)?;
        Ok(())
    }

    async fn finished(&self, claim: ClaimToken) -> std::io::Result<()> {
        let Some(held) = claim.into_inner::<Held>() else {
            return Ok(());
        };
        if !held.holder {
            return Ok(());
        }
        sqlx::query("DELETE FROM renders WHERE clip_key = ? AND owner = ?")
            .bind(&held.key)
            .bind(&self.owner)
            .execute(&self.pool)
            .await
            .map_err(std::io::Error::other)?;
        Ok(())
    }
}
