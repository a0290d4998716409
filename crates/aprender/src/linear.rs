//! `LinearRegression` (least squares by QR) and `Ridge` (L2, by Cholesky).

use trueno::{Backend, ops};

use crate::estimator::check_targets;
use crate::format::{Codec, Reader, Writer};
use crate::meta::start_fit;
use crate::{AprenderError, Estimator, FileProblem, Matrix, ModelMeta, linalg, metrics};

/// A fitted linear model: `y = x·coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
struct LinearFit {
    coef: Vec<f32>,
    intercept: f32,
    meta: ModelMeta,
}

impl LinearFit {
    fn predict(&self, backend: Backend, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        let x = self.meta.prepare(x)?;
        let mut y = vec![0.0; x.rows()];
        ops::matvec(
            backend,
            x.as_slice(),
            x.rows(),
            x.cols(),
            &self.coef,
            &mut y,
        )?;
        y.iter_mut().for_each(|v| *v += self.intercept);
        Ok(y)
    }

    fn encode(&self, w: &mut Writer) {
        self.meta.encode(w);
        w.tensor("coef", &[self.coef.len()], &self.coef);
        w.tensor("intercept", &[1], &[self.intercept]);
    }

    fn decode(r: &mut Reader<'_>) -> Result<LinearFit, FileProblem> {
        let features = r.name_list("features")?.len();
        let coef = r.tensor("coef", &[features])?;
        let intercept = r.tensor("intercept", &[1])?[0];
        let meta = ModelMeta::decode(r, features, 0)?;
        Ok(LinearFit {
            coef,
            intercept,
            meta,
        })
    }
}

/// Column means of `x` (f64) and the centred copy as f64, row-major.
fn centred(x: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (x.rows(), x.cols());
    let mut mean = vec![0.0; d];
    for i in 0..n {
        mean.iter_mut()
            .zip(x.row(i))
            .for_each(|(m, &v)| *m += f64::from(v));
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let data = (0..n)
        .flat_map(|i| x.row(i).iter().zip(&mean).map(|(&v, m)| f64::from(v) - m))
        .collect();
    (mean, data)
}

fn finish_fit(mean_x: &[f64], mean_y: f64, coef: Vec<f64>, meta: ModelMeta) -> LinearFit {
    let intercept = mean_y - coef.iter().zip(mean_x).map(|(c, m)| c * m).sum::<f64>();
    LinearFit {
        coef: coef.iter().map(|&c| c as f32).collect(),
        intercept: intercept as f32,
        meta,
    }
}

/// Ordinary least squares with an intercept, solved by Householder QR on the
/// centred data (never the normal equations), so nearly collinear features
/// keep their accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    backend: Backend,
    standardize: bool,
    fitted: Option<LinearFit>,
}

/// L2-regularised least squares, `min ‖Xw + b − y‖² + α‖w‖²` (the intercept
/// is not penalised), solved by Cholesky on the centred Gram matrix, which
/// trueno computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    alpha: f64,
    backend: Backend,
    standardize: bool,
    fitted: Option<LinearFit>,
}

impl Default for LinearRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LinearRegression {
    /// An unfitted model that predicts on the SIMD backend, without scaling.
    pub fn new() -> LinearRegression {
        LinearRegression {
            backend: Backend::Simd,
            standardize: false,
            fitted: None,
        }
    }
}

impl Default for Ridge {
    fn default() -> Self {
        Self::new()
    }
}

impl Ridge {
    /// An unfitted model with `alpha = 1.0` (scikit-learn's default).
    pub fn new() -> Ridge {
        Ridge {
            alpha: 1.0,
            backend: Backend::Simd,
            standardize: false,
            fitted: None,
        }
    }

    /// Sets the penalty strength; it must be finite and non-negative.
    pub fn alpha(mut self, alpha: f64) -> Result<Ridge, AprenderError> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(AprenderError::InvalidParameter {
                name: "alpha",
                value: alpha.to_string(),
                why: "must be finite and at least 0",
            });
        }
        self.alpha = alpha;
        Ok(self)
    }
}

