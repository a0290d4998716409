//! Open-loop load test of a real `batuta serve` process: does it stay level
//! under overload?
//!
//! ```sh
//! cargo run --release -p batuta --example loadtest [-- --quick] [--against OLD_BATUTA]
//! ```
//!
//! `--against` alternates this build's server with another `batuta` binary
//! (round by round, the default policy only) and reports both, so a change
//! can be told from the machine's drift.
//!
//! It first builds the two programs it starts (`batuta` and `loadgen`) with
//! the same cargo, so they are never stale.
//!
//! The server runs pinned to core 0 (`taskset -c 0`), the load generator
//! (`examples/loadgen.rs`, its own process) pinned to core 1, so overload
//! never slows the client and the client never steals the server's core.
//! The model is compute-bound (4-1024-1024-3, 32 rows a request). Per round
//! and spill policy (`full`, `auto`, alternating): a fresh server, a warm-up,
//! its capacity closed-loop (4 clients back to back: enough to keep its one SIMD worker busy, few enough that none is refused), then Poisson arrivals
//! at 0.5×, 2× and 10× that capacity. Latency runs from each request's due
//! time (coordinated omission corrected). Reported per phase: goodput, share
//! refused (503), p50/p99/p99.9 of accepted requests, unanswered requests,
//! and the server's resident memory (VmRSS, peak VmHWM).
//!
//! Targets (issue 14): 0% refused at 0.5×; goodput at 2× and 10× ≥ 90% of
//! capacity; p99 at 2× and 10× ≤ 2× the 0.5× p99; no request unanswered;
//! RSS bounded. Last line, medians over rounds for the default policy:
//! `loadtest refused_half=… goodput_2x=… goodput_10x=… p99_2x_over_half=… p99_10x_over_half=… unanswered=… rss_mb=…`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aprender::Mlp;
use serde_json::Value;

const FEATURES: usize = 4;
const ROWS: usize = 32;
const POLICIES: [&str; 2] = ["full", "auto"];
/// The policy `batuta.toml` defaults to, whose figures the last line reports.
const DEFAULT_POLICY: &str = "auto";

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, dir: &Path, spill: &str) -> Server {
    let config = dir.join(format!("{spill}.toml"));
    std::fs::write(
        &config,
        format!(
            "[serve]\naddress = \"127.0.0.1:0\"\nmodel_dir = \"models\"\nspill = \"{spill}\"\n"
        ),
    )
    .expect("config");
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(bin)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("taskset and the batuta binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the address line");
    let base = line
        .trim()
        .strip_prefix("batuta listening on ")
        .unwrap_or_else(|| panic!("got {line:?}"));
    Server {
        url: format!("{base}/v2/models/m/infer"),
        child,
    }
}

