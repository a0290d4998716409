//! SIMD kernels, with the instruction set chosen once at run time.
//!
//! [`level()`] detects the CPU's features on first use and caches the answer;
//! each public kernel here matches on that cached level, so detection never runs
//! inside a loop. The kernels are written once (`kernels.rs`) over per-ISA
//! primitives in `avx512.rs`, `avx2.rs` and `neon.rs`; CPUs without a
//! supported instruction set run the scalar code. `TRUENO_SIMD=avx2` pins the
//! AVX2 kernels on an AVX-512 machine.

use std::sync::OnceLock;

use crate::scalar;

pub use seq::{attention, gather_add_rows, l2_normalize_rows, segment_pool};

#[macro_use]
mod kernels;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512_asm;
pub mod gemm;
#[cfg(target_arch = "aarch64")]
mod neon;
mod seq;

/// The instruction set the SIMD backend uses on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// x86-64 AVX-512F: 16 f32 lanes.
    Avx512,
    /// x86-64 AVX2 with FMA: 8 f32 lanes.
    Avx2Fma,
    /// aarch64 NEON: 4 f32 lanes (GEMM uses the portable micro-kernel).
    Neon,
    /// No supported vector extension: the scalar kernels run.
    Scalar,
}

/// The level detected for this process (detected once, then cached).
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

#[allow(unreachable_code)]
fn detect() -> Level {
    #[cfg(target_arch = "aarch64")]
    {
        return Level::Neon;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // TRUENO_SIMD=avx2 pins the AVX2 kernels (for tests and comparisons).
        let pinned = std::env::var("TRUENO_SIMD").is_ok_and(|v| v == "avx2");
        if std::arch::is_x86_feature_detected!("avx512f") && !pinned {
            return Level::Avx512;
        }
        return Level::Avx2Fma;
    }
    Level::Scalar
}

/// Runs the named kernel of the detected ISA module (`avx512`, `avx2`), or
/// `$fallback` on CPUs with neither (or `neon` on aarch64).
macro_rules! dispatch {
    ($kernel:ident($($arg:expr),*), $fallback:expr) => {
        match level() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `level()` returns Avx512 only after detecting AVX-512F.
            Level::Avx512 => unsafe { avx512::$kernel($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `level()` returns Avx2Fma only after detecting AVX2 and FMA.
            Level::Avx2Fma => unsafe { avx2::$kernel($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: NEON is part of the aarch64 baseline.
            Level::Neon => unsafe { neon::$kernel($($arg),*) },
            _ => $fallback,
        }
    };
}

/// Below this many elements a vector op runs on one thread: splitting costs
/// more than it saves. Above it, memory bandwidth grows with cores (figures in
/// docs/benchmarks.md, "CPU kernels").
const PAR_MIN: usize = 1 << 20;
/// Elements per parallel task.
const PAR_CHUNK: usize = 1 << 16;

fn parallel(len: usize) -> bool {
    len >= PAR_MIN && rayon::current_num_threads() > 1
}

/// Generates a checked public wrapper for an element-wise binary kernel.
macro_rules! public_binary {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(a: &[f32], b: &[f32], out: &mut [f32]) {
            assert!(a.len() == out.len() && b.len() == out.len(), concat!(stringify!($name), ": lengths differ"));
            let one = |a: &[f32], b: &[f32], out: &mut [f32]| dispatch!($name(a, b, out), scalar::$name(a, b, out));
            if parallel(out.len()) {
                use rayon::prelude::*;
                out.par_chunks_mut(PAR_CHUNK).zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK))).for_each(|(o, (x, y))| one(x, y, o));
            } else {
                one(a, b, out)
            }
        }
    };
}

/// Generates a checked public wrapper for an element-wise unary kernel.
macro_rules! public_unary {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(x: &[f32], out: &mut [f32]) {
            assert!(x.len() == out.len(), concat!(stringify!($name), ": lengths differ"));
            let one = |x: &[f32], out: &mut [f32]| dispatch!($name(x, out), scalar::$name(x, out));
            if parallel(out.len()) {
                use rayon::prelude::*;
                out.par_chunks_mut(PAR_CHUNK).zip(x.par_chunks(PAR_CHUNK)).for_each(|(o, v)| one(v, o));
            } else {
                one(x, out)
            }
        }
    };
}

/// Sums `f` over chunks in parallel for long inputs (chunk sums are added in
/// a tree, which keeps the documented error bound).
fn reduce_chunks(len: usize, f: impl Fn(std::ops::Range<usize>) -> f32 + Sync) -> f32 {
    if parallel(len) {
        use rayon::prelude::*;
        (0..len.div_ceil(PAR_CHUNK))
            .into_par_iter()
            .map(|c| f(c * PAR_CHUNK..((c + 1) * PAR_CHUNK).min(len)))
            .sum()
    } else {
        f(0..len)
    }
}

public_binary!(
    /// `out[i] = a[i] + b[i]`; all three slices of equal length.
    add
);
public_binary!(
    /// `out[i] = a[i] - b[i]`.
    sub
);
public_binary!(
    /// `out[i] = a[i] * b[i]`.
    mul
);
public_binary!(
    /// `out[i] = a[i] / b[i]`.
    div
);
public_unary!(
    /// `out[i] = max(x[i], 0)`, NaN preserved.
    relu
);
public_unary!(
    /// `out[i] = e^x[i]` (within 2 ulp; flushes to 0 below −87.3).
    exp
);
public_unary!(
    /// `out[i] = 1 / (1 + e^−x[i])`.
    sigmoid
);
public_unary!(
    /// `out[i] = tanh x[i]` (absolute error ≲ 1e-6).
    tanh
);
public_unary!(
    /// GELU, tanh form (see [`scalar::gelu`]).
    gelu
);

