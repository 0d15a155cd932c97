//! Atomic file writes and advisory locks shared by the cache and the journal.
//!
//! Every file the store writes goes to a temporary file in the destination's
//! own directory (so the rename cannot cross file systems), is fsynced, and
//! is renamed over the destination; the directory is then fsynced so the
//! rename itself survives a power cut. Readers therefore see the old file or
//! the new one, never half of one. Temporary names start with
//! [`TEMP_PREFIX`] so listings skip them and `prune` can sweep the ones a
//! killed process left behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fs4::fs_std::FileExt;

use crate::StoreError;

/// Prefix of every temporary file the store creates.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile, StoreError> {
    temp_with_prefix(dir, TEMP_PREFIX)
}

fn temp_with_prefix(dir: &Path, prefix: &str) -> Result<tempfile::NamedTempFile, StoreError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(|e| StoreError::io("creating a temporary file in", dir, e))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Make a finished rename durable. Some file systems refuse to fsync a
/// directory; the data itself is already synced, so that is not an error.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Move a synced temporary file over `dest`.
fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), StoreError> {
    tmp.persist(dest)
        .map_err(|e| StoreError::io("renaming a temporary file to", dest, e.error))?;
    sync_dir(parent_of(dest));
    Ok(())
}

/// Write `bytes` to `dest` atomically (temp file, fsync, rename, fsync dir).
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomic_with_prefix(dest, bytes, TEMP_PREFIX)
}

/// [`write_atomic`] with a temporary name starting with `prefix` (which
/// must start with [`TEMP_PREFIX`]), so the writer's leftovers can be told
/// apart from other writers' in the same directory.
pub(crate) fn write_atomic_with_prefix(
    dest: &Path,
    bytes: &[u8],
    prefix: &str,
) -> Result<(), StoreError> {
    debug_assert!(prefix.starts_with(TEMP_PREFIX));
    let mut tmp = temp_with_prefix(parent_of(dest), prefix)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| StoreError::io("writing", dest, e))?;
    persist(tmp, dest)
}

/// A synced copy of `src` in `dir`, not yet in place: call
/// [`StagedCopy::install`] to rename it over its destination. Staging is
/// done without any lock held, so a slow copy never blocks other processes.
pub(crate) struct StagedCopy {
    tmp: tempfile::NamedTempFile,
    pub(crate) size: u64,
}

impl StagedCopy {
    pub(crate) fn new(src: &Path, dir: &Path) -> Result<Self, StoreError> {
        let mut tmp = temp_in(dir)?;
        let mut from = File::open(src).map_err(|e| StoreError::io("opening", src, e))?;
        let size = std::io::copy(&mut from, tmp.as_file_mut())
            .map_err(|e| StoreError::io("copying", src, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| StoreError::io("syncing a copy of", src, e))?;
        Ok(StagedCopy { tmp, size })
    }

    pub(crate) fn install(self, dest: &Path) -> Result<(), StoreError> {
        persist(self.tmp, dest)
    }
}

/// An advisory lock (`flock`) on a lock file, released when dropped (or
/// when the process dies, so a `kill -9` never leaves a stale lock).
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    fn open(path: &Path) -> Result<File, StoreError> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io("opening lock file", path, e))
    }

    /// Wait for the exclusive lock on `path`.
    pub(crate) fn exclusive(path: &Path) -> Result<FileLock, StoreError> {
        let file = Self::open(path)?;
        FileExt::lock_exclusive(&file).map_err(|e| StoreError::io("locking", path, e))?;
        Ok(FileLock { file })
    }

    /// Take the exclusive lock on `path` if nobody holds it.
    pub(crate) fn try_exclusive(path: &Path) -> Result<Option<FileLock>, StoreError> {
        let file = Self::open(path)?;
        match FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(Some(FileLock { file })),
            Ok(false) => Ok(None),
            Err(e) => Err(StoreError::io("locking", path, e)),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock too; unlocking first
        // just makes the release explicit.
        let _ = FileExt::unlock(&self.file);
    }
}

/// Seconds since the Unix epoch (0 for clocks before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Now, in whole seconds: what the files store, so an in-memory record
/// equals the one read back.
pub(crate) fn now() -> SystemTime {
    from_unix_secs(unix_secs(SystemTime::now()))
}

pub(crate) fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `SystemTime` as whole Unix seconds in JSON: readable and stable.
pub(crate) mod serde_unix_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::unix_secs(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        u64::deserialize(d).map(super::from_unix_secs)
    }
}
