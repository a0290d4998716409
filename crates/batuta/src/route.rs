//! The routing policy: the seed's `route_request` as a pure function of the
//! policy and a [`Snapshot`] of the backends.
//!
//! The primary backend takes requests while its queue has room and, for the
//! GPU, while the breaker is not open; otherwise the spillover backend does.
//! With `spill = "auto"` a request also spills when the spillover backend is
//! expected to finish it sooner. With `primary = "auto"` the backend selector
//! picks the primary per request from the model's forward-pass cost and the
//! queues' loads. Admission (reserving a slot, the breakers, the ticket) is
//! in [`crate::admit`]; start-up wiring in [`crate::startup`].

use realizar::{InferenceInput, Model, Payload, QueueLoad};
use trueno::Backend;

use crate::config::{CircuitBreakerConfig, Fallback, Primary, Spill};
use crate::select::BackendSelector;

/// One inference request as batuta sees it: an id for the client, and the input.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRequest {
    /// The client's request id, echoed in the response.
    pub id: Option<String>,
    /// The model and the rows to run.
    pub input: InferenceInput,
}

/// How requests are routed: `[serve]`'s routing keys and `[serve.circuit_breaker]`.
#[derive(Debug)]
pub struct RoutePolicy {
    /// Where requests go first.
    pub primary: Primary,
    /// Where they go when the primary cannot take them.
    pub spillover: Backend,
    /// When to spill.
    pub spill: Spill,
    /// The total queue limit, the breakers' settings and the GPU fallback.
    pub limits: CircuitBreakerConfig,
    /// Chooses the primary when it is `Auto`.
    pub selector: Option<BackendSelector>,
}

/// What routing sees of the backends at one instant: every configured
/// queue's load and which breakers are open. Taken once per decision, so
/// the choices made from it agree with each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// One per configured backend.
    pub loads: Vec<QueueLoad>,
    /// Backends whose breaker is open.
    pub open: Vec<Backend>,
}

impl Snapshot {
    /// `backend`'s load, if it is configured.
    pub fn load(&self, backend: Backend) -> Option<&QueueLoad> {
        self.loads.iter().find(|l| l.backend == backend)
    }

    /// Whether `backend`'s breaker is open.
    pub fn is_open(&self, backend: Backend) -> bool {
        self.open.contains(&backend)
    }

    /// Requests queued or running on every backend together.
    pub fn total_depth(&self) -> usize {
        self.loads.iter().map(|l| l.depth).sum()
    }

    fn has_room(&self, backend: Backend) -> bool {
        self.load(backend).is_some_and(QueueLoad::has_room)
    }
}

impl RoutePolicy {
    /// Plain spillover from `primary` to `spillover`: `spill = "full"`, no
    /// GPU budget to speak of, the other limits at their defaults.
    pub fn spillover(
        primary: Backend,
        spillover: Backend,
        queue_depth_limit: usize,
    ) -> RoutePolicy {
        let mut limits = CircuitBreakerConfig {
            queue_depth_limit,
            ..CircuitBreakerConfig::default()
        };
        limits.breaker.gpu_cost_limit = f64::INFINITY;
        RoutePolicy {
            primary: Primary::Fixed(primary),
            spillover,
            spill: Spill::Full,
            limits,
            selector: None,
        }
    }

    /// The primary without a request to price: the fixed one, or SIMD (the
    /// selector's default) for `primary = "auto"`.
    pub fn default_primary(&self) -> Backend {
        match self.primary {
            Primary::Fixed(b) => b,
            Primary::Auto => Backend::Simd,
        }
    }

    /// The primary for one forward pass of `model` over `payload`: fixed,
    /// or the selector's choice (from the model's own description of the
    /// pass, [`Model::ops`]) given the snapshot's loads (always a configured
    /// backend).
    pub fn primary_for(
        &self,
        model: Option<&dyn Model>,
        payload: &Payload,
        now: &Snapshot,
    ) -> Backend {
        let (Primary::Auto, Some(selector), Some(model)) = (self.primary, &self.selector, model)
        else {
            return self.default_primary();
        };
        let choice = selector
            .decide_under_load(&model.ops(payload), false, &now.loads)
            .backend;
        if now.load(choice).is_some() {
            choice
        } else {
            self.default_primary()
        }
    }

    /// Heijunka for inference requests: the primary while its queue has
    /// headroom, otherwise the spillover (`spill = "full"`, the seed's rule).
    /// With `spill = "auto"` the spillover exactly when it is expected to
    /// finish sooner, queue wait included (a full primary's expected
    /// completion counts its whole queue); with `spill = "never"` the primary
    /// alone. A GPU primary whose breaker is open yields to the fallback
    /// (`reject` is refused in admission, before routing).
    pub fn route(&self, primary: Backend, now: &Snapshot) -> Backend {
        let primary = if now.load(primary).is_some() {
            primary
        } else {
            self.default_primary()
        };
        if primary == Backend::Gpu && now.is_open(Backend::Gpu) {
            return self.limits.fallback.backend().unwrap_or(self.spillover);
        }
        let has_room = now.has_room(primary);
        match self.spill {
            Spill::Never => primary,
            Spill::Full if has_room => primary, // Primary has headroom
            Spill::Full => self.spillover,      // Level to secondary
            Spill::Auto => {
                let (Some(p), Some(s)) = (now.load(primary), now.load(self.spillover)) else {
                    return primary;
                };
                // Unknown service times: a full primary spills, but only one
                // request at a time until the spillover is measured: a slow
                // spillover filled blind (32 requests, each 100× the primary's
                // time on the same cores) would stall every one of them and
                // slow the primary down for seconds.
                let sooner = match (s.completion(), p.completion()) {
                    (Some(s), Some(p)) => s < p,
                    (None, _) => !has_room && s.depth == 0,
                    (Some(_), None) => !has_room,
                };
                if sooner && s.has_room() {
                    self.spillover
                } else {
                    primary
                }
            }
        }
    }

    /// The backends admission may use for a request routed from `primary`,
    /// in order: the routed one, then the other for `spill = "full"` or when
    /// the first one's breaker is open. `None`: refused outright (a GPU
    /// primary whose breaker is open with `fallback = "reject"`).
    pub fn candidates(&self, primary: Backend, now: &Snapshot) -> Option<Vec<Backend>> {
        if primary == Backend::Gpu
            && self.limits.fallback == Fallback::Reject
            && now.is_open(Backend::Gpu)
        {
            return None;
        }
        let first = self.route(primary, now);
        let other = self.alternative(primary, first);
        let mut order = vec![first];
        if (self.spill == Spill::Full || now.is_open(first)) && other != first {
            order.push(other);
        }
        Some(order)
    }

    /// Where a request whose primary is `primary` goes when `backend` cannot take it.
    pub fn alternative(&self, primary: Backend, backend: Backend) -> Backend {
        if backend == primary {
            self.spillover
        } else {
            primary
        }
    }
}

/// The seed's `route_request`: the backend `req` goes to now.
pub fn route_request(req: &InferenceRequest, state: &crate::ServerState) -> Backend {
    let now = state.snapshot();
    let policy = state.policy();
    let model = state.engine().model(&req.input.model);
    policy.route(
        policy.primary_for(model.as_deref(), &req.input.payload, &now),
        &now,
    )
}

#[cfg(test)]
mod tests;
