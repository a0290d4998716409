//! The few compute shapes the models need, on whichever trueno backend they run.

use trueno::Backend;
use trueno::ops;
use trueno::{MatMut, MatRef};

use crate::AprenderError;

/// `C = A · B` into a contiguous row-major `c`; transposes are in the views
/// (`MatRef::new(x, n, d).t()` for Xᵀ). CPU backends use trueno's sgemm on
/// the views as they are; the GPU has plain `A·B`, so transposed operands are
/// copied out on the host first (training on the GPU is correct but pays for
/// every upload).
pub(crate) fn gemm(
    backend: Backend,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c: &mut [f32],
) -> Result<(), AprenderError> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if backend != Backend::Gpu {
        ops::sgemm(backend, 1.0, a, b, 0.0, MatMut::new(c, m, n))?;
        return Ok(());
    }
    ops::matmul(backend, &a.to_vec(), &b.to_vec(), c, m, k, n)?;
    Ok(())
}

/// Adds `bias` to every row of `z`.
pub(crate) fn add_bias(z: &mut [f32], bias: &[f32]) {
    for row in z.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
    }
}

/// Sums the rows of `g` (`rows × cols`) into `out`.
pub(crate) fn column_sums(g: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in g.chunks_exact(cols) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}
