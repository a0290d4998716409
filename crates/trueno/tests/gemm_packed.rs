//! GEMM with pre-packed B and a fused epilogue, on every ISA level this CPU
//! has, against the naive product: sizes across the micro-tile, MC and KC
//! edges, padded leading dimensions, the small-m path, several column blocks,
//! bias, ReLU (with NaN surviving ReLU) and both GELUs, and C's padding left
//! untouched.

use proptest::prelude::*;
use trueno::simd::gemm::{self, Epilogue, MatMut, MatRef, PackedMatrix, sgemm_packed};

fn value(i: usize, salt: u32) -> f32 {
    (((i as u32).wrapping_mul(2654435761) ^ salt) % 17) as f32 / 4.0 - 2.0
}

/// Checks `sgemm_packed` on every level for one shape.
fn check(
    m: usize,
    n: usize,
    k: usize,
    pad: usize,
    epi: u8,
    salt: u32,
) -> Result<(), TestCaseError> {
    let (lda, ldc) = (k + pad, n + pad);
    let mut a: Vec<f32> = (0..m * lda).map(|i| value(i, salt)).collect();
    if m * k > 0 && salt.is_multiple_of(5) {
        a[0] = f32::NAN; // row 0 is NaN everywhere k > 0: ReLU must keep it
    }
    let b: Vec<f32> = (0..k * n).map(|i| value(i, salt ^ 0x5555)).collect();
    let bias: Vec<f32> = (0..n).map(|i| value(i, salt ^ 0x3333)).collect();
    let c0 = vec![f32::NAN; m * ldc]; // never read
    for level in gemm::levels() {
        let packed = PackedMatrix::pack_for(*level, &b, k, n);
        let mut c = c0.clone();
        let e = match epi {
            0 => Epilogue::None,
            1 => Epilogue::Bias(&bias),
            2 => Epilogue::BiasRelu(&bias),
            3 => Epilogue::BiasGeluErf(&bias),
            _ => Epilogue::BiasGeluTanh(&bias),
        };
        sgemm_packed(
            MatRef::strided(&a, m, k, lda),
            &packed,
            MatMut::strided(&mut c, m, n, ldc),
            e,
        );
        for i in 0..m {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j >= n {
                    prop_assert!(got.is_nan(), "{:?}: padding ({}, {}) written", level, i, j);
                    continue;
                }
                let (mut sum, mut mag) = (0.0f64, 0.0f64);
                for p in 0..k {
                    let t = a[i * lda + p] as f64 * b[p * n + j] as f64;
                    sum += t;
                    mag += t.abs();
                }
                if epi > 0 {
                    sum += bias[j] as f64;
                    mag += (bias[j] as f64).abs();
                }
                if epi == 2 && sum < 0.0 {
                    sum = 0.0;
                }
                // GELU's slope is below 1.13: the product's error grows by
                // that much, plus the activation's own few ulp.
                let mut slack = 1.0;
                if epi >= 3 && sum.is_finite() {
                    let (z, mut g) = ([sum as f32], [0.0f32]);
                    if epi == 3 {
                        trueno::scalar::gelu_erf(&z, &mut g);
                    } else {
                        trueno::scalar::gelu(&z, &mut g);
                    }
                    slack = 1.13;
                    mag += (g[0] as f64).abs() * 8.0 / (k as f64 + 2.0);
                    sum = g[0] as f64;
                }
                if sum.is_nan() {
                    prop_assert!(
                        got.is_nan(),
                        "{:?}: ({}, {}) = {}, want NaN",
                        level,
                        i,
                        j,
                        got
                    );
                    continue;
                }
                let tol = slack * (k as f64 + 2.0) * f32::EPSILON as f64 * mag + 1e-6;
                prop_assert!(
                    (got as f64 - sum).abs() <= tol,
                    "{:?}: ({}, {}) = {} want {}",
                    level,
                    i,
                    j,
                    got,
                    sum
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn packed_matches_the_naive_product(
        m in 0usize..160,
        n in 0usize..80,
        k in 0usize..700,
        pad in 0usize..3,
        epi in 0u8..5,
        salt in any::<u32>(),
    ) {
        check(m, n, k, pad, epi, salt)?;
    }

    #[test]
    fn packed_small_m(m in 0usize..6, n in 0usize..70, k in 0usize..40, epi in 0u8..5, salt in any::<u32>()) {
        check(m, n, k, 1, epi, salt)?;
    }
}

#[test]
fn several_column_blocks() {
    // n crosses NC = 4096, k crosses KC = 512: blocks are found by both indices.
    check(13, 4100, 600, 0, 2, 7).unwrap();
}

#[test]
fn repacking_is_unnecessary_across_calls() {
    let b: Vec<f32> = (0..50 * 40).map(|i| value(i, 1)).collect();
    let packed = PackedMatrix::pack(&b, 50, 40);
    assert_eq!((packed.k(), packed.n()), (50, 40));
    assert_eq!(packed.as_row_major(), &b[..]);
    let a: Vec<f32> = (0..20 * 50).map(|i| value(i, 2)).collect();
    let mut first = vec![0.0; 20 * 40];
    let mut second = vec![1.0; 20 * 40];
    let av = MatRef::new(&a, 20, 50);
    sgemm_packed(av, &packed, MatMut::new(&mut first, 20, 40), Epilogue::None);
    sgemm_packed(
        av,
        &packed,
        MatMut::new(&mut second, 20, 40),
        Epilogue::None,
    );
    assert_eq!(first, second);
    let mut plain = vec![0.0; 20 * 40];
    let bv = MatRef::new(&b, 50, 40);
    gemm::sgemm(1.0, av, bv, 0.0, MatMut::new(&mut plain, 20, 40));
    assert_eq!(
        first, plain,
        "same kernel, same order: bit-identical to sgemm"
    );
}
