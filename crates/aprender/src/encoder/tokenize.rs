//! Text → token ids with the model's own `tokenizer.json` (Hugging Face's
//! `tokenizers` crate), as sentence-transformers tokenises: `[CLS] … [SEP]`,
//! truncated to `max_seq_length`, never padded — whatever padding and
//! truncation the shipped `tokenizer.json` asks for (all-MiniLM-L6-v2's pads
//! every input to 128 and truncates at 128).

use std::path::Path;

use crate::error::{AprenderError, FileProblem};

/// A model's tokenizer, set up as sentence-transformers uses it.
#[derive(Clone)]
pub struct SentenceTokenizer {
    inner: tokenizers::Tokenizer,
    vocab: usize,
}

impl std::fmt::Debug for SentenceTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceTokenizer")
            .field("vocab", &self.vocab)
            .finish_non_exhaustive()
    }
}

/// One tokenised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids, `[CLS]` first and `[SEP]` last.
    pub ids: Vec<u32>,
    /// Token type of each (all 0 for a single sentence).
    pub type_ids: Vec<u32>,
}

impl SentenceTokenizer {
    /// Reads `dir/tokenizer.json`; inputs are truncated to `max_len` tokens
    /// and every id must be below `vocab`.
    pub fn from_dir(
        dir: &Path,
        max_len: usize,
        vocab: usize,
    ) -> Result<SentenceTokenizer, AprenderError> {
        let path = dir.join("tokenizer.json");
        let bytes = std::fs::read(&path).map_err(|source| AprenderError::Io {
            path: path.clone(),
            source,
        })?;
        let bad = |problem: String| AprenderError::BadFile {
            origin: dir.display().to_string(),
            problem: FileProblem::BadConfig {
                file: "tokenizer.json".into(),
                problem,
            },
        };
        let mut inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| bad(format!("not a tokenizer this build reads: {e}")))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| bad(format!("cannot truncate at {max_len}: {e}")))?;
        let largest = inner.get_vocab_size(true);
        if largest > vocab {
            return Err(bad(format!(
                "its vocabulary has {largest} tokens, the model embeds {vocab}"
            )));
        }
        Ok(SentenceTokenizer { inner, vocab })
    }

    /// Tokenises many texts, spread over rayon's threads (the tokenizers
    /// crate's batch path); the same ids as [`encode`](Self::encode) on each.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Tokens>, AprenderError> {
        let encs = self
            .inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| AprenderError::InvalidInput(format!("cannot tokenise a text: {e}")))?;
        Ok(encs
            .iter()
            .map(|e| Tokens {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }

    /// Tokenises one text.
    pub fn encode(&self, text: &str) -> Result<Tokens, AprenderError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| AprenderError::InvalidInput(format!("cannot tokenise the text: {e}")))?;
        Ok(Tokens {
            ids: enc.get_ids().to_vec(),
            type_ids: enc.get_type_ids().to_vec(),
        })
    }
}
