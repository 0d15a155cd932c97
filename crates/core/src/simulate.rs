//! `slidecast simulate`: the real scheduler on the mock provider and composer
//! under tokio's paused clock — instant and deterministic.
