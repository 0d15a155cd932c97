//! The content-addressed clip cache (see [`ClipCache`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use slidecast_core::ClipRequest;

use crate::fsutil::{self, FileLock, StagedCopy, TEMP_PREFIX};
use crate::key::provider_format_version;
use crate::{ClipKey, StoreError};

/// Temporary files older than this are leftovers of a killed process (a copy
/// takes seconds), so `prune` removes them.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// A use is recorded at most this often per clip (see [`ClipCache::get`]).
const TOUCH_INTERVAL: Duration = Duration::from_secs(3600);

/// Metadata stored beside each cached clip as `<key>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipMeta {
    /// The clip's key (also its file name).
    pub key: ClipKey,
    /// The provider that made the clip.
    pub provider: String,
    /// The provider's clip format version when the clip was made.
    pub format_version: u32,
    /// The vendor's render id, when the clip came from a vendor render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
    /// The request that first produced the clip (its slide number and title
    /// are those of that deck; they do not take part in the key).
    pub request: ClipRequest,
    #[serde(with = "fsutil::serde_unix_secs")]
    /// When the clip was stored.
    pub created: SystemTime,
    /// When a render last used the clip; `prune` goes by this.
    #[serde(with = "fsutil::serde_unix_secs")]
    pub last_used: SystemTime,
    /// Clip size in bytes.
    pub size: u64,
}

/// Where a clip handed to [`ClipCache::put`] came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipOrigin {
    /// The request the clip answers.
    pub request: ClipRequest,
    /// The vendor's render id, when known.
    pub vendor_id: Option<String>,
}

/// One clip in the cache, as listed by [`ClipCache::list`].
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// The clip's key.
    pub key: ClipKey,
    /// The clip file.
    pub clip: PathBuf,
    /// Clip size in bytes.
    pub size: u64,
    /// When the clip was stored.
    pub created: SystemTime,
    /// When a render last used the clip.
    pub last_used: SystemTime,
    /// `None` when the metadata file is missing or unreadable (the times are
    /// then the clip file's modification time).
    pub meta: Option<ClipMeta>,
}

/// What [`ClipCache::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneReport {
    /// Keys of the clips removed.
    pub removed: Vec<ClipKey>,
    /// Bytes freed by removing them.
    pub freed_bytes: u64,
    /// Clips left in the cache.
    pub kept: usize,
    /// Stale temporary files and metadata files without a clip.
    pub leftovers_removed: usize,
}

/// The clip cache: a directory of clips named by their [`ClipKey`].
///
/// Cheap to clone (it is a path). Safe to share between threads and
/// processes: changes take an exclusive lock on `<dir>/.lock`, files are
/// replaced atomically.
///
/// Layout of the cache directory:
///
/// ```text
/// <dir>/<key>.mp4     the clip, stored once per key
/// <dir>/<key>.json    its metadata (ClipMeta)
/// <dir>/.lock         advisory lock serialising changes across processes
/// <dir>/.tmp-*        copies in progress (swept by prune once stale)
/// ```
///
/// Clips are copied in ([`ClipCache::put`]) or moved in
/// ([`ClipCache::adopt`]), never hard-linked: a hard link would share its
/// inode with the scheduler's work file, and a provider fetching again into
/// that path (truncating it in place) would corrupt the cached clip with it.
/// Copies are staged without the lock, then renamed into place under it, so
/// concurrent processes never see half a clip and never block on a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipCache {
    pub(crate) dir: PathBuf,
}

impl ClipCache {
    /// The default cache directory: `$XDG_CACHE_HOME/slidecast/clips`, else
    /// `~/.cache/slidecast/clips` (the platform's cache directory elsewhere).
    pub fn default_dir() -> Result<PathBuf, StoreError> {
        directories::BaseDirs::new()
            .map(|d| d.cache_dir().join("slidecast").join("clips"))
            .ok_or(StoreError::NoCacheDir)
    }

