//! `batuta serve` as a real process on an ephemeral port: a burst of concurrent
//! requests fills the primary (SIMD, capacity 2), the overflow is served by the
//! spillover backend (scalar), and every request gets an answer: 200, or 503
//! with `Retry-After` once both queues are full. None is lost, and the
//! Prometheus counters agree with the answers exactly.

mod common;

use std::sync::{Arc, Barrier};

const CLIENTS: usize = 32;
const ROWS: usize = 32;
const FEATURES: usize = 256;

#[test]
fn a_burst_spills_over_and_every_request_is_answered() {
    // The primary holds what it admits for a second (a batch window far larger
    // than the burst's spread), so its two slots are taken when the rest of the
    // burst arrives however fast the kernels are: no outcome depends on how
    // long a forward pass takes.
    let dir = common::workspace("spill", "big", &[FEATURES, 1024, 1024, 10]);
    let server = common::start(
        &dir,
        r#"
[serve]
address = "127.0.0.1:0"
primary = "simd"
spillover = "scalar"

[serve.backends.simd]
capacity = 2
max_batch_size = 4096
max_batch_delay_ms = 1000

[serve.backends.scalar]
capacity = 4
"#,
        &[],
    );
    let body = common::body(ROWS, FEATURES);
    let url = format!("{}/v2/models/big/infer", server.base);
    let agent = common::agent();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let outcomes: Vec<(u16, Option<String>, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (agent, url, body, barrier) = (agent.clone(), &url, &body, barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    common::infer(&agent, url, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let by = |b: &str| {
        outcomes
            .iter()
            .filter(|o| o.0 == 200 && o.1.as_deref() == Some(b))
            .count()
    };
    let (simd, scalar) = (by("simd"), by("scalar"));
    let overloaded: Vec<_> = outcomes.iter().filter(|o| o.0 == 503).collect();
    for o in &overloaded {
        let secs: u64 =
            o.2.as_deref()
                .expect("503 carries Retry-After")
                .parse()
                .unwrap();
        assert!(secs >= 1);
    }
    eprintln!(
        "simd={simd} scalar={scalar} overloaded={}",
        overloaded.len()
    );
    assert_eq!(
        simd + scalar + overloaded.len(),
        CLIENTS,
        "unexpected answers: {outcomes:?}"
    );
    assert!(simd >= 1, "the primary served nothing: {outcomes:?}");
    assert!(scalar >= 1, "nothing spilled over: {outcomes:?}");

    let m = common::scrape(&agent, &server.base);
    let count =
        |labels: &[(&str, &str)]| common::metric(&m, "batuta_requests_total", labels) as usize;
    assert_eq!(
        count(&[("backend", "simd"), ("outcome", "ok")]),
        simd,
        "{m}"
    );
    assert_eq!(count(&[("backend", "scalar"), ("outcome", "ok")]), scalar);
    assert_eq!(count(&[("outcome", "overloaded")]), overloaded.len());
    assert_eq!(
        common::metric(&m, "batuta_spillover_total", &[("backend", "scalar")]) as usize,
        scalar
    );
    assert_eq!(
        common::metric(&m, "batuta_request_duration_seconds_count", &[]) as usize,
        simd + scalar
    );
    assert_eq!(
        common::metric(&m, "batuta_queue_depth", &[("backend", "simd")]),
        0.0
    );
    assert_eq!(
        common::metric(&m, "batuta_queue_capacity", &[("backend", "scalar")]),
        4.0
    );
    assert_eq!(common::metric(&m, "batuta_breaker_state", &[]), 0.0);
}
