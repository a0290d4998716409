//! The `apr` binary end to end: train, eval and info on the committed data,
//! and bad input reported on stderr with exit code 1 and no file written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../aprender/tests/data");

fn apr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apr"))
        .args(args)
        .output()
        .expect("run apr")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("apr-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `apr train` of a logistic model on the Iris training split into `dir`:
/// (the model's path, the test split's path, apr's output).
fn train_logistic(dir: &TempDir) -> (String, String, Output) {
    let model = dir.path("iris.safetensors");
    let train = format!("{DATA}/iris.train.csv");
    let out = apr(&[
        "train", "--model", "logistic", "--data", &train, "--target", "class", "--out", &model,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (model, format!("{DATA}/iris.test.csv"), out)
}

#[test]
fn train_eval_info_round_trip() {
    let dir = TempDir::new("rt");
    let (model, test, out) = train_logistic(&dir);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("train    accuracy 0.9"), "{stdout}");

    let out = apr(&["eval", "--model", &model, "--data", &test]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "logistic_regression on 38 rows: accuracy 0.9737  f1_macro 0.9732"
    );
    // scikit-learn 1.9.1 on the same split: accuracy 0.97368, macro F1 0.97316.

    let out = apr(&["info", &model]);
    let info = text(&out.stdout);
    assert!(
        info.contains("classes   3 [setosa, versicolor, virginica]"),
        "{info}"
    );
    assert!(info.contains("scaler    standard (saved)"), "{info}");
    assert!(info.contains("weight             [4, 3]"), "{info}");
}

#[test]
fn regression_and_clustering_report_their_metrics() {
    let dir = TempDir::new("reg");
    let data = format!("{DATA}/diabetes.train.csv");
    let model = dir.path("d.safetensors");
    let out = apr(&[
        "train",
        "--model",
        "ridge",
        "--data",
        &data,
        "--target",
        "progression",
        "--out",
        &model,
    ]);
    assert!(
        text(&out.stdout).contains("train    r2 0.5"),
        "{}",
        text(&out.stdout)
    );
    let iris = format!("{DATA}/iris.train.csv");
    let km = dir.path("k.safetensors");
    let out = apr(&[
        "train", "--model", "kmeans", "--k", "3", "--data", &iris, "--target", "class", "--out",
        &km,
    ]);
    assert!(
        text(&out.stdout).contains("inertia 62.2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_input_fails_with_a_message_and_writes_nothing() {
    let dir = TempDir::new("bad");
    let model = dir.path("never.safetensors");
    let bad_csv = dir.path("bad.csv");
    std::fs::write(&bad_csv, "a,b,label\n1,2,x\n3,oops,y\n").unwrap();
    let out = apr(&[
        "train", "--model", "mlp", "--data", &bad_csv, "--target", "label", "--out", &model,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad.csv:3: column `b` holds `oops`, not a number"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(&model).exists());

    let out = apr(&["eval", "--model", &bad_csv, "--data", &bad_csv]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a safetensors file"),
        "{}",
        text(&out.stderr)
    );

    // A model evaluated on a table with other columns.
    let iris = format!("{DATA}/iris.train.csv");
    let wine = format!("{DATA}/wine.test.csv");
    let ok = dir.path("iris.safetensors");
    apr(&[
        "train", "--model", "logistic", "--data", &iris, "--target", "class", "--out", &ok,
    ]);
    let out = apr(&["eval", "--model", &ok, "--data", &wine]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the feature columns are"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let dir = TempDir::new("pipe");
    let (model, test, _) = train_logistic(&dir);
    for args in [
        vec!["eval", "--model", &model, "--data", &test],
        vec!["info", &model],
    ] {
        // The reader is gone before apr writes a byte (as in `apr info m | head -0`).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_apr"))
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
    }
}
