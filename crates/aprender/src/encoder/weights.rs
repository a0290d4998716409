//! An encoder's weights from a Hugging Face `model.safetensors`: every tensor
//! the architecture needs, F32, of the shape `config.json` implies, finite;
//! any other tensor is an error (except the `position_ids` buffer, which is
//! recomputed). Names are read with or without a `bert.` prefix.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use safetensors::{Dtype, tensor::TensorView};

use crate::error::FileProblem;
use crate::format::Reader;

use super::config::EncoderConfig;

/// A dense layer as PyTorch stores it: `weight` is `outputs × inputs`
/// row-major, and `y = x · weightᵀ + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// `outputs × inputs`, row-major.
    pub weight: Vec<f32>,
    /// `outputs`.
    pub bias: Vec<f32>,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
}

impl Linear {
    /// `weightᵀ`, `inputs × outputs` row-major: the `B` of `y = x · B + b`.
    pub fn transposed(&self) -> Vec<f32> {
        let mut wt = vec![0.0; self.weight.len()];
        for (o, row) in self.weight.chunks_exact(self.inputs).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                wt[i * self.outputs + o] = v;
            }
        }
        wt
    }
}

/// Layer normalisation's scale and shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    /// γ, one per feature.
    pub gamma: Vec<f32>,
    /// β, one per feature.
    pub beta: Vec<f32>,
}

/// One transformer layer: self-attention then the feed-forward block, each
/// followed by a residual add and a layer norm (post-norm BERT).
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderLayer {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// The attention output projection.
    pub attention_out: Linear,
    /// Norm after attention.
    pub attention_norm: Norm,
    /// Feed-forward expansion.
    pub ffn_in: Linear,
    /// Feed-forward contraction.
    pub ffn_out: Linear,
    /// Norm after the feed-forward block.
    pub ffn_norm: Norm,
}

/// The embedding tables and their norm.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// `vocab × hidden`.
    pub word: Vec<f32>,
    /// `max_positions × hidden`.
    pub position: Vec<f32>,
    /// `type_vocab × hidden`.
    pub token_type: Vec<f32>,
    /// Norm of their sum.
    pub norm: Norm,
}

/// Every weight of an encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderWeights {
    /// The embeddings.
    pub embeddings: Embeddings,
    /// The transformer layers, in order.
    pub layers: Vec<EncoderLayer>,
}

/// The file's tensors under one name prefix.
struct Named<'r, 'a> {
    r: &'r mut Reader<'a>,
    prefix: &'static str,
}

impl Named<'_, '_> {
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, FileProblem> {
        self.r.tensor(&format!("{}{name}", self.prefix), shape)
    }

    fn norm(&mut self, name: &str, width: usize) -> Result<Norm, FileProblem> {
        Ok(Norm {
            gamma: self.get(&format!("{name}.weight"), &[width])?,
            beta: self.get(&format!("{name}.bias"), &[width])?,
        })
    }

