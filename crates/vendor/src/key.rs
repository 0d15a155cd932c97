//! [`ApiKey`] and where it comes from.

use std::fmt;
use std::path::{Path, PathBuf};

/// A vendor API key. Its `Debug` and `Display` print a redaction, so it can
/// sit in any struct that is logged; only the HTTP client reads the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, trimming surrounding whitespace. Rejects an empty key or
    /// one with characters an HTTP header cannot carry (without echoing it).
    pub fn new(key: impl Into<String>) -> Result<ApiKey, KeyError> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            return Err(KeyError::Invalid("the key is empty".into()));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::Invalid(
                "the key contains spaces, control or non-ASCII characters".into(),
            ));
        }
        Ok(ApiKey(key))
    }

    /// The secret itself: for an HTTP header, and for a test server that
    /// must check it. Never format it into a message.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why no key could be had. Never contains the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither given, nor in a key file, nor in the environment variable.
    #[error("no {vendor} API key: set {env} or pass a key file")]
    Missing {
        /// The vendor's name.
        vendor: &'static str,
        /// The environment variable read.
        env: &'static str,
    },
    /// The key cannot be sent in a header.
    #[error("invalid API key: {0}")]
    Invalid(String),
    /// The key file could not be read.
    #[error("API key file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no usable key.
    #[error("API key file {}: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// The key in the first non-empty line of `path`, trimmed.
pub(crate) fn read_key_file(path: &Path) -> Result<ApiKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        None => Err(KeyError::BadFile {
            path: path.to_path_buf(),
            message: "the file is empty".into(),
        }),
        Some(line) => ApiKey::new(line).map_err(|e| KeyError::BadFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_never_prints_and_bad_keys_are_not_echoed() {
        let k = ApiKey::new(" sk-live-SECRET-123 ").unwrap();
        assert_eq!(k.expose_secret(), "sk-live-SECRET-123");
        assert!(!format!("{k:?}{k}").contains("SECRET"));
        let err = ApiKey::new("sk SECRET").unwrap_err().to_string();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(ApiKey::new("  ").is_err());
    }

    #[test]
    fn a_key_file_gives_its_first_line_and_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendor.key");
        std::fs::write(&path, "\n  sk-file-SECRET \nother\n").unwrap();
        assert_eq!(
            read_key_file(&path).unwrap().expose_secret(),
            "sk-file-SECRET"
        );
        std::fs::write(&path, "\n \n").unwrap();
        let err = read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("vendor.key") && err.contains("empty"), "{err}");
        let err = read_key_file(&dir.path().join("nope.key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.key"), "{err}");
    }
}
