//! Loading never panics: valid model files of every kind, truncated, bit-flipped
//! or with their metadata replaced, load or fail with an error — and what loads
//! still predicts without panicking. (`fuzz/` runs the same property under
//! libFuzzer for longer; this is its always-on form.) Transformer encoder
//! weights (Hugging Face safetensors, no aprender metadata) get the same.

use aprender::encoder::{EncoderConfig, EncoderWeights, read_weights};
use aprender::{
    AnyModel, Estimator, KMeans, LinearRegression, LogisticRegression, Matrix, Mlp, MlpClassifier,
    MlpParams, MlpRegressor, Persist, Ridge, model_kind,
};
use proptest::prelude::*;

/// A small BERT shape (2 layers, width 8) for the encoder-weight properties.
fn encoder_config() -> EncoderConfig {
    EncoderConfig::bert(8, 2, 2, 16, 30, 12)
}

fn data() -> (Matrix, Vec<f32>) {
    let x: Vec<f32> = (0..60)
        .map(|i| ((i * 37) % 17) as f32 * 0.3 - 2.0)
        .collect();
    let y = (0..20).map(|i| (i % 3) as f32).collect();
    (Matrix::new(20, 3, x).unwrap(), y)
}

/// One valid file of each kind.
fn valid_files() -> Vec<Vec<u8>> {
    let (x, y) = data();
    let small = MlpParams {
        hidden: vec![4],
        max_iter: 3,
        ..MlpParams::default()
    };
    let mut files = Vec::new();
    let mut add = |m: &mut dyn FnMut() -> Vec<u8>| files.push(m());
    add(&mut || fitted(LinearRegression::new().standardize(true), &x, &y));
    add(&mut || fitted(Ridge::new(), &x, &y));
    add(&mut || fitted(LogisticRegression::new().standardize(true), &x, &y));
    add(&mut || {
        fitted(
            MlpClassifier::new(small.clone()).unwrap().standardize(true),
            &x,
            &y,
        )
    });
    add(&mut || fitted(MlpRegressor::new(small.clone()).unwrap(), &x, &y));
    add(&mut || fitted(KMeans::new(2).unwrap(), &x, &[]));
    files
}

fn fitted<M: Estimator + Persist>(mut m: M, x: &Matrix, y: &[f32]) -> Vec<u8> {
    m.fit(x, y).unwrap();
    m.to_bytes().unwrap()
}

/// Every loader on `bytes`; whatever loads must predict on well-formed input.
fn load_everything(bytes: &[u8]) {
    let x = Matrix::new(2, 3, vec![0.5; 6]).unwrap();
    if let Ok(m) = AnyModel::from_bytes(bytes, "f") {
        let _ = m.estimator().predict(&x);
    }
    // The typed loaders too: each must refuse other kinds without panicking.
    let _ = LogisticRegression::from_bytes(bytes, "f").map(|m| m.predict(&x));
    let _ = MlpRegressor::from_bytes(bytes, "f").map(|m| m.predict(&x));
    if let Ok(m) = Mlp::from_bytes(bytes, "f") {
        let _ = m.predict(trueno::Backend::Simd, x.as_slice(), 2);
    }
}

#[test]
fn valid_files_load_as_their_kind() {
    let kinds: Vec<String> = valid_files()
        .iter()
        .map(|f| model_kind(f, "f").unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "linear_regression",
            "ridge",
            "logistic_regression",
            "mlp",
            "mlp",
            "kmeans"
        ]
    );
    let files = valid_files();
    let err = |e: aprender::AprenderError| e.to_string();
    assert_eq!(
        err(MlpRegressor::from_bytes(&files[3], "clf.safetensors").unwrap_err()),
        "clf.safetensors: metadata `output_activation` is `softmax`, expected `identity`"
    );
    assert_eq!(
        err(Ridge::from_bytes(&files[0], "lin.safetensors").unwrap_err()),
        "lin.safetensors: metadata `model` is `linear_regression`, expected `ridge`"
    );
    // A newer format version is refused before anything else is read.
    let mut future = files[5].clone();
    let at = future
        .windows(3)
        .position(|w| w == b"\"2\"")
        .expect("the version in the header");
    future[at + 1] = b'9';
    assert_eq!(
        err(AnyModel::from_bytes(&future, "km.safetensors").unwrap_err()),
        "km.safetensors: format version `9` is not supported (this build reads version 2)"
    );
}

/// The JSON header of a safetensors file: (offset of its end, the text).
fn header(bytes: &[u8]) -> (usize, String) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (8 + n, String::from_utf8(bytes[8..8 + n].to_vec()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn truncated_or_flipped_files_never_panic(
        which in 0usize..6,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let mut bytes = valid_files().swap_remove(which);
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= v;
        }
        load_everything(&bytes);
        bytes.truncate(cut.index(bytes.len() + 1));
        load_everything(&bytes);
    }

    #[test]
    fn hostile_metadata_values_never_panic(
        which in 0usize..6,
        victim in any::<prop::sample::Index>(),
        value in prop_oneof![
            Just("".to_owned()),
            Just("[]".to_owned()),
            Just("[\"a\"]".to_owned()),
            Just("0".to_owned()),
            Just("-1".to_owned()),
            Just("NaN".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("4294967295,4294967295".to_owned()),
            Just("3,0,2".to_owned()),
            "[a-z0-9,\\[\\]\"]{0,24}",
        ],
    ) {
        let bytes = valid_files().swap_remove(which);
        let (end, text) = header(&bytes);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let meta = json["__metadata__"].as_object().unwrap();
        let keys: Vec<&String> = meta.keys().collect();
        let key = keys[victim.index(keys.len())].clone();
        let mut json = json.clone();
        json["__metadata__"][&key] = serde_json::Value::String(value);
        let mut text = serde_json::to_string(&json).unwrap();
        // safetensors pads the header to 8 bytes; keep the data offsets valid.
        while !text.len().is_multiple_of(8) {
            text.push(' ');
        }
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&bytes[end..]);
        load_everything(&out);
    }

    #[test]
    fn truncated_or_flipped_encoder_weights_never_panic(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        in_header in any::<bool>(),
    ) {
        let cfg = encoder_config();
        let mut bytes = EncoderWeights::random(&cfg, 5).to_safetensors();
        // Flips land in the JSON header half the time: names, shapes, offsets.
        let (end, _) = header(&bytes);
        for (at, v) in flips {
            let i = if in_header { 8 + at.index(end - 8) } else { at.index(bytes.len()) };
            bytes[i] ^= v;
        }
        let _ = read_weights(&bytes, &cfg, "f");
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = read_weights(&bytes, &cfg, "f");
    }
}
