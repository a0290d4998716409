//! `batuta select` as a user runs it: a decision with its numbers from a
//! profile file, and clear errors for bad arguments and bad profiles.

use std::process::Command;

fn batuta(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_batuta"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const PROFILE: &str = r#"
format_version = 1
machine = "test"
host_bandwidth_gbs = 20.0

[gpu]
adapter = "test GPU"
dispatch_us = 50.0
h2d_gbs = 10.0
d2h_gbs = 10.0

[ops.simd.matmul]
work = [1000.0, 1000000000.0]
seconds = [0.000001, 0.02]

[ops.scalar.matmul]
work = [1000.0, 1000000000.0]
seconds = [0.000004, 0.8]

[ops.gpu.matmul]
work = [1000.0, 1000000000.0]
seconds = [0.00005, 0.0001]
"#;

#[test]
fn select_explains_its_choice() {
    let path = std::env::temp_dir().join(format!("select-profile-{}.toml", std::process::id()));
    std::fs::write(&path, PROFILE).unwrap();
    let p = path.to_str().unwrap();

    let (ok, out, err) = batuta(&[
        "select",
        "--op",
        "matmul",
        "--shape",
        "8x8x8",
        "--profile",
        p,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "simd");
    // 1024³: 2.1 GFLOP; the GPU computes in ~0.2 ms and moves 12.6 MB in ~1.3 ms.
    let (ok, out, _) = batuta(&[
        "select",
        "--op",
        "matmul",
        "--shape",
        "1024x1024x1024",
        "--explain",
        "--profile",
        p,
    ]);
    assert!(ok);
    assert!(out.starts_with("backend: gpu\n"), "{out}");
    assert!(
        out.contains("eligible") && out.contains("completion"),
        "{out}"
    );
    let (_, out, _) = batuta(&[
        "select",
        "--op",
        "matmul",
        "--shape",
        "1024x1024x1024",
        "--model",
        "thresholds",
        "--profile",
        p,
    ]);
    assert_eq!(out.trim(), "gpu");

    let (ok, _, err) = batuta(&["select", "--op", "matmul", "--shape", "8x8", "--profile", p]);
    assert!(!ok);
    assert!(err.contains("--shape `8x8`: `matmul` takes MxKxN"), "{err}");
    let (ok, _, err) = batuta(&["select", "--op", "conv", "--shape", "8", "--profile", p]);
    assert!(!ok);
    assert!(err.contains("--op `conv`"), "{err}");

    std::fs::write(&path, PROFILE.replace("h2d_gbs = 10.0", "h2d_gbs = -1.0")).unwrap();
    let (ok, _, err) = batuta(&["select", "--op", "add", "--shape", "8", "--profile", p]);
    assert!(!ok);
    assert!(
        err.contains("gpu.h2d_gbs must be a positive number"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}
