//! Turning an upload into a deck folder: a zipped deck folder, or a deck
//! file and its pictures as separate parts.
//!
//! Everything lands in a private folder of the job. A bundle may not write
//! outside it: absolute paths, `..`, links and more than the allowed number
//! of files are refused, and its unpacked size is capped like the upload.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// Deck file names looked for at a bundle's root.
pub const DECK_FILES: [&str; 2] = ["deck.toml", "deck.json"];

/// An upload refused: what is wrong, for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadError(pub String);

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The job options a client may send (part `options`, JSON).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Render every presenter slide with this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `eager` (default), `in-order` or `sequential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Refuse the job when it would cost more vendor minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_minutes: Option<f64>,
    /// Refuse the job when a vendor would cost more than this, in its own
    /// unit (`{"heygen": 40}`: HeyGen credits).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub max_cost: std::collections::BTreeMap<String, f64>,
    /// Write captions (files and a subtitle track); default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<bool>,
}

impl JobOptions {
    /// The schedule these options name.
    pub fn schedule(&self) -> Result<slidecast_render::Schedule, UploadError> {
        use slidecast_render::Schedule;
        match self.schedule.as_deref() {
            None | Some("eager") => Ok(Schedule::Eager),
            Some("in-order") => Ok(Schedule::InOrder),
            Some("sequential") => Ok(Schedule::Sequential),
            Some(other) => Err(UploadError(format!(
                "options.schedule: `{other}` is not a schedule; use eager, in-order or sequential"
            ))),
        }
    }
}

/// A path inside a bundle, made safe: relative, no `..`, no root or prefix.
pub fn safe_relative(name: &str) -> Result<PathBuf, UploadError> {
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(UploadError(format!(
                    "`{name}`: paths in an upload may not contain `..`"
                )))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(UploadError(format!(
                    "`{name}`: paths in an upload must be relative"
                )))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(UploadError(format!("`{name}`: not a file name")));
    }
    Ok(out)
}

/// Unpack the zip at `zip_path` into `dest`, refusing anything that could
/// leave it; `max_bytes` caps the unpacked size. Blocking.
pub fn unpack_bundle(
    zip_path: &Path,
    dest: &Path,
    max_files: usize,
    max_bytes: u64,
) -> Result<(), UploadError> {
    let file = std::fs::File::open(zip_path)
        .map_err(|e| UploadError(format!("cannot read the bundle: {e}")))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| UploadError(format!("bundle: not a zip archive ({e})")))?;
    let files = (0..archive.len())
        .filter(|&i| archive.by_index_raw(i).map(|f| !f.is_dir()).unwrap_or(true))
        .count();
    if files > max_files {
        return Err(UploadError(format!(
            "bundle: {files} files, more than the {max_files} allowed"
        )));
    }
    let mut written: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| UploadError(format!("bundle: entry {i}: {e}")))?;
        let name = entry.name().to_string();
        if entry.is_symlink() {
            return Err(UploadError(format!(
                "bundle: `{name}` is a link; links are not accepted"
            )));
        }
        let rel = safe_relative(&name).map_err(|e| UploadError(format!("bundle: {e}")))?;
        let target = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| UploadError(format!("bundle: `{name}`: {e}")))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| UploadError(format!("bundle: `{name}`: {e}")))?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| UploadError(format!("bundle: `{name}`: {e}")))?;
        // The sizes in the archive may lie: count what is really unpacked.
        let budget = max_bytes.saturating_sub(written);
        let copied = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| UploadError(format!("bundle: `{name}`: {e}")))?;
        written += copied;
        if copied > budget {
            return Err(UploadError(format!(
                "bundle: unpacks to more than {max_bytes} bytes"
            )));
        }
    }
    Ok(())
}

/// The deck file of an unpacked bundle: `deck.toml` or `deck.json` at its
/// root, or in its only folder (a zipped folder).
pub fn find_deck(root: &Path) -> Result<PathBuf, UploadError> {
    let at = |dir: &Path| DECK_FILES.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    if let Some(found) = at(root) {
        return Ok(found);
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| UploadError(format!("bundle: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("__MACOSX"))
        })
        .collect();
    if let [only] = entries.as_slice() {
        if only.is_dir() {
            if let Some(found) = at(only) {
                return Ok(found);
            }
        }
    }
    Err(UploadError(
        "the upload has no deck.toml or deck.json at its root".into(),
    ))
}

/// Deck problems for slide pictures outside the upload's folder `root`.
pub fn images_outside(
    deck: &slidecast_core::Deck,
    root: &Path,
    deck_file_label: &str,
) -> Vec<crate::db::Problem> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    deck.slides
        .iter()
        .filter(|s| {
            // A missing picture is reported by the image check; here only
            // where an existing one lives matters.
            s.image.canonicalize().is_ok_and(|p| !p.starts_with(&root))
                || s.image.components().any(|c| c == Component::ParentDir)
        })
        .map(|s| crate::db::Problem {
            file: deck_file_label.to_string(),
            slide: Some(s.number),
            field: "image".into(),
            message: "the picture must be a file of the upload (no `..`, no absolute path)".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut w = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        file
    }

    #[test]
    fn a_plain_bundle_unpacks_and_its_deck_is_found() {
        let zip = zip_with(&[("talk/deck.toml", b"x"), ("talk/slides/1.png", b"p")]);
        let dest = tempfile::tempdir().unwrap();
        unpack_bundle(zip.path(), dest.path(), 10, 1000).unwrap();
        assert_eq!(
            find_deck(dest.path()).unwrap(),
            dest.path().join("talk/deck.toml")
        );
        assert_eq!(
            std::fs::read(dest.path().join("talk/slides/1.png")).unwrap(),
            b"p"
        );
    }

    #[test]
    fn escaping_paths_too_many_files_and_bombs_are_refused() {
        let dest = tempfile::tempdir().unwrap();
        let outside = dest.path().parent().unwrap().join("evil.txt");
        for (name, want) in [
            ("../evil.txt", "may not contain `..`"),
            ("a/../../evil.txt", "may not contain `..`"),
            ("/tmp/evil.txt", "must be relative"),
        ] {
            let zip = zip_with(&[(name, b"x")]);
            let err = unpack_bundle(zip.path(), dest.path(), 10, 1000).unwrap_err();
            assert!(err.0.contains(want), "{name}: {err}");
        }
        assert!(!outside.exists());
        let zip = zip_with(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
        let err = unpack_bundle(zip.path(), dest.path(), 2, 1000).unwrap_err();
        assert!(err.0.contains("3 files, more than the 2 allowed"), "{err}");
        let zip = zip_with(&[("big", &[0u8; 5000])]);
        let err = unpack_bundle(zip.path(), dest.path(), 10, 1000).unwrap_err();
        assert!(err.0.contains("more than 1000 bytes"), "{err}");
    }

    #[test]
    fn links_in_a_bundle_are_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut w = zip::ZipWriter::new(file.reopen().unwrap());
        w.add_symlink(
            "link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.finish().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let err = unpack_bundle(file.path(), dest.path(), 10, 1000).unwrap_err();
        assert!(err.0.contains("is a link"), "{err}");
        assert!(!dest.path().join("link").exists());
    }

    #[test]
    fn unknown_options_are_named() {
        let err = serde_json::from_str::<JobOptions>(r#"{"provder": "elai"}"#).unwrap_err();
        assert!(err.to_string().contains("provder"), "{err}");
    }
}
