//! Routing and admission: the seed's `route_request`, the cost circuit
//! breaker around the GPU, and the admission that reserves a queue slot.
//!
//! The primary backend takes requests while its queue has room and, for the
//! GPU, while the breaker is not open; otherwise the spillover backend does.
//! With `spill = "auto"` a request also spills when the spillover backend is
//! expected to finish it sooner. With `primary = "auto"` the backend selector
//! picks the primary per request from the model's forward-pass cost. When both
//! queues are full the request is refused with a retry hint. Slots are
//! reserved atomically in realizar, so two requests racing for the last slot
//! cannot both get it: the loser is offered to the other queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aprender::Mlp;
use realizar::registry::{self, LoadReport};
use realizar::{
    BackendConfig, BackendQueue, Engine, EngineError, InferenceInput, InferenceOutput, Pending,
};
use trueno::{Backend, Op};

use crate::breaker::{BreakerConfig, BreakerState, CostBreaker, Reservation};
use crate::config::{Fallback, Primary, ServeConfig, Spill};
use crate::select::{BackendSelector, CostModel, Load, Profile};

/// One inference request as batuta sees it: an id for the client, and the input.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRequest {
    /// The client's request id, echoed in the response.
    pub id: Option<String>,
    /// The model and the rows to run.
    pub input: InferenceInput,
}

/// How requests are routed (the routing half of `[serve]`).
#[derive(Debug)]
pub struct RoutePolicy {
    /// Where requests go first.
    pub primary: Primary,
    /// Where they go when the primary cannot take them.
    pub spillover: Backend,
    /// When to spill.
    pub spill: Spill,
    /// Most requests queued or running, all backends together.
    pub queue_depth_limit: usize,
    /// The GPU breaker's settings.
    pub breaker: BreakerConfig,
    /// Where GPU requests go while the breaker is open.
    pub fallback: Fallback,
    /// Chooses the primary when it is `Auto`.
    pub selector: Option<BackendSelector>,
}

impl RoutePolicy {
    /// Plain spillover from `primary` to `spillover`, no budget to speak of.
    pub fn spillover(
        primary: Backend,
        spillover: Backend,
        queue_depth_limit: usize,
    ) -> RoutePolicy {
        RoutePolicy {
            primary: Primary::Fixed(primary),
            spillover,
            spill: Spill::Full,
            queue_depth_limit,
            breaker: BreakerConfig {
                gpu_cost_limit: f64::INFINITY,
                window: Duration::from_secs(60),
                cooldown: Duration::from_secs(30),
                half_open_probes: 3,
                error_rate_threshold: 0.5,
                min_requests: 20,
            },
            fallback: Fallback::Cpu,
            selector: None,
        }
    }
}

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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The engine could not start its backends.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The model directory could not be read.
    #[error(transparent)]
    Models(#[from] aprender::AprenderError),
    /// The cost profile for `primary = "auto"` is unusable.
    #[error(transparent)]
    Profile(#[from] crate::select::ProfileError),
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
/// unfinished (the client left), it cancels its GPU budget reservation.
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

/// The ops of one forward pass of `mlp` over `rows` rows.
pub fn forward_ops(mlp: &Mlp, rows: usize) -> Vec<Op> {
    let last = mlp.layers().len() - 1;
    mlp.layers()
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            let out = rows * l.outputs();
            let act = if i == last {
                Op::softmax(rows, l.outputs())
            } else {
                Op::relu(out)
            };
            [Op::matmul(rows, l.inputs(), l.outputs()), Op::add(out), act]
        })
        .collect()
}

