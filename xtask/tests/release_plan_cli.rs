//! `cargo xtask release-plan` as a user runs it: on this workspace by default,
//! and with a clear error and non-zero exit on a bad calendar.

use std::process::Command;

fn xtask(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn plans_this_workspace_one_crate_a_week() {
    let (ok, out, err) = xtask(&["release-plan"]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().take(5).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["1", "2026-12-07", "trueno", "0.16.0", "0.16.1"],
            vec!["2", "2026-12-14", "aprender", "0.27.1", "0.27.2"],
            vec!["3", "2026-12-21", "realizar", "0.7.4", "0.8.0"],
            vec!["4", "2026-12-28", "batuta", "0.7.1", "0.7.2"],
        ]
    );
    assert!(out.contains("requirement ^0.7 on realizar no longer matches 0.8.0"));
    assert!(out.contains("(lower bound 4: optimal)"));
}

#[test]
fn json_is_the_documented_contract() {
    let (ok, out, _) = xtask(&["release-plan", "--format", "json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["weeks"][0]["week"], 1);
    assert_eq!(v["weeks"][0]["date"], "2026-12-07");
    assert_eq!(
        v["weeks"][0]["releases"][0],
        serde_json::json!({"crate": "trueno", "from": "0.16.0", "to": "0.16.1", "reason": "requested (patch)"})
    );
    assert_eq!(v["lower_bound"], 4);
    assert_eq!(v["optimal"], true);
    assert!(
        v["edges"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["aprender", "trueno"]))
    );
}

#[test]
fn a_bad_calendar_fails_clearly() {
    let path = std::env::temp_dir().join(format!("bad-calendar-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[calendar]\nstart = \"2026-12-07\"\n[requests]\nghost = \"patch\"\n",
    )
    .unwrap();
    let (ok, out, err) = xtask(&["release-plan", "--calendar", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(
        err.contains("`ghost` is requested but is not a member of this workspace"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}
