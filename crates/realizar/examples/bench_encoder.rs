//! Sentence embeddings: this stack's encoder against sentence-transformers on
//! PyTorch fp32 and onnxruntime (the same model exported from PyTorch), in one
//! run, the sides alternating.
//!
//! `cargo run --release -p realizar --example bench_encoder [-- --threads N] [--rounds R] [--model DIR] [--random-weights] [--gpu]`
//!
//! `--gpu` runs this side on the GPU backend (weights resident) against
//! sentence-transformers on CUDA (onnxruntime is then not run: its CPU
//! provider is no GPU anchor); the last line then reads
//! `bench_encoder gpu batch256_vs_torch_cuda=<x>`.
//! `--random-weights` first writes random weights of the folder's shape into
//! `DIR/model.safetensors` (speed does not depend on the values): how the
//! benchmark runs where the real weights cannot be copied. Use a copy of the
//! folder.
//! Needs the model (`cargo xtask fetch-models`) and Python with torch,
//! sentence-transformers, onnx and onnxruntime. The corpus is the committed
//! `examples/data/encoder_corpus.txt` (1024 sentences of 8–128 tokens,
//! `make_encoder_corpus.py`). Every side embeds consecutive batches of it —
//! tokenising, pooling and normalising included — for `SECONDS` per batch
//! size and round; sentences/s per side is the median over rounds, each ratio
//! the median of the per-round ratios, and batch 1 also reports p50 latency.
//! This side calls `aprender::encoder::Encoder::embed` on the SIMD backend
//! with rayon on `--threads` threads (PyTorch and onnxruntime get the same).
//! Last line: `bench_encoder batch32_vs_torch=<x> batch32_vs_ort=<y>`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aprender::encoder::Encoder;
use trueno::Backend;

const BATCHES: [usize; 3] = [1, 32, 256];
const SECONDS: f64 = 1.0;

fn model_dir() -> PathBuf {
    aprender::encoder::model_cache_dir("all-minilm-l6-v2")
        .expect("a cache directory (HEIJUNKA_MODELS)")
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a whole number"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Figure {
    sents_per_s: f64,
    p50_ms: f64,
}

