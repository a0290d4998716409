//! Single-precision GEMM, `C = αAB + βC` with optional transposes, built the
//! way fast BLAS libraries are (Goto/BLIS): blocks of B (`KC × NC`) and A
//! (`MC × KC`) are packed into panels (a B that fits in L1, and an A whose
//! rows do not alias there, are read in place instead), and a register-blocked
//! micro-kernel sized to the ISA (AVX-512 12 × 32, AVX2 6 × 16, portable
//! 4 × 8) computes each `MR × NR` tile of C (on AVX-512, its k loop is
//! assembly: see `simd::avx512_asm`). On several threads, a product whose A
//! is read in place is split into ranges of columns, one per thread, each
//! packing its own part of B; otherwise each k block's B panels are packed
//! (by all threads when large), then its row blocks of A are shared out.
//! Packing buffers are thread-local and reused across calls.
//!
//! Accumulation: each element of C sums its `k` products in order, one FMA
//! rounding each, so it differs from the naive loop by at most about
//! `k · ε · Σ|aᵢₚ bₚⱼ|` (ε = 2⁻²⁴); with `k > KC` the blocks are summed into C
//! in k order too.

mod columns;
mod kernel;
mod pack;
mod packed;
mod view;

pub use packed::{Epilogue, PackedMatrix, sgemm_packed, sgemm_packed_serial};
pub use view::{MatMut, MatRef};

use std::cell::RefCell;

use rayon::prelude::*;

use kernel::{Kernel, KernelFn, kernel_for};

use super::{Level, level};

/// Largest k-depth of a packed block. A `KC × NR` panel of B (64 KiB) no
/// longer fits the 48 KiB L1 beside a panel of A, so each tile reads it from
/// L2 (by arithmetic about 10 bytes a cycle, within L2's bandwidth); C is
/// then read and written once per 512 of k instead of once per 192–256,
/// which is what large products wait on (the measurements behind this and
/// the constants below: docs/benchmarks.md, "CPU kernels").
const KC: usize = 512;

/// The k-depth of every block for an inner dimension `k`: as deep as `KC`
/// allows, in equal blocks, so no last block is a sliver (784 → 2 × 392, not
/// 512 + 272) that costs a full pass over C for little work.
fn k_step(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1)).max(1)
}
/// Rows of a packed A block (a multiple of every MR): `MC × KC` stays in L2.
const MC: usize = 144;
/// Columns of a packed B block (a multiple of every NR).
const NC: usize = 4096;
/// A row-major B spanning at most this many bytes is read in place by the
/// micro-kernels: it stays in L1 for the whole product, so packing it would
/// copy every value to save nothing. Past L1 (at 128³, 64 KiB of rows 512
/// bytes apart, which crowd into a quarter of L1's sets) reading in place
/// loses to packing, so the span stays within L1.
const B_IN_PLACE_BYTES: usize = 32 << 10;
/// The largest panel of B that stays in L1 beside a panel of A.
const L1_PANEL_BYTES: usize = 24 << 10;
/// Panels of B a row tile visits in turn when a panel does not stay in L1
/// (see `blocked`): their `PANEL_GROUP · KC · NR` values (1 MiB) stay in L2.
const PANEL_GROUP: usize = 16;
/// A block of B smaller than this is packed by one thread even when the
/// product is shared out: below it the fork-join costs more than the copy.
const PARALLEL_PACK_MIN_BYTES: usize = 512 << 10;
/// Below this many FLOPs a block runs on one thread: splitting costs more.
const PARALLEL_MIN_FLOPS: usize = 1 << 21;

/// C's base pointer, shared by threads that write disjoint tiles of it.
#[derive(Clone, Copy)]
struct CPtr(*mut f32);
// SAFETY: every thread writes only the tiles of the panels it was given, and
// the panels are disjoint; the pointer outlives the parallel section, which
// ends before `sgemm` returns.
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}
impl CPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

