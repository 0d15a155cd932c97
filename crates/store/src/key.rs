//! Content-addressed clip keys (see [`ClipKey`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slidecast_core::ClipRequest;

use crate::StoreError;

/// Clip format version of each provider. Bump a provider's number when the
/// clip it makes for the same request changes (new encoder settings, a new
/// request shape sent to the vendor, a fixed rendering bug): every key of
/// that provider changes with it, so old clips are no longer reused and
/// `cache prune` eventually removes them.
pub const PROVIDER_FORMAT_VERSIONS: &[(&str, u32)] = &[
    ("did", 1),
    ("elai", 1),
    ("heygen", 1),
    ("local", 1),
    ("mock", 1),
];

/// The clip format version of `provider` (1 for providers not listed in
/// [`PROVIDER_FORMAT_VERSIONS`]).
pub fn provider_format_version(provider: &str) -> u32 {
    PROVIDER_FORMAT_VERSIONS
        .iter()
        .find(|(name, _)| *name == provider)
        .map_or(1, |(_, v)| *v)
}

/// The content address of one clip: 64 lowercase hex digits.
///
/// The hex SHA-256 of the request's [`ClipIdentity`](slidecast_core::ClipIdentity)
/// (a canonical serialization of everything that changes a clip) under the
/// provider's clip format version ([`PROVIDER_FORMAT_VERSIONS`]). The slide
/// number and the deck title do not change the clip, so two slides (of one
/// deck or of two decks) that ask for the same clip share one key and one
/// cached file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClipKey(String);

impl ClipKey {
    /// The key of `request`, with its provider's current format version.
    pub fn for_request(request: &ClipRequest) -> ClipKey {
        ClipKey::with_format_version(request, provider_format_version(&request.provider))
    }

    /// The key of `request` under an explicit provider format version: the
    /// hex SHA-256 of its [`ClipIdentity`](slidecast_core::ClipIdentity)
    /// under that version.
    pub fn with_format_version(request: &ClipRequest, format_version: u32) -> ClipKey {
        let hash = Sha256::digest(request.identity().versioned(format_version));
        let mut hex = String::with_capacity(64);
        for byte in hash {
            hex.push_str(&format!("{byte:02x}"));
        }
        ClipKey(hex)
    }

    /// The key as 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for tables and messages.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ClipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ClipKey {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(ClipKey(s.to_string()))
        } else {
            Err(StoreError::BadKey(s.to_string()))
        }
    }
}

impl TryFrom<String> for ClipKey {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ClipKey> for String {
    fn from(k: ClipKey) -> String {
        k.0
    }
}
