//! The encoder's forward pass: embeddings, post-norm transformer layers,
//! pooling and normalisation, over a batch of token sequences.
//!
//! Tokens of every sequence are stacked into one matrix, so the dense layers
//! are single GEMMs over all of them (on SIMD through weights packed once,
//! bias fused into the write-back; elsewhere `trueno::ops::sgemm` on the
//! caller's backend, bias loaded into C first); attention runs per sequence
//! and head on its own tokens only, so no padding is ever computed and no
//! mask is needed. Every kernel runs on the caller's backend (trueno has no
//! GPU layer norm or exact GELU yet: on the GPU backend those are an error).

use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed};
use trueno::{Backend, MatMut, MatRef, ops};

use super::config::{EncoderConfig, Gelu, Pooling};
use super::tokenize::Tokens;
use super::weights::{EncoderWeights, Linear, Norm};
use crate::error::AprenderError;

/// One layer's six dense weights (query, key, value, attention output,
/// feed-forward in and out) as `Wᵀ` packed for the SIMD GEMM kernel.
pub(crate) type PackedLayer = [PackedMatrix; 6];

/// Packs every layer's weights once (`Wᵀ`, `inputs × outputs`).
pub(crate) fn pack(w: &EncoderWeights) -> Vec<PackedLayer> {
    let t = |l: &Linear| {
        let mut wt = vec![0.0; l.weight.len()];
        for (o, row) in l.weight.chunks_exact(l.inputs).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                wt[i * l.outputs + o] = v;
            }
        }
        PackedMatrix::pack(&wt, l.inputs, l.outputs)
    };
    w.layers
        .iter()
        .map(|l| {
            [
                t(&l.query),
                t(&l.key),
                t(&l.value),
                t(&l.attention_out),
                t(&l.ffn_in),
                t(&l.ffn_out),
            ]
        })
        .collect()
}

