//! Prometheus metrics: `GET /metrics`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `batuta_queue_depth` | gauge | `backend` |
//! | `batuta_queue_capacity` | gauge | `backend` |
//! | `batuta_live_workers` | gauge | `backend` |
//! | `batuta_backend_breaker_state` | gauge (0 closed, 1 half-open, 2 open) | `backend` |
//! | `batuta_requests_total` | counter | `backend`, `outcome` (`ok`, `error`, `rejected`, `overloaded`, `client_gone`) |
//! | `batuta_request_duration_seconds` | histogram | `backend` |
//! | `batuta_spillover_total` | counter | `backend` (where it went) |
//! | `batuta_connections_refused_total` | counter (past `max_connections`) | |
//! | `batuta_connections_timed_out_total` | counter (header or keep-alive deadline) | |
//! | `batuta_breaker_state` | gauge (the GPU breaker: 0 closed, 1 half-open, 2 open) | |
//! | `batuta_gpu_seconds_window` | gauge (GPU busy seconds in the breaker's window, reservations included) | |

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::ServerState;

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use. If another recorder
/// was installed first, batuta's metrics go there and this one stays empty.
pub(crate) fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("batuta_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        handle
    })
}

/// Counts one answered inference.
pub(crate) fn request(backend: &'static str, outcome: &'static str, took: Option<Duration>) {
    metrics::counter!("batuta_requests_total", "backend" => backend, "outcome" => outcome)
        .increment(1);
    if let Some(t) = took {
        metrics::histogram!("batuta_request_duration_seconds", "backend" => backend)
            .record(t.as_secs_f64());
    }
}

/// Counts one request served away from its primary.
pub(crate) fn spilled(to: &'static str) {
    metrics::counter!("batuta_spillover_total", "backend" => to).increment(1);
}

/// The exposition text, with the gauges read fresh from the state.
pub(crate) fn render(state: &ServerState) -> String {
    for q in state.engine().queues() {
        let b = q.backend().name();
        metrics::gauge!("batuta_queue_depth", "backend" => b).set(q.queue_depth() as f64);
        metrics::gauge!("batuta_queue_capacity", "backend" => b).set(q.capacity() as f64);
        metrics::gauge!("batuta_live_workers", "backend" => b).set(q.live_workers() as f64);
    }
    for (backend, state) in state.backend_health() {
        metrics::gauge!("batuta_backend_breaker_state", "backend" => backend.name())
            .set(state.gauge());
    }
    let (breaker, gpu_seconds) = state.breaker_status();
    metrics::gauge!("batuta_breaker_state").set(breaker.gauge());
    metrics::gauge!("batuta_gpu_seconds_window").set(gpu_seconds);
    handle().render()
}
