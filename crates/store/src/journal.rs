//! The resume journal (see [`Journal`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use slidecast_core::{ClipRequest, ClipSource, Deck, RenderHandle, RenderJournal};

use crate::cache::{ClipCache, ClipOrigin};
use crate::fsutil::{self, FileLock};
use crate::{ClipKey, StoreError};

/// Version of the journal file format this crate writes and reads.
pub const JOURNAL_FORMAT: u32 = 1;

/// Name of the default state directory, created beside the output.
pub const STATE_DIR_NAME: &str = ".slidecast";

/// What the journal knows about one clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The slide that last asked for this clip (for messages; the entry
    /// serves every slide with the same key).
    pub slide: usize,
    /// The clip's key (also the entry's key in the journal).
    pub key: ClipKey,
    /// The provider that issued the handle.
    pub provider: String,
    /// The vendor's handle of the render.
    pub handle: RenderHandle,
    /// False while the render is initiated but not yet started.
    pub started: bool,
    /// The fetched, verified clip, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<PathBuf>,
    #[serde(with = "fsutil::serde_unix_secs")]
    /// When the entry last changed.
    pub updated: SystemTime,
}

/// The contents of a journal file, as read without taking its lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalSnapshot {
    /// File format version ([`JOURNAL_FORMAT`]).
    pub format: u32,
    /// The output the journal belongs to, as given when it was opened.
    pub output: PathBuf,
    /// What the journal knows, by clip key.
    pub entries: BTreeMap<ClipKey, JournalEntry>,
}

impl JournalSnapshot {
    fn empty(output: &Path) -> Self {
        JournalSnapshot {
            format: JOURNAL_FORMAT,
            output: output.to_path_buf(),
            entries: BTreeMap::new(),
        }
    }

    /// The entry of `key`, if any.
    pub fn entry(&self, key: &ClipKey) -> Option<&JournalEntry> {
        self.entries.get(key)
    }

    /// Where each presenter slide's clip comes from, without verifying
    /// anything and without recording cache use (what `plan` shows).
    pub fn sources(&self, deck: &Deck, cache: Option<&ClipCache>) -> HashMap<usize, ClipSource> {
        presenter_keys(deck)
            .map(|(slide, key)| (slide, self.source_of(&key, cache, false)))
            .collect()
    }

    /// The clips on disk that may serve `key`, best first: the cached clip,
    /// then the one the journal recorded as fetched.
    fn clip_candidates(
        &self,
        key: &ClipKey,
        cache: Option<&ClipCache>,
        record_use: bool,
    ) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(cache) = cache {
            let hit = if record_use {
                cache.get(key)
            } else {
                cache.peek(key)
            };
            out.extend(hit);
        }
        if let Some(clip) = self.entries.get(key).and_then(|e| e.clip.as_ref()) {
            let usable = fs::metadata(clip).is_ok_and(|m| m.is_file() && m.len() > 0);
            if usable && !out.contains(clip) {
                out.push(clip.clone());
            }
        }
        out
    }

    /// The source when no clip on disk serves `key`.
    fn fallback_source(&self, key: &ClipKey) -> ClipSource {
        match self.entries.get(key) {
            // A fetched entry's render is finished: fetching it again needs
            // no start (and no new create).
            Some(e) => ClipSource::Resume {
                handle: e.handle.clone(),
                started: e.started || e.clip.is_some(),
            },
            None => ClipSource::Render,
        }
    }

    fn source_of(&self, key: &ClipKey, cache: Option<&ClipCache>, record_use: bool) -> ClipSource {
        match self
            .clip_candidates(key, cache, record_use)
            .into_iter()
            .next()
        {
            Some(path) => ClipSource::Cached(path),
            None => self.fallback_source(key),
        }
    }
}

/// `(slide number, key)` of every presenter slide.
pub(crate) fn presenter_keys(deck: &Deck) -> impl Iterator<Item = (usize, ClipKey)> + '_ {
    deck.slides.iter().filter_map(|s| {
        s.clip_request(deck)
            .map(|r| (s.number, ClipKey::for_request(&r)))
    })
}

