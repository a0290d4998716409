//! Screening a batch for non-finite inputs as part of the forward pass,
//! instead of refusing the whole batch up front.
//!
//! A serving engine merges requests from many callers into one batch; one
//! caller's NaN must not fail the others. Rows of a dense network are
//! independent (each output row depends on its input row alone), so a row
//! holding a NaN or an infinity is simply reported by index and its caller
//! alone gets the error. On the SIMD backend each task scans its rows right
//! after multiplying them, while they are still in its cache: the scan then
//! costs an L2 read on every core instead of a separate pass over the whole
//! batch from memory on one thread before the work can start.

use trueno::Backend;

use crate::{AprenderError, Mlp};

/// The outputs of [`Mlp::predict_screened`].
#[derive(Debug, Clone, PartialEq)]
pub struct Screened {
    /// `rows × n_classes` values, as [`Mlp::predict`] returns; the rows listed
    /// in `bad_rows` hold unspecified values.
    pub out: Vec<f32>,
    /// Input rows holding a NaN or an infinity, ascending.
    pub bad_rows: Vec<usize>,
}

/// Whether every value of `row` is finite. Branch-free so the compiler
/// vectorises it: the all-finite case is a streaming read.
fn finite(row: &[f32]) -> bool {
    !row.iter().fold(false, |bad, v| bad | !v.is_finite())
}

/// The rows of `x` (`features` values each) holding a NaN or an infinity,
/// ascending: what [`Mlp::predict_screened`] reports, for callers with
/// another forward pass (a GPU-resident network).
///
/// ```
/// let bad = aprender::non_finite_rows(&[1.0, 2.0, f32::INFINITY, 3.0, 4.0, 5.0], 2);
/// assert_eq!(bad, [1]);
/// ```
pub fn non_finite_rows(x: &[f32], features: usize) -> Vec<usize> {
    x.chunks(features.max(1))
        .enumerate()
        .filter(|(_, row)| !finite(row))
        .map(|(i, _)| i)
        .collect()
}

/// Index of the first NaN or infinity in `data`, if any (to name the value
/// in an error once a row is known to hold one).
pub fn first_non_finite(data: &[f32]) -> Option<usize> {
    const BLOCK: usize = 512;
    data.chunks(BLOCK).enumerate().find_map(|(b, chunk)| {
        (!finite(chunk)).then(|| b * BLOCK + chunk.iter().position(|v| !v.is_finite()).unwrap_or(0))
    })
}

impl Mlp {
    /// [`predict`](Self::predict), but non-finite inputs fail only their own
    /// rows: those are listed in [`Screened::bad_rows`] (their outputs mean
    /// nothing); every other row's outputs are exactly what `predict` gives.
    /// Errors only for a shape mismatch or a backend failure. On
    /// [`Backend::Gpu`] the weights are uploaded to the shared context on the
    /// first call and stay there (a serving worker's path).
    ///
    /// ```
    /// use aprender::Mlp;
    /// use trueno::Backend;
    /// let mlp = Mlp::random(&[2, 3], 7).unwrap();
    /// let s = mlp.predict_screened(Backend::Simd, &[1.0, 2.0, f32::NAN, 0.0], 2).unwrap();
    /// assert_eq!(s.bad_rows, [1]);
    /// assert_eq!(s.out[..3], mlp.predict(Backend::Simd, &[1.0, 2.0], 1).unwrap()[..]);
    /// ```
    pub fn predict_screened(
        &self,
        backend: Backend,
        x: &[f32],
        rows: usize,
    ) -> Result<Screened, AprenderError> {
        self.check_shape(x, rows)?;
        if backend == Backend::Simd {
            return self.forward_simd(x, rows, true);
        }
        let out = if backend == Backend::Gpu {
            let ctx = trueno::gpu::GpuContext::shared().map_err(trueno::TruenoError::from)?;
            self.resident
                .get_or_try(|| self.upload(ctx))?
                .predict(ctx, x, rows)?
        } else {
            self.predict(backend, x, rows)?
        };
        let bad_rows = non_finite_rows(x, self.n_features());
        Ok(Screened { out, bad_rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_bad_row() {
        let mut x = vec![1.0f32; 5 * 3];
        x[4] = f32::NAN; // row 1
        x[14] = f32::NEG_INFINITY; // row 4
        assert_eq!(non_finite_rows(&x, 3), [1, 4]);
        assert!(non_finite_rows(&[1.0; 6], 3).is_empty());
        assert!(non_finite_rows(&[], 3).is_empty());
    }

    #[test]
    fn finds_the_first_bad_value_in_any_block() {
        let mut data = vec![1.0f32; 2000];
        assert_eq!(first_non_finite(&data), None);
        assert_eq!(first_non_finite(&[]), None);
        for (at, bad) in [
            (0, f32::NAN),
            (511, f32::INFINITY),
            (512, f32::NEG_INFINITY),
            (1999, f32::NAN),
        ] {
            data[at] = bad;
            data[1999] = if at == 1999 { bad } else { f32::NAN };
            assert_eq!(first_non_finite(&data), Some(at), "{bad} at {at}");
            data[at] = 1.0;
        }
    }

    #[test]
    fn screened_rows_match_predict_on_every_backend() {
        let mlp = Mlp::random(&[4, 8, 3], 3).unwrap();
        let rows = 300;
        let mut x: Vec<f32> = (0..rows * 4).map(|i| (i % 17) as f32 / 17.0).collect();
        for (row, v) in [(0, f32::NAN), (129, f32::INFINITY), (299, f32::NAN)] {
            x[row * 4 + 2] = v;
        }
        for backend in [Backend::Scalar, Backend::Simd] {
            let s = mlp.predict_screened(backend, &x, rows).unwrap();
            assert_eq!(s.bad_rows, [0, 129, 299], "{backend}");
            let want = mlp.predict(backend, &x, rows).unwrap();
            for (row, (got, want)) in s.out.chunks(3).zip(want.chunks(3)).enumerate() {
                if ![0, 129, 299].contains(&row) {
                    assert_eq!(got, want, "{backend} row {row}");
                }
            }
        }
    }
}