thread_local! {
    /// Packed B of the calling thread, packed A of each worker; reused across calls.
    static PACK_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACK_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer in `cell`, or a fresh one if it is
/// already in use (rayon may run other work on this thread while we wait).
fn with_buffer<R>(
    cell: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    f: impl FnOnce(&mut Vec<f32>) -> R,
) -> R {
    cell.with(|c| match c.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}

/// The ISA levels this CPU can run GEMM on, best first (for tests and
/// benchmarks); detected once.
pub fn levels() -> &'static [Level] {
    static LEVELS: std::sync::OnceLock<Vec<Level>> = std::sync::OnceLock::new();
    LEVELS.get_or_init(|| {
        let candidates = [
            #[cfg(target_arch = "x86_64")]
            (
                Level::Avx512,
                std::arch::is_x86_feature_detected!("avx512f"),
            ),
            #[cfg(target_arch = "x86_64")]
            (
                Level::Avx2Fma,
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma"),
            ),
            (Level::Scalar, true),
        ];
        candidates
            .into_iter()
            .filter_map(|(level, present)| present.then_some(level))
            .collect()
    })
}

/// Whether this CPU has AVX-512F (for the packing routines' fast paths).
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    levels().contains(&Level::Avx512)
}

/// `level` if this CPU can run it, else the portable kernel's.
fn usable(level: Level) -> Level {
    if levels().contains(&level) {
        level
    } else {
        Level::Scalar
    }
}

/// The operands of one product, as the public functions received them.
#[derive(Clone, Copy)]
struct Product<'a> {
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    ldb: usize,
    beta: f32,
    /// Stay on the calling thread (the caller parallelises at a higher level).
    serial: bool,
}

impl<'a> Product<'a> {
    /// `alpha · a · b + beta · C`; panics if the shapes do not chain.
    fn of(alpha: f32, a: MatRef<'a>, b: MatRef<'a>, beta: f32, c: &MatMut<'_>) -> Product<'a> {
        assert!(
            a.cols() == b.rows() && a.rows() == c.rows() && b.cols() == c.cols(),
            "sgemm: {}×{} times {}×{} into {}×{}",
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols(),
            c.rows(),
            c.cols()
        );
        Product {
            ta: a.is_transposed(),
            tb: b.is_transposed(),
            m: a.rows(),
            n: b.cols(),
            k: a.cols(),
            alpha,
            a: a.data(),
            lda: a.ld().max(1),
            b: b.data(),
            ldb: b.ld().max(1),
            beta,
            serial: false,
        }
    }
}

/// [`sgemm`] with the micro-kernel of a chosen level, which must be one of
/// [`levels()`] (anything else runs the portable kernel).
pub fn sgemm_on(level: Level, alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
    let p = Product::of(alpha, a, b, beta, &c);
    let ldc = c.ld().max(1);
    run(
        kernel_for(usable(level)),
        &p,
        c.into_data(),
        ldc,
        None,
        Epilogue::None,
    )
}

/// `C = alpha · A · B + beta · C` on this CPU's best level; transposes and
/// strides are in the views (`a.t()` for Aᵀ). With `beta == 0` C is not read
/// (NaN or garbage in it is overwritten), as in BLAS.
///
/// # Panics
/// If the shapes do not chain (`A` is `m × k`, `B` `k × n`, `C` `m × n`) or a
/// slice is too short for its view; `crate::ops::sgemm` is the checked version.
pub fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
    sgemm_on(level(), alpha, a, b, beta, c)
}

