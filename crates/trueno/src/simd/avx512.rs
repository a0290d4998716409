//! AVX-512F kernels (16 f32 lanes): the primitives the shared vector kernels
//! are built from (see `kernels.rs`), and the 12 × 32 GEMM micro-kernel.
//! Callers guarantee the CPU has AVX-512F (see `super::level`).

use std::arch::x86_64::*;

type V = __m512;
const LANES: usize = 16;

#[target_feature(enable = "avx512f")]
#[inline]
fn vsplat(v: f32) -> V {
    _mm512_set1_ps(v)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vload(x: &[f32]) -> V {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted); loadu needs no alignment.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vstore(x: &mut [f32], v: V) {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted).
    unsafe { _mm512_storeu_ps(x.as_mut_ptr(), v) }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vadd(a: V, b: V) -> V {
    _mm512_add_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vsub(a: V, b: V) -> V {
    _mm512_sub_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vmul(a: V, b: V) -> V {
    _mm512_mul_ps(a, b)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn vdiv(a: V, b: V) -> V {
    _mm512_div_ps(a, b)
}

/// `a · b + c`
#[target_feature(enable = "avx512f")]
#[inline]
fn vfma(a: V, b: V, c: V) -> V {
    _mm512_fmadd_ps(a, b, c)
}

/// Lane-wise maximum that returns NaN where either input is NaN.
#[target_feature(enable = "avx512f")]
#[inline]
fn vmax(a: V, b: V) -> V {
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
    _mm512_mask_blend_ps(nan, _mm512_max_ps(a, b), _mm512_add_ps(a, b))
}

/// `max(v, 0)`, NaN kept.
#[target_feature(enable = "avx512f")]
#[inline]
fn relu_v(v: V) -> V {
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
    _mm512_mask_blend_ps(nan, _mm512_max_ps(v, _mm512_setzero_ps()), v)
}

/// `e^v`, as the AVX2 `exp_v` (see there for the method and its range).
#[target_feature(enable = "avx512f")]
#[inline]
fn exp_v(v: V) -> V {
    let x = _mm512_max_ps(
        _mm512_set1_ps(-87.3),
        _mm512_min_ps(_mm512_set1_ps(88.7), v),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let pow2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_cvtps_epi32(n),
        _mm512_set1_epi32(127),
    )));
    let y = _mm512_mul_ps(p, pow2);
    let y = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_set1_ps(-87.3)),
        y,
        _mm512_setzero_ps(),
    );
    let y = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_set1_ps(88.72)),
        y,
        _mm512_set1_ps(f32::INFINITY),
    );
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v), y, v)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn hsum(v: V) -> f32 {
    _mm512_reduce_add_ps(v)
}

#[target_feature(enable = "avx512f")]
#[inline]
fn hmax(v: V) -> f32 {
    let mut lanes = [0.0f32; LANES];
    vstore(&mut lanes, v);
    crate::scalar::max(&lanes)
}

vector_kernels!("avx512f");

/// Rows of the GEMM micro-tile (broadcast from packed A).
pub(crate) const MR: usize = 12;
/// Columns of the GEMM micro-tile (two zmm vectors of packed B).
pub(crate) const NR: usize = 32;

