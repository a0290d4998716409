//! The sequence kernels (attention, gathers, pooling, normalisation, the GPU's
//! fused layer norm and bias + activation) on SIMD and on the GPU against the
//! scalar reference: batches of sequences of 1 to 256 rows, odd widths and
//! head sizes. GPU cases run on whatever adapter exists (lavapipe in CI) and
//! skip with a printed reason without one, unless `TRUENO_REQUIRE_GPU=1`.

mod common;

use common::gpu;
use proptest::prelude::*;
use trueno::gpu::{Activation, GpuContext};
use trueno::{Attention, Backend, SegmentPool, TruenoError, ops, scalar};

fn data(len: usize, seed: u32, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((((i as u32).wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 1000.0 - 1.0) * scale
        })
        .collect()
}

/// Sequence lengths: mostly short, sometimes exactly 1 or 256, or past 256
/// (the GPU attention's block of keys).
fn lens() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![3 => 1usize..40, 1 => Just(1usize), 1 => Just(256usize), 1 => Just(300usize)],
        1..5,
    )
}

fn close(what: &str, want: &[f32], got: &[f32], tol: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(want.len(), got.len());
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        prop_assert!(
            (w - g).abs() <= tol * w.abs().max(1.0),
            "{} [{}]: {} vs {}",
            what,
            i,
            w,
            g
        );
    }
    Ok(())
}

