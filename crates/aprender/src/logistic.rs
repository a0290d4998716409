//! `LogisticRegression`: binary (sigmoid) and multinomial (softmax), L2, L-BFGS.

use trueno::{Backend, MatRef, ops};

use crate::compute::{add_bias, column_sums, gemm};
use crate::estimator::{argmax_rows, check_classes, model_settings};
use crate::format::{Codec, Reader, Writer};
use crate::lbfgs::{Stop, minimize};
use crate::meta::start_fit;
use crate::{AprenderError, Estimator, FileProblem, Matrix, ModelMeta, metrics};

/// L2-regularised logistic regression, scikit-learn's objective and defaults:
/// mean log-loss + `‖W‖² / (2·C·n)` (intercepts unpenalised), `C = 1`,
/// minimised by L-BFGS to a gradient of `1e-4` or 100 iterations. Two classes
/// use one weight vector and a sigmoid; more use a weight column per class
/// and a softmax.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    c: f64,
    max_iter: usize,
    tol: f64,
    backend: Backend,
    standardize: bool,
    fitted: Option<LogisticFit>,
}

#[derive(Debug, Clone, PartialEq)]
struct LogisticFit {
    /// `features × columns`, row-major; columns is 1 for two classes.
    weight: Vec<f32>,
    bias: Vec<f32>,
    iterations: usize,
    converged: bool,
    meta: ModelMeta,
}

impl LogisticFit {
    fn columns(&self) -> usize {
        self.bias.len()
    }
}

model_settings!(LogisticRegression, LogisticFit, "logistic_regression");

impl Default for LogisticRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegression {
    /// An unfitted model with scikit-learn's defaults (`C = 1`, `max_iter = 100`, `tol = 1e-4`).
    pub fn new() -> LogisticRegression {
        LogisticRegression {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
            backend: Backend::Simd,
            standardize: false,
            fitted: None,
        }
    }

    /// Inverse regularisation strength; must be positive and finite.
    pub fn c(mut self, c: f64) -> Result<Self, AprenderError> {
        if !(c.is_finite() && c > 0.0) {
            return Err(AprenderError::InvalidParameter {
                name: "C",
                value: c.to_string(),
                why: "must be positive and finite",
            });
        }
        self.c = c;
        Ok(self)
    }

    /// L-BFGS iteration cap (at least 1).
    pub fn max_iter(mut self, max_iter: usize) -> Result<Self, AprenderError> {
        if max_iter == 0 {
            return Err(AprenderError::InvalidParameter {
                name: "max_iter",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        self.max_iter = max_iter;
        Ok(self)
    }

    /// Whether the last fit reached the gradient tolerance, and in how many iterations.
    pub fn convergence(&self) -> Option<(bool, usize)> {
        self.fitted.as_ref().map(|f| (f.converged, f.iterations))
    }

    /// Class probabilities, `rows × classes` row-major.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        let fit = self.fitted()?;
        let x = fit.meta.prepare(x)?;
        let z = logits(self.backend, &x, &fit.weight, &fit.bias)?;
        probabilities(self.backend, &z, fit.columns())
    }
}

/// `x·W + b`: one row of `b.len()` logits per row of `x`.
fn logits(backend: Backend, x: &Matrix, w: &[f32], b: &[f32]) -> Result<Vec<f32>, AprenderError> {
    let (n, d, cols) = (x.rows(), x.cols(), b.len());
    let mut z = vec![0.0; n * cols];
    let (xv, wv) = (MatRef::new(x.as_slice(), n, d), MatRef::new(w, d, cols));
    gemm(backend, xv, wv, &mut z)?;
    add_bias(&mut z, b);
    Ok(z)
}

/// Softmax over each row, or for one column the two-class `[1 − σ(z), σ(z)]`.
fn probabilities(backend: Backend, z: &[f32], cols: usize) -> Result<Vec<f32>, AprenderError> {
    if cols == 1 {
        return Ok(z
            .iter()
            .flat_map(|&v| {
                let p = sigmoid(v);
                [1.0 - p, p]
            })
            .collect());
    }
    let mut p = vec![0.0; z.len()];
    ops::softmax_rows(backend, z, cols, &mut p)?;
    Ok(p)
}

fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// Loss and gradient of the penalised objective at `params` = weights then biases.
struct Objective<'a> {
    x: &'a Matrix,
    y: &'a [f32],
    cols: usize,
    penalty: f64,
    backend: Backend,
}

impl Objective<'_> {
    fn eval(&self, params: &[f64], grad: &mut [f64]) -> Result<f64, AprenderError> {
        let (n, d, cols) = (self.x.rows(), self.x.cols(), self.cols);
        let w: Vec<f32> = params[..d * cols].iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = params[d * cols..].iter().map(|&v| v as f32).collect();
        let z = logits(self.backend, self.x, &w, &b)?;
        // r = p − onehot(y) (the log-loss gradient w.r.t. the logits), and the loss.
        let mut loss = 0.0f64;
        let mut r = vec![0.0f32; n * cols];
        if cols == 1 {
            for ((r, &z), &y) in r.iter_mut().zip(&z).zip(self.y) {
                // log(1 + e^z) − y·z, computed without overflow.
                loss += f64::from(z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z);
                *r = sigmoid(z) - y;
            }
        } else {
            let mut logp = vec![0.0; n * cols];
            // The logits are on the host already and the pass is O(n·classes):
            // with a GPU model it runs on the CPU rather than paying an upload.
            let host = match self.backend {
                Backend::Gpu => Backend::Simd,
                other => other,
            };
            ops::log_softmax_rows(host, &z, cols, &mut logp)?;
            for (i, &y) in self.y.iter().enumerate() {
                let row = &logp[i * cols..(i + 1) * cols];
                loss -= f64::from(row[y as usize]);
                for (c, rv) in r[i * cols..(i + 1) * cols].iter_mut().enumerate() {
                    *rv = row[c].exp() - if c == y as usize { 1.0 } else { 0.0 };
                }
            }
        }
        let mut gw = vec![0.0f32; d * cols];
        // gw = Xᵀ · R
        let (xv, rv) = (
            MatRef::new(self.x.as_slice(), n, d),
            MatRef::new(&r, n, cols),
        );
        gemm(self.backend, xv.t(), rv, &mut gw)?;
        let mut gb = vec![0.0f32; cols];
        column_sums(&r, cols, &mut gb);
        let inv_n = 1.0 / n as f64;
        let mut reg = 0.0;
        for (i, (g, &p)) in grad[..d * cols].iter_mut().zip(params).enumerate() {
            *g = f64::from(gw[i]) * inv_n + self.penalty * p;
            reg += p * p;
        }
        for (g, &v) in grad[d * cols..].iter_mut().zip(&gb) {
            *g = f64::from(v) * inv_n;
        }
        Ok(loss * inv_n + 0.5 * self.penalty * reg)
    }
}

