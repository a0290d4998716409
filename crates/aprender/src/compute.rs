//! The few compute shapes the models need, on whichever trueno backend they run.

use trueno::Backend;
use trueno::ops;
use trueno::simd::gemm::Transpose;

use crate::AprenderError;

/// `C = op(A)·op(B)`, or `C += op(A)·op(B)` with `accumulate`, all row-major;
/// op(A) is `m × k`, op(B) is `k × n`. CPU backends use trueno's sgemm with
/// its transposes; the GPU has plain `A·B`, so transposes are made on the host
/// first (training on the GPU is correct but pays for every upload).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    backend: Backend,
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) -> Result<(), AprenderError> {
    let t = |yes| if yes { Transpose::Yes } else { Transpose::No };
    if backend != Backend::Gpu {
        let lda = if ta { m } else { k };
        let ldb = if tb { k } else { n };
        let beta = if accumulate { 1.0 } else { 0.0 };
        ops::sgemm(
            backend,
            t(ta),
            t(tb),
            m,
            n,
            k,
            1.0,
            a,
            lda,
            b,
            ldb,
            beta,
            c,
            n,
        )?;
        return Ok(());
    }
    let a = if ta { transpose(a, k, m) } else { a.to_vec() };
    let b = if tb { transpose(b, n, k) } else { b.to_vec() };
    let mut product = vec![0.0; m * n];
    ops::matmul(backend, &a, &b, &mut product, m, k, n)?;
    if accumulate {
        c.iter_mut().zip(&product).for_each(|(c, p)| *c += p);
    } else {
        c.copy_from_slice(&product);
    }
    Ok(())
}

/// The transpose of a row-major `rows × cols` matrix.
pub(crate) fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = a[r * cols + c];
        }
    }
    t
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
