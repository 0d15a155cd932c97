//! `slidecast-heygen`: the [HeyGen](https://www.heygen.com) avatar provider.
//!
//! [`HeyGenProvider`] implements slidecast's
//! [`AvatarProvider`](slidecast_core::AvatarProvider) on HeyGen's REST API
//! through the shared vendor client (`slidecast-vendor`: rate limit,
//! `Retry-After`, the key scrubbed from every message). A create starts the
//! render; the status read issues a fresh download URL each time, so an
//! expired one is replaced; errors HeyGen puts inside a 200 answer are
//! classified (too long, no credits, unknown avatar); avatars that render a
//! transparent WebM are asked for one, others render over the key colour.
//! It bills [`BILLING`]: a credit per started 30 s.
//!
//! Modules:
//! - [`config`]: [`HeyGenConfig`] and its builder.
//! - [`wire`]: all knowledge of HeyGen's endpoints and JSON fields, and
//!   which of them the project has evidence for.
//! - [`provider`]: the `AvatarProvider`.
//! - [`discovery`]: avatars, talking photos and voices, and their tables.
//! - `fake` (feature `fake`): a stateful fake HeyGen server for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use slidecast_heygen::{AvatarTable, HeyGenConfig, HeyGenProvider};
//! let provider = HeyGenProvider::new(HeyGenConfig::builder().build()?)?;
//! println!("{}", AvatarTable(&provider.list_avatars().await?));
//! # Ok(()) }
//! ```

pub mod config;
pub mod discovery;
#[cfg(feature = "fake")]
pub mod fake;
pub mod provider;
pub mod wire;

pub use config::{ApiKey, ConfigError, HeyGenConfig, HeyGenConfigBuilder, API_KEY_ENV};
pub use discovery::{Avatar, AvatarTable, Voice, VoiceTable};
pub use provider::{HandleData, HeyGenProvider, BILLING, PROVIDER_NAME};
