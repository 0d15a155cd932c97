//! Client-side request rate limit: a token bucket on tokio time, plus a gate
//! that holds every request back after the vendor answered 429 with `Retry-After`
//! (so concurrent renders do not each hit the limit again).
//!
//! Status polls leave the last tokens of the bucket to other requests: when
//! the budget is short, a create, a render call or a download goes out
//! before another status read. A deck's renders all start at once only if
//! the polls of those already running do not hold the creates back
//! (measured: with 250 ms polls at 5 requests a second, a 6-slide deck's
//! creates spread over 8.6 s).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Which requests a request gives way to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Creates, render calls, downloads, look-ups: first.
    Work,
    /// Status polls: only while tokens are left over beyond the reserve.
    Poll,
}

/// A token bucket shared by every request of one provider.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    /// Tokens a poll leaves in the bucket for [`Lane::Work`].
    reserve: f64,
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
            // Half the burst, but never the whole bucket: a poll must be
            // able to go out at all (a burst of 1 reserves nothing).
            reserve: (burst / 2.0).floor().min(burst - 1.0),
            state: Mutex::new(State {
                tokens: burst,
                refilled: Instant::now(),
                not_before: None,
            }),
        }
    }

    /// Wait until a request in `lane` may go out, and take its token.
    pub(crate) async fn acquire(&self, lane: Lane) {
        let needed = match lane {
            Lane::Work => 1.0,
            Lane::Poll => 1.0 + self.reserve,
        };
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
                        if s.tokens >= needed {
                            s.tokens -= 1.0;
                            return;
                        }
                        Duration::from_secs_f64((needed - s.tokens) / self.per_second)
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The vendor asked us to wait `delay`: hold every request back until then.
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
            limiter.acquire(Lane::Work).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(Lane::Work).await;
        limiter.acquire(Lane::Work).await;
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
        limiter.acquire(Lane::Poll).await;
        assert!(start.elapsed() >= Duration::from_secs(7));
    }

    /// With the bucket short, a create goes out at once and a status poll
    /// waits until the reserve is back.
    #[tokio::test(start_paused = true)]
    async fn a_poll_leaves_the_last_tokens_to_creates() {
        let limiter = RateLimiter::new(5.0, 5);
        for _ in 0..3 {
            limiter.acquire(Lane::Work).await;
        }
        // Two tokens left, the reserve.
        let start = Instant::now();
        limiter.acquire(Lane::Work).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "a create takes one");
        // One left: a poll needs the reserve (2) plus its own, 2 more
        // tokens at 5 a second.
        limiter.acquire(Lane::Poll).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(399) && waited < Duration::from_millis(450),
            "{waited:?}"
        );
        // Meanwhile a create would have gone: after the poll the bucket
        // holds the reserve again.
        let again = Instant::now();
        limiter.acquire(Lane::Work).await;
        limiter.acquire(Lane::Work).await;
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_of_one_still_lets_polls_through() {
        let limiter = RateLimiter::new(5.0, 1);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(Lane::Poll).await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(399) && took < Duration::from_millis(450),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_other_work_polls_use_the_whole_rate() {
        let limiter = RateLimiter::new(5.0, 5);
        let start = Instant::now();
        for _ in 0..13 {
            limiter.acquire(Lane::Poll).await;
        }
        // 3 from the bucket beyond the reserve of 2, then 5 a second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1990) && took <= Duration::from_millis(2100),
            "{took:?}"
        );
    }
}
