//! Any bytes given to the model loader load or fail with an error, never a
//! panic; what loads predicts on well-formed input without panicking. The
//! same bytes go to the transformer-encoder weight loader (a small BERT shape).
#![no_main]

use aprender::encoder::{EncoderConfig, read_weights};
use aprender::{AnyModel, Matrix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(model) = AnyModel::from_bytes(bytes, "fuzz") {
        let features = model.meta().map_or(1, |m| m.features.len());
        if let Ok(x) = Matrix::new(2, features, vec![0.5; 2 * features]) {
            let _ = model.estimator().predict(&x);
        }
    }
    let encoder = EncoderConfig::bert(8, 2, 2, 16, 30, 12);
    let _ = read_weights(bytes, &encoder, "fuzz");
});
