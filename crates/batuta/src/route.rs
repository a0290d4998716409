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
    breaker: Arc<Mutex<CostBreaker>>,
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
            self.breaker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cancel(r);
        }
    }
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
        let breaker = Arc::new(Mutex::new(CostBreaker::new(policy.breaker)));
        Ok(ServerState {
            inner: Arc::new(Inner {
                engine,
                policy,
                breaker,
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

    /// The breaker's state and GPU-seconds in its window, now.
    pub fn breaker_status(&self) -> (BreakerState, f64) {
        let now = tokio::time::Instant::now();
        let mut b = self.inner.breaker.lock().unwrap_or_else(|e| e.into_inner());
        (b.state(now), b.gpu_seconds(now))
    }

    fn gpu_blocked(&self) -> bool {
        self.breaker_status().0 == BreakerState::Open
    }

    /// Admits `req` to the backend [`route_request`] picks, else the other
    /// one; a GPU admission also needs the breaker's consent, or goes to the
    /// fallback. Never blocks.
    pub fn admit(&self, req: &InferenceRequest) -> Result<Ticket, AdmitError> {
        let policy = &self.inner.policy;
        if self.total_queue_depth() >= policy.queue_depth_limit {
            return Err(AdmitError::Overloaded {
                retry_after: self.retry_after(),
            });
        }
        let primary = self.primary_for(req).backend();
        if primary == Backend::Gpu && policy.fallback == Fallback::Reject && self.gpu_blocked() {
            return Err(AdmitError::Overloaded {
                retry_after: policy.breaker.cooldown.max(Duration::from_secs(1)),
            });
        }
        let first = route_request(req, self);
        let other = if first == primary {
            policy.spillover
        } else {
            primary
        };
        // Full: the other queue if this one filled meanwhile. Auto: route_request
        // already weighed both. Never: the primary alone.
        let second = (policy.spill == Spill::Full).then_some(other);
        let mut tried = Vec::with_capacity(3);
        for wanted in std::iter::once(first).chain(second) {
            if tried.contains(&wanted) {
                continue; // `auto` chose the spillover backend itself
            }
            let (backend, reservation) = self.gpu_consent(wanted)?;
            if tried.contains(&backend) {
                continue; // the fallback was already tried (never a GPU reservation)
            }
            tried.push(wanted);
            tried.push(backend);
            match self.inner.engine.submit(backend, req.input.clone()) {
                Ok(pending) => {
                    let breaker = Arc::clone(&self.inner.breaker);
                    return Ok(Ticket {
                        backend,
                        spilled: backend != primary,
                        pending: Some(pending),
                        reservation,
                        breaker,
                    });
                }
                Err(e) => {
                    if let Some(r) = reservation {
                        self.inner
                            .breaker
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .cancel(r);
                    }
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

    /// For the GPU: a budget reservation, or the fallback backend (or a refusal
    /// with `fallback = "reject"`). Other backends pass through.
    fn gpu_consent(&self, wanted: Backend) -> Result<(Backend, Option<Reservation>), AdmitError> {
        if wanted != Backend::Gpu {
            return Ok((wanted, None));
        }
        // Reserve what a request has cost so far (10 ms before the first is measured).
        let estimate = self
            .engine()
            .queue(Backend::Gpu)
            .and_then(|q| q.mean_service_time())
            .unwrap_or(Duration::from_millis(10));
        let now = tokio::time::Instant::now();
        let decision = self
            .inner
            .breaker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(now, estimate.as_secs_f64());
        match decision {
            Ok(r) => Ok((Backend::Gpu, Some(r))),
            Err(_) => match self.inner.policy.fallback.backend() {
                Some(fb) => Ok((fb, None)),
                None => Err(AdmitError::Overloaded {
                    retry_after: self
                        .inner
                        .policy
                        .breaker
                        .cooldown
                        .max(Duration::from_secs(1)),
                }),
            },
        }
    }

    /// Waits for an admitted request and settles its GPU budget with the
    /// measured busy time.
    pub async fn finish(&self, mut ticket: Ticket) -> Result<InferenceOutput, EngineError> {
        let pending = ticket.pending.take().expect("a ticket is finished once");
        let result = pending.await;
        if let Some(r) = ticket.reservation.take() {
            let (busy, ok) = match &result {
                Ok(out) => (out.busy.as_secs_f64(), true),
                Err(_) => (0.0, false),
            };
            self.inner
                .breaker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .complete(tokio::time::Instant::now(), r, busy, ok);
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
    let primary = state.primary_for(req);
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
    let has_room = primary.queue_depth() < primary.capacity();
    match state.inner.policy.spill {
        Spill::Never => primary.backend(),
        Spill::Full if has_room => primary.backend(), // Primary has headroom
        Spill::Full => spillover.backend(),           // Level to secondary
        Spill::Auto => {
            // Unknown service times: behave like `full` until measured.
            let sooner = match (expected_completion(spillover), expected_completion(primary)) {
                (Some(s), Some(p)) => s < p,
                _ => !has_room,
            };
            if sooner && spillover.queue_depth() < spillover.capacity() {
                spillover.backend()
            } else {
                primary.backend()
            }
        }
    }
}

#[cfg(test)]
mod tests;
