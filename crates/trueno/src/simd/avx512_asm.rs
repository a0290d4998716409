//! The AVX-512 GEMM micro-kernels' k loops in assembly: 12 rows of A read in
//! place (`direct12`) or from a packed panel (`packed12`), and 8 or 4 rows in
//! place for a block's last rows (`direct8`, `direct4`). Each computes
//! `Σ_p A[i, p] · B[p, 0..32]` over `p < kc` into the accumulators of a tile,
//! from a packed `kc × 32` panel of B (`b + 32p`); the write-back stays in
//! Rust (`avx512::gemm_kernel`). The `_b` variants read B in place instead
//! (`b + p·ldb`), for a B small enough to stay in L1; there is no 12-row one,
//! as 12 row pointers, B, its stride and the count take 15 general registers,
//! more than the compiler can always give (with a frame pointer kept, one
//! fewer is free).
//!
//! Rows 2 and up feed their two FMAs through embedded-broadcast memory
//! operands (`{1to16}`) at plain `[pointer + offset]` addresses: no broadcast
//! instruction, and no indexed addressing (which the front end splits in two
//! for a three-operand instruction). Rows 0 and 1 are broadcast into a
//! register once for their two FMAs, which moves a little work from the load
//! ports back to the front end where it is cheaper. Rows read in place get a
//! pointer each, so no row address is recomputed per step. Loops are
//! unrolled four k steps deep with constant offsets. Each step also
//! prefetches B 16 steps (2 KiB) ahead: with KC 512 a B panel is 64 KiB,
//! more than L1, and comes from L2. Per 12-row step: 2 loads of B, 22 loads
//! of A and 24 FMAs. (The measurements behind these choices are in
//! docs/benchmarks.md, "CPU kernels".)
//!
//! The templates are built by the macros below from one description of a k
//! step, so the four unrolled copies and the remainder cannot drift apart.

use std::arch::x86_64::*;

/// Accumulators of a 12 × 32 tile: `acc[i][h]` holds columns `16h..16h + 16`
/// of row `i` (the 8- and 4-row kernels leave the rows past theirs zero).
pub(super) type Tile = [[__m512; 2]; 12];

/// `asm!` with a tile's 24 accumulators in zmm0–zmm23 (`acc[i][h]` in
/// zmm(2i + h)), zmm24–zmm25 for B and zmm26–zmm27 for broadcasts, reading
/// memory only.
macro_rules! tile_asm {
    ($acc:ident; $($body:tt)*) => {
        std::arch::asm!(
            $($body)*
            inout("zmm0") $acc[0][0], inout("zmm1") $acc[0][1],
            inout("zmm2") $acc[1][0], inout("zmm3") $acc[1][1],
            inout("zmm4") $acc[2][0], inout("zmm5") $acc[2][1],
            inout("zmm6") $acc[3][0], inout("zmm7") $acc[3][1],
            inout("zmm8") $acc[4][0], inout("zmm9") $acc[4][1],
            inout("zmm10") $acc[5][0], inout("zmm11") $acc[5][1],
            inout("zmm12") $acc[6][0], inout("zmm13") $acc[6][1],
            inout("zmm14") $acc[7][0], inout("zmm15") $acc[7][1],
            inout("zmm16") $acc[8][0], inout("zmm17") $acc[8][1],
            inout("zmm18") $acc[9][0], inout("zmm19") $acc[9][1],
            inout("zmm20") $acc[10][0], inout("zmm21") $acc[10][1],
            inout("zmm22") $acc[11][0], inout("zmm23") $acc[11][1],
            out("zmm24") _, out("zmm25") _, out("zmm26") _, out("zmm27") _,
            options(nostack, readonly),
        )
    };
}

/// The template of k step `$u` (0–3) within a group of four, B's two
/// vectors already in zmm24–zmm25 (see `b_step`): rows 0 and 1 broadcast into
/// registers and rows `$i` (accumulators `$c0`, `$c1`) as embedded broadcasts.
/// A's value for row `i` is at `[p1 p2 p3 i q1 q2 q3]` (the six pieces
/// concatenated around `i`).
macro_rules! k_step {
    ($u:literal, [$p1:literal $p2:literal $p3:literal] [$q1:literal $q2:literal $q3:literal];
     $($i:literal $c0:literal $c1:literal),*) => {
        concat!(
            "vbroadcastss zmm26, dword ptr [", $p1, $p2, $p3, 0, $q1, $q2, $q3, "]\n",
            "vfmadd231ps zmm0, zmm26, zmm24\n",
            "vfmadd231ps zmm1, zmm26, zmm25\n",
            "vbroadcastss zmm27, dword ptr [", $p1, $p2, $p3, 1, $q1, $q2, $q3, "]\n",
            "vfmadd231ps zmm2, zmm27, zmm24\n",
            "vfmadd231ps zmm3, zmm27, zmm25\n",
            $(
                "vfmadd231ps zmm", $c0, ", zmm24, dword ptr [",
                $p1, $p2, $p3, $i, $q1, $q2, $q3, "]{{1to16}}\n",
                "vfmadd231ps zmm", $c1, ", zmm25, dword ptr [",
                $p1, $p2, $p3, $i, $q1, $q2, $q3, "]{{1to16}}\n",
            )*
        )
    };
}

