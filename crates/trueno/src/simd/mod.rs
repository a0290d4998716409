//! SIMD kernels, with the instruction set chosen once at run time.
//!
//! [`level()`] detects the CPU's features on first use and caches the answer;
//! each public kernel here matches on that cached level, so detection never runs
//! inside a loop. CPUs without a supported instruction set run the scalar code.
//! Softmax has no vector kernel yet (it needs a vectorised `exp`) and runs the
//! scalar one on every level.

use std::sync::OnceLock;

use crate::scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod gemm;

/// The instruction set the SIMD backend uses on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// x86-64 AVX-512F (with AVX2 and FMA): 16 f32 lanes. The GEMM uses its
    /// own micro-kernel; the other kernels use the AVX2 ones.
    Avx512,
    /// x86-64 AVX2 with FMA: 8 f32 lanes.
    Avx2Fma,
    /// No supported vector extension: the scalar kernels run.
    Scalar,
}

/// The level detected for this process (detected once, then cached).
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

fn detect() -> Level {
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

/// Runs `$avx2` when AVX2+FMA was detected, `$fallback` otherwise.
macro_rules! dispatch {
    ($avx2:expr, $fallback:expr) => {
        match level() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `level()` returns Avx512 or Avx2Fma only after detecting
            // AVX2 and FMA on this CPU, which is all the avx2 kernels require.
            Level::Avx512 | Level::Avx2Fma => unsafe { $avx2 },
            _ => $fallback,
        }
    };
}

/// `out[i] = a[i] + b[i]`; all three slices must have the same length.
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
    assert!(a.len() == out.len() && b.len() == out.len());
    dispatch!(avx2::add(a, b, out), scalar::add(a, b, out))
}

/// `out[i] = a[i] * b[i]`; all three slices must have the same length.
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    assert!(a.len() == out.len() && b.len() == out.len());
    dispatch!(avx2::mul(a, b, out), scalar::mul(a, b, out))
}

/// `out[i] = max(x[i], 0)`, NaN preserved; slices of equal length.
pub fn relu(x: &[f32], out: &mut [f32]) {
    assert!(x.len() == out.len());
    dispatch!(avx2::relu(x, out), scalar::relu(x, out))
}

/// Dot product of equal-length slices.
///
/// Sums in 32 independent lanes, then pairwise: the result differs from the
/// sequential reference by at most about `len · ε · Σ|aᵢbᵢ|` (ε = 2⁻²⁴), and is
/// usually far closer because each lane's partial sum is short.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert!(a.len() == b.len());
    dispatch!(avx2::dot(a, b), scalar::dot(a, b))
}

/// Sum of all elements, in 32 lanes then pairwise (error bound as for [`dot`]).
pub fn sum(a: &[f32]) -> f32 {
    dispatch!(avx2::sum(a), a.iter().sum())
}

/// `y = A x` for row-major `A` of `m × n`.
pub fn matvec(a: &[f32], m: usize, n: usize, x: &[f32], y: &mut [f32]) {
    assert!(a.len() == m * n && x.len() == n && y.len() == m);
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = dot(&a[i * n..(i + 1) * n], x);
    }
}

/// `C = A B` for row-major `A (m×k)`, `B (k×n)`, `C (m×n)`: the packed,
/// multi-threaded [`gemm::sgemm`].
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    use gemm::Transpose::No;
    gemm::sgemm(No, No, m, n, k, 1.0, a, k.max(1), b, n, 0.0, c, n)
}

/// Row-wise softmax; the scalar kernel on every level (see the module doc).
pub fn softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    scalar::softmax_rows(x, cols, out)
}
