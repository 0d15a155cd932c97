//! `slidecast-vendor`: what every avatar vendor crate of slidecast shares.
//!
//! A vendor crate (`slidecast-elai`, `slidecast-heygen`, `slidecast-did`)
//! knows its vendor's endpoints, JSON fields and lifecycle; everything about
//! talking HTTP to *a* vendor lives here, once:
//!
//! - [`Client`]: authenticated JSON calls and streaming downloads through a
//!   client-side rate limit (status polls give way to creates and
//!   downloads, see [`Lane`]), a shared `Retry-After` pause, errors
//!   classified into [`ProviderError`](slidecast_core::ProviderError)s that
//!   name the slide and the vendor's render, the key scrubbed from every
//!   message, downloads written to a temporary file and renamed.
//! - [`ApiKey`]: a key whose `Debug` and `Display` are redacted, and
//!   [`ConnectionBuilder`], which finds it (given, a key file, or the
//!   environment) and checks the base URL.
//! - [`Pacing`]: poll backoff and a render deadline scaled to the script;
//!   [`RenderTracker`]: the renders a provider polls, their deadlines and
//!   download URLs (refreshed once when refused).
//! - [`create_token`]: the request-derived tag that finds a create whose
//!   answer was lost.
//! - `fake` (feature `fake`): the fault injection and serving that every
//!   vendor crate's fake server shares.
//!
//! Architecture invariant: nothing here names a vendor's endpoint or field;
//! what differs between vendors is a [`Vendor`] value.

mod client;
mod connection;
#[cfg(feature = "fake")]
pub mod fake;
mod key;
mod limiter;
mod macros;
mod pacing;
mod tracker;

pub use client::{
    classify, parse_retry_after, Auth, Client, ClientSettings, Ctx, DownloadError, Vendor,
    MAX_RETRY_AFTER,
};
pub use connection::{parse_base_url, ConnectionBuilder};
pub use key::{ApiKey, KeyError};
pub use limiter::Lane;
pub use pacing::Pacing;
pub use tracker::{Clock, RenderTracker};

/// True when a vendor's render id is safe to put in a URL path: a short
/// token of ASCII letters, digits, `-` and `_` (a journal could be edited by
/// hand; never let it smuggle `/` or `?`).
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `handle`'s id, checked before it goes into a URL path: the handle must
/// be `provider`'s (named `vendor` in messages) and its id a safe token
/// ([`is_safe_id`]); otherwise a permanent local error saying which.
pub fn checked_id<'h>(
    handle: &'h slidecast_core::RenderHandle,
    provider: &str,
    vendor: &str,
) -> Result<&'h str, slidecast_core::ProviderError> {
    use slidecast_core::{PermanentKind, ProviderError};
    if handle.provider != provider {
        return Err(ProviderError::permanent(
            PermanentKind::Local,
            format!(
                "render handle {} belongs to provider `{}`, not `{provider}`",
                handle.id, handle.provider
            ),
        ));
    }
    if !is_safe_id(&handle.id) {
        return Err(ProviderError::permanent(
            PermanentKind::Local,
            format!("`{}` is not a {vendor} render id", handle.id),
        ));
    }
    Ok(&handle.id)
}

/// A vendor's message as one line of at most 300 characters (`None` when
/// it is blank): what errors quote.
pub fn one_line(text: &str) -> Option<String> {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then(|| line.chars().take(300).collect())
}

/// The tag that marks every create of `request`: the same for every
/// attempt and every process, so any of them can find a create whose
/// answer was lost (`slidecast-req-<16 hex digits>`).
pub fn create_token(request: &slidecast_core::ClipRequest) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_vec(&request.cache_fields()).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    format!("slidecast-req-{}", hex::encode(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_change_a_path_are_refused() {
        assert!(is_safe_id("5f9a1c2b3d4e5f6a7b8c9d0e") && is_safe_id("tlk_AbC-9"));
        for bad in ["../avatars", "a?b", "a/b", "", &"x".repeat(129)] {
            assert!(!is_safe_id(bad), "{bad}");
        }
    }

    #[test]
    fn messages_become_one_short_line() {
        assert_eq!(
            one_line("  Slide 1 is\n too long. ").as_deref(),
            Some("Slide 1 is too long.")
        );
        assert_eq!(one_line(" \n "), None);
        assert_eq!(one_line(&"a".repeat(400)).map(|l| l.len()), Some(300));
    }
}
