//! Measuring a machine: `batuta calibrate` and the regret benchmark.
//!
//! Every (backend, op kind) is timed over log-spaced sizes: the median of
//! several batches, each long enough (≥ 2 ms) to swamp timer resolution. A
//! backend stops growing a curve once one measurement passes the time budget,
//! so the slow scalar code does not dominate the run. GPU times are taken on
//! resident data (the transfers are measured separately as bandwidths); a
//! software adapter is not measured, since it counts as no GPU.

use std::time::{Duration, Instant};

use trueno::gpu::{GpuContext, GpuTensor};
use trueno::{Backend, Op, OpKind, TruenoError, ops};

use super::profile::{Curve, GpuProfile, PROFILE_VERSION, Profile};

/// How thorough to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Fewer sizes and samples: seconds instead of a minute.
    pub quick: bool,
}

/// A curve stops growing once its next size is predicted (by linear scaling
/// from the last one) to take longer than this.
const BUDGET: Duration = Duration::from_millis(500);

/// An op of `kind` at size step `s`: elements 4^s·256, softmax 4^s rows of
/// 512, matvec and matmul square with side 2^s·16.
pub fn op_at(kind: OpKind, s: u32) -> Op {
    let side = 16usize << s;
    match kind {
        OpKind::Add | OpKind::Mul | OpKind::Relu => Op::Elementwise {
            kind,
            len: 256 << (2 * s),
        },
        OpKind::Softmax => Op::softmax(1 << (2 * s), 512),
        OpKind::Matvec => Op::matvec(side, side),
        OpKind::Matmul => Op::matmul(side, side, side),
    }
}

/// Size steps of the calibration grid for a kind.
pub fn steps(kind: OpKind, quick: bool) -> Vec<u32> {
    let last = match kind {
        OpKind::Add | OpKind::Mul | OpKind::Relu => 8,
        OpKind::Softmax => 7,
        OpKind::Matvec => 8,
        OpKind::Matmul => 7,
    };
    (0..=last).filter(|s| !quick || s % 2 == 0).collect()
}

