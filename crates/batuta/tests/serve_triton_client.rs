//! The stock Triton HTTP client (`tritonclient[http]` from PyPI, which sends
//! no Content-Type) against a running `batuta serve`. Skips with a reason on a
//! developer machine without the package; fails under `CI=true`.

mod common;

use std::process::Command;

fn have_tritonclient() -> bool {
    Command::new("python3")
        .args(["-c", "import tritonclient.http, numpy"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_triton_client_infers() {
    if !have_tritonclient() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: tritonclient[http] must be installed (.ci/run installs it)"
        );
        eprintln!(
            "skipped: python3 cannot import tritonclient.http (pip install 'tritonclient[http]')"
        );
        return;
    }
    let dir = common::workspace("triton", "iris", &[4, 8, 3]);
    let server = common::start(&dir, "[serve]\naddress = \"127.0.0.1:0\"\n", &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/triton_infer.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.base.trim_start_matches("http://"))
        .arg("iris")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["live"].as_bool(),
            v["ready"].as_bool(),
            v["model_ready"].as_bool()
        ),
        (Some(true), Some(true), Some(true)),
        "{v}"
    );
    assert_eq!(v["shape"], serde_json::json!([2, 3]), "{v}");
    assert_eq!(v["id"], "t1");
    for s in v["row_sums"].as_array().unwrap() {
        assert!((s.as_f64().unwrap() - 1.0).abs() < 1e-5, "{v}");
    }
}
