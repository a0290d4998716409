//! Checked entry points: validate shapes, then run the kernel on the chosen backend.
//!
//! Every function returns [`TruenoError`] instead of panicking on a bad shape,
//! and writes nothing to `out` unless the whole call is valid. On
//! [`Backend::Gpu`] each call uploads its inputs and downloads its result; chain
//! device-resident work through [`crate::gpu::GpuContext`] instead.

use crate::error::expect_len as check;
use crate::error::expect_len as expect;
use crate::gpu::{Activation, GpuContext, GpuTensor};
use crate::seq::total;
use crate::simd::gemm::{MatMut, MatRef};
use crate::{Attention, Backend, SegmentPool, TruenoError, scalar, simd};

/// Checks `x` as rows of `cols` values and `out` of the same length;
/// `Ok(false)` when there is nothing to compute (no columns, no values).
fn check_rows(op: &'static str, x: &[f32], cols: usize, out: &[f32]) -> Result<bool, TruenoError> {
    check(op, "out", x.len(), out.len())?;
    if cols == 0 {
        check(op, "x", 0, x.len())?;
        return Ok(false);
    }
    if !x.len().is_multiple_of(cols) {
        return Err(TruenoError::ShapeMismatch {
            op,
            operand: "x",
            expected: x.len().next_multiple_of(cols),
            actual: x.len(),
        });
    }
    Ok(true)
}

fn product(op: &'static str, a: usize, b: usize) -> Result<usize, TruenoError> {
    a.checked_mul(b).ok_or(TruenoError::ShapeOverflow { op })
}

/// Where a checked call runs.
enum Target {
    Scalar,
    Simd,
    Gpu(&'static GpuContext),
}

fn target(backend: Backend) -> Result<Target, TruenoError> {
    Ok(match backend {
        Backend::Scalar => Target::Scalar,
        Backend::Simd => Target::Simd,
        Backend::Gpu => Target::Gpu(GpuContext::shared()?),
    })
}

/// Runs `f` on the device over uploaded `inputs` and copies the result into `out`.
fn on_gpu(
    ctx: &GpuContext,
    inputs: &[&[f32]],
    out: &mut [f32],
    f: impl FnOnce(&GpuContext, &[GpuTensor]) -> Result<GpuTensor, TruenoError>,
) -> Result<(), TruenoError> {
    let (data, _) = ctx.run_host(inputs, f)?;
    out.copy_from_slice(&data);
    Ok(())
}

/// `out = a + b`, element-wise.
pub fn add(backend: Backend, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("add", "b", a.len(), b.len())?;
    check("add", "out", a.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::add(a, b, out),
        Target::Simd => simd::add(a, b, out),
        Target::Gpu(g) => on_gpu(g, &[a, b], out, |g, t| g.add(&t[0], &t[1]))?,
    }
    Ok(())
}

/// `out = a * b`, element-wise.
pub fn mul(backend: Backend, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("mul", "b", a.len(), b.len())?;
    check("mul", "out", a.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::mul(a, b, out),
        Target::Simd => simd::mul(a, b, out),
        Target::Gpu(g) => on_gpu(g, &[a, b], out, |g, t| g.mul(&t[0], &t[1]))?,
    }
    Ok(())
}

/// `out = max(x, 0)`, element-wise; NaN propagates.
pub fn relu(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("relu", "out", x.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::relu(x, out),
        Target::Simd => simd::relu(x, out),
        Target::Gpu(g) => on_gpu(g, &[x], out, |g, t| g.relu(&t[0]))?,
    }
    Ok(())
}

/// `out = tanh x`, element-wise.
pub fn tanh(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("tanh", "out", x.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::tanh(x, out),
        Target::Simd => simd::tanh(x, out),
        Target::Gpu(g) => on_gpu(g, &[x], out, |g, t| g.tanh(&t[0]))?,
    }
    Ok(())
}

fn no_gpu(op: &'static str) -> TruenoError {
    TruenoError::BackendUnavailable {
        backend: Backend::Gpu,
        reason: op,
    }
}

/// Generates checked element-wise entry points with no GPU kernel yet.
macro_rules! cpu_binary {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(backend: Backend, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
            check(stringify!($name), "b", a.len(), b.len())?;
            check(stringify!($name), "out", a.len(), out.len())?;
            match target(backend)? {
                Target::Scalar => scalar::$name(a, b, out),
                Target::Simd => simd::$name(a, b, out),
                Target::Gpu(_) => return Err(no_gpu(concat!("no GPU kernel for `", stringify!($name), "` yet"))),
            }
            Ok(())
        }
    };
}

