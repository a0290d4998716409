//! AVX-512F kernels (16 f32 lanes). Callers guarantee the CPU has AVX-512F
//! (see `super::level`).

use std::arch::x86_64::*;

/// Rows of the GEMM micro-tile (broadcast from packed A).
pub(super) const MR: usize = 12;
/// Columns of the GEMM micro-tile (two zmm vectors of packed B).
pub(super) const NR: usize = 32;

/// `C[..rows, ..cols] = alpha · Ã·B̃ + beta · C` for one micro-tile: `a` is a
/// packed `kc × MR` panel, `b` a packed `kc × NR` panel. 24 accumulators stay
/// in registers for the whole k loop. With `beta == 0`, C is not read.
///
/// # Safety
/// AVX-512F must be available; `a` and `b` must hold `kc·MR` and `kc·NR`
/// values; `c` must be valid for writes (and reads unless `beta == 0`) of
/// `rows` rows of `cols` values at stride `ldc`, with `rows ≤ MR`, `cols ≤ NR`.
#[target_feature(enable = "avx512f")]
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
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..kc {
        // SAFETY: p < kc, so the NR values at b + p·NR and the MR values at
        // a + p·MR lie inside the packed panels (caller contract).
        unsafe {
            let b0 = _mm512_loadu_ps(b.add(p * NR));
            let b1 = _mm512_loadu_ps(b.add(p * NR + 16));
            let ap = a.add(p * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    let va = _mm512_set1_ps(alpha);
    if rows == MR && cols == NR {
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
