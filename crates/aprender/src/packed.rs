//! The SIMD forward pass on weights packed once per model.
//!
//! trueno's GEMM packs B into micro-kernel panels on every call; for a model
//! that is the same weights every request, and at small batches the copy is a
//! large share of the work. [`Packed`] packs each layer once, on the first
//! SIMD prediction, and the pass then runs each layer as one
//! `sgemm_packed` with bias and ReLU fused into the kernel's write-back.

use std::sync::OnceLock;

use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed_serial};
use trueno::{Backend, ops};

use crate::mlp::{Activation, Output};
use crate::{AprenderError, Dense, Mlp};

/// A lazily built set of packed layers. Clones share nothing; equality
/// ignores it (it is derived from the weights).
#[derive(Default)]
pub(crate) struct Packed(OnceLock<Vec<PackedMatrix>>);

impl Packed {
    fn layers(&self, layers: &[Dense]) -> &[PackedMatrix] {
        self.0.get_or_init(|| {
            layers
                .iter()
                .map(|l| PackedMatrix::pack(&l.weight, l.inputs, l.outputs))
                .collect()
        })
    }
}

impl Clone for Packed {
    fn clone(&self) -> Self {
        Packed::default()
    }
}

impl PartialEq for Packed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Packed(ready)"
        } else {
            "Packed(empty)"
        })
    }
}

/// Below this many multiply-adds a forward pass stays on one thread.
const PARALLEL_MIN_FLOPS: u64 = 1 << 21;

impl Mlp {
    /// [`Mlp::predict`] on the SIMD backend; `x` is already shape-checked.
    ///
    /// Rows are independent, so a large batch is split into one contiguous
    /// share of rows per thread, and each thread takes its rows through every
    /// layer with single-threaded GEMMs: one fork-join per pass instead of
    /// one per layer and k block, and each thread's activations stay in its cache.
    pub(crate) fn forward_simd(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, AprenderError> {
        use rayon::prelude::*;
        let packed = self.packed.layers(self.layers());
        let (features, outputs) = (self.n_features(), self.n_classes());
        let mut out = vec![0.0; rows * outputs];
        let threads = rayon::current_num_threads();
        if threads < 2 || rows < 2 * threads || self.forward_flops(rows) < PARALLEL_MIN_FLOPS {
            self.forward_rows(packed, x, rows, &mut out)?;
            return Ok(out);
        }
        let share = rows.div_ceil(threads);
        x.par_chunks(share * features)
            .zip(out.par_chunks_mut(share * outputs))
            .try_for_each(|(x, out)| self.forward_rows(packed, x, x.len() / features, out))?;
        Ok(out)
    }

    /// The forward pass of `rows` rows of `x` into `out`, on this thread.
    fn forward_rows(
        &self,
        packed: &[PackedMatrix],
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) -> Result<(), AprenderError> {
        let scaled = match &self.meta.scaler {
            Some(s) => {
                let mut copy = x.to_vec();
                s.transform_in_place(&mut copy, self.n_features())?;
                Some(copy)
            }
            None => None,
        };
        let layers = self.layers();
        let last = layers.len() - 1;
        let mut act: Vec<f32> = Vec::new();
        for (i, (layer, weights)) in layers.iter().zip(packed).enumerate() {
            let input: &[f32] = match (i, &scaled) {
                (0, Some(s)) => s,
                (0, None) => x,
                _ => &act,
            };
            let relu = i < last && self.hidden == Activation::Relu;
            let epi = if relu {
                Epilogue::BiasRelu(&layer.bias)
            } else {
                Epilogue::Bias(&layer.bias)
            };
            let mut z = vec![0.0; rows * layer.outputs];
            sgemm_packed_serial(
                rows,
                input,
                layer.inputs,
                weights,
                &mut z,
                layer.outputs,
                epi,
            );
            act = match (i == last, self.hidden, self.output) {
                (false, Activation::Tanh, _) => {
                    let mut a = vec![0.0; z.len()];
                    ops::tanh(Backend::Simd, &z, &mut a)?;
                    a
                }
                (true, _, Output::Softmax) => {
                    ops::softmax_rows(Backend::Simd, &z, layer.outputs, out)?;
                    return Ok(());
                }
                _ => z,
            };
        }
        out.copy_from_slice(&act);
        Ok(())
    }
}