/// The journal of one render job: a [`RenderJournal`] for the scheduler and
/// the planner of each slide's [`ClipSource`] for a rerun.
///
/// Holds the job's lock until dropped.
///
/// One JSON file per render job (per output file), in a state directory:
/// by default `.slidecast/` in the output's folder, so `talks/q3.mp4` keeps
/// its journal in `talks/.slidecast/q3.mp4.journal.json` (`--state-dir DIR`
/// puts it in `DIR/q3.mp4.journal.json` instead). Entries are keyed by
/// [`ClipKey`], not by slide number, so a journal written for one version of
/// a deck is reused, after an edit, by every slide whose clip is unchanged.
///
/// The file is rewritten atomically (temp file, fsync, rename) on every
/// [`RenderJournal`] call, before the call returns: the scheduler calls
/// `initiated` before it starts a render, so the vendor's id is on disk
/// before anything is paid for.
///
/// Concurrency: [`Journal::open`] takes an exclusive lock on
/// `<name>.lock` beside the journal for as long as the `Journal` lives. A
/// second run of the same output *waits* for the first to finish (and then
/// resumes from what the first recorded, so it pays for nothing the first
/// did); [`Journal::try_open`] fails with [`StoreError::Busy`] instead. The
/// lock is an `flock`, released by the kernel when a process dies, so a
/// `kill -9` never leaves a stale lock. Readers (`slidecast plan`) use
/// [`Journal::read`], which takes no lock: atomic writes mean it always sees
/// a whole journal.
///
/// A journal file that cannot be parsed is an error
/// ([`StoreError::CorruptJournal`]), never silently replaced: it may be the
/// only record of renders already paid for.
pub struct Journal {
    path: PathBuf,
    state_dir: PathBuf,
    output: PathBuf,
    state: Mutex<JournalSnapshot>,
    cache: Option<ClipCache>,
    _lock: FileLock,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// The default state directory of `output`: `.slidecast/` in its folder.
    pub fn default_state_dir(output: &Path) -> PathBuf {
        let parent = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        parent.join(STATE_DIR_NAME)
    }

    fn file_stem(output: &Path) -> String {
        output.file_name().map_or_else(
            || "output".to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// Where the journal of `output` lives in `state_dir`.
    pub fn journal_path(state_dir: &Path, output: &Path) -> PathBuf {
        state_dir.join(format!("{}.journal.json", Self::file_stem(output)))
    }

    fn lock_path(state_dir: &Path, output: &Path) -> PathBuf {
        state_dir.join(format!("{}.lock", Self::file_stem(output)))
    }

    /// Open the journal of `output` in `state_dir` (created if needed),
    /// waiting while another process has it open.
    ///
    /// The wait blocks the calling thread. In async code, open the journal
    /// before the run's tasks start (or in `spawn_blocking`); and a process
    /// that drops a run to reopen its journal must first let the run's
    /// aborted tasks drop their `Arc` of it, or it waits on itself.
    pub fn open(state_dir: &Path, output: &Path) -> Result<Journal, StoreError> {
        Self::open_inner(state_dir, output, true)
    }

    /// [`Journal::open`] in `state_dir` if given (`--state-dir`), else in
    /// the [default state directory](Self::default_state_dir) of `output`.
    pub fn open_for_output(output: &Path, state_dir: Option<&Path>) -> Result<Journal, StoreError> {
        match state_dir {
            Some(dir) => Self::open(dir, output),
            None => Self::open(&Self::default_state_dir(output), output),
        }
    }

    /// Like [`Journal::open`], but fails with [`StoreError::Busy`] at once
    /// when another process has the journal open.
    pub fn try_open(state_dir: &Path, output: &Path) -> Result<Journal, StoreError> {
        Self::open_inner(state_dir, output, false)
    }

    fn open_inner(state_dir: &Path, output: &Path, wait: bool) -> Result<Journal, StoreError> {
        fs::create_dir_all(state_dir)
            .map_err(|e| StoreError::io("creating state directory", state_dir, e))?;
        let lock_path = Self::lock_path(state_dir, output);
        let lock = match FileLock::try_exclusive(&lock_path)? {
            Some(lock) => lock,
            None if wait => {
                tracing::warn!(
                    "another slidecast run is rendering {}; waiting for it to finish (lock {})",
                    output.display(),
                    lock_path.display()
                );
                FileLock::exclusive(&lock_path)?
            }
            None => {
                return Err(StoreError::Busy {
                    output: output.to_path_buf(),
                    lock: lock_path,
                })
            }
        };
        // Read only once the lock is held: a run we waited for has finished
        // writing, and we resume from everything it recorded.
        let state = Self::read(state_dir, output)?;
        Self::sweep_dead_temps(state_dir, output);
        Ok(Journal {
            path: Self::journal_path(state_dir, output),
            state_dir: state_dir.to_path_buf(),
            output: output.to_path_buf(),
            state: Mutex::new(state),
            cache: None,
            _lock: lock,
        })
    }

    /// Temporary-file prefix of this job's journal writes.
    fn temp_prefix(output: &Path) -> String {
        format!(
            "{}{}.journal.json-",
            fsutil::TEMP_PREFIX,
            Self::file_stem(output)
        )
    }

    /// Remove temporary journal files of this job. Only the lock holder
    /// writes them, and we hold the lock: any that exist are from a process
    /// killed mid-write.
    fn sweep_dead_temps(state_dir: &Path, output: &Path) {
        let prefix = Self::temp_prefix(output);
        let Ok(items) = fs::read_dir(state_dir) else {
            return;
        };
        for item in items.flatten() {
            let name = item.file_name();
            if name.to_str().is_some_and(|n| n.starts_with(&prefix)) {
                if let Err(e) = fs::remove_file(item.path()) {
                    tracing::warn!("cannot remove {}: {e}", item.path().display());
                }
            }
        }
    }

    /// Read the journal of `output` without taking its lock (empty when
    /// there is none yet).
    pub fn read(state_dir: &Path, output: &Path) -> Result<JournalSnapshot, StoreError> {
        let path = Self::journal_path(state_dir, output);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(JournalSnapshot::empty(output))
            }
            Err(e) => return Err(StoreError::io("reading", &path, e)),
        };
        #[derive(Deserialize)]
        struct FormatOnly {
            format: u32,
        }
        let corrupt = |e: serde_json::Error| StoreError::CorruptJournal {
            path: path.clone(),
            message: e.to_string(),
        };
        let format = serde_json::from_slice::<FormatOnly>(&bytes)
            .map_err(corrupt)?
            .format;
        if format > JOURNAL_FORMAT {
            return Err(StoreError::JournalFormat {
                path,
                found: format,
                supported: JOURNAL_FORMAT,
            });
        }
        serde_json::from_slice(&bytes).map_err(corrupt)
    }

