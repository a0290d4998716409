//! The `Estimator` trait every model implements.

use crate::{AprenderError, Matrix};

/// The scikit-learn contract: configure, `fit`, then `predict` and `score`.
///
/// `y` holds one target per row: a value for regressors, a class index
/// (`0.0`, `1.0`, …) for classifiers; clusterers ignore it and take `&[]`.
/// Bad input is an error that changes nothing: a failed `fit` leaves the model
/// as it was.
///
/// ```
/// use aprender::{Estimator, LinearRegression, Matrix};
/// let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
/// let mut model = LinearRegression::new();
/// model.fit(&x, &[1.0, 3.0, 5.0]).unwrap();
/// assert!((model.predict(&x).unwrap()[2] - 5.0).abs() < 1e-4);
/// assert!(model.score(&x, &[1.0, 3.0, 5.0]).unwrap() > 0.999);
/// ```
pub trait Estimator {
    /// Learns from `x` (rows × features) and `y`.
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError>;
    /// One prediction per row: a value, a class index or a cluster index.
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError>;
    /// Accuracy for classifiers, R² for regressors, −inertia for clusterers
    /// (higher is better for all three).
    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError>;
}

/// Checks `y` has one target per row.
pub(crate) fn check_targets(x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
    if y.len() != x.rows() {
        return Err(AprenderError::InvalidInput(format!(
            "{} targets for {} rows",
            y.len(),
            x.rows()
        )));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(AprenderError::InvalidInput(format!(
            "target {i} is not finite"
        )));
    }
    Ok(())
}

/// Checks `y` holds class indices and returns the class count (largest index + 1),
/// at least `min_classes`.
pub(crate) fn check_classes(
    x: &Matrix,
    y: &[f32],
    min_classes: usize,
) -> Result<usize, AprenderError> {
    check_targets(x, y)?;
    if let Some(i) = y
        .iter()
        .position(|&v| v < 0.0 || v.fract() != 0.0 || v > 1e6)
    {
        return Err(AprenderError::InvalidInput(format!(
            "target {i} is {}, but class targets must be indices 0, 1, 2, …",
            y[i]
        )));
    }
    let classes = y.iter().fold(0.0f32, |m, &v| m.max(v)) as usize + 1;
    let distinct = {
        let mut seen = vec![false; classes];
        y.iter().for_each(|&v| seen[v as usize] = true);
        seen.iter().filter(|&&s| s).count()
    };
    if distinct < min_classes.max(2) {
        return Err(AprenderError::InvalidInput(format!(
            "a classifier needs at least two classes in its targets, found {distinct}"
        )));
    }
    Ok(classes)
}

/// Index of the largest value in each row of `cols` values.
pub(crate) fn argmax_rows(values: &[f32], cols: usize) -> Vec<f32> {
    values
        .chunks_exact(cols)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0 as f32
        })
        .collect()
}

/// The settings and accessors every model shares. The type needs fields
/// `backend: Backend`, `standardize: bool` and `fitted: Option<F>`, where `F`
/// has a `meta: ModelMeta` field.
macro_rules! model_settings {
    ($ty:ident, $fit:ty, $kind:literal) => {
        impl $ty {
            /// Runs prediction and the training products on `backend`.
            pub fn with_backend(mut self, backend: trueno::Backend) -> Self {
                self.backend = backend;
                self
            }
            /// Learns a [`crate::StandardScaler`] in `fit` and applies it to every input.
            pub fn standardize(mut self, on: bool) -> Self {
                self.standardize = on;
                self
            }
            /// Names and scaling of the fitted model (`None` before `fit`).
            pub fn meta(&self) -> Option<&crate::ModelMeta> {
                self.fitted.as_ref().map(|f| &f.meta)
            }
            /// Mutable names, to label a fitted model before saving it.
            pub fn meta_mut(&mut self) -> Option<&mut crate::ModelMeta> {
                self.fitted.as_mut().map(|f| &mut f.meta)
            }
            fn fitted(&self) -> Result<&$fit, crate::AprenderError> {
                self.fitted
                    .as_ref()
                    .ok_or(crate::AprenderError::NotFitted($kind))
            }
        }
    };
}
pub(crate) use model_settings;
