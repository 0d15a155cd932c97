//! The store's error: every variant names the file it is about.

use std::path::PathBuf;

/// Why a cache or journal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed; `action` says what was being done.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `locking`, ...).
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The journal file exists but cannot be read as a journal. It is never
    /// replaced automatically: it may be the only record of renders already
    /// paid for.
    #[error(
        "journal {}: not a readable slidecast journal ({message}). It records renders that \
         were already paid for, so slidecast will not overwrite it: inspect it, or move it \
         aside to start afresh (renders it recorded may then be created again)",
        path.display()
    )]
    CorruptJournal {
        /// The journal file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The journal was written by a newer slidecast with a format this one
    /// does not know.
    #[error(
        "journal {}: format {found} is newer than this slidecast understands (format {supported}); \
         upgrade slidecast or use another --state-dir",
        path.display()
    )]
    JournalFormat {
        /// The journal file.
        path: PathBuf,
        /// The format it is written in.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// Another process holds the journal of the same output.
    #[error(
        "another slidecast run is rendering {} (lock {} is held); wait for it to finish or \
         choose another output",
        output.display(),
        lock.display()
    )]
    Busy {
        /// The output being rendered.
        output: PathBuf,
        /// The lock file held by the other run.
        lock: PathBuf,
    },
    /// No default cache directory could be determined.
    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir")]
    NoCacheDir,
    /// A string that should be a clip key is not one.
    #[error("`{0}` is not a clip key (64 lowercase hex digits)")]
    BadKey(String),
    /// A `--older-than` value that is not a duration.
    #[error("`{input}` is not a duration ({message}); write it like 7d, 12h, 90min or 2weeks")]
    BadDuration {
        /// What was given.
        input: String,
        /// Why it is not a duration.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<StoreError> for std::io::Error {
    /// For [`RenderJournal`](slidecast_core::RenderJournal), whose methods
    /// return `std::io::Result`: keeps the kind of an I/O error and the full
    /// message (with the path) of every error.
    fn from(e: StoreError) -> Self {
        let kind = match &e {
            StoreError::Io { source, .. } => source.kind(),
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e.to_string())
    }
}
