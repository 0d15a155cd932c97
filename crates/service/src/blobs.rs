//! [`Blobs`]: where uploads, outputs and finished clips live so that any
//! process of a fleet can read them: a folder (the embedded default) or an
//! S3-compatible bucket, both through `object_store`.
//!
//! Each process keeps a local copy of what it works on (job folders, the
//! clip cache); the blob store is the shared truth behind them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as BlobPath;
use object_store::{ObjectStore, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::error::ServiceError;

/// Largest object put in one request; bigger files go up in parts.
const SINGLE_PUT_BYTES: u64 = 8 << 20;

/// A blob store and the key prefix this service uses in it.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// What it was opened from, for messages (holds no secret: S3 keys
    /// come from the environment).
    url: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("url", &self.url).finish()
    }
}

impl Blobs {
    /// Open `url`: `s3://BUCKET[/PREFIX]` (endpoint, region and keys from
    /// the usual `AWS_*` variables) or a folder (`file:///DIR` or a path).
    pub fn open(url: &str) -> Result<Blobs, ServiceError> {
        let config = |m: String| ServiceError::Config(format!("--blobs {url}: {m}"));
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(config("no bucket; write s3://BUCKET/PREFIX".into()));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| config(e.to_string()))?;
            return Ok(Blobs {
                store: Arc::new(store),
                prefix: prefix.trim_matches('/').to_string(),
                url: url.to_string(),
            });
        }
        let dir = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        if url.contains("://") && !url.starts_with("file://") {
            return Err(config("write s3://BUCKET/PREFIX or a folder".into()));
        }
        std::fs::create_dir_all(&dir).map_err(|e| ServiceError::io(&dir, e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| config(e.to_string()))?;
        Ok(Blobs {
            store: Arc::new(store),
            prefix: String::new(),
            url: url.to_string(),
        })
    }

    /// What it was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, key: &str) -> BlobPath {
        if self.prefix.is_empty() {
            BlobPath::from(key)
        } else {
            BlobPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn err(&self, what: &str, key: &str, e: impl std::fmt::Display) -> ServiceError {
        ServiceError::Blobs(format!("{what} {key} in {}: {e}", self.url))
    }

    /// Store the file `src` as `key`.
    pub async fn put_file(&self, key: &str, src: &Path) -> Result<(), ServiceError> {
        let path = self.path(key);
        let size = tokio::fs::metadata(src)
            .await
            .map_err(|e| ServiceError::io(src, e))?
            .len();
        if size <= SINGLE_PUT_BYTES {
            let bytes = tokio::fs::read(src)
                .await
                .map_err(|e| ServiceError::io(src, e))?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(|e| self.err("storing", key, e))?;
            return Ok(());
        }
        let mut file = tokio::fs::File::open(src)
            .await
            .map_err(|e| ServiceError::io(src, e))?;
        let mut writer = object_store::buffered::BufWriter::new(self.store.clone(), path);
        if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
            let _ = writer.abort().await;
            return Err(self.err("storing", key, e));
        }
        writer
            .shutdown()
            .await
            .map_err(|e| self.err("storing", key, e))
    }

    /// Copy `key` to the file `dest` (written beside it and renamed, so a
    /// reader never sees half of it). False when there is no such blob.
    pub async fn get_file(&self, key: &str, dest: &Path) -> Result<bool, ServiceError> {
        let got = match self.store.get(&self.path(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(self.err("reading", key, e)),
        };
        let dir = dest.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ServiceError::io(dir, e))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ServiceError::io(dir, e))?;
        let (std_file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err("reading", key, e))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| ServiceError::io(dest, e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| ServiceError::io(dest, e))?;
        drop(file);
        tmp_path
            .persist(dest)
            .map_err(|e| ServiceError::io(dest, e.error))?;
        Ok(true)
    }

    /// Store every file under `dir` as `prefix/RELATIVE/PATH`.
    pub async fn put_dir(&self, prefix: &str, dir: &Path) -> Result<usize, ServiceError> {
        let mut stack = vec![dir.to_path_buf()];
        let mut count = 0;
        while let Some(d) = stack.pop() {
            let mut entries = tokio::fs::read_dir(&d)
                .await
                .map_err(|e| ServiceError::io(&d, e))?;
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| ServiceError::io(&d, e))?
            {
                let path = entry.path();
                let kind = entry
                    .file_type()
                    .await
                    .map_err(|e| ServiceError::io(&path, e))?;
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let rel = path
                        .strip_prefix(dir)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?;
                    let rel = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    self.put_file(&format!("{prefix}/{rel}"), &path).await?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Copy every blob under `prefix/` into the folder `dest`, which
    /// appears whole (filled beside it, then renamed). Returns how many
    /// files it holds.
    pub async fn get_dir(&self, prefix: &str, dest: &Path) -> Result<usize, ServiceError> {
        let root = self.path(prefix);
        let mut listed = self.store.list(Some(&root));
        let parent = dest.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ServiceError::io(parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempdir_in(parent)
            .map_err(|e| ServiceError::io(parent, e))?;
        let mut count = 0;
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(|e| self.err("listing", prefix, e))?;
            let Some(rel) = meta.location.prefix_match(&root) else {
                continue;
            };
            let mut target = staging.path().to_path_buf();
            for part in rel {
                let part = part.as_ref();
                // object_store's path parts are never `.`, `..` or empty;
                // checked anyway, since the names came from outside.
                if part.is_empty() || part == "." || part == ".." {
                    return Err(self.err("reading", prefix, "a path part is not a name"));
                }
                target.push(part);
            }
            let key = meta
                .location
                .as_ref()
                .strip_prefix(&format!("{}/", self.prefix))
                .unwrap_or(meta.location.as_ref())
                .to_string();
            if self.get_file(&key, &target).await? {
                count += 1;
            }
        }
        let staged = staging.keep();
        tokio::fs::rename(&staged, dest)
            .await
            .map_err(|e| ServiceError::io(dest, e))?;
        Ok(count)
    }

    /// True when `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, ServiceError> {
        match self.store.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("looking for", key, e)),
        }
    }
}
