//! The cost circuit breaker: a GPU-time budget over an exact sliding window,
//! and an error-rate trip, with closed → open → half-open → closed states.
//!
//! A GPU request reserves its estimated busy time at admission; on completion
//! the reservation is replaced by the measured busy time, recorded at that
//! instant. The budget in force is the sum of recorded busy time in the last
//! `window` (exactly: every record is kept until it leaves the window, so no
//! burst can exceed the budget the way a token bucket's burst can) plus what is
//! reserved. A request that would exceed it opens the breaker; so does a GPU
//! error rate above the threshold. After `cooldown` the breaker half-opens and
//! lets `half_open_probes` requests through; if they all succeed it closes,
//! and any failure (or a spent budget) opens it again.
//!
//! The clock is passed in (`tokio::time::Instant`), so tests run on paused,
//! virtual time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The breaker's settings: part of `[serve.circuit_breaker]`, whose keys
/// are named in brackets; the defaults are [`BreakerConfig::default`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// GPU-seconds of measured busy time allowed per `window` (`gpu_cost_limit`).
    pub gpu_cost_limit: f64,
    /// The sliding window the budget and the error rate are counted over.
    pub window: Duration,
    /// How long the breaker stays open before probing (`cooldown_secs`).
    pub cooldown: Duration,
    /// Successful probes needed to close again (`half_open_probes`).
    pub half_open_probes: u32,
    /// Error rate (0–1) over the window that opens the breaker (`error_rate_threshold`).
    pub error_rate_threshold: f64,
    /// Outcomes needed in the window before the error rate counts (`min_requests`).
    pub min_requests: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            gpu_cost_limit: 100.0,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(30),
            half_open_probes: 3,
            error_rate_threshold: 0.5,
            min_requests: 20,
        }
    }
}

/// The breaker's state, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// GPU requests flow.
    Closed,
    /// GPU requests go to the fallback until the cooldown ends.
    Open,
    /// A few probe requests may use the GPU.
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 half-open, 2 open: the Prometheus gauge value.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// Why the GPU was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The breaker is open (or half-open with all probes in flight).
    Open,
    /// This request would exceed the GPU-time budget; the breaker opened.
    BudgetSpent,
}

/// Proof of an admitted GPU request; hand it back to [`CostBreaker::complete`].
#[derive(Debug)]
#[must_use = "a reservation must be completed, or its estimate stays reserved"]
pub struct Reservation {
    estimate: f64,
    probe: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, passed: u32 },
}

/// The breaker (see the module doc).
#[derive(Debug)]
pub struct CostBreaker {
    cfg: BreakerConfig,
    state: State,
    /// (completed at, busy seconds), oldest first.
    charges: VecDeque<(Instant, f64)>,
    charged: f64,
    reserved: f64,
    /// (completed at, succeeded), oldest first.
    outcomes: VecDeque<(Instant, bool)>,
}

impl CostBreaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> CostBreaker {
        CostBreaker {
            cfg,
            state: State::Closed,
            charges: VecDeque::new(),
            charged: 0.0,
            reserved: 0.0,
            outcomes: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        let horizon = now.checked_sub(self.cfg.window);
        let old = |t: Instant| horizon.is_some_and(|h| t <= h);
        while let Some(&(_, s)) = self.charges.front().filter(|(t, _)| old(*t)) {
            self.charged -= s;
            self.charges.pop_front();
        }
        if self.charges.is_empty() {
            self.charged = 0.0; // no drift from float subtraction
        }
        while self.outcomes.front().is_some_and(|(t, _)| old(*t)) {
            self.outcomes.pop_front();
        }
    }

    /// The state now (an open breaker whose cooldown ended reports half-open).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if let State::Open { until } = self.state
            && now >= until
        {
            self.state = State::HalfOpen {
                in_flight: 0,
                passed: 0,
            };
        }
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Measured GPU busy seconds in the window ending now, plus reservations.
    pub fn gpu_seconds(&mut self, now: Instant) -> f64 {
        self.prune(now);
        self.charged + self.reserved
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open {
            until: now + self.cfg.cooldown,
        };
    }

    /// Asks to run a GPU request estimated to keep the GPU busy `estimate` seconds.
    pub fn admit(&mut self, now: Instant, estimate: f64) -> Result<Reservation, Refusal> {
        let state = self.state(now);
        if self.gpu_seconds(now) + estimate > self.cfg.gpu_cost_limit {
            self.open(now);
            return Err(Refusal::BudgetSpent);
        }
        let probe = match (state, &mut self.state) {
            (BreakerState::Open, _) => return Err(Refusal::Open),
            (BreakerState::HalfOpen, State::HalfOpen { in_flight, passed }) => {
                if *in_flight + *passed >= self.cfg.half_open_probes {
                    return Err(Refusal::Open);
                }
                *in_flight += 1;
                true
            }
            _ => false,
        };
        self.reserved += estimate;
        Ok(Reservation { estimate, probe })
    }

