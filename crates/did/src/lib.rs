//! `slidecast-did`: the [D-ID](https://www.d-id.com) avatar provider.
//!
//! [`DidProvider`] implements slidecast's
//! [`AvatarProvider`](slidecast_core::AvatarProvider) on D-ID's REST API
//! through the shared vendor client (`slidecast-vendor`). A slide whose
//! `presenter.avatar` is a photo URL becomes a *talk* (the photo speaks);
//! any other code is a premium presenter's *clip*, rendered over the key
//! colour. The create starts the render; `rejected` (moderation) is final
//! and its reason is shown; signed `result_url`s that expired are read
//! again. It bills [`BILLING`]: a credit per started 15 s.
//!
//! Modules:
//! - [`config`]: [`DidConfig`] and its builder.
//! - [`wire`]: all knowledge of D-ID's endpoints and JSON fields, and which
//!   of them the project has evidence for.
//! - [`provider`]: the `AvatarProvider`.
//! - [`discovery`]: presenters and their table.
//! - `fake` (feature `fake`): a stateful fake D-ID server for tests.

pub mod config;
pub mod discovery;
#[cfg(feature = "fake")]
pub mod fake;
pub mod provider;
pub mod wire;

pub use config::{ApiKey, ConfigError, DidConfig, DidConfigBuilder, API_KEY_ENV};
pub use discovery::{Presenter, PresenterTable};
pub use provider::{DidProvider, HandleData, BILLING, PROVIDER_NAME};
