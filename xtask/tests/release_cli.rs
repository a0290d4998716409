//! `cargo xtask release` refuses, with a clear message and changing nothing,
//! whatever it cannot carry out safely (no registry needed for these).

mod common;

use std::path::Path;
use std::process::Command;

use common::git;

fn release(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("release")
        .args(args)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn release_refuses_what_it_cannot_carry_out() {
    let dir = common::copy_fixture("versions");
    let (ok, err) = release(&dir, &["--week", "1"]);
    assert!(!ok);
    assert!(
        err.contains("which does not exist; create it with"),
        "{err}"
    );

    std::fs::write(
        dir.join("release-calendar.toml"),
        "[calendar]\nstart = \"2027-01-04\"\n\n[requests]\nzero = \"patch\"\n",
    )
    .unwrap();
    let (ok, err) = release(&dir, &["--week", "1"]);
    assert!(!ok);
    assert!(err.contains("has no [schedule]"), "{err}");

    let plan = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release-plan", "--write", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(plan.status.success());
    let (ok, err) = release(&dir, &["--week", "1"]);
    assert!(!ok);
    assert!(
        err.contains("release needs the workspace in a git repository"),
        "{err}"
    );

    git(&dir, &["init", "--quiet"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "--quiet", "-m", "x"]);
    let (ok, err) = release(&dir, &["--week", "9"]);
    assert!(!ok);
    assert!(
        err.contains("the calendar has no releases in week 9"),
        "{err}"
    );

    std::fs::write(dir.join("zero/src/lib.rs"), "// changed\n").unwrap();
    let (ok, err) = release(&dir, &["--week", "1", "--execute"]);
    assert!(!ok);
    assert!(
        err.contains("uncommitted changes") && err.contains("zero/src/lib.rs"),
        "{err}"
    );
    git(&dir, &["checkout", "--", "."]);

    // A request added after --write: the committed schedule is stale.
    let cal = dir.join("release-calendar.toml");
    let text = std::fs::read_to_string(&cal).unwrap();
    std::fs::write(
        &cal,
        text.replace("zero = \"patch\"", "zero = \"patch\"\npre = \"patch\""),
    )
    .unwrap();
    git(&dir, &["commit", "--quiet", "-am", "y"]);
    let (ok, err) = release(&dir, &["--week", "1"]);
    assert!(!ok);
    assert!(
        err.contains("the calendar is not current") && err.contains("pre: planned for week"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
