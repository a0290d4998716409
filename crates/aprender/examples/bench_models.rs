//! Fit and batch-predict times of every aprender model, next to scikit-learn's
//! on the same data in the same run.
//!
//! `cargo run --release -p aprender --example bench_models`
//!
//! The data are synthetic and seeded (8192 training rows, 64 features; ten
//! Gaussian classes, or a noisy linear target), written to a temporary CSV
//! that `examples/sklearn_models.py` fits with the same hyper-parameters when
//! Python with scikit-learn is available (`pip install scikit-learn`). Fit
//! times are medians of 3 fits; predict throughput is rows/s from the median of
//! repeated batches of 1024 rows. Both sides use the machine's cores (rayon;
//! numpy's BLAS). Last line: `bench_models mlp_predict_vs_sklearn=<ratio>`.

use std::process::Command;
use std::time::{Duration, Instant};

use aprender::{
    Estimator, KMeans, LinearRegression, LogisticRegression, Matrix, MlpClassifier, MlpParams,
    Ridge,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};

const ROWS: usize = 8192;
const FEATURES: usize = 64;
const CLASSES: usize = 10;
const BATCH: usize = 1024;
/// Must match `sklearn_models.py`.
const MLP_HIDDEN: [usize; 2] = [256, 128];
const MLP_EPOCHS: usize = 10;

struct Data {
    x: Matrix,
    classes: Vec<f32>,
    values: Vec<f32>,
}

fn normal(rng: &mut SmallRng) -> f32 {
    // Box–Muller: rand's distributions crate is not a dependency.
    let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

fn data() -> Data {
    let mut rng = SmallRng::seed_from_u64(7);
    let centres: Vec<f32> = (0..CLASSES * FEATURES)
        .map(|_| 2.0 * normal(&mut rng))
        .collect();
    let w: Vec<f32> = (0..FEATURES).map(|_| normal(&mut rng)).collect();
    let mut x = Vec::with_capacity(ROWS * FEATURES);
    let (mut classes, mut values) = (Vec::new(), Vec::new());
    for _ in 0..ROWS {
        let c = rng.random_range(0..CLASSES);
        let row: Vec<f32> = (0..FEATURES)
            .map(|j| centres[c * FEATURES + j] + 1.5 * normal(&mut rng))
            .collect();
        values.push(row.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>() + normal(&mut rng));
        classes.push(c as f32);
        x.extend(row);
    }
    Data {
        x: Matrix::new(ROWS, FEATURES, x).expect("shape"),
        classes,
        values,
    }
}

fn write_csv(d: &Data, path: &std::path::Path) {
    let mut s = String::new();
    for j in 0..FEATURES {
        s += &format!("f{j},");
    }
    s += "class,value\n";
    for i in 0..ROWS {
        for v in d.x.row(i) {
            s += &format!("{v},");
        }
        s += &format!("{},{}\n", d.classes[i], d.values[i]);
    }
    std::fs::write(path, s).expect("write csv");
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Median seconds of 3 fits, and rows/s of batch predictions.
fn time<M: Estimator>(make: impl Fn() -> M, x: &Matrix, y: &[f32]) -> (f64, f64) {
    let mut model = make();
    let fit = median(
        (0..3)
            .map(|_| {
                model = make();
                let t = Instant::now();
                model.fit(x, y).expect("fit");
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let rows: Vec<usize> = (0..BATCH).collect();
    let batch = x.select_rows(&rows).expect("rows");
    for _ in 0..5 {
        model.predict(&batch).expect("predict");
    }
    let (mut times, start) = (Vec::new(), Instant::now());
    while times.len() < 20 || (start.elapsed() < Duration::from_secs(1) && times.len() < 2000) {
        let t = Instant::now();
        model.predict(&batch).expect("predict");
        times.push(t.elapsed().as_secs_f64());
    }
    (fit, BATCH as f64 / median(times))
}

fn sklearn(csv: &std::path::Path) -> Option<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sklearn_models.py");
    let out = Command::new("python3").arg(script).arg(csv).output().ok()?;
    if !out.status.success() {
        eprintln!("scikit-learn side failed (pip install scikit-learn):");
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() {
    let d = data();
    let mlp = || {
        let params = MlpParams {
            hidden: MLP_HIDDEN.to_vec(),
            max_iter: MLP_EPOCHS,
            tol: 0.0,
            n_iter_no_change: usize::MAX / 2,
            ..MlpParams::default()
        };
        MlpClassifier::new(params)
            .expect("params")
            .standardize(true)
    };
    let ours = [
        ("linear", time(LinearRegression::new, &d.x, &d.values)),
        (
            "ridge",
            time(|| Ridge::new().standardize(true), &d.x, &d.values),
        ),
        (
            "logistic",
            time(
                || LogisticRegression::new().standardize(true),
                &d.x,
                &d.classes,
            ),
        ),
        ("mlp", time(mlp, &d.x, &d.classes)),
        (
            "kmeans",
            time(|| KMeans::new(CLASSES).expect("k").seed(0), &d.x, &[]),
        ),
    ];

    let dir = std::env::temp_dir().join(format!("bench-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("data.csv");
    write_csv(&d, &csv);
    let sk = sklearn(&csv);
    let _ = std::fs::remove_dir_all(&dir);
    let theirs = |model: &str| -> Option<(f64, f64)> {
        let line = sk
            .as_ref()?
            .lines()
            .find(|l| l.starts_with(&format!("sk model={model} ")))?;
        let field = |k: &str| -> Option<f64> {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k)?.parse().ok())
        };
        Some((field("fit_s=")?, field("predict_rows_per_s=")?))
    };

    println!(
        "{ROWS} rows × {FEATURES} features; MLP {FEATURES}-{}-{}-{CLASSES}, {MLP_EPOCHS} epochs; predict batch {BATCH}",
        MLP_HIDDEN[0], MLP_HIDDEN[1]
    );
    if let Some(first) = sk.as_ref().and_then(|s| s.lines().next()) {
        println!("{first}");
    }
    println!(
        "| model | aprender fit s | sklearn fit s | fit speed-up | aprender predict rows/s | sklearn predict rows/s | predict ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut mlp_ratio = f64::NAN;
    for (name, (fit, rps)) in ours {
        match theirs(name) {
            Some((sk_fit, sk_rps)) => {
                let ratio = rps / sk_rps;
                if name == "mlp" {
                    mlp_ratio = ratio;
                }
                println!(
                    "| {name} | {fit:.4} | {sk_fit:.4} | {:.2} | {rps:.0} | {sk_rps:.0} | {ratio:.2} |",
                    sk_fit / fit
                );
            }
            None => println!("| {name} | {fit:.4} | – | – | {rps:.0} | – | – |"),
        }
    }
    println!("bench_models mlp_predict_vs_sklearn={mlp_ratio:.3}");
}
