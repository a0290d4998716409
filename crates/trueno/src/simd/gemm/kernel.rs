//! The micro-kernels the blocked product calls, per ISA level: one that reads
//! A from a packed panel, and those that read R whole rows of A in place.

use crate::simd::Level;

/// `(kc, a, lda, b, ldb, c, ldc, alpha, beta, rows, cols)`: see `avx512::gemm_kernel`.
pub(super) type KernelFn =
    unsafe fn(usize, *const f32, usize, *const f32, usize, *mut f32, usize, f32, f32, usize, usize);

#[derive(Clone, Copy)]
pub(super) struct Kernel {
    pub(super) mr: usize,
    pub(super) nr: usize,
    /// A from a packed panel.
    pub(super) f: KernelFn,
    /// Kernels that read A in place from R whole rows, largest R first
    /// (empty where the ISA has none).
    pub(super) direct: &'static [(usize, KernelFn)],
    /// The first of `direct` that can also read B in place (`f` always can):
    /// the in-place-B kernels are the tail of `direct`.
    pub(super) direct_b_from: usize,
}

impl Kernel {
    /// The kernels of `direct` that can also read B in place.
    pub(super) fn direct_b(&self) -> &'static [(usize, KernelFn)] {
        &self.direct[self.direct_b_from..]
    }
}

pub(super) fn kernel_for(level: Level) -> Kernel {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => Kernel {
            mr: crate::simd::avx512::MR,
            nr: crate::simd::avx512::NR,
            f: crate::simd::avx512::gemm_kernel::<false, { crate::simd::avx512::MR }>,
            direct: &[
                (12, crate::simd::avx512::gemm_kernel::<true, 12>),
                (8, crate::simd::avx512::gemm_kernel::<true, 8>),
                (4, crate::simd::avx512::gemm_kernel::<true, 4>),
            ],
            // No 12-row kernel reads B in place (see `avx512_asm`).
            direct_b_from: 1,
        },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => Kernel {
            mr: crate::simd::avx2::MR,
            nr: crate::simd::avx2::NR,
            f: crate::simd::avx2::gemm_kernel::<false, { crate::simd::avx2::MR }>,
            direct: &[
                (6, crate::simd::avx2::gemm_kernel::<true, 6>),
                (4, crate::simd::avx2::gemm_kernel::<true, 4>),
            ],
            direct_b_from: 0,
        },
        _ => Kernel {
            mr: PORTABLE_MR,
            nr: PORTABLE_NR,
            f: portable_kernel,
            direct: &[],
            direct_b_from: 0,
        },
    }
}

const PORTABLE_MR: usize = 4;
const PORTABLE_NR: usize = 8;

/// The micro-kernel in plain Rust, for CPUs without a vector kernel.
///
/// # Safety
/// As `avx512::gemm_kernel`, with MR = 4, NR = 8.
#[allow(clippy::too_many_arguments)]
unsafe fn portable_kernel(
    kc: usize,
    a: *const f32,
    _lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
    rows: usize,
    cols: usize,
) {
    let mut acc = [[0.0f32; PORTABLE_NR]; PORTABLE_MR];
    for p in 0..kc {
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: p < kc, inside A's packed panel (caller contract).
            let ai = unsafe { *a.add(p * PORTABLE_MR + i) };
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: row p < kc of B's NR columns at stride ldb (caller contract).
                *v = ai.mul_add(unsafe { *b.add(p * ldb + j) }, *v);
            }
        }
    }
    for (i, row) in acc.iter().enumerate().take(rows) {
        for (j, v) in row.iter().enumerate().take(cols) {
            // SAFETY: i < rows, j < cols (caller contract).
            unsafe {
                let dst = c.add(i * ldc + j);
                let old = if beta == 0.0 { 0.0 } else { beta * *dst };
                *dst = alpha * v + old;
            }
        }
    }
}
