//! Properties of the request body → engine input conversion
//! (`batuta::http::parse_infer_body`), on bodies built to be nearly right and
//! on arbitrary bytes: it never panics, and what it accepts is a well-formed
//! input of at least one row of finite values. `fuzz/fuzz_targets/infer_body.rs`
//! drives the same function with libFuzzer.

use batuta::http::parse_infer_body;
use proptest::prelude::*;

/// A JSON value for `data`: numbers (some huge, some special), nesting, or junk.
fn data() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<f32>().prop_map(|v| if v.is_finite() {
            format!("{v}")
        } else {
            "1e39".into()
        }),
        Just("1e39".to_owned()),
        Just("-0".to_owned()),
        Just("\"NaN\"".to_owned()),
        Just("null".to_owned()),
        (-3i64..3).prop_map(|v| v.to_string()),
    ];
    let flat = prop::collection::vec(number, 0..12).prop_map(|v| format!("[{}]", v.join(",")));
    prop_oneof![
        4 => flat.clone(),
        2 => prop::collection::vec(flat, 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        1 => Just("{}".to_owned()),
        1 => (0usize..200).prop_map(|d| "[".repeat(d) + &"]".repeat(d)),
    ]
}

fn body() -> impl Strategy<Value = String> {
    let shape = prop::collection::vec(-2i64..6, 0..4).prop_map(|v| {
        format!(
            "[{}]",
            v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        )
    });
    let datatype = prop::sample::select(vec!["FP32", "FP64", "INT64", "BYTES", ""]);
    (shape, datatype, data(), 0usize..3, any::<bool>()).prop_map(|(shape, dt, data, n, outputs)| {
        let input = format!(r#"{{"name":"x","shape":{shape},"datatype":"{dt}","data":{data}}}"#);
        let inputs = vec![input; n].join(",");
        let outputs = if outputs {
            r#","outputs":[{"name":"probabilities"}]"#
        } else {
            ""
        };
        format!(r#"{{"id":"p","inputs":[{inputs}]{outputs}}}"#)
    })
}

fn check(bytes: &[u8], features: usize) {
    if let Ok(req) = parse_infer_body(bytes, "m", features) {
        let (rows, data) = req.input.payload.as_rows().expect("rows");
        assert!(rows >= 1, "accepted an empty input");
        assert_eq!(rows * features, data.len());
        assert!(data.iter().all(|v| v.is_finite()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn near_valid_bodies_never_panic_and_accepted_ones_are_well_formed(b in body(), features in 1usize..6) {
        check(b.as_bytes(), features);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), features in 1usize..6) {
        check(&bytes, features);
    }
}

#[test]
fn a_valid_body_is_accepted_in_both_layouts() {
    for data in ["[1,2,3,4,5,6]", "[[1,2,3],[4,5,6]]"] {
        let body = format!(
            r#"{{"inputs":[{{"name":"x","shape":[2,3],"datatype":"FP32","data":{data}}}]}}"#
        );
        let req = parse_infer_body(body.as_bytes(), "m", 3).unwrap();
        let (rows, data) = req.input.payload.as_rows().expect("rows");
        assert_eq!((rows, data.len()), (2, 6));
    }
}
