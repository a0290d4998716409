//! aarch64 NEON kernels (4 f32 lanes): the primitives the shared vector
//! kernels are built from (see `kernels.rs`). NEON is part of the aarch64
//! baseline. GEMM on aarch64 uses the portable micro-kernel for now.
//!
//! Not compiled on the x86-64 machines this project is built and tested on
//! (no aarch64 standard library there); `unused_unsafe` is allowed because
//! whether these intrinsics are safe to call varies across Rust versions.
#![allow(unused_unsafe)]

use std::arch::aarch64::*;

type V = float32x4_t;
const LANES: usize = 4;

#[target_feature(enable = "neon")]
#[inline]
fn vsplat(v: f32) -> V {
    // SAFETY: NEON is available (aarch64 baseline).
    unsafe { vdupq_n_f32(v) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vload(x: &[f32]) -> V {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted).
    unsafe { vld1q_f32(x.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vstore(x: &mut [f32], v: V) {
    assert!(x.len() >= LANES);
    // SAFETY: x holds at least LANES values (asserted).
    unsafe { vst1q_f32(x.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vadd(a: V, b: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vaddq_f32(a, b) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vsub(a: V, b: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vsubq_f32(a, b) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vmul(a: V, b: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vmulq_f32(a, b) }
}

#[target_feature(enable = "neon")]
#[inline]
fn vdiv(a: V, b: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vdivq_f32(a, b) }
}

/// `a · b + c`
#[target_feature(enable = "neon")]
#[inline]
fn vfma(a: V, b: V, c: V) -> V {
    // SAFETY: NEON is available. vfmaq_f32(c, a, b) = c + a·b.
    unsafe { vfmaq_f32(c, a, b) }
}

/// Lane-wise maximum; FMAX already returns NaN when either input is NaN.
#[target_feature(enable = "neon")]
#[inline]
fn vmax(a: V, b: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vmaxq_f32(a, b) }
}

/// `max(v, 0)`, NaN kept (FMAX propagates it).
#[target_feature(enable = "neon")]
#[inline]
fn relu_v(v: V) -> V {
    // SAFETY: NEON is available.
    unsafe { vmaxq_f32(v, vdupq_n_f32(0.0)) }
}

/// `e^v`, as the AVX2 `exp_v` (see there for the method and its range).
#[target_feature(enable = "neon")]
#[inline]
fn exp_v(v: V) -> V {
    // SAFETY: NEON is available.
    unsafe {
        let x = vmaxq_f32(vdupq_n_f32(-87.3), vminq_f32(vdupq_n_f32(88.7), v));
        let n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(std::f32::consts::LOG2_E)));
        let r = vfmsq_f32(x, n, vdupq_n_f32(0.693_145_75));
        let r = vfmsq_f32(r, n, vdupq_n_f32(1.428_606_8e-6));
        let mut p = vdupq_n_f32(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            p = vfmaq_f32(vdupq_n_f32(c), p, r);
        }
        let pow2 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(
            vcvtq_s32_f32(n),
            vdupq_n_s32(127),
        )));
        let y = vmulq_f32(p, pow2);
        let y = vbslq_f32(vcltq_f32(v, vdupq_n_f32(-87.3)), vdupq_n_f32(0.0), y);
        let y = vbslq_f32(
            vcgtq_f32(v, vdupq_n_f32(88.72)),
            vdupq_n_f32(f32::INFINITY),
            y,
        );
        vbslq_f32(vmvnq_u32(vceqq_f32(v, v)), v, y)
    }
}

#[target_feature(enable = "neon")]
#[inline]
fn hsum(v: V) -> f32 {
    // SAFETY: NEON is available.
    unsafe { vaddvq_f32(v) }
}

#[target_feature(enable = "neon")]
#[inline]
fn hmax(v: V) -> f32 {
    let mut lanes = [0.0f32; LANES];
    vstore(&mut lanes, v);
    crate::scalar::max(&lanes)
}

vector_kernels!("neon");
