//! SIGTERM while requests are admitted: the server stops accepting, finishes
//! every admitted request with a 200, and exits 0.

mod common;

use std::time::{Duration, Instant};

#[test]
fn sigterm_finishes_everything_admitted() {
    let dir = common::workspace("shutdown", "big", &[256, 1024, 1024, 10]);
    let mut server = common::start(
        &dir,
        "[serve]\naddress = \"127.0.0.1:0\"\n[serve.backends.simd]\ncapacity = 64\n[serve.circuit_breaker]\nqueue_depth_limit = 64\n",
        &[],
    );
    const N: usize = 12;
    let (url, body, agent) = (
        format!("{}/v2/models/big/infer", server.base),
        common::body(256, 256),
        common::agent(),
    );
    let answers = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|_| s.spawn(|| common::infer(&agent, &url, &body)))
            .collect();
        // Wait until all N are admitted (queued or running) before the signal.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = common::scrape(&agent, &server.base);
            let queued = common::metric(&m, "batuta_queue_depth", &[]) as usize;
            let done = common::metric(&m, "batuta_requests_total", &[]) as usize;
            if queued + done >= N {
                break;
            }
            assert!(Instant::now() < deadline, "requests were never admitted");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = server.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(answers.iter().all(|a| a.0 == 200), "{answers:?}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}
