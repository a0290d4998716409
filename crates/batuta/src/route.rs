//! Spillover routing: the seed's `route_request`, and admission built on it.
//!
//! The primary backend takes requests while its queue has room; then the
//! spillover backend does; when both are full the request is refused with a
//! retry hint. The decision reads queue depths, but admission itself reserves a
//! slot atomically in realizar, so two requests racing for the primary's last
//! slot cannot both get it: the loser is offered to the spillover queue.

use std::sync::Arc;
use std::time::Duration;

use realizar::registry::{self, LoadReport};
use realizar::{BackendConfig, BackendQueue, Engine, EngineError, InferenceInput, Pending};
use trueno::Backend;

use crate::config::ServeConfig;

/// One inference request as batuta sees it: an id for the client, and the input.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRequest {
    /// The client's request id, echoed in the response.
    pub id: Option<String>,
    /// The model and the rows to run.
    pub input: InferenceInput,
}

/// Everything the server shares across requests; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    primary: Backend,
    spillover: Backend,
    queue_depth_limit: usize,
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
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// Every queue that could take it is full, or the total queue limit is reached.
    #[error("all backends are at capacity; retry in {}s", retry_after.as_secs())]
    Overloaded {
        /// When a retry is expected to find room.
        retry_after: Duration,
    },
    /// The request itself is wrong (unknown model, bad shape…).
    #[error(transparent)]
    Rejected(EngineError),
}

impl ServerState {
    /// Starts the engine for `serve` and loads every model in its `model_dir`;
    /// bad model files are skipped and listed in the report.
    pub fn from_config(serve: &ServeConfig) -> Result<(ServerState, LoadReport), StartError> {
        let pools: Vec<BackendConfig> = serve
            .backends
            .iter()
            .map(|(&backend, s)| BackendConfig {
                backend,
                capacity: s.capacity,
                workers: s.workers,
            })
            .collect();
        let engine = Engine::new(&pools)?;
        let report = registry::load_dir(&engine, &serve.model_dir)?;
        let state = ServerState::new(
            engine,
            serve.primary,
            serve.spillover,
            serve.circuit_breaker.queue_depth_limit,
        )?;
        Ok((state, report))
    }

    /// Wraps a running engine. Both backends must be configured in it.
    pub fn new(
        engine: Engine,
        primary: Backend,
        spillover: Backend,
        queue_depth_limit: usize,
    ) -> Result<ServerState, EngineError> {
        for b in [primary, spillover] {
            engine
                .queue(b)
                .ok_or(EngineError::BackendNotConfigured(b))?;
        }
        Ok(ServerState {
            inner: Arc::new(Inner {
                engine,
                primary,
                spillover,
                queue_depth_limit,
            }),
        })
    }

    /// The engine running the models.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The queue requests go to first.
    pub fn primary_backend(&self) -> &BackendQueue {
        self.inner
            .engine
            .queue(self.inner.primary)
            .expect("checked in ServerState::new")
    }

    /// The queue that takes requests when the primary is full.
    pub fn spillover_backend(&self) -> &BackendQueue {
        self.inner
            .engine
            .queue(self.inner.spillover)
            .expect("checked in ServerState::new")
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

    /// Admits `req` to the backend [`route_request`] picks, falling back to the
    /// other one if that queue filled up in the meantime; never blocks.
    pub fn admit(&self, req: &InferenceRequest) -> Result<(Backend, Pending), AdmitError> {
        if self.total_queue_depth() >= self.inner.queue_depth_limit {
            return Err(AdmitError::Overloaded {
                retry_after: self.retry_after(),
            });
        }
        let first = route_request(req, self);
        let second = if first == self.inner.primary {
            self.inner.spillover
        } else {
            self.inner.primary
        };
        for backend in [first, second] {
            match self.inner.engine.submit(backend, req.input.clone()) {
                Ok(pending) => return Ok((backend, pending)),
                Err(EngineError::QueueFull { .. }) => continue,
                Err(other) => return Err(AdmitError::Rejected(other)),
            }
        }
        Err(AdmitError::Overloaded {
            retry_after: self.retry_after(),
        })
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

/// Heijunka for inference requests: the primary backend while its queue has
/// headroom, otherwise the spillover backend.
pub fn route_request(_req: &InferenceRequest, state: &ServerState) -> Backend {
    let primary = state.primary_backend();
    if primary.queue_depth() < primary.capacity() {
        primary.backend() // Primary has headroom
    } else {
        state.spillover_backend().backend() // Level to secondary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aprender::Mlp;

    fn state(capacity: usize, limit: usize) -> ServerState {
        let engine = Engine::new(&[
            BackendConfig {
                backend: Backend::Simd,
                capacity,
                workers: 1,
            },
            BackendConfig {
                backend: Backend::Scalar,
                capacity,
                workers: 1,
            },
        ])
        .unwrap();
        engine.insert_model(
            "big",
            Arc::new(Mlp::random(&[256, 1024, 1024, 10], 1).unwrap()),
        );
        ServerState::new(engine, Backend::Simd, Backend::Scalar, limit).unwrap()
    }

    fn request() -> InferenceRequest {
        InferenceRequest {
            id: None,
            input: InferenceInput {
                model: "big".into(),
                rows: 32,
                data: vec![0.5; 32 * 256].into(),
            },
        }
    }

    #[test]
    fn primary_first_then_spillover_then_overloaded() {
        let s = state(2, 100);
        assert_eq!(route_request(&request(), &s), Backend::Simd);
        let mut held = Vec::new();
        let mut backends = Vec::new();
        for _ in 0..4 {
            let (b, p) = s.admit(&request()).unwrap();
            backends.push(b);
            held.push(p);
        }
        // The workers may finish a request while we submit, so only the order is fixed:
        // every request goes to SIMD until it is full, and the first two always do.
        assert_eq!(&backends[..2], &[Backend::Simd, Backend::Simd]);
        let mut refused = 0;
        for _ in 0..20 {
            match s.admit(&request()) {
                Ok((b, p)) => {
                    backends.push(b);
                    held.push(p);
                }
                Err(AdmitError::Overloaded { retry_after }) => {
                    assert!(retry_after >= Duration::from_secs(1));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            backends.contains(&Backend::Scalar),
            "nothing spilled: {backends:?}"
        );
        assert!(refused > 0, "never overloaded");
        for p in held {
            p.wait().unwrap();
        }
        assert_eq!(s.total_queue_depth(), 0);
    }

    #[test]
    fn the_total_queue_limit_is_enforced() {
        // A limit of zero makes the check deterministic: it runs before any queue.
        let s = state(10, 0);
        assert!(matches!(
            s.admit(&request()),
            Err(AdmitError::Overloaded { .. })
        ));
        assert_eq!(s.total_queue_depth(), 0);
    }
}
