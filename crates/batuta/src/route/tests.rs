//! The routing policy on injected loads: no forward pass runs, so no
//! measured time can flip a decision.

use std::time::Duration;

use aprender::Mlp;
use realizar::{Model, Payload, QueueLoad};
use trueno::{Backend, Op};

use super::*;

/// A queue holding `depth` of `limit` requests whose passes took `pass_ms`
/// (unmeasured: `None`), one request per pass.
fn load(backend: Backend, depth: usize, limit: usize, pass_ms: Option<u64>) -> QueueLoad {
    QueueLoad {
        backend,
        depth,
        admit_limit: limit,
        workers: 1,
        pass_time: pass_ms.map(Duration::from_millis),
        requests_per_pass: 1.0,
    }
}

fn snapshot(loads: Vec<QueueLoad>) -> Snapshot {
    Snapshot {
        loads,
        open: Vec::new(),
    }
}

fn policy(spill: Spill) -> RoutePolicy {
    let mut p = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 100);
    p.spill = spill;
    p
}

#[test]
fn full_spills_exactly_when_the_primary_is_full() {
    let p = policy(Spill::Full);
    let room = snapshot(vec![
        load(Backend::Simd, 1, 2, Some(50)),
        load(Backend::Scalar, 0, 2, Some(1)),
    ]);
    assert_eq!(
        p.route(Backend::Simd, &room),
        Backend::Simd,
        "a sooner scalar does not matter"
    );
    assert_eq!(
        p.candidates(Backend::Simd, &room),
        Some(vec![Backend::Simd, Backend::Scalar])
    );
    let full = snapshot(vec![
        load(Backend::Simd, 2, 2, Some(1)),
        load(Backend::Scalar, 0, 2, Some(50)),
    ]);
    assert_eq!(
        p.route(Backend::Simd, &full),
        Backend::Scalar,
        "even to a slower one"
    );
}

#[test]
fn auto_spills_exactly_when_the_spillover_finishes_sooner() {
    let p = policy(Spill::Auto);
    // 8 requests of 50 ms ahead on SIMD (450 ms) against an idle 5 ms scalar.
    let backlog = snapshot(vec![
        load(Backend::Simd, 8, 16, Some(50)),
        load(Backend::Scalar, 0, 4, Some(5)),
    ]);
    assert_eq!(p.route(Backend::Simd, &backlog), Backend::Scalar);
    // SIMD full but fast (2 ms), scalar slow: waiting is sooner, so no spill,
    // and admission offers SIMD alone (a refusal, not a longer queue).
    let slow = snapshot(vec![
        load(Backend::Simd, 1, 1, Some(1)),
        load(Backend::Scalar, 0, 4, Some(100)),
    ]);
    assert_eq!(p.route(Backend::Simd, &slow), Backend::Simd);
    assert_eq!(
        p.candidates(Backend::Simd, &slow),
        Some(vec![Backend::Simd])
    );
    // A sooner spillover that is itself full is not used.
    let both_full = snapshot(vec![
        load(Backend::Simd, 8, 8, Some(50)),
        load(Backend::Scalar, 4, 4, Some(1)),
    ]);
    assert_eq!(p.route(Backend::Simd, &both_full), Backend::Simd);
}

#[test]
fn auto_sends_an_unmeasured_spillover_one_request_at_a_time() {
    let p = policy(Spill::Auto);
    let idle = snapshot(vec![
        load(Backend::Simd, 4, 4, Some(5)),
        load(Backend::Scalar, 0, 4, None),
    ]);
    assert_eq!(p.route(Backend::Simd, &idle), Backend::Scalar);
    let probing = snapshot(vec![
        load(Backend::Simd, 4, 4, Some(5)),
        load(Backend::Scalar, 1, 4, None),
    ]);
    assert_eq!(p.route(Backend::Simd, &probing), Backend::Simd);
    let room = snapshot(vec![
        load(Backend::Simd, 1, 4, None),
        load(Backend::Scalar, 0, 4, None),
    ]);
    assert_eq!(
        p.route(Backend::Simd, &room),
        Backend::Simd,
        "no spill while there is room"
    );
}

#[test]
fn a_batched_queue_is_priced_per_request() {
    let p = policy(Spill::Auto);
    // SIMD: 8 requests ahead, passes of 40 ms answering 8 requests each, so
    // 40 ms of queue then its own 40 ms pass: 80 ms, sooner than scalar's
    // 100 ms. Priced per pass (8 × 40 + 40 = 360 ms) it would spill.
    let mut simd = load(Backend::Simd, 8, 16, Some(40));
    simd.requests_per_pass = 8.0;
    let now = snapshot(vec![simd, load(Backend::Scalar, 0, 4, Some(100))]);
    assert_eq!(simd.completion(), Some(Duration::from_millis(80)));
    assert_eq!(p.route(Backend::Simd, &now), Backend::Simd);
}

#[test]
fn never_keeps_to_the_primary_unless_its_breaker_is_open() {
    let p = policy(Spill::Never);
    let mut now = snapshot(vec![
        load(Backend::Simd, 1, 1, Some(500)),
        load(Backend::Scalar, 0, 4, Some(1)),
    ]);
    assert_eq!(p.route(Backend::Simd, &now), Backend::Simd);
    assert_eq!(p.candidates(Backend::Simd, &now), Some(vec![Backend::Simd]));
    now.open.push(Backend::Simd);
    assert_eq!(
        p.candidates(Backend::Simd, &now),
        Some(vec![Backend::Simd, Backend::Scalar]),
        "an open breaker offers the other backend too"
    );
}

#[test]
fn an_open_gpu_breaker_yields_to_the_fallback_or_refuses() {
    let mut p = RoutePolicy::spillover(Backend::Gpu, Backend::Scalar, 100);
    let mut now = snapshot(vec![
        load(Backend::Gpu, 0, 8, Some(1)),
        load(Backend::Simd, 0, 8, Some(1)),
        load(Backend::Scalar, 0, 8, Some(1)),
    ]);
    assert_eq!(p.route(Backend::Gpu, &now), Backend::Gpu);
    now.open.push(Backend::Gpu);
    assert_eq!(p.route(Backend::Gpu, &now), Backend::Simd, "fallback = cpu");
    p.limits.fallback = Fallback::Reject;
    assert_eq!(p.candidates(Backend::Gpu, &now), None);
}

#[test]
fn an_unconfigured_choice_falls_back_to_the_default_primary() {
    let p = policy(Spill::Full);
    let now = snapshot(vec![
        load(Backend::Simd, 0, 2, None),
        load(Backend::Scalar, 0, 2, None),
    ]);
    assert_eq!(p.route(Backend::Gpu, &now), Backend::Simd);
}

#[test]
fn forward_passes_are_described_op_by_op() {
    let mlp = Mlp::random(&[4, 8, 3], 1).unwrap();
    let two_rows = Payload::Rows {
        rows: 2,
        data: vec![0.0; 8].into(),
    };
    assert_eq!(
        mlp.ops(&two_rows),
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
