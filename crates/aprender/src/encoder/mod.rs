//! Sentence-embedding transformer encoders (BERT family) from Hugging Face
//! model folders: the configuration ([`EncoderConfig`]), the weights
//! ([`EncoderWeights`], every tensor checked), the tokenizer
//! ([`SentenceTokenizer`], as sentence-transformers tokenises) and the forward
//! pass ([`Encoder::embed`]).

mod config;
mod forward;
mod gpu;
mod tokenize;
mod weights;

use std::path::Path;
use std::sync::OnceLock;

use crate::derived::Derived;

pub use config::{EncoderConfig, Gelu, Pooling};
pub use gpu::GpuEncoder;
pub use tokenize::{SentenceTokenizer, Tokens};
pub use weights::{Embeddings, EncoderLayer, EncoderWeights, Linear, Norm};

use trueno::Backend;

use crate::Matrix;
use crate::error::AprenderError;
use crate::format::{Reader, read_file};

/// Where `cargo xtask fetch-models` puts the model `name`: under
/// `$HEIJUNKA_MODELS`, else `$XDG_CACHE_HOME/heijunka/models`, else
/// `~/.cache/heijunka/models` (xtask, which depends on no stack crate, applies
/// the same rule). `None` when no cache directory can be named.
pub fn model_cache_dir(name: &str) -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = var("HEIJUNKA_MODELS").or_else(|| {
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .map(|c| c.join("heijunka").join("models"))
    })?;
    Some(cache.join(name))
}

/// An encoder read from a model folder: its shape, weights and tokenizer.
#[derive(Debug)]
pub struct Encoder {
    /// The architecture and head.
    pub config: EncoderConfig,
    /// Every weight.
    pub weights: EncoderWeights,
    /// The tokenizer.
    pub tokenizer: SentenceTokenizer,
    /// The dense weights fused and packed, on first use.
    prepared: OnceLock<forward::Prepared>,
    /// The weights on the shared GPU context, on first GPU use.
    gpu: Derived<GpuEncoder>,
}

impl Encoder {
    /// Loads `dir` (`config.json`, `model.safetensors`, `tokenizer.json`, and
    /// the sentence-transformers files when present). Nothing in the folder
    /// is trusted: every problem is an error naming the file.
    pub fn load(dir: impl AsRef<Path>) -> Result<Encoder, AprenderError> {
        let dir = dir.as_ref();
        let config = EncoderConfig::from_dir(dir)?;
        let path = dir.join("model.safetensors");
        let bytes = read_file(&path)?;
        let weights = read_weights(&bytes, &config, &path.display().to_string())?;
        let tokenizer = SentenceTokenizer::from_dir(dir, config.max_seq_length, config.vocab)?;
        Ok(Encoder {
            config,
            weights,
            tokenizer,
            prepared: OnceLock::new(),
            gpu: Derived::default(),
        })
    }
}

impl Encoder {
    /// The sentence embeddings of `texts` on `backend`: one row of
    /// `config.hidden` values per text (unit length when the model normalises).
    pub fn embed(&self, backend: Backend, texts: &[&str]) -> Result<Matrix, AprenderError> {
        let tokens = match texts {
            [one] => vec![self.tokenizer.encode(one)?],
            _ => self.tokenizer.encode_batch(texts)?,
        };
        self.embed_tokens(backend, &tokens)
    }

    /// [`embed`](Self::embed) of sequences already tokenised; every id is
    /// checked against the model's tables first. On [`Backend::Gpu`] the
    /// weights are uploaded to the shared context on first use and stay.
    pub fn embed_tokens(
        &self,
        backend: Backend,
        tokens: &[Tokens],
    ) -> Result<Matrix, AprenderError> {
        let prepared = self
            .prepared
            .get_or_init(|| forward::prepare(&self.weights));
        let data = if backend == Backend::Gpu {
            forward::check(&self.config, tokens)?;
            let ctx = trueno::gpu::GpuContext::shared().map_err(trueno::TruenoError::from)?;
            let resident = self
                .gpu
                .get_or_try(|| GpuEncoder::upload(ctx, &self.config, &self.weights, prepared))?;
            resident.embed(ctx, &self.config, tokens)?
        } else {
            forward::embed(backend, &self.config, &self.weights, prepared, tokens)?
        };
        Matrix::new(tokens.len(), self.config.hidden, data)
    }
}

/// Reads an encoder's weights from safetensors bytes; `origin` names them in errors.
pub fn read_weights(
    bytes: &[u8],
    config: &EncoderConfig,
    origin: &str,
) -> Result<EncoderWeights, AprenderError> {
    let bad = |problem| AprenderError::BadFile {
        origin: origin.to_owned(),
        problem,
    };
    let mut r = Reader::foreign(bytes).map_err(bad)?;
    let w = EncoderWeights::read(&mut r, config).map_err(bad)?;
    r.finish().map_err(bad)?;
    Ok(w)
}

#[cfg(test)]
mod tests;