/// `y = x · Wᵀ + b` for the `rows × inputs` matrix `x`: through the packed
/// weights (bias fused into the write-back) when given, else a GEMM on `backend`.
fn dense(
    backend: Backend,
    l: &Linear,
    packed: Option<&PackedMatrix>,
    x: &[f32],
    rows: usize,
) -> Result<Vec<f32>, AprenderError> {
    if let Some(p) = packed {
        let mut y = vec![0.0; rows * l.outputs];
        sgemm_packed(
            MatRef::new(x, rows, l.inputs),
            p,
            MatMut::new(&mut y, rows, l.outputs),
            Epilogue::Bias(&l.bias),
        );
        return Ok(y);
    }
    let mut y: Vec<f32> = l
        .bias
        .iter()
        .copied()
        .cycle()
        .take(rows * l.outputs)
        .collect();
    ops::sgemm(
        backend,
        1.0,
        MatRef::new(x, rows, l.inputs),
        MatRef::new(&l.weight, l.outputs, l.inputs).t(),
        1.0,
        MatMut::new(&mut y, rows, l.outputs),
    )?;
    Ok(y)
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
fn check(cfg: &EncoderConfig, seqs: &[Tokens]) -> Result<(), AprenderError> {
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

/// Tokens per forward pass at most (unless one sequence is longer): a large
/// batch runs as several passes, so its activations (the feed-forward layer
/// holds tokens × intermediate values) stay in cache-sized blocks instead of
/// hundreds of megabytes.
const TOKENS_PER_PASS: usize = 2048;

/// One embedding per sequence, `seqs.len() × hidden` row-major.
pub(crate) fn embed(
    backend: Backend,
    cfg: &EncoderConfig,
    w: &EncoderWeights,
    packed: Option<&[PackedLayer]>,
    seqs: &[Tokens],
) -> Result<Vec<f32>, AprenderError> {
    check(cfg, seqs)?;
    let mut out = Vec::with_capacity(seqs.len() * cfg.hidden);
    let mut rest = seqs;
    while !rest.is_empty() {
        let mut tokens = 0;
        let take = rest
            .iter()
            .take_while(|t| {
                tokens += t.ids.len();
                tokens <= TOKENS_PER_PASS
            })
            .count()
            .max(1);
        out.extend(pass(backend, cfg, w, packed, &rest[..take])?);
        rest = &rest[take..];
    }
    Ok(out)
}

/// [`embed`] of sequences already checked, in one pass.
fn pass(
    backend: Backend,
    cfg: &EncoderConfig,
    w: &EncoderWeights,
    packed: Option<&[PackedLayer]>,
    seqs: &[Tokens],
) -> Result<Vec<f32>, AprenderError> {
    let h = cfg.hidden;
    let total: usize = seqs.iter().map(|t| t.ids.len()).sum();
    let mut x = Vec::with_capacity(total * h);
    fn row(table: &[f32], i: usize, h: usize) -> &[f32] {
        &table[i * h..(i + 1) * h]
    }
    for t in seqs {
        for (pos, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
            let row = |table, i| row(table, i, h);
            let (word, p, tt) = (
                row(&w.embeddings.word, id as usize),
                row(&w.embeddings.position, pos),
                row(&w.embeddings.token_type, ty as usize),
            );
            x.extend(word.iter().zip(p).zip(tt).map(|((a, b), c)| a + b + c));
        }
    }
    let eps = cfg.layer_norm_eps;
    let mut x = norm(backend, &w.embeddings.norm, &x, h, eps)?;
    let (d, heads) = (cfg.head_dim(), cfg.heads);
    let scale = 1.0 / (d as f32).sqrt();
    for (i, layer) in w.layers.iter().enumerate() {
        let p = |j: usize| packed.map(|p| &p[i][j]);
        let q = dense(backend, &layer.query, p(0), &x, total)?;
        let k = dense(backend, &layer.key, p(1), &x, total)?;
        let v = dense(backend, &layer.value, p(2), &x, total)?;
        let mut ctx = vec![0.0; total * h];
        let mut start = 0;
        for t in seqs {
            let n = t.ids.len();
            let at = |m: &[f32], head: usize| -> std::ops::Range<usize> {
                let from = start * h + head * d;
                from..(from + (n - 1) * h + d).min(m.len())
            };
            let mut scores = vec![0.0; n * n];
            let mut probs = vec![0.0; n * n];
            for head in 0..heads {
                ops::sgemm(
                    backend,
                    scale,
                    MatRef::strided(&q[at(&q, head)], n, d, h),
                    MatRef::strided(&k[at(&k, head)], n, d, h).t(),
                    0.0,
                    MatMut::new(&mut scores, n, n),
                )?;
                ops::softmax_rows(backend, &scores, n, &mut probs)?;
                let range = at(&ctx, head);
                ops::sgemm(
                    backend,
                    1.0,
                    MatRef::new(&probs, n, n),
                    MatRef::strided(&v[at(&v, head)], n, d, h),
                    0.0,
                    MatMut::strided(&mut ctx[range], n, d, h),
                )?;
            }
            start += n;
        }
        let mut attn = dense(backend, &layer.attention_out, p(3), &ctx, total)?;
        ops::axpy(backend, 1.0, &x, &mut attn)?; // the residual
        x = norm(backend, &layer.attention_norm, &attn, h, eps)?;
        let pre = dense(backend, &layer.ffn_in, p(4), &x, total)?;
        let mut u = vec![0.0; pre.len()];
        match cfg.activation {
            Gelu::Erf => ops::gelu_erf(backend, &pre, &mut u)?,
            Gelu::Tanh => ops::gelu(backend, &pre, &mut u)?,
        }
        let mut y = dense(backend, &layer.ffn_out, p(5), &u, total)?;
        ops::axpy(backend, 1.0, &x, &mut y)?; // the residual
        x = norm(backend, &layer.ffn_norm, &y, h, eps)?;
    }
    let mut out = Vec::with_capacity(seqs.len() * h);
    let mut start = 0;
    for t in seqs {
        let n = t.ids.len();
        let rows = &x[start * h..(start + n) * h];
        let mut e = match cfg.pooling {
            Pooling::Cls => rows[..h].to_vec(),
            Pooling::Mean => {
                let mut sum = vec![0f64; h];
                for row in rows.chunks_exact(h) {
                    for (s, &v) in sum.iter_mut().zip(row) {
                        *s += f64::from(v);
                    }
                }
                sum.iter().map(|s| (s / n as f64) as f32).collect()
            }
        };
        if cfg.normalize {
            // As torch's F.normalize: divide by max(‖e‖, 1e-12).
            let len = e
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            for v in &mut e {
                *v = (f64::from(*v) / len) as f32;
            }
        }
        out.extend_from_slice(&e);
        start += n;
    }
    Ok(out)
}
