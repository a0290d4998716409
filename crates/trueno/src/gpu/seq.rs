//! The sequence kernels on resident tensors (`shaders/sequence.wgsl`): what a
//! transformer's forward pass needs besides matmul, so that a whole pass runs
//! on the device between one upload of token ids and one download of results.

use super::context::Shader;
use super::kernels::{same_len, u32_dim};
use super::{GpuContext, GpuError, GpuTensor};
use crate::{Attention, SegmentPool, TruenoError};

/// Where each sequence of a stacked batch lies, on the device: `(start, len)`
/// per token (for attention) and per sequence (for pooling).
#[derive(Debug)]
pub struct GpuSpans {
    per_token: GpuTensor,
    per_sequence: GpuTensor,
    tokens: usize,
    sequences: usize,
}

impl GpuSpans {
    /// Rows of the batch.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Sequences of the batch.
    pub fn sequences(&self) -> usize {
        self.sequences
    }
}

/// What [`GpuContext::bias_act`] applies after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The sum as it is.
    Identity,
    /// Exact GELU, `x Φ(x)` (erf within 1.2e-7).
    GeluErf,
    /// GELU, tanh form.
    GeluTanh,
}

impl Activation {
    fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::GeluErf => 1,
            Activation::GeluTanh => 2,
        }
    }
}

fn rows_of(op: &'static str, x: &GpuTensor, cols: usize) -> Result<usize, TruenoError> {
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(TruenoError::ShapeMismatch {
            op,
            operand: "x",
            expected: x.len().next_multiple_of(cols.max(1)),
            actual: x.len(),
        });
    }
    Ok(x.len() / cols)
}

impl GpuContext {
    fn run_sequence(
        &self,
        entry: &'static str,
        bindings: &[(u32, &wgpu::Buffer)],
        params: [u32; 4],
        groups: u64,
        what: &str,
    ) -> Result<(), GpuError> {
        let grid = self.grid(groups, what)?;
        self.dispatch(Shader::Sequence, entry, bindings, params, grid)
    }

    /// Uploads the layout of a batch of sequences of `lens` rows each (none empty).
    pub fn upload_spans(&self, lens: &[usize]) -> Result<GpuSpans, TruenoError> {
        let tokens = crate::seq::total("upload_spans", lens)?;
        u32_dim(tokens, "a batch of sequences")?;
        let mut per_token = Vec::with_capacity(2 * tokens);
        let mut per_sequence = Vec::with_capacity(2 * lens.len());
        for span in crate::seq::spans(lens) {
            let pair = [span.start as u32, span.len() as u32];
            per_sequence.extend(pair);
            for _ in span {
                per_token.extend(pair);
            }
        }
        Ok(GpuSpans {
            per_token: self.upload_u32(&per_token)?,
            per_sequence: self.upload_u32(&per_sequence)?,
            tokens,
            sequences: lens.len(),
        })
    }

    /// `out[r] = Σ_t table[idx[r·per_row + t]]`, rows of `cols` values; `idx`
    /// holds `u32`s ([`upload_u32`](Self::upload_u32)). Indices are not
    /// checked on the device (a bad one reads some value of `table`, never
    /// outside it): check them before uploading, as `ops::gather_add_rows` does.
    pub fn gather_add_rows(
        &self,
        table: &GpuTensor,
        cols: usize,
        idx: &GpuTensor,
        per_row: usize,
    ) -> Result<GpuTensor, TruenoError> {
        rows_of("gather_add_rows", table, cols)?;
        let rows = rows_of("gather_add_rows", idx, per_row.max(1))?;
        let len = rows.checked_mul(cols).ok_or(TruenoError::ShapeOverflow {
            op: "gather_add_rows",
        })?;
        let out = self.output(len)?;
        if len == 0 {
            return Ok(out);
        }
        let params = [
            u32_dim(rows, "gather rows")?,
            u32_dim(cols, "a gathered row")?,
            u32_dim(per_row, "indices per row")?,
            0,
        ];
        self.run_sequence(
            "gather_add_rows",
            &[(0, table.buffer()), (4, idx.buffer()), (2, out.buffer())],
            params,
            (len as u64).div_ceil(128),
            "a gather",
        )?;
        Ok(out)
    }

    /// `LN(x + bias + residual) · γ + β` per row of `cols` values, with
    /// `affine = [bias | γ | β]` (`3·cols` values) and the mean and variance
    /// of each row in f32 (two passes).
    pub fn add_layer_norm(
        &self,
        x: &GpuTensor,
        residual: Option<&GpuTensor>,
        affine: &GpuTensor,
        cols: usize,
        eps: f32,
    ) -> Result<GpuTensor, TruenoError> {
        let rows = rows_of("add_layer_norm", x, cols)?;
        if let Some(r) = residual {
            same_len("add_layer_norm", "residual", x.len(), r.len())?;
        }
        same_len("add_layer_norm", "affine", 3 * cols, affine.len())?;
        let out = self.output(x.len())?;
        if rows == 0 {
            return Ok(out);
        }
        let params = [
            u32_dim(rows, "layer-norm rows")?,
            u32_dim(cols, "a layer-norm row")?,
            eps.to_bits(),
            u32::from(residual.is_some()),
        ];
        let aux = residual.unwrap_or(x);
        self.run_sequence(
            "add_layer_norm",
            &[
                (0, x.buffer()),
                (1, aux.buffer()),
                (5, affine.buffer()),
                (2, out.buffer()),
            ],
            params,
            rows as u64,
            "layer-norm rows",
        )?;
        Ok(out)
    }

