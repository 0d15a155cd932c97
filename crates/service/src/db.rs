//! The service's state: jobs, their progress events, renders in flight and
//! webhook deliveries, in one SQLite file (WAL, `synchronous = FULL`: these
//! rows record money spent at the vendor).
//!
//! Queries are plain runtime `sqlx::query` strings, so the same statements
//! can later run on PostgreSQL without compile-time checking against one
//! dialect.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use crate::error::ServiceError;

/// Schema, applied once per `user_version`.
const SCHEMA: &[&str] = &[r#"
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    created_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    idempotency_key TEXT UNIQUE,
    title TEXT NOT NULL,
    slides INTEGER NOT NULL,
    options TEXT NOT NULL,
    overall REAL NOT NULL DEFAULT 0,
    eta REAL,
    stages TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    video_length REAL,
    owner TEXT,
    fence INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    generation INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    remote_delete INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs(state, created_seq);
CREATE TABLE events (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE renders (
    clip_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    provider TEXT,
    vendor_id TEXT,
    handle TEXT,
    started INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
"#];

/// A job's next event: numbered one past its last.
const INSERT_EVENT: &str = "INSERT INTO events (job_id, seq, data) \
     VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = ?), ?)";

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker is rendering it.
    Running,
    /// The video is ready.
    Succeeded,
    /// It failed; the error says why.
    Failed,
    /// Cancelled on request.
    Cancelled,
}

impl JobState {
    /// Its name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True when nothing more will happen to the job.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            other => return Err(format!("unknown job state `{other}`")),
        })
    }
}

/// A job's typed error, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code (`invalid_deck`, `budget`, ...).
    pub code: String,
    /// What went wrong, naming file, slide and field where there is one.
    pub message: String,
    /// Every deck problem, for `invalid_deck`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One deck problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The deck file, relative to the upload.
    pub file: String,
    /// 1-based slide, when the problem is a slide's.
    pub slide: Option<usize>,
    /// Dotted field path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// One job row.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub state: JobState,
    pub created_at: f64,
    pub updated_at: f64,
    pub title: String,
    pub slides: usize,
    pub options: String,
    pub overall: f64,
    pub eta: Option<f64>,
    pub stages: String,
    pub error: Option<ApiError>,
    pub video_length: Option<f64>,
    pub cancel_requested: bool,
    pub remote_delete: bool,
}

/// A new job.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub title: &'a str,
    pub slides: usize,
    pub options: &'a str,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

const JOB_COLUMNS: &str =
    "id, state, created_at, updated_at, title, slides, options, overall, eta, \
     stages, error, video_length, cancel_requested, remote_delete";