public_unary!(
    /// GELU, exact form (see [`scalar::gelu_erf`]; erf within 1.5e-7).
    gelu_erf
);

/// Layer normalisation of each row of `cols` values (see [`scalar::layer_norm_rows`]).
pub fn layer_norm_rows(
    x: &[f32],
    cols: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    assert!(
        cols > 0
            && x.len().is_multiple_of(cols)
            && out.len() == x.len()
            && gamma.len() == cols
            && beta.len() == cols,
        "layer_norm_rows: bad shape"
    );
    let one = |x: &[f32], out: &mut [f32]| {
        dispatch!(
            layer_norm_rows(x, cols, gamma, beta, eps, out),
            scalar::layer_norm_rows(x, cols, gamma, beta, eps, out)
        )
    };
    let rows_per_chunk = (PAR_CHUNK / cols).max(1);
    if parallel(out.len()) {
        use rayon::prelude::*;
        out.par_chunks_mut(rows_per_chunk * cols)
            .zip(x.par_chunks(rows_per_chunk * cols))
            .for_each(|(o, v)| one(v, o));
    } else {
        one(x, out)
    }
}

/// `out[i] = alpha * x[i]`.
pub fn scale(alpha: f32, x: &[f32], out: &mut [f32]) {
    assert!(x.len() == out.len(), "scale: lengths differ");
    dispatch!(scale(alpha, x, out), scalar::scale(alpha, x, out))
}

/// `y[i] += alpha * x[i]`.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    assert!(x.len() == y.len(), "axpy: lengths differ");
    dispatch!(axpy(alpha, x, y), scalar::axpy(alpha, x, y))
}

/// Dot product of equal-length slices.
///
/// Sums in `4·LANES` independent lanes, then pairwise: the result differs from
/// the sequential reference by at most about `len · ε · Σ|aᵢbᵢ|` (ε = 2⁻²⁴), and
/// is usually far closer because each lane's partial sum is short.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert!(a.len() == b.len(), "dot: lengths differ");
    reduce_chunks(a.len(), |r| {
        let (a, b) = (&a[r.clone()], &b[r]);
        dispatch!(dot(a, b), scalar::dot(a, b))
    })
}

/// Sum of all elements (error bound as for [`dot`], with Σ|aᵢ|).
pub fn sum(a: &[f32]) -> f32 {
    reduce_chunks(a.len(), |r| {
        let a = &a[r];
        dispatch!(sum(a), a.iter().sum())
    })
}

/// Largest element; NaN if any is NaN; −∞ when empty.
pub fn max(a: &[f32]) -> f32 {
    dispatch!(max(a), scalar::max(a))
}

/// Index of the first largest element (a NaN counts as largest); `None` when empty.
pub fn argmax(a: &[f32]) -> Option<usize> {
    let m = max(a);
    a.iter()
        .position(|&v| if m.is_nan() { v.is_nan() } else { v == m })
}

/// Euclidean norm. The squares are summed in f32 lanes (bound as for [`dot`]
/// with Σxᵢ²); inputs beyond ~1e19 in magnitude overflow, as in a naive sum.
pub fn l2_norm(a: &[f32]) -> f32 {
    reduce_chunks(a.len(), |r| {
        let a = &a[r];
        dispatch!(sumsq(a), a.iter().map(|v| v * v).sum::<f32>())
    })
    .sqrt()
}

/// Row-wise stable softmax (vector `exp`).
pub fn softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    assert!(
        x.len() == out.len() && (cols == 0 || x.len().is_multiple_of(cols)),
        "softmax_rows: bad shape"
    );
    if cols == 0 {
        return;
    }
    dispatch!(
        softmax_rows(x, cols, out),
        scalar::softmax_rows(x, cols, out)
    )
}

/// Row-wise stable log-softmax (vector `exp`).
pub fn log_softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    assert!(
        x.len() == out.len() && (cols == 0 || x.len().is_multiple_of(cols)),
        "log_softmax_rows: bad shape"
    );
    if cols == 0 {
        return;
    }
    dispatch!(
        log_softmax_rows(x, cols, out),
        scalar::log_softmax_rows(x, cols, out)
    )
}

/// `y = A x` for row-major `A` of `m × n` (rows in parallel when A is large).
pub fn matvec(a: &[f32], m: usize, n: usize, x: &[f32], y: &mut [f32]) {
    assert!(a.len() == m * n && x.len() == n && y.len() == m);
    if n == 0 {
        y.fill(0.0);
        return;
    }
    let row = |(i, yi): (usize, &mut f32)| {
        let r = &a[i * n..(i + 1) * n];
        *yi = dispatch!(dot(r, x), scalar::dot(r, x));
    };
    if parallel(m * n) {
        use rayon::prelude::*;
        y.par_iter_mut().enumerate().for_each(row);
    } else {
        y.iter_mut().enumerate().for_each(row);
    }
}

/// `C = A B` for row-major `A (m×k)`, `B (k×n)`, `C (m×n)`: the packed,
/// multi-threaded [`gemm::sgemm`].
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    use gemm::{MatMut, MatRef};
    gemm::sgemm(
        1.0,
        MatRef::new(a, m, k),
        MatRef::new(b, k, n),
        0.0,
        MatMut::new(c, m, n),
    )
}