/// B's row for k step `$u` into zmm24–zmm25. `packed`: row `u` of a packed
/// panel (`b + 128u` bytes), with a prefetch 2 KiB ahead; `in_place`: the row
/// at `{b}`, which then moves on by `{ldb}` bytes (a B small enough to be read
/// in place stays in L1: no prefetch).
#[rustfmt::skip]
macro_rules! b_step {
    (packed, $u:literal) => {
        concat!(
            "prefetcht0 byte ptr [{b} + ", $u, "*128 + 2048]\n",
            "prefetcht0 byte ptr [{b} + ", $u, "*128 + 2112]\n",
            "vmovups zmm24, zmmword ptr [{b} + ", $u, "*128]\n",
            "vmovups zmm25, zmmword ptr [{b} + ", $u, "*128 + 64]\n",
        )
    };
    (in_place, $u:literal) => {
        concat!(
            "vmovups zmm24, zmmword ptr [{b}]\n",
            "vmovups zmm25, zmmword ptr [{b} + 64]\n",
            "add {b}, {ldb}\n",
        )
    };
}

/// Moves a packed B past `$steps` k steps (an in-place B has moved already).
macro_rules! b_advance {
    (packed, $steps:literal) => {
        concat!("add {b}, ", $steps, "*128\n")
    };
    (in_place, $steps:literal) => {
        ""
    };
}

/// Step `$u` of an in-place kernel: row `i` at `[{r<i>} + u*4]`.
macro_rules! direct_step {
    ($u:literal, $bm:ident; $($rows:tt)*) => {
        concat!(b_step!($bm, $u), k_step!($u, ["{r" "" ""] ["} + " $u "*4"]; $($rows)*))
    };
}

/// Step `$u` of the packed kernel: row `i` at `[{a} + u*48 + i*4]`.
macro_rules! packed_step {
    ($u:literal, $bm:ident; $($rows:tt)*) => {
        concat!(b_step!($bm, $u), k_step!($u, ["{a} + " $u "*48 + "] ["*4" "" ""]; $($rows)*))
    };
}

/// A whole k loop: `$step` for four k steps at a time while at least four
/// remain (then the pointers advance `$adv4`), one at a time after (`$adv1`);
/// B as `$bm` (see `b_step`). `{n}` counts k down.
macro_rules! k_loop {
    ($step:ident, $bm:ident, [$($rows:tt)*], $adv4:expr, $adv1:expr) => {
        concat!(
            "sub {n}, 4\n",
            "jb 3f\n",
            "2:\n",
            $step!(0, $bm; $($rows)*),
            $step!(1, $bm; $($rows)*),
            $step!(2, $bm; $($rows)*),
            $step!(3, $bm; $($rows)*),
            $adv4,
            b_advance!($bm, 4),
            "sub {n}, 4\n",
            "jae 2b\n",
            "3:\n",
            "add {n}, 4\n",
            "jz 5f\n",
            "4:\n",
            $step!(0, $bm; $($rows)*),
            $adv1,
            b_advance!($bm, 1),
            "dec {n}\n",
            "jnz 4b\n",
            "5:\n",
        )
    };
}

/// `add {r<i>}, $by` for each row pointer.
macro_rules! advance_rows {
    ($by:literal; $($i:literal)*) => {
        concat!($("add {r", $i, "}, ", $by, "\n",)*)
    };
}

/// One kernel: `$name(kc, $args)` runs `k_loop!($step, $bm, …)` with the asm
/// operands `$ops` (A's pointers, B's, and with B in place its stride) and
/// returns the tile. Every kernel below is one expansion, so they share the
/// scaffolding and differ only in what they read.
macro_rules! kernel {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*),
     $step:ident, $bm:ident, [$($rows:tt)*], $adv4:expr, $adv1:expr, {$($ops:tt)*}) => {
        $(#[$doc])*
        #[target_feature(enable = "avx512f")]
        #[inline]
        pub(super) unsafe fn $name(kc: usize, $($arg: $ty),*) -> Tile {
            let mut acc = [[_mm512_setzero_ps(); 2]; 12];
            // SAFETY: the loop reads kc steps of A and of B, each inside the
            // extent the `# Safety` section above asks of the caller; it
            // writes only the registers named here and in `tile_asm!`, and the
            // flags.
            unsafe {
                tile_asm!(acc;
                    k_loop!($step, $bm, [$($rows)*], $adv4, $adv1),
                    $($ops)*
                    n = inout(reg) kc => _,
                );
            }
            acc
        }
    };
}

