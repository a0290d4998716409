//! Operation descriptors: what an operation is and what it costs, without running it.
//!
//! batuta prices operations from these numbers; they follow the kernels' actual
//! memory traffic assuming each operand is streamed once (true for the
//! element-wise kernels, a lower bound for matmul, which re-reads panels from cache).

use std::fmt;

const F32: u64 = std::mem::size_of::<f32>() as u64;

/// The family an operation belongs to; cost profiles are kept per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// `out = a + b`
    Add,
    /// `out = a * b` (element-wise)
    Mul,
    /// `out = max(x, 0)`
    Relu,
    /// Row-wise numerically stable softmax.
    Softmax,
    /// `y = A x`
    Matvec,
    /// `C = A B`
    Matmul,
}

impl OpKind {
    /// Every kind, in a fixed order.
    pub const ALL: [OpKind; 6] = [
        OpKind::Add,
        OpKind::Mul,
        OpKind::Relu,
        OpKind::Softmax,
        OpKind::Matvec,
        OpKind::Matmul,
    ];

    /// The kind called `name` (as [`OpKind::name`] spells it).
    ///
    /// ```
    /// assert_eq!(trueno::OpKind::from_name("matmul"), Some(trueno::OpKind::Matmul));
    /// ```
    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Lowercase name, as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Mul => "mul",
            OpKind::Relu => "relu",
            OpKind::Softmax => "softmax",
            OpKind::Matvec => "matvec",
            OpKind::Matmul => "matmul",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation with its shape: enough to estimate its cost on any backend.
///
/// ```
/// use trueno::{Op, OpKind};
/// let op = Op::matmul(64, 128, 32);
/// assert_eq!(op.kind(), OpKind::Matmul);
/// assert_eq!(op.flops(), 2 * 64 * 128 * 32);
/// assert_eq!(op.bytes_read(), 4 * (64 * 128 + 128 * 32));
/// assert_eq!(op.bytes_written(), 4 * 64 * 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// An element-wise operation over `len` elements (`Add`, `Mul` or `Relu`).
    Elementwise {
        /// Which element-wise operation.
        kind: OpKind,
        /// Number of output elements.
        len: usize,
    },
    /// Softmax over each of `rows` rows of `cols` elements.
    Softmax {
        /// Number of rows.
        rows: usize,
        /// Elements per row.
        cols: usize,
    },
    /// `y (m) = A (m×n) · x (n)`.
    Matvec {
        /// Rows of A.
        m: usize,
        /// Columns of A.
        n: usize,
    },
    /// `C (m×n) = A (m×k) · B (k×n)`.
    Matmul {
        /// Rows of A and C.
        m: usize,
        /// Columns of A, rows of B.
        k: usize,
        /// Columns of B and C.
        n: usize,
    },
}

impl Op {
    /// Element-wise addition of two `len`-vectors.
    pub fn add(len: usize) -> Op {
        Op::Elementwise {
            kind: OpKind::Add,
            len,
        }
    }
    /// Element-wise product of two `len`-vectors.
    pub fn mul(len: usize) -> Op {
        Op::Elementwise {
            kind: OpKind::Mul,
            len,
        }
    }
    /// ReLU of a `len`-vector.
    pub fn relu(len: usize) -> Op {
        Op::Elementwise {
            kind: OpKind::Relu,
            len,
        }
    }
    /// Row-wise softmax of a `rows × cols` matrix.
    pub fn softmax(rows: usize, cols: usize) -> Op {
        Op::Softmax { rows, cols }
    }
    /// Matrix-vector product with an `m × n` matrix.
    pub fn matvec(m: usize, n: usize) -> Op {
        Op::Matvec { m, n }
    }
    /// Matrix product `(m × k) · (k × n)`.
    pub fn matmul(m: usize, k: usize, n: usize) -> Op {
        Op::Matmul { m, k, n }
    }

    /// The operation's family.
    pub fn kind(&self) -> OpKind {
        match *self {
            Op::Elementwise { kind, .. } => kind,
            Op::Softmax { .. } => OpKind::Softmax,
            Op::Matvec { .. } => OpKind::Matvec,
            Op::Matmul { .. } => OpKind::Matmul,
        }
    }

    /// Floating-point operations performed. Softmax counts 5 per element
    /// (max, subtract, exp, sum, divide); ReLU counts its compare.
    pub fn flops(&self) -> u64 {
        match *self {
            Op::Elementwise { len, .. } => len as u64,
            Op::Softmax { rows, cols } => 5 * rows as u64 * cols as u64,
            Op::Matvec { m, n } => 2 * m as u64 * n as u64,
            Op::Matmul { m, k, n } => 2 * m as u64 * k as u64 * n as u64,
        }
    }

    /// Bytes of input read, each operand counted once.
    pub fn bytes_read(&self) -> u64 {
        match *self {
            Op::Elementwise {
                kind: OpKind::Relu,
                len,
            } => F32 * len as u64,
            Op::Elementwise { len, .. } => 2 * F32 * len as u64,
            Op::Softmax { rows, cols } => F32 * rows as u64 * cols as u64,
            Op::Matvec { m, n } => F32 * (m as u64 * n as u64 + n as u64),
            Op::Matmul { m, k, n } => F32 * (m as u64 * k as u64 + k as u64 * n as u64),
        }
    }

    /// Bytes of output written.
    pub fn bytes_written(&self) -> u64 {
        match *self {
            Op::Elementwise { len, .. } => F32 * len as u64,
            Op::Softmax { rows, cols } => F32 * rows as u64 * cols as u64,
            Op::Matvec { m, .. } => F32 * m as u64,
            Op::Matmul { m, n, .. } => F32 * m as u64 * n as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_shapes() {
        assert_eq!(Op::add(10).flops(), 10);
        assert_eq!(Op::add(10).bytes_read(), 80);
        assert_eq!(Op::relu(10).bytes_read(), 40);
        assert_eq!(Op::relu(10).bytes_written(), 40);
        assert_eq!(Op::softmax(2, 3).flops(), 30);
        assert_eq!(Op::matvec(3, 4).flops(), 24);
        assert_eq!(Op::matvec(3, 4).bytes_read(), 4 * (12 + 4));
        assert_eq!(Op::matvec(3, 4).bytes_written(), 12);
        assert_eq!(Op::mul(7).kind(), OpKind::Mul);
    }
}
