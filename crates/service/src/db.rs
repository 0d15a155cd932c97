//! The service's state: jobs, their progress events, renders in flight and
//! webhook deliveries, in one SQLite file (WAL, `synchronous = FULL`: these
//! rows record money spent at the vendor).
//!
//! Queries are plain runtime `sqlx::query` strings, so the same statements
//! can later run on PostgreSQL without compile-time checking against one
//! dialect.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

use crate::error::ServiceError;

/// The schema, one step per version; `{real}` and `{int}` are the
/// dialect's floating-point and 64-bit integer types.
const SCHEMA: &[&str] = &[
    r#"
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    created_seq {int} NOT NULL,
    state TEXT NOT NULL,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    idempotency_key TEXT UNIQUE,
    title TEXT NOT NULL,
    slides {int} NOT NULL,
    options TEXT NOT NULL,
    overall {real} NOT NULL DEFAULT 0,
    eta {real},
    stages TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    video_length {real},
    owner TEXT,
    fence {int} NOT NULL DEFAULT 0,
    lease_until {real},
    generation {int} NOT NULL DEFAULT 0,
    cancel_requested {int} NOT NULL DEFAULT 0,
    remote_delete {int} NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs(state, created_seq);
CREATE TABLE events (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    seq {int} NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE renders (
    clip_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    claimed_at {real} NOT NULL,
    provider TEXT,
    vendor_id TEXT,
    handle TEXT,
    started {int} NOT NULL DEFAULT 0
);
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at {real} NOT NULL
);
"#,
    // Renders held under a lease (several processes share the table) and
    // kept once finished, so a late claimant attaches instead of paying.
    r#"
ALTER TABLE renders ADD COLUMN lease_until {real};
ALTER TABLE renders ADD COLUMN done {int} NOT NULL DEFAULT 0;
"#,
];

/// A job's next event: numbered one past its last.
const INSERT_EVENT: &str = "INSERT INTO events (job_id, seq, data) \
     VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = $1), $2)";

/// The SQL dialect behind a [`Db`]: the few things that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL (a fleet).
    Postgres,
}

impl Dialect {
    /// The database's clock, seconds since the Unix epoch: leases are
    /// compared against one clock, whichever machine writes.
    fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => "((julianday('now') - 2440587.5) * 86400.0)",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION)",
        }
    }

    /// `template` with `{now}`, `{real}` and `{int}` spelled for this
    /// dialect.
    pub fn sql(self, template: &str) -> String {
        let (real, int) = match self {
            Dialect::Sqlite => ("REAL", "INTEGER"),
            Dialect::Postgres => ("DOUBLE PRECISION", "BIGINT"),
        };
        template
            .replace("{now}", self.now())
            .replace("{real}", real)
            .replace("{int}", int)
    }
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
    /// How many times the job was requeued (a restart, a dead worker).
    pub generation: i64,
}

/// A new job.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub title: &'a str,
    pub slides: usize,
    pub options: &'a str,
}

/// The database: SQLite or PostgreSQL through one pool and one set of
/// statements (`$N` parameters work on both).
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

const JOB_COLUMNS: &str =
    "id, state, created_at, updated_at, title, slides, options, overall, eta, \
     stages, error, video_length, cancel_requested, remote_delete, generation";

