//! Scores: accuracy and macro F1 for classes, MSE and R² for values.
//!
//! Each takes the true targets first, like scikit-learn, and returns an error
//! (never NaN) for empty or mismatched inputs.

use crate::AprenderError;

fn same_len(y_true: &[f32], y_pred: &[f32]) -> Result<usize, AprenderError> {
    if y_true.len() != y_pred.len() || y_true.is_empty() {
        return Err(AprenderError::InvalidInput(format!(
            "a score needs equally many true and predicted values, at least one; got {} and {}",
            y_true.len(),
            y_pred.len()
        )));
    }
    Ok(y_true.len())
}

/// Fraction of exact matches.
///
/// ```
/// assert_eq!(aprender::metrics::accuracy(&[0.0, 1.0, 1.0, 2.0], &[0.0, 1.0, 2.0, 2.0]).unwrap(), 0.75);
/// ```
pub fn accuracy(y_true: &[f32], y_pred: &[f32]) -> Result<f64, AprenderError> {
    let n = same_len(y_true, y_pred)?;
    let hits = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(hits as f64 / n as f64)
}

/// Macro-averaged F1 over the classes present in either vector (scikit-learn's
/// `f1_score(average="macro")`; a class with no true or predicted members
/// scores 0).
///
/// ```
/// let f1 = aprender::metrics::f1_macro(&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 1.0, 1.0]).unwrap();
/// assert!((f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
/// ```
pub fn f1_macro(y_true: &[f32], y_pred: &[f32]) -> Result<f64, AprenderError> {
    same_len(y_true, y_pred)?;
    let mut labels: Vec<f32> = y_true.iter().chain(y_pred).copied().collect();
    labels.sort_by(f32::total_cmp);
    labels.dedup();
    let total: f64 = labels
        .iter()
        .map(|&c| {
            let tp = y_true
                .iter()
                .zip(y_pred)
                .filter(|&(&t, &p)| t == c && p == c)
                .count();
            let actual = y_true.iter().filter(|&&t| t == c).count();
            let predicted = y_pred.iter().filter(|&&p| p == c).count();
            if tp == 0 {
                0.0
            } else {
                2.0 * tp as f64 / (actual + predicted) as f64
            }
        })
        .sum();
    Ok(total / labels.len() as f64)
}

/// Mean squared error.
///
/// ```
/// assert_eq!(aprender::metrics::mse(&[1.0, 2.0], &[1.0, 4.0]).unwrap(), 2.0);
/// ```
pub fn mse(y_true: &[f32], y_pred: &[f32]) -> Result<f64, AprenderError> {
    let n = same_len(y_true, y_pred)?;
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| (f64::from(t) - f64::from(p)).powi(2))
        .sum();
    Ok(sum / n as f64)
}

/// Coefficient of determination, `1 − SS_res / SS_tot`. A constant `y_true`
/// scores 1 for a perfect prediction and 0 otherwise (scikit-learn's convention).
///
/// ```
/// assert_eq!(aprender::metrics::r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap(), 1.0);
/// ```
pub fn r2(y_true: &[f32], y_pred: &[f32]) -> Result<f64, AprenderError> {
    let n = same_len(y_true, y_pred)?;
    let mean = y_true.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let ss_tot: f64 = y_true.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    let ss_res = mse(y_true, y_pred)? * n as f64;
    Ok(if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_of_the_mean_is_zero() {
        let y = [1.0, 2.0, 3.0, 4.0];
        assert!(r2(&y, &[2.5; 4]).unwrap().abs() < 1e-12);
        assert_eq!(r2(&[2.0, 2.0], &[2.0, 3.0]).unwrap(), 0.0);
    }

    #[test]
    fn f1_matches_a_hand_count() {
        // class 0: tp 1, actual 2, predicted 2 → 2·1/4; class 1: tp 1, actual 1,
        // predicted 1 → 1; class 2: tp 0 → 0.
        let f = f1_macro(&[0.0, 0.0, 1.0, 2.0], &[0.0, 2.0, 1.0, 0.0]).unwrap();
        assert!((f - (0.5 + 1.0 + 0.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn mismatched_or_empty_inputs_are_errors() {
        assert!(accuracy(&[], &[]).is_err());
        assert!(mse(&[1.0], &[1.0, 2.0]).is_err());
        assert!(r2(&[1.0], &[]).is_err());
        assert!(f1_macro(&[1.0, 2.0], &[1.0]).is_err());
    }
}
