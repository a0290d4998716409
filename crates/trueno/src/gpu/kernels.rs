//! Operations on device tensors. Each checks shapes, queues its dispatches and
//! returns at once; results are ordered on the queue, so chains need no waits.

use super::context::Shader;
use super::{GpuContext, GpuError, GpuTensor};
use crate::TruenoError;
pub(super) use crate::error::expect_len as same_len;

/// The matmul kernels in `shaders/matmul.wgsl`: both compute a 128 × 128 tile
/// per workgroup with an 8 × 8 block per thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    /// k step 8, each thread's 8 rows and columns consecutive: the plain
    /// register-blocked kernel, kept as the baseline.
    Tile128K8,
    /// k step 16, each thread's rows and columns in two groups of 4, 64 apart:
    /// conflict-free workgroup reads and coalesced stores. The default.
    Tile128K16Split,
}

impl MatmulKernel {
    /// The kernel [`GpuContext::matmul`] uses (fastest measured on an H100).
    pub const DEFAULT: MatmulKernel = MatmulKernel::Tile128K16Split;
    /// Every kernel, for benchmarks.
    pub const ALL: [MatmulKernel; 2] = [MatmulKernel::Tile128K8, MatmulKernel::Tile128K16Split];

    fn entry(self) -> &'static str {
        match self {
            MatmulKernel::Tile128K8 => "matmul",
            MatmulKernel::Tile128K16Split => "matmul_bk16_split",
        }
    }
}

/// Workgroups used by the first pass of a reduction (each thread then sums a
/// strided run of at most `n / (1024 · 256)` elements).
const REDUCE_GROUPS: u64 = 1024;

pub(super) fn u32_dim(v: usize, what: &str) -> Result<u32, GpuError> {
    u32::try_from(v).map_err(|_| GpuError::TooLarge(what.to_owned()))
}

impl GpuContext {
    fn elementwise(
        &self,
        entry: &'static str,
        a: &GpuTensor,
        b: Option<&GpuTensor>,
        cols: u32,
    ) -> Result<GpuTensor, TruenoError> {
        let out = self.output(a.len())?;
        if a.is_empty() {
            return Ok(out);
        }
        let n = u32_dim(a.len(), "an element-wise operand")?;
        let groups = self.grid((a.len() as u64).div_ceil(256), "an element-wise operand")?;
        let mut bindings = vec![(0, a.buffer()), (2, out.buffer())];
        if let Some(b) = b {
            bindings.push((1, b.buffer()));
        }
        self.dispatch(
            Shader::Elementwise,
            entry,
            &bindings,
            [n, cols, 0, 0],
            groups,
        )?;
        Ok(out)
    }

