//! What the engine serves: any [`Model`] — a classifier of feature rows (the
//! MLPs `apr` trains), a sentence encoder of texts — behind one trait, so the
//! queues, batching and accounting are the same for every kind.
//!
//! A request carries a [`Payload`]: rows of features or a list of texts. A
//! model checks it before it takes a queue slot ([`Model::check`]), describes
//! what a pass over it would compute ([`Model::ops`], for the backend
//! selector), and answers a batch of payloads in one forward pass
//! ([`Model::run`]) with a matrix per request.

use std::sync::Arc;

use aprender::encoder::Encoder;
use aprender::{AprenderError, Mlp, first_non_finite};
use trueno::{Backend, Op};

use crate::EngineError;

/// The data of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `rows × features` values, row-major; shared, so a request refused by
    /// one queue can be offered to another without copying.
    Rows {
        /// Rows in `data`.
        rows: usize,
        /// The values.
        data: Arc<[f32]>,
    },
    /// Texts, one output row each.
    Texts(Arc<[String]>),
}

impl Payload {
    /// Output rows this request asks for (its rows or its texts): the unit
    /// batches are counted in.
    pub fn items(&self) -> usize {
        match self {
            Payload::Rows { rows, .. } => *rows,
            Payload::Texts(t) => t.len(),
        }
    }

    /// The rows and their values, for a payload of rows.
    pub fn as_rows(&self) -> Option<(usize, &[f32])> {
        match self {
            Payload::Rows { rows, data } => Some((*rows, data)),
            Payload::Texts(_) => None,
        }
    }
}

/// What a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Rows of this many FP32 features.
    Features(usize),
    /// Texts (UTF-8 strings).
    Text,
}

/// A model's input and output, for metadata endpoints and clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The input.
    pub input: InputKind,
    /// Values per output row (classes, or the embedding width).
    pub outputs: usize,
    /// What those values are: `"probabilities"`, `"outputs"` or `"embedding"`.
    pub output_meaning: &'static str,
}

/// One request's result: `rows × cols` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Rows.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// The values.
    pub data: Vec<f32>,
}

/// A model the engine can serve. Implementations must not panic on any input
/// that [`check`](Model::check) accepted (a panic is caught and answered 500
/// to its batch, but it is a bug).
pub trait Model: Send + Sync + std::fmt::Debug + 'static {
    /// What it takes and gives.
    fn signature(&self) -> Signature;

    /// Refuses a payload this model cannot run, with the reason (before it
    /// is queued).
    fn check(&self, payload: &Payload) -> Result<(), EngineError>;

    /// The operations one forward pass over `payload` would run (estimated
    /// where the exact shape is known only after tokenising).
    fn ops(&self, payload: &Payload) -> Vec<Op>;

    /// One forward pass over every payload of `batch` (all checked), merged;
    /// one answer per payload, in order. A payload whose values are bad fails
    /// alone; `Err` means the pass itself failed.
    fn run(
        &self,
        backend: Backend,
        batch: &[&Payload],
    ) -> Result<Vec<Result<Answer, EngineError>>, EngineError>;
}

fn wrong_kind(want: &str) -> EngineError {
    EngineError::Input(format!("this model takes {want}"))
}

impl Model for Mlp {
    fn signature(&self) -> Signature {
        Signature {
            input: InputKind::Features(self.n_features()),
            outputs: self.n_classes(),
            output_meaning: match self.output() {
                aprender::Output::Softmax => "probabilities",
                aprender::Output::Identity => "outputs",
            },
        }
    }

    fn check(&self, payload: &Payload) -> Result<(), EngineError> {
        let Payload::Rows { rows, data } = payload else {
            return Err(wrong_kind("rows of FP32 features, not text"));
        };
        let features = self.n_features();
        if *rows == 0 || features == 0 {
            return Err(EngineError::EmptyInput {
                rows: *rows,
                features,
            });
        }
        if rows.checked_mul(features) != Some(data.len()) {
            return Err(AprenderError::InputShape {
                len: data.len(),
                rows: *rows,
                features,
            }
            .into());
        }
        Ok(())
    }