/// `C[..rows, ..cols] = alpha · Ã·B̃ + beta · C` for one micro-tile: `b` is a
/// packed `kc × NR` panel (`ldb == NR`) or NR columns of row-major B read in
/// place at stride `ldb` (a small B that stays in L1; not with 12 rows of A
/// in place); `a` a packed `kc × MR` panel (`R = MR`), or with
/// `DIRECT` the first of `R ≤ MR` rows of row-major A at stride `lda` (no
/// packing: a forward pass's activations are read in place; `R` of 8 and 4
/// fit a share of rows that is not a multiple of MR). Up to 24 accumulators
/// stay in registers for the whole k loop. With `beta == 0`, C is not read.
///
/// # Safety
/// AVX-512F must be available; `b` must hold `kc` rows of NR values at stride
/// `ldb` (`kc·NR` values when packed) and `a` `kc·MR`
/// (packed) or R rows of `kc` values at stride `lda` (direct, even when
/// `rows < R`); `c` must be valid for writes (and reads unless `beta == 0`) of
/// `rows` rows of `cols` values at stride `ldc`, with `rows ≤ R`, `cols ≤ NR`.
#[target_feature(enable = "avx512f")]
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
    // The k loops are assembly (`avx512_asm`): 12, 8 or 4 rows in place, 12 packed.
    const {
        assert!(if DIRECT {
            R == 12 || R == 8 || R == 4
        } else {
            R == MR
        })
    };
    use super::avx512_asm as k;
    // SAFETY: R rows of kc values at stride lda, or a packed kc × 12 panel,
    // and kc rows of 32 values of B at stride ldb (caller contract); AVX-512F
    // is enabled on this function.
    let full = unsafe {
        match (DIRECT, R, ldb == NR) {
            (true, 12, true) => k::direct12(kc, a, lda, b),
            (true, 8, true) => k::direct8(kc, a, lda, b),
            (true, _, true) => k::direct4(kc, a, lda, b),
            (false, _, true) => k::packed12(kc, a, b),
            (true, 12, false) => unreachable!("no 12-row kernel reads B in place"),
            (true, 8, false) => k::direct8_b(kc, a, lda, b, ldb),
            (true, _, false) => k::direct4_b(kc, a, lda, b, ldb),
            (false, _, false) => k::packed12_b(kc, a, b, ldb),
        }
    };
    let acc = &full[..R];
    let va = _mm512_set1_ps(alpha);
    if rows == R && cols == NR {
        let vb = _mm512_set1_ps(beta);
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: a full tile: row i < MR = rows, 32 columns = cols (caller contract).
            unsafe {
                let ci = c.add(i * ldc);
                for (h, v) in row.iter().enumerate() {
                    let dst = ci.add(16 * h);
                    let out = if beta == 0.0 {
                        _mm512_mul_ps(va, *v)
                    } else {
                        _mm512_fmadd_ps(va, *v, _mm512_mul_ps(vb, _mm512_loadu_ps(dst)))
                    };
                    _mm512_storeu_ps(dst, out);
                }
            }
        }
        return;
    }
    let mut tile = [0.0f32; MR * NR];
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the stack tile holds MR rows of NR values.
        unsafe {
            _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
            _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR + 16), row[1]);
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

/// Packs `panels` whole 32-column panels of row-major B: row `p` of panel
/// `q` (`b + p·ldb + 32q`) goes to `out + (q·kc + p)·32`, one row of B at a
/// time (sequential reads).
///
/// # Safety
/// AVX-512F must be available; `b` must be valid for reads of `kc` rows of
/// `32·panels` values at stride `ldb`, `out` for writes of `panels·kc·32`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pack_b32(out: *mut f32, b: *const f32, ldb: usize, kc: usize, panels: usize) {
    for p in 0..kc {
        for q in 0..panels {
            // SAFETY: row p < kc, columns 32q..32q + 32 with q < panels, and
            // the destination row inside panel q (caller contract).
            unsafe {
                let src = b.add(p * ldb + q * NR);
                let dst = out.add((q * kc + p) * NR);
                _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
                _mm512_storeu_ps(dst.add(16), _mm512_loadu_ps(src.add(16)));
            }
        }
    }
}

/// Packs 12 rows of A (`a + i·lda + p`, `p < kc`) into a `kc × 12` panel at
/// `out` (`out + p·12 + i`): one masked gather and one masked store per k
/// column, where element-wise copying spent a cycle per value.
///
/// # Safety
/// AVX-512F must be available; `a` must be valid for reads of 12 rows of `kc`
/// values at stride `lda`, with `11·lda` within `i32`; `out` for `12·kc` writes.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pack_a12(out: *mut f32, a: *const f32, lda: usize, kc: usize) {
    const ROWS: __mmask16 = (1 << MR) - 1;
    let l = lda as i32;
    let offsets = _mm512_setr_epi32(
        0,
        l,
        2 * l,
        3 * l,
        4 * l,
        5 * l,
        6 * l,
        7 * l,
        8 * l,
        9 * l,
        10 * l,
        11 * l,
        0,
        0,
        0,
        0,
    );
    for p in 0..kc {
        // SAFETY: lanes 0..12 read a + i·lda + p (i < 12, p < kc) and write
        // out + p·12 + i, inside both extents (caller contract); lanes 12..16
        // are masked off.
        unsafe {
            let column =
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), ROWS, offsets, a.add(p));
            _mm512_mask_storeu_ps(out.add(p * MR), ROWS, column);
        }
    }
}