macro_rules! cpu_unary {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
            check(stringify!($name), "out", x.len(), out.len())?;
            match target(backend)? {
                Target::Scalar => scalar::$name(x, out),
                Target::Simd => simd::$name(x, out),
                Target::Gpu(_) => return Err(no_gpu(concat!("no GPU kernel for `", stringify!($name), "` yet"))),
            }
            Ok(())
        }
    };
}

cpu_binary!(
    /// `out = a - b`, element-wise.
    sub
);
cpu_binary!(
    /// `out = a / b`, element-wise.
    div
);
cpu_unary!(
    /// `out = e^x`, element-wise.
    exp
);
cpu_unary!(
    /// `out = 1 / (1 + e^-x)`, element-wise.
    sigmoid
);

/// GELU (tanh form), element-wise.
pub fn gelu(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("gelu", "out", x.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::gelu(x, out),
        Target::Simd => simd::gelu(x, out),
        Target::Gpu(g) => gelu_on_gpu(g, x, out, Activation::GeluTanh)?,
    }
    Ok(())
}

/// GELU, exact form `x Φ(x)`, element-wise (on the GPU erf is a rational
/// fit within 1.2e-7).
pub fn gelu_erf(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("gelu_erf", "out", x.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::gelu_erf(x, out),
        Target::Simd => simd::gelu_erf(x, out),
        Target::Gpu(g) => gelu_on_gpu(g, x, out, Activation::GeluErf)?,
    }
    Ok(())
}

fn gelu_on_gpu(
    g: &GpuContext,
    x: &[f32],
    out: &mut [f32],
    act: Activation,
) -> Result<(), TruenoError> {
    if x.is_empty() {
        return Ok(());
    }
    on_gpu(g, &[x, &[0.0]], out, |g, t| g.bias_act(&t[0], &t[1], act))
}

/// Layer normalisation of each row of `cols` values:
/// `(x − mean) / √(var + eps) · γ + β`, with `gamma` and `beta` of `cols` values.
pub fn layer_norm_rows(
    backend: Backend,
    x: &[f32],
    cols: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
) -> Result<(), TruenoError> {
    if !check_rows("layer_norm_rows", x, cols, out)? {
        return Ok(());
    }
    check("layer_norm_rows", "gamma", cols, gamma.len())?;
    check("layer_norm_rows", "beta", cols, beta.len())?;
    match target(backend)? {
        Target::Scalar => scalar::layer_norm_rows(x, cols, gamma, beta, eps, out),
        Target::Simd => simd::layer_norm_rows(x, cols, gamma, beta, eps, out),
        Target::Gpu(g) => {
            let affine = [vec![0.0; cols], gamma.to_vec(), beta.to_vec()].concat();
            on_gpu(g, &[x, &affine], out, |g, t| {
                g.add_layer_norm(&t[0], None, &t[1], cols, eps)
            })?
        }
    }
    Ok(())
}

/// `out = alpha · x`.
pub fn scale(backend: Backend, alpha: f32, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("scale", "out", x.len(), out.len())?;
    match target(backend)? {
        Target::Scalar => scalar::scale(alpha, x, out),
        Target::Simd => simd::scale(alpha, x, out),
        Target::Gpu(_) => return Err(no_gpu("no GPU kernel for `scale` yet")),
    }
    Ok(())
}

