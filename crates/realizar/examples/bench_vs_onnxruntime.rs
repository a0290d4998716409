//! realizar against onnxruntime on the same MLP (784-256-128-10), in one run.
//!
//! `cargo run --release -p realizar --example bench_vs_onnxruntime`
//!
//! Needs Python with `onnx`, `onnxruntime` and `numpy` (`pip install onnx
//! onnxruntime numpy`). The model is written as a safetensors file; the Python
//! side (`examples/ort_mlp.py`) reads it, exports it to ONNX and times
//! onnxruntime on 2 intra-op threads; this side times realizar's engine (SIMD
//! backend, one request at a time) with rayon on 2 threads. Throughput is
//! rows/s from the median request latency at batch 1, 64 and 1024.
//! Last line: `bench_vs_onnxruntime batch64=<ratio>` (realizar / onnxruntime).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aprender::Mlp;
use realizar::{BackendConfig, Engine, InferenceInput};
use trueno::Backend;

const BATCHES: [usize; 3] = [1, 64, 1024];

fn main() {
    let dir = std::env::temp_dir().join(format!("bench-ort-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mlp.safetensors");
    let mlp = Mlp::random(&[784, 256, 128, 10], 42).expect("model");
    mlp.save(&path).expect("save");

    let script = [
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ort_mlp.py"),
        "crates/realizar/examples/ort_mlp.py",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("ort_mlp.py next to this example");
    let out = Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg("2")
        .args(BATCHES.iter().map(|b| b.to_string()))
        .output()
        .expect("python3");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("onnxruntime side failed: pip install onnx onnxruntime numpy");
        std::process::exit(1);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let ort = |batch: usize| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("ort batch={batch} rows_per_s="))
                    .and_then(|v| v.parse().ok())
            })
            .expect("a figure per batch")
    };

    // The engine's workers compute on rayon's global pool; size it to the 2
    // threads onnxruntime gets. (Waiting inside a second pool would leave its
    // idle threads spinning against the workers.)
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("the global pool is configured once, here");
    let engine = Engine::new(&[BackendConfig::new(Backend::Simd, 4, 1)]).expect("engine");
    let mlp = Arc::new(mlp);
    engine.insert_model("m", Arc::clone(&mlp));
    // Through the engine (queue, worker thread, reply), and the bare forward
    // pass on the calling thread, to show what the engine's hop costs.
    let (ours, bare): (Vec<f64>, Vec<f64>) = BATCHES
        .iter()
        .map(|&rows| {
            let data: Arc<[f32]> = (0..rows * 784)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect::<Vec<_>>()
                .into();
            let input = InferenceInput {
                model: "m".into(),
                rows,
                data: Arc::clone(&data),
            };
            let engine_rps = throughput(rows, || {
                engine
                    .submit(Backend::Simd, input.clone())
                    .expect("submit")
                    .wait()
                    .expect("run");
            });
            let bare_rps = throughput(rows, || {
                mlp.predict(Backend::Simd, &data, rows).expect("predict");
            });
            (engine_rps, bare_rps)
        })
        .unzip();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "| batch | realizar rows/s | onnxruntime rows/s | ratio | forward pass alone rows/s |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut ratio_64 = f64::NAN;
    for (i, &b) in BATCHES.iter().enumerate() {
        let r = ours[i] / ort(b);
        if b == 64 {
            ratio_64 = r;
        }
        println!(
            "| {b} | {:.0} | {:.0} | {r:.3} | {:.0} |",
            ours[i],
            ort(b),
            bare[i]
        );
    }
    println!("bench_vs_onnxruntime batch64={ratio_64:.3}");
}

/// Rows/s from the median time of `run` (5 warm-up calls, then at least 20
/// and up to a second of calls).
fn throughput(rows: usize, mut run: impl FnMut()) -> f64 {
    for _ in 0..5 {
        run();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 20 || (start.elapsed() < Duration::from_secs(1) && times.len() < 10_000) {
        let t = Instant::now();
        run();
        times.push(t.elapsed());
    }
    times.sort();
    rows as f64 / times[times.len() / 2].as_secs_f64()
}
