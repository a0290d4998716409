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

/// `c_row += alpha * b_row`, the inner step of the row-by-row product.
#[target_feature(enable = "avx2,fma")]
fn axpy(alpha: f32, b: &[f32], c: &mut [f32]) {
    let n = c.len();
    let body = n - n % LANES;
    let va = _mm256_set1_ps(alpha);
    let mut j = 0;
    while j < body {
        // SAFETY: j + 8 <= n; b and c both hold n elements (caller slices them).
        unsafe {
            let pc = c.as_mut_ptr().add(j);
            _mm256_storeu_ps(
                pc,
                _mm256_fmadd_ps(va, _mm256_loadu_ps(b.as_ptr().add(j)), _mm256_loadu_ps(pc)),
            );
        }
        j += LANES;
    }
    for t in body..n {
        c[t] = alpha.mul_add(b[t], c[t]);
    }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    if n == 0 {
        return;
    }
    for (i, crow) in c.chunks_exact_mut(n).enumerate().take(m) {
        crow.fill(0.0);
        for p in 0..k {
            axpy(a[i * k + p], &b[p * n..(p + 1) * n], crow);
        }
    }
}
