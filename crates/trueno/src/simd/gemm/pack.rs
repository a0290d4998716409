//! Packing: copying blocks of A and B into the layout the micro-kernels read,
//! k-major panels of `MR` rows (A) or `NR` columns (B), zero-padded at the
//! edges so every micro-kernel call sees a full panel.

/// `len` values of `buf`, starting at a 64-byte boundary (a cache line, and a
/// zmm register's width), so the micro-kernels' vector loads never straddle lines.
pub(super) fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    buf.resize(len + 16, 0.0);
    let skip = buf.as_ptr().align_offset(64).min(15);
    &mut buf[skip..skip + len]
}

/// Element (row, col) of a row-major matrix with leading dimension `ld`,
/// read through an optional transpose.
#[inline(always)]
fn at(x: &[f32], ld: usize, transposed: bool, row: usize, col: usize) -> f32 {
    if transposed {
        x[col * ld + row]
    } else {
        x[row * ld + col]
    }
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of op(A) into `dst` as
/// ⌈mc/MR⌉ panels, each `kc × MR` (k-major).
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_a<'a>(
    dst: &'a mut Vec<f32>,
    a: &[f32],
    lda: usize,
    ta: bool,
    (i0, mc): (usize, usize),
    (p0, kc): (usize, usize),
    mr: usize,
) -> &'a [f32] {
    let panels = mc.div_ceil(mr);
    // Every value is written below (padding included): no need to clear.
    let dst = aligned(dst, panels * kc * mr);
    for (panel, out) in dst.chunks_exact_mut(kc * mr).enumerate() {
        let rows = mr.min(mc - panel * mr);
        let r0 = i0 + panel * mr;
        if rows < mr {
            for p in 0..kc {
                out[p * mr + rows..(p + 1) * mr].fill(0.0);
            }
        }
        if !ta {
            // Row-major A: walk each row once (sequential reads), scatter by MR.
            for r in 0..rows {
                let src = &a[(r0 + r) * lda + p0..(r0 + r) * lda + p0 + kc];
                for (p, &v) in src.iter().enumerate() {
                    out[p * mr + r] = v;
                }
            }
        } else {
            for p in 0..kc {
                for r in 0..rows {
                    out[p * mr + r] = at(a, lda, true, r0 + r, p0 + p);
                }
            }
        }
    }
    dst
}

/// Packs rows `p0..p0+kc`, columns `j0..j0+nc` of op(B) into `dst` as
/// ⌈nc/NR⌉ panels, each `kc × NR` (k-major); panels in parallel if asked.
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_b<'a>(
    dst: &'a mut Vec<f32>,
    b: &[f32],
    ldb: usize,
    tb: bool,
    (p0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    nr: usize,
    parallel: bool,
) -> &'a [f32] {
    use rayon::prelude::*;
    let panels = nc.div_ceil(nr);
    let dst = aligned(dst, panels * kc * nr);
    let one = |(panel, out): (usize, &mut [f32])| {
        let cols = nr.min(nc - panel * nr);
        let c0 = j0 + panel * nr;
        for p in 0..kc {
            let row = &mut out[p * nr..(p + 1) * nr];
            if !tb {
                row[..cols].copy_from_slice(&b[(p0 + p) * ldb + c0..(p0 + p) * ldb + c0 + cols]);
            } else {
                for (c, v) in row[..cols].iter_mut().enumerate() {
                    *v = at(b, ldb, true, p0 + p, c0 + c);
                }
            }
            row[cols..].fill(0.0);
        }
    };
    if parallel && panels > 1 {
        dst.par_chunks_exact_mut(kc * nr).enumerate().for_each(one);
    } else {
        dst.chunks_exact_mut(kc * nr).enumerate().for_each(one);
    }
    dst
}
