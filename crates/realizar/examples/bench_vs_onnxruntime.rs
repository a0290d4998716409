//! realizar against onnxruntime on the same MLP (784-256-128-10), in one run.
//!
//! `cargo run --release -p realizar --example bench_vs_onnxruntime`
//!
//! Needs Python with `onnx`, `onnxruntime` and `numpy` (`pip install onnx
//! onnxruntime numpy`). The model is written as a safetensors file; the Python
//! side (`examples/ort_mlp.py`) reads it, exports it to ONNX and times
//! onnxruntime on 2 intra-op threads on request; this side times realizar's
//! engine (SIMD backend, one request at a time, rayon on 2 threads) and the
//! bare forward pass. The two sides take turns: `ROUNDS` rounds, each timing
//! every batch size on both for `SECONDS`, so both see the same machine (this
//! VM's speed drifts by up to 2× over minutes). Throughput is rows/s from the
//! median latency; each figure printed is the median over rounds, and the
//! ratio is the median of the per-round ratios.
//! Last line: `bench_vs_onnxruntime batch64=<ratio>` (realizar / onnxruntime).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aprender::Mlp;
use realizar::{BackendConfig, Engine, InferenceInput};
use trueno::Backend;

const BATCHES: [usize; 3] = [1, 64, 1024];
const ROUNDS: usize = 11;
const SECONDS: f64 = 0.2;
/// Pause between the two sides, so neither's spinning threads overlap the other's timing.
const PAUSE: Duration = Duration::from_millis(100);

fn main() {
    let dir = std::env::temp_dir().join(format!("bench-ort-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mlp.safetensors");
    let mlp = Arc::new(Mlp::random(&[784, 256, 128, 10], 42).expect("model"));
    mlp.save(&path).expect("save");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ort_mlp.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg("2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut to_ort = child.stdin.take().expect("piped");
    let mut from_ort = BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = from_ort.next().and_then(Result::ok).unwrap_or_default();
    if !ready.starts_with("ready") {
        eprintln!("onnxruntime side failed: pip install onnx onnxruntime numpy");
        std::process::exit(1);
    }
    let mut ort = |batch: usize| -> f64 {
        writeln!(to_ort, "{batch} {SECONDS}").expect("to python");
        let line = from_ort.next().and_then(Result::ok).expect("an answer");
        line.strip_prefix(&format!("ort batch={batch} rows_per_s="))
            .and_then(|v| v.parse().ok())
            .expect("a figure")
    };

    // The engine's SIMD pool has as many threads as cores (2 here, as
    // onnxruntime gets); the bare forward pass runs on rayon's global pool,
    // sized the same.
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("the global pool is configured once, here");
    let engine = Engine::new(&[BackendConfig::new(Backend::Simd, 4, 1)]).expect("engine");
    engine.insert_model("m", Arc::clone(&mlp) as Arc<dyn realizar::Model>);
    // (rows, values, the same as a request)
    let inputs: Vec<(usize, Vec<f32>, InferenceInput)> = BATCHES
        .iter()
        .map(|&rows| {
            let data: Vec<f32> = (0..rows * 784)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect();
            let request = InferenceInput::rows("m", rows, data.clone());
            (rows, data, request)
        })
        .collect();

    // [batch][round] → (engine, bare, onnxruntime) rows/s
    let mut runs = vec![Vec::new(); BATCHES.len()];
    for round in 0..ROUNDS {
        for (b, (rows, data, input)) in inputs.iter().enumerate() {
            let rows = *rows;
            let theirs = ort(rows);
            std::thread::sleep(PAUSE);
            let engine_rps = throughput(rows, || {
                engine
                    .submit(Backend::Simd, input.clone())
                    .expect("submit")
                    .wait()
                    .expect("run");
            });
            // The forward pass on this thread, to show what the engine's hop costs.
            let bare_rps = throughput(rows, || {
                mlp.predict(Backend::Simd, data, rows).expect("predict");
            });
            std::thread::sleep(PAUSE);
            eprintln!(
                "round {round} batch {}: realizar {engine_rps:.0} bare {bare_rps:.0} onnxruntime {theirs:.0}",
                rows
            );
            runs[b].push((engine_rps, bare_rps, theirs));
        }
    }
    drop(to_ort);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!("{ready}; {ROUNDS} interleaved rounds of {SECONDS} s per side and batch");
    println!(
        "| batch | realizar rows/s | onnxruntime rows/s | ratio (median of rounds) | ratio range | forward pass alone rows/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut ratio_64 = f64::NAN;
    for (b, &batch) in BATCHES.iter().enumerate() {
        let r = &runs[b];
        let ratios: Vec<f64> = r.iter().map(|(e, _, o)| e / o).collect();
        let ratio = median(ratios.clone());
        let (lo, hi) = ratios
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
        if batch == 64 {
            ratio_64 = ratio;
        }
        println!(
            "| {batch} | {:.0} | {:.0} | {ratio:.3} | {lo:.2}–{hi:.2} | {:.0} |",
            median(r.iter().map(|x| x.0).collect()),
            median(r.iter().map(|x| x.2).collect()),
            median(r.iter().map(|x| x.1).collect()),
        );
    }
    println!("bench_vs_onnxruntime batch64={ratio_64:.3}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rows/s from the median time of `run` (5 warm-up calls, then at least 20
/// calls and up to `SECONDS`).
fn throughput(rows: usize, mut run: impl FnMut()) -> f64 {
    for _ in 0..5 {
        run();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 20 || (start.elapsed().as_secs_f64() < SECONDS && times.len() < 10_000) {
        let t = Instant::now();
        run();
        times.push(t.elapsed());
    }
    times.sort();
    rows as f64 / times[times.len() / 2].as_secs_f64()
}
