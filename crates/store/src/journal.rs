//! The resume journal (see [`Journal`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use slidecast_core::{ClipIdentity, ClipRequest, ClipSource, Deck, RenderHandle, RenderJournal};

use crate::cache::{ClipCache, ClipOrigin};
use crate::fsutil::{self, FileLock};
use crate::{ClipKey, StoreError};

/// Version of the journal file format this crate writes. It reads this one
/// and every older one (format 1 was one JSON object rewritten whole).
pub const JOURNAL_FORMAT: u32 = 2;

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

    /// Where each clip of the deck's presenter slides comes from, by
    /// [`ClipIdentity`], without verifying anything and without recording
    /// cache use (what `plan` shows).
    pub fn sources(
        &self,
        deck: &Deck,
        cache: Option<&ClipCache>,
    ) -> HashMap<ClipIdentity, ClipSource> {
        needed_clips(deck)
            .map(|c| {
                let source = self.source_of(&c.key, cache, false);
                (c.identity, source)
            })
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

/// One clip a presenter slide shows (a slide whose narration is split into
/// parts shows one per part).
pub(crate) struct NeededClip {
    pub slide: usize,
    pub script: String,
    pub identity: ClipIdentity,
    pub key: ClipKey,
}

/// Every clip of the deck's presenter slides, in deck and speaking order.
pub(crate) fn needed_clips(deck: &Deck) -> impl Iterator<Item = NeededClip> + '_ {
    deck.slides.iter().flat_map(|s| {
        s.clip_requests(deck).into_iter().map(|r| NeededClip {
            slide: s.number,
            key: ClipKey::for_request(&r),
            identity: r.identity(),
            script: r.script,
        })
    })
}

/// The journal of one render job: a [`RenderJournal`] for the scheduler and
/// the planner of each slide's [`ClipSource`] for a rerun.
///
/// Holds the job's lock until dropped (and until every clone the scheduler
/// holds is dropped).
///
/// One file per render job (per output file), in a state directory: by
/// default `.slidecast/` in the output's folder, so `talks/q3.mp4` keeps its
/// journal in `talks/.slidecast/q3.mp4.journal.json` (`--state-dir DIR` puts
/// it in `DIR/q3.mp4.journal.json` instead). Entries are keyed by
/// [`ClipKey`], not by slide number, so a journal written for one version of
/// a deck is reused, after an edit, by every slide whose clip is unchanged.
///
/// The file is an append-only log of JSON lines: a header line, then one
/// line per change (an entry put or removed). Each [`RenderJournal`] call
/// appends its line and syncs the file (`fdatasync`) before it returns, so
/// the vendor's id is on disk before the render is started, and a call
/// costs the same however long the journal is. A crash mid-append leaves at
/// most a torn last line, which was never acknowledged and is dropped on the
/// next open. Opening compacts a log that has grown well past its live
/// entries (temp file, fsync, rename). Format 1 journals (one JSON object)
/// are read and rewritten as a log on the first change.
///
/// The scheduler calls the [`RenderJournal`] methods, which do their I/O on
/// tokio's blocking threads; the same operations are available as blocking
/// inherent methods ([`Journal::initiated`], ...) for tools and tests.
///
/// Concurrency: [`Journal::open`] takes an exclusive lock on
/// `<name>.lock` beside the journal for as long as the `Journal` lives. A
/// second run of the same output *waits* for the first to finish (and then
/// resumes from what the first recorded, so it pays for nothing the first
/// did); [`Journal::try_open`] fails with [`StoreError::Busy`] instead. The
/// lock is an `flock`, released by the kernel when a process dies, so a
/// `kill -9` never leaves a stale lock. Readers (`slidecast plan`) use
/// [`Journal::read`], which takes no lock: they see every acknowledged line.
///
/// A journal file that cannot be parsed is an error
/// ([`StoreError::CorruptJournal`]), never silently replaced: it may be the
/// only record of renders already paid for.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    state_dir: PathBuf,
    output: PathBuf,
    state: Mutex<State>,
    cache: Option<ClipCache>,
    _lock: FileLock,
}

/// The journal in memory, and the open log it appends to.
struct State {
    snapshot: JournalSnapshot,
    /// The log, open for appending; `None` until the first change, or when
    /// the file on disk is a format 1 journal still to be rewritten.
    log: Option<File>,
}

/// One line of the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    /// The first line.
    Header { format: u32, output: PathBuf },
    /// The entry of `entry.key` is now `entry`.
    Put { entry: JournalEntry },
    /// The entry of `key` is gone.
    Remove { key: ClipKey },
}

