//! Admission and the ticket lifecycle: a request is routed once from one
//! [`Snapshot`], reserves a slot in realizar's queue and a charge on that
//! backend's breaker, and is settled when its answer arrives (or cancelled
//! when the client leaves).
//!
//! Slots are reserved atomically in realizar, so two requests racing for the
//! last slot cannot both get it: the loser is offered to the other queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use realizar::{Engine, EngineError, InferenceOutput, Pending};
use trueno::Backend;

use crate::breaker::{BreakerState, CostBreaker, Reservation};
use crate::route::{InferenceRequest, RoutePolicy, Snapshot};

/// Everything the server shares across requests; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    policy: RoutePolicy,
    /// One breaker per configured backend. The GPU's also holds the cost
    /// budget; every backend's opens on its error rate, so a backend whose
    /// requests fail stops getting traffic until its probes succeed.
    breakers: BTreeMap<Backend, Arc<Mutex<CostBreaker>>>,
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// Every queue that could take it is full, the total queue limit is
    /// reached, or the GPU budget is spent with `fallback = "reject"`.
    #[error("all backends are at capacity; retry in {}s", retry_after.as_secs())]
    Overloaded {
        /// When a retry is expected to find room.
        retry_after: Duration,
    },
    /// The request itself is wrong (unknown model, bad shape…).
    #[error(transparent)]
    Rejected(EngineError),
}

/// An admitted request. Await it with [`ServerState::finish`]; dropped
/// unfinished (the client left), it cancels its breaker reservation.
#[derive(Debug)]
pub struct Ticket {
    /// The backend it was admitted to.
    pub backend: Backend,
    /// Whether it went elsewhere than its primary.
    pub spilled: bool,
    pending: Option<Pending>,
    reservation: Option<Reservation>,
    breaker: Arc<Mutex<CostBreaker>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(r) = self.reservation.take() {
            lock(&self.breaker).cancel(r);
        }
    }
}

fn lock(b: &Mutex<CostBreaker>) -> std::sync::MutexGuard<'_, CostBreaker> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether an outcome counts against the backend's health: only failures on
/// our side do. A client's bad input (NaN, wrong shape) says nothing about
/// the backend, and must not let one client open another's breaker.
fn healthy_outcome(result: &Result<InferenceOutput, EngineError>) -> bool {
    !matches!(result, Err(EngineError::Internal { .. }))
}

impl ServerState {
    /// Wraps a running engine. Every backend the policy can name must be configured in it.
    pub fn new(engine: Engine, policy: RoutePolicy) -> Result<ServerState, EngineError> {
        let named = [
            Some(policy.default_primary()),
            Some(policy.spillover),
            policy.limits.fallback.backend(),
        ];
        for b in named.into_iter().flatten() {
            engine
                .queue(b)
                .ok_or(EngineError::BackendNotConfigured(b))?;
        }
        let breakers = engine
            .queues()
            .iter()
            .map(|q| {
                let mut cfg = policy.limits.breaker;
                if q.backend() != Backend::Gpu {
                    cfg.gpu_cost_limit = f64::INFINITY; // the budget is the GPU's alone
                }
                (q.backend(), Arc::new(Mutex::new(CostBreaker::new(cfg))))
            })
            .collect();
        Ok(ServerState {
            inner: Arc::new(Inner {
                engine,
                policy,
                breakers,
            }),
        })
    }

    /// The engine running the models.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The routing policy.
    pub fn policy(&self) -> &RoutePolicy {
        &self.inner.policy
    }

    /// Every queue's load and the open breakers, now.
    pub fn snapshot(&self) -> Snapshot {
        let now = tokio::time::Instant::now();
        Snapshot {
            loads: self.engine().queues().iter().map(|q| q.load()).collect(),
            open: self
                .inner
                .breakers
                .iter()
                .filter(|(_, b)| lock(b).state(now) == BreakerState::Open)
                .map(|(&backend, _)| backend)
                .collect(),
        }
    }

    /// The primary backend for `req` now: fixed, or the selector's choice
    /// for its forward pass given every queue's load.
    pub fn primary_for(&self, req: &InferenceRequest) -> Backend {
        let model = self.engine().model(&req.input.model);
        self.policy()
            .primary_for(model.as_deref(), &req.input.payload, &self.snapshot())
    }

    /// Requests queued or running on every backend together.
    pub fn total_queue_depth(&self) -> usize {
        self.engine().queues().iter().map(|q| q.queue_depth()).sum()
    }

    /// The GPU breaker's state and GPU-seconds in its window, now (closed and
    /// zero when no GPU backend is configured).
    pub fn breaker_status(&self) -> (BreakerState, f64) {
        let now = tokio::time::Instant::now();
        match self.inner.breakers.get(&Backend::Gpu) {
            Some(b) => {
                let mut b = lock(b);
                (b.state(now), b.gpu_seconds(now))
            }
            None => (BreakerState::Closed, 0.0),
        }
    }

    /// Every configured backend's breaker state (open: its recent requests
    /// failed, or for the GPU its budget is spent).
    pub fn backend_health(&self) -> Vec<(Backend, BreakerState)> {
        let now = tokio::time::Instant::now();
        self.inner
            .breakers
            .iter()
            .map(|(&b, br)| (b, lock(br).state(now)))
            .collect()
    }

    /// Whether the server can serve now: models are loaded and every backend
    /// has a live worker.
    pub fn is_ready(&self) -> bool {
        !self.engine().model_names().is_empty()
            && self.engine().queues().iter().all(|q| q.live_workers() > 0)
    }