impl ServerState {
    /// Starts the engine for `serve` and loads every model in its `model_dir`;
    /// bad model files are skipped and listed in the report.
    pub fn from_config(serve: &ServeConfig) -> Result<(ServerState, LoadReport), StartError> {
        let mut pools: Vec<BackendConfig> = serve
            .backends
            .iter()
            .map(|(&backend, s)| {
                BackendConfig::new(backend, s.capacity, s.workers)
                    .with_batching(s.max_batch_size, s.max_batch_delay)
            })
            .collect();
        let mut selector = None;
        if serve.primary == Primary::Auto {
            let path = serve
                .profile
                .clone()
                .or_else(Profile::default_path)
                .filter(|p| serve.profile.is_some() || p.exists());
            let mut s = BackendSelector::new()
                .with_cost_model(CostModel::Gregg5x)
                .with_load_balancing(true);
            if let Some(p) = path {
                s = s.with_profile(Profile::load(&p)?);
            }
            let gpu_ok = trueno::gpu::GpuContext::shared().is_ok();
            if gpu_ok && !pools.iter().any(|p| p.backend == Backend::Gpu) {
                let d = serve
                    .backends
                    .get(&Backend::Gpu)
                    .copied()
                    .unwrap_or_default();
                pools.push(BackendConfig::new(Backend::Gpu, d.capacity, d.workers));
            }
            let measured_gpu = s.profile().is_some_and(|p| p.gpu.is_some());
            selector = Some(s.with_gpu(gpu_ok && measured_gpu));
        }
        let engine = Engine::new(&pools)?;
        let report = registry::load_dir(&engine, &serve.model_dir)?;
        let cb = &serve.circuit_breaker;
        let policy = RoutePolicy {
            primary: serve.primary,
            spillover: serve.spillover,
            spill: serve.spill,
            queue_depth_limit: cb.queue_depth_limit,
            breaker: BreakerConfig {
                gpu_cost_limit: cb.gpu_cost_limit,
                window: Duration::from_secs(60),
                cooldown: cb.cooldown,
                half_open_probes: cb.half_open_probes,
                error_rate_threshold: cb.error_rate_threshold,
                min_requests: cb.min_requests,
            },
            fallback: cb.fallback,
            selector,
        };
        Ok((ServerState::new(engine, policy)?, report))
    }