/// Compact when the log has this many more lines than live entries (and at
/// least twice as many).
const COMPACT_SLACK: usize = 64;

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .field("cache", &self.inner.cache)
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
    /// The wait blocks the calling thread: in async code, call it through
    /// `tokio::task::spawn_blocking`. A process that drops a run to reopen
    /// its journal waits until the run's aborted tasks have dropped their
    /// clones of it.
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
        Self::sweep_dead_temps(state_dir, output);
        let path = Self::journal_path(state_dir, output);
        let parsed = Self::parse(&path, output)?;
        let mut state = State {
            snapshot: parsed.snapshot,
            log: None,
        };
        let needs_rewrite = parsed.format < JOURNAL_FORMAT
            || parsed.torn
            || parsed.lines > 2 * state.snapshot.entries.len() + COMPACT_SLACK;
        if parsed.exists && needs_rewrite {
            // Compact (and drop a torn last line): whole entries only.
            Self::rewrite(&path, output, &mut state)?;
        } else if parsed.exists {
            state.log = Some(open_append(&path)?);
        }
        Ok(Journal {
            inner: Arc::new(Inner {
                path,
                state_dir: state_dir.to_path_buf(),
                output: output.to_path_buf(),
                state: Mutex::new(state),
                cache: None,
                _lock: lock,
            }),
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
        Ok(Self::parse(&path, output)?.snapshot)
    }

    fn parse(path: &Path, output: &Path) -> Result<Parsed, StoreError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Parsed {
                    snapshot: JournalSnapshot::empty(output),
                    format: JOURNAL_FORMAT,
                    lines: 0,
                    torn: false,
                    exists: false,
                })
            }
            Err(e) => return Err(StoreError::io("reading", path, e)),
        };
        parse_log(path, output, &bytes)
    }

    /// Replace the file by a compact log of the live entries (temp file,
    /// fsync, rename) and append to it from now on.
    fn rewrite(path: &Path, output: &Path, state: &mut State) -> Result<(), StoreError> {
        let mut text = record_line(
            path,
            &Record::Header {
                format: JOURNAL_FORMAT,
                output: state.snapshot.output.clone(),
            },
        )?;
        for entry in state.snapshot.entries.values() {
            text.push_str(&record_line(
                path,
                &Record::Put {
                    entry: entry.clone(),
                },
            )?);
        }
        state.log = None;
        fsutil::write_atomic_with_prefix(path, text.as_bytes(), &Self::temp_prefix(output))?;
        state.snapshot.format = JOURNAL_FORMAT;
        state.log = Some(open_append(path)?);
        Ok(())
    }

    /// Store every fetched clip in the shared `cache` and point the journal
    /// at the cached copy. Without a cache, fetched clips are moved into
    /// [`private_clips_dir`](Self::private_clips_dir) instead.
    ///
    /// Call it before handing the journal to a scheduler.
    pub fn with_cache(self, cache: ClipCache) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.cache = Some(cache);
                Journal {
                    inner: Arc::new(inner),
                }
            }
            Err(shared) => {
                tracing::warn!("journal already shared; the clip cache is not attached");
                Journal { inner: shared }
            }
        }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The output the journal belongs to.
    pub fn output(&self) -> &Path {
        &self.inner.output
    }

    /// A per-job work directory in the state directory
    /// (`<state_dir>/<name>.work`), for the scheduler's fetched clips: unlike
    /// a temporary directory it survives a crash, so a journal entry's clip
    /// is still there for the rerun even without a cache.
    pub fn work_dir(&self) -> PathBuf {
        self.inner
            .state_dir
            .join(format!("{}.work", Self::file_stem(&self.inner.output)))
    }

    /// Where fetched clips are kept when no shared cache is attached
    /// (`<state_dir>/<name>.clips/<key>.mp4`, same layout as a cache).
    pub fn private_clips_dir(&self) -> PathBuf {
        self.inner
            .state_dir
            .join(format!("{}.clips", Self::file_stem(&self.inner.output)))
    }

    /// A copy of what the journal holds now.
    pub fn snapshot(&self) -> JournalSnapshot {
        self.state().snapshot.clone()
    }

    /// Where each presenter slide's clip comes from: `Cached` when `cache`
    /// (or the journal, for a fetched clip whose file still exists) has it,
    /// `Resume` when the journal has a render for its key, else `Render`.
    /// Slide-only slides are not in the map. Cache hits are recorded as uses.
    pub fn plan_sources(
        &self,
        deck: &Deck,
        cache: Option<&ClipCache>,
    ) -> HashMap<ClipIdentity, ClipSource> {
        let state = self.state();
        needed_clips(deck)
            .map(|c| {
                let source = state.snapshot.source_of(&c.key, cache, true);
                (c.identity, source)
            })
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
    ) -> HashMap<ClipIdentity, ClipSource>
    where
        F: FnMut(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        // A clip several slides show is verified once.
        let mut by_key: BTreeMap<ClipKey, (usize, ClipIdentity)> = BTreeMap::new();
        for c in needed_clips(deck) {
            by_key.entry(c.key).or_insert((c.slide, c.identity));
        }
        let mut sources = HashMap::new();
        for (key, (slide, identity)) in by_key {
            let candidates = self.state().snapshot.clip_candidates(&key, cache, true);
            let mut chosen = None;
            for path in candidates {
                match verify(path.clone()).await {
                    Ok(()) => {
                        chosen = Some(ClipSource::Cached(path));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "slide {slide}: clip {} is unusable ({e}); getting it again",
                            path.display()
                        );
                        self.forget_clip(&key, &path, cache);
                    }
                }
            }
            let source = chosen.unwrap_or_else(|| self.state().snapshot.fallback_source(&key));
            sources.insert(identity, source);
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
        let result = self.change(key, |entries| {
            match entries
                .get_mut(key)
                .filter(|e| e.clip.as_deref() == Some(path))
            {
                Some(entry) => {
                    entry.clip = None;
                    entry.updated = fsutil::now();
                    true
                }
                None => false,
            }
        });
        if let Err(e) = result {
            tracing::warn!("{e}");
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the in-memory state as it
        // was after the last complete update; keep using it.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply `change` to the entries; when it reports a change, append the
    /// entry of `key` as it now is (or its removal) and sync the log. Runs
    /// with the state lock held, so concurrent calls land in order.
    fn change(
        &self,
        key: &ClipKey,
        change: impl FnOnce(&mut BTreeMap<ClipKey, JournalEntry>) -> bool,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if !change(&mut state.snapshot.entries) {
            return Ok(());
        }
        let record = match state.snapshot.entries.get(key) {
            Some(entry) => Record::Put {
                entry: entry.clone(),
            },
            None => Record::Remove { key: key.clone() },
        };
        self.append(&mut state, &record)
    }

    fn append(&self, state: &mut State, record: &Record) -> Result<(), StoreError> {
        let path = &self.inner.path;
        if state.log.is_none() {
            if state.snapshot.format < JOURNAL_FORMAT || path.exists() {
                // A format 1 file, or one another writer left: rewrite it
                // whole, with this change already applied in memory.
                return Self::rewrite(path, &self.inner.output, state);
            }
            let header = record_line(
                path,
                &Record::Header {
                    format: JOURNAL_FORMAT,
                    output: self.inner.output.clone(),
                },
            )?;
            fsutil::write_atomic_with_prefix(
                path,
                header.as_bytes(),
                &Self::temp_prefix(&self.inner.output),
            )?;
            state.log = Some(open_append(path)?);
        }
        let line = record_line(path, record)?;
        let Some(log) = state.log.as_mut() else {
            return Err(StoreError::io(
                "appending to",
                path,
                std::io::Error::other("the journal log is not open"),
            ));
        };
        log.write_all(line.as_bytes())
            .and_then(|()| log.sync_data())
            .map_err(|e| {
                // A failed append may have left part of a line: reopen
                // (and so rewrite) before the next change.
                state.log = None;
                StoreError::io("appending to", path, e)
            })
    }

    /// Blocking: the render of `request` has the vendor id of `handle`.
    pub fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let key = ClipKey::for_request(request);
        self.change(&key, |entries| {
            entries.insert(key.clone(), new_entry(request, &key, handle));
            true
        })
        .map_err(Into::into)
    }

    /// Blocking: the render of `handle` is started.
    pub fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let key = ClipKey::for_request(request);
        self.change(&key, |entries| {
            entry_for(entries, request, &key, handle).started = true;
            true
        })
        .map_err(Into::into)
    }

    /// Blocking: the clip of `handle` is on disk at `clip`, verified. The
    /// clip is moved under its key into the cache (or the private clips
    /// folder); returns where it is now.
    pub fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<PathBuf> {
        let key = ClipKey::for_request(request);
        // Keep the clip under its key: the scheduler's work file is named
        // after the slide number, which a later run of an edited deck may
        // reuse for a different clip. Failing to keep it must not fail a
        // render whose clip is already on disk: record the work file then.
        let origin = ClipOrigin {
            request: request.clone(),
            vendor_id: Some(handle.id.clone()),
        };
        let stored = match &self.inner.cache {
            Some(cache) => cache.adopt(&key, clip, origin),
            None => ClipCache::open(self.private_clips_dir())
                .and_then(|own| own.adopt(&key, clip, origin)),
        };
        let kept = stored.unwrap_or_else(|e| {
            tracing::warn!("slide {}: {e}", request.slide);
            clip.to_path_buf()
        });
        self.change(&key, |entries| {
            let entry = entry_for(entries, request, &key, handle);
            entry.started = true;
            entry.clip = Some(kept.clone());
            true
        })?;
        Ok(kept)
    }

    /// Blocking: the vendor's render of `handle` failed or was deleted;
    /// forget it (a later render of the same clip supersedes it anyway).
    pub fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let key = ClipKey::for_request(request);
        self.change(&key, |entries| {
            let ours = entries.get(&key).is_some_and(|e| e.handle == *handle);
            if ours {
                entries.remove(&key);
            }
            ours
        })
        .map_err(Into::into)
    }

    /// Run a blocking journal call on tokio's blocking threads.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Journal) -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let journal = self.clone();
        tokio::task::spawn_blocking(move || call(&journal))
            .await
            .map_err(|e| std::io::Error::other(format!("journal task failed: {e}")))?
    }
}