    /// `act(x[r, c] + bias[c])` for `x` with rows of `bias.len()` values.
    pub fn bias_act(
        &self,
        x: &GpuTensor,
        bias: &GpuTensor,
        act: Activation,
    ) -> Result<GpuTensor, TruenoError> {
        rows_of("bias_act", x, bias.len())?;
        let out = self.output(x.len())?;
        if x.is_empty() {
            return Ok(out);
        }
        let params = [
            u32_dim(x.len(), "a bias_act operand")?,
            u32_dim(bias.len(), "a bias")?,
            act.code(),
            0,
        ];
        self.run_sequence(
            "bias_act",
            &[(0, x.buffer()), (1, bias.buffer()), (2, out.buffer())],
            params,
            (x.len() as u64).div_ceil(128),
            "a bias_act operand",
        )?;
        Ok(out)
    }

    /// Multi-head attention (see [`Attention`]) of `qkv` (rows of
    /// `3 · shape.width()`) within the sequences of `spans`; heads of at most
    /// 128 values.
    pub fn attention(
        &self,
        shape: Attention,
        qkv: &GpuTensor,
        spans: &GpuSpans,
    ) -> Result<GpuTensor, TruenoError> {
        let op = "attention";
        let w = shape.width();
        if shape.head_dim == 0 || shape.head_dim > 128 {
            return Err(GpuError::TooLarge(format!(
                "attention heads of {} values (the kernel takes 1 to 128)",
                shape.head_dim
            ))
            .into());
        }
        let need = spans
            .tokens
            .checked_mul(3 * w)
            .ok_or(TruenoError::ShapeOverflow { op })?;
        same_len(op, "qkv", need, qkv.len())?;
        let out = self.output(spans.tokens * w)?;
        if spans.tokens == 0 {
            return Ok(out);
        }
        // One workgroup per token and four heads (see the shader).
        let groups = (spans.tokens as u64) * shape.heads.div_ceil(4) as u64;
        let params = [
            u32_dim(spans.tokens, "attention tokens")?,
            u32_dim(shape.heads, "attention heads")?,
            u32_dim(shape.head_dim, "an attention head")?,
            u32::from(shape.causal),
        ];
        self.run_sequence(
            op,
            &[
                (0, qkv.buffer()),
                (4, spans.per_token.buffer()),
                (2, out.buffer()),
            ],
            params,
            groups,
            "attention (tokens × heads)",
        )?;
        Ok(out)
    }

    /// One row of `cols` per sequence of `spans`, pooled from `x`'s rows.
    pub fn segment_pool(
        &self,
        x: &GpuTensor,
        cols: usize,
        spans: &GpuSpans,
        pool: SegmentPool,
    ) -> Result<GpuTensor, TruenoError> {
        let rows = rows_of("segment_pool", x, cols)?;
        same_len("segment_pool", "x (rows)", spans.tokens, rows)?;
        let out = self.output(spans.sequences * cols)?;
        if spans.sequences == 0 {
            return Ok(out);
        }
        let mode = match pool {
            SegmentPool::Mean => 0,
            SegmentPool::First => 1,
            SegmentPool::Last => 2,
        };
        let params = [
            u32_dim(spans.sequences, "pooled sequences")?,
            u32_dim(cols, "a pooled row")?,
            mode,
            0,
        ];
        self.run_sequence(
            "segment_pool",
            &[
                (0, x.buffer()),
                (4, spans.per_sequence.buffer()),
                (2, out.buffer()),
            ],
            params,
            spans.sequences as u64,
            "pooled sequences",
        )?;
        Ok(out)
    }

    /// Each row of `cols` values divided by `max(‖row‖, 1e-12)`.
    pub fn l2_normalize_rows(&self, x: &GpuTensor, cols: usize) -> Result<GpuTensor, TruenoError> {
        let rows = rows_of("l2_normalize_rows", x, cols)?;
        let out = self.output(x.len())?;
        if rows == 0 {
            return Ok(out);
        }
        let params = [
            u32_dim(rows, "normalised rows")?,
            u32_dim(cols, "a normalised row")?,
            0,
            0,
        ];
        self.run_sequence(
            "l2_normalize_rows",
            &[(0, x.buffer()), (2, out.buffer())],
            params,
            rows as u64,
            "normalised rows",
        )?;
        Ok(out)
    }
}