fn load(loadgen: &Path, url: &str, body: &Path, mode: &str, amount: f64, seconds: f64) -> Value {
    let out = Command::new("taskset")
        .args(["-c", "1"])
        .arg(loadgen)
        .arg(url)
        .arg(body)
        .arg(mode)
        .arg(format!("{amount}"))
        .arg(format!("{seconds}"))
        .output()
        .expect("the load generator");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "loadgen said {:?}: {e}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (VmRSS, VmHWM) of a process in MiB.
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// One phase's figures.
#[derive(Clone, Copy, Default)]
struct Phase {
    goodput: f64,
    refused: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    unanswered: u64,
}

fn phase(v: &Value) -> Phase {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Phase {
        goodput: f("goodput"),
        refused: f("refused") / f("sent").max(1.0),
        p50: f("p50_ms"),
        p99: f("p99_ms"),
        p999: f("p999_ms"),
        unanswered: v["unanswered"].as_u64().unwrap_or(0) + v["other"].as_u64().unwrap_or(0),
    }
}

/// A round of one policy: capacity, then the three open-loop rates; and the peak RSS.
fn round(
    bin: &Path,
    loadgen: &Path,
    dir: &Path,
    body: &Path,
    spill: &str,
    seconds: f64,
) -> (f64, [Phase; 3], f64) {
    let server = start(bin, dir, spill);
    load(loadgen, &server.url, body, "closed", 2.0, 1.0);
    let capacity = load(loadgen, &server.url, body, "closed", 4.0, seconds / 2.0)["goodput"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let mut phases = [Phase::default(); 3];
    for (p, factor) in phases.iter_mut().zip([0.5, 2.0, 10.0]) {
        *p = phase(&load(
            loadgen,
            &server.url,
            body,
            "open",
            factor * capacity,
            seconds,
        ));
    }
    let (_, peak) = rss(server.child.id());
    (capacity, phases, peak)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let against = args
        .iter()
        .position(|a| a == "--against")
        .map(|i| match args.get(i + 1) {
            Some(p) if Path::new(p).is_file() => PathBuf::from(p),
            _ => {
                eprintln!("--against needs the path of a batuta binary");
                std::process::exit(2);
            }
        });
    let (rounds, seconds) = if quick { (1, 4.0) } else { (3, 8.0) };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "batuta",
            "--bin",
            "batuta",
            "--example",
            "loadgen",
        ])
        .status()
        .is_ok_and(|s| s.success());
    let here = std::env::current_exe().expect("own path");
    let examples = here.parent().expect("examples dir");
    let bin: PathBuf = examples.parent().expect("profile dir").join("batuta");
    let loadgen = examples.join("loadgen");
    if !built || !bin.exists() || !loadgen.exists() {
        eprintln!(
            "cannot build batuta and loadgen: cargo build --release -p batuta --bins --examples"
        );
        std::process::exit(1);
    }
    let dir = std::env::temp_dir().join(format!("batuta-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("models")).expect("temp dir");
    Mlp::random(&[FEATURES, 1024, 1024, 3], 7)
        .expect("model")
        .save(dir.join("models").join("m.safetensors"))
        .expect("save");
    let data: Vec<f32> = (0..ROWS * FEATURES)
        .map(|i| (i as f32 * 0.01).sin())
        .collect();
    let body = dir.join("body.json");
    let json = serde_json::json!({"inputs": [{"name": "x", "shape": [ROWS, FEATURES], "datatype": "FP32", "data": data}]});
    std::fs::write(&body, json.to_string()).expect("body");

    println!(
        "model {FEATURES}-1024-1024-3, {ROWS} rows a request; server on core 0, load generator on core 1; {rounds} rounds of {seconds} s phases"
    );
    println!(
        "| round | spill | capacity req/s | rate | goodput / capacity | refused | p50 ms | p99 ms | p99.9 ms | unanswered | peak RSS MiB |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // (label, server binary, policies): this build alone, or alternating with another.
    let variants: Vec<(&str, PathBuf, &[&str])> = match &against {
        None => vec![("this", bin.clone(), &POLICIES)],
        Some(other) => vec![
            ("this", bin.clone(), &[DEFAULT_POLICY]),
            ("against", other.clone(), &[DEFAULT_POLICY]),
        ],
    };
    let mut summaries: Vec<Vec<[f64; 7]>> = vec![Vec::new(); variants.len()];
    for r in 0..rounds {
        for ((label, bin, policies), summary) in variants.iter().zip(&mut summaries) {
            for &spill in *policies {
                let (capacity, phases, peak) = round(bin, &loadgen, &dir, &body, spill, seconds);
                for (p, rate) in phases.iter().zip(["0.5×", "2×", "10×"]) {
                    println!(
                        "| {r} | {label} {spill} | {capacity:.0} | {rate} | {:.3} | {:.2}% | {:.2} | {:.2} | {:.2} | {} | {peak:.0} |",
                        p.goodput / capacity,
                        p.refused * 100.0,
                        p.p50,
                        p.p99,
                        p.p999,
                        p.unanswered
                    );
                }
                if spill == DEFAULT_POLICY {
                    let [half, two, ten] = phases;
                    summary.push([
                        half.refused * 100.0,
                        two.goodput / capacity,
                        ten.goodput / capacity,
                        two.p99 / half.p99,
                        ten.p99 / half.p99,
                        (half.unanswered + two.unanswered + ten.unanswered) as f64,
                        peak,
                    ]);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for ((label, ..), summary) in variants.iter().zip(&summaries) {
        report(label, summary);
    }
}

/// The medians over rounds of one server binary, and the last line.
fn report(label: &str, summary: &[[f64; 7]]) {
    let col = |i: usize| median(summary.iter().map(|s| s[i]).collect());
    let range = |i: usize| {
        let v: Vec<f64> = summary.iter().map(|s| s[i]).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        )
    };
    for (i, name) in [
        "refused at 0.5× (%)",
        "goodput 2× / capacity",
        "goodput 10× / capacity",
        "p99 2× / p99 0.5×",
        "p99 10× / p99 0.5×",
    ]
    .iter()
    .enumerate()
    {
        let (lo, hi) = range(i);
        println!(
            "{label} {DEFAULT_POLICY}: {name}: median {:.3} (range {lo:.3}–{hi:.3})",
            col(i)
        );
    }
    let tag = if label == "this" {
        String::new()
    } else {
        format!("[{label}]")
    };
    println!(
        "loadtest{tag} refused_half={:.2} goodput_2x={:.3} goodput_10x={:.3} p99_2x_over_half={:.2} p99_10x_over_half={:.2} unanswered={} rss_mb={:.0}",
        col(0),
        col(1),
        col(2),
        col(3),
        col(4),
        summary.iter().map(|s| s[5]).sum::<f64>(),
        summary.iter().map(|s| s[6]).fold(0.0, f64::max)
    );
}