    /// Open (creating it if needed) the cache in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<ClipCache, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .map_err(|e| StoreError::io("creating cache directory", &dir, e))?;
        Ok(ClipCache { dir })
    }

    /// Open the cache in `dir`, or in [`ClipCache::default_dir`] when `None`
    /// (what `--cache-dir` maps to).
    pub fn open_or_default(dir: Option<&Path>) -> Result<ClipCache, StoreError> {
        match dir {
            Some(d) => ClipCache::open(d),
            None => ClipCache::open(ClipCache::default_dir()?),
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the clip of `key` is (or would be) stored.
    pub fn clip_path(&self, key: &ClipKey) -> PathBuf {
        self.dir.join(format!("{key}.mp4"))
    }

    fn meta_path(&self, key: &ClipKey) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn lock(&self) -> Result<FileLock, StoreError> {
        FileLock::exclusive(&self.dir.join(".lock"))
    }

    /// The cached clip of `key`, if there is a non-empty one, without
    /// recording a use (for `plan`).
    pub fn peek(&self, key: &ClipKey) -> Option<PathBuf> {
        let path = self.clip_path(key);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() > 0 => Some(path),
            _ => None,
        }
    }

    /// The cached clip of `key`, recording the use in its metadata so
    /// `prune` keeps clips that are still used. Failing to record the use
    /// only logs a warning: the clip is still good.
    ///
    /// The clip is not verified here (the store knows no media): a caller
    /// that finds it undecodable calls [`ClipCache::remove`].
    pub fn get(&self, key: &ClipKey) -> Option<PathBuf> {
        let path = self.peek(key)?;
        // Ages are for `prune`, which counts in hours and days: a use
        // recorded within the last hour is recent enough, and skipping the
        // locked, fsynced rewrite keeps a rerun of a long deck fast.
        let recent = read_meta(&self.meta_path(key)).is_some_and(|m| {
            SystemTime::now()
                .duration_since(m.last_used)
                .is_ok_and(|age| age < TOUCH_INTERVAL)
        });
        if recent {
            return Some(path);
        }
        let lock = match self.lock() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("clip cache: {e}");
                return self.peek(key);
            }
        };
        // Checked again under the lock: a concurrent prune may have won.
        let path = self.peek(key)?;
        if let Err(e) = self.touch_locked(key, &path) {
            tracing::warn!(
                "clip cache: could not record use of {}: {e}",
                path.display()
            );
        }
        drop(lock);
        Some(path)
    }

    fn touch_locked(&self, key: &ClipKey, clip: &Path) -> Result<(), StoreError> {
        let meta_path = self.meta_path(key);
        let Some(mut meta) = read_meta(&meta_path) else {
            // No metadata to update; the clip's mtime stands in for it.
            let now = fs::FileTimes::new().set_modified(SystemTime::now());
            return fs::File::options()
                .write(true)
                .open(clip)
                .and_then(|f| f.set_times(now))
                .map_err(|e| StoreError::io("touching", clip, e));
        };
        meta.last_used = fsutil::now();
        write_meta(&meta_path, &meta)
    }

    /// Store `clip` as the cached clip of `key` (a copy; `clip` is left as
    /// it is) and return the cached path. An existing clip of the same key
    /// is replaced: `put` after a failed verification heals the cache.
    pub fn put(
        &self,
        key: &ClipKey,
        clip: &Path,
        origin: ClipOrigin,
    ) -> Result<PathBuf, StoreError> {
        let dest = self.clip_path(key);
        let same_file = matches!(
            (fs::canonicalize(clip), fs::canonicalize(&dest)),
            (Ok(a), Ok(b)) if a == b
        );
        let staged = if same_file {
            None
        } else {
            Some(StagedCopy::new(clip, &self.dir)?)
        };
        let _lock = self.lock()?;
        let size = match staged {
            Some(staged) => {
                let size = staged.size;
                staged.install(&dest)?;
                size
            }
            None => fs::metadata(&dest)
                .map_err(|e| StoreError::io("reading", &dest, e))?
                .len(),
        };
        self.write_origin(key, origin, size)?;
        Ok(dest)
    }

    /// Move `clip` into the cache as the clip of `key` and return the cached
    /// path; `clip` is gone afterwards. A rename, not a copy, when the cache
    /// is on the same file system (a copy and a removal when it is not), so
    /// recording a fetched clip costs no clip-sized I/O. The clip's data is
    /// synced before it is moved, so the cache never holds a clip that a
    /// power cut could truncate.
    pub fn adopt(
        &self,
        key: &ClipKey,
        clip: &Path,
        origin: ClipOrigin,
    ) -> Result<PathBuf, StoreError> {
        fs::File::open(clip)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io("syncing", clip, e))?;
        let dest = self.clip_path(key);
        let lock = self.lock()?;
        match fs::rename(clip, &dest) {
            Ok(()) => {
                fsutil::sync_dir(&self.dir);
                let size = fs::metadata(&dest)
                    .map_err(|e| StoreError::io("reading", &dest, e))?
                    .len();
                self.write_origin(key, origin, size)?;
                Ok(dest)
            }
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                drop(lock);
                let dest = self.put(key, clip, origin)?;
                if let Err(e) = fs::remove_file(clip) {
                    tracing::warn!("cannot remove {}: {e}", clip.display());
                }
                Ok(dest)
            }
            Err(e) => Err(StoreError::io("moving a clip to", &dest, e)),
        }
    }

    fn write_origin(&self, key: &ClipKey, origin: ClipOrigin, size: u64) -> Result<(), StoreError> {
        let now = fsutil::now();
        let meta = ClipMeta {
            key: key.clone(),
            provider: origin.request.provider.clone(),
            format_version: provider_format_version(&origin.request.provider),
            vendor_id: origin.vendor_id,
            request: origin.request,
            created: now,
            last_used: now,
            size,
        };
        write_meta(&self.meta_path(key), &meta)
    }

    /// Remove the clip of `key` (for a clip that failed verification).
    /// Returns whether there was one.
    pub fn remove(&self, key: &ClipKey) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        let existed = remove_if_exists(&self.clip_path(key))?;
        remove_if_exists(&self.meta_path(key))?;
        Ok(existed)
    }

    /// Every clip in the cache, most recently used first.
    pub fn list(&self) -> Result<Vec<CacheEntry>, StoreError> {
        let mut entries = Vec::new();
        for (key, clip) in self.clip_files()? {
            let Ok(fs_meta) = fs::metadata(&clip) else {
                continue; // removed meanwhile
            };
            let meta = read_meta(&self.meta_path(&key));
            let mtime = fs_meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            entries.push(CacheEntry {
                size: fs_meta.len(),
                created: meta.as_ref().map_or(mtime, |m| m.created),
                last_used: meta.as_ref().map_or(mtime, |m| m.last_used),
                key,
                clip,
                meta,
            });
        }
        entries.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.key.cmp(&b.key)));
        Ok(entries)
    }

    /// Remove every clip not used for `older_than` (by its last use), plus
    /// leftovers: metadata without a clip, and temporary files of copies a
    /// killed process abandoned.
    pub fn prune(&self, older_than: Duration) -> Result<PruneReport, StoreError> {
        let _lock = self.lock()?;
        let now = SystemTime::now();
        let cutoff = now
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut report = PruneReport::default();
        for entry in self.list()? {
            if entry.last_used <= cutoff {
                remove_if_exists(&entry.clip)?;
                remove_if_exists(&self.meta_path(&entry.key))?;
                report.freed_bytes += entry.size;
                report.removed.push(entry.key);
            } else {
                report.kept += 1;
            }
        }
        for item in read_dir(&self.dir)? {
            let path = item.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let stale_temp = name.starts_with(TEMP_PREFIX)
                && fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP_AGE);
            let orphan_meta = name
                .strip_suffix(".json")
                .and_then(|k| k.parse::<ClipKey>().ok())
                .is_some_and(|k| !self.clip_path(&k).exists());
            if (stale_temp || orphan_meta) && remove_if_exists(&path)? {
                report.leftovers_removed += 1;
            }
        }
        Ok(report)
    }

    /// `(key, path)` of every `<key>.mp4` in the directory.
    fn clip_files(&self) -> Result<Vec<(ClipKey, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        for item in read_dir(&self.dir)? {
            let path = item.path();
            let key = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".mp4"))
                .and_then(|k| k.parse::<ClipKey>().ok());
            if let Some(key) = key {
                out.push((key, path));
            }
        }
        Ok(out)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    let iter = fs::read_dir(dir).map_err(|e| StoreError::io("listing", dir, e))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::io("listing", dir, e))
}

