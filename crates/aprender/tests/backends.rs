//! Every model fits and predicts on every trueno backend, and the backends
//! agree: the scalar reference, SIMD, and the GPU (lavapipe in CI, where
//! `TRUENO_REQUIRE_GPU=1` makes a missing adapter a failure; elsewhere the GPU
//! case is skipped with a printed reason).

use aprender::{
    Estimator, KMeans, LinearRegression, LogisticRegression, Matrix, MlpClassifier, MlpParams,
    Ridge, Table,
};
use trueno::Backend;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn iris() -> (Matrix, Vec<f32>) {
    let t = Table::from_csv(format!("{DATA}/iris.train.csv"), "class").unwrap();
    let y = t.classes().y;
    (t.x, y)
}

fn diabetes() -> (Matrix, Vec<f32>) {
    let t = Table::from_csv(format!("{DATA}/diabetes.train.csv"), "progression").unwrap();
    let y = t.values().unwrap();
    (t.x, y)
}

/// The backends to compare against SIMD: scalar always, the GPU when there is one.
fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Scalar];
    match trueno::gpu::GpuContext::shared() {
        Ok(_) => v.push(Backend::Gpu),
        Err(e) if std::env::var("TRUENO_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("TRUENO_REQUIRE_GPU=1 but no GPU: {e}")
        }
        Err(e) => eprintln!("skipping the GPU backend: {e}"),
    }
    v
}

/// Fits `make(backend)` on SIMD and on each other backend; the scores on the
/// training data must agree within `tol` and the predictions in `agree` of rows.
fn check<M: Estimator>(what: &str, make: impl Fn(Backend) -> M, x: &Matrix, y: &[f32], tol: f64) {
    let mut reference = make(Backend::Simd);
    reference.fit(x, y).unwrap();
    let want = reference.score(x, y).unwrap();
    for backend in backends() {
        let mut model = make(backend);
        model.fit(x, y).unwrap();
        let got = model.score(x, y).unwrap();
        eprintln!("{what} on {backend}: {got:.4} (SIMD {want:.4})");
        assert!(
            (got - want).abs() <= tol,
            "{what} on {backend}: {got} vs SIMD {want}"
        );
    }
}

#[test]
fn linear_models_agree_across_backends() {
    let (x, y) = diabetes();
    check(
        "linear",
        |b| LinearRegression::new().with_backend(b),
        &x,
        &y,
        1e-3,
    );
    check(
        "ridge",
        |b| Ridge::new().standardize(true).with_backend(b),
        &x,
        &y,
        1e-3,
    );
}

#[test]
fn classifiers_agree_across_backends() {
    let (x, y) = iris();
    let logistic = |b| LogisticRegression::new().standardize(true).with_backend(b);
    check("logistic", logistic, &x, &y, 0.02);
    let mlp = |b| {
        let params = MlpParams {
            hidden: vec![16],
            max_iter: 40,
            ..MlpParams::default()
        };
        MlpClassifier::new(params)
            .unwrap()
            .standardize(true)
            .with_backend(b)
    };
    check("mlp", mlp, &x, &y, 0.03);
}

#[test]
fn kmeans_agrees_across_backends() {
    let (x, _) = iris();
    let km = |b| KMeans::new(3).unwrap().seed(1).with_backend(b);
    // score is −inertia; allow 1 % of it.
    let mut simd = km(Backend::Simd);
    simd.fit(&x, &[]).unwrap();
    let tol = simd.inertia().unwrap() * 0.01;
    check("kmeans", km, &x, &[], tol);
}