/// `y += alpha · x`.
pub fn axpy(backend: Backend, alpha: f32, x: &[f32], y: &mut [f32]) -> Result<(), TruenoError> {
    check("axpy", "y", x.len(), y.len())?;
    match target(backend)? {
        Target::Scalar => scalar::axpy(alpha, x, y),
        Target::Simd => simd::axpy(alpha, x, y),
        Target::Gpu(_) => return Err(no_gpu("no GPU kernel for `axpy` yet")),
    }
    Ok(())
}

/// Dot product.
pub fn dot(backend: Backend, a: &[f32], b: &[f32]) -> Result<f32, TruenoError> {
    check("dot", "b", a.len(), b.len())?;
    Ok(match target(backend)? {
        Target::Scalar => scalar::dot(a, b),
        Target::Simd => simd::dot(a, b),
        Target::Gpu(g) => g.run_host(&[a, b], |g, t| g.dot(&t[0], &t[1]))?.0[0],
    })
}

/// Sum of all elements.
pub fn sum(backend: Backend, a: &[f32]) -> Result<f32, TruenoError> {
    Ok(match target(backend)? {
        Target::Scalar => a.iter().sum(),
        Target::Simd => simd::sum(a),
        Target::Gpu(g) => g.run_host(&[a], |g, t| g.sum(&t[0]))?.0[0],
    })
}

/// Largest element (NaN if any is NaN; −∞ when empty).
pub fn max(backend: Backend, a: &[f32]) -> Result<f32, TruenoError> {
    Ok(match target(backend)? {
        Target::Scalar => scalar::max(a),
        Target::Simd => simd::max(a),
        Target::Gpu(_) => {
            return Err(no_gpu(
                "GPU `max` does not propagate NaN; use a CPU backend",
            ));
        }
    })
}

/// Index of the first largest element (`None` when empty).
pub fn argmax(backend: Backend, a: &[f32]) -> Result<Option<usize>, TruenoError> {
    Ok(match target(backend)? {
        Target::Scalar => scalar::argmax(a),
        Target::Simd => simd::argmax(a),
        Target::Gpu(_) => return Err(no_gpu("no GPU kernel for `argmax` yet")),
    })
}

/// Euclidean norm.
pub fn l2_norm(backend: Backend, a: &[f32]) -> Result<f32, TruenoError> {
    Ok(match target(backend)? {
        Target::Scalar => scalar::l2_norm(a),
        Target::Simd => simd::l2_norm(a),
        Target::Gpu(g) => g.run_host(&[a, a], |g, t| g.dot(&t[0], &t[1]))?.0[0].sqrt(),
    })
}

/// Row-wise stable log-softmax of `x`, viewed as rows of `cols` elements.
pub fn log_softmax_rows(
    backend: Backend,
    x: &[f32],
    cols: usize,
    out: &mut [f32],
) -> Result<(), TruenoError> {
    if !check_rows("log_softmax_rows", x, cols, out)? {
        return Ok(());
    }
    match target(backend)? {
        Target::Scalar => scalar::log_softmax_rows(x, cols, out),
        Target::Simd => simd::log_softmax_rows(x, cols, out),
        Target::Gpu(_) => return Err(no_gpu("no GPU kernel for `log_softmax_rows` yet")),
    }
    Ok(())
}

