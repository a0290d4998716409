//! Every SIMD kernel against the scalar reference: random lengths including 0,
//! 1 and odd tails, unaligned starts (slices taken at an offset), and shapes that
//! are not multiples of the vector width.

use proptest::prelude::*;
use trueno::{scalar, simd};

/// Values in a range where products and sums stay well inside f32.
fn vec_and_offset(max: usize) -> impl Strategy<Value = (Vec<f32>, usize)> {
    (0usize..max, 0usize..4).prop_flat_map(|(len, off)| {
        (
            prop::collection::vec(-100.0f32..100.0, len + off),
            Just(off),
        )
    })
}

/// Tolerance for a sum of `terms` products whose magnitudes add up to `mag`:
/// any two summation orders differ by at most about `terms · ε · mag`.
fn tol(terms: usize, mag: f32) -> f32 {
    (terms.max(1) as f32) * f32::EPSILON * mag.max(1.0)
}

proptest! {
    #[test]
    fn elementwise_match_exactly((a, off) in vec_and_offset(300), seed in any::<u32>()) {
        let a = &a[off..];
        let b: Vec<f32> = a.iter().enumerate().map(|(i, x)| x * 0.5 - (seed as usize % 7 + i) as f32).collect();
        let (mut want, mut got) = (vec![0.0; a.len()], vec![0.0; a.len()]);
        scalar::add(a, &b, &mut want);
        simd::add(a, &b, &mut got);
        prop_assert_eq!(&want, &got);
        scalar::mul(a, &b, &mut want);
        simd::mul(a, &b, &mut got);
        prop_assert_eq!(&want, &got);
        scalar::relu(a, &mut want);
        simd::relu(a, &mut got);
        prop_assert_eq!(&want, &got);
    }

    #[test]
    fn dot_within_reordering_bound((a, off) in vec_and_offset(2000)) {
        let a = &a[off..];
        let b: Vec<f32> = a.iter().rev().copied().collect();
        let mag: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
        let (want, got) = (scalar::dot(a, &b), simd::dot(a, &b));
        prop_assert!((want - got).abs() <= tol(a.len(), mag), "{want} vs {got}");
        let abs_sum: f32 = a.iter().map(|v| v.abs()).sum();
        let (want, got) = (a.iter().sum::<f32>(), simd::sum(a));
        prop_assert!((want - got).abs() <= tol(a.len(), abs_sum), "sum {want} vs {got}");
    }

    #[test]
    fn matmul_and_matvec_match(m in 0usize..20, k in 0usize..40, n in 0usize..37, off in 0usize..3) {
        let a: Vec<f32> = (0..m * k + off).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.25).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.5).collect();
        let a = &a[off..];
        let (mut want, mut got) = (vec![0.0; m * n], vec![f32::NAN; m * n]);
        scalar::matmul(a, &b, &mut want, m, k, n);
        simd::matmul(a, &b, &mut got, m, k, n);
        // |a| ≤ 1.5, |b| ≤ 2.5: each output sums k terms of magnitude ≤ 3.75.
        let bound = tol(k, 3.75 * k as f32);
        for (w, g) in want.iter().zip(&got) {
            prop_assert!((w - g).abs() <= bound, "{w} vs {g}");
        }
        let x: Vec<f32> = b.iter().take(k).copied().chain(std::iter::repeat(1.0)).take(k).collect();
        let (mut yw, mut yg) = (vec![0.0; m], vec![0.0; m]);
        scalar::matvec(a, m, k, &x, &mut yw);
        simd::matvec(a, m, k, &x, &mut yg);
        for (w, g) in yw.iter().zip(&yg) {
            prop_assert!((w - g).abs() <= bound, "{w} vs {g}");
        }
    }
}

#[test]
fn nan_and_inf_propagate() {
    let a = [
        f32::NAN,
        f32::INFINITY,
        -1.0,
        f32::NEG_INFINITY,
        2.0,
        0.0,
        -0.0,
        3.0,
        f32::NAN,
    ];
    let mut want = [0.0; 9];
    let mut got = [0.0; 9];
    scalar::relu(&a, &mut want);
    simd::relu(&a, &mut got);
    for (w, g) in want.iter().zip(&got) {
        assert!(
            w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
            "{w} vs {g}"
        );
    }
    assert!(simd::dot(&a, &[1.0; 9]).is_nan());
}

/// Values spread over several orders of magnitude, both signs.
fn wide(max: usize) -> impl Strategy<Value = (Vec<f32>, usize)> {
    (0usize..max, 0usize..4)
        .prop_flat_map(|(len, off)| (prop::collection::vec(-30.0f32..30.0, len + off), Just(off)))
}