    fn ops(&self, payload: &Payload) -> Vec<Op> {
        let rows = payload.items();
        let last = self.layers().len().saturating_sub(1);
        self.layers()
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                let out = rows * l.outputs();
                let act = if i == last {
                    Op::softmax(rows, l.outputs())
                } else {
                    Op::relu(out)
                };
                [Op::matmul(rows, l.inputs(), l.outputs()), Op::add(out), act]
            })
            .collect()
    }

    fn run(
        &self,
        backend: Backend,
        batch: &[&Payload],
    ) -> Result<Vec<Result<Answer, EngineError>>, EngineError> {
        let parts: Vec<(usize, &[f32])> = batch
            .iter()
            .map(|p| match p {
                Payload::Rows { rows, data } => Ok((*rows, &data[..])),
                Payload::Texts(_) => Err(wrong_kind("rows of FP32 features, not text")),
            })
            .collect::<Result<_, _>>()?;
        let rows: usize = parts.iter().map(|p| p.0).sum();
        let merged;
        let x = match parts.as_slice() {
            [(_, only)] => *only,
            _ => {
                merged = parts
                    .iter()
                    .flat_map(|p| p.1.iter().copied())
                    .collect::<Vec<_>>();
                &merged[..]
            }
        };
        let all = self.predict_screened(backend, x, rows)?;
        let classes = self.n_classes();
        let mut first = 0;
        Ok(parts
            .iter()
            .map(|&(n, data)| {
                let mine = first..first + n;
                first += n;
                let at = all.bad_rows.partition_point(|&r| r < mine.start);
                if all.bad_rows.get(at).is_some_and(|&r| r < mine.end) {
                    let index = first_non_finite(data).unwrap_or(0);
                    return Err(EngineError::NonFiniteInput {
                        index,
                        value: data.get(index).copied().unwrap_or(f32::NAN),
                    });
                }
                match all.out.get(mine.start * classes..mine.end * classes) {
                    Some(v) => Ok(Answer {
                        rows: n,
                        cols: classes,
                        data: v.to_vec(),
                    }),
                    None => Err(EngineError::Internal {
                        backend,
                        message: format!(
                            "the forward pass returned {} values for {rows} rows of {classes}",
                            all.out.len()
                        ),
                    }),
                }
            })
            .collect())
    }
}

/// Tokens a text is guessed to have before it is tokenised (about four bytes
/// a word piece, plus `[CLS]` and `[SEP]`), for pricing only.
fn guessed_tokens(text: &str, limit: usize) -> usize {
    (text.len() / 4 + 2).min(limit.max(1))
}

impl Model for Encoder {
    fn signature(&self) -> Signature {
        Signature {
            input: InputKind::Text,
            outputs: self.config.hidden,
            output_meaning: "embedding",
        }
    }

    fn check(&self, payload: &Payload) -> Result<(), EngineError> {
        match payload {
            Payload::Texts(t) if t.is_empty() => {
                Err(EngineError::Input("no texts: send at least one".into()))
            }
            Payload::Texts(_) => Ok(()),
            Payload::Rows { .. } => Err(wrong_kind("texts, not FP32 rows")),
        }
    }

    fn ops(&self, payload: &Payload) -> Vec<Op> {
        let c = &self.config;
        let tokens: usize = match payload {
            Payload::Texts(t) => t.iter().map(|s| guessed_tokens(s, c.max_seq_length)).sum(),
            Payload::Rows { .. } => 0,
        };
        let (h, inter) = (c.hidden, c.intermediate);
        let per_layer = [
            Op::matmul(tokens, h, 3 * h),
            // Attention: about (tokens per sequence)² · hidden per sequence;
            // priced at the guessed mean length.
            Op::matmul(tokens, h, (tokens / payload.items().max(1)).max(1)),
            Op::matmul(tokens, h, h),
            Op::matmul(tokens, h, inter),
            Op::matmul(tokens, inter, h),
        ];
        std::iter::repeat_n(per_layer, c.layers).flatten().collect()
    }

    fn run(
        &self,
        backend: Backend,
        batch: &[&Payload],
    ) -> Result<Vec<Result<Answer, EngineError>>, EngineError> {
        // Tokenise per request, so a text the tokenizer refuses fails its own request only.
        let mut tokens = Vec::new();
        let mut answers: Vec<Result<usize, EngineError>> = Vec::with_capacity(batch.len());
        for p in batch {
            let Payload::Texts(texts) = p else {
                return Err(wrong_kind("texts, not FP32 rows"));
            };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let encoded = self.tokenizer.encode_batch(&refs);
            answers.push(match encoded {
                Ok(e) => {
                    tokens.extend(e);
                    Ok(texts.len())
                }
                Err(e) => Err(e.into()),
            });
        }
        let h = self.config.hidden;
        // Every request may have failed to tokenise: then there is no pass.
        let all = match tokens.is_empty() {
            true => None,
            false => Some(self.embed_tokens(backend, &tokens)?),
        };
        let all = all.as_ref().map_or(&[][..], |m| m.as_slice());
        let mut first = 0;
        Ok(answers
            .into_iter()
            .map(|a| {
                let n = a?;
                let data = all[first * h..(first + n) * h].to_vec();
                first += n;
                Ok(Answer {
                    rows: n,
                    cols: h,
                    data,
                })
            })
            .collect())
    }
}