/// The full sgemm contract: `C = alpha · A · B + beta · C` over matrix
/// views (transposes and strides are in the views: `a.t()` for Aᵀ). With
/// `beta == 0` C is not read. CPU backends only (the GPU has `C = A B`
/// through [`crate::gpu::GpuContext::matmul`]).
///
/// ```
/// use trueno::{Backend, MatMut, MatRef, ops};
/// let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
/// let mut c = [0.0; 4];
/// // C = Aᵀ B
/// ops::sgemm(Backend::Simd, 1.0, MatRef::new(&a, 2, 2).t(), MatRef::new(&b, 2, 2), 0.0,
///            MatMut::new(&mut c, 2, 2)).unwrap();
/// assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
/// ```
pub fn sgemm(
    backend: Backend,
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    mut c: MatMut<'_>,
) -> Result<(), TruenoError> {
    // A stored operand of `rows` rows of `cols` values at stride `ld` needs
    // (rows − 1)·ld + cols values.
    let need = |(rows, cols): (usize, usize),
                ld: usize,
                operand: &'static str,
                have: usize|
     -> Result<(), TruenoError> {
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        if ld < cols {
            return Err(TruenoError::LeadingDimension {
                op: "sgemm",
                operand,
                ld,
                cols,
            });
        }
        let len = (rows - 1)
            .checked_mul(ld)
            .and_then(|v| v.checked_add(cols))
            .ok_or(TruenoError::ShapeOverflow { op: "sgemm" })?;
        if have < len {
            return Err(TruenoError::ShapeMismatch {
                op: "sgemm",
                operand,
                expected: len,
                actual: have,
            });
        }
        Ok(())
    };
    let chain = |operand, expected, actual| {
        if expected == actual {
            Ok(())
        } else {
            Err(TruenoError::DimensionMismatch {
                op: "sgemm",
                operand,
                expected,
                actual,
            })
        }
    };
    chain("b (rows)", a.cols(), b.rows())?;
    chain("c (rows)", a.rows(), c.rows())?;
    chain("c (cols)", b.cols(), c.cols())?;
    need(a.stored(), a.ld(), "a", a.data().len())?;
    need(b.stored(), b.ld(), "b", b.data().len())?;
    need((c.rows(), c.cols()), c.ld(), "c", c.data().len())?;
    let level = match target(backend)? {
        Target::Scalar => crate::simd::Level::Scalar, // the portable micro-kernel
        Target::Simd => crate::simd::level(),
        Target::Gpu(_) => {
            return Err(no_gpu(
                "`sgemm` with transposes and beta runs on CPU backends",
            ));
        }
    };
    crate::simd::gemm::sgemm_on(level, alpha, a, b, beta, c);
    Ok(())
}

/// Row-wise stable softmax of `x`, viewed as rows of `cols` elements.
///
/// ```
/// use trueno::{Backend, ops};
/// let mut p = [0.0; 2];
/// ops::softmax_rows(Backend::Scalar, &[0.0, 0.0], 2, &mut p).unwrap();
/// assert_eq!(p, [0.5, 0.5]);
/// ```
pub fn softmax_rows(
    backend: Backend,
    x: &[f32],
    cols: usize,
    out: &mut [f32],
) -> Result<(), TruenoError> {
    if !check_rows("softmax_rows", x, cols, out)? {
        return Ok(());
    }
    match target(backend)? {
        Target::Scalar => scalar::softmax_rows(x, cols, out),
        Target::Simd => simd::softmax_rows(x, cols, out),
        Target::Gpu(g) => on_gpu(g, &[x], out, |g, t| g.softmax_rows(&t[0], cols))?,
    }
    Ok(())
}

/// `y = A x` for row-major `A` of `m × n`.
pub fn matvec(
    backend: Backend,
    a: &[f32],
    m: usize,
    n: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), TruenoError> {
    check("matvec", "a", product("matvec", m, n)?, a.len())?;
    check("matvec", "x", n, x.len())?;
    check("matvec", "y", m, y.len())?;
    match target(backend)? {
        Target::Scalar => scalar::matvec(a, m, n, x, y),
        Target::Simd => simd::matvec(a, m, n, x, y),
        Target::Gpu(g) => on_gpu(g, &[a, x], y, |g, t| g.matvec(&t[0], m, n, &t[1]))?,
    }
    Ok(())
}

