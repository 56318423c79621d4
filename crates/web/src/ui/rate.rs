//! Rate limits for the public forms, in memory, per process: governor's keyed GCRA limiter
//! (a maintained crate in place of the hand-written sliding window it replaced).
//!
//! `limit` hits per `window` means a burst of `limit`, then one more each `window / limit`:
//! smoother than a window that empties all at once, and a flood is held to the same average.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::Quota;

/// One limiter per kind of hit, one state per key (an address, a link token).
pub struct RateLimiter<C: Clock = DefaultClock> {
    inner: governor::RateLimiter<String, HashMapStateStore<String>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter::with_clock(limit, window, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// Keys kept before idle ones are swept (bounds memory under a flood of addresses).
    const SWEEP_AT: usize = 10_000;

    /// A limiter on a clock of one's own (a test's fake clock).
    pub fn with_clock(limit: u32, window: Duration, clock: C) -> RateLimiter<C> {
        let burst = NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN);
        let period = (window / burst.get()).max(Duration::from_nanos(1));
        // `with_period` is `None` only for a zero period, excluded just above.
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        RateLimiter {
            inner: governor::RateLimiter::new(quota, HashMapStateStore::default(), clock.clone()),
            clock,
        }
    }

    /// Counts a hit for `key`, or refuses it with the time until the next one is allowed (a
    /// refused hit is not counted).
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        if self.inner.len() >= Self::SWEEP_AT {
            self.inner.retain_recent();
        }
        self.inner
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// A public page's refusal of a hit for `retry`: `page` draws it, given the whole minutes to
/// wait, and the response tells clients the seconds in `Retry-After` (at least 1).
pub fn too_many(retry: Duration, page: impl FnOnce(u64) -> Response) -> Response {
    let secs = retry.as_secs().max(1);
    let mut resp = page(secs.div_ceil(60));
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_burst_then_one_hit_per_share_of_the_window() {
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(10, Duration::from_secs(600), clock.clone());
        for _ in 0..10 {
            l.hit("1.2.3.4").unwrap();
        }
        assert_eq!(l.hit("1.2.3.4").unwrap_err(), Duration::from_secs(60));
        l.hit("5.6.7.8").expect("another address is not limited");
        clock.advance(Duration::from_secs(59));
        assert_eq!(l.hit("1.2.3.4").unwrap_err(), Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        l.hit("1.2.3.4").unwrap();
        assert!(l.hit("1.2.3.4").is_err(), "one hit earned, one spent");
        // After a whole quiet window the full burst is back.
        clock.advance(Duration::from_secs(600));
        for _ in 0..10 {
            l.hit("1.2.3.4").unwrap();
        }
    }
}