/// The product `p` into C, then `epi` on every element of C written. With
/// `packed`, B's blocks are read from it instead of packed here (`p.b` must
/// then be its row-major copy, for the small-m path).
fn run(
    kern: Kernel,
    p: &Product<'_>,
    c: &mut [f32],
    ldc: usize,
    packed: Option<&PackedMatrix>,
    epi: Epilogue<'_>,
) {
    let (m, n) = (p.m, p.n);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        c.len() >= (m - 1) * ldc + n,
        "C is too short for {m}×{n} at stride {ldc}"
    );
    // The micro-kernels may read A in place through raw pointers: its extent
    // is checked here, once, so a short slice panics instead of being read past.
    let (a_rows, a_cols) = if p.ta { (p.k, m) } else { (m, p.k) };
    assert!(
        a_rows == 0 || a_cols == 0 || p.a.len() >= (a_rows - 1) * p.lda + a_cols,
        "A is too short for {a_rows}×{a_cols} at stride {}",
        p.lda
    );
    // So may B's packing (vector moves through raw pointers).
    let (b_rows, b_cols) = if p.tb { (n, p.k) } else { (p.k, n) };
    assert!(
        b_rows == 0 || b_cols == 0 || p.b.len() >= (b_rows - 1) * p.ldb + b_cols,
        "B is too short for {b_rows}×{b_cols} at stride {}",
        p.ldb
    );
    if p.k == 0 || p.alpha == 0.0 {
        for row in c.chunks_mut(ldc).take(m) {
            for v in &mut row[..n] {
                *v = if p.beta == 0.0 { 0.0 } else { p.beta * *v };
            }
            epi.apply(&mut row[..n], 0);
        }
        return;
    }
    if m <= SMALL_M && !p.ta && !p.tb {
        return small_m(p, c, ldc, epi);
    }
    let cptr = CPtr(c.as_mut_ptr());
    match packed {
        // SAFETY: C holds (m − 1)·ldc + n values (asserted above) and is
        // borrowed mutably here, so nothing else touches it.
        Some(pm) => unsafe { blocked(kern, p, cptr, ldc, BSource::Packed(pm), epi) },
        None => match columns::width(kern, p).filter(|_| matches!(epi, Epilogue::None)) {
            // SAFETY: as above.
            Some(width) => unsafe { columns::by_columns(kern, p, width, cptr, ldc) },
            None => with_buffer(&PACK_B, |pb| {
                // SAFETY: as above.
                unsafe { blocked(kern, p, cptr, ldc, BSource::Pack(pb), epi) }
            }),
        },
    }
}

/// A row tile: first row within the block, rows, and the direct kernel that
/// reads them in place (`None`: from the packed panel).
type Tile = (usize, usize, Option<KernelFn>);

/// Most tiles of a block: `MC` rows (rounded up to a multiple of every MR)
/// in tiles of at least 4 rows.
const MAX_TILES: usize = (MC + 12) / 4;

/// The row tiles of a block of `mc` rows, without allocating (a small
/// product's fixed costs matter). With direct kernels, whole tiles of the
/// largest R that fits are read in place and only a remainder below the
/// smallest R is packed; `packed_from` is where that packed part starts.
struct RowTiles {
    tiles: [Tile; MAX_TILES],
    len: usize,
    packed_from: usize,
}

impl RowTiles {
    fn new(mc: usize, kern: Kernel, direct: &[(usize, KernelFn)]) -> RowTiles {
        let mut t = RowTiles {
            tiles: [(0, 0, None); MAX_TILES],
            len: 0,
            packed_from: 0,
        };
        let mut start = 0;
        while let Some(&(r, f)) = direct.iter().find(|(r, _)| *r <= mc - start) {
            t.tiles[t.len] = (start, r, Some(f));
            t.len += 1;
            start += r;
        }
        t.packed_from = start;
        while start < mc {
            let rows = kern.mr.min(mc - start);
            t.tiles[t.len] = (start, rows, None);
            t.len += 1;
            start += rows;
        }
        t
    }

    fn iter(&self) -> impl Iterator<Item = &Tile> {
        self.tiles[..self.len].iter()
    }
}

