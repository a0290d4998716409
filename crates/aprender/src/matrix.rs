//! A dense row-major `f32` matrix: the shape every estimator takes its features in.

use crate::AprenderError;

/// `rows × cols` values, row-major.
///
/// ```
/// use aprender::Matrix;
/// let x = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// assert_eq!(x.row(1), &[4.0, 5.0, 6.0]);
/// assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data`, checking it holds exactly `rows × cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Matrix, AprenderError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(AprenderError::InputShape {
                len: data.len(),
                rows,
                features: cols,
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Builds a matrix from equally long rows.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Matrix, AprenderError> {
        let cols = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
            return Err(AprenderError::InvalidInput(format!(
                "row {i} has {} values, row 0 has {cols}",
                r.len()
            )));
        }
        Matrix::new(rows.len(), cols, rows.concat())
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// Consumes the matrix, returning its values.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
    /// Row `i` (panics past the end, like slice indexing).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// A new matrix of the given rows, in the given order.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Matrix, AprenderError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.rows) {
            return Err(AprenderError::InvalidInput(format!(
                "row index {bad} is out of range for {} rows",
                self.rows
            )));
        }
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Ok(Matrix {
            rows: indices.len(),
            cols: self.cols,
            data,
        })
    }

    /// The first non-finite value as `(row, col)`, if any.
    pub(crate) fn first_non_finite(&self) -> Option<(usize, usize)> {
        let i = self.data.iter().position(|v| !v.is_finite())?;
        Some((i / self.cols.max(1), i % self.cols.max(1)))
    }

    /// Checks the matrix is fit to learn or predict from: at least one row,
    /// `features` columns (when given), and only finite values.
    pub(crate) fn check(&self, features: Option<usize>) -> Result<(), AprenderError> {
        if let Some(f) = features
            && f != self.cols
        {
            return Err(AprenderError::InvalidInput(format!(
                "the model takes {f} features, the input has {}",
                self.cols
            )));
        }
        if self.rows == 0 || self.cols == 0 {
            return Err(AprenderError::InvalidInput(format!(
                "the input is empty ({} rows × {} columns)",
                self.rows, self.cols
            )));
        }
        if let Some((r, c)) = self.first_non_finite() {
            return Err(AprenderError::InvalidInput(format!(
                "the input holds a non-finite value at row {r}, column {c}"
            )));
        }
        Ok(())
    }
}
