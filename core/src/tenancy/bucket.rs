//! A token bucket per store and process: the request rate limit of a plan.
//!
//! Per process, not global: a global count would cost a storage round trip on every request
//! (the budget is one for a read). With N processes behind a load balancer a store gets up to
//! N times its plan's rate; docs/control-plane.md says so. Time is passed in, so tests never
//! sleep or time anything.

use std::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket (a new store may use its whole burst at once).
    pub fn new(now: Instant, burst: u64) -> TokenBucket {
        TokenBucket {
            tokens: burst as f64,
            last: now,
        }
    }

    /// Takes one token if there is one. `rate` and `burst` are read on every call, so a plan
    /// change applies from the next request on.
    pub fn try_take(&mut self, now: Instant, rate: u64, burst: u64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate as f64).min(burst as f64);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts requests per whole second, for `coffer admin stores show`'s request rate.
#[derive(Debug)]
pub struct RateMeter {
    second: u64,
    current: u64,
    previous: u64,
    start: Instant,
}

impl RateMeter {
    pub fn new(now: Instant) -> RateMeter {
        RateMeter {
            second: 0,
            current: 0,
            previous: 0,
            start: now,
        }
    }

    pub fn record(&mut self, now: Instant) {
        self.roll(now);
        self.current += 1;
    }

    /// Requests in the last complete second.
    pub fn per_second(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.previous
    }

    fn roll(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.start).as_secs();
        if second == self.second {
            return;
        }
        self.previous = if second == self.second + 1 {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.second = second;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(t0, 3);
        assert!((0..3).all(|_| bucket.try_take(t0, 2, 3)));
        assert!(!bucket.try_take(t0, 2, 3));
        // Half a second at 2/s is one token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(bucket.try_take(t1, 2, 3));
        assert!(!bucket.try_take(t1, 2, 3));
        // A long pause never fills past the burst.
        let t2 = t1 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take(t2, 2, 3)));
        assert!(!bucket.try_take(t2, 2, 3));
    }

    #[test]
    fn a_higher_rate_applies_from_the_next_request() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(t0, 1);
        assert!(bucket.try_take(t0, 1, 1));
        let t1 = t0 + Duration::from_millis(100);
        assert!(!bucket.try_take(t1, 1, 1));
        let t2 = t1 + Duration::from_millis(100);
        assert!(bucket.try_take(t2, 100, 100));
    }

    #[test]
    fn the_meter_reports_the_last_complete_second() {
        let t0 = Instant::now();
        let mut meter = RateMeter::new(t0);
        for _ in 0..5 {
            meter.record(t0);
        }
        assert_eq!(meter.per_second(t0), 0);
        assert_eq!(meter.per_second(t0 + Duration::from_millis(1500)), 5);
        assert_eq!(meter.per_second(t0 + Duration::from_secs(5)), 0);
    }
}
