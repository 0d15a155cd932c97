//! `slidecast-core` turns a slide deck with a narration script per slide into a
//! schedule of work: avatar clip renders at a vendor (the slow step, about a
//! minute each), local preparation of every slide, composition of each slide's
//! segment as soon as its clip is ready, and the final join in deck order.
//!
//! The crate owns the [deck model](deck), the two extension points
//! ([`AvatarProvider`] for vendors, [`Composer`] for the media back end) and the
//! [scheduler](schedule) that drives them. It knows nothing about HTTP or
//! FFmpeg: vendors and media live in their own crates and plug in through the
//! traits. With the `testing` feature, `testing` holds test doubles (a
//! scripted provider and composer that wait on tokio's clock, so they run
//! instantly under a paused one) for other crates' tests and the
//! `slidecast-simulate` tool; it is not in the default build.
//!
//! Two small utilities every crate shares also live here: [`atomic`] (how
//! every output file is written) and [`speech`] (how long a script takes to
//! speak).

#![warn(missing_docs)]

pub mod atomic;
pub mod composer;
pub mod deck;
pub mod error;
pub mod progress;
pub mod provider;
pub mod schedule;
pub mod speech;
#[cfg(feature = "testing")]
pub mod testing;

pub use composer::{
    Chapter, ClipInfo, ComposeError, Composer, FinishOptions, PreparedSlide, SlideSegment,
    SubtitleCue, SubtitleTrack,
};
pub use deck::{Deck, DeckError, DeckProblem, LoadOptions, Presenter, Slide};
pub use error::Error;
pub use progress::{Progress, SlideEvent};
pub use provider::{
    AvatarProvider, Billing, ClipIdentity, ClipRequest, PermanentKind, ProviderError,
    ProviderLimits, RenderHandle, RenderStatus, RequestProblem,
};
pub use schedule::{
    Claim, ClaimToken, ClipSource, CpuPool, Finishing, NoJournal, NoRegistry, RenderJournal,
    RenderRegistry, RenderReport, RetryPolicy, RunOptions, Schedule, Scheduler, Span, Stage,
};
pub use speech::SpeechRate;