/// `C = A B` for row-major `A (m×k)`, `B (k×n)`, `C (m×n)`.
///
/// ```
/// use trueno::{Backend, ops};
/// let mut c = [0.0; 4];
/// ops::matmul(Backend::Simd, &[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], &mut c, 2, 2, 2).unwrap();
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// ```
pub fn matmul(
    backend: Backend,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<(), TruenoError> {
    check("matmul", "a", product("matmul", m, k)?, a.len())?;
    check("matmul", "b", product("matmul", k, n)?, b.len())?;
    check("matmul", "c", product("matmul", m, n)?, c.len())?;
    match target(backend)? {
        Target::Scalar => scalar::matmul(a, b, c, m, k, n),
        Target::Simd => simd::matmul(a, b, c, m, k, n),
        Target::Gpu(g) => on_gpu(g, &[a, b], c, |g, t| g.matmul(&t[0], &t[1], m, k, n))?,
    }
    Ok(())
}

/// Multi-head attention within each of the stacked sequences of `lens` rows
/// (see [`Attention`]): `qkv` has `3 · shape.width()` values per row, `out`
/// `shape.width()`.
///
/// ```
/// use trueno::{Attention, Backend, ops};
/// let shape = Attention { heads: 1, head_dim: 1, causal: false };
/// // Two sequences of one token each: each attends only to itself.
/// let qkv = [1.0, 1.0, 5.0, 1.0, 1.0, 7.0];
/// let mut out = [0.0; 2];
/// ops::attention(Backend::Scalar, shape, &qkv, &[1, 1], &mut out).unwrap();
/// assert_eq!(out, [5.0, 7.0]);
/// ```
pub fn attention(
    backend: Backend,
    shape: Attention,
    qkv: &[f32],
    lens: &[usize],
    out: &mut [f32],
) -> Result<(), TruenoError> {
    if shape.check(qkv, lens, out)? == 0 {
        return Ok(());
    }
    match target(backend)? {
        Target::Scalar => scalar::attention(shape, qkv, lens, out),
        Target::Simd => simd::attention(shape, qkv, lens, out),
        Target::Gpu(g) => {
            let spans = g.upload_spans(lens)?;
            on_gpu(g, &[qkv], out, |g, t| g.attention(shape, &t[0], &spans))?
        }
    }
    Ok(())
}

/// `out[r] = Σ_t tables[t][idx[r·T + t]]` for `T = tables.len()` tables of
/// rows of `cols` values (word + position + type embeddings). An index past
/// its table is an error naming the row.
pub fn gather_add_rows(
    backend: Backend,
    tables: &[&[f32]],
    cols: usize,
    idx: &[u32],
    out: &mut [f32],
) -> Result<(), TruenoError> {
    let op = "gather_add_rows";
    let t = tables.len();
    if cols == 0 || t == 0 {
        expect(op, "out", 0, out.len())?;
        return Ok(());
    }
    if !idx.len().is_multiple_of(t) {
        return Err(TruenoError::ShapeMismatch {
            op,
            operand: "idx",
            expected: idx.len().next_multiple_of(t),
            actual: idx.len(),
        });
    }
    let rows = idx.len() / t;
    expect(op, "out", product(op, rows, cols)?, out.len())?;
    let mut lens = Vec::with_capacity(t);
    for table in tables {
        if !table.len().is_multiple_of(cols) {
            return Err(TruenoError::ShapeMismatch {
                op,
                operand: "tables",
                expected: table.len().next_multiple_of(cols),
                actual: table.len(),
            });
        }
        lens.push(table.len() / cols);
    }
    for (row, ids) in idx.chunks_exact(t).enumerate() {
        for (table, (&index, &len)) in ids.iter().zip(&lens).enumerate() {
            if index as usize >= len {
                return Err(TruenoError::IndexOutOfRange {
                    op,
                    row,
                    table,
                    index,
                    len,
                });
            }
        }
    }
    match target(backend)? {
        Target::Scalar => scalar::gather_add_rows(tables, cols, idx, out),
        Target::Simd => simd::gather_add_rows(tables, cols, idx, out),
        Target::Gpu(g) => {
            // One table on the device, the indices offset into it.
            let offsets: Vec<u32> = lens
                .iter()
                .scan(0u32, |at, &n| {
                    let o = *at;
                    *at = at.saturating_add(n as u32);
                    Some(o)
                })
                .collect();
            let shifted: Vec<u32> = idx
                .iter()
                .enumerate()
                .map(|(i, &v)| v + offsets[i % t])
                .collect();
            let ids = g.upload_u32(&shifted)?;
            on_gpu(g, &[&tables.concat()], out, |g, tab| {
                g.gather_add_rows(&tab[0], cols, &ids, t)
            })?
        }
    }
    Ok(())
}

/// One row of `cols` values per stacked sequence of `lens` rows of `x`:
/// their mean, first or last (see [`SegmentPool`]).
pub fn segment_pool(
    backend: Backend,
    x: &[f32],
    cols: usize,
    lens: &[usize],
    pool: SegmentPool,
    out: &mut [f32],
) -> Result<(), TruenoError> {
    let op = "segment_pool";
    let rows = total(op, lens)?;
    expect(op, "x", product(op, rows, cols)?, x.len())?;
    expect(op, "out", product(op, lens.len(), cols)?, out.len())?;
    if out.is_empty() {
        return Ok(());
    }
    match target(backend)? {
        Target::Scalar => scalar::segment_pool(x, cols, lens, pool, out),
        Target::Simd => simd::segment_pool(x, cols, lens, pool, out),
        Target::Gpu(g) => {
            let spans = g.upload_spans(lens)?;
            on_gpu(g, &[x], out, |g, t| {
                g.segment_pool(&t[0], cols, &spans, pool)
            })?
        }
    }
    Ok(())
}

/// Each row of `cols` values divided by `max(‖row‖, 1e-12)`.
pub fn l2_normalize_rows(
    backend: Backend,
    x: &[f32],
    cols: usize,
    out: &mut [f32],
) -> Result<(), TruenoError> {
    if !check_rows("l2_normalize_rows", x, cols, out)? || x.is_empty() {
        return Ok(());
    }
    match target(backend)? {
        Target::Scalar => scalar::l2_normalize_rows(x, cols, out),
        Target::Simd => simd::l2_normalize_rows(x, cols, out),
        Target::Gpu(g) => on_gpu(g, &[x], out, |g, t| g.l2_normalize_rows(&t[0], cols))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shapes_are_errors_and_write_nothing() {
        let mut out = [7.0; 2];
        let err = add(Backend::Simd, &[1.0, 2.0], &[1.0], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: operand `b` has 1 elements, the shape needs 2"
        );
        assert_eq!(out, [7.0; 2]);
        assert!(
            matmul(
                Backend::Scalar,
                &[1.0; 6],
                &[1.0; 6],
                &mut [0.0; 4],
                2,
                3,
                3
            )
            .is_err()
        );
        assert!(matmul(Backend::Scalar, &[], &[], &mut [], usize::MAX, 2, 0).is_err());
        assert!(softmax_rows(Backend::Scalar, &[1.0; 5], 2, &mut [0.0; 5]).is_err());
        assert!(matvec(Backend::Scalar, &[1.0; 6], 2, 3, &[1.0; 2], &mut [0.0; 2]).is_err());
    }

    #[test]
    fn gpu_runs_or_says_why_not() {
        let mut out = [7.0];
        match relu(Backend::Gpu, &[-1.0], &mut out) {
            Ok(()) => assert_eq!(out, [0.0]),
            Err(TruenoError::Gpu(e)) => {
                assert!(!Backend::Gpu.is_available());
                assert_eq!(out, [7.0], "a failed call writes nothing: {e}");
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn sgemm_checks_every_operand_and_backends_agree() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2×3
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3×2
        let mut c = [0.0; 4];
        let bv = MatRef::new(&b, 3, 2);
        let run = |a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>| {
            sgemm(Backend::Simd, 1.0, a, b, 0.0, c)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            run(MatRef::strided(&a, 2, 3, 2), bv, MatMut::new(&mut c, 2, 2)),
            "sgemm: leading dimension of `a` is 2, smaller than its 3 columns"
        );
        assert_eq!(
            run(MatRef::new(&a[..5], 2, 3), bv, MatMut::new(&mut c, 2, 2)),
            "sgemm: operand `a` has 5 elements, the shape needs 6"
        );
        assert_eq!(
            run(MatRef::new(&a, 2, 3), bv, MatMut::new(&mut c[..3], 2, 2)),
            "sgemm: operand `c` has 3 elements, the shape needs 4"
        );
        assert_eq!(
            run(MatRef::new(&a, 2, 3), bv.t(), MatMut::new(&mut c, 2, 2)),
            "sgemm: `b (rows)` is 2, the other operands need 3"
        );
        assert_eq!(
            run(MatRef::new(&a, 2, 3), bv, MatMut::new(&mut c, 1, 2)),
            "sgemm: `c (rows)` is 1, the other operands need 2"
        );
        assert_eq!(c, [0.0; 4], "nothing written on error");

        // C = 2 · A · B + 0.5 · C with A given as the transpose of its stored 3×2.
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]; // Aᵀ stored 3×2
        let mut scalar_c = [1.0, 1.0, 1.0, 1.0];
        let mut simd_c = scalar_c;
        for (backend, c) in [
            (Backend::Scalar, &mut scalar_c),
            (Backend::Simd, &mut simd_c),
        ] {
            let av = MatRef::new(&at, 3, 2).t();
            sgemm(backend, 2.0, av, bv, 0.5, MatMut::new(c, 2, 2)).unwrap();
        }
        // A·B = [[4, 5], [10, 11]] → 2·AB + 0.5 = [[8.5, 10.5], [20.5, 22.5]]
        assert_eq!(scalar_c, [8.5, 10.5, 20.5, 22.5]);
        assert_eq!(simd_c, scalar_c);
    }

    #[test]
    fn new_kernels_through_the_checked_api() {
        let x = [-1.0, 0.0, 2.0];
        let mut out = [0.0; 3];
        sub(Backend::Simd, &x, &x, &mut out).unwrap();
        assert_eq!(out, [0.0; 3]);
        assert_eq!(max(Backend::Scalar, &x).unwrap(), 2.0);
        assert_eq!(argmax(Backend::Simd, &x).unwrap(), Some(2));
        assert!((l2_norm(Backend::Simd, &x).unwrap() - 5f32.sqrt()).abs() < 1e-6);
        assert!(scale(Backend::Simd, 2.0, &x, &mut out[..2]).is_err());
        let want = x.map(f32::exp);
        match exp(Backend::Gpu, &x, &mut out) {
            // Where a GPU ran it, its answer is checked like any backend's.
            Ok(()) => {
                for (got, want) in out.iter().zip(want) {
                    assert!((got - want).abs() <= 1e-5 * want.max(1.0), "{out:?}");
                }
            }
            Err(e) => assert!(
                matches!(
                    e,
                    TruenoError::BackendUnavailable { .. } | TruenoError::Gpu(_)
                ),
                "{e}"
            ),
        }
        let mut ln = [0.0; 3];
        layer_norm_rows(Backend::Simd, &x, 3, &[1.0; 3], &[0.0; 3], 1e-12, &mut ln).unwrap();
        assert!(
            (ln.iter().sum::<f32>()).abs() < 1e-6 && ln[2] > ln[1],
            "{ln:?}"
        );
        assert!(matches!(
            layer_norm_rows(Backend::Simd, &x, 3, &[1.0; 2], &[0.0; 3], 1e-12, &mut ln),
            Err(TruenoError::ShapeMismatch {
                operand: "gamma",
                expected: 3,
                actual: 2,
                ..
            })
        ));
        assert!(matches!(
            layer_norm_rows(Backend::Gpu, &x, 3, &[1.0; 3], &[0.0; 3], 1e-12, &mut ln),
            Ok(()) | Err(TruenoError::Gpu(_))
        ));
        gelu_erf(Backend::Simd, &x, &mut out).unwrap();
        assert!((out[2] - 1.954_5).abs() < 1e-3 && out[1] == 0.0, "{out:?}");
        exp(Backend::Simd, &x, &mut out).unwrap();
        for (got, want) in out.iter().zip(want) {
            assert!((got - want).abs() <= 1e-6 * want.max(1.0), "{out:?}");
        }
    }
}