impl Estimator for LogisticRegression {
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
        let classes = check_classes(x, y, 2)?;
        let (meta, x) = start_fit(x, self.standardize, classes)?;
        let cols = if classes == 2 { 1 } else { classes };
        let d = x.cols();
        let objective = Objective {
            x: &x,
            y,
            cols,
            penalty: 1.0 / (self.c * x.rows() as f64),
            backend: self.backend,
        };
        let stop = Stop {
            gtol: self.tol,
            max_iter: self.max_iter,
        };
        let out = minimize(|p, g| objective.eval(p, g), vec![0.0; (d + 1) * cols], stop)?;
        self.fitted = Some(LogisticFit {
            weight: out.x[..d * cols].iter().map(|&v| v as f32).collect(),
            bias: out.x[d * cols..].iter().map(|&v| v as f32).collect(),
            iterations: out.iterations,
            converged: out.converged,
            meta,
        });
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        let classes = self.fitted()?.meta.classes.len();
        Ok(argmax_rows(&self.predict_proba(x)?, classes))
    }

    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError> {
        metrics::accuracy(y, &self.predict(x)?)
    }
}

impl Codec for LogisticRegression {
    const KINDS: &'static [&'static str] = &["logistic_regression"];
    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
        let fit = self.fitted()?;
        w.meta("C", self.c.to_string());
        fit.meta.encode(w);
        let d = fit.meta.features.len();
        w.tensor("weight", &[d, fit.columns()], &fit.weight);
        w.tensor("bias", &[fit.columns()], &fit.bias);
        Ok(())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
        let c: f64 = r.number("C", "a positive number")?;
        if !(c.is_finite() && c > 0.0) {
            return Err(r.bad("C", "a positive number"));
        }
        let d = r.name_list("features")?.len();
        let classes = r.name_list("classes")?.len();
        if classes < 2 {
            return Err(r.bad("classes", "at least two classes"));
        }
        let cols = if classes == 2 { 1 } else { classes };
        let weight = r.tensor("weight", &[d, cols])?;
        let bias = r.tensor("bias", &[cols])?;
        let meta = ModelMeta::decode(r, d, classes)?;
        Ok(LogisticRegression {
            c,
            standardize: meta.scaler.is_some(),
            fitted: Some(LogisticFit {
                weight,
                bias,
                iterations: 0,
                converged: true,
                meta,
            }),
            ..LogisticRegression::new()
        })
    }
}