crate::estimator::model_settings!(LinearRegression, LinearFit, "linear_regression");
crate::estimator::model_settings!(Ridge, LinearFit, "ridge");

macro_rules! coefficients {
    ($ty:ident) => {
        impl $ty {
            /// Coefficients, one per feature (in scaled units when standardising).
            pub fn coef(&self) -> Option<&[f32]> {
                self.fitted.as_ref().map(|f| f.coef.as_slice())
            }
            /// The intercept.
            pub fn intercept(&self) -> Option<f32> {
                self.fitted.as_ref().map(|f| f.intercept)
            }
        }
    };
}
coefficients!(LinearRegression);
coefficients!(Ridge);

impl Estimator for LinearRegression {
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
        let (meta, x) = start_fit(x, self.standardize, 0)?;
        check_targets(&x, y)?;
        let (mean_x, xc) = centred(&x);
        let mean_y = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
        let yc: Vec<f64> = y.iter().map(|&v| f64::from(v) - mean_y).collect();
        let coef = linalg::lstsq_qr(&xc, x.rows(), x.cols(), &yc);
        self.fitted = Some(finish_fit(&mean_x, mean_y, coef, meta));
        Ok(())
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        self.fitted()?.predict(self.backend, x)
    }
    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError> {
        metrics::r2(y, &self.predict(x)?)
    }
}

impl Estimator for Ridge {
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
        let (meta, x) = start_fit(x, self.standardize, 0)?;
        check_targets(&x, y)?;
        let (n, d) = (x.rows(), x.cols());
        let (mean_x, xc) = centred(&x);
        let mean_y = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        // The O(n·d²) Gram product runs on trueno in f32 over centred data;
        // the d×d solve is f64.
        let xc32: Vec<f32> = xc.iter().map(|&v| v as f32).collect();
        let mut gram = vec![0.0f32; d * d];
        // gram = Xcᵀ · Xc
        let xv = trueno::MatRef::new(&xc32, n, d);
        crate::compute::gemm(self.backend, xv.t(), xv, &mut gram)?;
        let mut a: Vec<f64> = gram.iter().map(|&v| f64::from(v)).collect();
        (0..d).for_each(|i| a[i * d + i] += self.alpha);
        let mut rhs = vec![0.0f64; d];
        for (i, &t) in y.iter().enumerate() {
            let t = f64::from(t) - mean_y;
            rhs.iter_mut()
                .zip(&xc[i * d..(i + 1) * d])
                .for_each(|(r, v)| *r += v * t);
        }
        let coef = match linalg::cholesky_solve(&a, d, &rhs) {
            Some(c) => c,
            // alpha = 0 on rank-deficient data: fall back to least squares.
            None => linalg::lstsq_qr(
                &xc,
                n,
                d,
                &y.iter().map(|&t| f64::from(t) - mean_y).collect::<Vec<_>>(),
            ),
        };
        self.fitted = Some(finish_fit(&mean_x, mean_y, coef, meta));
        Ok(())
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        self.fitted()?.predict(self.backend, x)
    }
    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError> {
        metrics::r2(y, &self.predict(x)?)
    }
}

impl Codec for LinearRegression {
    const KINDS: &'static [&'static str] = &["linear_regression"];
    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
        self.fitted()?.encode(w);
        Ok(())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
        let fit = LinearFit::decode(r)?;
        Ok(LinearRegression {
            backend: Backend::Simd,
            standardize: fit.meta.scaler.is_some(),
            fitted: Some(fit),
        })
    }
}

impl Codec for Ridge {
    const KINDS: &'static [&'static str] = &["ridge"];
    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
        w.meta("alpha", self.alpha.to_string());
        self.fitted()?.encode(w);
        Ok(())
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
        let alpha: f64 = r.number("alpha", "a non-negative number")?;
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(r.bad("alpha", "a non-negative number"));
        }
        let fit = LinearFit::decode(r)?;
        Ok(Ridge {
            alpha,
            backend: Backend::Simd,
            standardize: fit.meta.scaler.is_some(),
            fitted: Some(fit),
        })
    }
}
