//! The one error type of trueno.

use crate::Backend;

/// What can go wrong when asking trueno to compute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TruenoError {
    /// An operand's length does not match the shape of the operation.
    #[error("{op}: operand `{operand}` has {actual} elements, the shape needs {expected}")]
    ShapeMismatch {
        /// The operation that was called.
        op: &'static str,
        /// Which argument was wrong.
        operand: &'static str,
        /// Elements the shape requires.
        expected: usize,
        /// Elements the caller passed.
        actual: usize,
    },
    /// Two operands' dimensions do not chain (`A` is `m × k`, `B` must be `k × n`).
    #[error("{op}: `{operand}` is {actual}, the other operands need {expected}")]
    DimensionMismatch {
        /// The operation that was called.
        op: &'static str,
        /// Which dimension of which argument.
        operand: &'static str,
        /// What the other operands imply.
        expected: usize,
        /// What this operand has.
        actual: usize,
    },
    /// A leading dimension (row stride) is shorter than the row it strides over.
    #[error("{op}: leading dimension of `{operand}` is {ld}, smaller than its {cols} columns")]
    LeadingDimension {
        /// The operation that was called.
        op: &'static str,
        /// Which argument.
        operand: &'static str,
        /// The stride given.
        ld: usize,
        /// Columns of each row.
        cols: usize,
    },
    /// A dimension product does not fit in memory addressing.
    #[error("{op}: shape overflows usize")]
    ShapeOverflow {
        /// The operation that was called.
        op: &'static str,
    },
    /// A sequence of a stacked batch has no rows.
    #[error("{op}: sequence {sequence} is empty")]
    EmptySequence {
        /// The operation that was called.
        op: &'static str,
        /// Its position in the batch.
        sequence: usize,
    },
    /// A row index points past the end of the table it indexes.
    #[error("{op}: row {row} asks for entry {index} of table {table}, which has {len}")]
    IndexOutOfRange {
        /// The operation that was called.
        op: &'static str,
        /// The output row whose index is bad.
        row: usize,
        /// Which table.
        table: usize,
        /// The index given.
        index: u32,
        /// Rows in that table.
        len: usize,
    },
    /// The GPU failed or is missing; a CPU backend can take over.
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
    /// The requested backend cannot run here.
    #[error("backend `{backend}` is not available: {reason}")]
    BackendUnavailable {
        /// The backend that was asked for.
        backend: Backend,
        /// Why it cannot run.
        reason: &'static str,
    },
}

/// `Ok` when an operand has the length its operation's shape needs, else the
/// [`TruenoError::ShapeMismatch`] naming both.
pub(crate) fn expect_len(
    op: &'static str,
    operand: &'static str,
    expected: usize,
    actual: usize,
) -> Result<(), TruenoError> {
    if expected == actual {
        Ok(())
    } else {
        Err(TruenoError::ShapeMismatch {
            op,
            operand,
            expected,
            actual,
        })
    }
}