    fn linear(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<Linear, FileProblem> {
        Ok(Linear {
            weight: self.get(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: self.get(&format!("{name}.bias"), &[outputs])?,
            inputs,
            outputs,
        })
    }
}

impl EncoderWeights {
    /// Reads and checks every tensor against `cfg`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        cfg: &EncoderConfig,
    ) -> Result<EncoderWeights, FileProblem> {
        let prefix = if r.has_tensor("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let (h, f) = (cfg.hidden, cfg.intermediate);
        let mut t = Named { r, prefix };
        let embeddings = Embeddings {
            word: t.get("embeddings.word_embeddings.weight", &[cfg.vocab, h])?,
            position: t.get(
                "embeddings.position_embeddings.weight",
                &[cfg.max_positions, h],
            )?,
            token_type: t.get(
                "embeddings.token_type_embeddings.weight",
                &[cfg.type_vocab, h],
            )?,
            norm: t.norm("embeddings.LayerNorm", h)?,
        };
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let l = |part: &str| format!("encoder.layer.{i}.{part}");
            layers.push(EncoderLayer {
                query: t.linear(&l("attention.self.query"), h, h)?,
                key: t.linear(&l("attention.self.key"), h, h)?,
                value: t.linear(&l("attention.self.value"), h, h)?,
                attention_out: t.linear(&l("attention.output.dense"), h, h)?,
                attention_norm: t.norm(&l("attention.output.LayerNorm"), h)?,
                ffn_in: t.linear(&l("intermediate.dense"), h, f)?,
                ffn_out: t.linear(&l("output.dense"), f, h)?,
                ffn_norm: t.norm(&l("output.LayerNorm"), h)?,
            });
        }
        // Recomputed (0..n), and the pooler is not part of a sentence
        // embedding: checked like every tensor, then left unused.
        r.skip(&format!("{prefix}embeddings.position_ids"));
        for p in ["pooler.dense.weight", "pooler.dense.bias"] {
            let name = format!("{prefix}{p}");
            if r.has_tensor(&name) {
                let shape = r.shape(&name)?;
                r.tensor(&name, &shape)?;
            }
        }
        Ok(EncoderWeights { embeddings, layers })
    }
}

impl EncoderWeights {
    /// Random weights of `cfg`'s shape (uniform in ±0.05, norms γ = 1, β = 0):
    /// for tests, and for speed measurements, which do not depend on the values.
    pub fn random(cfg: &EncoderConfig, seed: u64) -> EncoderWeights {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut values =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.05..0.05)).collect() };
        let (h, f) = (cfg.hidden, cfg.intermediate);
        let norm = || Norm {
            gamma: vec![1.0; h],
            beta: vec![0.0; h],
        };
        let mut linear = |inputs: usize, outputs: usize| Linear {
            weight: values(outputs * inputs),
            bias: values(outputs),
            inputs,
            outputs,
        };
        let layers = (0..cfg.layers)
            .map(|_| EncoderLayer {
                query: linear(h, h),
                key: linear(h, h),
                value: linear(h, h),
                attention_out: linear(h, h),
                attention_norm: norm(),
                ffn_in: linear(h, f),
                ffn_out: linear(f, h),
                ffn_norm: norm(),
            })
            .collect();
        let mut values =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.05..0.05)).collect() };
        EncoderWeights {
            embeddings: Embeddings {
                word: values(cfg.vocab * h),
                position: values(cfg.max_positions * h),
                token_type: values(cfg.type_vocab * h),
                norm: norm(),
            },
            layers,
        }
    }

    /// The weights as a Hugging Face `model.safetensors` (BERT names, no prefix).
    pub fn to_safetensors(&self) -> Vec<u8> {
        let h = self.embeddings.norm.gamma.len();
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
        let e = &self.embeddings;
        let table = |name: &str, values: &'_ [f32]| (name.to_owned(), vec![values.len() / h, h]);
        let (wn, ws) = table("embeddings.word_embeddings.weight", &e.word);
        let (pn, ps) = table("embeddings.position_embeddings.weight", &e.position);
        let (tn, ts) = table("embeddings.token_type_embeddings.weight", &e.token_type);
        tensors.push((wn, ws, &e.word));
        tensors.push((pn, ps, &e.position));
        tensors.push((tn, ts, &e.token_type));
        fn norm<'w>(out: &mut Vec<(String, Vec<usize>, &'w [f32])>, name: &str, n: &'w Norm) {
            out.push((format!("{name}.weight"), vec![n.gamma.len()], &n.gamma));
            out.push((format!("{name}.bias"), vec![n.beta.len()], &n.beta));
        }
        fn linear<'w>(out: &mut Vec<(String, Vec<usize>, &'w [f32])>, name: &str, l: &'w Linear) {
            out.push((
                format!("{name}.weight"),
                vec![l.outputs, l.inputs],
                &l.weight,
            ));
            out.push((format!("{name}.bias"), vec![l.outputs], &l.bias));
        }
        norm(&mut tensors, "embeddings.LayerNorm", &e.norm);
        for (i, l) in self.layers.iter().enumerate() {
            let p = |part: &str| format!("encoder.layer.{i}.{part}");
            linear(&mut tensors, &p("attention.self.query"), &l.query);
            linear(&mut tensors, &p("attention.self.key"), &l.key);
            linear(&mut tensors, &p("attention.self.value"), &l.value);
            linear(&mut tensors, &p("attention.output.dense"), &l.attention_out);
            norm(
                &mut tensors,
                &p("attention.output.LayerNorm"),
                &l.attention_norm,
            );
            linear(&mut tensors, &p("intermediate.dense"), &l.ffn_in);
            linear(&mut tensors, &p("output.dense"), &l.ffn_out);
            norm(&mut tensors, &p("output.LayerNorm"), &l.ffn_norm);
        }
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views = bytes.iter().map(|(n, s, b)| {
            let view = TensorView::new(Dtype::F32, s.clone(), b)
                .expect("shape matches data by construction");
            (n.as_str(), view)
        });
        safetensors::serialize(views, None).expect("in-memory tensors always serialise")
    }
}