    /// Store every fetched clip in the shared `cache` and point the journal
    /// at the cached copy. Without a cache, fetched clips are copied into
    /// [`private_clips_dir`](Self::private_clips_dir) instead.
    pub fn with_cache(mut self, cache: ClipCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The output the journal belongs to.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// A per-job work directory in the state directory
    /// (`<state_dir>/<name>.work`), for the scheduler's fetched clips: unlike
    /// a temporary directory it survives a crash, so a journal entry's clip
    /// is still there for the rerun even without a cache.
    pub fn work_dir(&self) -> PathBuf {
        self.state_dir
            .join(format!("{}.work", Self::file_stem(&self.output)))
    }

    /// Where fetched clips are kept when no shared cache is attached
    /// (`<state_dir>/<name>.clips/<key>.mp4`, same layout as a cache).
    pub fn private_clips_dir(&self) -> PathBuf {
        self.state_dir
            .join(format!("{}.clips", Self::file_stem(&self.output)))
    }

    /// A copy of what the journal holds now.
    pub fn snapshot(&self) -> JournalSnapshot {
        self.state().clone()
    }

    /// Where each presenter slide's clip comes from: `Cached` when `cache`
    /// (or the journal, for a fetched clip whose file still exists) has it,
    /// `Resume` when the journal has a render for its key, else `Render`.
    /// Slide-only slides are not in the map. Cache hits are recorded as uses.
    pub fn plan_sources(
        &self,
        deck: &Deck,
        cache: Option<&ClipCache>,
    ) -> HashMap<usize, ClipSource> {
        let state = self.state();
        presenter_keys(deck)
            .map(|(slide, key)| (slide, state.source_of(&key, cache, true)))
            .collect()
    }

    /// [`plan_sources`](Self::plan_sources), with every clip on disk checked
    /// by `verify` (typically the composer's `verify_clip`) before it is
    /// trusted. A clip that fails is removed from the cache (or forgotten by
    /// the journal) with a warning, and its slides fall back to the next
    /// clip on disk, then to resuming the journal's render (fetching it
    /// again without a new create), then to a new render.
    pub async fn verified_sources<F, Fut, E>(
        &self,
        deck: &Deck,
        cache: Option<&ClipCache>,
        mut verify: F,
    ) -> HashMap<usize, ClipSource>
    where
        F: FnMut(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        let mut by_key: BTreeMap<ClipKey, Vec<usize>> = BTreeMap::new();
        for (slide, key) in presenter_keys(deck) {
            by_key.entry(key).or_default().push(slide);
        }
        let mut sources = HashMap::new();
        for (key, slides) in by_key {
            let candidates = self.state().clip_candidates(&key, cache, true);
            let mut chosen = None;
            for path in candidates {
                match verify(path.clone()).await {
                    Ok(()) => {
                        chosen = Some(ClipSource::Cached(path));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "slide {}: clip {} is unusable ({e}); getting it again",
                            slides[0],
                            path.display()
                        );
                        self.forget_clip(&key, &path, cache);
                    }
                }
            }
            let source = chosen.unwrap_or_else(|| self.state().fallback_source(&key));
            for slide in slides {
                sources.insert(slide, source.clone());
            }
        }
        sources
    }