    /// `a + b`, element-wise.
    pub fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        same_len("add", "b", a.len(), b.len())?;
        self.elementwise("add", a, Some(b), 0)
    }

    /// `a * b`, element-wise.
    pub fn mul(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        same_len("mul", "b", a.len(), b.len())?;
        self.elementwise("mul", a, Some(b), 0)
    }

    /// `max(x, 0)`, element-wise. WGSL does not guarantee NaN propagation, so
    /// unlike the CPU kernels a NaN input may come out as 0.
    pub fn relu(&self, x: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        self.elementwise("relu", x, None, 0)
    }

    /// `tanh x`, element-wise (WGSL's `tanh`: its accuracy is the driver's, a
    /// few ulp on the devices tested).
    pub fn tanh(&self, x: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        self.elementwise("tanh_act", x, None, 0)
    }

    /// `x[r, c] + bias[c]` for `x` with rows of `bias.len()` elements.
    pub fn bias_add(&self, x: &GpuTensor, bias: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        let cols = bias.len();
        if cols == 0 || !x.len().is_multiple_of(cols) {
            return Err(TruenoError::ShapeMismatch {
                op: "bias_add",
                operand: "x",
                expected: x.len().next_multiple_of(cols.max(1)),
                actual: x.len(),
            });
        }
        self.elementwise("bias_add", x, Some(bias), u32_dim(cols, "a bias")?)
    }

    fn reduce(
        &self,
        entry: &'static str,
        a: &GpuTensor,
        b: Option<&GpuTensor>,
    ) -> Result<GpuTensor, TruenoError> {
        let n = a.len() as u64;
        let groups = n.div_ceil(256).clamp(1, REDUCE_GROUPS);
        let partial = self.output(groups as usize)?;
        let mut bindings = vec![(0, a.buffer()), (2, partial.buffer())];
        if let Some(b) = b {
            bindings.push((1, b.buffer()));
        }
        self.dispatch(
            Shader::Reduce,
            entry,
            &bindings,
            [u32_dim(a.len(), "a reduction")?, 0, 0, 0],
            (groups as u32, 1),
        )?;
        // Second pass: one workgroup folds the partials (max stays max, dot becomes a sum).
        let second = if entry == "max_value" {
            "max_value"
        } else {
            "sum"
        };
        let out = self.output(1)?;
        self.dispatch(
            Shader::Reduce,
            second,
            &[(0, partial.buffer()), (2, out.buffer())],
            [groups as u32, 0, 0, 0],
            (1, 1),
        )?;
        Ok(out)
    }

    /// Sum of all elements (0 when empty), as a one-element device tensor.
    pub fn sum(&self, a: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        self.reduce("sum", a, None)
    }

    /// Dot product, as a one-element device tensor.
    pub fn dot(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        same_len("dot", "b", a.len(), b.len())?;
        self.reduce("dot", a, Some(b))
    }

    /// Largest element (−f32::MAX when empty), as a one-element device tensor.
    pub fn max(&self, a: &GpuTensor) -> Result<GpuTensor, TruenoError> {
        self.reduce("max_value", a, None)
    }

    /// Row-wise stable softmax of `x` viewed as rows of `cols` elements.
    pub fn softmax_rows(&self, x: &GpuTensor, cols: usize) -> Result<GpuTensor, TruenoError> {
        if cols == 0 || !x.len().is_multiple_of(cols) {
            return Err(TruenoError::ShapeMismatch {
                op: "softmax_rows",
                operand: "x",
                expected: x.len().next_multiple_of(cols.max(1)),
                actual: x.len(),
            });
        }
        let out = self.output(x.len())?;
        let rows = x.len() / cols;
        if rows == 0 {
            return Ok(out);
        }
        let groups = self.grid(rows as u64, "softmax rows")?;
        let params = [
            u32_dim(rows, "softmax rows")?,
            u32_dim(cols, "a softmax row")?,
            0,
            0,
        ];
        self.dispatch(
            Shader::Softmax,
            "softmax_rows",
            &[(0, x.buffer()), (2, out.buffer())],
            params,
            groups,
        )?;
        Ok(out)
    }

    /// `y = A x` for row-major `A` of `m × n`.
    pub fn matvec(
        &self,
        a: &GpuTensor,
        m: usize,
        n: usize,
        x: &GpuTensor,
    ) -> Result<GpuTensor, TruenoError> {
        same_len(
            "matvec",
            "a",
            m.checked_mul(n)
                .ok_or(TruenoError::ShapeOverflow { op: "matvec" })?,
            a.len(),
        )?;
        same_len("matvec", "x", n, x.len())?;
        let y = self.output(m)?;
        if m == 0 {
            return Ok(y);
        }
        if n == 0 {
            return Ok(self.upload(&vec![0.0; m])?);
        }
        let groups = self.grid(m as u64, "matvec rows")?;
        let params = [
            u32_dim(m, "matvec rows")?,
            u32_dim(n, "matvec columns")?,
            0,
            0,
        ];
        self.dispatch(
            Shader::Matvec,
            "matvec",
            &[(0, a.buffer()), (1, x.buffer()), (2, y.buffer())],
            params,
            groups,
        )?;
        Ok(y)
    }

    /// `C = A B` for row-major `A (m×k)`, `B (k×n)`, with the default kernel.
    pub fn matmul(
        &self,
        a: &GpuTensor,
        b: &GpuTensor,
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<GpuTensor, TruenoError> {
        self.matmul_with(MatmulKernel::DEFAULT, a, b, m, k, n)
    }

    /// `C = A B` with a chosen kernel (for benchmarks and tuning).
    pub fn matmul_with(
        &self,
        kernel: MatmulKernel,
        a: &GpuTensor,
        b: &GpuTensor,
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<GpuTensor, TruenoError> {
        let overflow = TruenoError::ShapeOverflow { op: "matmul" };
        same_len(
            "matmul",
            "a",
            m.checked_mul(k).ok_or(overflow.clone())?,
            a.len(),
        )?;
        same_len(
            "matmul",
            "b",
            k.checked_mul(n).ok_or(overflow.clone())?,
            b.len(),
        )?;
        let c = self.output(m.checked_mul(n).ok_or(overflow)?)?;
        if m == 0 || n == 0 {
            return Ok(c);
        }
        if k == 0 {
            return Ok(self.upload(&vec![0.0; m * n])?);
        }
        let max = u64::from(self.limits().max_compute_workgroups_per_dimension);
        let (gx, gy) = ((n as u64).div_ceil(128), (m as u64).div_ceil(128));
        if gx > max || gy > max {
            return Err(GpuError::TooLarge(format!("a {m}×{n} matmul output")).into());
        }
        let params = [
            u32_dim(m, "matmul m")?,
            u32_dim(k, "matmul k")?,
            u32_dim(n, "matmul n")?,
            0,
        ];
        self.dispatch(
            Shader::Matmul,
            kernel.entry(),
            &[(0, a.buffer()), (1, b.buffer()), (2, c.buffer())],
            params,
            (gx as u32, gy as u32),
        )?;
        Ok(c)
    }
}