proptest! {
    #[test]
    fn more_elementwise_kernels_match((a, off) in vec_and_offset(300), alpha in -3.0f32..3.0) {
        let a = &a[off..];
        let b: Vec<f32> = a.iter().map(|x| x * 0.25 + if *x >= 0.0 { 1.5 } else { -1.5 }).collect();
        let (mut want, mut got) = (vec![0.0; a.len()], vec![0.0; a.len()]);
        scalar::sub(a, &b, &mut want);
        simd::sub(a, &b, &mut got);
        prop_assert_eq!(&want, &got);
        scalar::div(a, &b, &mut want);
        simd::div(a, &b, &mut got);
        prop_assert_eq!(&want, &got);
        scalar::scale(alpha, a, &mut want);
        simd::scale(alpha, a, &mut got);
        prop_assert_eq!(&want, &got);
        let (mut yw, mut yg) = (b.clone(), b.clone());
        scalar::axpy(alpha, a, &mut yw);
        simd::axpy(alpha, a, &mut yg);
        prop_assert_eq!(&yw, &yg);
    }

    #[test]
    fn transcendental_kernels_within_documented_error((x, off) in wide(300)) {
        let x = &x[off..];
        let (mut want, mut got) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        scalar::exp(x, &mut want);
        simd::exp(x, &mut got);
        for (w, g) in want.iter().zip(&got) {
            prop_assert!((w - g).abs() <= 4.0 * f32::EPSILON * w.abs(), "exp {} vs {}", w, g);
        }
        for (name, s, v, tol) in [
            ("sigmoid", scalar::sigmoid as fn(&[f32], &mut [f32]), simd::sigmoid as fn(&[f32], &mut [f32]), 1e-6f32),
            ("tanh", scalar::tanh, simd::tanh, 2e-6),
            ("gelu", scalar::gelu, simd::gelu, 4e-6),
            ("gelu_erf", scalar::gelu_erf, simd::gelu_erf, 4e-7),
        ] {
            s(x, &mut want);
            v(x, &mut got);
            for ((w, g), xi) in want.iter().zip(&got).zip(x) {
                prop_assert!((w - g).abs() <= tol * xi.abs().max(1.0), "{} at {}: {} vs {}", name, xi, w, g);
            }
        }
    }

    #[test]
    fn reductions_match((x, off) in wide(2000)) {
        let x = &x[off..];
        prop_assert_eq!(scalar::max(x).to_bits(), simd::max(x).to_bits());
        prop_assert_eq!(scalar::argmax(x), simd::argmax(x));
        let (want, got) = (scalar::l2_norm(x), simd::l2_norm(x));
        prop_assert!((want - got).abs() <= 1e-6 * want.max(1.0), "l2 {} vs {}", want, got);
    }

    #[test]
    fn layer_norm_matches(rows in 0usize..5, cols in 1usize..400, seed in any::<u32>(), shift in -100.0f32..100.0) {
        // Rows of 1 to 400 values (odd tails, the encoder's 384), off-centre by `shift`.
        let x: Vec<f32> = (0..rows * cols).map(|i| ((i as u32 ^ seed) % 2001) as f32 / 100.0 - 10.0 + shift).collect();
        let gamma: Vec<f32> = (0..cols).map(|j| 0.5 + (j % 7) as f32 * 0.25).collect();
        let beta: Vec<f32> = (0..cols).map(|j| (j % 5) as f32 * 0.1 - 0.2).collect();
        let (mut want, mut got) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        scalar::layer_norm_rows(&x, cols, &gamma, &beta, 1e-12, &mut want);
        simd::layer_norm_rows(&x, cols, &gamma, &beta, 1e-12, &mut got);
        for (w, g) in want.iter().zip(&got) {
            // f32 sums against the f64 reference, relative to the row's spread.
            prop_assert!((w - g).abs() <= 2e-4 * w.abs().max(1.0), "layer norm {} vs {}", w, g);
        }
    }

    #[test]
    fn softmax_and_log_softmax_match(rows in 0usize..6, cols in 1usize..70, seed in any::<u32>()) {
        let x: Vec<f32> = (0..rows * cols).map(|i| ((i as u32 ^ seed) % 4001) as f32 / 40.0 - 50.0).collect();
        let (mut want, mut got) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        scalar::softmax_rows(&x, cols, &mut want);
        simd::softmax_rows(&x, cols, &mut got);
        for (w, g) in want.iter().zip(&got) {
            prop_assert!((w - g).abs() <= 1e-6, "softmax {} vs {}", w, g);
        }
        scalar::log_softmax_rows(&x, cols, &mut want);
        simd::log_softmax_rows(&x, cols, &mut got);
        for (w, g) in want.iter().zip(&got) {
            prop_assert!((w - g).abs() <= 1e-5 * w.abs().max(1.0), "log_softmax {} vs {}", w, g);
        }
    }
}