impl Db {
    /// Open (and create or upgrade) the database at `path`.
    pub async fn open(path: &Path) -> Result<Db, ServiceError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| ServiceError::db(format!("opening {}", path.display()), e))?;
        let db = Db { pool };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), ServiceError> {
        let version: i64 = sqlx::query("PRAGMA user_version")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| ServiceError::db("reading the schema version", e))?
            .get(0);
        for (i, step) in SCHEMA.iter().enumerate().skip(version.max(0) as usize) {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|e| ServiceError::db("migrating", e))?;
            sqlx::raw_sql(AssertSqlSafe(*step))
                .execute(&mut *tx)
                .await
                .map_err(|e| ServiceError::db("migrating", e))?;
            sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {}", i + 1)))
                .execute(&mut *tx)
                .await
                .map_err(|e| ServiceError::db("migrating", e))?;
            tx.commit()
                .await
                .map_err(|e| ServiceError::db("migrating", e))?;
        }
        Ok(())
    }

    /// The pool (for the render registry).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Insert a job; with an idempotency key already used, the existing
    /// job's id instead (and `false`).
    pub async fn insert_job(&self, job: &NewJob<'_>) -> Result<(String, bool), ServiceError> {
        if let Some(key) = job.idempotency_key {
            if let Some(id) = self.job_by_key(key).await? {
                return Ok((id, false));
            }
        }
        let t = now();
        let result = sqlx::query(
            "INSERT INTO jobs (id, created_seq, state, created_at, updated_at, idempotency_key, \
             title, slides, options) \
             VALUES (?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM jobs), 'queued', ?, ?, ?, ?, ?, ?)",
        )
        .bind(job.id)
        .bind(t)
        .bind(t)
        .bind(job.idempotency_key)
        .bind(job.title)
        .bind(job.slides as i64)
        .bind(job.options)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok((job.id.to_string(), true)),
            // Two submits with one key at once: the other one won.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => match job.idempotency_key {
                Some(key) => match self.job_by_key(key).await? {
                    Some(id) => Ok((id, false)),
                    None => Err(ServiceError::Internal("idempotency race".into())),
                },
                None => Err(ServiceError::Internal(format!("duplicate job id: {e}"))),
            },
            Err(e) => Err(ServiceError::db("inserting a job", e)),
        }
    }

    /// The job submitted with idempotency key `key`.
    pub async fn job_by_idempotency_key(&self, key: &str) -> Result<Option<JobRow>, ServiceError> {
        match self.job_by_key(key).await? {
            Some(id) => self.job(&id).await,
            None => Ok(None),
        }
    }

    async fn job_by_key(&self, key: &str) -> Result<Option<String>, ServiceError> {
        Ok(sqlx::query("SELECT id FROM jobs WHERE idempotency_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| ServiceError::db("reading a job", e))?
            .map(|r| r.get(0)))
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, ServiceError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ServiceError::db("reading a job", e))?;
        row.map(|r| job_row(&r)).transpose()
    }

    /// Jobs, newest first, optionally in one state.
    pub async fn jobs(
        &self,
        state: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<JobRow>, ServiceError> {
        let rows = match state {
            Some(s) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = ? ORDER BY created_seq DESC LIMIT ?"
            )))
            .bind(s.as_str())
            .bind(limit),
            None => sqlx::query(AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_seq DESC LIMIT ?"
            )))
            .bind(limit),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(|e| ServiceError::db("listing jobs", e))?;
        rows.iter().map(job_row).collect()
    }

    /// Give every unfinished job a new generation and no owner: called at
    /// start, when this process holds the data folder alone, so any owner
    /// recorded is a process that died. Returns `(id, generation)` of each.
    pub async fn requeue_orphans(&self) -> Result<Vec<(String, i64)>, ServiceError> {
        let rows = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'queued' END, \
             owner = NULL, lease_until = NULL, generation = generation + 1, updated_at = ? \
             WHERE state IN ('queued', 'running') RETURNING id, generation, state",
        )
        .bind(now())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| ServiceError::db("requeueing jobs", e))?;
        Ok(rows
            .iter()
            .filter(|r| r.get::<String, _>(2) == "queued")
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Take job `id` for `owner` under a lease, if it is queued (or its
    /// lease ran out). Returns the fence of this hold.
    pub async fn claim_job(
        &self,
        id: &str,
        owner: &str,
        lease_secs: f64,
    ) -> Result<Option<i64>, ServiceError> {
        let t = now();
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', owner = ?, fence = fence + 1, lease_until = ?, \
             updated_at = ? \
             WHERE id = ? AND cancel_requested = 0 AND (state = 'queued' OR \
             (state = 'running' AND (lease_until IS NULL OR lease_until < ?))) \
             RETURNING fence",
        )
        .bind(owner)
        .bind(t + lease_secs)
        .bind(t)
        .bind(id)
        .bind(t)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ServiceError::db("claiming a job", e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Extend the lease; false when the hold is lost (another owner or
    /// fence) or cancel was asked for.
    pub async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        fence: i64,
        lease_secs: f64,
    ) -> Result<bool, ServiceError> {
        let t = now();
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? AND fence = ? \
             AND state = 'running' AND cancel_requested = 0",
        )
        .bind(t + lease_secs)
        .bind(id)
        .bind(owner)
        .bind(fence)
        .execute(&self.pool)
        .await
        .map_err(|e| ServiceError::db("extending a lease", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Record progress of a held job: the event (as the next sequence
    /// number) and the job's overall figures. False when the hold is lost.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_event(
        &self,
        id: &str,
        owner: &str,
        fence: i64,
        data: &str,
        overall: f64,
        eta: Option<f64>,
        stages: &str,
    ) -> Result<bool, ServiceError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| ServiceError::db("recording progress", e))?;
        let held = sqlx::query(
            "UPDATE jobs SET overall = ?, eta = ?, stages = ?, updated_at = ? \
             WHERE id = ? AND owner = ? AND fence = ? AND state = 'running'",
        )
        .bind(overall)
        .bind(eta)
        .bind(stages)
        .bind(now())
        .bind(id)
        .bind(owner)
        .bind(fence)
        .execute(&mut *tx)
        .await
        .map_err(|e| ServiceError::db("recording progress", e))?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(INSERT_EVENT)
            .bind(id)
            .bind(id)
            .bind(data)
            .execute(&mut *tx)
            .await
            .map_err(|e| ServiceError::db("recording progress", e))?;
        tx.commit()
            .await
            .map_err(|e| ServiceError::db("recording progress", e))?;
        Ok(true)
    }

    /// Append one of the service's own events (`event` is the `event`
    /// object: cancelled, failed before the run) to a job whatever its
    /// hold, as a progress line of the `--progress json` shape.
    pub async fn append_event(
        &self,
        id: &str,
        event: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let data =
            serde_json::json!({"at": 0.0, "overall": 0.0, "eta": null, "event": event}).to_string();
        sqlx::query(INSERT_EVENT)
            .bind(id)
            .bind(id)
            .bind(data)
            .execute(&self.pool)
            .await
            .map_err(|e| ServiceError::db("recording progress", e))?;
        Ok(())
    }

    /// End a held job. False when the hold was lost (the write is refused).
    pub async fn finish_job(
        &self,
        id: &str,
        owner: &str,
        fence: i64,
        state: JobState,
        error: Option<&ApiError>,
        video_length: Option<f64>,
    ) -> Result<bool, ServiceError> {
        let error = error
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE jobs SET state = ?, error = ?, video_length = ?, \
             overall = CASE WHEN ? = 'succeeded' THEN 100 ELSE overall END, eta = NULL, \
             owner = NULL, lease_until = NULL, updated_at = ? \
             WHERE id = ? AND owner = ? AND fence = ? AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(video_length)
        .bind(state.as_str())
        .bind(now())
        .bind(id)
        .bind(owner)
        .bind(fence)
        .execute(&self.pool)
        .await
        .map_err(|e| ServiceError::db("finishing a job", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Ask for a job to be cancelled. A queued job is cancelled at once;
    /// a running one when its worker sees the flag. Returns the state now.
    pub async fn request_cancel(
        &self,
        id: &str,
        remote_delete: bool,
    ) -> Result<Option<JobState>, ServiceError> {
        let row = sqlx::query(
            "UPDATE jobs SET cancel_requested = CASE WHEN state IN ('queued', 'running') THEN 1 ELSE cancel_requested END, \
             remote_delete = CASE WHEN ? AND state IN ('queued', 'running', 'cancelled') THEN 1 ELSE remote_delete END, \
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
             updated_at = ? WHERE id = ? RETURNING state",
        )
        .bind(remote_delete)
        .bind(now())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ServiceError::db("cancelling a job", e))?;
        row.map(|r| {
            r.get::<String, _>(0)
                .parse()
                .map_err(ServiceError::Internal)
        })
        .transpose()
    }

    /// Events of a job after sequence number `after`, in order.
    pub async fn events_after(
        &self,
        id: &str,
        after: i64,
    ) -> Result<Vec<(i64, String)>, ServiceError> {
        let rows = sqlx::query(
            "SELECT seq, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT 1000",
        )
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| ServiceError::db("reading events", e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Note a webhook delivery; false when it was seen before.
    pub async fn first_delivery(&self, delivery_id: &str) -> Result<bool, ServiceError> {
        let done = sqlx::query(
            "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES (?, ?) \
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(delivery_id)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| ServiceError::db("recording a webhook delivery", e))?;
        Ok(done.rows_affected() == 1)
    }
}

fn job_row(r: &sqlx::sqlite::SqliteRow) -> Result<JobRow, ServiceError> {
    let state: String = r.get("state");
    let error: Option<String> = r.get("error");
    Ok(JobRow {
        id: r.get("id"),
        state: state.parse().map_err(ServiceError::Internal)?,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        title: r.get("title"),
        slides: r.get::<i64, _>("slides").max(0) as usize,
        options: r.get("options"),
        overall: r.get("overall"),
        eta: r.get("eta"),
        stages: r.get("stages"),
        error: error.and_then(|e| serde_json::from_str(&e).ok()),
        video_length: r.get("video_length"),
        cancel_requested: r.get::<i64, _>("cancel_requested") != 0,
        remote_delete: r.get::<i64, _>("remote_delete") != 0,
    })
}
