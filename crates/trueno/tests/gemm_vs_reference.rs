//! The blocked GEMM on every ISA level this CPU has, against a naive triple
//! loop: random transposes, α and β, padded leading dimensions, sizes that
//! are not multiples of any tile or block (m crosses MC = 144, k crosses
//! KC = 512), NaN in C when β = 0 (BLAS: C is then not read), and C's padding
//! columns left untouched.

use proptest::prelude::*;
use trueno::simd::gemm::{self, MatMut, MatRef};

fn value(i: usize, salt: u32) -> f32 {
    (((i as u32).wrapping_mul(2654435761) ^ salt) % 17) as f32 / 4.0 - 2.0
}

/// Row `i` of A (stride `lda`) times column `j` of B (stride `ldb`) over `k`,
/// in f64: the exact-ish sum and the sum of magnitudes (for the error bound).
fn naive_dot(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    (i, j, k): (usize, usize, usize),
) -> (f64, f64) {
    (0..k).fold((0.0, 0.0), |(sum, mag), p| {
        let t = a[i * lda + p] as f64 * b[p * ldb + j] as f64;
        (sum + t, mag + t.abs())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn matches_the_naive_product(
        m in 0usize..170,
        n in 0usize..90,
        k in 0usize..700,
        ta in any::<bool>(),
        tb in any::<bool>(),
        pad in 0usize..3,
        ab in prop::sample::select(vec![(1.0f32, 0.0f32), (-0.5, 1.0), (2.0, 0.5), (0.0, 0.5)]),
        salt in any::<u32>(),
    ) {
        let (alpha, beta) = ab;
        // Stored shapes: A is m×k (or k×m transposed), B is k×n (or n×k).
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (ac + pad, bc + pad, n + pad);
        let a: Vec<f32> = (0..ar * lda).map(|i| value(i, salt)).collect();
        let b: Vec<f32> = (0..br * ldb).map(|i| value(i, salt ^ 0x5555)).collect();
        let c0: Vec<f32> = (0..m * ldc).map(|i| if beta == 0.0 { f32::NAN } else { value(i, salt ^ 0xAAAA) }).collect();
        let at = |i: usize, p: usize| if ta { a[p * lda + i] } else { a[i * lda + p] };
        let bt = |p: usize, j: usize| if tb { b[j * ldb + p] } else { b[p * ldb + j] };

        for level in gemm::levels() {
            let mut c = c0.clone();
            let av = MatRef::strided(&a, ar, ac, lda);
            let bv = MatRef::strided(&b, br, bc, ldb);
            let (av, bv) = (if ta { av.t() } else { av }, if tb { bv.t() } else { bv });
            gemm::sgemm_on(*level, alpha, av, bv, beta, MatMut::strided(&mut c, m, n, ldc));
            for i in 0..m {
                for j in 0..ldc {
                    let got = c[i * ldc + j];
                    if j >= n {
                        prop_assert!(got.to_bits() == c0[i * ldc + j].to_bits(), "{:?}: padding ({}, {}) changed", level, i, j);
                        continue;
                    }
                    let (mut sum, mut mag) = (0.0f64, 0.0f64);
                    for p in 0..k {
                        let t = at(i, p) as f64 * bt(p, j) as f64;
                        sum += t;
                        mag += t.abs();
                    }
                    let old = if beta == 0.0 { 0.0 } else { beta as f64 * c0[i * ldc + j] as f64 };
                    let want = alpha as f64 * sum + old;
                    let tol = (k as f64 + 2.0) * f32::EPSILON as f64 * (alpha.abs() as f64 * mag + old.abs()) + 1e-6;
                    prop_assert!((got as f64 - want).abs() <= tol, "{:?}: ({}, {}) = {} want {} (tol {})", level, i, j, got, want, tol);
                }
            }
        }
    }
}

proptest! {
    /// Tiny m without transposes takes the unpacked path: same results.
    #[test]
    fn small_m_matches_the_naive_product(m in 0usize..6, n in 0usize..70, k in 0usize..300, pad in 0usize..3, salt in any::<u32>()) {
        let (lda, ldb, ldc) = (k + pad, n + pad, n + pad);
        let a: Vec<f32> = (0..m * lda).map(|i| value(i, salt)).collect();
        let b: Vec<f32> = (0..k * ldb).map(|i| value(i, salt ^ 0x5555)).collect();
        let c0: Vec<f32> = (0..m * ldc).map(|i| value(i, salt ^ 0xAAAA)).collect();
        let mut c = c0.clone();
        gemm::sgemm(1.5, MatRef::strided(&a, m, k, lda), MatRef::strided(&b, k, n, ldb), 0.5, MatMut::strided(&mut c, m, n, ldc));
        for i in 0..m {
            for j in 0..ldc {
                if j >= n {
                    prop_assert_eq!(c[i * ldc + j].to_bits(), c0[i * ldc + j].to_bits());
                    continue;
                }
                let (sum, mag) = naive_dot(&a, lda, &b, ldb, (i, j, k));
                let want = 1.5 * sum + 0.5 * c0[i * ldc + j] as f64;
                let tol = (k as f64 + 2.0) * f32::EPSILON as f64 * (1.5 * mag + c0[i * ldc + j].abs() as f64) + 1e-6;
                prop_assert!((c[i * ldc + j] as f64 - want).abs() <= tol);
            }
        }
    }
}

/// Leading dimensions of 4 KiB (A packed despite no transpose; C computed at a
/// padded stride and added back), with several k blocks, β ≠ 0 and β = 0 over
/// NaN, and C's columns past n untouched.
#[test]
fn four_kib_strides_match_the_naive_product() {
    let (m, n, k, ld) = (29, 70, 700, 1024);
    let a: Vec<f32> = (0..m * ld).map(|i| value(i, 3)).collect();
    let b: Vec<f32> = (0..k * n).map(|i| value(i, 4)).collect();
    for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, 2.0)] {
        let c0: Vec<f32> = (0..m * ld)
            .map(|i| if beta == 0.0 { f32::NAN } else { value(i, 5) })
            .collect();
        for level in gemm::levels() {
            let mut c = c0.clone();
            let (av, bv) = (MatRef::strided(&a, m, k, ld), MatRef::new(&b, k, n));
            gemm::sgemm_on(
                *level,
                alpha,
                av,
                bv,
                beta,
                MatMut::strided(&mut c, m, n, ld),
            );
            for i in 0..m {
                for j in 0..ld {
                    let got = c[i * ld + j];
                    if j >= n {
                        assert_eq!(
                            got.to_bits(),
                            c0[i * ld + j].to_bits(),
                            "{level:?}: padding ({i}, {j})"
                        );
                        continue;
                    }
                    let (sum, mag) = naive_dot(&a, ld, &b, n, (i, j, k));
                    let old = if beta == 0.0 {
                        0.0
                    } else {
                        beta as f64 * c0[i * ld + j] as f64
                    };
                    let want = alpha as f64 * sum + old;
                    let tol =
                        (k as f64 + 2.0) * f32::EPSILON as f64 * (alpha as f64 * mag + old.abs())
                            + 1e-6;
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{level:?}: ({i}, {j}) = {got}, want {want}"
                    );
                }
            }
        }
    }
}

