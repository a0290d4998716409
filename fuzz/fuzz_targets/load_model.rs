//! Any bytes given to the model loader load or fail with an error, never a
//! panic; what loads predicts on well-formed input without panicking.
#![no_main]

use aprender::{AnyModel, Matrix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(model) = AnyModel::from_bytes(bytes, "fuzz") {
        let features = model.meta().map_or(1, |m| m.features.len());
        if let Ok(x) = Matrix::new(2, features, vec![0.5; 2 * features]) {
            let _ = model.estimator().predict(&x);
        }
    }
});
