//! `StandardScaler`: centre each feature and divide by its standard deviation.

use crate::{AprenderError, Matrix};

/// Per-feature `(x − mean) / scale`, learned from training data. A feature
/// with zero variance gets scale 1 (as scikit-learn does), so it maps to 0
/// rather than to NaN.
///
/// ```
/// use aprender::{Matrix, StandardScaler};
/// let x = Matrix::new(2, 1, vec![1.0, 3.0]).unwrap();
/// let s = StandardScaler::fit(&x).unwrap();
/// assert_eq!(s.transform(&x).unwrap().as_slice(), &[-1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl StandardScaler {
    /// Learns the mean and (population) standard deviation of every column,
    /// accumulating in `f64` so large columns do not lose precision.
    pub fn fit(x: &Matrix) -> Result<StandardScaler, AprenderError> {
        x.check(None)?;
        let (n, d) = (x.rows(), x.cols());
        let mut mean = vec![0f64; d];
        for i in 0..n {
            for (m, &v) in mean.iter_mut().zip(x.row(i)) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0f64; d];
        for i in 0..n {
            for ((s, &v), m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let scale = var
            .iter()
            .map(|s| {
                let sd = (s / n as f64).sqrt();
                if sd > f64::EPSILON * 10.0 {
                    sd as f32
                } else {
                    1.0
                }
            })
            .collect();
        Ok(StandardScaler {
            mean: mean.iter().map(|&m| m as f32).collect(),
            scale,
        })
    }

    /// Rebuilds a scaler from stored parameters, checking they agree and make sense.
    pub fn from_parts(mean: Vec<f32>, scale: Vec<f32>) -> Result<StandardScaler, AprenderError> {
        if mean.len() != scale.len() || mean.is_empty() {
            return Err(AprenderError::InvalidInput(format!(
                "a scaler needs as many means as scales (and at least one), got {} and {}",
                mean.len(),
                scale.len()
            )));
        }
        if let Some(i) = scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(AprenderError::InvalidInput(format!(
                "scale {i} is {}, it must be positive and finite",
                scale[i]
            )));
        }
        if let Some(i) = mean.iter().position(|m| !m.is_finite()) {
            return Err(AprenderError::InvalidInput(format!(
                "mean {i} is not finite"
            )));
        }
        Ok(StandardScaler { mean, scale })
    }

    /// Per-feature means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }
    /// Per-feature scales (standard deviations, 1 for constant features).
    pub fn scale(&self) -> &[f32] {
        &self.scale
    }

    /// The scaled copy of `x`.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix, AprenderError> {
        let mut data = x.as_slice().to_vec();
        self.transform_in_place(&mut data, x.cols())?;
        Matrix::new(x.rows(), x.cols(), data)
    }

    /// Scales rows of `cols` values in place.
    pub fn transform_in_place(&self, data: &mut [f32], cols: usize) -> Result<(), AprenderError> {
        if cols != self.mean.len() {
            return Err(AprenderError::InvalidInput(format!(
                "the scaler was fitted on {} features, the input has {cols}",
                self.mean.len()
            )));
        }
        for row in data.chunks_exact_mut(cols) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_get_zero_mean_unit_variance() {
        let x = Matrix::new(4, 2, vec![1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 4.0, 10.0]).unwrap();
        let s = StandardScaler::fit(&x).unwrap();
        assert_eq!(s.mean(), &[2.5, 10.0]);
        assert_eq!(s.scale()[1], 1.0, "constant column keeps scale 1");
        let t = s.transform(&x).unwrap();
        let col0: Vec<f32> = (0..4).map(|i| t.row(i)[0]).collect();
        let var: f32 = col0.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!((var - 1.0).abs() < 1e-6);
        assert!((0..4).all(|i| t.row(i)[1] == 0.0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = Matrix::new(1, 2, vec![1.0, f32::NAN]).unwrap();
        assert!(
            StandardScaler::fit(&x)
                .unwrap_err()
                .to_string()
                .contains("row 0, column 1")
        );
        let s = StandardScaler::from_parts(vec![0.0], vec![1.0]).unwrap();
        assert!(
            s.transform(&Matrix::new(1, 2, vec![0.0; 2]).unwrap())
                .is_err()
        );
        assert!(StandardScaler::from_parts(vec![0.0], vec![0.0]).is_err());
        assert!(StandardScaler::from_parts(vec![0.0, 1.0], vec![1.0]).is_err());
    }
}
