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
        #[cfg(target_arch = "x86_64")]
        if !ta
            && rows == crate::simd::avx512::MR
            && mr == rows
            && kc > 0
            && lda <= i32::MAX as usize / mr
            && super::has_avx512()
        {
            let first = &a[r0 * lda + p0..(r0 + rows - 1) * lda + p0 + kc];
            // SAFETY: AVX-512F is present; `first` spans the panel's 12 rows
            // of kc values at stride lda (sliced above, so in bounds), and
            // `out` holds kc × 12 values.
            unsafe { crate::simd::avx512::pack_a12(out.as_mut_ptr(), first.as_ptr(), lda, kc) };
            continue;
        }
        if !ta {
            // Row-major A: one k column of the panel at a time, so the writes
            // are sequential (scattered single stores by MR stall on the
            // store buffer); the reads are `rows` sequential streams.
            let base = r0 * lda + p0;
            for (p, col) in out.chunks_exact_mut(mr).enumerate() {
                for (r, v) in col[..rows].iter_mut().enumerate() {
                    *v = a[base + r * lda + p];
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

/// Packs columns `j0..j0+nc` of op(B), all `k` rows, into `dst` as
/// consecutive k blocks of depth `step` (the last may be shallower), each
/// ⌈nc/NR⌉ panels of `kc × NR` (k-major); the block of rows `pc..pc + kc`
/// starts at `⌈nc/NR⌉ · NR · pc` (see [`b_block`]). With `parallel`, the
/// panels are shared out across rayon's threads in one fork-join for the
/// whole matrix.
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_b<'a>(
    dst: &'a mut Vec<f32>,
    b: &[f32],
    ldb: usize,
    tb: bool,
    (k, step): (usize, usize),
    (j0, nc): (usize, usize),
    nr: usize,
    parallel: bool,
) -> &'a [f32] {
    use rayon::prelude::*;
    let panels = nc.div_ceil(nr);
    let dst = aligned(dst, panels * nr * k);
    // A group of panels is filled one k row at a time: each row of B is then
    // read as one sequential run (`group · nr` values) instead of `nr` values
    // per panel, which with a large `ldb` is a page per read, beyond the
    // hardware prefetcher's reach.
    // In parallel, groups small enough that every thread gets one.
    let group = if parallel {
        panels.div_ceil(rayon::current_num_threads()).clamp(1, 8)
    } else {
        8
    };
    // (first k row, depth, group index, the group's panels) of every group.
    fn groups(
        dst: &mut [f32],
        (k, step): (usize, usize),
        (panels, nr, group): (usize, usize, usize),
    ) -> impl Iterator<Item = (usize, usize, usize, &mut [f32])> {
        let mut rest = dst;
        (0..k).step_by(step.max(1)).flat_map(move |p0| {
            let kc = step.min(k - p0);
            let (block, tail) = std::mem::take(&mut rest).split_at_mut(panels * nr * kc);
            rest = tail;
            block
                .chunks_mut(group * kc * nr)
                .enumerate()
                .map(move |(g, out)| (p0, kc, g, out))
        })
    }
    let fill = |(p0, kc, g, out): (usize, usize, usize, &mut [f32])| {
        let first = j0 + g * group * nr;
        let in_group = out.len() / (kc * nr);
        let skip = whole_panels(out, b, ldb, tb, (p0, kc), (first, j0 + nc), nr, in_group);
        if skip == in_group {
            return;
        }
        for p in 0..kc {
            for (q, panel) in out.chunks_exact_mut(kc * nr).enumerate().skip(skip) {
                let c0 = j0 + (g * group + q) * nr;
                let cols = nr.min(j0 + nc - c0);
                let row = &mut panel[p * nr..(p + 1) * nr];
                if !tb {
                    let src = (p0 + p) * ldb + c0;
                    row[..cols].copy_from_slice(&b[src..src + cols]);
                } else {
                    for (c, v) in row[..cols].iter_mut().enumerate() {
                        *v = at(b, ldb, true, p0 + p, c0 + c);
                    }
                }
                row[cols..].fill(0.0);
            }
        }
    };
    let tasks = groups(&mut *dst, (k, step), (panels, nr, group));
    if parallel && panels > group {
        tasks.collect::<Vec<_>>().into_par_iter().for_each(fill);
    } else {
        tasks.for_each(fill);
    }
    dst
}

/// The packed k block of rows `pc..pc + kc` inside what [`pack_b`] returned
/// for `panels` panels of width `nr`.
pub(super) fn b_block(all: &[f32], panels: usize, nr: usize, (pc, kc): (usize, usize)) -> &[f32] {
    &all[panels * nr * pc..panels * nr * (pc + kc)]
}

/// Packs the whole `nr`-wide panels at the start of a group (`out`, holding
/// `in_group` panels of `kc` rows, columns from `first`; B's columns end at
/// `end`) with full-width vector moves, where the CPU has them for this
/// panel width, and returns how many it packed: the element loop costs a
/// fifth of a 64 × 64 × 64 product.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn whole_panels(
    out: &mut [f32],
    b: &[f32],
    ldb: usize,
    tb: bool,
    (p0, kc): (usize, usize),
    (first, end): (usize, usize),
    nr: usize,
    in_group: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if !tb && nr == crate::simd::avx512::NR && super::has_avx512() {
        let whole = in_group.min((end - first) / nr);
        if whole == 0 || kc == 0 {
            return 0;
        }
        // Bounds-checked: rows p0..p0 + kc, columns first..first + whole·nr.
        let src = &b[p0 * ldb + first..(p0 + kc - 1) * ldb + first + whole * nr];
        assert!(out.len() >= whole * kc * nr);
        // SAFETY: AVX-512F is present; `src` spans kc rows of whole·32
        // values at stride ldb and `out` holds whole panels of kc × 32.
        unsafe { crate::simd::avx512::pack_b32(out.as_mut_ptr(), src.as_ptr(), ldb, kc, whole) };
        return whole;
    }
    0
}
