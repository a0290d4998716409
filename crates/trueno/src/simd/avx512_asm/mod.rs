//! The AVX-512 GEMM micro-kernels' k loops in assembly: 12 rows of A read in
//! place (`direct12`) or from a packed panel (`packed12`), and 8 or 4 rows in
//! place for a block's last rows (`direct8`, `direct4`).
//!
//! Ten of the twelve rows feed their FMAs through embedded-broadcast memory
//! operands (`{1to16}`) at plain `[pointer + offset]` addresses: no
//! broadcast instruction, and no indexed addressing (which the front end
//! splits in two for a three-operand instruction). The other two rows are
//! broadcast into a register once for their two FMAs, which moves a little
//! work from the load ports back to the front end where it is cheaper. Rows
//! read in place get a pointer each (compiled from Rust, the loop recomputed
//! most row addresses every step). Both loops are unrolled four k steps deep
//! with constant offsets. Per step: 2 loads of B, 22 A loads and 24 FMAs.
//! From L1 on the dev VM, in one run: all embedded 134–146 GFLOP/s, this mix
//! 135–151, all broadcast 128–130 (a register-only FMA loop: ~158). The
//! write-back stays in Rust (`avx512::gemm_kernel`), whose doc gives the
//! operands' layout.

use std::arch::x86_64::__m512;

/// `asm!` with a tile's 24 accumulators in zmm0–zmm23 (`acc[i][h]` in
/// zmm(2i + h)), zmm24–zmm25 for B and zmm26–zmm27 for broadcasts, reading
/// memory only.
macro_rules! tile_asm {
    ($acc:ident; $($body:tt)*) => {
        std::arch::asm!(
            $($body)*
            inout("zmm0") $acc[0][0],
            inout("zmm1") $acc[0][1],
            inout("zmm2") $acc[1][0],
            inout("zmm3") $acc[1][1],
            inout("zmm4") $acc[2][0],
            inout("zmm5") $acc[2][1],
            inout("zmm6") $acc[3][0],
            inout("zmm7") $acc[3][1],
            inout("zmm8") $acc[4][0],
            inout("zmm9") $acc[4][1],
            inout("zmm10") $acc[5][0],
            inout("zmm11") $acc[5][1],
            inout("zmm12") $acc[6][0],
            inout("zmm13") $acc[6][1],
            inout("zmm14") $acc[7][0],
            inout("zmm15") $acc[7][1],
            inout("zmm16") $acc[8][0],
            inout("zmm17") $acc[8][1],
            inout("zmm18") $acc[9][0],
            inout("zmm19") $acc[9][1],
            inout("zmm20") $acc[10][0],
            inout("zmm21") $acc[10][1],
            inout("zmm22") $acc[11][0],
            inout("zmm23") $acc[11][1],
            out("zmm24") _,
            out("zmm25") _,
            out("zmm26") _,
            out("zmm27") _,
            options(nostack, readonly),
        )
    };
}

/// Accumulators of a 12 × 32 tile: `acc[i][h]` holds columns `16h..16h + 16` of row `i`.
pub(super) type Tile = [[__m512; 2]; 12];

mod narrow;
mod wide;

pub(super) use narrow::{direct4, direct8};
pub(super) use wide::{direct12, packed12};
