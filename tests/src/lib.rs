//! Shared helpers for slidecast end-to-end tests.
