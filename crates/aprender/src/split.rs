//! Seeded train/test split, optionally stratified by class.

use rand::{SeedableRng, rngs::SmallRng, seq::SliceRandom};

use crate::AprenderError;

/// Row indices of a train/test split: `(train, test)`, each sorted.
///
/// `test_fraction` of the rows (rounded up, as scikit-learn does, and at least
/// one row in each part) go to the test side. With `stratify` (one class label
/// per row) every class is split in the same proportion, so a rare class is not
/// left out of either side. The same seed always gives the same split.
///
/// ```
/// let (train, test) = aprender::train_test_split(10, 0.3, 7, None).unwrap();
/// assert_eq!((train.len(), test.len()), (7, 3));
/// ```
pub fn train_test_split(
    rows: usize,
    test_fraction: f64,
    seed: u64,
    stratify: Option<&[f32]>,
) -> Result<(Vec<usize>, Vec<usize>), AprenderError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(AprenderError::InvalidParameter {
            name: "test_fraction",
            value: test_fraction.to_string(),
            why: "must lie strictly between 0 and 1",
        });
    }
    if rows < 2 {
        return Err(AprenderError::InvalidInput(format!(
            "a split needs at least 2 rows, got {rows}"
        )));
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let n_test = ((rows as f64 * test_fraction).ceil() as usize).clamp(1, rows - 1);
    let mut test = match stratify {
        None => {
            let mut order: Vec<usize> = (0..rows).collect();
            order.shuffle(&mut rng);
            order.truncate(n_test);
            order
        }
        Some(labels) => stratified(labels, rows, n_test, &mut rng)?,
    };
    test.sort_unstable();
    let mut is_test = vec![false; rows];
    test.iter().for_each(|&i| is_test[i] = true);
    let train = (0..rows).filter(|&i| !is_test[i]).collect();
    Ok((train, test))
}

/// Picks `n_test` rows so each class contributes in proportion to its size
/// (largest remainders get the leftover rows).
fn stratified(
    labels: &[f32],
    rows: usize,
    n_test: usize,
    rng: &mut SmallRng,
) -> Result<Vec<usize>, AprenderError> {
    if labels.len() != rows {
        return Err(AprenderError::InvalidInput(format!(
            "stratify has {} labels for {rows} rows",
            labels.len()
        )));
    }
    let mut classes: Vec<f32> = labels.to_vec();
    classes.sort_by(f32::total_cmp);
    classes.dedup();
    let mut groups: Vec<Vec<usize>> = classes
        .iter()
        .map(|c| (0..rows).filter(|&i| labels[i] == *c).collect())
        .collect();
    let exact: Vec<f64> = groups
        .iter()
        .map(|g| g.len() as f64 * n_test as f64 / rows as f64)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..groups.len()).collect();
    by_remainder
        .sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = n_test - take.iter().sum::<usize>();
    for &g in by_remainder.iter().cycle().take(groups.len() * 2) {
        if left == 0 {
            break;
        }
        if take[g] < groups[g].len() {
            take[g] += 1;
            left -= 1;
        }
    }
    let mut test = Vec::with_capacity(n_test);
    for (g, n) in groups.iter_mut().zip(take) {
        g.shuffle(rng);
        test.extend_from_slice(&g[..n]);
    }
    Ok(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_disjoint_complete_and_deterministic() {
        let (train, test) = train_test_split(101, 0.25, 3, None).unwrap();
        assert_eq!(test.len(), 26);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        assert_eq!(train_test_split(101, 0.25, 3, None).unwrap().1, test);
        assert_ne!(train_test_split(101, 0.25, 4, None).unwrap().1, test);
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        // 40 of class 0, 20 of class 1, 8 of class 2.
        let labels: Vec<f32> = (0..68)
            .map(|i| {
                if i < 40 {
                    0.0
                } else if i < 60 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let (_, test) = train_test_split(68, 0.25, 9, Some(&labels)).unwrap();
        assert_eq!(test.len(), 17);
        let count = |c: f32| test.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0.0), count(1.0), count(2.0)), (10, 5, 2));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(train_test_split(10, 0.0, 1, None).is_err());
        assert!(train_test_split(10, 1.0, 1, None).is_err());
        assert!(train_test_split(1, 0.5, 1, None).is_err());
        assert!(train_test_split(3, 0.5, 1, Some(&[0.0, 1.0])).is_err());
    }
}
