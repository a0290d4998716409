//! Routing and admission on real engines (CPU backends; the GPU breaker path
//! is covered over HTTP in tests/serve_breaker.rs and by breaker.rs).

use std::sync::Arc;

use aprender::Mlp;
use realizar::{BackendConfig, Engine, InferenceInput};
use trueno::{Backend, Op};

use super::*;

fn engine(simd_capacity: usize, scalar_capacity: usize) -> Engine {
    let engine = Engine::new(&[
        BackendConfig::new(Backend::Simd, simd_capacity, 1),
        BackendConfig::new(Backend::Scalar, scalar_capacity, 1),
    ])
    .unwrap();
    engine.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 1).unwrap()),
    );
    engine
}

fn request(rows: usize) -> InferenceRequest {
    InferenceRequest {
        id: None,
        input: InferenceInput {
            model: "big".into(),
            rows,
            data: vec![0.5; rows * 256].into(),
        },
    }
}

#[tokio::test]
async fn primary_first_then_spillover_then_overloaded() {
    let s = ServerState::new(
        engine(2, 2),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    assert_eq!(route_request(&request(32), &s), Backend::Simd);
    let mut held = Vec::new();
    for _ in 0..24 {
        match s.admit(&request(32)) {
            Ok(t) => held.push(t),
            Err(AdmitError::Overloaded { retry_after }) => {
                assert!(retry_after >= Duration::from_secs(1))
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The workers may finish a request while we submit, so only the order is fixed:
    // the first two always go to SIMD, and something spilled to scalar.
    assert_eq!(
        held[..2].iter().map(|t| t.backend).collect::<Vec<_>>(),
        [Backend::Simd, Backend::Simd]
    );
    assert!(
        held.iter()
            .any(|t| t.backend == Backend::Scalar && t.spilled)
    );
    assert!(held.len() < 24, "never overloaded");
    for t in held {
        s.finish(t).await.unwrap();
    }
    assert_eq!(s.total_queue_depth(), 0);
}

#[tokio::test]
async fn the_total_queue_limit_is_enforced() {
    // A limit of zero makes the check deterministic: it runs before any queue.
    let s = ServerState::new(
        engine(10, 10),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 0),
    )
    .unwrap();
    assert!(matches!(
        s.admit(&request(32)),
        Err(AdmitError::Overloaded { .. })
    ));
    assert_eq!(s.total_queue_depth(), 0);
}

#[tokio::test]
async fn spill_auto_prefers_a_sooner_spillover() {
    let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
    policy.spill = Spill::Auto;
    let e = engine(16, 4);
    // Teach each queue its service time: a small request on scalar, large ones on SIMD.
    e.submit(Backend::Scalar, request(8).input)
        .unwrap()
        .await
        .unwrap();
    e.submit(Backend::Simd, request(512).input)
        .unwrap()
        .await
        .unwrap();
    let s = ServerState::new(e, policy).unwrap();
    // A backlog of large requests on SIMD: an idle scalar worker finishes sooner.
    let backlog: Vec<_> = (0..8)
        .map(|_| {
            s.engine()
                .submit(Backend::Simd, request(512).input)
                .unwrap()
        })
        .collect();
    assert_eq!(route_request(&request(8), &s), Backend::Scalar);
    let full = ServerState::new(
        engine(16, 4),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    assert_eq!(
        route_request(&request(8), &full),
        Backend::Simd,
        "spill = full waits for a full queue"
    );
    for p in backlog {
        p.await.unwrap();
    }
}

#[test]
fn forward_passes_are_described_op_by_op() {
    let mlp = Mlp::random(&[4, 8, 3], 1).unwrap();
    assert_eq!(
        forward_ops(&mlp, 2),
        vec![
            Op::matmul(2, 4, 8),
            Op::add(16),
            Op::relu(16),
            Op::matmul(2, 8, 3),
            Op::add(6),
            Op::softmax(2, 3)
        ]
    );
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

/// A state whose queues have learned their service times from one request
/// each (`scalar_rows` on scalar, `simd_rows` on SIMD), SIMD capacity 1.
async fn taught(spill: Spill, scalar_rows: usize, simd_rows: usize) -> ServerState {
    let e = engine(1, 4);
    e.submit(Backend::Scalar, request(scalar_rows).input)
        .unwrap()
        .await
        .unwrap();
    e.submit(Backend::Simd, request(simd_rows).input)
        .unwrap()
        .await
        .unwrap();
    let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
    policy.spill = spill;
    ServerState::new(e, policy).unwrap()
}

#[tokio::test]
async fn spill_auto_refuses_rather_than_queue_for_longer() {
    // Scalar is slow (it learned from 512 rows), SIMD fast: with SIMD full,
    // waiting for it would still be sooner than scalar, so `auto` refuses.
    let s = taught(Spill::Auto, 512, 8).await;
    let busy = s
        .engine()
        .submit(Backend::Simd, request(512).input)
        .unwrap();
    assert!(matches!(
        s.admit(&request(8)),
        Err(AdmitError::Overloaded { .. })
    ));
    // `full` spills to the slow backend regardless.
    let f = taught(Spill::Full, 512, 8).await;
    let busy_f = f
        .engine()
        .submit(Backend::Simd, request(512).input)
        .unwrap();
    let t = f.admit(&request(8)).unwrap();
    assert_eq!((t.backend, t.spilled), (Backend::Scalar, true));
    f.finish(t).await.unwrap();
    busy.await.unwrap();
    busy_f.await.unwrap();
}

#[tokio::test]
async fn spill_never_keeps_to_the_primary() {
    // Scalar would be sooner here (it learned from one row, SIMD from 512:
    // a margin of 10–30× on any machine, where 8 rows against 512 was close
    // enough to flip once the SIMD kernels got faster), but `never` does not spill.
    let s = taught(Spill::Never, 1, 512).await;
    let busy = s
        .engine()
        .submit(Backend::Simd, request(512).input)
        .unwrap();
    assert!(matches!(
        s.admit(&request(8)),
        Err(AdmitError::Overloaded { .. })
    ));
    let a = taught(Spill::Auto, 1, 512).await;
    let busy_a = a
        .engine()
        .submit(Backend::Simd, request(512).input)
        .unwrap();
    let t = a.admit(&request(8)).unwrap();
    assert_eq!(t.backend, Backend::Scalar);
    a.finish(t).await.unwrap();
    busy.await.unwrap();
    busy_a.await.unwrap();
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
    e.insert_model("tiny", Arc::new(Mlp::random(&[8, 16, 4], 2).unwrap()));
    let s = ServerState::new(e, policy).unwrap();

    let tiny = InferenceRequest {
        id: None,
        input: InferenceInput {
            model: "tiny".into(),
            rows: 1,
            data: vec![0.1; 8].into(),
        },
    };
    assert_eq!(
        s.primary_for(&tiny).backend(),
        Backend::Scalar,
        "small work: no SIMD start-up cost"
    );
    assert_eq!(
        s.primary_for(&request(64)).backend(),
        Backend::Simd,
        "large batch: SIMD throughput"
    );
    // And admission follows the choice.
    let t = s.admit(&tiny).unwrap();
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
    nan.input.data = vec![f32::NAN; 256].into();
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
        engine(1, 1),
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100),
    )
    .unwrap();
    assert!(s.refuses_now().is_none());
    let a = s.admit(&request(512)).unwrap();
    assert!(s.refuses_now().is_none(), "scalar still has room");
    let b = s.admit(&request(512)).unwrap();
    assert!(matches!(
        s.refuses_now(),
        Some(AdmitError::Overloaded { .. })
    ));
    s.finish(a).await.unwrap();
    s.finish(b).await.unwrap();
    assert!(s.refuses_now().is_none());
}
