//! The run's own clock: how long since the process started, so `-v` lines can place work that
//! runs side by side (a listing, a copy started before it ended) on one timeline.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// Starts the clock (the first thing `main` does); later calls change nothing.
pub fn start() {
    START.get_or_init(Instant::now);
}

/// The time since [`start`] (or since the first call, where nothing started it).
pub fn since_start() -> Duration {
    START.get_or_init(Instant::now).elapsed()
}
