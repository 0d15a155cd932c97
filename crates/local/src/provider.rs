//! [`LocalProvider`]: the local presenter behind the same
//! [`AvatarProvider`] interface as a vendor.
//!
//! `initiate` validates the request, registers a render and returns its
//! handle at once; the render itself runs as a background task that waits
//! for a CPU slot (a semaphore sized to the cores), synthesizes the speech
//! with espeak-ng as an async child process, then draws and encodes on a
//! blocking thread. Finished clips stay in the provider's work directory
//! until fetched copies are made. A handle carries its request, so a
//! handle from an earlier run (read back from the scheduler's journal)
//! renders again instead of being lost.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use slidecast_core::{
    AvatarProvider, ClipRequest, PermanentKind, ProviderError, ProviderLimits, RenderHandle,
    RenderStatus,
};
use tokio::sync::Semaphore;

use crate::avatar::stable_hash;
use crate::clip::{check_canvas, render_speech, RenderOptions};
use crate::error::LocalError;
use crate::speech::{synthesize, voice_for_request};

/// The provider's name, as written in decks.
pub const NAME: &str = "local";

/// How the local provider is set up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalConfig {
    /// How each clip is made (fps, espeak-ng, encoder settings).
    pub render: RenderOptions,
    /// Where finished clips are kept. `None`: a temporary directory owned
    /// by the provider and removed with it.
    pub work_dir: Option<PathBuf>,
    /// Clips rendered at once. `None`: the number of CPU cores.
    pub parallel_renders: Option<usize>,
}

/// The offline default presenter (see the [crate docs](crate)).
pub struct LocalProvider {
    inner: Arc<Inner>,
}

struct Inner {
    render: RenderOptions,
    work_dir: PathBuf,
    /// Keeps the default work directory alive as long as the provider.
    _owned_dir: Option<tempfile::TempDir>,
    cpu: Arc<Semaphore>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    /// Renders cancelled by this provider: their handles must not render
    /// again through the resume path.
    cancelled: Mutex<HashSet<String>>,
    next_id: AtomicU64,
}

