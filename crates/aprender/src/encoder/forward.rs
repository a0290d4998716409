//! The encoder's forward pass on the CPU backends: embeddings, post-norm
//! transformer layers, pooling and normalisation, over a batch of token
//! sequences.
//!
//! Tokens of every sequence are stacked into one matrix, so the dense layers
//! are single GEMMs over all of them (the query, key and value projections one
//! GEMM of three times the width; on SIMD through weights packed once, bias
//! and GELU fused into the write-back); attention, pooling and the gathers are
//! trueno's sequence kernels, which see each sequence's own tokens only, so no
//! padding is ever computed and no mask is needed. The GPU pass is `gpu.rs`.

use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed};
use trueno::{Attention, Backend, MatMut, MatRef, SegmentPool, ops};

use super::config::{EncoderConfig, Gelu, Pooling};
use super::tokenize::Tokens;
use super::weights::{EncoderWeights, Linear, Norm};
use crate::error::AprenderError;

/// One layer's dense weights as the passes use them: query, key and value
/// fused into one `3·hidden × hidden` layer, then the attention output and
/// the feed-forward layers.
#[derive(Debug, Clone)]
pub(crate) struct PreparedLayer {
    pub(crate) dense: [Linear; 4],
    /// The same four as `Wᵀ` packed for the SIMD GEMM kernel.
    packed: [PackedMatrix; 4],
}

/// Every layer, prepared once per encoder (on first use).
pub(crate) type Prepared = Vec<PreparedLayer>;

/// Query, key and value stacked into one layer: its output row is `[q | k | v]`.
fn fuse_qkv(q: &Linear, k: &Linear, v: &Linear) -> Linear {
    Linear {
        weight: [&q.weight[..], &k.weight, &v.weight].concat(),
        bias: [&q.bias[..], &k.bias, &v.bias].concat(),
        inputs: q.inputs,
        outputs: q.outputs + k.outputs + v.outputs,
    }
}

/// Fuses and packs every layer's weights.
pub(crate) fn prepare(w: &EncoderWeights) -> Prepared {
    w.layers
        .iter()
        .map(|l| {
            let dense = [
                fuse_qkv(&l.query, &l.key, &l.value),
                l.attention_out.clone(),
                l.ffn_in.clone(),
                l.ffn_out.clone(),
            ];
            let packed = std::array::from_fn(|i| {
                PackedMatrix::pack(&dense[i].transposed(), dense[i].inputs, dense[i].outputs)
            });
            PreparedLayer { dense, packed }
        })
        .collect()
}

/// `y = act(x · Wᵀ + b)` for the `rows × inputs` matrix `x`: through the
/// packed weights (bias and activation fused into the write-back) on SIMD,
/// else a GEMM on `backend` (bias loaded into C first) and the activation.
fn dense(
    backend: Backend,
    l: &Linear,
    packed: &PackedMatrix,
    x: &[f32],
    rows: usize,
    act: Option<Gelu>,
) -> Result<Vec<f32>, AprenderError> {
    let mut y = vec![0.0; rows * l.outputs];
    if backend == Backend::Simd {
        let epilogue = match act {
            None => Epilogue::Bias(&l.bias),
            Some(Gelu::Erf) => Epilogue::BiasGeluErf(&l.bias),
            Some(Gelu::Tanh) => Epilogue::BiasGeluTanh(&l.bias),
        };
        sgemm_packed(
            MatRef::new(x, rows, l.inputs),
            packed,
            MatMut::new(&mut y, rows, l.outputs),
            epilogue,
        );
        return Ok(y);
    }
    for row in y.chunks_exact_mut(l.outputs) {
        row.copy_from_slice(&l.bias);
    }
    ops::sgemm(
        backend,
        1.0,
        MatRef::new(x, rows, l.inputs),
        MatRef::new(&l.weight, l.outputs, l.inputs).t(),
        1.0,
        MatMut::new(&mut y, rows, l.outputs),
    )?;
    let Some(act) = act else { return Ok(y) };
    let mut out = vec![0.0; y.len()];
    match act {
        Gelu::Erf => ops::gelu_erf(backend, &y, &mut out)?,
        Gelu::Tanh => ops::gelu(backend, &y, &mut out)?,
    }
    Ok(out)
}

fn norm(
    backend: Backend,
    n: &Norm,
    x: &[f32],
    cols: usize,
    eps: f32,
) -> Result<Vec<f32>, AprenderError> {
    let mut out = vec![0.0; x.len()];
    ops::layer_norm_rows(backend, x, cols, &n.gamma, &n.beta, eps, &mut out)?;
    Ok(out)
}

/// Checks every id against the model's tables before any is gathered.
pub(crate) fn check(cfg: &EncoderConfig, seqs: &[Tokens]) -> Result<(), AprenderError> {
    for (s, t) in seqs.iter().enumerate() {
        let bad = |what: String| Err(AprenderError::InvalidInput(format!("sequence {s}: {what}")));
        if t.ids.is_empty() {
            return bad("no tokens".into());
        }
        if t.ids.len() > cfg.max_positions {
            return bad(format!(
                "{} tokens, the model has {} positions",
                t.ids.len(),
                cfg.max_positions
            ));
        }
        if t.type_ids.len() != t.ids.len() {
            return bad("token types and ids differ in length".into());
        }
        if let Some(&id) = t.ids.iter().find(|&&i| i as usize >= cfg.vocab) {
            return bad(format!(
                "token id {id} is outside the vocabulary of {}",
                cfg.vocab
            ));
        }
        if let Some(&ty) = t.type_ids.iter().find(|&&i| i as usize >= cfg.type_vocab) {
            return bad(format!(
                "token type {ty} is outside the {} types",
                cfg.type_vocab
            ));
        }
    }
    Ok(())
}

