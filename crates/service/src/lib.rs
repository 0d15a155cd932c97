//! `slidecast-service`: slidecast as an HTTP service (`slidecast serve`).
//!
//! Clients submit a deck (a zipped deck folder, or a deck file and its
//! pictures) and get a job id back at once; a worker in the same process
//! renders the job with the render library while the client follows its
//! progress as Server-Sent Events, then downloads the video, its captions
//! and the render timeline. A web page at `/` does the same in a browser.
//!
//! On one machine, state lives in one data folder: `state.sqlite` (jobs,
//! progress events, renders in flight, webhook deliveries),
//! `state-queue.sqlite` (the job queue, apalis), `blobs/` (uploads, outputs
//! and finished clips), and this process's working copies: `jobs/<id>/`
//! and `cache/` (finished clips). The service holds the folder's lock, so
//! one process serves it; after a crash the next start requeues every job
//! that was running, and each resumes its vendor renders from the `renders`
//! table instead of paying for them again.
//!
//! A fleet shares a PostgreSQL database ([`ServiceConfig::database`]) and
//! an S3 bucket ([`ServiceConfig::blobs`]) between any number of API
//! processes and workers ([`Role`]). A worker holds a job under a lease it
//! renews; when it stops renewing (killed, cut off), any live worker
//! requeues the job and takes it over, and the renders it had started are
//! resumed, not paid again.
//!
//! ```no_run
//! # async fn demo() -> Result<(), slidecast_service::ServiceError> {
//! let config = slidecast_service::ServiceConfig::builder()
//!     .data_dir("/tmp/slidecast-service")
//!     .build();
//! let service = slidecast_service::Service::start(config).await?;
//! if let Some(addr) = service.local_addr() {
//!     println!("listening on http://{addr}");
//! }
//! service.serve().await
//! # }
//! ```
//!
//! The API is described in `docs/service.md`.

#![warn(missing_docs)]

mod api;
mod blobs;
mod config;
mod db;
mod error;
mod registry;
mod upload;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use slidecast_core::AvatarProvider;
use slidecast_elai::ElaiProvider;
use slidecast_render::{CpuPool, ProviderContext, ProviderRegistry, RenderError};
use tokio::sync::{broadcast, Notify};

pub use blobs::Blobs;
pub use config::{
    default_data_dir, ApiTokens, DatabaseUrl, Role, ServiceConfig, ServiceConfigBuilder,
    DEFAULT_LISTEN,
};
pub use db::{ApiError, JobState, Problem};
pub use error::ServiceError;
pub use registry::SqlRegistry;
pub use upload::JobOptions;

/// What the API handlers and the worker share.
pub(crate) struct Inner {
    config: ServiceConfig,
    db: db::Db,
    /// Uploads, outputs and finished clips, shared by every process.
    blobs: Blobs,
    /// This process's clip cache, in front of the blob store.
    clip_cache: slidecast_store::ClipCache,
    /// This process's name in `owner` columns (new at every start).
    instance: String,
    /// The configured providers, `elai` shared by every job.
    providers: ProviderRegistry,
    elai: Arc<SharedElai>,
    render_registry: Arc<SqlRegistry>,
    cpu: CpuPool,
    /// Jobs this process is running, with their cancel signal.
    running: Mutex<HashMap<String, Arc<Notify>>>,
    /// One permit per job that may run at once.
    job_slots: Arc<tokio::sync::Semaphore>,
    /// Job ids whose row or events changed (wakes event streams).
    changes: broadcast::Sender<String>,
    queue: worker::Queue,
    _lock: std::fs::File,
}

impl Inner {
    fn job_dir(&self, id: &str) -> PathBuf {
        self.config.data_dir.join("jobs").join(id)
    }

    /// `job` with the service's provider settings.
    fn configure(&self, mut job: slidecast_render::RenderJob) -> slidecast_render::RenderJob {
        for (name, value) in &self.config.provider_settings {
            job = job.provider_setting(name, value);
        }
        job
    }

    fn changed(&self, id: &str) {
        let _ = self.changes.send(id.to_string());
    }
}

/// One Elai client for every job, so they share its window of renders in
/// flight and a webhook can wake any job's poll. Built on first use: a
/// service without an Elai key still serves the other providers.
struct SharedElai {
    provider: OnceLock<Arc<ElaiProvider>>,
    build: Mutex<()>,
}

impl SharedElai {
    fn get_or_build(&self, ctx: &ProviderContext) -> Result<Arc<ElaiProvider>, RenderError> {
        if let Some(p) = self.provider.get() {
            return Ok(p.clone());
        }
        let _one_at_a_time = self.build.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = self.provider.get() {
            return Ok(p.clone());
        }
        let config = slidecast_render::elai_config(ctx)?;
        let provider =
            Arc::new(
                ElaiProvider::new(config).map_err(|e| RenderError::Credentials {
                    provider: "elai".into(),
                    message: e.to_string(),
                    env: slidecast_elai::API_KEY_ENV.to_string(),
                })?,
            );
        let _ = self.provider.set(provider.clone());
        Ok(provider)
    }
}

