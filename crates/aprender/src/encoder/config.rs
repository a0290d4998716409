//! An encoder's shape and post-processing, read from a Hugging Face /
//! sentence-transformers model folder: `config.json` (the BERT shape),
//! `1_Pooling/config.json`, `modules.json` (whether a Normalize module
//! follows) and `sentence_bert_config.json` (`max_seq_length`).
//!
//! Every file is untrusted: a missing key, a value of the wrong type or out of
//! range is a [`FileProblem::BadConfig`] naming the file and the key.

use std::path::Path;

use serde_json::Value;

use crate::error::{AprenderError, FileProblem};

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gelu {
    /// `gelu`: x·Φ(x) with the exact error function.
    Erf,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    Tanh,
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors under the attention mask.
    Mean,
    /// The first token's (`[CLS]`) vector.
    Cls,
}

/// A BERT-family encoder's architecture and its sentence-embedding head.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// Width of every token vector (`hidden_size`).
    pub hidden: usize,
    /// Transformer layers (`num_hidden_layers`).
    pub layers: usize,
    /// Attention heads per layer (`num_attention_heads`); divides `hidden`.
    pub heads: usize,
    /// Width of the feed-forward layer (`intermediate_size`).
    pub intermediate: usize,
    /// The feed-forward activation (`hidden_act`).
    pub activation: Gelu,
    /// Layer norm's epsilon (`layer_norm_eps`).
    pub layer_norm_eps: f32,
    /// Token ids below this are valid (`vocab_size`).
    pub vocab: usize,
    /// Positions the model has embeddings for (`max_position_embeddings`).
    pub max_positions: usize,
    /// Token types (`type_vocab_size`).
    pub type_vocab: usize,
    /// Tokens kept per input, `[CLS]` and `[SEP]` included
    /// (`sentence_bert_config.json`'s `max_seq_length`, else `max_positions`).
    pub max_seq_length: usize,
    /// The pooling (`1_Pooling/config.json`; mean when the folder has none).
    pub pooling: Pooling,
    /// Whether embeddings are scaled to unit length (a Normalize module in `modules.json`).
    pub normalize: bool,
}

/// Sizes past this are refused before any allocation depends on them.
const MAX_DIM: u64 = 1 << 20;

fn read_json(dir: &Path, file: &str) -> Result<Option<Value>, AprenderError> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AprenderError::Io { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| bad(dir, file, format!("not valid JSON: {e}")))
}

fn bad(dir: &Path, file: &str, problem: String) -> AprenderError {
    AprenderError::BadFile {
        origin: dir.display().to_string(),
        problem: FileProblem::BadConfig {
            file: file.to_owned(),
            problem,
        },
    }
}

impl EncoderConfig {
    /// A sentence-transformers BERT of the given shape with the common
    /// settings: exact GELU, ε 1e-12, two token types, `max_seq_length` all
    /// positions, mean pooling, normalised (for random models in tests and
    /// benchmarks).
    pub fn bert(
        hidden: usize,
        layers: usize,
        heads: usize,
        intermediate: usize,
        vocab: usize,
        max_positions: usize,
    ) -> EncoderConfig {
        EncoderConfig {
            hidden,
            layers,
            heads,
            intermediate,
            activation: Gelu::Erf,
            layer_norm_eps: 1e-12,
            vocab,
            max_positions,
            type_vocab: 2,
            max_seq_length: max_positions,
            pooling: Pooling::Mean,
            normalize: true,
        }
    }

