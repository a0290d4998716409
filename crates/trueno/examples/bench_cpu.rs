//! CPU kernels against the best Rust peers, measured in one run on this machine.
//!
//! `cargo run --release -p trueno --example bench_cpu [-- --quick]`
//!
//! sgemm: GFLOP/s of square products for trueno, faer and matrixmultiply (via
//! ndarray), on 1 and 2 threads; the ratio is trueno / faer. Vector ops: GB/s
//! of dot, sum and add against a triad loop (a = b + s·c) measured in the same
//! run as the memory-bandwidth reference. Medians of repeated samples (each
//! ~40 ms); trueno's and faer's sgemm samples alternate, 11 pairs per size,
//! and the ratio is the median of the pairs' ratios (each pair sees the same
//! machine speed).
//! matrixmultiply reads its thread count once per process, so its columns come
//! from child processes of this binary with `MATMUL_NUM_THREADS` set.
//! Last line: `bench_cpu sgemm1024_vs_faer=<ratio> dot16M_vs_triad=<ratio>`
//! (the sgemm ratio is the lower of the 1- and 2-thread ratios).

use std::process::Command;
use std::time::{Duration, Instant};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use trueno::simd::{self, gemm};

fn median_time(samples: usize, mut f: impl FnMut()) -> Duration {
    f();
    let t = Instant::now();
    f();
    let one = t.elapsed().max(Duration::from_nanos(100));
    let reps = (Duration::from_millis(40).as_secs_f64() / one.as_secs_f64())
        .ceil()
        .clamp(1.0, 100_000.0) as u32;
    let mut v: Vec<Duration> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed() / reps
        })
        .collect();
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
        gemm::sgemm(
            gemm::Transpose::No,
            gemm::Transpose::No,
            n,
            n,
            n,
            1.0,
            &a,
            n,
            &b,
            n,
            0.0,
            &mut c,
            n,
        )
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
    let (mut t_ours, mut t_theirs) = pool(threads).install(|| {
        let (r_ours, r_theirs) = (reps_for(&mut ours), reps_for(&mut theirs));
        (0..samples)
            .map(|_| (sample(r_ours, &mut ours), sample(r_theirs, &mut theirs)))
            .unzip::<_, _, Vec<_>, Vec<_>>()
    });
    let mut ratios: Vec<f64> = t_theirs
        .iter()
        .zip(&t_ours)
        .map(|(theirs, ours)| theirs.as_secs_f64() / ours.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    t_ours.sort();
    t_theirs.sort();
    (
        gflops(n, t_ours[samples / 2]),
        gflops(n, t_theirs[samples / 2]),
        ratios[samples / 2],
    )
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
    // is the bandwidth reference); the last column is the same op on two
    // threads, which it uses above 1M elements.
    let single = pool(1);
    println!(
        "\n| op | elements | GB/s (1 thread) | triad GB/s (1 thread) | ratio | GB/s (2 threads) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut dot_16m = f64::NAN;
    for len in [4 << 10, 256 << 10, 16 << 20] {
        let (x, y) = (data(len, 3), data(len, 4));
        let mut out = vec![0.0f32; len];
        let s = 1.5f32;
        let triad = single.install(|| {
            gbs(
                12 * len,
                median_time(samples, || {
                    for ((o, &b), &c) in out.iter_mut().zip(&x).zip(&y) {
                        *o = b + s * c;
                    }
                    std::hint::black_box(&out);
                }),
            )
        });
        let mut measure = || {
            let dot = gbs(
                8 * len,
                median_time(samples, || {
                    std::hint::black_box(simd::dot(&x, &y));
                }),
            );
            let sum = gbs(
                4 * len,
                median_time(samples, || {
                    std::hint::black_box(simd::sum(&x));
                }),
            );
            let add = gbs(
                12 * len,
                median_time(samples, || {
                    simd::add(&x, &y, &mut out);
                    std::hint::black_box(&out);
                }),
            );
            [("dot", dot), ("sum", sum), ("add", add)]
        };
        let one = single.install(&mut measure);
        let two = pool(2).install(&mut measure);
        if len == 16 << 20 {
            dot_16m = one[0].1 / triad;
        }
        for ((name, v), (_, v2)) in one.into_iter().zip(two) {
            println!(
                "| {name} | {len} | {v:.1} | {triad:.1} | {:.2} | {v2:.1} |",
                v / triad
            );
        }
    }
    println!("bench_cpu sgemm1024_vs_faer={ratio_1024:.3} dot16M_vs_triad={dot_16m:.3}");
}
