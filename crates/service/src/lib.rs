//! `slidecast-service`: slidecast as an HTTP service (`slidecast serve`).
//!
//! Clients submit a deck (a zipped deck folder, or a deck file and its
//! pictures) and get a job id back at once; a worker in the same process
//! renders the job with the render library while the client follows its
//! progress as Server-Sent Events, then downloads the video, its captions
//! and the render timeline. A web page at `/` does the same in a browser.
//!
//! State lives in one data folder: `state.sqlite` (jobs, progress events,
//! renders in flight, webhook deliveries), `queue.sqlite` (the job queue,
//! apalis), `jobs/<id>/` (upload, journal, outputs) and `cache/` (finished
//! clips, shared by every job). The service holds the folder's lock, so one
//! process serves it; after a crash the next start requeues every job that
//! was running, and each resumes its vendor renders from its journal and the
//! `renders` table instead of paying for them again.
//!
//! ```no_run
//! # async fn demo() -> Result<(), slidecast_service::ServiceError> {
//! let config = slidecast_service::ServiceConfig::builder()
//!     .data_dir("/tmp/slidecast-service")
//!     .build();
//! let service = slidecast_service::Service::start(config).await?;
//! println!("listening on http://{}", service.local_addr());
//! service.serve().await
//! # }
//! ```
//!
//! The API is described in `docs/service.md`.

#![warn(missing_docs)]

mod api;
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

pub use config::{
    default_data_dir, ApiTokens, ServiceConfig, ServiceConfigBuilder, DEFAULT_LISTEN,
};
pub use db::{ApiError, JobState, Problem};
pub use error::ServiceError;
pub use registry::SqlRegistry;
pub use upload::JobOptions;

/// What the API handlers and the worker share.
pub(crate) struct Inner {
    config: ServiceConfig,
    db: db::Db,
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
        if let Some(url) = &self.config.elai_url {
            job = job.provider_setting("elai.url", url);
        }
        if let Some(file) = &self.config.elai_key_file {
            job = job.provider_setting("elai.key_file", file.display().to_string());
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
    listener: tokio::net::TcpListener,
    worker: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("listen", &self.listener.local_addr().ok())
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Check `config`, take the data folder, open the database, requeue
    /// the jobs a previous process left unfinished, start the worker and
    /// bind the port.
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
        let db = db::Db::open(&data.join("state.sqlite")).await?;
        let instance = new_id();

        // The queue has its own file: apalis tunes its connection for
        // throughput (no fsync), which the rows that record money must
        // not share.
        let queue_pool = apalis_sqlite::SqlitePool::connect_with(
            apalis_sqlite::SqliteConnectOptions::new()
                .filename(data.join("queue.sqlite"))
                .create_if_missing(true),
        )
        .await
        .map_err(|e| ServiceError::db("opening the job queue", e))?;
        apalis_sqlite::SqliteStorage::<()>::setup(&queue_pool)
            .await
            .map_err(|e| ServiceError::Queue(format!("setting up: {e}")))?;
        let queue = worker::Queue::new(&queue_pool);

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
        let render_registry = Arc::new(SqlRegistry::new(db.pool().clone(), instance.clone()));
        let (changes, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            cpu: CpuPool::new(config.cores),
            job_slots: Arc::new(tokio::sync::Semaphore::new(config.concurrent_jobs.max(1))),
            config,
            db,
            instance,
            providers,
            elai,
            render_registry,
            running: Mutex::new(HashMap::new()),
            changes,
            queue: queue.clone(),
            _lock: lock,
        });

        // Jobs a dead process held run again, as new generations.
        for (id, generation) in inner.db.requeue_orphans().await? {
            tracing::info!(job = %id, generation, "requeued after a restart");
            worker::enqueue(&inner.queue, &id, generation)
                .await
                .map_err(ServiceError::Queue)?;
        }

        let listener = tokio::net::TcpListener::bind(inner.config.listen)
            .await
            .map_err(|e| {
                ServiceError::Config(format!("cannot listen on {}: {e}", inner.config.listen))
            })?;
        let worker = {
            let inner = inner.clone();
            tokio::spawn(async move {
                if let Err(e) = worker::run_worker(inner, queue).await {
                    tracing::error!("the worker stopped: {e}");
                }
            })
        };
        Ok(Service {
            inner,
            listener,
            worker,
        })
    }

    /// The address it listens on (the port, when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.inner.config.listen)
    }

    /// Answer requests until the process ends.
    pub async fn serve(self) -> Result<(), ServiceError> {
        let app = api::router(self.inner.clone());
        let result = axum::serve(self.listener, app)
            .await
            .map_err(|e| ServiceError::Config(format!("serving: {e}")));
        self.worker.abort();
        result
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
