//! Model files: round trip, and a precise error for every kind of bad file.

use std::collections::HashMap;

use aprender::{AprenderError, FileProblem, Mlp};
use safetensors::{Dtype, tensor::TensorView};
use trueno::Backend;

fn problem(bytes: &[u8]) -> FileProblem {
    match Mlp::from_bytes(bytes, "test.safetensors") {
        Err(AprenderError::BadFile { origin, problem }) => {
            assert_eq!(origin, "test.safetensors");
            problem
        }
        other => panic!("expected a BadFile error, got {other:?}"),
    }
}

/// A file with the given metadata and a single 2×2 layer.
fn file_with(meta: &[(&str, &str)], tensors: &[(&str, Vec<usize>, Dtype, Vec<u8>)]) -> Vec<u8> {
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let views = tensors
        .iter()
        .map(|(n, s, d, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()));
    safetensors::serialize(views, Some(meta)).unwrap()
}

const GOOD_META: [(&str, &str); 9] = [
    ("format", "aprender"),
    ("model", "mlp"),
    ("format_version", "2"),
    ("layers", "2,2"),
    ("hidden_activation", "relu"),
    ("output_activation", "softmax"),
    ("features", r#"["a","b"]"#),
    ("target", "label"),
    ("classes", r#"["no","yes"]"#),
];

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn good_tensors() -> Vec<(&'static str, Vec<usize>, Dtype, Vec<u8>)> {
    vec![
        (
            "layers.0.weight",
            vec![2, 2],
            Dtype::F32,
            f32s(&[1.0, 2.0, 3.0, 4.0]),
        ),
        ("layers.0.bias", vec![2], Dtype::F32, f32s(&[0.5, -0.5])),
    ]
}

fn with_meta(key: &str, value: &str) -> Vec<u8> {
    let meta: Vec<(&str, &str)> = GOOD_META
        .iter()
        .map(|&(k, v)| if k == key { (k, value) } else { (k, v) })
        .collect();
    file_with(&meta, &good_tensors())
}

#[test]
fn save_load_round_trip_predicts_identically() {
    let dir = std::env::temp_dir().join(format!("aprender-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let mlp = Mlp::random(&[5, 16, 8, 3], 11).unwrap();
    mlp.save(&path).unwrap();
    let back = Mlp::load(&path).unwrap();
    assert_eq!(mlp, back);
    let x: Vec<f32> = (0..20).map(|i| i as f32 * 0.1).collect();
    assert_eq!(
        mlp.predict(Backend::Simd, &x, 4).unwrap(),
        back.predict(Backend::Simd, &x, 4).unwrap()
    );
    // Only the model file is left: the temporary was renamed away.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hand_built_good_file_loads() {
    let mlp = Mlp::from_bytes(&file_with(&GOOD_META, &good_tensors()), "x").unwrap();
    assert_eq!(mlp.sizes(), vec![2, 2]);
    assert_eq!(mlp.layers()[0].bias(), &[0.5, -0.5]);
    assert_eq!(mlp.meta().features, ["a", "b"]);
    assert_eq!(mlp.meta().classes, ["no", "yes"]);
    assert_eq!(mlp.meta().target, "label");
}

#[test]
fn every_bad_file_has_a_precise_error() {
    assert!(matches!(
        problem(b"not a model"),
        FileProblem::NotSafetensors(_)
    ));
    assert!(matches!(problem(&[]), FileProblem::NotSafetensors(_)));
    let good = file_with(&GOOD_META, &good_tensors());
    assert!(matches!(
        problem(&good[..good.len() - 3]),
        FileProblem::NotSafetensors(_)
    ));

    assert_eq!(
        problem(&with_meta("model", "kmeans")).to_string(),
        "metadata `model` is `kmeans`, expected `mlp`"
    );
    assert_eq!(
        problem(&with_meta("format_version", "9")).to_string(),
        "format version `9` is not supported (this build reads version 2)"
    );
    for layers in ["2,x", "2", "", "2,0", "2,-1"] {
        assert!(matches!(
            problem(&with_meta("layers", layers)),
            FileProblem::BadMetadata { key: "layers", .. }
        ));
    }
    assert_eq!(
        problem(&with_meta("classes", r#"["only one"]"#)).to_string(),
        r#"metadata `classes` = `["only one"]` is invalid: the count disagrees with the tensor shapes"#
    );
    assert!(matches!(
        problem(&with_meta("features", "a,b")),
        FileProblem::BadMetadata {
            key: "features",
            ..
        }
    ));
    assert_eq!(
        problem(&with_meta("hidden_activation", "sigmoid")).to_string(),
        "metadata `hidden_activation` is `sigmoid`, expected `relu` or `tanh`"
    );
    assert_eq!(
        problem(&with_meta("layers", "2,2,2")).to_string(),
        "tensor `layers.1.weight` is missing"
    );
    assert_eq!(
        problem(&file_with(&GOOD_META[1..], &good_tensors())),
        FileProblem::MissingMetadata("format")
    );

    let mut wrong_shape = good_tensors();
    wrong_shape[0] = ("layers.0.weight", vec![4, 1], Dtype::F32, f32s(&[1.0; 4]));
    assert_eq!(
        problem(&file_with(&GOOD_META, &wrong_shape)).to_string(),
        "tensor `layers.0.weight` has shape [4, 1], expected [2, 2]"
    );
    let mut wrong_dtype = good_tensors();
    wrong_dtype[1] = ("layers.0.bias", vec![2], Dtype::I32, vec![0; 8]);
    assert!(matches!(
        problem(&file_with(&GOOD_META, &wrong_dtype)),
        FileProblem::WrongDtype { .. }
    ));
    let mut nan = good_tensors();
    nan[0] = (
        "layers.0.weight",
        vec![2, 2],
        Dtype::F32,
        f32s(&[1.0, f32::NAN, 0.0, 0.0]),
    );
    assert_eq!(
        problem(&file_with(&GOOD_META, &nan)).to_string(),
        "tensor `layers.0.weight` holds a non-finite value at index 1"
    );
    let mut extra = good_tensors();
    extra.push(("backdoor", vec![1], Dtype::F32, f32s(&[0.0])));
    assert_eq!(
        problem(&file_with(&GOOD_META, &extra)),
        FileProblem::UnexpectedTensor("backdoor".into())
    );
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = Mlp::load("/nonexistent/dir/m.safetensors").unwrap_err();
    assert!(matches!(err, AprenderError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/dir/m.safetensors: ")
    );
}
