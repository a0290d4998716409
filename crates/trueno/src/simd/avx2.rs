//! AVX2 + FMA kernels (8 f32 lanes): the primitives the shared vector kernels
//! are built from (see `kernels.rs`), and the 6 × 16 GEMM micro-kernel.
//! Callers guarantee both features are present (see `super::level`).

use std::arch::x86_64::*;

type V = __m256;
const LANES: usize = 8;

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vsplat(v: f32) -> V {
    _mm256_set1_ps(v)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vload(x: &[f32]) -> V {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted); loadu needs no alignment.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vstore(x: &mut [f32], v: V) {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted).
    unsafe { _mm256_storeu_ps(x.as_mut_ptr(), v) }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vadd(a: V, b: V) -> V {
    _mm256_add_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vsub(a: V, b: V) -> V {
    _mm256_sub_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vmul(a: V, b: V) -> V {
    _mm256_mul_ps(a, b)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn vdiv(a: V, b: V) -> V {
    _mm256_div_ps(a, b)
}

/// `a · b + c`
#[target_feature(enable = "avx2,fma")]
#[inline]
fn vfma(a: V, b: V, c: V) -> V {
    _mm256_fmadd_ps(a, b, c)
}

/// Lane-wise maximum that returns NaN where either input is NaN.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn vmax(a: V, b: V) -> V {
    let m = _mm256_max_ps(a, b);
    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
    _mm256_blendv_ps(m, _mm256_add_ps(a, b), nan)
}

/// `max(v, 0)`, NaN kept.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn relu_v(v: V) -> V {
    // max(v, 0) returns 0 for a NaN v; blend NaN back (the scalar contract).
    let m = _mm256_max_ps(v, _mm256_setzero_ps());
    _mm256_blendv_ps(m, v, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v))
}

/// `e^v`: `2^n · p(r)` with `v = n·ln2 + r`, |r| ≤ ln2/2, `p` the degree-6
/// Taylor polynomial (truncation < 1.3e-7 relative). NaN propagates; below
/// −87.3 the result flushes to 0, above 88.72 it is +∞.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_v(v: V) -> V {
    let x = _mm256_max_ps(
        _mm256_set1_ps(-87.3),
        _mm256_min_ps(_mm256_set1_ps(88.7), v),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let pow2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    )));
    let y = _mm256_mul_ps(p, pow2);
    let y = _mm256_blendv_ps(
        y,
        _mm256_setzero_ps(),
        _mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_set1_ps(-87.3)),
    );
    let y = _mm256_blendv_ps(
        y,
        _mm256_set1_ps(f32::INFINITY),
        _mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_set1_ps(88.72)),
    );
    _mm256_blendv_ps(y, v, _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum(v: V) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn hmax(v: V) -> f32 {
    let mut lanes = [0.0f32; LANES];
    vstore(&mut lanes, v);
    crate::scalar::max(&lanes)
}

vector_kernels!("avx2,fma");

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
pub(super) unsafe fn gemm_kernel<const DIRECT: bool, const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
    rows: usize,
    cols: usize,
) {
    const { assert!(R <= MR && (DIRECT || R == MR)) };
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for p in 0..kc {
        // SAFETY: p < kc: inside B's kc rows at stride ldb, and A's value (i, p) at
        // a + i·lda + p (direct) or a + p·MR + i (packed) inside A (caller contract).
        unsafe {
            let b0 = _mm256_loadu_ps(b.add(p * ldb));
            let b1 = _mm256_loadu_ps(b.add(p * ldb + 8));
            for (i, row) in acc.iter_mut().enumerate() {
                let at = if DIRECT { i * lda + p } else { p * MR + i };
                let ai = _mm256_broadcast_ss(&*a.add(at));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    let va = _mm256_set1_ps(alpha);
    if rows == R && cols == NR {
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
