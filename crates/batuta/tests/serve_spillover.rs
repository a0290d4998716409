//! `batuta serve` as a real process on an ephemeral port: a burst of concurrent
//! requests fills the primary (SIMD, capacity 2), the overflow is served by the
//! spillover backend (scalar), and every request gets an answer: 200, or 503
//! with `Retry-After` once both queues are full. None is lost.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};

use aprender::Mlp;

const CLIENTS: usize = 32;
const ROWS: usize = 32;
const FEATURES: usize = 256;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let config = dir.join("batuta.toml");
    std::fs::write(
        &config,
        r#"
[serve]
address = "127.0.0.1:0"
model_dir = "models"
primary = "simd"
spillover = "scalar"

[serve.backends.simd]
capacity = 2

[serve.backends.scalar]
capacity = 4

[serve.circuit_breaker]
queue_depth_limit = 64
"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batuta"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("batuta listening on ")
        .unwrap_or_else(|| panic!("got {line:?}"))
        .to_owned();
    Server { child, base }
}

#[test]
fn a_burst_spills_over_and_every_request_is_answered() {
    let dir = std::env::temp_dir().join(format!("batuta-spill-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("models")).unwrap();
    // Big enough that a request keeps a worker busy for milliseconds.
    Mlp::random(&[FEATURES, 1024, 1024, 10], 3)
        .unwrap()
        .save(dir.join("models/big.safetensors"))
        .unwrap();
    let server = start(&dir);

    let row: Vec<f32> = (0..ROWS * FEATURES)
        .map(|i| (i as f32 * 0.01).sin())
        .collect();
    let body = serde_json::json!({"inputs": [{"name": "x", "shape": [ROWS, FEATURES], "datatype": "FP32", "data": row}]})
        .to_string();
    let url = format!("{}/v2/models/big/infer", server.base);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let barrier = Arc::new(Barrier::new(CLIENTS));

    let outcomes: Vec<(u16, Option<String>, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (agent, url, body, barrier) = (agent.clone(), &url, &body, barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    let resp = agent
                        .post(url)
                        .header("content-type", "application/json")
                        .send(body.as_str())
                        .expect("every request gets an HTTP answer");
                    let header = |n: &str| {
                        resp.headers()
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_owned())
                    };
                    (
                        resp.status().as_u16(),
                        header("x-batuta-backend"),
                        header("retry-after"),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert_eq!(outcomes.len(), CLIENTS);
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

    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
