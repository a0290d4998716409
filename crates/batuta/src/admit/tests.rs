//! Admission on real engines (CPU backends; the GPU breaker path is covered
//! over HTTP in tests/serve_breaker.rs and by breaker.rs). Where a test needs
//! queues to stay full, a batch window holds the admitted requests: a worker
//! keeps a batch open for `HOLD` waiting for rows that never come, so the
//! slots stay taken however fast the machine is.

use std::sync::Arc;
use std::time::Duration;

use aprender::Mlp;
use realizar::{BackendConfig, Engine, InferenceInput};
use trueno::Backend;

use super::*;
use crate::config::{Primary, Spill};
use crate::select::{BackendSelector, CostModel};

/// How long a latched worker holds its batch open.
const HOLD: Duration = Duration::from_secs(3);

fn with_model(engine: Engine) -> Engine {
    engine.insert_model("m", Arc::new(Mlp::random(&[16, 32, 4], 1).unwrap()));
    engine
}

/// SIMD and scalar queues whose requests are answered at once.
fn engine(simd_capacity: usize, scalar_capacity: usize) -> Engine {
    with_model(
        Engine::new(&[
            BackendConfig::new(Backend::Simd, simd_capacity, 1),
            BackendConfig::new(Backend::Scalar, scalar_capacity, 1),
        ])
        .unwrap(),
    )
}

/// SIMD and scalar queues that hold what they admit for [`HOLD`].
fn latched(simd_capacity: usize, scalar_capacity: usize) -> Engine {
    let hold = |b, capacity| BackendConfig::new(b, capacity, 1).with_batching(1 << 20, HOLD);
    with_model(
        Engine::new(&[
            hold(Backend::Simd, simd_capacity),
            hold(Backend::Scalar, scalar_capacity),
        ])
        .unwrap(),
    )
}

fn request(rows: usize) -> InferenceRequest {
    InferenceRequest {
        id: None,
        input: InferenceInput::rows("m", rows, vec![0.5; rows * 16]),
    }
}

#[tokio::test]
async fn primary_first_then_spillover_then_overloaded() {
    let s = ServerState::new(
        latched(2, 2),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    assert_eq!(crate::route_request(&request(1), &s), Backend::Simd);
    let held: Vec<Ticket> = (0..4).map(|_| s.admit(&request(1)).unwrap()).collect();
    assert_eq!(
        held.iter()
            .map(|t| (t.backend, t.spilled))
            .collect::<Vec<_>>(),
        [
            (Backend::Simd, false),
            (Backend::Simd, false),
            (Backend::Scalar, true),
            (Backend::Scalar, true)
        ]
    );
    assert!(matches!(
        s.admit(&request(1)),
        Err(AdmitError::Overloaded { retry_after }) if retry_after >= Duration::from_secs(1)
    ));
    assert!(s.refuses_now().is_some());
    for t in held {
        assert_eq!(s.finish(t).await.unwrap().rows, 1);
    }
    assert_eq!(s.total_queue_depth(), 0);
    assert!(s.refuses_now().is_none());
}

#[tokio::test]
async fn the_total_queue_limit_is_enforced() {
    let s = ServerState::new(
        latched(10, 10),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 3),
    )
    .unwrap();
    let held: Vec<Ticket> = (0..3).map(|_| s.admit(&request(1)).unwrap()).collect();
    assert!(matches!(
        s.admit(&request(1)),
        Err(AdmitError::Overloaded { .. })
    ));
    assert_eq!(s.total_queue_depth(), 3, "a refusal takes no slot");
    for t in held {
        s.finish(t).await.unwrap();
    }
}

#[tokio::test]
async fn spill_auto_refuses_rather_than_queue_behind_a_slow_spillover() {
    // The routing itself is tested on injected loads in route/tests.rs; this
    // is the admission around it: with `auto` and nothing measured yet, a
    // full primary sends one request to the unmeasured spillover, then
    // refuses rather than fill it blind.
    let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
    policy.spill = Spill::Auto;
    let s = ServerState::new(latched(1, 4), policy).unwrap();
    let a = s.admit(&request(1)).unwrap();
    let b = s.admit(&request(1)).unwrap();
    assert_eq!(
        (a.backend, b.backend, b.spilled),
        (Backend::Simd, Backend::Scalar, true)
    );
    assert!(matches!(
        s.admit(&request(1)),
        Err(AdmitError::Overloaded { .. })
    ));
    assert!(s.refuses_now().is_some(), "refuses_now agrees with admit");
    s.finish(a).await.unwrap();
    s.finish(b).await.unwrap();
}

#[test]
fn a_policy_naming_an_absent_backend_is_refused() {
    let err = ServerState::new(
        engine(1, 1),
        RoutePolicy::spillover(Backend::Gpu, Backend::Scalar, 1),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        EngineError::BackendNotConfigured(Backend::Gpu)
    ));
}