/// Where the blocked product finds its packed blocks of B.
enum BSource<'a> {
    /// Pack each block into this buffer as it is needed.
    Pack(&'a mut Vec<f32>),
    /// Read them from a matrix packed beforehand.
    Packed(&'a PackedMatrix),
}

/// At most this many rows skip packing (a model's forward pass on a handful
/// of rows): packing B would copy all of it to use each value once or twice.
const SMALL_M: usize = 4;

/// Each row of C as a sum of scaled rows of B (SIMD axpy over contiguous
/// rows), for tiny m with untransposed operands: no packing, B read once per row.
fn small_m(p: &Product<'_>, c: &mut [f32], ldc: usize, epi: Epilogue<'_>) {
    for (i, row) in c.chunks_mut(ldc).take(p.m).enumerate() {
        let row = &mut row[..p.n];
        if p.beta == 0.0 {
            row.fill(0.0);
        } else if p.beta != 1.0 {
            for v in row.iter_mut() {
                *v *= p.beta;
            }
        }
        for kk in 0..p.k {
            // No skipping of zero factors: 0 · NaN must stay NaN, as in the blocked path.
            super::axpy(
                p.alpha * p.a[i * p.lda + kk],
                &p.b[kk * p.ldb..kk * p.ldb + p.n],
                row,
            );
        }
        epi.apply(row, 0);
    }
}

/// Rows per A block: at most `MC`, a multiple of `mr`, and sized so the
/// blocks divide evenly among `threads`.
fn block_rows(m: usize, mr: usize, threads: usize) -> usize {
    let blocks = m.div_ceil(MC).next_multiple_of(threads).max(1);
    m.div_ceil(blocks)
        .next_multiple_of(mr)
        .min(MC.next_multiple_of(mr))
}

/// The packed product `p` into C at `cptr` (stride `ldc`), then `epi`.
///
/// # Safety
/// `cptr` must be valid for reads and writes of `p.m` rows of `p.n` values at
/// stride `ldc`, which no other thread touches meanwhile.
unsafe fn blocked(
    kern: Kernel,
    p: &Product<'_>,
    cptr: CPtr,
    ldc: usize,
    mut src: BSource<'_>,
    epi: Epilogue<'_>,
) {
    let Product {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        serial,
    } = *p;
    let threads = if !serial && 2 * m * n * k >= PARALLEL_MIN_FLOPS {
        rayon::current_num_threads()
    } else {
        1
    };
    let mc_max = block_rows(m, kern.mr, threads);
    // An untransposed A is read in place rather than packed (packing costs a
    // copy of every block, which small and narrow products never earn back),
    // unless its row stride would alias in L1: a multiple of 4 KiB puts all
    // MR rows in one cache set, and then the packed panel is faster. With B
    // read in place too, only the kernels that can do both.
    // Whole NR-wide panels of a small untransposed B are read in place; only
    // a narrower last panel is packed.
    let b_in_place = !tb
        && matches!(src, BSource::Pack(_))
        && (k.saturating_sub(1) * ldb + n) * size_of::<f32>() <= B_IN_PLACE_BYTES;
    let direct: &[(usize, KernelFn)] = match (ta || (lda * 4).is_multiple_of(4096), b_in_place) {
        (true, _) => &[],
        (false, false) => kern.direct,
        (false, true) => kern.direct_b(),
    };
    // The same depth `PackedMatrix::pack` used for its blocks.
    let step = k_step(k);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let panels = nc.div_ceil(kern.nr);
        let in_place = if b_in_place { nc / kern.nr } else { 0 };
        // One k block at a time (Goto's order): the packed block of B that
        // every row block reads stays in cache. Packing all of B first, for
        // one fork-join per product, would stream B from memory once per
        // row block instead.
        for pc in (0..k).step_by(step) {
            let kc = step.min(k - pc);
            let pb: &[f32] = match &mut src {
                BSource::Pack(buf) => {
                    let rows = if tb { &b[pc..] } else { &b[pc * ldb..] };
                    let (j0, packed) = (jc + in_place * kern.nr, nc - in_place * kern.nr);
                    pack::pack_b(
                        buf,
                        rows,
                        ldb,
                        tb,
                        (kc, kc),
                        (j0, packed),
                        kern.nr,
                        threads > 1 && kc * nc * size_of::<f32>() > PARALLEL_PACK_MIN_BYTES,
                    )
                }
                BSource::Packed(pm) => pack::b_block(pm.column(jc), panels, kern.nr, (pc, kc)),
            };
            // A row tile visits `group` panels of B before the next tile
            // starts. When a panel fits in L1 beside A's, one panel at a
            // time for all tiles (the classic order: B stays in L1). A deeper
            // panel (KC 512: 64 KiB) comes from L2 for every tile anyway, so
            // the tile's A panel (24 KiB) is kept in L1 over a group instead.
            let group = if kc * kern.nr * size_of::<f32>() > L1_PANEL_BYTES {
                PANEL_GROUP
            } else {
                1
            };
            // Later k blocks add onto what the earlier ones wrote.
            let beta_k = if pc == 0 { beta } else { 1.0 };
            // The epilogue runs on each tile as its last k block leaves the kernel (hot in L1).
            let epi_k = if pc + kc == k { epi } else { Epilogue::None };
            // Each row block: pack its A, then every micro-tile of its rows.
            let row_block = |ic: usize| {
                let mc = mc_max.min(m - ic);
                let tiles = RowTiles::new(mc, kern, direct);
                let packed_from = tiles.packed_from;
                with_buffer(&PACK_A, |buf| {
                    let pa = pack::pack_a(
                        buf,
                        a,
                        lda,
                        ta,
                        (ic + packed_from, mc - packed_from),
                        (pc, kc),
                        kern.mr,
                    );
                    // Tile (start, rows, direct) of the block times panel jp of B.
                    let tile = |jp: usize, &(start, rows, direct): &Tile| {
                        let cols = kern.nr.min(nc - jp * kern.nr);
                        let (bp, b_stride) = if jp < in_place {
                            (&b[pc * ldb + jc + jp * kern.nr..], ldb)
                        } else {
                            (&pb[(jp - in_place) * kc * kern.nr..], kern.nr)
                        };
                        let (row, col) = (ic + start, jc + jp * kern.nr);
                        let (f, ap, a_stride) = match direct {
                            // SAFETY: a direct tile's R rows lie inside the block's
                            // rows of A (see `RowTiles`), k from pc: inside A.
                            Some(f) => (f, unsafe { a.as_ptr().add(row * lda + pc) }, lda),
                            None => {
                                let panel = (start - packed_from) / kern.mr;
                                (kern.f, pa[panel * kc * kern.mr..].as_ptr(), 0)
                            }
                        };
                        // SAFETY: the kernel matches a level this CPU has
                        // (`kernel_for` is only given detected levels); `bp` is a
                        // full packed panel or starts kc whole rows of NR values of
                        // B at stride ldb (inside B: `run` asserts its extent, and a
                        // column part's B is the suffix from its first column), and
                        // `ap` a full packed panel or R whole rows of A (see above);
                        // the rows × cols tile at (row, col) lies inside C (row +
                        // rows ≤ m, col + cols ≤ n, and `cptr` covers m rows of n
                        // values: this function's contract); row blocks are
                        // disjoint, so no other thread writes it.
                        unsafe {
                            f(
                                kc,
                                ap,
                                a_stride,
                                bp.as_ptr(),
                                b_stride,
                                cptr.get().add(row * ldc + col),
                                ldc,
                                alpha,
                                beta_k,
                                rows,
                                cols,
                            )
                        };
                        if !matches!(epi_k, Epilogue::None) {
                            for r in row..row + rows {
                                // SAFETY: the same tile the kernel just wrote: inside C,
                                // written by this thread only (see above).
                                let dst = unsafe {
                                    std::slice::from_raw_parts_mut(
                                        cptr.get().add(r * ldc + col),
                                        cols,
                                    )
                                };
                                epi_k.apply(dst, col);
                            }
                        }
                    };
                    for g0 in (0..panels).step_by(group) {
                        for t in tiles.iter() {
                            for jp in g0..panels.min(g0 + group) {
                                tile(jp, t);
                            }
                        }
                    }
                })
            };
            let blocks = m.div_ceil(mc_max);
            if threads > 1 && blocks > 1 {
                (0..blocks)
                    .into_par_iter()
                    .for_each(|i| row_block(i * mc_max));
            } else {
                (0..blocks).for_each(|i| row_block(i * mc_max));
            }
        }
    }
}