/// What [`Journal::parse`] found.
struct Parsed {
    snapshot: JournalSnapshot,
    /// The file's format (1: one JSON object; 2: the log).
    format: u32,
    /// Lines after the header.
    lines: usize,
    /// The last line was cut short (a crash mid-append).
    torn: bool,
    exists: bool,
}

fn corrupt(path: &Path, message: impl fmt::Display) -> StoreError {
    StoreError::CorruptJournal {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn parse_log(path: &Path, output: &Path, bytes: &[u8]) -> Result<Parsed, StoreError> {
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    // The first JSON value says the format: the whole file in format 1, the
    // header line in format 2.
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
    let first = match values.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(corrupt(path, e)),
        None => return Err(corrupt(path, "the file is empty")),
    };
    let header_end = values.byte_offset();
    let format = serde_json::from_value::<FormatOnly>(first.clone())
        .map_err(|e| corrupt(path, e))?
        .format;
    if format > JOURNAL_FORMAT {
        return Err(StoreError::JournalFormat {
            path: path.to_path_buf(),
            found: format,
            supported: JOURNAL_FORMAT,
        });
    }
    if format < 2 {
        let snapshot: JournalSnapshot =
            serde_json::from_slice(bytes).map_err(|e| corrupt(path, e))?;
        return Ok(Parsed {
            snapshot,
            format,
            lines: 0,
            torn: false,
            exists: true,
        });
    }
    let Record::Header {
        output: recorded, ..
    } = serde_json::from_value::<Record>(first).map_err(|e| corrupt(path, e))?
    else {
        return Err(corrupt(path, "the first line is not a journal header"));
    };
    let mut snapshot = JournalSnapshot::empty(output);
    snapshot.output = recorded;
    let rest = &bytes[header_end..];
    let mut lines = 0;
    let mut torn = false;
    let mut offset = 0;
    while offset < rest.len() {
        let (line, complete) = match rest[offset..].iter().position(|b| *b == b'\n') {
            Some(n) => (&rest[offset..offset + n], true),
            None => (&rest[offset..], false),
        };
        offset += line.len() + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !complete {
            // A last line without its newline was never acknowledged (the
            // line and its newline are one write, synced before the call
            // returns): a crash cut the append short. The rest stands.
            torn = true;
            break;
        }
        let record = serde_json::from_slice::<Record>(line)
            .map_err(|e| corrupt(path, format!("line {}: {e}", lines + 2)))?;
        lines += 1;
        match record {
            Record::Put { entry } => {
                snapshot.entries.insert(entry.key.clone(), entry);
            }
            Record::Remove { key } => {
                snapshot.entries.remove(&key);
            }
            Record::Header { .. } => {
                return Err(corrupt(
                    path,
                    format!("line {}: a second header", lines + 1),
                ))
            }
        }
    }
    Ok(Parsed {
        snapshot,
        format,
        lines,
        torn,
        exists: true,
    })
}

fn record_line(path: &Path, record: &Record) -> Result<String, StoreError> {
    let mut line = serde_json::to_string(record)
        .map_err(|e| StoreError::io("serializing", path, std::io::Error::other(e)))?;
    line.push('\n');
    Ok(line)
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| StoreError::io("opening", path, e))
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

#[async_trait::async_trait]
impl RenderJournal for Journal {
    async fn initiated(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let (request, handle) = (request.clone(), handle.clone());
        self.blocking(move |j| j.initiated(&request, &handle)).await
    }

    async fn started(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let (request, handle) = (request.clone(), handle.clone());
        self.blocking(move |j| j.started(&request, &handle)).await
    }

    async fn fetched(
        &self,
        request: &ClipRequest,
        handle: &RenderHandle,
        clip: &Path,
    ) -> std::io::Result<PathBuf> {
        let (request, handle, clip) = (request.clone(), handle.clone(), clip.to_path_buf());
        self.blocking(move |j| j.fetched(&request, &handle, &clip))
            .await
    }

    async fn discarded(&self, request: &ClipRequest, handle: &RenderHandle) -> std::io::Result<()> {
        let (request, handle) = (request.clone(), handle.clone());
        self.blocking(move |j| j.discarded(&request, &handle)).await
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.inner.path)
    }
}
