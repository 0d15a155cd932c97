//! The worker: takes queued jobs from the job queue (apalis, on SQLite or
//! PostgreSQL beside the database) and renders each with the render
//! library, recording progress in the database as it goes.
//!
//! The queue only wakes the worker; correctness lives in the `jobs` table.
//! A job is run only by the process that holds its row (owner, fence and a
//! lease heartbeated while it runs), so a task delivered twice runs once.
//! Every progress write and the final one carry the fence: a worker that
//! lost the job cannot overwrite its successor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use slidecast_render::events::{EventKind, EventRecord};
use slidecast_render::{Progress, RenderError, RenderJob, StorePolicy};
use tokio::sync::{mpsc, Notify};

use crate::db::{ApiError, JobState, Problem};
use crate::upload::JobOptions;
use crate::Inner;

/// The queued unit of work: run job `job` (its `generation`, so a requeue
/// after a restart is a new task, not a duplicate the queue drops).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunJob {
    /// The job id.
    pub job: String,
    /// The job's generation when this task was queued.
    pub generation: i64,
}

/// The job queue: apalis on the database's engine. It only wakes workers;
/// which job runs where is decided by the `jobs` table.
#[derive(Clone)]
pub enum Queue {
    /// A SQLite file beside the database file (apalis tunes its own
    /// connection for throughput, which the rows that record money must
    /// not share).
    Sqlite(SqliteStorage<RunJob>),
    /// apalis's tables in the PostgreSQL database.
    Postgres(PostgresStorage<RunJob>),
}

impl Queue {
    /// The queue of the database at `url`.
    pub async fn open(url: &str) -> Result<Queue, String> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let db_file = std::path::Path::new(rest.split('?').next().unwrap_or(rest));
            let stem = db_file
                .file_stem()
                .map_or_else(|| "state".into(), |s| s.to_string_lossy());
            let file = db_file.with_file_name(format!("{stem}-queue.sqlite"));
            let pool = apalis_sqlite::SqlitePool::connect_with(
                apalis_sqlite::SqliteConnectOptions::new()
                    .filename(&file)
                    .create_if_missing(true),
            )
            .await
            .map_err(|e| format!("opening {}: {e}", file.display()))?;
            SqliteStorage::<()>::setup(&pool)
                .await
                .map_err(|e| format!("setting up: {e}"))?;
            Ok(Queue::Sqlite(SqliteStorage::new(&pool)))
        } else {
            let pool = sqlx::PgPool::connect(url)
                .await
                .map_err(|e| format!("connecting: {e}"))?;
            PostgresStorage::<()>::setup(&pool)
                .await
                .map_err(|e| format!("setting up: {e}"))?;
            Ok(Queue::Postgres(PostgresStorage::new(&pool)))
        }
    }
}

/// Queue `job` (generation `generation`) for a worker.
pub async fn enqueue(queue: &Queue, job: &str, generation: i64) -> Result<(), String> {
    let task = TaskBuilder::new(RunJob {
        job: job.to_string(),
        generation,
    })
    .idempotency_key(format!("{job}/{generation}"))
    .build();
    match queue.clone() {
        Queue::Sqlite(mut q) => q.push_task(task).await.map_err(|e| e.to_string()),
        Queue::Postgres(mut q) => q.push_task(task).await.map_err(|e| e.to_string()),
    }
}

