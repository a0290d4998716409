//! Kernels over batches of variable-length sequences stacked row by row:
//! sequence `s` owns `lens[s]` consecutive rows of a matrix, and nothing is
//! ever padded. What the transformer models need from trueno beyond GEMM —
//! per-sequence attention, gathering rows from tables, pooling rows per
//! sequence — described here once; each backend implements them (the
//! reference in [`crate::scalar`]).

use crate::TruenoError;
use crate::error::expect_len as expect;

/// Multi-head scaled dot-product attention over stacked sequences.
///
/// The input holds one row of `3·heads·head_dim` values per token, the query,
/// key and value projections side by side (`[q | k | v]`, each `heads` blocks
/// of `head_dim`); the output one row of `heads·head_dim` per token. Every
/// token attends to the tokens of its own sequence — all of them, or with
/// `causal` only those at or before it — with scores scaled by `1/√head_dim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attention {
    /// Heads.
    pub heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// Whether a token sees only the tokens before it (a decoder).
    pub causal: bool,
}

impl Attention {
    /// Values per token in the output (`heads · head_dim`).
    pub fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Checks `qkv` and `out` against `lens`; returns the number of tokens.
    pub(crate) fn check(
        &self,
        qkv: &[f32],
        lens: &[usize],
        out: &[f32],
    ) -> Result<usize, TruenoError> {
        let op = "attention";
        let tokens = total(op, lens)?;
        let width = self
            .heads
            .checked_mul(self.head_dim)
            .filter(|&w| w > 0)
            .ok_or(TruenoError::ShapeOverflow { op })?;
        let need = |n: usize| {
            n.checked_mul(tokens)
                .ok_or(TruenoError::ShapeOverflow { op })
        };
        expect(op, "qkv", need(3 * width)?, qkv.len())?;
        expect(op, "out", need(width)?, out.len())?;
        Ok(tokens)
    }
}

/// How [`segment_pool`](crate::ops::segment_pool) reduces a sequence's rows to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentPool {
    /// The mean of the rows.
    Mean,
    /// The first row (a `[CLS]` token).
    First,
    /// The last row (a decoder's final token).
    Last,
}

/// Σ `lens`, refusing an empty sequence (it has no row to pool or attend to).
pub(crate) fn total(op: &'static str, lens: &[usize]) -> Result<usize, TruenoError> {
    if let Some(s) = lens.iter().position(|&n| n == 0) {
        return Err(TruenoError::EmptySequence { op, sequence: s });
    }
    lens.iter()
        .try_fold(0usize, |a, &n| a.checked_add(n))
        .ok_or(TruenoError::ShapeOverflow { op })
}

/// The row ranges of each sequence, in order.
pub(crate) fn spans(lens: &[usize]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    lens.iter().scan(0, |start, &n| {
        let r = *start..*start + n;
        *start += n;
        Some(r)
    })
}
