//! The load generator `loadtest` runs in its own process (pinned to its own
//! core): POSTs one body to one URL and prints one JSON line of outcomes.
//!
//! ```text
//! loadgen URL BODY_FILE open RATE SECONDS     # Poisson arrivals at RATE/s
//! loadgen URL BODY_FILE closed CLIENTS SECONDS # CLIENTS senders back to back
//! ```
//!
//! Open loop: arrival i is due at its scheduled time whatever happened
//! before, and its latency runs from when it was *due* (the coordinated-
//! omission correction: a stalled server, or a generator that fell behind,
//! shows as latency instead of as fewer requests). A request with no HTTP
//! answer within 10 s, or a connection error, is *unanswered*.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One request's fate: HTTP status (0: no answer) and latency from its due time.
struct Outcome {
    status: u16,
    latency: Duration,
}

async fn send(client: &HttpClient, url: &hyper::Uri, body: Bytes, due: Instant) -> Outcome {
    let req = hyper::Request::post(url.clone())
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a valid request");
    let answer = tokio::time::timeout(ANSWER_WITHIN, async {
        let resp = client.request(req).await?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(status)
    })
    .await;
    Outcome {
        status: match answer {
            Ok(Ok(status)) => status,
            _ => 0,
        },
        latency: due.elapsed(),
    }
}

/// splitmix64: a seeded, dependency-free source of exponential gaps.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

async fn open_loop(
    client: &HttpClient,
    url: &hyper::Uri,
    body: Bytes,
    rate: f64,
    span: Duration,
) -> Vec<Outcome> {
    let mut rng = Rng(42);
    let t0 = Instant::now() + Duration::from_millis(20);
    let mut at = 0.0;
    let mut tasks = Vec::new();
    loop {
        at += -rng.unit().ln() / rate;
        if at >= span.as_secs_f64() {
            break;
        }
        let due = t0 + Duration::from_secs_f64(at);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(
            async move { send(&client, &url, body, due).await },
        ));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

async fn closed_loop(
    client: &HttpClient,
    url: &hyper::Uri,
    body: Bytes,
    clients: usize,
    span: Duration,
) -> Vec<Outcome> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                while start.elapsed() < span {
                    out.push(send(&client, &url, body.clone(), Instant::now()).await);
                }
                out
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await.expect("sender"));
    }
    out
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, body_file, mode, amount, seconds] = args.as_slice() else {
        eprintln!("usage: loadgen URL BODY_FILE open|closed RATE|CLIENTS SECONDS");
        std::process::exit(2);
    };
    let url: hyper::Uri = url.parse().expect("a URL");
    let body = Bytes::from(std::fs::read(body_file).expect("the body file"));
    let span = Duration::from_secs_f64(seconds.parse().expect("SECONDS"));
    let amount: f64 = amount.parse().expect("RATE or CLIENTS");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let outcomes = runtime.block_on(async {
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        match mode.as_str() {
            "open" => open_loop(&client, &url, body, amount, span).await,
            "closed" => closed_loop(&client, &url, body, amount as usize, span).await,
            other => panic!("mode `{other}`: open or closed"),
        }
    });
    let took = started.elapsed().as_secs_f64().max(span.as_secs_f64());
    let count = |s: u16| outcomes.iter().filter(|o| o.status == s).count();
    let (ok, refused, unanswered) = (count(200), count(503), count(0));
    let other = outcomes.len() - ok - refused - unanswered;
    let mut lat: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.status == 200)
        .map(|o| o.latency)
        .collect();
    lat.sort();
    println!(
        "{}",
        serde_json::json!({
            "sent": outcomes.len(),
            "ok": ok,
            "refused": refused,
            "unanswered": unanswered,
            "other": other,
            "goodput": ok as f64 / span.as_secs_f64(),
            "elapsed": took,
            "p50_ms": quantile(&lat, 0.5),
            "p99_ms": quantile(&lat, 0.99),
            "p999_ms": quantile(&lat, 0.999),
        })
    );
}
