//! Client-side request rate limit: a token bucket on tokio time, plus a gate
//! that holds every request back after Elai answered 429 with `Retry-After`
//! (so concurrent renders do not each hit the limit again).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token bucket shared by every request of one provider.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    /// No request goes out before this (set from `Retry-After`).
    not_before: Option<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second,
            burst,
            state: Mutex::new(State {
                tokens: burst,
                refilled: Instant::now(),
                not_before: None,
            }),
        }
    }

    /// Wait until a request may go out, and take its token.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                match s.not_before {
                    Some(t) if t > now => t - now,
                    _ => {
                        s.not_before = None;
                        let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
                        s.tokens = (s.tokens + elapsed * self.per_second).min(self.burst);
                        s.refilled = now;
                        if s.tokens >= 1.0 {
                            s.tokens -= 1.0;
                            return;
                        }
                        Duration::from_secs_f64((1.0 - s.tokens) / self.per_second)
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Elai asked us to wait `delay`: hold every request back until then.
    pub(crate) async fn pause_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut s = self.state.lock().await;
        match s.not_before {
            Some(t) if t >= until => {}
            _ => s.not_before = Some(until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_spaces_requests_after_the_burst() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        limiter.acquire().await;
        // Two more tokens at 2/s take one second of virtual time.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(999), "{waited:?}");
        assert!(waited < Duration::from_millis(1100), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_everyone_back() {
        let limiter = RateLimiter::new(100.0, 10);
        limiter.pause_for(Duration::from_secs(7)).await;
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(7));
    }
}
