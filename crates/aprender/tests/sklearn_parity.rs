//! Scores on real datasets next to scikit-learn's defaults on the same splits.
//!
//! The splits are committed CSV files (`tests/data`, written by
//! `tests/data/reference.py` from scikit-learn's bundled copies of the public
//! UCI datasets). The reference figures below are what that script printed with
//! scikit-learn 1.9.1, numpy 2.4.6, Python 3.11.7 (2026-11-30):
//!
//! ```text
//! iris: logistic accuracy 0.9737, mlp accuracy 1.0000
//! iris: kmeans(3) inertia on the raw training features 62.2184
//! wine: logistic accuracy 1.0000, mlp accuracy 1.0000
//! breast_cancer: logistic accuracy 0.9860, mlp accuracy 0.9650
//! diabetes: linear r2 0.3594, ridge(1.0) r2 0.3580, mlp r2 0.2826
//! ```
//!
//! Every model must score within 2 percentage points of its reference (0.02
//! of R² for regressors), and a saved and reloaded model must predict exactly
//! what the original did.

use aprender::{
    Estimator, KMeans, LinearRegression, LogisticRegression, Matrix, MlpClassifier, MlpParams,
    MlpRegressor, Persist, Ridge, Table,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

struct Split {
    x_train: Matrix,
    y_train: Vec<f32>,
    x_test: Matrix,
    y_test: Vec<f32>,
}

fn load(name: &str, target: &str, classify: bool) -> Split {
    let train = Table::from_csv(format!("{DATA}/{name}.train.csv"), target).unwrap();
    let test = Table::from_csv(format!("{DATA}/{name}.test.csv"), target).unwrap();
    let (y_train, y_test) = if classify {
        let classes = train.classes();
        let y_test = test.classes_as(&classes.names).unwrap();
        (classes.y, y_test)
    } else {
        (train.values().unwrap(), test.values().unwrap())
    };
    Split {
        x_train: train.x,
        y_train,
        x_test: test.x,
        y_test,
    }
}

/// Fits, checks the test score against scikit-learn's, and checks a save/load
/// round trip predicts identically.
fn check<M: Estimator + Persist>(what: &str, mut model: M, data: &Split, sklearn: f64) -> f64 {
    model.fit(&data.x_train, &data.y_train).unwrap();
    let score = model.score(&data.x_test, &data.y_test).unwrap();
    eprintln!("{what}: {score:.4} (scikit-learn {sklearn:.4})");
    assert!(
        score >= sklearn - 0.02,
        "{what}: {score:.4} is more than 2 points below scikit-learn's {sklearn:.4}"
    );
    let bytes = model.to_bytes().unwrap();
    let back = M::from_bytes(&bytes, what).unwrap();
    assert_eq!(
        model.predict(&data.x_test).unwrap(),
        back.predict(&data.x_test).unwrap(),
        "{what}: the reloaded model predicts differently"
    );
    score
}

fn mlp_classifier() -> MlpClassifier {
    let params = MlpParams {
        max_iter: 500,
        ..MlpParams::default()
    };
    MlpClassifier::new(params).unwrap().standardize(true)
}

#[test]
fn iris() {
    let d = load("iris", "class", true);
    check(
        "iris logistic",
        LogisticRegression::new().standardize(true),
        &d,
        0.9737,
    );
    check("iris mlp", mlp_classifier(), &d, 1.0);
}

#[test]
fn wine() {
    let d = load("wine", "class", true);
    check(
        "wine logistic",
        LogisticRegression::new().standardize(true),
        &d,
        1.0,
    );
    check("wine mlp", mlp_classifier(), &d, 1.0);
}

#[test]
fn breast_cancer() {
    let d = load("breast_cancer", "class", true);
    check(
        "breast_cancer logistic",
        LogisticRegression::new().standardize(true),
        &d,
        0.9860,
    );
    check("breast_cancer mlp", mlp_classifier(), &d, 0.9650);
}

#[test]
fn diabetes() {
    let d = load("diabetes", "progression", false);
    check("diabetes linear", LinearRegression::new(), &d, 0.3594);
    check("diabetes ridge", Ridge::new().standardize(true), &d, 0.3580);
    let params = MlpParams {
        max_iter: 2000,
        ..MlpParams::default()
    };
    check(
        "diabetes mlp",
        MlpRegressor::new(params).unwrap().standardize(true),
        &d,
        0.2826,
    );
}

#[test]
fn iris_kmeans_inertia() {
    let d = load("iris", "class", true);
    let mut km = KMeans::new(3).unwrap();
    km.fit(&d.x_train, &[]).unwrap();
    let inertia = km.inertia().unwrap();
    eprintln!("iris kmeans(3) inertia {inertia:.4} (scikit-learn 62.2184)");
    // Lower is better; k-means++ restarts should find the same optimum.
    assert!(inertia <= 62.2184 * 1.02, "inertia {inertia}");
    let back = KMeans::from_bytes(&km.to_bytes().unwrap(), "km").unwrap();
    assert_eq!(
        km.predict(&d.x_test).unwrap(),
        back.predict(&d.x_test).unwrap()
    );
}