#[test]
fn special_values_follow_the_scalar_contract() {
    let x = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -100.0,
        100.0,
        0.0,
        -0.0,
        1.0,
        2.0,
        3.0,
        4.0,
        5.0,
        6.0,
        7.0,
        8.0,
        9.0,
        10.0,
    ];
    let mut got = [0.0; 17];
    simd::exp(&x, &mut got);
    assert!(got[0].is_nan());
    assert_eq!(
        (got[1], got[2], got[3], got[4]),
        (f32::INFINITY, 0.0, 0.0, f32::INFINITY)
    );
    assert_eq!(got[5], 1.0);
    simd::sigmoid(&x, &mut got);
    assert!(got[0].is_nan());
    assert_eq!((got[1], got[2]), (1.0, 0.0));
    assert!(simd::max(&x).is_nan());
    assert_eq!(simd::argmax(&x), Some(0), "NaN counts as largest");
    assert_eq!(simd::max(&x[1..]), f32::INFINITY);
    assert_eq!(simd::argmax(&x[3..]), Some(1));
    assert_eq!(simd::argmax(&[]), None);
    assert_eq!(simd::max(&[]), f32::NEG_INFINITY);
    let mut p = [0.0; 3];
    simd::log_softmax_rows(&[1000.0, 1000.0, 1000.0], 3, &mut p);
    assert!(
        p.iter().all(|v| (v + 3f32.ln()).abs() < 1e-6),
        "stable at large logits: {p:?}"
    );
}

#[test]
fn the_parallel_path_matches_too() {
    // Past PAR_MIN (1M elements) the kernels split across threads.
    let n = (1 << 20) + 37;
    let a: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0)
        .collect();
    let b: Vec<f32> = a.iter().rev().map(|v| v * 0.5 + 11.0).collect();
    let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
    scalar::add(&a, &b, &mut want);
    simd::add(&a, &b, &mut got);
    assert_eq!(want, got);
    scalar::relu(&a, &mut want);
    simd::relu(&a, &mut got);
    assert_eq!(want, got);
    let mag: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
    assert!((scalar::dot(&a, &b) - simd::dot(&a, &b)).abs() <= tol(n, mag));
    let abs_sum: f32 = a.iter().map(|v| v.abs()).sum();
    assert!((a.iter().sum::<f32>() - simd::sum(&a)).abs() <= tol(n, abs_sum));
    assert!((scalar::l2_norm(&a) - simd::l2_norm(&a)).abs() <= 1e-5 * scalar::l2_norm(&a));
    let (m, k) = (1024, 1024); // m·k = PAR_MIN exactly
    let (mut yw, mut yg) = (vec![0.0; m], vec![0.0; m]);
    scalar::matvec(&a[..m * k], m, k, &b[..k], &mut yw);
    simd::matvec(&a[..m * k], m, k, &b[..k], &mut yg);
    for (w, g) in yw.iter().zip(&yg) {
        assert!((w - g).abs() <= tol(k, 200.0 * k as f32), "{w} vs {g}");
    }
}

/// On one thread a dot product too long for L2 reads both halves at once:
/// every element, around the halves' boundary and in the tail, must count
/// exactly once (ones at chosen places times their index: an exact sum).
#[test]
fn a_long_dot_on_one_thread_counts_every_element_once() {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for n in [1 << 19, (1 << 19) + 1, (1 << 19) + 37, (1 << 20) + 63] {
        let b: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let half = n / 2 - (n / 2) % 32;
        let places = [
            0,
            1,
            half - 1,
            half,
            half + 1,
            2 * half - 1,
            2 * half,
            n - 1,
        ];
        for at in places.map(|at| at.min(n - 1)) {
            let mut a = vec![0.0f32; n];
            a[at] = 1.0;
            a[(at + n / 3) % n] = 1.0;
            let want = (at + (at + n / 3) % n) as f32;
            assert_eq!(
                one.install(|| simd::dot(&a, &b)),
                want,
                "n {n}, one at {at}"
            );
        }
        let a: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0)
            .collect();
        let mag: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
        let got = one.install(|| simd::dot(&a, &b));
        assert!((scalar::dot(&a, &b) - got).abs() <= tol(n, mag), "n {n}");
    }
}
