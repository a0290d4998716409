//! L-BFGS: the quasi-Newton minimiser behind `LogisticRegression`.
//!
//! Hand-written (about 100 lines) rather than taken from argmin: that crate
//! brings a framework of traits and its own math backends for one routine.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    /// Largest absolute gradient component considered converged.
    pub gtol: f64,
    /// Iteration cap.
    pub max_iter: usize,
}

/// What the run ended with.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub x: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f` from `x0`; `f` returns the value and writes the gradient.
/// History 10, backtracking line search with the Armijo condition; pairs that
/// break the curvature condition (`sᵀy ≤ 0`) are skipped, which keeps the
/// inverse-Hessian estimate positive definite.
pub(crate) fn minimize<F>(
    mut f: F,
    x0: Vec<f64>,
    stop: Stop,
) -> Result<Outcome, crate::AprenderError>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<f64, crate::AprenderError>,
{
    const HISTORY: usize = 10;
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g)?;
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let (mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n]);
    for iter in 0..stop.max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) <= stop.gtol {
            return Ok(Outcome {
                x,
                iterations: iter,
                converged: true,
            });
        }
        // Two-loop recursion: d = −H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(d, y)| *d -= a * y);
            alphas.push(a);
        }
        if let Some((s, y, _)) = pairs.back() {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &d);
            d.iter_mut().zip(s).for_each(|(d, s)| *d += (a - b) * s);
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            pairs.clear();
            d = g.iter().map(|v| -v).collect();
            slope = -dot(&g, &g);
        }
        let mut step = if pairs.is_empty() {
            (1.0 / dot(&d, &d).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = false;
        for _ in 0..40 {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((n, x), d)| *n = x + step * d);
            let f_new = f(&x_new, &mut g_new)?;
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 {
                    if pairs.len() == HISTORY {
                        pairs.pop_front();
                    }
                    pairs.push_back((s, y, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                let improvement = fx - f_new;
                fx = f_new;
                accepted = true;
                if improvement <= 64.0 * f64::EPSILON * fx.abs().max(1.0) {
                    return Ok(Outcome {
                        x,
                        iterations: iter + 1,
                        converged: true,
                    });
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            // No decrease along a descent direction: at the optimum to machine precision.
            return Ok(Outcome {
                x,
                iterations: iter,
                converged: true,
            });
        }
    }
    Ok(Outcome {
        x,
        iterations: stop.max_iter,
        converged: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            Ok((1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2))
        };
        let out = minimize(
            rosen,
            vec![-1.2, 1.0],
            Stop {
                gtol: 1e-8,
                max_iter: 500,
            },
        )
        .unwrap();
        assert!(out.converged);
        assert!(
            (out.x[0] - 1.0).abs() < 1e-5 && (out.x[1] - 1.0).abs() < 1e-5,
            "{:?}",
            out.x
        );
    }
}
