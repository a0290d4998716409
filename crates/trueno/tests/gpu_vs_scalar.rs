//! Every GPU kernel against the scalar reference, on whatever adapter exists
//! (lavapipe in CI). Without an adapter the tests skip with a printed reason,
//! unless `TRUENO_REQUIRE_GPU=1`, which makes that a failure.
//!
//! Tolerances: the GPU sums in a different order than the scalar loop (trees
//! in reductions, FMA chains in matmul), so results agree to
//! `terms · ε · Σ|terms|` (ε = 2⁻²⁴); element-wise results agree exactly.

mod common;

use common::gpu;
use proptest::prelude::*;
use trueno::gpu::MatmulKernel;
use trueno::{TruenoError, scalar};

fn tol(terms: usize, mag: f32) -> f32 {
    (terms.max(1) as f32) * f32::EPSILON * mag.max(1.0)
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 100.0 - 10.0)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn elementwise_match_exactly(len in 0usize..3000, off in 0usize..4, seed in any::<u32>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let all = data(len + off, seed);
        let a = &all[off..];
        let b = data(len, seed ^ 7);
        let mut want = vec![0.0; len];
        for (entry, got) in [
            ("add", g.run_host(&[a, &b], |g, t| g.add(&t[0], &t[1])).unwrap().0),
            ("mul", g.run_host(&[a, &b], |g, t| g.mul(&t[0], &t[1])).unwrap().0),
            ("relu", g.run_host(&[a], |g, t| g.relu(&t[0])).unwrap().0),
        ] {
            match entry {
                "add" => scalar::add(a, &b, &mut want),
                "mul" => scalar::mul(a, &b, &mut want),
                _ => scalar::relu(a, &mut want),
            }
            prop_assert_eq!(&want, &got, "{}", entry);
        }
    }

    #[test]
    fn tanh_within_a_few_ulp(len in 0usize..3000, off in 0usize..4, seed in any::<u32>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let all = data(len + off, seed);
        let a = &all[off..];
        let got = g.run_host(&[a], |g, t| g.tanh(&t[0])).unwrap().0;
        prop_assert_eq!(got.len(), len);
        for (x, y) in a.iter().zip(&got) {
            // Drivers implement WGSL's tanh in different ways (lavapipe via exp);
            // 1e-6 absolute is a few ulp where tanh is near ±1 and loose enough near 0.
            prop_assert!((x.tanh() - y).abs() <= 1e-6 + 4.0 * f32::EPSILON * x.tanh().abs(), "tanh({}) = {}", x, y);
        }
    }

    #[test]
    fn reductions_within_reordering_bound(len in 0usize..5000, seed in any::<u32>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let a = data(len, seed);
        let b = data(len, seed ^ 3);
        let sum = g.run_host(&[&a], |g, t| g.sum(&t[0])).unwrap().0[0];
        let want: f32 = a.iter().sum();
        let mag: f32 = a.iter().map(|v| v.abs()).sum();
        prop_assert!((sum - want).abs() <= tol(len, mag), "sum {} vs {}", sum, want);
        let dot = g.run_host(&[&a, &b], |g, t| g.dot(&t[0], &t[1])).unwrap().0[0];
        let want = scalar::dot(&a, &b);
        let mag: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
        prop_assert!((dot - want).abs() <= tol(len, mag), "dot {} vs {}", dot, want);
        if len > 0 {
            let max = g.run_host(&[&a], |g, t| g.max(&t[0])).unwrap().0[0];
            prop_assert_eq!(max, a.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        }
    }

    #[test]
    fn softmax_and_bias_match(rows in 0usize..40, cols in 1usize..300, seed in any::<u32>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let x = data(rows * cols, seed);
        let mut want = vec![0.0; x.len()];
        scalar::softmax_rows(&x, cols, &mut want);
        let got = g.run_host(&[&x], |g, t| g.softmax_rows(&t[0], cols)).unwrap().0;
        for (w, v) in want.iter().zip(&got) {
            prop_assert!((w - v).abs() <= 1e-6 + 1e-5 * w.abs(), "{} vs {}", w, v);
        }
        let bias = data(cols, seed ^ 11);
        let got = g.run_host(&[&x, &bias], |g, t| g.bias_add(&t[0], &t[1])).unwrap().0;
        for (i, v) in got.iter().enumerate() {
            prop_assert_eq!(*v, x[i] + bias[i % cols]);
        }
    }

    #[test]
    fn matmul_and_matvec_match(m in 0usize..150, k in 0usize..70, n in 0usize..150, seed in any::<u32>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let a = data(m * k, seed);
        let b = data(k * n, seed ^ 5);
        let mut want = vec![0.0; m * n];
        scalar::matmul(&a, &b, &mut want, m, k, n);
        // |values| ≤ 10, so each output sums k products of magnitude ≤ 100.
        let bound = tol(k, 100.0 * k as f32);
        for kernel in MatmulKernel::ALL {
            let got = g.run_host(&[&a, &b], |g, t| g.matmul_with(kernel, &t[0], &t[1], m, k, n)).unwrap().0;
            prop_assert_eq!(got.len(), want.len());
            for (w, v) in want.iter().zip(&got) {
                prop_assert!((w - v).abs() <= bound, "{:?}: {} vs {}", kernel, w, v);
            }
        }
        let x = data(k, seed ^ 9);
        let mut yw = vec![0.0; m];
        scalar::matvec(&a, m, k, &x, &mut yw);
        let yg = g.run_host(&[&a, &x], |g, t| g.matvec(&t[0], m, k, &t[1])).unwrap().0;
        for (w, v) in yw.iter().zip(&yg) {
            prop_assert!((w - v).abs() <= bound, "{} vs {}", w, v);
        }
    }
}