impl Db {
    /// Open (and create or upgrade) the database at `url`: `sqlite://PATH`
    /// or `postgres://...`.
    pub async fn open(url: &str) -> Result<Db, ServiceError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(ServiceError::Config(
                "--database takes sqlite://PATH or postgres://USER@HOST/DB".into(),
            ));
        };
        // A SQLite file named by the user is created when missing, as the
        // data folder's own is.
        let url = if dialect == Dialect::Sqlite && !url.contains("mode=") {
            let join = if url.contains('?') { '&' } else { '?' };
            format!("{url}{join}mode=rwc")
        } else {
            url.to_string()
        };
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e| ServiceError::db("reading the database URL", e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 4,
                Dialect::Postgres => 8,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL and a full fsync per commit: these rows
                        // record money spent at the vendor.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| ServiceError::db("opening the database", e))?;
        let db = Db { pool, dialect };
        db.migrate().await?;
        Ok(db)
    }

    /// The `sqlite://` URL of the database file `path` ([`Db::open`]
    /// creates it if missing).
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}", path.display())
    }

    /// Its dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `template` spelled for this database (see [`Dialect::sql`]).
    pub fn sql(&self, template: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(self.dialect.sql(template))
    }

    async fn migrate(&self) -> Result<(), ServiceError> {
        let err = |e| ServiceError::db("migrating", e);
        // One process migrates at a time: SQLite takes the write lock at
        // BEGIN IMMEDIATE, PostgreSQL an advisory lock for the transaction.
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
        .map_err(err)?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7355787)")
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        sqlx::raw_sql(
            self.sql("CREATE TABLE IF NOT EXISTS slidecast_schema (version {int} NOT NULL)"),
        )
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let recorded: Option<i64> = sqlx::query("SELECT version FROM slidecast_schema")
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
            .map(|r| r.get(0));
        let version = match recorded {
            Some(v) => v,
            None => {
                // A database of the first release kept its version in
                // SQLite's user_version.
                let legacy: i64 = match self.dialect {
                    Dialect::Sqlite => sqlx::query("PRAGMA user_version")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(err)?
                        .get(0),
                    Dialect::Postgres => 0,
                };
                sqlx::query("INSERT INTO slidecast_schema (version) VALUES ($1)")
                    .bind(legacy)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                legacy
            }
        };
        for (i, step) in SCHEMA.iter().enumerate().skip(version.max(0) as usize) {
            sqlx::raw_sql(self.sql(step))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            sqlx::query("UPDATE slidecast_schema SET version = $1")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(())
    }

    /// The pool (for the render registry).
    pub fn pool(&self) -> &AnyPool {
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
        let result = sqlx::query(self.sql(
            "INSERT INTO jobs (id, created_seq, state, created_at, updated_at, idempotency_key, \
             title, slides, options) \
             VALUES ($1, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM jobs), 'queued', {now}, {now}, \
             $2, $3, $4, $5)",
        ))
        .bind(job.id)
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
        Ok(
            sqlx::query("SELECT id FROM jobs WHERE idempotency_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| ServiceError::db("reading a job", e))?
                .map(|r| r.get(0)),
        )
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, ServiceError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
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
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = $1 ORDER BY created_seq DESC LIMIT $2"
            )))
            .bind(s.as_str())
            .bind(limit),
            None => sqlx::query(AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_seq DESC LIMIT $1"
            )))
            .bind(limit),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(|e| ServiceError::db("listing jobs", e))?;
        rows.iter().map(job_row).collect()
    }

    /// Give unfinished jobs a new generation and no owner, so they run
    /// again: with `all`, every one (at start, when this process holds the
    /// database alone, so any owner recorded is a process that died);
    /// otherwise only running jobs whose lease ran out (their worker died
    /// or was cut off). Returns `(id, generation)` of each job to queue.
    pub async fn requeue_orphans(&self, all: bool) -> Result<Vec<(String, i64)>, ServiceError> {
        let which = if all {
            "state IN ('queued', 'running')"
        } else {
            "state = 'running' AND lease_until < {now}"
        };
        let rows = sqlx::query(self.sql(&format!(
            "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'queued' END, \
             owner = NULL, lease_until = NULL, generation = generation + 1, updated_at = {{now}} \
             WHERE {which} RETURNING id, generation, state"
        )))
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
        let row = sqlx::query(self.sql(
            "UPDATE jobs SET state = 'running', owner = $1, fence = fence + 1, \
             lease_until = {now} + $2, updated_at = {now} \
             WHERE id = $3 AND cancel_requested = 0 AND (state = 'queued' OR \
             (state = 'running' AND (lease_until IS NULL OR lease_until < {now}))) \
             RETURNING fence",
        ))
        .bind(owner)
        .bind(lease_secs)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| ServiceError::db("claiming a job", e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Extend the lease; false when the hold is lost (another owner or
    /// fence, or the lease ran out) or cancel was asked for.
    pub async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        fence: i64,
        lease_secs: f64,
    ) -> Result<bool, ServiceError> {
        let done = sqlx::query(self.sql(
            "UPDATE jobs SET lease_until = {now} + $1 WHERE id = $2 AND owner = $3 AND fence = $4 \
             AND state = 'running' AND cancel_requested = 0 AND lease_until >= {now}",
        ))
        .bind(lease_secs)
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
        let err = |e| ServiceError::db("recording progress", e);
        for attempt in 1.. {
            let mut tx = self.pool.begin().await.map_err(err)?;
            let held = sqlx::query(self.sql(
                "UPDATE jobs SET overall = $1, eta = $2, stages = $3, updated_at = {now} \
                 WHERE id = $4 AND owner = $5 AND fence = $6 AND state = 'running'",
            ))
            .bind(overall)
            .bind(eta)
            .bind(stages)
            .bind(id)
            .bind(owner)
            .bind(fence)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            if held.rows_affected() != 1 {
                return Ok(false);
            }
            match sqlx::query(INSERT_EVENT)
                .bind(id)
                .bind(data)
                .execute(&mut *tx)
                .await
            {
                Ok(_) => {}
                // Another writer took the number (PostgreSQL runs both at
                // once): number it again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 5 => continue,
                Err(e) => return Err(err(e)),
            }
            tx.commit().await.map_err(err)?;
            break;
        }
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
        for attempt in 1.. {
            match sqlx::query(INSERT_EVENT)
                .bind(id)
                .bind(&data)
                .execute(&self.pool)
                .await
            {
                Ok(_) => break,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempt < 5 => {}
                Err(e) => return Err(ServiceError::db("recording progress", e)),
            }
        }
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
        let done = sqlx::query(self.sql(
            "UPDATE jobs SET state = $1, error = $2, video_length = $3, \
             overall = CASE WHEN $1 = 'succeeded' THEN 100.0 ELSE overall END, eta = NULL, \
             owner = NULL, lease_until = NULL, updated_at = {now} \
             WHERE id = $4 AND owner = $5 AND fence = $6 AND state = 'running'",
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(video_length)
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
        let row = sqlx::query(self.sql(
            "UPDATE jobs SET cancel_requested = CASE WHEN state IN ('queued', 'running') THEN 1 ELSE cancel_requested END, \
             remote_delete = CASE WHEN $1 = 1 AND state IN ('queued', 'running', 'cancelled') THEN 1 ELSE remote_delete END, \
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
             updated_at = {now} WHERE id = $2 RETURNING state",
        ))
        .bind(i64::from(remote_delete))
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
            "SELECT seq, data FROM events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
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
        let done = sqlx::query(self.sql(
            "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, {now}) \
             ON CONFLICT (delivery_id) DO NOTHING",
        ))
        .bind(delivery_id)
        .execute(&self.pool)
        .await
        .map_err(|e| ServiceError::db("recording a webhook delivery", e))?;
        Ok(done.rows_affected() == 1)
    }
}

fn job_row(r: &AnyRow) -> Result<JobRow, ServiceError> {
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
        generation: r.get("generation"),
    })
}

#[cfg(test)]
mod tests {
    //! The job-row contract, on SQLite and on PostgreSQL.

    use super::*;
    use slidecast_tests::backends::{urls, Backends};

    async fn open(backends: Backends, dir: &std::path::Path) -> Db {
        let (url, _) = urls(backends, dir);
        Db::open(&url).await.expect("the database opens")
    }

    async fn new_job(db: &Db, id: &str) {
        db.insert_job(&NewJob {
            id,
            idempotency_key: None,
            title: "t",
            slides: 1,
            options: "{}",
        })
        .await
        .unwrap();
    }

    async fn stale_owner_is_refused(backends: Backends) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(backends, dir.path()).await;
        new_job(&db, "j1").await;
        let a = db.claim_job("j1", "worker-a", 1.0).await.unwrap().unwrap();
        // While A's lease runs, a duplicate delivery finds the job held.
        assert_eq!(db.claim_job("j1", "worker-b", 1.0).await.unwrap(), None);
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        // A went silent: its lease is over by the database's clock.
        assert!(!db.heartbeat("j1", "worker-a", a, 1.0).await.unwrap());
        assert_eq!(db.requeue_orphans(false).await.unwrap().len(), 1);
        let b = db.claim_job("j1", "worker-b", 30.0).await.unwrap().unwrap();
        assert!(b > a, "the fence moves on: {a} then {b}");
        // A's progress and final write are refused; B's are taken.
        assert!(!db
            .record_event("j1", "worker-a", a, "{}", 50.0, None, "{}")
            .await
            .unwrap());
        assert!(!db
            .finish_job("j1", "worker-a", a, JobState::Succeeded, None, Some(1.0))
            .await
            .unwrap());
        assert!(db
            .record_event("j1", "worker-b", b, "{}", 60.0, None, "{}")
            .await
            .unwrap());
        assert!(db
            .finish_job("j1", "worker-b", b, JobState::Succeeded, None, Some(1.0))
            .await
            .unwrap());
        let row = db.job("j1").await.unwrap().unwrap();
        assert_eq!(row.state, JobState::Succeeded);
        assert_eq!(db.events_after("j1", 0).await.unwrap().len(), 1);
    }

    async fn a_live_owner_keeps_its_job(backends: Backends) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(backends, dir.path()).await;
        new_job(&db, "j2").await;
        let fence = db.claim_job("j2", "worker-a", 30.0).await.unwrap().unwrap();
        // Redelivered (the queue's own recovery, a second API push): the
        // job stays with its owner and nothing is requeued.
        for _ in 0..3 {
            assert_eq!(db.claim_job("j2", "worker-b", 30.0).await.unwrap(), None);
        }
        assert!(db.requeue_orphans(false).await.unwrap().is_empty());
        assert!(db.heartbeat("j2", "worker-a", fence, 30.0).await.unwrap());
    }

    async fn events_number_in_order_under_concurrent_writers(backends: Backends) {
        let dir = tempfile::tempdir().unwrap();
        let db = open(backends, dir.path()).await;
        new_job(&db, "j3").await;
        let writes = (0..20).map(|i| {
            let db = db.clone();
            async move {
                db.append_event("j3", serde_json::json!({"type": "note", "i": i}))
                    .await
            }
        });
        for r in futures_util::future::join_all(writes).await {
            r.unwrap();
        }
        let seqs: Vec<i64> = db
            .events_after("j3", 0)
            .await
            .unwrap()
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn sqlite_a_stale_owner_is_refused() {
        stale_owner_is_refused(Backends::Embedded).await;
    }
    #[tokio::test]
    async fn postgres_a_stale_owner_is_refused() {
        stale_owner_is_refused(Backends::Cloud).await;
    }
    #[tokio::test]
    async fn sqlite_a_live_owner_keeps_its_job() {
        a_live_owner_keeps_its_job(Backends::Embedded).await;
    }
    #[tokio::test]
    async fn postgres_a_live_owner_keeps_its_job() {
        a_live_owner_keeps_its_job(Backends::Cloud).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_events_number_in_order_under_concurrent_writers() {
        events_number_in_order_under_concurrent_writers(Backends::Embedded).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_events_number_in_order_under_concurrent_writers() {
        events_number_in_order_under_concurrent_writers(Backends::Cloud).await;
    }
}
