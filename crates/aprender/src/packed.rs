//! The SIMD forward pass on weights packed once per model.
//!
//! trueno's GEMM packs B into micro-kernel panels on every call; for a model
//! that is the same weights every request, and at small batches the copy is a
//! large share of the work. [`Packed`] packs each layer once, on the first
//! SIMD prediction, and the pass then runs each layer as one
//! `sgemm_packed` with bias and ReLU fused into the kernel's write-back.

use std::sync::Mutex;

use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed_serial};
use trueno::{Backend, MatMut, MatRef, ops};

use crate::mlp::{Activation, Output};
use crate::screen::{Screened, non_finite_rows};
use crate::{AprenderError, Dense, Mlp};

/// Every layer's weights packed for the SIMD GEMM, on the first SIMD prediction.
pub(crate) type Packed = crate::derived::Derived<Vec<PackedMatrix>>;

fn packed_layers<'a>(packed: &'a Packed, layers: &[Dense]) -> &'a [PackedMatrix] {
    packed.get_or_init(|| {
        layers
            .iter()
            .map(|l| PackedMatrix::pack(&l.weight, l.inputs, l.outputs))
            .collect()
    })
}

thread_local! {
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Rows taken through all layers at once (see `forward_simd`).
const CHUNK_ROWS: usize = 128;

/// Below this many multiply-adds a forward pass stays on one thread.
const PARALLEL_MIN_FLOPS: u64 = 1 << 21;

impl Mlp {
    /// [`Mlp::predict`] on the SIMD backend; `x` is already shape-checked.
    /// With `screen`, each task also lists its rows holding a NaN or an
    /// infinity (see [`Mlp::predict_screened`]).
    ///
    /// Rows are independent, so a batch is split into one contiguous share of
    /// rows per thread (at most `CHUNK_ROWS` each, so a large batch becomes
    /// more tasks than threads), and each task takes its rows through every
    /// layer with single-threaded GEMMs: one fork-join per pass instead of
    /// one per layer and k block, and the activations stay in the core's cache.
    pub(crate) fn forward_simd(
        &self,
        x: &[f32],
        rows: usize,
        screen: bool,
    ) -> Result<Screened, AprenderError> {
        use rayon::prelude::*;
        let packed = packed_layers(&self.packed, self.layers());
        let (features, outputs) = (self.n_features(), self.n_classes());
        let mut out = vec![0.0; rows * outputs];
        let threads = rayon::current_num_threads();
        let parallel =
            threads >= 2 && rows >= 2 * threads && self.forward_flops(rows) >= PARALLEL_MIN_FLOPS;
        let share = if parallel {
            rows.div_ceil(threads)
        } else {
            rows
        };
        // At most CHUNK_ROWS rows go through the layers together: their
        // activations then stay in L2 beside the weights instead of streaming
        // a whole large batch through L3 once per layer.
        let share = share.clamp(1, CHUNK_ROWS);
        // Bad rows are rare: a lock taken only when a chunk has some.
        let bad_rows = Mutex::new(Vec::new());
        let run = |(chunk, (x, out)): (usize, (&[f32], &mut [f32]))| {
            self.forward_rows(packed, x, x.len() / features, out)?;
            // After the layers the rows are in this core's cache: the scan is
            // an L2 read, where a scan first would stall on memory.
            if screen {
                let bad = non_finite_rows(x, features);
                if !bad.is_empty() {
                    let mut all = bad_rows.lock().unwrap_or_else(|e| e.into_inner());
                    all.extend(bad.into_iter().map(|r| r + chunk * share));
                }
            }
            Ok::<_, AprenderError>(())
        };
        if parallel {
            x.par_chunks(share * features)
                .zip(out.par_chunks_mut(share * outputs))
                .enumerate()
                .try_for_each(run)?;
        } else {
            x.chunks(share * features)
                .zip(out.chunks_mut(share * outputs))
                .enumerate()
                .try_for_each(run)?;
        }
        let mut bad_rows = bad_rows.into_inner().unwrap_or_else(|e| e.into_inner());
        bad_rows.sort_unstable();
        Ok(Screened { out, bad_rows })
    }

    /// The forward pass of `rows` rows of `x` into `out`, on this thread.
    fn forward_rows(
        &self,
        packed: &[PackedMatrix],
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) -> Result<(), AprenderError> {
        // Two activation buffers per thread, reused across calls: a fresh
        // half-megabyte vector per layer costs its page faults every pass, and
        // two threads faulting at once serialise on the address-space lock.
        let (mut prev, mut next) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let result = self.layers_into(packed, x, rows, out, &mut prev, &mut next);
        SCRATCH.with(|s| *s.borrow_mut() = (prev, next));
        result
    }

    fn layers_into(
        &self,
        packed: &[PackedMatrix],
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        prev: &mut Vec<f32>,
        next: &mut Vec<f32>,
    ) -> Result<(), AprenderError> {
        let scaled = match &self.meta.scaler {
            Some(s) => {
                prev.clear();
                prev.extend_from_slice(x);
                s.transform_in_place(prev, self.n_features())?;
                true
            }
            None => false,
        };
        let layers = self.layers();
        let last = layers.len() - 1;
        for (i, (layer, weights)) in layers.iter().zip(packed).enumerate() {
            let input: &[f32] = if i == 0 && !scaled { x } else { prev };
            let relu = i < last && self.hidden == Activation::Relu;
            let epi = if relu {
                Epilogue::BiasRelu(&layer.bias)
            } else {
                Epilogue::Bias(&layer.bias)
            };
            let len = rows * layer.outputs;
            let z: &mut [f32] = if i == last {
                out
            } else {
                next.resize(len, 0.0);
                &mut next[..len]
            };
            sgemm_packed_serial(
                MatRef::new(input, rows, layer.inputs),
                weights,
                MatMut::new(z, rows, layer.outputs),
                epi,
            );
            if i == last {
                if self.output == Output::Softmax {
                    prev.clear();
                    prev.extend_from_slice(out);
                    ops::softmax_rows(Backend::Simd, prev, layer.outputs, out)?;
                }
                return Ok(());
            }
            if self.hidden == Activation::Tanh {
                prev.resize(len, 0.0);
                ops::tanh(Backend::Simd, &next[..len], &mut prev[..len])?;
            } else {
                std::mem::swap(prev, next);
            }
            prev.truncate(len);
        }
        Ok(())
    }
}