    /// Wraps a running engine. Every backend the policy can name must be configured in it.
    pub fn new(engine: Engine, policy: RoutePolicy) -> Result<ServerState, EngineError> {
        let fixed = match policy.primary {
            Primary::Fixed(b) => Some(b),
            Primary::Auto => Some(Backend::Simd),
        };
        for b in [fixed, Some(policy.spillover), policy.fallback.backend()]
            .into_iter()
            .flatten()
        {
            engine
                .queue(b)
                .ok_or(EngineError::BackendNotConfigured(b))?;
        }
        let breakers = engine
            .queues()
            .iter()
            .map(|q| {
                let mut cfg = policy.breaker;
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

    /// The queue requests go to first (for `primary = "auto"`: the SIMD queue,
    /// the selector's default; see [`ServerState::primary_for`]).
    pub fn primary_backend(&self) -> &BackendQueue {
        let b = match self.inner.policy.primary {
            Primary::Fixed(b) => b,
            Primary::Auto => Backend::Simd,
        };
        self.inner
            .engine
            .queue(b)
            .expect("checked in ServerState::new")
    }

    /// The queue that takes requests when the primary cannot.
    pub fn spillover_backend(&self) -> &BackendQueue {
        self.inner
            .engine
            .queue(self.inner.policy.spillover)
            .expect("checked in ServerState::new")
    }

    /// The primary queue for this request: fixed, or the selector's choice for
    /// its forward pass given every queue's current load.
    pub fn primary_for(&self, req: &InferenceRequest) -> &BackendQueue {
        let (Primary::Auto, Some(selector), Some(mlp)) = (
            self.inner.policy.primary,
            &self.inner.policy.selector,
            self.engine().model(&req.input.model),
        ) else {
            return self.primary_backend();
        };
        for q in self.engine().queues() {
            let load = Load {
                queue_depth: q.queue_depth(),
                mean_service: q.mean_service_time().unwrap_or_default(),
                workers: q.workers(),
            };
            selector.set_load(q.backend(), load);
        }
        let choice = selector
            .decide_many(&forward_ops(&mlp, req.input.rows), false)
            .backend;
        self.engine()
            .queue(choice)
            .unwrap_or_else(|| self.primary_backend())
    }

    /// Requests queued or running on every backend together.
    pub fn total_queue_depth(&self) -> usize {
        self.inner
            .engine
            .queues()
            .iter()
            .map(|q| q.queue_depth())
            .sum()
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

    fn gpu_blocked(&self) -> bool {
        self.is_open(Backend::Gpu)
    }

    /// Whether `backend`'s breaker is open now.
    fn is_open(&self, backend: Backend) -> bool {
        self.inner
            .breakers
            .get(&backend)
            .is_some_and(|b| lock(b).state(tokio::time::Instant::now()) == BreakerState::Open)
    }

    /// The refusal while the GPU breaker is open with `fallback = "reject"`:
    /// retry once it may have half-opened.
    fn gpu_rejected(&self) -> AdmitError {
        AdmitError::Overloaded {
            retry_after: self
                .inner
                .policy
                .breaker
                .cooldown
                .max(Duration::from_secs(1)),
        }
    }

    /// A refusal that needs nothing from the request but its arrival: the
    /// total queue limit is reached, or every queue `admit` could use is full
    /// (or, for a GPU primary with `fallback = "reject"`, its breaker is
    /// open). The HTTP layer asks this before reading the body, so a refused
    /// request costs microseconds instead of a parse. `None` means the
    /// request may fit (then `admit` decides).
    pub fn refuses_now(&self) -> Option<AdmitError> {
        let policy = &self.inner.policy;
        let engine = self.engine();
        let overloaded = || AdmitError::Overloaded {
            retry_after: self.retry_after(),
        };
        if self.total_queue_depth() >= policy.queue_depth_limit {
            return Some(overloaded());
        }
        let full = |b: Backend| engine.queue(b).is_none_or(|q| !q.has_room());
        let usable: Vec<Backend> = match policy.primary {
            Primary::Auto => engine.queues().iter().map(|q| q.backend()).collect(),
            Primary::Fixed(Backend::Gpu) if policy.fallback == Fallback::Reject => {
                if self.gpu_blocked() {
                    return Some(self.gpu_rejected());
                }
                vec![Backend::Gpu, policy.spillover]
            }
            Primary::Fixed(b) if b == Backend::Gpu && self.gpu_blocked() => [b, policy.spillover]
                .into_iter()
                .chain(policy.fallback.backend())
                .collect(),
            // What `admit` would try: `route_request`'s choice, and the other
            // backend too for `full` or when the first one's breaker is open.
            Primary::Fixed(b) => {
                let first = self.route_from(b);
                let other = if first == b { policy.spillover } else { b };
                std::iter::once(first)
                    .chain((policy.spill == Spill::Full || self.is_open(first)).then_some(other))
                    .collect()
            }
        };
        usable.into_iter().all(full).then(overloaded)
    }

    /// Admits `req` to the backend [`route_request`] picks, else the other
    /// one. Every admission asks that backend's breaker: an open GPU breaker
    /// sends GPU work to the fallback, an open CPU breaker (its requests have
    /// been failing) sends work to the other backend whatever the `spill`
    /// policy. Never blocks.
    pub fn admit(&self, req: &InferenceRequest) -> Result<Ticket, AdmitError> {
        let policy = &self.inner.policy;
        if self.total_queue_depth() >= policy.queue_depth_limit {
            return Err(AdmitError::Overloaded {
                retry_after: self.retry_after(),
            });
        }
        // Decided once: the selector's choice depends on loads that move.
        let primary = self.primary_for(req).backend();
        if primary == Backend::Gpu && policy.fallback == Fallback::Reject && self.gpu_blocked() {
            return Err(self.gpu_rejected());
        }
        let first = self.route_from(primary);
        let alternative = |b: Backend| {
            if b == primary {
                policy.spillover
            } else {
                primary
            }
        };
        // Full: the other queue if this one filled meanwhile. Auto: route_from
        // already weighed both. Never: the primary alone (unless it is unhealthy).
        let mut wanted: VecDeque<Backend> = std::iter::once(first)
            .chain((policy.spill == Spill::Full).then(|| alternative(first)))
            .collect();
        let mut tried = Vec::with_capacity(3);
        while let Some(backend) = wanted.pop_front() {
            if tried.contains(&backend) {
                continue;
            }
            tried.push(backend);
            let Some(breaker) = self.inner.breakers.get(&backend) else {
                continue;
            };
            let estimate = if backend == Backend::Gpu {
                // What a request has cost so far (10 ms before the first is measured).
                self.engine()
                    .queue(Backend::Gpu)
                    .and_then(|q| q.mean_service_time())
                    .unwrap_or(Duration::from_millis(10))
                    .as_secs_f64()
            } else {
                0.0
            };
            let reservation = match lock(breaker).admit(tokio::time::Instant::now(), estimate) {
                Ok(r) => r,
                Err(_) if backend == Backend::Gpu => match policy.fallback.backend() {
                    Some(fb) => {
                        wanted.push_front(fb);
                        continue;
                    }
                    None => return Err(self.gpu_rejected()),
                },
                Err(_) => {
                    wanted.push_back(alternative(backend));
                    continue;
                }
            };
            match self.inner.engine.submit(backend, req.input.clone()) {
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
        Err(AdmitError::Overloaded {
            retry_after: self.retry_after(),
        })
    }

    /// Waits for an admitted request and settles its GPU budget with the
    /// measured busy time.
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

    /// When the sooner of the two queues should have drained, in whole seconds
    /// rounded up (HTTP's `Retry-After` unit), at least one.
    pub fn retry_after(&self) -> Duration {
        let drain = self
            .primary_backend()
            .expected_drain_time()
            .min(self.spillover_backend().expected_drain_time());
        Duration::from_secs(drain.as_secs_f64().ceil().max(1.0) as u64)
    }
}

/// Expected time until a new request on `q` finishes, if its service time is known.
fn expected_completion(q: &BackendQueue) -> Option<Duration> {
    q.mean_service_time()
        .map(|s| s.mul_f64(q.queue_depth() as f64 / q.workers().max(1) as f64 + 1.0))
}

/// Heijunka for inference requests: the primary backend while its queue has
/// headroom, otherwise the spillover backend (`spill = "full"`, the seed's
/// rule). With `spill = "auto"` the spillover backend exactly when it is
/// expected to finish sooner, queue wait included (a full primary's expected
/// completion counts its whole queue); with `spill = "never"` the primary
/// alone. A GPU primary whose breaker is open yields to the breaker's fallback.
pub fn route_request(req: &InferenceRequest, state: &ServerState) -> Backend {
    state.route_from(state.primary_for(req).backend())
}

impl ServerState {
    /// [`route_request`] for a primary already chosen.
    fn route_from(&self, primary: Backend) -> Backend {
        let state = self;
        let primary = state
            .engine()
            .queue(primary)
            .unwrap_or_else(|| state.primary_backend());
        let spillover = state.spillover_backend();
        if primary.backend() == Backend::Gpu && state.gpu_blocked() {
            // An open breaker sends GPU work to the fallback (`reject` is refused in `admit`).
            return state
                .inner
                .policy
                .fallback
                .backend()
                .unwrap_or(spillover.backend());
        }
        let has_room = primary.has_room();
        match state.inner.policy.spill {
            Spill::Never => primary.backend(),
            Spill::Full if has_room => primary.backend(), // Primary has headroom
            Spill::Full => spillover.backend(),           // Level to secondary
            Spill::Auto => {
                // Unknown service times: a full primary spills, but only one
                // request at a time until the spillover is measured: a slow
                // spillover filled blind (32 requests, each 100× the primary's
                // time on the same cores) would stall every one of them and slow
                // the primary down for seconds.
                let sooner = match (expected_completion(spillover), expected_completion(primary)) {
                    (Some(s), Some(p)) => s < p,
                    (None, _) => !has_room && spillover.queue_depth() == 0,
                    (Some(_), None) => !has_room,
                };
                if sooner && spillover.has_room() {
                    spillover.backend()
                } else {
                    primary.backend()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