    /// Drop a clip that failed verification from the cache and the journal.
    fn forget_clip(&self, key: &ClipKey, path: &Path, cache: Option<&ClipCache>) {
        let private = ClipCache {
            dir: self.private_clips_dir(),
        };
        for store in cache.into_iter().chain([&private]) {
            if store.clip_path(key) == path {
                if let Err(e) = store.remove(key) {
                    tracing::warn!("clip cache: {e}");
                }
            }
        }
        let mut state = self.state();
        let recorded = state
            .entries
            .get_mut(key)
            .filter(|e| e.clip.as_deref() == Some(path));
        if let Some(entry) = recorded {
            entry.clip = None;
            entry.updated = fsutil::now();
            if let Err(e) = self.save(&state) {
                tracing::warn!("{e}");
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, JournalSnapshot> {
        // A panic while holding the lock leaves the in-memory state as it
        // was after the last complete update; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write the whole journal atomically. Called with the state lock held,
    /// so writes from concurrent scheduler tasks land in order.
    fn save(&self, state: &JournalSnapshot) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| StoreError::io("serializing", &self.path, std::io::Error::other(e)))?;
        fsutil::write_atomic_with_prefix(&self.path, &json, &Self::temp_prefix(&self.output))
    }

    fn update(
        &self,
        request: &ClipRequest,
        change: impl FnOnce(&ClipKey, &mut BTreeMap<ClipKey, JournalEntry>),
    ) -> std::io::Result<()> {
        let key = ClipKey::for_request(request);
        let mut state = self.state();
        change(&key, &mut state.entries);
        self.save(&state).map_err(Into::into)
    }
}

fn new_entry(request: &ClipRequest, key: &ClipKey, handle: &RenderHandle) -> JournalEntry {
    JournalEntry {
        slide: request.slide,
        key: key.clone(),
        provider: request.provider.clone(),
        handle: handle.clone(),
        started: false,
        clip: None,
        updated: fsutil::now(),
    }
}

/// The entry of `key` for `handle`: the existing one if it is for the same
/// render, else a fresh one (a new render of the key supersedes the old).
fn entry_for<'a>(
    entries: &'a mut BTreeMap<ClipKey, JournalEntry>,
    request: &ClipRequest,
    key: &ClipKey,
    handle: &RenderHandle,
) -> &'a mut JournalEntry {
    let entry = entries
        .entry(key.clone())
        .or_insert_with(|| new_entry(request, key, handle));
    if entry.handle != *handle {
        *entry = new_entry(request, key, handle);
    }
    entry.slide = request.slide;
    entry.updated = fsutil::now();
    entry
}

impl RenderJournal for Journal {
    fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.update(request, |key, entries| {
            entries.insert(key.clone(), new_entry(request, key, handle));
        })
    }

    fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.update(request, |key, entries| {
            entry_for(entries, request, key, handle).started = true;
        })
    }

    fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<()> {
        let key = ClipKey::for_request(request);
        // Keep the clip under its key: the scheduler's work file is named
        // after the slide number, which a later run of an edited deck may
        // reuse for a different clip. Failing to keep a copy must not fail a
        // render whose clip is already on disk: record the work file then.
        let origin = ClipOrigin {
            request: request.clone(),
            vendor_id: Some(handle.id.clone()),
        };
        let stored = match &self.cache {
            Some(cache) => cache.put(&key, clip, origin),
            None => ClipCache::open(self.private_clips_dir())
                .and_then(|own| own.put(&key, clip, origin)),
        };
        let clip = stored.unwrap_or_else(|e| {
            tracing::warn!("slide {}: {e}", request.slide);
            clip.to_path_buf()
        });
        self.update(request, |key, entries| {
            let entry = entry_for(entries, request, key, handle);
            entry.started = true;
            entry.clip = Some(clip);
        })
    }

    fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        self.update(request, |key, entries| {
            if entries.get(key).is_some_and(|e| e.handle == *handle) {
                entries.remove(key);
            }
        })
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }
}