#[tokio::test]
async fn primary_auto_prices_each_forward_pass() {
    use crate::select::{Curve, Profile, profile::PROFILE_VERSION};
    // Scalar: 1 GFLOP/s from nothing. SIMD: 50 GFLOP/s at scale, but 50 µs to get going.
    let mut p = Profile {
        format_version: PROFILE_VERSION,
        machine: "synthetic".into(),
        host_bandwidth_gbs: 1e6,
        gpu: None,
        ops: Default::default(),
    };
    for kind in trueno::OpKind::ALL {
        p.set_curve(
            Backend::Scalar,
            kind,
            Curve {
                work: vec![1e2, 1e9],
                seconds: vec![1e-7, 1.0],
            },
        );
        p.set_curve(
            Backend::Simd,
            kind,
            Curve {
                work: vec![1e2, 1e9],
                seconds: vec![5e-5, 0.02],
            },
        );
    }
    let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
    policy.primary = Primary::Auto;
    policy.selector = Some(
        BackendSelector::new()
            .with_cost_model(CostModel::Calibrated)
            .with_profile(p)
            .with_load_balancing(true),
    );
    let e = engine(8, 8);
    e.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 2).unwrap()),
    );
    let s = ServerState::new(e, policy).unwrap();
    let big = InferenceRequest {
        id: None,
        input: InferenceInput::rows("big", 64, vec![0.1; 64 * 256]),
    };
    assert_eq!(
        s.primary_for(&request(1)),
        Backend::Scalar,
        "small work: no SIMD start-up cost"
    );
    assert_eq!(
        s.primary_for(&big),
        Backend::Simd,
        "large batch: SIMD throughput"
    );
    // And admission follows the choice.
    let t = s.admit(&request(1)).unwrap();
    assert_eq!((t.backend, t.spilled), (Backend::Scalar, false));
    s.finish(t).await.unwrap();
}

/// Records `n` failed requests on `backend`'s breaker, as a failing worker would.
fn fail(s: &ServerState, backend: Backend, n: usize) {
    let now = tokio::time::Instant::now();
    let mut b = lock(&s.inner.breakers[&backend]);
    for _ in 0..n {
        let r = b.admit(now, 0.0).unwrap();
        b.complete(now, r, 0.0, false);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_cpu_backend_sends_its_traffic_to_the_other() {
    for spill in [Spill::Full, Spill::Auto, Spill::Never] {
        let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
        policy.spill = spill;
        let s = ServerState::new(engine(4, 4), policy).unwrap();
        fail(&s, Backend::Simd, 20); // min_requests failures, all of them
        let health = s.backend_health();
        assert!(
            health.contains(&(Backend::Simd, BreakerState::Open)),
            "{health:?}"
        );
        let t = s.admit(&request(1)).unwrap();
        assert_eq!((t.backend, t.spilled), (Backend::Scalar, true), "{spill:?}");
        s.finish(t).await.unwrap();
        if spill == Spill::Auto {
            continue; // it then weighs measured times: either backend may be sooner
        }
        // After the cooldown, probes go back to SIMD and close its breaker.
        tokio::time::advance(Duration::from_secs(31)).await;
        for _ in 0..3 {
            let t = s.admit(&request(1)).unwrap();
            assert_eq!(t.backend, Backend::Simd, "{spill:?}");
            s.finish(t).await.unwrap();
        }
        assert!(
            s.backend_health()
                .contains(&(Backend::Simd, BreakerState::Closed))
        );
    }
}

#[tokio::test]
async fn client_errors_do_not_count_against_a_backend() {
    let s = ServerState::new(
        engine(4, 4),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    let mut nan = request(1);
    nan.input = InferenceInput::rows("m", 1, vec![f32::NAN; 16]);
    for _ in 0..30 {
        let t = s.admit(&nan).unwrap();
        assert!(matches!(
            s.finish(t).await,
            Err(EngineError::NonFiniteInput { .. })
        ));
    }
    assert!(
        s.backend_health()
            .iter()
            .all(|(_, st)| *st == BreakerState::Closed)
    );
}

#[tokio::test]
async fn refusals_known_before_the_body_is_read() {
    let s = ServerState::new(
        latched(1, 1),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    assert!(s.refuses_now().is_none());
    let a = s.admit(&request(1)).unwrap();
    assert!(s.refuses_now().is_none(), "scalar still has room");
    let b = s.admit(&request(1)).unwrap();
    assert!(matches!(
        s.refuses_now(),
        Some(AdmitError::Overloaded { .. })
    ));
    s.finish(a).await.unwrap();
    s.finish(b).await.unwrap();
    assert!(s.refuses_now().is_none());
}