/// Splits `seqs` into runs of at most `tokens` tokens (a longer sequence runs
/// alone) and concatenates what `pass` returns for each.
pub(crate) fn in_passes(
    seqs: &[Tokens],
    tokens: usize,
    mut pass: impl FnMut(&[Tokens]) -> Result<Vec<f32>, AprenderError>,
) -> Result<Vec<f32>, AprenderError> {
    let mut out = Vec::new();
    let mut rest = seqs;
    while !rest.is_empty() {
        let mut sum = 0;
        let take = rest
            .iter()
            .take_while(|t| {
                sum += t.ids.len();
                sum <= tokens
            })
            .count()
            .max(1);
        out.extend(pass(&rest[..take])?);
        rest = &rest[take..];
    }
    Ok(out)
}

/// Per token, its (word, position, type) rows: the embedding gather's indices.
pub(crate) fn gather_indices(seqs: &[Tokens]) -> Vec<u32> {
    seqs.iter()
        .flat_map(|t| {
            t.ids
                .iter()
                .zip(&t.type_ids)
                .enumerate()
                .flat_map(|(pos, (&id, &ty))| [id, pos as u32, ty])
        })
        .collect()
}

/// The attention shape of `cfg` (bidirectional).
pub(crate) fn attention_shape(cfg: &EncoderConfig) -> Attention {
    Attention {
        heads: cfg.heads,
        head_dim: cfg.head_dim(),
        causal: false,
    }
}

/// What `cfg.pooling` is among trueno's sequence poolings.
pub(crate) fn segment_pool(p: Pooling) -> SegmentPool {
    match p {
        Pooling::Mean => SegmentPool::Mean,
        Pooling::Cls => SegmentPool::First,
    }
}

/// Tokens per forward pass at most (unless one sequence is longer): a large
/// batch runs as several passes, so its activations (the feed-forward layer
/// holds tokens × intermediate values) stay in cache-sized blocks instead of
/// hundreds of megabytes.
const TOKENS_PER_PASS: usize = 2048;

/// One embedding per sequence, `seqs.len() × hidden` row-major, on a CPU
/// backend.
pub(crate) fn embed(
    backend: Backend,
    cfg: &EncoderConfig,
    w: &EncoderWeights,
    prep: &Prepared,
    seqs: &[Tokens],
) -> Result<Vec<f32>, AprenderError> {
    check(cfg, seqs)?;
    in_passes(seqs, TOKENS_PER_PASS, |run| {
        pass(backend, cfg, w, prep, run)
    })
}

/// [`embed`] of sequences already checked, in one pass.
fn pass(
    backend: Backend,
    cfg: &EncoderConfig,
    w: &EncoderWeights,
    prep: &Prepared,
    seqs: &[Tokens],
) -> Result<Vec<f32>, AprenderError> {
    let h = cfg.hidden;
    let lens: Vec<usize> = seqs.iter().map(|t| t.ids.len()).collect();
    let total: usize = lens.iter().sum();
    let e = &w.embeddings;
    let mut x = vec![0.0; total * h];
    let tables = [&e.word[..], &e.position, &e.token_type];
    ops::gather_add_rows(backend, &tables, h, &gather_indices(seqs), &mut x)?;
    let eps = cfg.layer_norm_eps;
    let mut x = norm(backend, &e.norm, &x, h, eps)?;
    let shape = attention_shape(cfg);
    for (layer, p) in w.layers.iter().zip(prep) {
        let [qkv_w, out_w, in_w, down_w] = &p.dense;
        let qkv = dense(backend, qkv_w, &p.packed[0], &x, total, None)?;
        let mut ctx = vec![0.0; total * h];
        ops::attention(backend, shape, &qkv, &lens, &mut ctx)?;
        let mut attn = dense(backend, out_w, &p.packed[1], &ctx, total, None)?;
        ops::axpy(backend, 1.0, &x, &mut attn)?; // the residual
        x = norm(backend, &layer.attention_norm, &attn, h, eps)?;
        let u = dense(backend, in_w, &p.packed[2], &x, total, Some(cfg.activation))?;
        let mut y = dense(backend, down_w, &p.packed[3], &u, total, None)?;
        ops::axpy(backend, 1.0, &x, &mut y)?; // the residual
        x = norm(backend, &layer.ffn_norm, &y, h, eps)?;
    }
    let mut pooled = vec![0.0; seqs.len() * h];
    ops::segment_pool(
        backend,
        &x,
        h,
        &lens,
        segment_pool(cfg.pooling),
        &mut pooled,
    )?;
    if !cfg.normalize {
        return Ok(pooled);
    }
    let mut unit = vec![0.0; pooled.len()];
    ops::l2_normalize_rows(backend, &pooled, h, &mut unit)?;
    Ok(unit)
}