struct Job {
    clip: PathBuf,
    state: Mutex<JobState>,
    frames_done: AtomicUsize,
    frames_total: AtomicUsize,
    cancel: Arc<AtomicBool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Job {
    fn new(clip: PathBuf, state: JobState) -> Job {
        Job {
            clip,
            state: Mutex::new(state),
            frames_done: AtomicUsize::new(0),
            frames_total: AtomicUsize::new(0),
            cancel: Arc::new(AtomicBool::new(false)),
            task: Mutex::new(None),
        }
    }
}

#[derive(Debug, Clone)]
enum JobState {
    /// Waiting for a CPU slot.
    Queued,
    Rendering {
        started: Instant,
    },
    Ready,
    /// A deterministic local failure: reported as an error by `status`.
    Error(ProviderError),
    /// The render task died (a bug): reported as a failed render, which the
    /// scheduler may resubmit.
    Crashed(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the data half-updated
    // (every critical section is a single assignment), so poisoning is moot.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LocalProvider {
    /// A provider with `config`, creating its work directory.
    pub fn new(config: LocalConfig) -> Result<LocalProvider, LocalError> {
        let (work_dir, owned) = match config.work_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir).map_err(|e| LocalError::io(&dir, e))?;
                (dir, None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("slidecast-local-")
                    .tempdir()
                    .map_err(|e| LocalError::io(std::env::temp_dir(), e))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let parallel = config
            .parallel_renders
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        Ok(LocalProvider {
            inner: Arc::new(Inner {
                render: config.render,
                work_dir,
                _owned_dir: owned,
                cpu: Arc::new(Semaphore::new(parallel)),
                jobs: Mutex::new(HashMap::new()),
                cancelled: Mutex::new(HashSet::new()),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// A provider with the default settings.
    pub fn with_defaults() -> Result<LocalProvider, LocalError> {
        LocalProvider::new(LocalConfig::default())
    }

    /// Where finished clips are kept.
    pub fn work_dir(&self) -> &Path {
        &self.inner.work_dir
    }

    /// Check that espeak-ng can be found (for a set-up check before a run);
    /// returns its path.
    pub fn check_espeak(&self) -> Result<PathBuf, LocalError> {
        self.inner.render.espeak.resolve_program()
    }

    fn clip_path(&self, id: &str) -> PathBuf {
        self.inner.work_dir.join(format!("{id}.mp4"))
    }

    fn job(&self, id: &str) -> Option<Arc<Job>> {
        lock(&self.inner.jobs).get(id).cloned()
    }

    /// Register a job for `request` under `id` and start its task.
    fn spawn_job(&self, id: &str, request: ClipRequest) -> Arc<Job> {
        let job = Arc::new(Job::new(self.clip_path(id), JobState::Queued));
        lock(&self.inner.jobs).insert(id.to_string(), job.clone());
        let task = tokio::spawn(run_job(
            self.inner.cpu.clone(),
            self.inner.render.clone(),
            job.clone(),
            request,
        ));
        *lock(&job.task) = Some(task);
        job
    }

    fn check_handle(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        if handle.provider != NAME {
            return Err(ProviderError::permanent(
                PermanentKind::BadRequest,
                format!(
                    "handle {} belongs to provider `{}`, not `{NAME}`",
                    handle.id, handle.provider
                ),
            ));
        }
        Ok(())
    }

    /// The job for `handle`, recreated for a handle from an earlier run:
    /// its clip if still in the work directory, otherwise a new render of
    /// the request the handle carries.
    fn job_for(&self, handle: &RenderHandle) -> Result<Arc<Job>, ProviderError> {
        self.check_handle(handle)?;
        if let Some(job) = self.job(&handle.id) {
            return Ok(job);
        }
        let not_found = || {
            ProviderError::permanent(
                PermanentKind::NotFound,
                format!(
                    "no local render {} (and its handle carries no request to redo it)",
                    handle.id
                ),
            )
        };
        if lock(&self.inner.cancelled).contains(&handle.id) {
            return Err(ProviderError::permanent(
                PermanentKind::NotFound,
                format!("local render {} was cancelled", handle.id),
            ));
        }
        if handle.id.contains(['/', '\\']) || handle.id.starts_with('.') {
            return Err(not_found());
        }
        let clip = self.clip_path(&handle.id);
        if clip.is_file() {
            let job = Arc::new(Job::new(clip, JobState::Ready));
            lock(&self.inner.jobs).insert(handle.id.clone(), job.clone());
            return Ok(job);
        }
        let request: ClipRequest =
            serde_json::from_value(handle.data.clone()).map_err(|_| not_found())?;
        Ok(self.spawn_job(&handle.id, request))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Renders still running stop at their next frame.
        for job in lock(&self.jobs).values() {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }
}

async fn run_job(cpu: Arc<Semaphore>, options: RenderOptions, job: Arc<Job>, request: ClipRequest) {
    let Ok(_permit) = cpu.acquire_owned().await else {
        *lock(&job.state) = JobState::Crashed("the provider shut down".into());
        return;
    };
    *lock(&job.state) = JobState::Rendering {
        started: Instant::now(),
    };
    let voice = voice_for_request(&request);
    let outcome = match synthesize(&options.espeak, &request.script, &voice).await {
        Err(e) => Err(e),
        Ok(speech) => {
            let worker = job.clone();
            tokio::task::spawn_blocking(move || {
                let progress = |done: usize, total: usize| {
                    worker.frames_total.store(total, Ordering::Relaxed);
                    worker.frames_done.store(done, Ordering::Relaxed);
                };
                render_speech(
                    &request,
                    &voice,
                    &speech,
                    &worker.clip,
                    &options,
                    &progress,
                    &worker.cancel,
                )
            })
            .await
            .unwrap_or_else(|e| {
                *lock(&job.state) = JobState::Crashed(format!("local render task failed: {e}"));
                Err(LocalError::Cancelled)
            })
        }
    };
    let mut state = lock(&job.state);
    match outcome {
        Ok(_) => *state = JobState::Ready,
        Err(LocalError::Cancelled) => {
            if !matches!(*state, JobState::Crashed(_)) {
                *state = JobState::Crashed("render cancelled".into());
            }
        }
        Err(e) => {
            tracing::warn!(clip = %job.clip.display(), error = %e, "local render failed");
            *state = JobState::Error(e.to_provider_error());
        }
    }
}

#[async_trait]
impl AvatarProvider for LocalProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn limits(&self) -> ProviderLimits {
        let mut limits = ProviderLimits::default();
        // The real bound is the CPU semaphore inside; let the scheduler
        // hand over every clip at once.
        limits.max_in_flight = 64;
        limits.poll_interval = Duration::from_millis(200);
        limits.max_script_chars = None;
        limits
    }

    async fn initiate(&self, request: &ClipRequest) -> Result<RenderHandle, ProviderError> {
        // Fail fast, before any background work, on what can never render.
        if request.script.trim().is_empty() {
            return Err(LocalError::EmptyScript.into());
        }
        check_canvas(request.canvas)?;
        self.check_espeak()?;

        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!(
            "local-{:016x}-{}-{n}",
            stable_hash(&request.identity().to_string()),
            std::process::id()
        );
        let mut handle = RenderHandle::new(NAME, &id);
        handle.data = serde_json::to_value(request).unwrap_or(serde_json::Value::Null);
        self.spawn_job(&id, request.clone());
        Ok(handle)
    }

    async fn status(&self, handle: &RenderHandle) -> Result<RenderStatus, ProviderError> {
        let job = self.job_for(handle)?;
        let state = lock(&job.state).clone();
        Ok(match state {
            JobState::Queued => RenderStatus::Queued,
            JobState::Rendering { started } => {
                let done = job.frames_done.load(Ordering::Relaxed);
                let total = job.frames_total.load(Ordering::Relaxed);
                if total == 0 || done == 0 {
                    // Still synthesizing the speech.
                    RenderStatus::Rendering {
                        progress: Some(0.0),
                        eta: None,
                    }
                } else {
                    let elapsed = started.elapsed().as_secs_f64();
                    let left = elapsed * (total - done) as f64 / done as f64;
                    RenderStatus::Rendering {
                        progress: Some((100.0 * done as f32 / total as f32).min(99.9)),
                        eta: Some(Duration::from_secs_f64(left)),
                    }
                }
            }
            JobState::Ready => RenderStatus::Ready,
            JobState::Error(e) => return Err(e),
            JobState::Crashed(reason) => RenderStatus::Failed { reason },
        })
    }

    async fn fetch(&self, handle: &RenderHandle, dest: &Path) -> Result<(), ProviderError> {
        let job = self.job_for(handle)?;
        if !matches!(*lock(&job.state), JobState::Ready) {
            return Err(ProviderError::transient(format!(
                "local render {} is not finished yet",
                handle.id
            )));
        }
        // A copy: the provider keeps its clip for a later run to reuse.
        let (clip, dest) = (job.clip.clone(), dest.to_path_buf());
        tokio::task::spawn_blocking(move || {
            let staged = slidecast_core::atomic::AtomicFile::new(&dest);
            std::fs::copy(&clip, staged.temp_path()).map_err(|e| LocalError::io(&clip, e))?;
            staged.commit().map_err(|e| LocalError::io(&dest, e))
        })
        .await
        .map_err(|e| {
            ProviderError::permanent(PermanentKind::Local, format!("local fetch task: {e}"))
        })?
        .map_err(ProviderError::from)
    }

    async fn cancel(&self, handle: &RenderHandle) -> Result<(), ProviderError> {
        self.check_handle(handle)?;
        lock(&self.inner.cancelled).insert(handle.id.clone());
        let Some(job) = lock(&self.inner.jobs).remove(&handle.id) else {
            return Ok(());
        };
        job.cancel.store(true, Ordering::Relaxed);
        if let Some(task) = lock(&job.task).take() {
            // Aborting drops (and so kills) a running espeak-ng; a render on
            // a blocking thread stops at its next frame via `cancel`.
            task.abort();
        }
        match tokio::fs::remove_file(&job.clip).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LocalError::io(&job.clip, e).into()),
        }
    }
}