    /// The refusal while the GPU breaker is open with `fallback = "reject"`:
    /// retry once it may have half-opened.
    fn gpu_rejected(&self) -> AdmitError {
        AdmitError::Overloaded {
            retry_after: self
                .policy()
                .limits
                .breaker
                .cooldown
                .max(Duration::from_secs(1)),
        }
    }

    fn overloaded(&self, now: &Snapshot) -> AdmitError {
        AdmitError::Overloaded {
            retry_after: self.retry_after(now),
        }
    }

    /// A refusal that needs nothing from the request but its arrival: the
    /// total queue limit is reached, or every queue `admit` could use is full
    /// (or, for a GPU primary with `fallback = "reject"`, its breaker is
    /// open). The HTTP layer asks this before reading the body, so a refused
    /// request costs microseconds instead of a parse. `None` means the
    /// request may fit (then `admit` decides).
    pub fn refuses_now(&self) -> Option<AdmitError> {
        let policy = self.policy();
        let now = self.snapshot();
        if now.total_depth() >= policy.limits.queue_depth_limit {
            return Some(self.overloaded(&now));
        }
        let usable: Vec<Backend> = match policy.primary {
            // Any queue the selector may pick.
            crate::config::Primary::Auto => now.loads.iter().map(|l| l.backend).collect(),
            crate::config::Primary::Fixed(b) => {
                let Some(mut order) = policy.candidates(b, &now) else {
                    return Some(self.gpu_rejected());
                };
                if b == Backend::Gpu && now.is_open(Backend::Gpu) {
                    // Admission also offers GPU work to the fallback.
                    order.extend(policy.limits.fallback.backend());
                }
                order
            }
        };
        let full = |b: &Backend| now.load(*b).is_none_or(|l| !l.has_room());
        usable.iter().all(full).then(|| self.overloaded(&now))
    }

    /// Admits `req` to the backend routing picks, else the other one. The
    /// primary and the route are decided once, from one snapshot. Every
    /// admission asks that backend's breaker: an open GPU breaker sends GPU
    /// work to the fallback, an open CPU breaker (its requests have been
    /// failing) sends work to the other backend whatever the `spill` policy.
    /// Never blocks.
    pub fn admit(&self, req: &InferenceRequest) -> Result<Ticket, AdmitError> {
        let policy = self.policy();
        let now = self.snapshot();
        if now.total_depth() >= policy.limits.queue_depth_limit {
            return Err(self.overloaded(&now));
        }
        let model = self.engine().model(&req.input.model);
        let primary = policy.primary_for(model.as_deref(), &req.input.payload, &now);
        let Some(order) = policy.candidates(primary, &now) else {
            return Err(self.gpu_rejected());
        };
        let mut wanted: VecDeque<Backend> = order.into();
        let mut tried = Vec::with_capacity(3);
        while let Some(backend) = wanted.pop_front() {
            if tried.contains(&backend) {
                continue;
            }
            tried.push(backend);
            let Some(breaker) = self.inner.breakers.get(&backend) else {
                continue;
            };
            // The GPU budget reserves what a pass has cost so far (10 ms
            // before the first is measured); other backends have no budget.
            let estimate = match now.load(backend) {
                Some(l) if backend == Backend::Gpu => l
                    .per_request()
                    .unwrap_or(Duration::from_millis(10))
                    .as_secs_f64(),
                _ => 0.0,
            };
            let reservation = match lock(breaker).admit(tokio::time::Instant::now(), estimate) {
                Ok(r) => r,
                Err(_) if backend == Backend::Gpu => match policy.limits.fallback.backend() {
                    Some(fb) => {
                        wanted.push_front(fb);
                        continue;
                    }
                    None => return Err(self.gpu_rejected()),
                },
                Err(_) => {
                    wanted.push_back(policy.alternative(primary, backend));
                    continue;
                }
            };
            match self.engine().submit(backend, req.input.clone()) {
                Ok(pending) => {
                    return Ok(Ticket {
                        backend,
                        spilled: backend != primary,
                        pending: Some(pending),
                        reservation: Some(reservation),
                        breaker: Arc::clone(breaker),
                    });
                }
                Err(e) => {
                    lock(breaker).cancel(reservation);
                    match e {
                        EngineError::QueueFull { .. } => continue,
                        other => return Err(AdmitError::Rejected(other)),
                    }
                }
            }
        }
        Err(self.overloaded(&now))
    }

    /// Waits for an admitted request and settles its breaker reservation
    /// with the measured busy time.
    pub async fn finish(&self, mut ticket: Ticket) -> Result<InferenceOutput, EngineError> {
        let pending = ticket.pending.take().expect("a ticket is finished once");
        let result = pending.await;
        if let Some(r) = ticket.reservation.take() {
            let busy = result.as_ref().map_or(0.0, |out| out.busy.as_secs_f64());
            lock(&ticket.breaker).complete(
                tokio::time::Instant::now(),
                r,
                busy,
                healthy_outcome(&result),
            );
        }
        result
    }

    /// When the sooner of the primary's and the spillover's queues should
    /// have drained, in whole seconds rounded up (HTTP's `Retry-After`
    /// unit), at least one.
    pub fn retry_after(&self, now: &Snapshot) -> Duration {
        let policy = self.policy();
        let drain = [policy.default_primary(), policy.spillover]
            .iter()
            .filter_map(|&b| now.load(b))
            .map(|l| l.drain_time())
            .min()
            .unwrap_or_default();
        Duration::from_secs(drain.as_secs_f64().ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests;