/// The GPU worth calibrating: a hardware adapter, if one opens.
pub fn hardware_gpu() -> Option<&'static GpuContext> {
    GpuContext::shared().ok().filter(|g| !g.is_software())
}

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// [`time_median`] of a fallible `f`: the first error stops the timing
/// (later calls are skipped) and is returned, so a device lost mid-way is an
/// error to report, not a panic.
pub fn try_time_median<E>(
    samples: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<Duration, E> {
    let mut failed = None;
    let took = time_median(samples, || {
        if failed.is_none()
            && let Err(e) = f()
        {
            failed = Some(e);
        }
    });
    failed.map_or(Ok(took), Err)
}

/// Median time of one run of `f`, batches long enough to time well.
pub fn time_median(samples: usize, mut f: impl FnMut()) -> Duration {
    f();
    let t = Instant::now();
    f();
    let one = t.elapsed().max(Duration::from_nanos(50));
    let reps = (Duration::from_millis(2).as_secs_f64() / one.as_secs_f64())
        .ceil()
        .clamp(1.0, 10_000.0) as u32;
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

/// Host buffers for an op: inputs and an output of the right sizes.
struct HostOp {
    a: Vec<f32>,
    b: Vec<f32>,
    out: Vec<f32>,
}

fn host_buffers(op: &Op) -> HostOp {
    let (a, b, out) = match *op {
        Op::Elementwise { len, .. } => (len, len, len),
        Op::Softmax { rows, cols } => (rows * cols, 0, rows * cols),
        Op::Matvec { m, n } => (m * n, n, m),
        Op::Matmul { m, k, n } => (m * k, k * n, m * n),
    };
    HostOp {
        a: data(a),
        b: data(b),
        out: vec![0.0; out],
    }
}

/// Runs `op` once on a CPU backend over host buffers.
fn run_cpu(backend: Backend, op: &Op, h: &mut HostOp) -> Result<(), TruenoError> {
    match *op {
        Op::Elementwise {
            kind: OpKind::Add, ..
        } => ops::add(backend, &h.a, &h.b, &mut h.out),
        Op::Elementwise {
            kind: OpKind::Mul, ..
        } => ops::mul(backend, &h.a, &h.b, &mut h.out),
        Op::Elementwise { .. } => ops::relu(backend, &h.a, &mut h.out),
        Op::Softmax { cols, .. } => ops::softmax_rows(backend, &h.a, cols, &mut h.out),
        Op::Matvec { m, n } => ops::matvec(backend, &h.a, m, n, &h.b, &mut h.out),
        Op::Matmul { m, k, n } => ops::matmul(backend, &h.a, &h.b, &mut h.out, m, k, n),
    }
}

/// Queues `op` on device tensors; the result stays on the device.
fn run_gpu(
    g: &GpuContext,
    op: &Op,
    a: &GpuTensor,
    b: &GpuTensor,
) -> Result<GpuTensor, TruenoError> {
    match *op {
        Op::Elementwise {
            kind: OpKind::Add, ..
        } => g.add(a, b),
        Op::Elementwise {
            kind: OpKind::Mul, ..
        } => g.mul(a, b),
        Op::Elementwise { .. } => g.relu(a),
        Op::Softmax { cols, .. } => g.softmax_rows(a, cols),
        Op::Matvec { m, n } => g.matvec(a, m, n, b),
        Op::Matmul { m, k, n } => g.matmul(a, b, m, k, n),
    }
}

/// Time of `op` on `backend`: CPU on host data; GPU on resident data, or with
/// `with_transfers` uploading inputs and downloading the output each time.
pub fn measure(
    backend: Backend,
    op: &Op,
    samples: usize,
    with_transfers: bool,
) -> Result<Duration, TruenoError> {
    let mut h = host_buffers(op);
    match backend {
        Backend::Scalar | Backend::Simd => {
            run_cpu(backend, op, &mut h)?;
            try_time_median(samples, || run_cpu(backend, op, &mut h))
        }
        Backend::Gpu => {
            let g = hardware_gpu().ok_or(trueno::gpu::GpuError::NoAdapter)?;
            warm_up(g)?;
            if with_transfers {
                let inputs: Vec<&[f32]> = if h.b.is_empty() {
                    vec![&h.a]
                } else {
                    vec![&h.a, &h.b]
                };
                let once = || {
                    g.run_host(&inputs, |g, t| {
                        run_gpu(g, op, &t[0], t.get(1).unwrap_or(&t[0]))
                    })
                    .map(|r| r.1.total())
                };
                let mut v = (0..samples)
                    .map(|_| once())
                    .collect::<Result<Vec<_>, _>>()?;
                v.sort();
                return Ok(v[v.len() / 2]);
            }
            let (a, b) = (g.upload(&h.a)?, g.upload(&h.b)?);
            drop(run_gpu(g, op, &a, &b)?);
            g.sync()?;
            let batch = |n: u32| -> Result<Duration, TruenoError> {
                let t = Instant::now();
                for _ in 0..n {
                    drop(run_gpu(g, op, &a, &b)?);
                }
                g.sync()?;
                Ok(t.elapsed() / n)
            };
            let one = batch(1)?;
            let n = (Duration::from_millis(2).as_secs_f64() / one.as_secs_f64().max(1e-7))
                .ceil()
                .clamp(1.0, 200.0) as u32;
            let mut v = (0..samples)
                .map(|_| batch(n))
                .collect::<Result<Vec<_>, _>>()?;
            v.sort();
            Ok(v[v.len() / 2])
        }
    }
}

/// Keeps the GPU busy for a moment before a measurement: an idle GPU drops to
/// low clocks (an H100 idles near a sixth of its boost clock) and short timed
/// bursts would otherwise catch it before it ramps up. Measured here: 2048³
/// sgemm timed at 4.1 TFLOP/s cold and 24 TFLOP/s warm.
fn warm_up(g: &GpuContext) -> Result<(), TruenoError> {
    const SIDE: usize = 512;
    let a = g.upload(&data(SIDE * SIDE))?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(60) {
        for _ in 0..8 {
            drop(g.matmul(&a, &a, SIDE, SIDE, SIDE)?);
        }
        g.sync()?;
    }
    Ok(())
}

/// One measured point, for plots and reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The backend.
    pub backend: Backend,
    /// The op.
    pub op: Op,
    /// Its median time.
    pub time: Duration,
}

fn gbs(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

/// Measures this machine. `progress(done, total, what)` is called before each
/// measurement.
pub fn calibrate(
    opts: Options,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<(Profile, Vec<Sample>), TruenoError> {
    let samples = if opts.quick { 3 } else { 5 };
    let gpu = hardware_gpu();
    let backends: Vec<Backend> = [Backend::Scalar, Backend::Simd]
        .into_iter()
        .chain(gpu.map(|_| Backend::Gpu))
        .collect();
    let total = 2
        + usize::from(gpu.is_some())
        + OpKind::ALL
            .iter()
            .map(|k| steps(*k, opts.quick).len())
            .sum::<usize>()
            * backends.len();
    let mut done = 0;

    progress(done, total, "host memory bandwidth");
    let n = 16 << 20;
    let bw = gbs(12 * n, measure(Backend::Simd, &Op::add(n), samples, false)?);
    done += 1;
    let gpu_profile = match gpu {
        None => None,
        Some(g) => {
            progress(done, total, "GPU transfers and dispatch latency");
            let host = data(16 << 20);
            let up = try_time_median(samples, || {
                let t = g.upload(&host)?;
                g.sync()?;
                drop(t);
                Ok::<_, trueno::gpu::GpuError>(())
            })?;
            let dev = g.upload(&host)?;
            let down = try_time_median(samples, || g.download(&dev).map(drop))?;
            let one = g.upload(&[1.0])?;
            let dispatch = try_time_median(samples, || {
                drop(g.add(&one, &one)?);
                g.sync().map_err(TruenoError::from)
            })?;
            done += 1;
            Some(GpuProfile {
                adapter: g.adapter_name().to_owned(),
                dispatch_us: dispatch.as_secs_f64() * 1e6,
                h2d_gbs: gbs(4 * host.len(), up),
                d2h_gbs: gbs(4 * host.len(), down),
            })
        }
    };
    let machine = format!(
        "{}, simd {:?}, {}",
        std::env::consts::ARCH,
        trueno::simd::level(),
        gpu.map_or("no hardware GPU".to_owned(), |g| format!(
            "GPU {}",
            g.adapter_name()
        ))
    );
    let mut profile = Profile {
        format_version: PROFILE_VERSION,
        machine,
        host_bandwidth_gbs: bw,
        gpu: gpu_profile,
        ops: Default::default(),
    };
    let mut all = Vec::new();
    for kind in OpKind::ALL {
        for &backend in &backends {
            let mut curve = Curve::default();
            let mut last: Option<(f64, Duration)> = None;
            for s in steps(kind, opts.quick) {
                let op = op_at(kind, s);
                progress(
                    done,
                    total,
                    &format!("{kind} on {backend}, {} FLOP", op.flops()),
                );
                done += 1;
                let work = op.flops() as f64;
                if last.is_some_and(|(w, t)| t.mul_f64(work / w) > BUDGET) {
                    continue;
                }
                let t = measure(backend, &op, samples, false)?;
                last = Some((work, t));
                curve.work.push(work);
                curve.seconds.push(t.as_secs_f64().max(1e-9));
                all.push(Sample {
                    backend,
                    op,
                    time: t,
                });
            }
            profile.set_curve(backend, kind, curve);
        }
    }
    progress(total, total, "done");
    Ok((profile, all))
}