#[test]
fn grids_past_65535_workgroups_are_tiled() {
    let Some(g) = gpu() else { return };
    let max = g.limits().max_compute_workgroups_per_dimension as usize;
    // One element-wise workgroup covers 256 elements: this needs max + 2 of them.
    let n = max * 256 + 300;
    let a: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let out = g.run_host(&[&a, &a], |g, t| g.add(&t[0], &t[1])).unwrap().0;
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, v)| *v == 2.0 * (i % 1000) as f32)
    );
    // One softmax workgroup per row: max + 2 one-column rows are all ones.
    let rows = max + 2;
    let p = g
        .run_host(&[&vec![3.0; rows]], |g, t| g.softmax_rows(&t[0], 1))
        .unwrap()
        .0;
    assert!(p.iter().all(|v| *v == 1.0));
}

#[test]
fn an_mlp_forward_stays_on_the_device() {
    let Some(g) = gpu() else { return };
    let (rows, inp, hid, out) = (5, 12, 33, 4);
    let x = data(rows * inp, 1);
    let w1 = data(inp * hid, 2)
        .iter()
        .map(|v| v * 0.05)
        .collect::<Vec<_>>();
    let b1 = data(hid, 3);
    let w2 = data(hid * out, 4)
        .iter()
        .map(|v| v * 0.05)
        .collect::<Vec<_>>();
    let b2 = data(out, 5);

    let t = [&x, &w1, &b1, &w2, &b2].map(|d| g.upload(d).unwrap());
    let h = g.matmul(&t[0], &t[1], rows, inp, hid).unwrap();
    let h = g.relu(&g.bias_add(&h, &t[2]).unwrap()).unwrap();
    let z = g
        .bias_add(&g.matmul(&h, &t[3], rows, hid, out).unwrap(), &t[4])
        .unwrap();
    let p = g.download(&g.softmax_rows(&z, out).unwrap()).unwrap();

    let mut hc = vec![0.0; rows * hid];
    scalar::matmul(&x, &w1, &mut hc, rows, inp, hid);
    for (i, v) in hc.iter_mut().enumerate() {
        *v = (*v + b1[i % hid]).max(0.0);
    }
    let mut zc = vec![0.0; rows * out];
    scalar::matmul(&hc, &w2, &mut zc, rows, hid, out);
    for (i, v) in zc.iter_mut().enumerate() {
        *v += b2[i % out];
    }
    let mut pc = vec![0.0; zc.len()];
    scalar::softmax_rows(&zc, out, &mut pc);
    for (a, b) in p.iter().zip(&pc) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn timings_and_shape_errors() {
    let Some(g) = gpu() else { return };
    let (out, t) = g
        .run_host(&[&[1.0, 2.0], &[3.0, 4.0]], |g, t| g.add(&t[0], &t[1]))
        .unwrap();
    assert_eq!(out, vec![4.0, 6.0]);
    assert!(t.total() > std::time::Duration::ZERO);
    let a = g.upload(&[1.0; 6]).unwrap();
    let b = g.upload(&[1.0; 5]).unwrap();
    assert!(matches!(
        g.add(&a, &b),
        Err(TruenoError::ShapeMismatch { op: "add", .. })
    ));
    assert!(matches!(
        g.matmul(&a, &b, 2, 3, 2),
        Err(TruenoError::ShapeMismatch {
            op: "matmul",
            operand: "b",
            ..
        })
    ));
    assert!(matches!(
        g.softmax_rows(&b, 2),
        Err(TruenoError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        g.bias_add(&a, &b),
        Err(TruenoError::ShapeMismatch { .. })
    ));
}

#[test]
fn oversized_tensors_are_errors_not_panics() {
    let Some(g) = gpu() else { return };
    // k = 0 makes the empty inputs valid; the 2^40-element output cannot exist.
    let empty = g.upload(&[]).unwrap();
    let err = g.matmul(&empty, &empty, 1 << 20, 0, 1 << 20).unwrap_err();
    assert!(
        matches!(err, TruenoError::Gpu(trueno::gpu::GpuError::TooLarge(_))),
        "{err}"
    );
    // The context is still usable afterwards.
    let one = g.upload(&[2.0]).unwrap();
    assert_eq!(g.download(&g.add(&one, &one).unwrap()).unwrap(), vec![4.0]);
}
