//! `batuta config check`: a good file is printed resolved; a missing model
//! directory is an error naming it.

use std::process::Command;

fn check(dir: &std::path::Path, config: &str) -> (bool, String) {
    let path = dir.join("batuta.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_batuta"))
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn a_missing_model_directory_is_reported() {
    let dir = std::env::temp_dir().join(format!("batuta-config-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, text) = check(&dir, "[serve]\nmodel_dir = \"nowhere\"\n");
    assert!(!ok, "{text}");
    assert!(
        text.contains("model_dir") && text.contains("nowhere") && text.contains("does not exist"),
        "{text}"
    );
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let (ok, text) = check(&dir, "[serve]\n");
    assert!(ok, "{text}");
    assert!(text.contains(": ok"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
