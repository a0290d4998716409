//! Checked entry points: validate shapes, then run the kernel on the chosen backend.
//!
//! Every function returns [`TruenoError`] instead of panicking on a bad shape,
//! and writes nothing to `out` unless the whole call is valid.

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

fn cpu(backend: Backend) -> Result<bool, TruenoError> {
    match backend {
        Backend::Scalar => Ok(false),
        Backend::Simd => Ok(true),
        Backend::Gpu => Err(TruenoError::BackendUnavailable {
            backend,
            reason: "this build of trueno has no GPU kernels",
        }),
    }
}

/// `out = a + b`, element-wise.
pub fn add(backend: Backend, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("add", "b", a.len(), b.len())?;
    check("add", "out", a.len(), out.len())?;
    if cpu(backend)? {
        simd::add(a, b, out)
    } else {
        scalar::add(a, b, out)
    }
    Ok(())
}

/// `out = a * b`, element-wise.
pub fn mul(backend: Backend, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("mul", "b", a.len(), b.len())?;
    check("mul", "out", a.len(), out.len())?;
    if cpu(backend)? {
        simd::mul(a, b, out)
    } else {
        scalar::mul(a, b, out)
    }
    Ok(())
}

/// `out = max(x, 0)`, element-wise; NaN propagates.
pub fn relu(backend: Backend, x: &[f32], out: &mut [f32]) -> Result<(), TruenoError> {
    check("relu", "out", x.len(), out.len())?;
    if cpu(backend)? {
        simd::relu(x, out)
    } else {
        scalar::relu(x, out)
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
    if cpu(backend)? {
        simd::softmax_rows(x, cols, out)
    } else {
        scalar::softmax_rows(x, cols, out)
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
    if cpu(backend)? {
        simd::matvec(a, m, n, x, y)
    } else {
        scalar::matvec(a, m, n, x, y)
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
    if cpu(backend)? {
        simd::matmul(a, b, c, m, k, n)
    } else {
        scalar::matmul(a, b, c, m, k, n)
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
    fn gpu_is_reported_unavailable() {
        let err = relu(Backend::Gpu, &[1.0], &mut [0.0]).unwrap_err();
        assert!(matches!(
            err,
            TruenoError::BackendUnavailable {
                backend: Backend::Gpu,
                ..
            }
        ));
    }
}
