//! CPU kernels against the best Rust peers, measured in one run on this machine.
//!
//! `cargo run --release -p trueno --example bench_cpu [-- --quick]`
//!
//! sgemm: GFLOP/s of square products for trueno, faer and matrixmultiply (via
//! ndarray), on 1 and 2 threads; the ratio is trueno / faer. Vector ops: GB/s
//! of dot, sum and add against a triad loop (a = b + s·c) measured in the same
//! run as the memory-bandwidth reference. Medians of repeated samples (each
//! ~40 ms). trueno's samples alternate with the reference's (faer's, or the
//! triad's), 11 pairs each, and a ratio is the median of the pairs' ratios:
//! each pair sees the same machine speed, which on the dev VM drifts by up to
//! 2× over minutes.
//! matrixmultiply reads its thread count once per process, so its columns come
//! from child processes of this binary with `MATMUL_NUM_THREADS` set.
//! Last line: `bench_cpu sgemm1024_vs_faer=<ratio> dot16M_vs_triad=<ratio>`
//! (the sgemm ratio is the lower of the 1- and 2-thread ratios).

use std::process::Command;
use std::time::{Duration, Instant};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use trueno::simd::{self, gemm};

/// Median seconds per call of `f` over `samples` samples of ~40 ms.
fn median_time(samples: usize, mut f: impl FnMut()) -> Duration {
    let reps = reps_for(&mut f);
    let mut v: Vec<Duration> = (0..samples).map(|_| sample(reps, &mut f)).collect();
    v.sort();
    v[v.len() / 2]
}

fn data(len: usize, salt: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + salt) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn gflops(n: usize, t: Duration) -> f64 {
    2.0 * (n as f64).powi(3) / t.as_secs_f64() / 1e9
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Seconds per call of `f`, timed over enough calls to take ~40 ms.
fn sample(reps: u32, f: &mut impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed() / reps
}

fn reps_for(f: &mut impl FnMut()) -> u32 {
    f();
    let one = sample(1, f).max(Duration::from_nanos(100));
    (0.04 / one.as_secs_f64()).ceil().clamp(1.0, 100_000.0) as u32
}

/// trueno's and faer's median GFLOP/s for an `n³` product on `threads`
/// threads, and the median of the ratios of their paired samples. Their
/// samples alternate, so a drift in the machine's speed (this VM moves by up
/// to 2× over minutes) lands on both of a pair rather than on one of them.
fn trueno_and_faer(n: usize, threads: usize, samples: usize) -> (f64, f64, f64) {
    let (a, b) = (data(n * n, 1), data(n * n, 2));
    let mut c = vec![0.0; n * n];
    let fa = Mat::<f32>::from_fn(n, n, |i, j| a[i * n + j]);
    let fb = Mat::<f32>::from_fn(n, n, |i, j| b[i * n + j]);
    let mut fc = Mat::<f32>::zeros(n, n);
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    let mut ours = || {
        let (av, bv) = (gemm::MatRef::new(&a, n, n), gemm::MatRef::new(&b, n, n));
        gemm::sgemm(1.0, av, bv, 0.0, gemm::MatMut::new(&mut c, n, n))
    };
    let mut theirs = || {
        matmul(
            fc.as_mut(),
            Accum::Replace,
            fa.as_ref(),
            fb.as_ref(),
            1.0,
            par,
        )
    };
    let (t_ours, t_theirs, ratio) =
        pool(threads).install(|| paired(samples, &mut ours, &mut theirs));
    (gflops(n, t_ours), gflops(n, t_theirs), ratio)
}

/// Median seconds per call of `ours` and of `reference`, and the median of
/// the ratios `reference / ours` of `samples` pairs of samples taken back to
/// back, so each pair sees the same machine speed.
fn paired(
    samples: usize,
    ours: &mut impl FnMut(),
    reference: &mut impl FnMut(),
) -> (Duration, Duration, f64) {
    let (r_ours, r_ref) = (reps_for(ours), reps_for(reference));
    let (mut t_ours, mut t_ref): (Vec<_>, Vec<_>) = (0..samples)
        .map(|_| (sample(r_ours, ours), sample(r_ref, reference)))
        .unzip();
    let mut ratios: Vec<f64> = t_ref
        .iter()
        .zip(&t_ours)
        .map(|(r, o)| r.as_secs_f64() / o.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    t_ours.sort();
    t_ref.sort();
    (t_ours[samples / 2], t_ref[samples / 2], ratios[samples / 2])
}

fn mm_sgemm(n: usize, samples: usize) -> f64 {
    let (a, b) = (data(n * n, 1), data(n * n, 2));
    let a = ndarray::Array2::from_shape_vec((n, n), a).expect("shape");
    let b = ndarray::Array2::from_shape_vec((n, n), b).expect("shape");
    let mut c = ndarray::Array2::<f32>::zeros((n, n));
    gflops(
        n,
        median_time(samples, || {
            ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c)
        }),
    )
}

/// matrixmultiply GFLOP/s per size on `threads` threads, from a child process.
fn mm_child(sizes: &[usize], threads: usize, quick: bool) -> Vec<f64> {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.arg("--mm-child")
        .env("MATMUL_NUM_THREADS", threads.to_string());
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().expect("child bench");
    let text = String::from_utf8_lossy(&out.stdout);
    sizes
        .iter()
        .map(|n| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("mm n={n} gflops="))
                        .and_then(|v| v.parse().ok())
                })
                .unwrap_or(f64::NAN)
        })
        .collect()
}

