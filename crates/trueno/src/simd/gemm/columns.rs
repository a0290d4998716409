//! Sharing a product out by ranges of columns instead of row blocks.

use rayon::prelude::*;

use super::{
    BSource, CPtr, Epilogue, Kernel, PACK_B, PARALLEL_MIN_FLOPS, Product, blocked, with_buffer,
};

/// The width of the column ranges to share a product out in, one per thread
/// (`None`: share out its row blocks instead). Each range packs its own columns of B, so
/// there is no packing phase before the threads start and one fork-join per
/// product; A is read by every range, so only where it is read in place:
/// with A packed (a 4 KiB stride, as at 1024³) every range would pack all of
/// A, so those products keep row blocks (docs/benchmarks.md, "CPU kernels").
pub(super) fn width(kern: Kernel, p: &Product<'_>) -> Option<usize> {
    let threads = rayon::current_num_threads();
    if p.serial
        || threads < 2
        || 2 * p.m * p.n * p.k < PARALLEL_MIN_FLOPS
        || p.ta
        || (p.lda * 4).is_multiple_of(4096)
        || kern.direct.is_empty()
    {
        return None;
    }
    let width = p.n.div_ceil(threads).next_multiple_of(kern.nr);
    (width < p.n).then_some(width)
}

/// `p` as ranges of `width` columns (see [`width`]), one serial product each,
/// in parallel.
///
/// # Safety
/// As [`blocked`]: `c` valid for `p.m` rows of `p.n` values at stride `ldc`,
/// touched by nothing else meanwhile.
pub(super) unsafe fn by_columns(kern: Kernel, p: &Product<'_>, width: usize, c: CPtr, ldc: usize) {
    (0..p.n.div_ceil(width)).into_par_iter().for_each(|i| {
        let j0 = i * width;
        let part = Product {
            n: width.min(p.n - j0),
            b: if p.tb { &p.b[j0 * p.ldb..] } else { &p.b[j0..] },
            serial: true,
            ..*p
        };
        with_buffer(&PACK_B, |pb| {
            // SAFETY: columns j0.. of C: the part's m × n tile at stride ldc
            // lies inside C (its columns end at or before n, caller contract);
            // the ranges are disjoint, so no other thread writes them.
            unsafe {
                blocked(
                    kern,
                    &part,
                    CPtr(c.get().add(j0)),
                    ldc,
                    BSource::Pack(pb),
                    Epilogue::None,
                )
            }
        })
    });
}
