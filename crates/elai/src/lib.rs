//! `slidecast-elai`: the [Elai](https://elai.io) avatar provider.
//!
//! [`ElaiProvider`] implements slidecast's [`AvatarProvider`](slidecast_core::AvatarProvider)
//! on Elai's REST API over reqwest (rustls): it creates one single-slide
//! video per deck slide, starts its render, polls its status with backoff
//! and a deadline scaled to the script, streams the finished MP4 to disk,
//! and deletes the remote video on request. Every failure is classified for
//! the scheduler (authentication, quota, rate limit with `Retry-After`,
//! transient server and network errors, rejected requests).
//!
//! Modules:
//! - [`config`]: [`ElaiConfig`] and its builder, the redacting [`ApiKey`].
//! - [`wire`]: all knowledge of Elai's endpoints and JSON fields.
//! - [`provider`]: the `AvatarProvider` and the per-render state.
//! - [`discovery`]: typed avatar and voice lists and their tables.
//! - `fake` (feature `fake`): a stateful fake Elai server for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use slidecast_elai::{AvatarTable, ElaiConfig, ElaiProvider};
//! let provider = ElaiProvider::new(ElaiConfig::builder().base_url("http://127.0.0.1:8080/api/v1").build()?)?;
//! println!("{}", AvatarTable(&provider.list_avatars().await?));
//! # Ok(()) }
//! ```

pub mod config;
pub mod discovery;
#[cfg(feature = "fake")]
pub mod fake;
pub mod provider;
pub mod webhook;
pub mod wire;

pub use config::{
    ApiKey, ConfigError, ElaiConfig, ElaiConfigBuilder, API_KEY_ENV, CREATION_QUOTAS_PER_8H,
};
pub use discovery::{find_avatar, Avatar, AvatarTable, AvatarVariant, Voice, VoiceTable};
pub use provider::{ElaiProvider, HandleData, BILLING, PROVIDER_NAME};