fn main() {
    let threads = arg("--threads", 2);
    let rounds = arg("--rounds", 3);
    let dir = text_arg("--model").map_or_else(model_dir, PathBuf::from);
    let gpu = flag("--gpu");
    let (backend, device) = if gpu {
        (Backend::Gpu, "cuda")
    } else {
        (Backend::Simd, "cpu")
    };
    if flag("--random-weights") {
        let cfg = aprender::encoder::EncoderConfig::from_dir(&dir).expect("the folder's config");
        let bytes = aprender::encoder::EncoderWeights::random(&cfg, 17).to_safetensors();
        aprender::file::write_atomic(&dir.join("model.safetensors"), &bytes)
            .expect("writing random weights");
    }
    let encoder = Encoder::load(&dir).unwrap_or_else(|e| {
        eprintln!("{e}: run `cargo xtask fetch-models`");
        std::process::exit(1);
    });
    let corpus_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/encoder_corpus.txt"
    );
    let corpus = std::fs::read_to_string(corpus_path).expect("the committed corpus");
    let texts: Vec<&str> = corpus.lines().collect();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the global pool is configured once, here");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/st_encoder.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(&dir)
        .arg(corpus_path)
        .arg(threads.to_string())
        .arg(device)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut to_py = child.stdin.take().expect("piped");
    let mut from_py = BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = from_py.next().and_then(Result::ok).unwrap_or_default();
    if !ready.starts_with("ready") {
        eprintln!(
            "the Python side failed: pip install torch sentence-transformers onnx onnxruntime"
        );
        std::process::exit(1);
    }
    let mut python = |side: &str, batch: usize| -> Figure {
        writeln!(to_py, "{side} {batch} {SECONDS}").expect("to python");
        let line = from_py.next().and_then(Result::ok).expect("an answer");
        let field = |key: &str| -> f64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        };
        Figure {
            sents_per_s: field("sents_per_s="),
            p50_ms: field("p50_ms="),
        }
    };
    let mut start = 0;
    let mut ours = |batch: usize| -> Figure {
        let mut times = Vec::new();
        let mut done = 0;
        let until = Instant::now() + Duration::from_secs_f64(SECONDS);
        while Instant::now() < until || times.is_empty() {
            let chunk: Vec<&str> = (0..batch)
                .map(|i| texts[(start + i) % texts.len()])
                .collect();
            start = (start + batch) % texts.len();
            let t = Instant::now();
            let e = encoder.embed(backend, &chunk).expect("embed");
            times.push(t.elapsed().as_secs_f64());
            std::hint::black_box(e);
            done += batch;
        }
        let total: f64 = times.iter().sum();
        Figure {
            sents_per_s: done as f64 / total,
            p50_ms: median(times) * 1e3,
        }
    };

    if gpu {
        // The first call uploads the weights and compiles the pipelines.
        encoder
            .embed(backend, &texts[..2])
            .expect("the GPU backend");
    }
    println!(
        "{ready}; {rounds} rounds of {SECONDS} s per side and batch, {threads} threads, ours on {backend}"
    );
    let skipped = || Figure {
        sents_per_s: f64::NAN,
        p50_ms: f64::NAN,
    };
    // rows[batch] = per round (ours, torch, ort)
    let mut rows: Vec<Vec<[Figure; 3]>> = BATCHES.iter().map(|_| Vec::new()).collect();
    for r in 0..rounds {
        for (b, &batch) in BATCHES.iter().enumerate() {
            let ort = if gpu { skipped() } else { python("ort", batch) };
            let fig = [ours(batch), python("torch", batch), ort];
            println!(
                "round {r} batch {batch}: ours {:.1} torch {:.1} ort {:.1} sentences/s",
                fig[0].sents_per_s, fig[1].sents_per_s, fig[2].sents_per_s
            );
            rows[b].push(fig);
        }
    }
    println!(
        "| batch | ours sent/s | torch sent/s | ort sent/s | vs torch (range) | vs ort (range) | p50 ms ours / torch / ort |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|");
    let (mut at32, mut at256) = ((0.0, 0.0), 0.0);
    for (b, &batch) in BATCHES.iter().enumerate() {
        let col = |i: usize| median(rows[b].iter().map(|f| f[i].sents_per_s).collect());
        let p50 = |i: usize| median(rows[b].iter().map(|f| f[i].p50_ms).collect());
        let ratios = |i: usize| -> Vec<f64> {
            rows[b]
                .iter()
                .map(|f| f[0].sents_per_s / f[i].sents_per_s)
                .collect()
        };
        let range = |v: &[f64]| {
            (
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(0.0, f64::max),
            )
        };
        let (vt, vo) = (ratios(1), ratios(2));
        let ((tl, th), (ol, oh)) = (range(&vt), range(&vo));
        let (mt, mo) = (median(vt), median(vo));
        println!(
            "| {batch} | {:.1} | {:.1} | {:.1} | {mt:.3} ({tl:.3}–{th:.3}) | {mo:.3} ({ol:.3}–{oh:.3}) | {:.2} / {:.2} / {:.2} |",
            col(0),
            col(1),
            col(2),
            p50(0),
            p50(1),
            p50(2)
        );
        if batch == 32 {
            at32 = (mt, mo);
        }
        if batch == 256 {
            at256 = mt;
        }
    }
    drop(to_py);
    let _ = child.wait();
    if gpu {
        println!("bench_encoder gpu batch256_vs_torch_cuda={at256:.3}");
    } else {
        println!(
            "bench_encoder batch32_vs_torch={:.3} batch32_vs_ort={:.3}",
            at32.0, at32.1
        );
    }
}
