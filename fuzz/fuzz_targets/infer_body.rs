//! The KServe v2 request body → engine input conversion, on arbitrary bytes:
//! the first byte picks the model's feature count, the rest is the body.
//! Must never panic; what it accepts must be a well-formed input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&f, body)) = data.split_first() else {
        return;
    };
    let features = usize::from(f % 8) + 1;
    if let Ok(req) = batuta::http::parse_infer_body(body, "m", features) {
        assert!(req.input.rows >= 1);
        assert_eq!(req.input.rows * features, req.input.data.len());
        assert!(req.input.data.iter().all(|v| v.is_finite()));
    }
});
