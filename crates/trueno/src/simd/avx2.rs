//! AVX2 + FMA kernels (8 f32 lanes). Callers guarantee both features are
//! present (see `super::level`) and that slice lengths agree.

use std::arch::x86_64::*;

const LANES: usize = 8;

macro_rules! binary_kernel {
    ($name:ident, $vop:ident, $sop:tt) => {
        #[target_feature(enable = "avx2,fma")]
        pub(super) fn $name(a: &[f32], b: &[f32], out: &mut [f32]) {
            let n = out.len();
            let body = n - n % LANES;
            let (pa, pb, po) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
            let mut i = 0;
            while i < body {
                // SAFETY: i + 8 <= body <= n, and a, b, out all hold n elements
                // (asserted by the caller); unaligned loads/stores are used.
                unsafe {
                    let v = $vop(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                    _mm256_storeu_ps(po.add(i), v);
                }
                i += LANES;
            }
            for j in body..n {
                out[j] = a[j] $sop b[j];
            }
        }
    };
}

binary_kernel!(add, _mm256_add_ps, +);
binary_kernel!(mul, _mm256_mul_ps, *);

#[target_feature(enable = "avx2,fma")]
pub(super) fn relu(x: &[f32], out: &mut [f32]) {
    let n = out.len();
    let body = n - n % LANES;
    let zero = _mm256_setzero_ps();
    let mut i = 0;
    while i < body {
        // SAFETY: i + 8 <= n and both slices hold n elements.
        unsafe {
            let v = _mm256_loadu_ps(x.as_ptr().add(i));
            // max(v, 0) returns the second operand when v is NaN; blend NaN back
            // so the SIMD kernel keeps the scalar contract (NaN propagates).
            let m = _mm256_max_ps(v, zero);
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
            _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_blendv_ps(m, v, nan));
        }
        i += LANES;
    }
    crate::scalar::relu(&x[body..], &mut out[body..]);
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn sum(a: &[f32]) -> f32 {
    // Two halves at once: two memory streams keep more loads in flight than
    // one (measured: a single stream reached 0.86 of triad bandwidth at 16M).
    let half = (a.len() / 2) - (a.len() / 2) % (2 * LANES);
    let (x, y) = (a.as_ptr(), a[half..].as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i < half {
        // SAFETY: i + 16 <= half, so x + i.. and y + i.. (y = a + half, and
        // half + i + 16 <= 2·half <= len) stay inside `a`.
        unsafe {
            acc[0] = _mm256_add_ps(acc[0], _mm256_loadu_ps(x.add(i)));
            acc[1] = _mm256_add_ps(acc[1], _mm256_loadu_ps(x.add(i + LANES)));
            acc[2] = _mm256_add_ps(acc[2], _mm256_loadu_ps(y.add(i)));
            acc[3] = _mm256_add_ps(acc[3], _mm256_loadu_ps(y.add(i + LANES)));
        }
        i += 2 * LANES;
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    hsum(v) + a[2 * half..].iter().sum::<f32>()
}

#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // Four accumulators hide the FMA latency (4 cycles, 2 per cycle on Zen/Intel).
    let mut acc = [_mm256_setzero_ps(); 4];
    let body = n - n % (4 * LANES);
    let mut i = 0;
    while i < body {
        for (u, acc_u) in acc.iter_mut().enumerate() {
            // SAFETY: i + 32 <= body <= n and both slices hold n elements.
            unsafe {
                let off = i + u * LANES;
                *acc_u = _mm256_fmadd_ps(
                    _mm256_loadu_ps(pa.add(off)),
                    _mm256_loadu_ps(pb.add(off)),
                    *acc_u,
                );
            }
        }
        i += 4 * LANES;
    }
    while i + LANES <= n {
        // SAFETY: i + 8 <= n.
        unsafe {
            acc[0] = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
                acc[0],
            );
        }
        i += LANES;
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    hsum(v) + crate::scalar::dot(&a[i..], &b[i..])
}

/// Rows of the AVX2 GEMM micro-tile.
pub(super) const MR: usize = 6;
/// Columns of the AVX2 GEMM micro-tile (two ymm vectors).
pub(super) const NR: usize = 16;

/// The AVX2 counterpart of `avx512::gemm_kernel`: a 6 × 16 tile in 12 ymm
/// accumulators (AVX2 has 16 registers; more accumulators would spill).
///
/// # Safety
/// As `avx512::gemm_kernel`, with AVX2 and FMA available and MR = 6, NR = 16.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
    rows: usize,
    cols: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for p in 0..kc {
        // SAFETY: p < kc, inside the packed panels (caller contract).
        unsafe {
            let b0 = _mm256_loadu_ps(b.add(p * NR));
            let b1 = _mm256_loadu_ps(b.add(p * NR + 8));
            let ap = a.add(p * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    let va = _mm256_set1_ps(alpha);
    if rows == MR && cols == NR {
        let vb = _mm256_set1_ps(beta);
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: a full tile (caller contract).
            unsafe {
                let ci = c.add(i * ldc);
                for (h, v) in row.iter().enumerate() {
                    let dst = ci.add(8 * h);
                    let out = if beta == 0.0 {
                        _mm256_mul_ps(va, *v)
                    } else {
                        _mm256_fmadd_ps(va, *v, _mm256_mul_ps(vb, _mm256_loadu_ps(dst)))
                    };
                    _mm256_storeu_ps(dst, out);
                }
            }
        }
        return;
    }
    let mut tile = [0.0f32; MR * NR];
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the stack tile holds MR rows of NR values.
        unsafe {
            _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
            _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR + 8), row[1]);
        }
    }
    for i in 0..rows {
        for j in 0..cols {
            // SAFETY: i < rows and j < cols (caller contract).
            unsafe {
                let dst = c.add(i * ldc + j);
                let old = if beta == 0.0 { 0.0 } else { beta * *dst };
                *dst = alpha * tile[i * NR + j] + old;
            }
        }
    }
}
