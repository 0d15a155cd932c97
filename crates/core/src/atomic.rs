//! Atomic file output: every file slidecast writes appears whole or not at
//! all.
//!
//! The bytes go to a temporary file in the destination's own folder (so the
//! rename cannot cross file systems), the file is fsynced, renamed over the
//! destination, and the folder is fsynced so the rename itself survives a
//! power cut. A reader sees the old file or the new one, never half of one;
//! a crash leaves at most a hidden `.NAME.tmp-*` file beside the output.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Write `bytes` to `dest` atomically (temp file, fsync, rename, fsync
/// folder). Blocking: call it off the async runtime for large files.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let staged = AtomicFile::new(dest);
    let mut file = File::create(staged.temp_path())?;
    file.write_all(bytes)?;
    drop(file);
    staged.commit()
}

/// A destination written through a temporary path: hand
/// [`temp_path`](Self::temp_path) to a writer that wants a path (an FFmpeg
/// muxer, a child process), then [`commit`](Self::commit). Dropped without
/// a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Stage a write of `dest`; nothing is created yet.
    pub fn new(dest: &Path) -> AtomicFile {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let stem = dest
            .file_stem()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let ext = dest
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = folder_of(dest).join(format!(".{stem}.tmp-{}-{n}{ext}", std::process::id()));
        AtomicFile {
            temp,
            dest: dest.to_path_buf(),
            committed: false,
        }
    }

    /// Where the writer writes. It keeps the destination's extension, so
    /// writers that pick a format by extension pick the right one.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Sync the written file and move it over the destination.
    pub fn commit(mut self) -> io::Result<()> {
        File::open(&self.temp)?.sync_all()?;
        std::fs::rename(&self.temp, &self.dest)?;
        self.committed = true;
        // Some file systems refuse to fsync a folder; the data is synced.
        if let Ok(dir) = File::open(folder_of(&self.dest)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        write_atomic(&dest, b"one").unwrap();
        write_atomic(&dest, b"two").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the output is left");
    }

    #[test]
    fn uncommitted_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("video.mp4");
        {
            let staged = AtomicFile::new(&dest);
            std::fs::write(staged.temp_path(), b"half").unwrap();
            assert_eq!(staged.temp_path().extension().unwrap(), "mp4");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
