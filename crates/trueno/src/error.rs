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