/// A 24 × 64 × 40 product with A or B one value short of its extent.
fn product_with_short(short_a: bool) {
    let (m, n, k) = (24, 64, 40);
    let a = vec![1.0f32; m * k - usize::from(short_a)];
    let b = vec![1.0f32; k * n - usize::from(!short_a)];
    let mut c = vec![0.0f32; m * n];
    gemm::sgemm(
        1.0,
        MatRef::new(&a, m, k),
        MatRef::new(&b, k, n),
        0.0,
        MatMut::new(&mut c, m, n),
    );
}

#[test]
#[should_panic(expected = "A is too short")]
fn a_short_a_panics_instead_of_being_read_past() {
    product_with_short(true);
}

#[test]
#[should_panic(expected = "B is too short")]
fn a_short_b_panics_instead_of_being_read_past() {
    product_with_short(false);
}

/// The micro-kernels (assembly on AVX-512) step k four at a time: every
/// depth 0–9 and deep ones with each remainder, for A read in place (stride
/// 300: tiles of 12 rows, then 8 or 4) and A packed (4 KiB stride), B read in
/// place (stride n: small) and packed (a stride past the in-place budget from
/// k = 2 on), with a NaN in A reaching only its own row of C.
#[test]
fn row_tiles_at_every_k_remainder() {
    let n = 40;
    for (m, ld) in [(24, 300usize), (28, 300), (32, 300), (28, 1024)] {
        for (k, ldb) in (0..10)
            .chain([169, 170, 171, 172, 299])
            .flat_map(|k| [(k, n), (k, 8232)])
        {
            let mut a: Vec<f32> = (0..m * ld).map(|i| value(i, 7)).collect();
            if k > 0 {
                a[13 * ld + k - 1] = f32::NAN;
            }
            let b: Vec<f32> = (0..k * ldb).map(|i| value(i, 8)).collect();
            for level in gemm::levels() {
                let mut c = vec![0.0f32; m * n];
                let (av, bv) = (
                    MatRef::strided(&a, m, k, ld),
                    MatRef::strided(&b, k, n, ldb),
                );
                gemm::sgemm_on(*level, 1.0, av, bv, 0.0, MatMut::new(&mut c, m, n));
                let case = format!("{level:?} m {m} ld {ld} k {k} ldb {ldb}");
                for i in 0..m {
                    for j in 0..n {
                        let got = c[i * n + j];
                        if i == 13 && k > 0 {
                            assert!(got.is_nan(), "{case}: ({i}, {j}) = {got}");
                            continue;
                        }
                        let (sum, mag) = naive_dot(&a, ld, &b, ldb, (i, j, k));
                        let tol = (k as f64 + 2.0) * f32::EPSILON as f64 * mag + 1e-6;
                        assert!(
                            (got as f64 - sum).abs() <= tol,
                            "{case}: ({i}, {j}) = {got}, want {sum}"
                        );
                    }
                }
            }
        }
    }
}

