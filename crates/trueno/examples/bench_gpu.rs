//! GPU backend benchmark: sgemm, vector add, transfers and dispatch latency,
//! with cuBLAS measured in the same run as the reference.
//!
//! `cargo run --release -p trueno --example bench_gpu [-- --quick]`
//!
//! Needs a hardware adapter (set `TRUENO_ALLOW_SOFTWARE_GPU=1` to run it on
//! lavapipe, for a smoke test only). Compute-only times keep the operands on
//! the device and divide a batch of back-to-back dispatches by its size;
//! "with transfers" uploads the inputs and downloads the result each time.
//! Last line: `bench_gpu sgemm4096_vs_cublas=<ratio>`.

use std::process::Command;
use std::time::{Duration, Instant};

use trueno::gpu::{GpuContext, GpuOptions, GpuTensor, MatmulKernel};
use trueno::{Backend, ops};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median over `samples` batches of `batch` runs of `f`, per run, waiting for
/// the device once per batch. Each output is dropped at once, so its buffer
/// returns to the pool and the next run reuses it, as steady-state code does
/// (the queue orders the reuse after the earlier dispatch).
fn per_run(
    g: &GpuContext,
    samples: usize,
    batch: u32,
    mut f: impl FnMut() -> GpuTensor,
) -> Duration {
    drop(f());
    g.sync().unwrap();
    median(
        (0..samples)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    drop(f());
                }
                g.sync().unwrap();
                t.elapsed() / batch
            })
            .collect(),
    )
}

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn cublas(sizes: &[usize]) -> Vec<(usize, f64)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cublas_sgemm.py");
    let out = Command::new("python3")
        .arg(script)
        .args(sizes.iter().map(|n| n.to_string()))
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("cuBLAS reference unavailable (python3 with CUDA torch not found)");
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.strip_prefix("cublas n=")?.split(" tflops=");
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let g = match GpuContext::new(GpuOptions::from_env()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("bench_gpu: {e}");
            std::process::exit(1);
        }
    };
    let kind = if g.is_software() {
        "software: correctness only"
    } else {
        "hardware"
    };
    println!("adapter: {} ({kind})", g.adapter_name());

    // Host <-> device bandwidth on 256 MiB (64 MiB with --quick).
    let n_bw = if quick { 16 << 20 } else { 64 << 20 };
    let host = data(n_bw);
    let up = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let d = g.upload(&host).unwrap();
                g.sync().unwrap();
                let dt = t.elapsed();
                drop(d);
                dt
            })
            .collect(),
    );
    let dev = g.upload(&host).unwrap();
    let down = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let _ = g.download(&dev).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    let gb = (4 * n_bw) as f64 / 1e9;
    println!(
        "host->device {:.1} GB/s, device->host {:.1} GB/s ({} MiB, pageable)",
        gb / up.as_secs_f64(),
        gb / down.as_secs_f64(),
        (4 * n_bw) >> 20
    );
    drop(dev);

    // Dispatch latency: a 256-element add, dispatched and waited for.
    let small = g.upload(&data(256)).unwrap();
    let lat = median(
        (0..200)
            .map(|_| {
                let t = Instant::now();
                let o = g.add(&small, &small).unwrap();
                g.sync().unwrap();
                let dt = t.elapsed();
                drop(o);
                dt
            })
            .collect(),
    );
    let pipelined = per_run(&g, 5, 200, || g.add(&small, &small).unwrap());
    println!(
        "dispatch latency: {:.1} us (dispatch + wait), {:.1} us per dispatch back to back",
        lat.as_secs_f64() * 1e6,
        pipelined.as_secs_f64() * 1e6
    );

    // Vector add, 16M elements (4M with --quick): 12 bytes moved per element.
    let n_add = if quick { 4 << 20 } else { 16 << 20 };
    let (a, b) = (data(n_add), data(n_add));
    let (da, db) = (g.upload(&a).unwrap(), g.upload(&b).unwrap());
    let resident = per_run(&g, 5, 20, || g.add(&da, &db).unwrap());
    let with = median(
        (0..5)
            .map(|_| {
                g.run_host(&[&a, &b], |g, t| g.add(&t[0], &t[1]))
                    .unwrap()
                    .1
                    .total()
            })
            .collect(),
    );
    let bytes = 12.0 * n_add as f64 / 1e9;
    println!(
        "add {}M: {:.0} GB/s on device, {:.1} GB/s with transfers ({:.0}x slower)",
        n_add >> 20,
        bytes / resident.as_secs_f64(),
        bytes / with.as_secs_f64(),
        with.as_secs_f64() / resident.as_secs_f64()
    );
    drop((da, db));

    // Correctness on this device: 512³ against the CPU SIMD kernel.
    let n = 512;
    let (ma, mb) = (data(n * n), data(n * n));
    let mut want = vec![0.0; n * n];
    ops::matmul(Backend::Simd, &ma, &mb, &mut want, n, n, n).unwrap();
    for kernel in MatmulKernel::ALL {
        let got = g
            .run_host(&[&ma, &mb], |g, t| {
                g.matmul_with(kernel, &t[0], &t[1], n, n, n)
            })
            .unwrap()
            .0;
        let err = want
            .iter()
            .zip(&got)
            .map(|(w, v)| (w - v).abs())
            .fold(0.0f32, f32::max);
        println!("check {kernel:?} 512^3 vs CPU: max abs err {err:.2e}");
        assert!(err < 1e-3, "GPU matmul disagrees with the CPU");
    }

    let sizes: Vec<usize> = if quick {
        vec![256, 512]
    } else {
        vec![1024, 2048, 4096, 8192]
    };
    let reference = cublas(&sizes);
    println!(
        "\n| n | kernel | TFLOP/s compute | TFLOP/s with transfers | cuBLAS TFLOP/s | ratio |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    let mut ratio_4096 = f64::NAN;
    for &n in &sizes {
        let (ha, hb) = (data(n * n), data(n * n));
        let (da, db) = (g.upload(&ha).unwrap(), g.upload(&hb).unwrap());
        let flops = 2.0 * (n as f64).powi(3);
        let cu = reference.iter().find(|(m, _)| *m == n).map(|r| r.1);
        let batch = (2e12 / flops).clamp(1.0, 50.0) as u32;
        for kernel in MatmulKernel::ALL {
            let t = per_run(&g, 5, batch, || {
                g.matmul_with(kernel, &da, &db, n, n, n).unwrap()
            });
            let tw = median(
                (0..3)
                    .map(|_| {
                        g.run_host(&[&ha, &hb], |g, t| {
                            g.matmul_with(kernel, &t[0], &t[1], n, n, n)
                        })
                        .unwrap()
                        .1
                        .total()
                    })
                    .collect(),
            );
            let tf = flops / t.as_secs_f64() / 1e12;
            let ratio = cu.map_or(f64::NAN, |c| tf / c);
            if n == 4096 && kernel == MatmulKernel::DEFAULT {
                ratio_4096 = ratio;
            }
            let cu_text = cu.map_or("n/a".to_owned(), |c| format!("{c:.1}"));
            println!(
                "| {n} | {kernel:?} | {tf:.2} | {:.2} | {cu_text} | {ratio:.3} |",
                flops / tw.as_secs_f64() / 1e12
            );
        }
    }
    println!("bench_gpu sgemm4096_vs_cublas={ratio_4096:.3}");
}