fn gbs(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 3 } else { 11 };
    let sizes: Vec<usize> = if quick {
        vec![64, 256, 1024]
    } else {
        vec![64, 128, 256, 512, 1024, 2048]
    };
    if std::env::args().any(|a| a == "--mm-child") {
        for &n in &sizes {
            println!("mm n={n} gflops={:.2}", mm_sgemm(n, samples));
        }
        return;
    }
    println!(
        "CPU SIMD level: {:?}; GEMM levels: {:?}",
        simd::level(),
        gemm::levels()
    );
    println!(
        "\n| n | threads | trueno GFLOP/s | faer GFLOP/s | matrixmultiply GFLOP/s | trueno / faer |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut ratio_1024 = f64::INFINITY;
    for threads in [1, 2] {
        let mm = mm_child(&sizes, threads, quick);
        for (i, &n) in sizes.iter().enumerate() {
            let (ours, faer, ratio) = trueno_and_faer(n, threads, samples);
            if n == 1024 {
                ratio_1024 = ratio_1024.min(ratio);
            }
            println!(
                "| {n} | {threads} | {ours:.1} | {faer:.1} | {:.1} | {ratio:.3} |",
                mm[i]
            );
        }
    }

    // The ratio compares one thread with one thread (a triad loop on one core
    // is the bandwidth reference), each op's samples alternating with the
    // triad's as sgemm's do with faer's; the last column is the same op on two
    // threads, which it uses above 1M elements.
    let single = pool(1);
    println!(
        "\n| op | elements | GB/s (1 thread) | triad GB/s (1 thread) | ratio | GB/s (2 threads) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut dot_16m = f64::NAN;
    for len in [4 << 10, 256 << 10, 16 << 20] {
        let (x, y) = (data(len, 3), data(len, 4));
        let (mut out, mut triad_out) = (vec![0.0f32; len], vec![0.0f32; len]);
        let s = 1.5f32;
        let mut triad = || {
            for ((o, &b), &c) in triad_out.iter_mut().zip(&x).zip(&y) {
                *o = b + s * c;
            }
            std::hint::black_box(&triad_out);
        };
        let mut dot = || {
            std::hint::black_box(simd::dot(&x, &y));
        };
        let mut sum = || {
            std::hint::black_box(simd::sum(&x));
        };
        let mut add = || {
            simd::add(&x, &y, &mut out);
            std::hint::black_box(&out);
        };
        let ops: [(&str, usize, &mut (dyn FnMut() + Send)); 3] = [
            ("dot", 8 * len, &mut dot),
            ("sum", 4 * len, &mut sum),
            ("add", 12 * len, &mut add),
        ];
        for (name, bytes, mut op) in ops {
            let (t_op, t_triad, time_ratio) =
                single.install(|| paired(samples, &mut op, &mut triad));
            let (v, v_triad) = (gbs(bytes, t_op), gbs(12 * len, t_triad));
            // GB/s over GB/s: the time ratio scaled by the bytes each moves.
            let ratio = time_ratio * bytes as f64 / (12 * len) as f64;
            let v2 = gbs(bytes, pool(2).install(|| median_time(samples, &mut *op)));
            if len == 16 << 20 && name == "dot" {
                dot_16m = ratio;
            }
            println!("| {name} | {len} | {v:.1} | {v_triad:.1} | {ratio:.2} | {v2:.1} |");
        }
    }
    println!("bench_cpu sgemm1024_vs_faer={ratio_1024:.3} dot16M_vs_triad={dot_16m:.3}");
}