/// The GPU result of `f`, or `None` without an adapter.
fn on_gpu(
    f: impl FnOnce(&GpuContext) -> Result<trueno::gpu::GpuTensor, TruenoError>,
) -> Option<Vec<f32>> {
    let g = gpu()?;
    let t = f(g).expect("the GPU kernel runs");
    Some(g.download(&t).expect("download"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn attention_matches(lens in lens(), heads in 1usize..7, head_dim in prop_oneof![Just(1usize), 3usize..40, Just(64usize), Just(128usize)],
                         causal in any::<bool>(), seed in any::<u32>()) {
        let shape = Attention { heads, head_dim, causal };
        let tokens: usize = lens.iter().sum();
        let qkv = data(tokens * 3 * shape.width(), seed, 2.0);
        let mut want = vec![0.0; tokens * shape.width()];
        ops::attention(Backend::Scalar, shape, &qkv, &lens, &mut want).unwrap();
        let mut got = vec![f32::NAN; want.len()];
        ops::attention(Backend::Simd, shape, &qkv, &lens, &mut got).unwrap();
        close("simd attention", &want, &got, 2e-5)?;
        if let Some(got) = on_gpu(|g| {
            let spans = g.upload_spans(&lens)?;
            g.attention(shape, &g.upload(&qkv)?, &spans)
        }) {
            close("gpu attention", &want, &got, 2e-5)?;
        }
    }

    #[test]
    fn gathers_match(rows in 0usize..300, cols in 1usize..50, tables in 1usize..4, seed in any::<u32>()) {
        let sizes: Vec<usize> = (0..tables).map(|t| 1 + (seed as usize >> t) % 40).collect();
        let data_t: Vec<Vec<f32>> = sizes.iter().enumerate().map(|(t, &n)| data(n * cols, seed ^ t as u32, 3.0)).collect();
        let refs: Vec<&[f32]> = data_t.iter().map(Vec::as_slice).collect();
        let idx: Vec<u32> = (0..rows * tables).map(|i| ((i * 7 + seed as usize) % sizes[i % tables]) as u32).collect();
        let mut want = vec![0.0; rows * cols];
        ops::gather_add_rows(Backend::Scalar, &refs, cols, &idx, &mut want).unwrap();
        for backend in [Backend::Simd, Backend::Gpu] {
            if backend == Backend::Gpu && gpu().is_none() {
                continue;
            }
            let mut got = vec![f32::NAN; want.len()];
            let run = if backend == Backend::Gpu {
                gpu_gather(&refs, cols, &idx, &mut got)
            } else {
                ops::gather_add_rows(backend, &refs, cols, &idx, &mut got)
            };
            run.unwrap();
            close("gather", &want, &got, 1e-6)?;
        }
    }

    #[test]
    fn pooling_and_normalising_match(lens in lens(), cols in 1usize..400, pool in 0u8..3, seed in any::<u32>()) {
        let pool = [SegmentPool::Mean, SegmentPool::First, SegmentPool::Last][pool as usize];
        let tokens: usize = lens.iter().sum();
        let x = data(tokens * cols, seed, 5.0);
        let mut want = vec![0.0; lens.len() * cols];
        ops::segment_pool(Backend::Scalar, &x, cols, &lens, pool, &mut want).unwrap();
        let mut got = vec![f32::NAN; want.len()];
        ops::segment_pool(Backend::Simd, &x, cols, &lens, pool, &mut got).unwrap();
        close("simd pool", &want, &got, 1e-5)?;
        let mut unit = vec![0.0; want.len()];
        ops::l2_normalize_rows(Backend::Scalar, &want, cols, &mut unit).unwrap();
        ops::l2_normalize_rows(Backend::Simd, &want, cols, &mut got).unwrap();
        close("simd l2", &unit, &got, 1e-6)?;
        if let Some(got) = on_gpu(|g| {
            let spans = g.upload_spans(&lens)?;
            g.segment_pool(&g.upload(&x)?, cols, &spans, pool)
        }) {
            close("gpu pool", &want, &got, 1e-5)?;
        }
        if let Some(got) = on_gpu(|g| g.l2_normalize_rows(&g.upload(&want)?, cols)) {
            close("gpu l2", &unit, &got, 1e-6)?;
        }
    }

    #[test]
    fn gpu_layer_norm_and_bias_act_match(rows in 0usize..40, cols in 1usize..800, seed in any::<u32>(), shift in -50.0f32..50.0) {
        let Some(_) = gpu() else { return Ok(()) };
        let x: Vec<f32> = data(rows * cols, seed, 10.0).iter().map(|v| v + shift).collect();
        let res = data(rows * cols, seed ^ 1, 4.0);
        let bias = data(cols, seed ^ 2, 1.0);
        let gamma: Vec<f32> = (0..cols).map(|j| 0.5 + (j % 7) as f32 * 0.25).collect();
        let beta = data(cols, seed ^ 3, 0.3);
        let mut sum: Vec<f32> = x.iter().zip(&res).enumerate().map(|(i, (a, r))| a + r + bias[i % cols]).collect();
        let mut want = vec![0.0; sum.len()];
        scalar::layer_norm_rows(&sum, cols, &gamma, &beta, 1e-12, &mut want);
        let affine = [bias.clone(), gamma.clone(), beta.clone()].concat();
        let got = on_gpu(|g| g.add_layer_norm(&g.upload(&x)?, Some(&g.upload(&res)?), &g.upload(&affine)?, cols, 1e-12)).unwrap();
        // f32 statistics against the f64 reference, relative to the row's spread.
        close("gpu add_layer_norm", &want, &got, 2e-4)?;
        for (act, reference) in [
            (Activation::GeluErf, scalar::gelu_erf as fn(&[f32], &mut [f32])),
            (Activation::GeluTanh, scalar::gelu),
        ] {
            sum = x.iter().enumerate().map(|(i, a)| a + bias[i % cols]).collect();
            reference(&sum.clone(), &mut sum);
            let got = on_gpu(|g| g.bias_act(&g.upload(&x)?, &g.upload(&bias)?, act)).unwrap();
            close("gpu bias_act", &sum, &got, 2e-6)?;
        }
    }
}

fn gpu_gather(
    tables: &[&[f32]],
    cols: usize,
    idx: &[u32],
    out: &mut [f32],
) -> Result<(), TruenoError> {
    // The checked entry point uses the process's shared context, which a test
    // run may not be allowed to open on a software adapter: do what it does
    // on this one.
    let g = gpu().expect("checked");
    let mut offset = 0u32;
    let mut offsets = Vec::new();
    for t in tables {
        offsets.push(offset);
        offset += (t.len() / cols) as u32;
    }
    let shifted: Vec<u32> = idx
        .iter()
        .enumerate()
        .map(|(i, &v)| v + offsets[i % tables.len()])
        .collect();
    let t = g.gather_add_rows(
        &g.upload(&tables.concat())?,
        cols,
        &g.upload_u32(&shifted)?,
        tables.len(),
    )?;
    out.copy_from_slice(&g.download(&t)?);
    Ok(())
}

#[test]
fn bad_shapes_and_indices_are_named_errors() {
    let shape = Attention {
        heads: 2,
        head_dim: 2,
        causal: false,
    };
    let mut out = vec![0.0; 4 * 3];
    let qkv = vec![0.0; 3 * 4 * 3];
    assert!(matches!(
        ops::attention(Backend::Simd, shape, &qkv, &[2, 0, 1], &mut out),
        Err(TruenoError::EmptySequence { sequence: 1, .. })
    ));
    assert!(matches!(
        ops::attention(Backend::Simd, shape, &qkv, &[2, 2], &mut out),
        Err(TruenoError::ShapeMismatch { operand: "qkv", .. })
    ));
    let table = [1.0, 2.0, 3.0, 4.0];
    let mut row = [9.0; 2];
    assert!(matches!(
        ops::gather_add_rows(Backend::Simd, &[&table], 2, &[2], &mut row),
        Err(TruenoError::IndexOutOfRange {
            row: 0,
            table: 0,
            index: 2,
            len: 2,
            ..
        })
    ));
    assert_eq!(row, [9.0; 2], "a refused call writes nothing");
    ops::gather_add_rows(Backend::Simd, &[&table, &table], 2, &[1, 0], &mut row).unwrap();
    assert_eq!(row, [4.0, 6.0]);
    let mut pooled = [0.0; 2];
    assert!(matches!(
        ops::segment_pool(
            Backend::Simd,
            &table,
            2,
            &[3],
            SegmentPool::Mean,
            &mut pooled
        ),
        Err(TruenoError::ShapeMismatch { operand: "x", .. })
    ));
}

#[test]
fn a_causal_token_ignores_the_tokens_after_it() {
    let shape = Attention {
        heads: 1,
        head_dim: 1,
        causal: true,
    };
    // q = k = 1 for both tokens; values 2 then 4: token 0 sees only itself.
    let qkv = [1.0, 1.0, 2.0, 1.0, 1.0, 4.0];
    for backend in [Backend::Scalar, Backend::Simd] {
        let mut out = [0.0; 2];
        ops::attention(backend, shape, &qkv, &[2], &mut out).unwrap();
        assert_eq!(out, [2.0, 3.0], "{backend}");
    }
}
