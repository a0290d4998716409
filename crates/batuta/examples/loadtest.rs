//! Open-loop load test of `batuta serve`: does latency stay level under overload?
//!
//! `cargo run --release -p batuta --example loadtest [-- --quick]`
//!
//! Starts the server in-process on loopback with a 64-1024-1024-10 MLP
//! (32 rows a request), measures its capacity closed-loop, then offers fixed
//! rates of 0.5×, 2× and 10× that capacity, open-loop: request i is due at
//! t0 + i/rate whatever happened before, and its latency runs from when it was
//! *due*, so a stalled server cannot hide its stall by slowing the client down
//! (the coordinated-omission correction). Each rate runs for each spill policy:
//! `full` (spill whenever the primary is full), `auto` (spill only when sooner,
//! else refuse) and `never`. Reported: p50/p99/p99.9 of accepted requests,
//! goodput, shed and spill rates, resident memory. A request is *lost* if it
//! gets no HTTP answer or an answer other than 200 or 503.
//! Last line: `loadtest p99_10x_over_base=<ratio> lost=<n>` for `spill = "auto"`.
//!
//! Client and server share this machine's cores, so overload also slows the
//! client; the open-loop schedule charges that to latency, never hides it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aprender::Mlp;
use batuta::ServerState;
use batuta::config::Spill;
use batuta::route::RoutePolicy;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use realizar::{BackendConfig, Engine};
use trueno::Backend;

const FEATURES: usize = 64;
const ROWS: usize = 32;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[derive(Debug, Clone)]
struct Outcome {
    latency: Duration,
    status: u16,
    backend: Option<String>,
}

async fn start(spill: Spill) -> (String, tokio::sync::oneshot::Sender<()>) {
    let engine = Engine::new(&[
        BackendConfig::new(Backend::Simd, 1, 1),
        BackendConfig::new(Backend::Scalar, 1, 1),
    ])
    .expect("engine");
    engine.insert_model(
        "m",
        Arc::new(Mlp::random(&[FEATURES, 1024, 1024, 10], 7).expect("model")),
    );
    let mut policy = RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 64);
    policy.spill = spill;
    let state = ServerState::new(engine, policy).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        batuta::http::serve(
            listener,
            state,
            batuta::config::HttpLimits::default(),
            async {
                let _ = rx.await;
            },
        )
        .await
        .expect("serve");
    });
    (format!("http://{addr}/v2/models/m/infer"), tx)
}

fn body() -> Bytes {
    let data: Vec<f32> = (0..ROWS * FEATURES)
        .map(|i| (i as f32 * 0.01).sin())
        .collect();
    let json = serde_json::json!({"inputs": [{"name": "x", "shape": [ROWS, FEATURES], "datatype": "FP32", "data": data}]});
    Bytes::from(json.to_string())
}

async fn send(client: &HttpClient, url: &str, body: Bytes, due: Instant) -> Outcome {
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("request");
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let resp = client.request(req).await?;
        let status = resp.status().as_u16();
        let backend = resp
            .headers()
            .get("x-batuta-backend")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        resp.into_body().collect().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, backend))
    })
    .await;
    let (status, backend) = match answer {
        Ok(Ok(pair)) => pair,
        _ => (0, None), // no answer: lost
    };
    Outcome {
        latency: due.elapsed(),
        status,
        backend,
    }
}

/// Requests per second completed by `clients` closed-loop senders.
async fn capacity(client: &HttpClient, url: &str, clients: usize, span: Duration) -> f64 {
    let body = body();
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            tokio::spawn(async move {
                let mut ok = 0usize;
                while start.elapsed() < span {
                    if send(&client, &url, body.clone(), Instant::now())
                        .await
                        .status
                        == 200
                    {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.expect("sender");
    }
    ok as f64 / start.elapsed().as_secs_f64()
}

async fn open_loop(client: &HttpClient, url: &str, rate: f64, span: Duration) -> Vec<Outcome> {
    let body = body();
    let n = (rate * span.as_secs_f64()).round() as usize;
    let t0 = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        tasks.push(tokio::spawn(
            async move { send(&client, &url, body, due).await },
        ));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let span = Duration::from_secs(if quick { 1 } else { 3 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        // Capacity: the primary alone (spill = never). Two closed-loop senders keep
        // its one worker busy (one computing, one in flight) without a storm of 503s.
        let (url, stop) = start(Spill::Never).await;
        capacity(&client, &url, 2, Duration::from_millis(300)).await; // warm-up
        let cap = capacity(&client, &url, 2, Duration::from_secs(2)).await;
        let _ = stop.send(());
        println!("capacity (primary alone, closed loop): {cap:.0} requests/s of {ROWS} rows");

        println!("\n| spill | load | offered/s | accepted | shed | spilled | goodput/s | p50 ms | p99 ms | p99.9 ms | RSS MiB |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut lost_total = 0;
        let mut auto_p99 = Vec::new();
        for (name, spill) in [("full", Spill::Full), ("auto", Spill::Auto), ("never", Spill::Never)] {
            let (url, stop) = start(spill).await;
            capacity(&client, &url, 2, Duration::from_millis(300)).await; // teach service times
            for load in [0.5, 2.0, 10.0] {
                let rate = cap * load;
                let outcomes = open_loop(&client, &url, rate, span).await;
                let mut ok: Vec<Duration> = outcomes.iter().filter(|o| o.status == 200).map(|o| o.latency).collect();
                ok.sort();
                let shed = outcomes.iter().filter(|o| o.status == 503).count();
                let lost = outcomes.len() - ok.len() - shed;
                let spilled = outcomes.iter().filter(|o| o.status == 200 && o.backend.as_deref() == Some("scalar")).count();
                lost_total += lost;
                let (p50, p99, p999) = (quantile(&ok, 0.5), quantile(&ok, 0.99), quantile(&ok, 0.999));
                if spill == Spill::Auto {
                    auto_p99.push(p99);
                }
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                println!(
                    "| {name} | {load}x | {rate:.0} | {} | {:.1}% | {:.1}% | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} |",
                    ok.len(),
                    100.0 * shed as f64 / outcomes.len() as f64,
                    100.0 * spilled as f64 / ok.len().max(1) as f64,
                    ok.len() as f64 / span.as_secs_f64(),
                    ms(p50),
                    ms(p99),
                    ms(p999),
                    rss_mib("VmRSS:")
                );
            }
            let _ = stop.send(());
        }
        println!("\npeak RSS (client and server together): {:.0} MiB", rss_mib("VmHWM:"));
        let base = auto_p99[0].as_secs_f64();
        println!(
            "spill = auto: p99 at 2x / 0.5x = {:.2}, at 10x / 0.5x = {:.2}",
            auto_p99[1].as_secs_f64() / base,
            auto_p99[2].as_secs_f64() / base
        );
        println!("loadtest p99_10x_over_base={:.2} lost={lost_total}", auto_p99[2].as_secs_f64() / base);
    });
}
