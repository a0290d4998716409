//! Publish rate limits as token buckets. crates.io allows a burst of 30 new
//! versions, then one a minute, and a burst of 5 new crates, then one per ten
//! minutes (its published limits); a publish takes a token from the bucket of
//! its kind and waits when that bucket is empty. Buckets start full: the tool
//! cannot see what the account published before the run.

use std::time::{Duration, Instant};

/// One token bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    burst: f64,
    every: Duration,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens, one more every `every`.
    pub fn new(burst: u32, every: Duration, now: Instant) -> Bucket {
        Bucket {
            burst: f64::from(burst),
            every,
            tokens: f64::from(burst),
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let gained =
            now.saturating_duration_since(self.at).as_secs_f64() / self.every.as_secs_f64();
        self.tokens = (self.tokens + gained).min(self.burst);
        self.at = self.at.max(now);
    }

    /// How long from `now` until a token is there.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            self.every.mul_f64(1.0 - self.tokens)
        }
    }

    /// Takes a token at `now` (after waiting for it).
    pub fn take(&mut self, now: Instant) {
        self.refill(now);
        self.tokens -= 1.0;
    }
}

/// A registry's limits: one bucket for new versions, one for new crates.
#[derive(Debug, Clone)]
pub struct Limits {
    versions: Option<Bucket>,
    crates: Option<Bucket>,
}

impl Limits {
    /// crates.io's published limits.
    pub fn crates_io(now: Instant) -> Limits {
        Limits {
            versions: Some(Bucket::new(30, Duration::from_secs(60), now)),
            crates: Some(Bucket::new(5, Duration::from_secs(600), now)),
        }
    }

    /// No limits (a private registry).
    pub fn none() -> Limits {
        Limits {
            versions: None,
            crates: None,
        }
    }

    fn bucket(&mut self, new_crate: bool) -> Option<&mut Bucket> {
        if new_crate {
            self.crates.as_mut()
        } else {
            self.versions.as_mut()
        }
    }

    /// How long a publish (of a new crate, or a new version) must wait from `now`.
    pub fn wait(&mut self, now: Instant, new_crate: bool) -> Duration {
        self.bucket(new_crate)
            .map_or(Duration::ZERO, |b| b.wait(now))
    }

    /// Records a publish at `now`.
    pub fn take(&mut self, now: Instant, new_crate: bool) {
        if let Some(b) = self.bucket(new_crate) {
            b.take(now);
        }
    }

    /// The total wait of publishing `kinds` (new crate or not) one after
    /// another from `now`, each taking `each`: what the progress line shows.
    pub fn forecast(&self, now: Instant, kinds: &[bool], each: Duration) -> Duration {
        let mut sim = self.clone();
        let mut t = now;
        for &new_crate in kinds {
            t += sim.wait(t, new_crate);
            sim.take(t, new_crate);
            t += each;
        }
        t - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_io_allows_a_burst_then_one_a_minute() {
        let t0 = Instant::now();
        let mut l = Limits::crates_io(t0);
        for _ in 0..30 {
            assert_eq!(l.wait(t0, false), Duration::ZERO);
            l.take(t0, false);
        }
        assert_eq!(l.wait(t0, false), Duration::from_secs(60));
        let later = t0 + Duration::from_secs(30);
        assert_eq!(l.wait(later, false), Duration::from_secs(30));
        // New crates have their own, smaller bucket.
        for _ in 0..5 {
            assert_eq!(l.wait(t0, true), Duration::ZERO);
            l.take(t0, true);
        }
        assert_eq!(l.wait(t0, true), Duration::from_secs(600));
        // 32 new versions from full: 31st waits a minute, 32nd another.
        let fresh = Limits::crates_io(t0);
        let kinds = vec![false; 32];
        assert_eq!(
            fresh.forecast(t0, &kinds, Duration::ZERO),
            Duration::from_secs(120)
        );
        assert_eq!(
            Limits::none().forecast(t0, &kinds, Duration::from_secs(1)),
            Duration::from_secs(32)
        );
    }
}
