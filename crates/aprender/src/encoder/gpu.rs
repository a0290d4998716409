//! The encoder's forward pass on the GPU, weights resident: one upload of
//! token indices and sequence spans, every layer on the device (matmul, bias,
//! attention, fused residual + bias + layer norm, bias + GELU), one download of
//! the pooled embeddings.

use trueno::TruenoError;
use trueno::gpu::{Activation, GpuContext, GpuTensor};

use super::config::{EncoderConfig, Gelu};
use super::forward::{Prepared, attention_shape, gather_indices, in_passes, segment_pool};
use super::tokenize::Tokens;
use super::weights::{EncoderWeights, Linear, Norm};
use crate::error::AprenderError;

/// A dense layer on the device: `Wᵀ` (`inputs × outputs`) and the bias.
#[derive(Debug)]
struct GpuLinear {
    wt: GpuTensor,
    bias: GpuTensor,
    inputs: usize,
    outputs: usize,
}

#[derive(Debug)]
struct GpuLayer {
    qkv: GpuLinear,
    out: GpuLinear,
    ffn_in: GpuLinear,
    ffn_out: GpuLinear,
    /// `[attention-out bias | γ | β]` of the norm after attention.
    attention_norm: GpuTensor,
    /// `[feed-forward-out bias | γ | β]` of the norm after the feed-forward block.
    ffn_norm: GpuTensor,
}

/// An encoder's weights resident on one GPU context.
#[derive(Debug)]
pub struct GpuEncoder {
    /// `[word; position; type]` rows of `hidden`.
    tables: GpuTensor,
    /// Row offsets of the position and type tables within `tables`.
    offsets: [u32; 3],
    /// `[0 | γ | β]` of the embedding norm.
    embedding_norm: GpuTensor,
    layers: Vec<GpuLayer>,
}

fn upload_linear(ctx: &GpuContext, l: &Linear) -> Result<GpuLinear, TruenoError> {
    Ok(GpuLinear {
        wt: ctx.upload(&l.transposed())?,
        bias: ctx.upload(&l.bias)?,
        inputs: l.inputs,
        outputs: l.outputs,
    })
}

fn upload_norm(ctx: &GpuContext, bias: &[f32], n: &Norm) -> Result<GpuTensor, TruenoError> {
    Ok(ctx.upload(&[bias, &n.gamma, &n.beta].concat())?)
}

/// Tokens per device pass at most: larger than on the CPU (the device has the
/// memory, and each pass costs a fixed ~60 dispatches), bounded so a huge
/// request's activations stay within a few hundred megabytes.
const TOKENS_PER_PASS: usize = 16384;

impl GpuEncoder {
    /// Copies the weights (fused and transposed as `prep` holds them) to the device.
    pub(crate) fn upload(
        ctx: &GpuContext,
        cfg: &EncoderConfig,
        w: &EncoderWeights,
        prep: &Prepared,
    ) -> Result<GpuEncoder, AprenderError> {
        let e = &w.embeddings;
        let tables = ctx
            .upload(&[&e.word[..], &e.position, &e.token_type].concat())
            .map_err(TruenoError::from)?;
        let offsets = [0, cfg.vocab as u32, (cfg.vocab + cfg.max_positions) as u32];
        let embedding_norm = upload_norm(ctx, &vec![0.0; cfg.hidden], &e.norm)?;
        let layers = w
            .layers
            .iter()
            .zip(prep)
            .map(|(l, p)| {
                let [qkv, out, ffn_in, ffn_out] = &p.dense;
                Ok(GpuLayer {
                    qkv: upload_linear(ctx, qkv)?,
                    out: upload_linear(ctx, out)?,
                    ffn_in: upload_linear(ctx, ffn_in)?,
                    ffn_out: upload_linear(ctx, ffn_out)?,
                    attention_norm: upload_norm(ctx, &out.bias, &l.attention_norm)?,
                    ffn_norm: upload_norm(ctx, &ffn_out.bias, &l.ffn_norm)?,
                })
            })
            .collect::<Result<_, TruenoError>>()?;
        Ok(GpuEncoder {
            tables,
            offsets,
            embedding_norm,
            layers,
        })
    }

    /// One embedding per sequence (already checked), `seqs.len() × hidden`.
    pub(crate) fn embed(
        &self,
        ctx: &GpuContext,
        cfg: &EncoderConfig,
        seqs: &[Tokens],
    ) -> Result<Vec<f32>, AprenderError> {
        in_passes(seqs, TOKENS_PER_PASS, |run| Ok(self.pass(ctx, cfg, run)?))
    }

    fn pass(
        &self,
        ctx: &GpuContext,
        cfg: &EncoderConfig,
        seqs: &[Tokens],
    ) -> Result<Vec<f32>, TruenoError> {
        let h = cfg.hidden;
        let lens: Vec<usize> = seqs.iter().map(|t| t.ids.len()).collect();
        let total: usize = lens.iter().sum();
        let mut idx = gather_indices(seqs);
        for (i, v) in idx.iter_mut().enumerate() {
            *v += self.offsets[i % 3];
        }
        let spans = ctx.upload_spans(&lens)?;
        let x = ctx.gather_add_rows(&self.tables, h, &ctx.upload_u32(&idx)?, 3)?;
        let eps = cfg.layer_norm_eps;
        let mut x = ctx.add_layer_norm(&x, None, &self.embedding_norm, h, eps)?;
        let act = match cfg.activation {
            Gelu::Erf => Activation::GeluErf,
            Gelu::Tanh => Activation::GeluTanh,
        };
        let matmul =
            |x: &GpuTensor, l: &GpuLinear| ctx.matmul(x, &l.wt, total, l.inputs, l.outputs);
        for l in &self.layers {
            let qkv = ctx.bias_act(&matmul(&x, &l.qkv)?, &l.qkv.bias, Activation::Identity)?;
            let attn = ctx.attention(attention_shape(cfg), &qkv, &spans)?;
            x = ctx.add_layer_norm(&matmul(&attn, &l.out)?, Some(&x), &l.attention_norm, h, eps)?;
            let u = ctx.bias_act(&matmul(&x, &l.ffn_in)?, &l.ffn_in.bias, act)?;
            x = ctx.add_layer_norm(&matmul(&u, &l.ffn_out)?, Some(&x), &l.ffn_norm, h, eps)?;
        }
        let mut pooled = ctx.segment_pool(&x, h, &spans, segment_pool(cfg.pooling))?;
        if cfg.normalize {
            pooled = ctx.l2_normalize_rows(&pooled, h)?;
        }
        Ok(ctx.download(&pooled)?)
    }
}
