//! Checked entry points: validate shapes, then run the kernel on the chosen backend.
//!
//! Every function returns [`TruenoError`] instead of panicking on a bad shape,
//! and writes nothing to `out` unless the whole call is valid. On
//! [`Backend::Gpu`] each call uploads its inputs and downloads its result; chain
//! device-resident work through [`crate::gpu::GpuContext`] instead.

use crate::gpu::{GpuContext, GpuTensor};
use crate::{Backend, TruenoError, scalar, simd};

fn check(
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
    check("softmax_rows", "out", x.len(), out.len())?;
    if cols == 0 {
        return check("softmax_rows", "x", 0, x.len());
    }
    if !x.len().is_multiple_of(cols) {
        return Err(TruenoError::ShapeMismatch {
            op: "softmax_rows",
            operand: "x",
            expected: x.len().next_multiple_of(cols),
            actual: x.len(),
        });
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
}