/// An in-place kernel `$name` (`$rows` as for `k_step`, one pointer `$r` per
/// row `$k`), and optionally `$name_b`, the same with B read in place too
/// (not for 12 rows: with B's stride that is 15 pointers and counters; see
/// the module doc).
macro_rules! direct_kernel {
    ($(#[$doc:meta])* $name:ident, [$($rows:tt)*], [$($r:ident $k:literal)*]) => {
        kernel!(
            $(#[$doc])*
            ///
            /// # Safety
            /// AVX-512F must be available; `a` must be valid for reads of the
            /// kernel's rows of `kc` values at stride `lda` (row i at
            /// `a + i·lda`), and `b` for `kc · 32` values (row p at `b + 32p`).
            $name(a: *const f32, lda: usize, b: *const f32),
            direct_step, packed, [$($rows)*],
            advance_rows!(16; $($k)*), advance_rows!(4; $($k)*),
            {
                $($r = inout(reg) a.wrapping_add($k * lda) => _,)*
                b = inout(reg) b => _,
            }
        );
    };
    ($(#[$doc:meta])* $name:ident, $name_b:ident, [$($rows:tt)*], [$($r:ident $k:literal)*]) => {
        direct_kernel!($(#[$doc])* $name, [$($rows)*], [$($r $k)*]);
        kernel!(
            #[doc = concat!("[`", stringify!($name), "`] with B read in place: row `p` at `b + p·ldb`.")]
            ///
            /// # Safety
            /// As the packed-B kernel, with `b` valid for reads of `kc` rows of
            /// 32 values at stride `ldb`.
            $name_b(a: *const f32, lda: usize, b: *const f32, ldb: usize),
            direct_step, in_place, [$($rows)*],
            advance_rows!(16; $($k)*), advance_rows!(4; $($k)*),
            {
                $($r = inout(reg) a.wrapping_add($k * lda) => _,)*
                b = inout(reg) b => _,
                ldb = in(reg) ldb * 4,
            }
        );
    };
}

direct_kernel!(
    /// 12 rows of A read in place (`a + i·lda + p`).
    direct12,
    [2 4 5, 3 6 7, 4 8 9, 5 10 11, 6 12 13, 7 14 15, 8 16 17, 9 18 19, 10 20 21, 11 22 23],
    [r0 0 r1 1 r2 2 r3 3 r4 4 r5 5 r6 6 r7 7 r8 8 r9 9 r10 10 r11 11]
);

direct_kernel!(
    /// As [`direct12`] for 8 rows.
    direct8,
    direct8_b,
    [2 4 5, 3 6 7, 4 8 9, 5 10 11, 6 12 13, 7 14 15],
    [r0 0 r1 1 r2 2 r3 3 r4 4 r5 5 r6 6 r7 7]
);

direct_kernel!(
    /// As [`direct12`] for 4 rows.
    direct4,
    direct4_b,
    [2 4 5, 3 6 7],
    [r0 0 r1 1 r2 2 r3 3]
);

kernel!(
    /// 12 rows of A from a packed `kc × 12` panel (`a + 12p + i`).
    ///
    /// # Safety
    /// AVX-512F must be available; `a` must be valid for reads of `kc · 12`
    /// values and `b` for `kc · 32`.
    packed12(a: *const f32, b: *const f32),
    packed_step, packed,
    [2 4 5, 3 6 7, 4 8 9, 5 10 11, 6 12 13, 7 14 15, 8 16 17, 9 18 19, 10 20 21, 11 22 23],
    "add {a}, 192\n", "add {a}, 48\n",
    { a = inout(reg) a => _, b = inout(reg) b => _, }
);

kernel!(
    /// [`packed12`] with B read in place: row `p` at `b + p·ldb`.
    ///
    /// # Safety
    /// As [`packed12`], with `b` valid for reads of `kc` rows of 32 values at
    /// stride `ldb`.
    packed12_b(a: *const f32, b: *const f32, ldb: usize),
    packed_step, in_place,
    [2 4 5, 3 6 7, 4 8 9, 5 10 11, 6 12 13, 7 14 15, 8 16 17, 9 18 19, 10 20 21, 11 22 23],
    "add {a}, 192\n", "add {a}, 48\n",
    { a = inout(reg) a => _, b = inout(reg) b => _, ldb = in(reg) ldb * 4, }
);
