//! Small dense solves in `f64`: Cholesky for normal equations, Householder QR
//! for least squares.
//!
//! Hand-written on purpose: the systems are `features × features` (tens to a
//! few hundred), the heavy `O(n·d²)` products go through trueno, and a general
//! linear-algebra crate (faer, nalgebra) would double the build of every
//! binary that serves models for two 40-line routines.

/// Solves `A x = b` for symmetric positive definite `A` (`n × n`, row-major)
/// by Cholesky; `None` when `A` is not positive definite.
pub(crate) fn cholesky_solve(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    // L y = b, then Lᵀ x = y.
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

/// Least squares `min ‖A x − b‖` for `A` of `m × n` (row-major, `m ≥ n`) by
/// Householder QR, which never forms `AᵀA` and so keeps the conditioning of
/// `A` itself. A column that is (numerically) a combination of earlier ones
/// gets coefficient 0, so rank-deficient data still gives a finite answer.
pub(crate) fn lstsq_qr(a: &[f64], m: usize, n: usize, b: &[f64]) -> Vec<f64> {
    let mut r = a.to_vec();
    let mut qtb = b.to_vec();
    let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs())).max(1.0);
    let mut dead = vec![false; n];
    for j in 0..n.min(m) {
        let norm = (j..m).map(|i| r[i * n + j].powi(2)).sum::<f64>().sqrt();
        if norm <= 1e-10 * scale * (m as f64).sqrt() {
            dead[j] = true;
            continue;
        }
        let alpha = if r[j * n + j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..m).map(|i| r[i * n + j]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        if vv == 0.0 {
            continue;
        }
        // H = I − 2vvᵀ/vᵀv on columns j.. of rows j..: the dots of v with every
        // column, then the update, both walking rows so the access is contiguous.
        let mut f = vec![0.0; n - j];
        for i in j..m {
            let vi = v[i - j];
            f.iter_mut()
                .zip(&r[i * n + j..(i + 1) * n])
                .for_each(|(d, x)| *d += vi * x);
        }
        f.iter_mut().for_each(|d| *d *= 2.0 / vv);
        for i in j..m {
            let vi = v[i - j];
            r[i * n + j..(i + 1) * n]
                .iter_mut()
                .zip(&f)
                .for_each(|(x, d)| *x -= d * vi);
        }
        let dot: f64 = (j..m).map(|i| v[i - j] * qtb[i]).sum();
        let f = 2.0 * dot / vv;
        (j..m).for_each(|i| qtb[i] -= f * v[i - j]);
    }
    let mut x = vec![0.0; n];
    for j in (0..n.min(m)).rev() {
        if dead[j] {
            continue;
        }
        let s: f64 = (j + 1..n).map(|k| r[j * n + k] * x[k]).sum();
        x[j] = (qtb[j] - s) / r[j * n + j];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_an_spd_system() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&a, 2, &[2.0, 1.0]).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, &[1.0, 1.0]).is_none());
    }

    #[test]
    fn qr_recovers_exact_coefficients_and_survives_duplicate_columns() {
        // b = 2·c0 − 3·c1 exactly.
        let rows: Vec<[f64; 2]> = (0..6).map(|i| [i as f64, (i * i) as f64 * 0.5]).collect();
        let a: Vec<f64> = rows.iter().flatten().copied().collect();
        let b: Vec<f64> = rows.iter().map(|r| 2.0 * r[0] - 3.0 * r[1]).collect();
        let x = lstsq_qr(&a, 6, 2, &b);
        assert!((x[0] - 2.0).abs() < 1e-10 && (x[1] + 3.0).abs() < 1e-10);
        // A duplicated column: the fit is still exact and finite.
        let a3: Vec<f64> = rows.iter().flat_map(|r| [r[0], r[0], r[1]]).collect();
        let x3 = lstsq_qr(&a3, 6, 3, &b);
        assert!(x3.iter().all(|v| v.is_finite()));
        let fit: Vec<f64> = rows
            .iter()
            .map(|r| (x3[0] + x3[1]) * r[0] + x3[2] * r[1])
            .collect();
        assert!(fit.iter().zip(&b).all(|(f, t)| (f - t).abs() < 1e-8));
    }
}