/// A started service: its database open, its worker running, its port
/// bound. [`serve`](Service::serve) answers requests.
pub struct Service {
    inner: Arc<Inner>,
    /// `None` for a worker, which listens on nothing.
    listener: Option<tokio::net::TcpListener>,
    /// The worker and the requeuer of dead workers' jobs (none for an API
    /// process).
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("listen", &self.local_addr())
            .field("role", &self.inner.config.role)
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Check `config`, take the data folder, open the database, the blob
    /// store and the queue, requeue the jobs a previous process left
    /// unfinished, start the worker and bind the port (as the role says).
    pub async fn start(config: ServiceConfig) -> Result<Service, ServiceError> {
        config.check()?;
        let data = config.data_dir.clone();
        for dir in [
            data.clone(),
            data.join("jobs"),
            data.join("uploads"),
            data.join("cache"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| ServiceError::io(&dir, e))?;
        }
        let lock = take_lock(&data)?;
        // Uploads a dead process was receiving: nobody else can be (the
        // lock), and no job refers to them.
        clear_folder(&data.join("uploads"))?;
        // The data folder's own database is this process's alone (the
        // lock); a database given by URL may be shared by a fleet.
        let own_database = config.database.is_none();
        let db_url = match &config.database {
            Some(url) => url.expose().to_string(),
            None => db::Db::sqlite_url(&data.join("state.sqlite")),
        };
        let db = db::Db::open(&db_url).await?;
        let blobs = match &config.blobs {
            Some(url) => Blobs::open(url)?,
            None => Blobs::open(&data.join("blobs").display().to_string())?,
        };
        let queue = worker::Queue::open(&db_url)
            .await
            .map_err(ServiceError::Queue)?;
        let clip_cache = slidecast_store::ClipCache::open(data.join("cache"))
            .map_err(|e| ServiceError::Internal(format!("opening the clip cache: {e}")))?;
        let instance = new_id();

        let elai = Arc::new(SharedElai {
            provider: OnceLock::new(),
            build: Mutex::new(()),
        });
        let mut providers = config.providers.clone();
        if providers.contains("elai") {
            let shared = elai.clone();
            providers.register("elai", move |ctx: &ProviderContext| {
                Ok(shared.get_or_build(ctx)? as Arc<dyn AvatarProvider>)
            });
        }
        if providers.contains("local") {
            // The offline presenter renders on this machine's cores: one
            // instance per frame rate for every job, its renders bounded
            // by the service's cores rather than by each job's.
            let base = config.providers.clone();
            let by_fps: Mutex<HashMap<u32, Arc<dyn AvatarProvider>>> = Mutex::default();
            let work = data.join("local");
            let cores = config.cores;
            providers.register("local", move |ctx: &ProviderContext| {
                let mut built = by_fps.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(p) = built.get(&ctx.fps) {
                    return Ok(p.clone());
                }
                let mut shared_ctx = ctx.clone();
                shared_ctx.work_dir = work.join(format!("fps-{}", ctx.fps));
                shared_ctx.parallel_renders = cores;
                let provider = base.build("local", &shared_ctx)?;
                built.insert(ctx.fps, provider.clone());
                Ok(provider)
            });
        }
        let render_registry = Arc::new(
            SqlRegistry::new(db.clone(), instance.clone(), config.lease_secs)
                .share_clips(clip_cache.clone(), blobs.clone()),
        );
        let (changes, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            cpu: CpuPool::new(config.cores),
            job_slots: Arc::new(tokio::sync::Semaphore::new(config.concurrent_jobs.max(1))),
            config,
            db,
            blobs,
            clip_cache,
            instance,
            providers,
            elai,
            render_registry,
            running: Mutex::new(HashMap::new()),
            changes,
            queue: queue.clone(),
            _lock: lock,
        });

        if own_database {
            // Jobs a dead process held run again, as new generations.
            for (id, generation) in inner.db.requeue_orphans(true).await? {
                tracing::info!(job = %id, generation, "requeued after a restart");
                worker::requeued(&inner, &id, generation, "the service restarted").await;
            }
        }

        let role = inner.config.role;
        let listener = if role.serves_api() {
            let listener = tokio::net::TcpListener::bind(inner.config.listen)
                .await
                .map_err(|e| {
                    ServiceError::Config(format!("cannot listen on {}: {e}", inner.config.listen))
                })?;
            Some(listener)
        } else {
            None
        };
        let mut tasks = Vec::new();
        if role.runs_jobs() {
            let worker_inner = inner.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = worker::run_worker(worker_inner, queue).await {
                    tracing::error!("the worker stopped: {e}");
                }
            }));
            tasks.push(tokio::spawn(worker::run_reaper(inner.clone())));
        }
        Ok(Service {
            inner,
            listener,
            tasks,
        })
    }

    /// The address it listens on (the port, when asked for port 0); `None`
    /// for a worker.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Answer requests (an API process) or run jobs (a worker) until the
    /// process ends.
    pub async fn serve(mut self) -> Result<(), ServiceError> {
        let result = match self.listener.take() {
            Some(listener) => {
                let app = api::router(self.inner.clone());
                axum::serve(listener, app)
                    .await
                    .map_err(|e| ServiceError::Config(format!("serving: {e}")))
            }
            None => {
                for task in &mut self.tasks {
                    let _ = task.await;
                }
                Err(ServiceError::Queue("the worker stopped".into()))
            }
        };
        for task in &self.tasks {
            task.abort();
        }
        result
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A random id: 16 hex digits.
fn new_id() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

/// Remove everything inside `dir`.
fn clear_folder(dir: &std::path::Path) -> Result<(), ServiceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ServiceError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| ServiceError::io(dir, e))?.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| ServiceError::io(&path, e))?;
    }
    Ok(())
}

/// The data folder's lock: one service per folder.
fn take_lock(data: &std::path::Path) -> Result<std::fs::File, ServiceError> {
    use fs4::fs_std::FileExt;
    let path = data.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ServiceError::io(&path, e))?;
    match file.try_lock_exclusive() {
        Ok(true) => Ok(file),
        Ok(false) => Err(ServiceError::Config(format!(
            "another slidecast service uses {}; give this one its own --data-dir",
            data.display()
        ))),
        Err(e) => Err(ServiceError::io(&path, e)),
    }
}