fn read_meta(path: &Path) -> Option<ClipMeta> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("clip cache: cannot read {}: {e}", path.display());
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(
                "clip cache: ignoring unreadable metadata {}: {e}",
                path.display()
            );
            None
        }
    }
}

fn write_meta(path: &Path, meta: &ClipMeta) -> Result<(), StoreError> {
    let json = serde_json::to_vec_pretty(meta)
        .map_err(|e| StoreError::io("serializing", path, std::io::Error::other(e)))?;
    fsutil::write_atomic(path, &json)
}

fn remove_if_exists(path: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("removing", path, e)),
    }
}

/// `1.2 MB`-style sizes for listings.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long ago `t` was, coarsely (`3d`, `5h`, `just now`).
pub fn format_age(t: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(t).unwrap_or_default().as_secs();
    match secs {
        0..=59 => "just now".to_string(),
        60..=3599 => format!("{}min ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// A table of cache entries for `slidecast cache list`.
pub struct CacheListing<'a> {
    /// The entries, as [`ClipCache::list`] returns them.
    pub entries: &'a [CacheEntry],
    /// The time ages are counted from.
    pub now: SystemTime,
}

impl fmt::Display for CacheListing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return writeln!(f, "the clip cache is empty");
        }
        writeln!(
            f,
            "{:<12}  {:>9}  {:<10}  {:<8}  script",
            "key", "size", "last used", "provider"
        )?;
        let mut total = 0;
        for e in self.entries {
            total += e.size;
            let (provider, script) = match &e.meta {
                Some(m) => (m.provider.as_str(), preview(&m.request.script, 40)),
                None => ("?", "(no metadata)".to_string()),
            };
            writeln!(
                f,
                "{:<12}  {:>9}  {:<10}  {:<8}  {script}",
                e.key.short(),
                format_size(e.size),
                format_age(e.last_used, self.now),
                provider
            )?;
        }
        writeln!(
            f,
            "{} clip(s), {} in total",
            self.entries.len(),
            format_size(total)
        )
    }
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} clip(s), freed {}; {} kept",
            self.removed.len(),
            format_size(self.freed_bytes),
            self.kept
        )?;
        if self.leftovers_removed > 0 {
            write!(f, "; {} leftover file(s) removed", self.leftovers_removed)?;
        }
        Ok(())
    }
}

/// The first `max` characters of `text` on one line, with an ellipsis.
pub(crate) fn preview(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
