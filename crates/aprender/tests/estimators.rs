//! The estimator contract beyond scores: seeded determinism, early stopping
//! keeping the best weights, failed fits changing nothing, parameter and input
//! errors, and the numerical edge cases of the linear solvers.

use aprender::{
    AprenderError, Estimator, KMeans, LinearRegression, LogisticRegression, Matrix, MlpClassifier,
    MlpParams, MlpRegressor, Ridge, Table, train_test_split,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn wine() -> (Matrix, Vec<f32>) {
    let t = Table::from_csv(format!("{DATA}/wine.train.csv"), "class").unwrap();
    let y = t.classes().y;
    (t.x, y)
}

fn small(seed: u64) -> MlpParams {
    MlpParams {
        hidden: vec![12],
        max_iter: 30,
        seed,
        ..MlpParams::default()
    }
}

#[test]
fn the_same_seed_trains_the_same_network() {
    let (x, y) = wine();
    let fit = |seed| {
        let mut m = MlpClassifier::new(small(seed)).unwrap().standardize(true);
        m.fit(&x, &y).unwrap();
        m.predict_proba(&x).unwrap()
    };
    assert_eq!(fit(3), fit(3));
    assert_ne!(fit(3), fit(4));
}

#[test]
fn early_stopping_keeps_the_best_validation_weights() {
    let t = Table::from_csv(format!("{DATA}/breast_cancer.train.csv"), "class").unwrap();
    let (x, y) = (t.x.clone(), t.classes().y);
    let mut ended_below_best = 0;
    for seed in 0..8 {
        let params = MlpParams {
            early_stopping: true,
            n_iter_no_change: 3,
            max_iter: 500,
            learning_rate: 0.05,
            ..small(seed)
        };
        let mut m = MlpClassifier::new(params).unwrap().standardize(true);
        m.fit(&x, &y).unwrap();
        let h = m.history().unwrap();
        assert!(h.converged, "seed {seed}: stopped on the rule, not the cap");
        assert_eq!(h.validation.len(), h.loss.len());
        // The kept weights are the best epoch's: recompute the validation rows
        // (the split the fit drew) and score the final model on them.
        let best = h.validation.iter().copied().fold(f64::MIN, f64::max);
        let last = h.validation[h.validation.len() - 1];
        let (_, val) = train_test_split(x.rows(), 0.1, seed, Some(&y)).unwrap();
        let val_y: Vec<f32> = val.iter().map(|&i| y[i]).collect();
        let score = m.score(&x.select_rows(&val).unwrap(), &val_y).unwrap();
        assert_eq!(
            score, best,
            "seed {seed}: final {score}, best {best}, last {last}"
        );
        ended_below_best += usize::from(last < best);
    }
    // Otherwise keeping the last weights would pass too.
    assert!(ended_below_best > 0, "no run ended below its best epoch");
}

#[test]
fn a_failed_fit_changes_nothing() {
    let (x, y) = wine();
    let mut m = MlpClassifier::new(small(0)).unwrap().standardize(true);
    m.fit(&x, &y).unwrap();
    let before = m.predict_proba(&x).unwrap();
    let mut bad = x.as_slice().to_vec();
    bad[5] = f32::NAN;
    let bad = Matrix::new(x.rows(), x.cols(), bad).unwrap();
    let err = m.fit(&bad, &y).unwrap_err().to_string();
    assert!(err.contains("row 0, column 5"), "{err}");
    assert!(m.fit(&x, &y[1..]).is_err());
    assert_eq!(m.predict_proba(&x).unwrap(), before);
}

#[test]
fn bad_parameters_and_inputs_are_named() {
    let bad = |p: MlpParams| MlpClassifier::new(p).unwrap_err().to_string();
    assert!(
        bad(MlpParams {
            hidden: vec![4, 0],
            ..small(0)
        })
        .contains("`hidden`")
    );
    assert!(
        bad(MlpParams {
            learning_rate: 0.0,
            ..small(0)
        })
        .contains("`learning_rate`")
    );
    assert!(
        bad(MlpParams {
            validation_fraction: 1.0,
            ..small(0)
        })
        .contains("`validation_fraction`")
    );
    assert!(Ridge::new().alpha(-1.0).is_err());
    assert!(LogisticRegression::new().c(0.0).is_err());
    assert!(KMeans::new(0).is_err());

    let (x, y) = wine();
    assert!(matches!(
        LinearRegression::new().predict(&x),
        Err(AprenderError::NotFitted("linear_regression"))
    ));
    let mut lr = LogisticRegression::new().standardize(true);
    lr.fit(&x, &y).unwrap();
    let narrow = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
    assert_eq!(
        lr.predict(&narrow).unwrap_err().to_string(),
        "invalid input: the model takes 13 features, the input has 3"
    );
    let one_class = vec![0.0; x.rows()];
    assert!(
        lr.fit(&x, &one_class)
            .unwrap_err()
            .to_string()
            .contains("two classes")
    );
    assert!(
        lr.fit(&x, &vec![0.5; x.rows()])
            .unwrap_err()
            .to_string()
            .contains("indices")
    );
}

#[test]
fn probabilities_are_distributions() {
    let (x, y) = wine();
    let mut lr = LogisticRegression::new().standardize(true);
    lr.fit(&x, &y).unwrap();
    for row in lr.predict_proba(&x).unwrap().chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Binary: one weight column, two probabilities per row.
    let y2: Vec<f32> = y
        .iter()
        .map(|&c| if c == 0.0 { 0.0 } else { 1.0 })
        .collect();
    lr.fit(&x, &y2).unwrap();
    let p = lr.predict_proba(&x).unwrap();
    assert_eq!(p.len(), 2 * x.rows());
    assert!(lr.score(&x, &y2).unwrap() > 0.95);
}

#[test]
fn linear_solvers_handle_exact_and_collinear_data() {
    // y = 2a − 3b + 1 exactly, with a third column equal to a + b.
    let rows: Vec<Vec<f32>> = (0..40)
        .map(|i| {
            let (a, b) = ((i % 7) as f32, (i * i % 11) as f32 * 0.5);
            vec![a, b, a + b]
        })
        .collect();
    let y: Vec<f32> = rows.iter().map(|r| 2.0 * r[0] - 3.0 * r[1] + 1.0).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let mut lin = LinearRegression::new();
    lin.fit(&x, &y).unwrap();
    assert!(lin.coef().unwrap().iter().all(|c| c.is_finite()));
    assert!(lin.score(&x, &y).unwrap() > 0.999_999);
    // Ridge with no penalty on rank-deficient data falls back to least squares.
    let mut ridge = Ridge::new().alpha(0.0).unwrap();
    ridge.fit(&x, &y).unwrap();
    assert!(ridge.score(&x, &y).unwrap() > 0.999_99);
    // A penalty shrinks the coefficients.
    let mut strong = Ridge::new().alpha(1e4).unwrap();
    strong.fit(&x, &y).unwrap();
    let norm = |c: &[f32]| c.iter().map(|v| v * v).sum::<f32>();
    assert!(norm(strong.coef().unwrap()) < norm(ridge.coef().unwrap()));
}

#[test]
fn the_regressor_fits_a_smooth_function() {
    let rows: Vec<Vec<f32>> = (0..200)
        .map(|i| vec![i as f32 / 200.0 * 6.0 - 3.0])
        .collect();
    let y: Vec<f32> = rows.iter().map(|r| r[0].sin()).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let params = MlpParams {
        hidden: vec![32],
        activation: aprender::Activation::Tanh,
        learning_rate: 0.01,
        batch_size: Some(20),
        max_iter: 300,
        tol: 0.0,
        ..MlpParams::default()
    };
    let mut m = MlpRegressor::new(params).unwrap();
    m.fit(&x, &y).unwrap();
    let (r2, epochs) = (m.score(&x, &y).unwrap(), m.history().unwrap().loss.len());
    assert!(r2 > 0.95, "R² {r2} after {epochs} epochs");
}

#[test]
fn kmeans_finds_separated_blobs_and_restarts_help() {
    let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)];
    let rows: Vec<Vec<f32>> = (0..200)
        .map(|i| {
            let (cx, cy) = centres[i % 4];
            vec![
                cx + ((i * 7) % 5) as f32 * 0.1,
                cy + ((i * 3) % 5) as f32 * 0.1,
            ]
        })
        .collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let mut km = KMeans::new(4).unwrap().seed(2);
    km.fit(&x, &[]).unwrap();
    let labels = km.predict(&x).unwrap();
    // Every blob is one cluster.
    for blob in 0..4 {
        let first = labels[blob];
        assert!((blob..200).step_by(4).all(|i| labels[i] == first));
    }
    let one = {
        let mut k = KMeans::new(4).unwrap().seed(2).n_init(1).unwrap();
        k.fit(&x, &[]).unwrap();
        k.inertia().unwrap()
    };
    assert!(km.inertia().unwrap() <= one + 1e-9);
}