/// Run the worker until the process ends.
pub async fn run_worker(inner: Arc<Inner>, queue: Queue) -> Result<(), String> {
    // A fresh worker name per process start: the queue recovers a dead
    // process's tasks by its name going silent.
    let name = format!("slidecast-{}", inner.instance);
    // Polled four times a second: a new job starts at once, and pushes from
    // any connection (another API node, a requeue) are seen.
    let every = Duration::from_millis(250);
    match queue {
        Queue::Sqlite(q) => WorkerBuilder::new(name)
            .backend(q.poll_with_interval(every))
            .data(inner)
            .build(handle_task)
            .run()
            .await
            .map_err(|e| e.to_string()),
        Queue::Postgres(q) => WorkerBuilder::new(name)
            .backend(q.poll_with_interval(every))
            .data(inner)
            .build(handle_task)
            .run()
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Requeue, every so often, the jobs whose worker stopped renewing its
/// lease (killed, cut off): any live worker then takes them over.
pub async fn run_reaper(inner: Arc<Inner>) {
    let every = Duration::from_secs_f64((inner.config.lease_secs / 3.0).max(0.5));
    loop {
        tokio::time::sleep(every).await;
        match inner.db.requeue_orphans(false).await {
            Ok(jobs) => {
                for (id, generation) in jobs {
                    tracing::info!(job = %id, generation, "requeued: its worker's lease ran out");
                    requeued(
                        &inner,
                        &id,
                        generation,
                        "its worker stopped renewing its lease",
                    )
                    .await;
                }
            }
            Err(e) => tracing::warn!("looking for orphaned jobs: {e}"),
        }
    }
}

/// Tell job `id`'s followers it runs again (attempt `generation + 1`,
/// because of `reason`) and queue it.
pub async fn requeued(inner: &Inner, id: &str, generation: i64, reason: &str) {
    let event =
        serde_json::json!({"type": "requeued", "attempt": generation + 1, "reason": reason});
    if let Err(e) = inner.db.append_event(id, event).await {
        tracing::warn!(job = %id, "recording the requeue: {e}");
    }
    if let Err(e) = enqueue(&inner.queue, id, generation).await {
        tracing::error!(job = %id, "requeueing: {e}");
    }
    inner.changed(id);
}

/// One delivery: wait for a free job slot (tasks stay queued meanwhile),
/// then run the job on its own task so the next delivery can be taken.
async fn handle_task(task: RunJob, inner: Data<Arc<Inner>>) -> Result<(), BoxDynError> {
    let inner: Arc<Inner> = (*inner).clone();
    let slot = inner.job_slots.clone().acquire_owned().await?;
    tokio::spawn(async move {
        run_job(inner, task.job).await;
        drop(slot);
    });
    Ok(())
}

/// Removes a job from the running set when its run ends, however it ends.
struct Running {
    inner: Arc<Inner>,
    id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// Run job `id` if this process can take it.
pub async fn run_job(inner: Arc<Inner>, id: String) {
    let id = id.as_str();
    let cancel = Arc::new(Notify::new());
    {
        let mut running = inner.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(id) {
            tracing::debug!(job = id, "already running here: duplicate delivery ignored");
            return;
        }
        running.insert(id.to_string(), cancel.clone());
    }
    let _running = Running {
        inner: inner.clone(),
        id: id.to_string(),
    };
    let fence = match inner
        .db
        .claim_job(id, &inner.instance, inner.config.lease_secs)
        .await
    {
        Ok(Some(fence)) => fence,
        Ok(None) => {
            tracing::debug!(job = id, "not claimable (finished, cancelled or held)");
            return;
        }
        Err(e) => {
            tracing::error!(job = id, "cannot claim: {e}");
            return;
        }
    };
    inner.changed(id);
    tracing::info!(job = id, fence, "running");
    let hold = Hold {
        inner: inner.clone(),
        id: id.to_string(),
        fence,
    };
    let outcome = hold.run(cancel).await;
    inner.changed(id);
    tracing::info!(job = id, ?outcome, "ended");
}

/// How a run ended.
#[derive(Debug)]
enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    /// The job's row is no longer ours: stop without writing.
    Lost,
}

struct Hold {
    inner: Arc<Inner>,
    id: String,
    fence: i64,
}

impl Hold {
    async fn run(&self, cancel: Arc<Notify>) -> Outcome {
        let job = match self.build_job().await {
            Ok(job) => job,
            Err(error) => return self.fail(error, None).await,
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
        let job = job.events(tx);
        let lost = Arc::new(Notify::new());

        // Progress into the database, in order, with the fence. The job
        // keeps its event sender, so the end of the run is signalled apart;
        // every event of the run is in the channel by then.
        let (run_over, mut run_over_rx) = tokio::sync::oneshot::channel::<()>();
        let recorder = {
            let mut recorder = Recorder {
                inner: self.inner.clone(),
                id: self.id.clone(),
                fence: self.fence,
                stages: BTreeMap::new(),
                failed_event: false,
            };
            let lost = lost.clone();
            tokio::spawn(async move {
                loop {
                    let p = tokio::select! {
                        p = rx.recv() => p,
                        _ = &mut run_over_rx => {
                            while let Ok(p) = rx.try_recv() {
                                if !recorder.record(&p).await {
                                    lost.notify_one();
                                    break;
                                }
                            }
                            break;
                        }
                    };
                    let Some(p) = p else { break };
                    if !recorder.record(&p).await {
                        lost.notify_one();
                        break;
                    }
                }
                recorder.failed_event
            })
        };

        // The lease, renewed while the job runs; a refused renewal (lost
        // hold or a cancel request from another API node) ends the run.
        let heartbeat = {
            let inner = self.inner.clone();
            let id = self.id.clone();
            let fence = self.fence;
            let lost = lost.clone();
            let cancel = cancel.clone();
            let lease = self.inner.config.lease_secs;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs_f64(lease / 6.0)).await;
                    match inner.db.heartbeat(&id, &inner.instance, fence, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            match inner.db.job(&id).await {
                                Ok(Some(row)) if row.cancel_requested => cancel.notify_one(),
                                _ => lost.notify_one(),
                            }
                            break;
                        }
                        Err(e) => tracing::warn!(job = %id, "lease: {e}"),
                    }
                }
            })
        };

        let result = tokio::select! {
            r = job.run() => Some(r),
            _ = cancel.notified() => None,
            _ = lost.notified() => {
                heartbeat.abort();
                return Outcome::Lost;
            }
        };
        heartbeat.abort();
        let _ = run_over.send(());
        let failed_event = recorder.await.unwrap_or(false);
        match result {
            None => self.cancelled(&job).await,
            Some(Ok(outcome)) => {
                // The outputs go where every API node finds them before
                // the job is marked done.
                let out = self.inner.job_dir(&self.id).join("out");
                if let Err(e) = self
                    .inner
                    .blobs
                    .put_dir(&format!("jobs/{}/out", self.id), &out)
                    .await
                {
                    return self
                        .fail(internal(format!("storing the outputs: {e}")), Some(false))
                        .await;
                }
                let length = outcome.video_length.as_secs_f64();
                self.finish(JobState::Succeeded, None, Some(length)).await
            }
            Some(Err(e)) => {
                let error = api_error(&e, &self.inner.job_dir(&self.id).join("input"));
                self.fail(error, Some(failed_event)).await
            }
        }
    }

    async fn build_job(&self) -> Result<RenderJob, ApiError> {
        let inner = &self.inner;
        let row = inner
            .db
            .job(&self.id)
            .await
            .map_err(|e| internal(e.to_string()))?
            .ok_or_else(|| internal("the job row is gone".into()))?;
        let options: JobOptions = serde_json::from_str(&row.options)
            .map_err(|e| internal(format!("stored options: {e}")))?;
        let dir = inner.job_dir(&self.id);
        // The upload, from the blob store unless it was received here.
        if !dir.join("input").is_dir() {
            inner
                .blobs
                .get_dir(&format!("jobs/{}/input", self.id), &dir.join("input"))
                .await
                .map_err(|e| internal(format!("fetching the upload: {e}")))?;
        }
        let deck_file = crate::upload::find_deck(&dir.join("input")).map_err(|e| ApiError {
            code: "invalid_deck".into(),
            message: e.0,
            problems: Vec::new(),
        })?;
        let load = inner.config.providers.load_options();
        let deck = {
            let deck_file = deck_file.clone();
            tokio::task::spawn_blocking(move || slidecast_core::Deck::load_with(&deck_file, &load))
                .await
                .map_err(|e| internal(e.to_string()))?
                .map_err(|e| api_error(&RenderError::Deck(e), &dir.join("input")))?
        };
        self.fetch_shared_clips(&deck).await;
        let out = dir.join("out");
        tokio::fs::create_dir_all(&out)
            .await
            .map_err(|e| internal(format!("{}: {e}", out.display())))?;
        let schedule = options.schedule().map_err(|e| internal(e.0))?;
        let mut job = RenderJob::new(deck, out.join("video.mp4"))
            .registry(inner.providers.clone())
            .store(
                StorePolicy::default()
                    .cache_dir(inner.clip_cache.dir())
                    .state_dir(dir.join("state")),
            )
            .work_dir(dir.join("work"))
            .timeline(out.join("timeline.svg"))
            .schedule(schedule)
            .jobs(inner.config.cores)
            .cpu_pool(inner.cpu.clone())
            .render_registry(inner.render_registry.clone());
        job = inner.configure(job);
        if let Some(p) = &options.provider {
            job = job.provider(p);
        }
        if let Some(max) = options.max_minutes {
            job = job.max_minutes(max);
        }
        for (vendor, max) in &options.max_cost {
            job = job.max_cost(vendor, *max);
        }
        if options.captions == Some(false) {
            job = job.captions(slidecast_render::CaptionOptions {
                files: false,
                track: false,
                burn: None,
            });
        }
        Ok(job)
    }

    /// Copy into this worker's clip cache the deck's clips another worker
    /// finished and shared, so the run takes them from the cache.
    async fn fetch_shared_clips(&self, deck: &slidecast_core::Deck) {
        let cache = &self.inner.clip_cache;
        // The deck as submitted: a narration the run splits into parts is
        // not split yet, so its parts are not fetched here; the render
        // registry still shares their renders (no second create).
        for request in deck.slides.iter().flat_map(|s| s.clip_requests(deck)) {
            let key = slidecast_store::ClipKey::for_request(&request);
            if cache.peek(&key).is_some() {
                continue;
            }
            let staged = cache.dir().join(format!(".shared-{key}.mp4"));
            match self
                .inner
                .blobs
                .get_file(&crate::registry::clip_blob(&key), &staged)
                .await
            {
                Ok(true) => {
                    let origin = slidecast_store::ClipOrigin {
                        request,
                        vendor_id: None,
                    };
                    if let Err(e) = cache.adopt(&key, &staged, origin) {
                        tracing::warn!(clip = %key.short(), "caching a shared clip: {e}");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(clip = %key.short(), "fetching a shared clip: {e}"),
            }
        }
    }

    async fn finish(
        &self,
        state: JobState,
        error: Option<&ApiError>,
        length: Option<f64>,
    ) -> Outcome {
        match self
            .inner
            .db
            .finish_job(
                &self.id,
                &self.inner.instance,
                self.fence,
                state,
                error,
                length,
            )
            .await
        {
            Ok(true) => match state {
                JobState::Succeeded => Outcome::Succeeded,
                JobState::Cancelled => Outcome::Cancelled,
                _ => Outcome::Failed,
            },
            Ok(false) => Outcome::Lost,
            Err(e) => {
                tracing::error!(job = %self.id, "cannot record the end: {e}");
                Outcome::Lost
            }
        }
    }

    /// Record a failure; `failed_event`: whether the run already sent its
    /// own `failed` event (else one is added, so every stream ends with
    /// the reason).
    async fn fail(&self, error: ApiError, failed_event: Option<bool>) -> Outcome {
        if failed_event != Some(true) {
            let event = serde_json::json!(
                {"type": "failed", "slide": null, "reason": error.message}
            );
            if let Err(e) = self.inner.db.append_event(&self.id, event).await {
                tracing::warn!(job = %self.id, "recording the failure event: {e}");
            }
        }
        self.finish(JobState::Failed, Some(&error), None).await
    }

    async fn cancelled(&self, job: &RenderJob) -> Outcome {
        let remote = matches!(self.inner.db.job(&self.id).await, Ok(Some(r)) if r.remote_delete);
        if remote {
            match job.cancel_remote().await {
                Ok(results) => {
                    for r in results {
                        if let Err(e) = r.result {
                            tracing::warn!(job = %self.id, render = %r.handle.id, "not deleted: {e}");
                        }
                    }
                }
                Err(e) => tracing::warn!(job = %self.id, "deleting renders: {e}"),
            }
        }
        let event = serde_json::json!({"type": "cancelled", "remote_deleted": remote});
        if let Err(e) = self.inner.db.append_event(&self.id, event).await {
            tracing::warn!(job = %self.id, "recording the cancel event: {e}");
        }
        self.finish(JobState::Cancelled, None, None).await
    }
}

/// Writes one job's progress events.
struct Recorder {
    inner: Arc<Inner>,
    id: String,
    fence: i64,
    stages: BTreeMap<usize, &'static str>,
    failed_event: bool,
}

impl Recorder {
    /// Record `p`; false when the job's hold is lost.
    async fn record(&mut self, p: &Progress) -> bool {
        let record = EventRecord::from(p);
        if let Some((slide, stage)) = stage_of(&record.event) {
            self.stages.insert(slide, stage);
        }
        self.failed_event |= matches!(record.event, EventKind::Failed { .. });
        let mut value = serde_json::to_value(&record).unwrap_or_default();
        // The server's own paths stay inside: a finished job's output is
        // its download link.
        if matches!(record.event, EventKind::Finished { .. }) {
            value["event"]["output"] = serde_json::json!(format!("/v1/jobs/{}/video", self.id));
        }
        let stages = serde_json::to_string(&self.stages).unwrap_or_default();
        match self
            .inner
            .db
            .record_event(
                &self.id,
                &self.inner.instance,
                self.fence,
                &value
                    .to_string()
                    .replace(&format!("{}/", self.inner.job_dir(&self.id).display()), ""),
                f64::from(record.overall),
                record.eta,
                &stages,
            )
            .await
        {
            Ok(true) => {
                self.inner.changed(&self.id);
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(job = %self.id, "recording progress: {e}");
                true
            }
        }
    }
}

/// The stage a progress event puts its slide in.
fn stage_of(event: &EventKind) -> Option<(usize, &'static str)> {
    Some(match event {
        EventKind::Initiated { slide, .. } => (*slide, "initiated"),
        EventKind::Rendering { slide, .. } => (*slide, "rendering"),
        EventKind::Ready { slide } => (*slide, "ready"),
        EventKind::Fetched { slide, .. } => (*slide, "fetched"),
        EventKind::Prepared { slide } => (*slide, "prepared"),
        EventKind::Composing { slide } => (*slide, "composing"),
        EventKind::Composed { slide, .. } => (*slide, "composed"),
        EventKind::Failed {
            slide: Some(slide), ..
        } => (*slide, "failed"),
        _ => return None,
    })
}

fn internal(message: String) -> ApiError {
    ApiError {
        code: "internal".into(),
        message,
        problems: Vec::new(),
    }
}

/// A render error as the API shows it; deck files are named relative to
/// the upload, so no server path leaks.
pub fn api_error(e: &RenderError, input_dir: &std::path::Path) -> ApiError {
    // Messages name files relative to the upload: no server path leaks.
    let prefix = format!("{}/", input_dir.display());
    let relative =
        |p: &std::path::Path| p.strip_prefix(input_dir).unwrap_or(p).display().to_string();
    let (code, problems) = match e {
        RenderError::Deck(slidecast_core::DeckError::Invalid(problems)) => (
            "invalid_deck",
            problems
                .iter()
                .map(|p| Problem {
                    file: relative(&p.file),
                    slide: p.slide,
                    field: p.field.clone(),
                    message: p.message.replace(&prefix, ""),
                })
                .collect(),
        ),
        RenderError::Deck(_) => ("invalid_deck", Vec::new()),
        RenderError::UnknownProvider { .. } => ("unknown_provider", Vec::new()),
        RenderError::Credentials { .. } => ("credentials", Vec::new()),
        RenderError::ProviderSetup { .. } => ("provider_setup", Vec::new()),
        RenderError::MissingTool { .. } => ("missing_tool", Vec::new()),
        RenderError::Budget(_) => ("budget", Vec::new()),
        RenderError::Run(slidecast_core::Error::Rejected { .. }) => ("rejected", Vec::new()),
        RenderError::Run(slidecast_core::Error::Provider { .. }) => ("provider", Vec::new()),
        RenderError::Run(_) => ("render", Vec::new()),
        _ => ("internal", Vec::new()),
    };
    let message = e
        .to_string()
        .replace(&format!("{}/", input_dir.display()), "");
    ApiError {
        code: code.into(),
        message,
        problems,
    }
}