    /// Releases a reservation whose request never ran (its queue was full, or
    /// its caller left): nothing is charged.
    pub fn cancel(&mut self, r: Reservation) {
        self.reserved = (self.reserved - r.estimate).max(0.0);
        if r.probe
            && let State::HalfOpen { in_flight, .. } = &mut self.state
        {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    /// Settles a reservation with the measured busy time and the outcome.
    pub fn complete(&mut self, now: Instant, r: Reservation, busy: f64, ok: bool) {
        self.reserved = (self.reserved - r.estimate).max(0.0);
        self.prune(now);
        self.charges.push_back((now, busy));
        self.charged += busy;
        self.outcomes.push_back((now, ok));
        if r.probe
            && let State::HalfOpen { in_flight, passed } = &mut self.state
        {
            *in_flight = in_flight.saturating_sub(1);
            if !ok {
                self.open(now);
                return;
            }
            *passed += 1;
            if *passed >= self.cfg.half_open_probes {
                self.state = State::Closed;
                self.outcomes.clear(); // a fresh start for the error rate
            }
            return;
        }
        let failures = self.outcomes.iter().filter(|(_, ok)| !ok).count();
        let n = self.outcomes.len();
        if self.state == State::Closed
            && n >= self.cfg.min_requests
            && failures as f64 / n as f64 > self.cfg.error_rate_threshold
        {
            self.open(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            gpu_cost_limit: 1.0,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(10),
            half_open_probes: 2,
            error_rate_threshold: 0.5,
            min_requests: 4,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[tokio::test(start_paused = true)]
    async fn budget_is_an_exact_sliding_window() {
        let mut b = CostBreaker::new(cfg());
        let t0 = Instant::now();
        // 0.4 s at t0 and 0.4 s at t0 + 30 s: 0.8 used.
        let r = b.admit(t0, 0.4).unwrap();
        b.complete(t0, r, 0.4, true);
        tokio::time::advance(secs(30)).await;
        let r = b.admit(Instant::now(), 0.4).unwrap();
        b.complete(Instant::now(), r, 0.4, true);
        assert!((b.gpu_seconds(Instant::now()) - 0.8).abs() < 1e-9);
        // 0.3 more would make 1.1 > 1.0: refused, and the breaker opens.
        assert_eq!(
            b.admit(Instant::now(), 0.3).unwrap_err(),
            Refusal::BudgetSpent
        );
        assert_eq!(b.state(Instant::now()), BreakerState::Open);
        // Exactly 60 s after t0 the first charge leaves the window (not a second before).
        tokio::time::advance(secs(29)).await;
        assert!((b.gpu_seconds(Instant::now()) - 0.8).abs() < 1e-9);
        tokio::time::advance(secs(1)).await;
        assert!((b.gpu_seconds(Instant::now()) - 0.4).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn reservations_count_until_reconciled() {
        let mut b = CostBreaker::new(cfg());
        let now = Instant::now();
        let r1 = b.admit(now, 0.6).unwrap();
        // In flight, the estimate is charged: a second 0.6 does not fit.
        assert_eq!(b.admit(now, 0.6).unwrap_err(), Refusal::BudgetSpent);
        // Reconciled with the real (smaller) busy time.
        b.complete(now, r1, 0.1, true);
        assert!((b.gpu_seconds(now) - 0.1).abs() < 1e-9);
        // A cancelled reservation charges nothing.
        tokio::time::advance(Duration::from_secs(10)).await;
        let r = b.admit(Instant::now(), 0.5).unwrap();
        b.cancel(r);
        assert!((b.gpu_seconds(Instant::now()) - 0.1).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn every_state_transition() {
        let mut b = CostBreaker::new(cfg());
        let now = || Instant::now();
        assert_eq!(b.state(now()), BreakerState::Closed);
        // Closed -> Open on errors: 3 failures out of 4 > 50%.
        for ok in [true, false, false, false] {
            let r = b.admit(now(), 0.01).unwrap();
            b.complete(now(), r, 0.01, ok);
        }
        assert_eq!(b.state(now()), BreakerState::Open);
        assert_eq!(b.admit(now(), 0.01).unwrap_err(), Refusal::Open);
        // Open -> HalfOpen after the cooldown, not before.
        tokio::time::advance(secs(9)).await;
        assert_eq!(b.state(now()), BreakerState::Open);
        tokio::time::advance(secs(1)).await;
        assert_eq!(b.state(now()), BreakerState::HalfOpen);
        // HalfOpen admits exactly `half_open_probes` probes at once.
        let p1 = b.admit(now(), 0.01).unwrap();
        let p2 = b.admit(now(), 0.01).unwrap();
        assert_eq!(b.admit(now(), 0.01).unwrap_err(), Refusal::Open);
        // HalfOpen -> Open when a probe fails.
        b.complete(now(), p1, 0.01, false);
        assert_eq!(b.state(now()), BreakerState::Open);
        b.complete(now(), p2, 0.01, true);
        assert_eq!(b.state(now()), BreakerState::Open);
        // HalfOpen -> Closed when every probe succeeds.
        tokio::time::advance(secs(10)).await;
        assert_eq!(b.state(now()), BreakerState::HalfOpen);
        for _ in 0..2 {
            let p = b.admit(now(), 0.01).unwrap();
            b.complete(now(), p, 0.01, true);
        }
        assert_eq!(b.state(now()), BreakerState::Closed);
        // Closed -> Open on a spent budget, too.
        assert_eq!(b.admit(now(), 5.0).unwrap_err(), Refusal::BudgetSpent);
        assert_eq!(b.state(now()), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn few_outcomes_do_not_trip_the_error_rate() {
        let mut b = CostBreaker::new(cfg());
        for _ in 0..3 {
            let r = b.admit(Instant::now(), 0.01).unwrap();
            b.complete(Instant::now(), r, 0.01, false);
        }
        assert_eq!(
            b.state(Instant::now()),
            BreakerState::Closed,
            "3 < min_requests"
        );
    }
}