/// On two or three threads a product with A read in place is shared out by
/// ranges of columns (each packs its own part of B) and one with A packed by
/// row blocks: both against the naive product, B as stored and transposed,
/// β ≠ 0, C's padding untouched.
#[test]
fn shared_out_products_match_the_naive_product() {
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        // (m, n, k, lda): 4 KiB strides pack A; the others read it in place.
        for (m, n, k, lda) in [
            (100, 70, 300, 301),
            (37, 200, 200, 203),
            (50, 97, 600, 1024),
        ] {
            for tb in [false, true] {
                let ldb = if tb { k + 3 } else { n + 5 };
                let ldc = n + 2;
                let a: Vec<f32> = (0..m * lda).map(|i| value(i, 11)).collect();
                let b: Vec<f32> = (0..(if tb { n } else { k }) * ldb)
                    .map(|i| value(i, 12))
                    .collect();
                let c0: Vec<f32> = (0..m * ldc).map(|i| value(i, 13)).collect();
                let mut c = c0.clone();
                let av = MatRef::strided(&a, m, k, lda);
                let bv = if tb {
                    MatRef::strided(&b, n, k, ldb).t()
                } else {
                    MatRef::strided(&b, k, n, ldb)
                };
                pool.install(|| gemm::sgemm(1.5, av, bv, 0.5, MatMut::strided(&mut c, m, n, ldc)));
                // B's element (p, j), as a row-major k × n matrix for naive_dot.
                let bt: Vec<f32> = (0..k * n)
                    .map(|x| {
                        let (p, j) = (x / n, x % n);
                        if tb { b[j * ldb + p] } else { b[p * ldb + j] }
                    })
                    .collect();
                for i in 0..m {
                    for j in 0..ldc {
                        let (got, old) = (c[i * ldc + j], c0[i * ldc + j]);
                        if j >= n {
                            assert_eq!(got.to_bits(), old.to_bits(), "padding ({i}, {j})");
                            continue;
                        }
                        let (sum, mag) = naive_dot(&a, lda, &bt, n, (i, j, k));
                        let want = 1.5 * sum + 0.5 * old as f64;
                        let tol =
                            (k as f64 + 2.0) * f32::EPSILON as f64 * (1.5 * mag + old.abs() as f64)
                                + 1e-6;
                        assert!(
                            (got as f64 - want).abs() <= tol,
                            "{threads} threads {m}×{n}×{k} tb {tb}: ({i}, {j}) = {got}, want {want}"
                        );
                    }
                }
            }
        }
    }
}