    /// Reads the folder's configuration files.
    pub fn from_dir(dir: &Path) -> Result<EncoderConfig, AprenderError> {
        let file = "config.json";
        let cfg = read_json(dir, file)?.ok_or_else(|| AprenderError::Io {
            path: dir.join(file),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let err = |problem: String| bad(dir, file, problem);
        let size = |key: &str| -> Result<usize, AprenderError> {
            match cfg.get(key).and_then(Value::as_u64) {
                Some(v) if (1..=MAX_DIM).contains(&v) => Ok(v as usize),
                Some(v) => Err(err(format!("`{key}` = {v} is outside 1..={MAX_DIM}"))),
                None => Err(err(format!("`{key}` is missing or not a whole number"))),
            }
        };
        if let Some(t) = cfg.get("model_type").and_then(Value::as_str)
            && !matches!(
                t,
                "bert" | "roberta" | "xlm-roberta" | "distilbert" | "mpnet"
            )
        {
            return Err(err(format!(
                "`model_type` = \"{t}\" is not a BERT-family encoder"
            )));
        }
        if let Some(p) = cfg.get("position_embedding_type").and_then(Value::as_str)
            && p != "absolute"
        {
            return Err(err(format!(
                "`position_embedding_type` = \"{p}\": only absolute positions are supported"
            )));
        }
        let hidden = size("hidden_size")?;
        let heads = size("num_attention_heads")?;
        if hidden % heads != 0 {
            return Err(err(format!(
                "`hidden_size` = {hidden} is not a multiple of `num_attention_heads` = {heads}"
            )));
        }
        let activation = match cfg.get("hidden_act").and_then(Value::as_str) {
            Some("gelu") => Gelu::Erf,
            Some("gelu_new" | "gelu_pytorch_tanh") => Gelu::Tanh,
            Some(other) => {
                return Err(err(format!(
                    "`hidden_act` = \"{other}\": supported are gelu, gelu_new, gelu_pytorch_tanh"
                )));
            }
            None => return Err(err("`hidden_act` is missing".into())),
        };
        let layer_norm_eps = match cfg.get("layer_norm_eps").and_then(Value::as_f64) {
            Some(e) if e > 0.0 && e < 1.0 => e as f32,
            Some(e) => return Err(err(format!("`layer_norm_eps` = {e} is not in (0, 1)"))),
            None => return Err(err("`layer_norm_eps` is missing or not a number".into())),
        };
        let max_positions = size("max_position_embeddings")?;
        let type_vocab = size("type_vocab_size")?;
        let max_seq_length = match read_json(dir, "sentence_bert_config.json")? {
            None => max_positions,
            Some(st) => match st.get("max_seq_length").and_then(Value::as_u64) {
                Some(n) if n >= 2 && n as usize <= max_positions => n as usize,
                _ => {
                    return Err(bad(
                        dir,
                        "sentence_bert_config.json",
                        format!(
                            "`max_seq_length` must be a whole number from 2 to {max_positions}"
                        ),
                    ));
                }
            },
        };
        Ok(EncoderConfig {
            hidden,
            layers: size("num_hidden_layers")?,
            heads,
            intermediate: size("intermediate_size")?,
            activation,
            layer_norm_eps,
            vocab: size("vocab_size")?,
            max_positions,
            type_vocab,
            max_seq_length,
            pooling: pooling(dir)?,
            normalize: normalize(dir)?,
        })
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

fn pooling(dir: &Path) -> Result<Pooling, AprenderError> {
    let file = "1_Pooling/config.json";
    let Some(p) = read_json(dir, file)? else {
        return Ok(Pooling::Mean);
    };
    let on = |key: &str| p.get(key).and_then(Value::as_bool).unwrap_or(false);
    let modes = [
        ("pooling_mode_mean_tokens", Some(Pooling::Mean)),
        ("pooling_mode_cls_token", Some(Pooling::Cls)),
        ("pooling_mode_max_tokens", None),
        ("pooling_mode_mean_sqrt_len_tokens", None),
    ];
    let chosen: Vec<_> = modes.iter().filter(|(k, _)| on(k)).collect();
    match chosen.as_slice() {
        [(_, Some(mode))] => Ok(*mode),
        [(key, None)] => Err(bad(
            dir,
            file,
            format!("`{key}` is not supported (mean or cls)"),
        )),
        _ => Err(bad(
            dir,
            file,
            "exactly one pooling mode must be true (mean or cls)".into(),
        )),
    }
}

fn normalize(dir: &Path) -> Result<bool, AprenderError> {
    let file = "modules.json";
    let Some(m) = read_json(dir, file)? else {
        return Ok(false);
    };
    let modules = m
        .as_array()
        .ok_or_else(|| bad(dir, file, "not a JSON array of modules".into()))?;
    Ok(modules.iter().any(|module| {
        module
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with(".Normalize"))
    }))
}
