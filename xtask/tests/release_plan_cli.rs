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
        .take(5)
        .map(|l| l.split_whitespace().take(5).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["1", "2026-12-07", "trueno", "0.16.0", "0.16.1"],
            vec!["2", "2026-12-14", "aprender", "0.27.1", "0.27.2"],
            vec!["3", "2026-12-21", "realizar", "0.7.4", "0.8.0"],
            vec!["4", "2026-12-28", "batuta", "0.7.1", "0.7.2"],
            vec!["5", "2027-01-04", "realizar-cli", "0.7.4", "0.7.5"],
        ]
    );
    assert!(out.contains("requirement ^0.7 on realizar no longer matches 0.8.0"));
    assert!(out.contains("(lower bound 5: optimal)"));
}

#[test]
fn a_relative_manifest_path_is_read_from_the_current_directory() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(&fixtures)
        .args([
            "release-plan",
            "--manifest-path",
            "versions/Cargo.toml",
            "--start",
            "2027-01-04",
            "--all",
            "patch",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("zero"));
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
        serde_json::json!({"crate": "trueno", "from": "0.16.0", "to": "0.16.1", "reason": "requested (patch)", "status": "planned"})
    );
    assert_eq!(v["lower_bound"], 5);
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

/// Output with runs of spaces collapsed, so checks do not depend on column widths.
fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/{name}/Cargo.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_workspace_without_calendar_is_planned_from_flags() {
    let m = fixture("renamed_target");
    let (ok, out, err) = xtask(&[
        "release-plan",
        "--manifest-path",
        &m,
        "--start",
        "2027-01-04",
        "--bump",
        "base=minor",
    ]);
    assert!(ok, "{err}");
    let out = squash(&out);
    assert!(
        out.contains("1 2027-01-04 base 0.1.5 0.2.0 requested (minor)"),
        "{out}"
    );
    assert!(
        out.contains(
            "2 2027-01-11 app 1.0.0 1.0.1 requirement ^0.1 on base no longer matches 0.2.0"
        ),
        "{out}"
    );

    let (ok, out, _) = xtask(&[
        "release-plan",
        "--manifest-path",
        &m,
        "--start",
        "2027-01-04",
        "--all",
        "patch",
        "--capacity",
        "2",
        "--lag",
        "0",
        "--format",
        "markdown",
    ]);
    assert!(ok);
    assert!(
        out.contains("| 1 | 2027-01-04 | app | 1.0.0 | 1.0.1 | requested (patch) |"),
        "{out}"
    );
    assert!(
        out.contains("| 1 | 2027-01-04 | base | 0.1.5 | 0.1.6 | requested (patch) |"),
        "{out}"
    );

    let (ok, _, err) = xtask(&["release-plan", "--manifest-path", &m]);
    assert!(!ok);
    assert!(
        err.contains("no calendar at") && err.contains("--start DATE"),
        "{err}"
    );
    let (ok, _, err) = xtask(&[
        "release-plan",
        "--manifest-path",
        &m,
        "--start",
        "2027-01-04",
        "--bump",
        "base=huge",
    ]);
    assert!(!ok);
    assert!(err.contains("`huge` is not patch, minor or major"), "{err}");
}

#[test]
fn check_fails_on_a_stale_schedule_and_write_fixes_it() {
    let dir = scratch("check");
    let cal = dir.join("cal.toml");
    std::fs::write(
        &cal,
        "# my calendar\n[calendar]\nstart = \"2027-01-04\"\n\n[requests]\nbase = \"minor\"\n\n[schedule]\nbase = { week = 2, date = \"2027-01-11\", version = \"0.2.0\" }\n",
    )
    .unwrap();
    let m = fixture("renamed_target");
    let c = cal.to_str().unwrap();
    let args = |extra: &'static str| {
        vec![
            "release-plan",
            "--manifest-path",
            m.as_str(),
            "--calendar",
            c,
            extra,
        ]
    };
    let (ok, _, err) = xtask(&args("--check"));
    assert!(!ok);
    assert!(
        err.contains(
            "base: committed week 2 (2027-01-11) 0.2.0, planned week 1 (2027-01-04) 0.2.0"
        ),
        "{err}"
    );
    assert!(
        err.contains("app: planned for week 2 but not committed"),
        "{err}"
    );
    let (ok, _, err) = xtask(&args("--write"));
    assert!(ok, "{err}");
    let (ok, out, err) = xtask(&args("--check"));
    assert!(ok, "{err}");
    assert!(out.contains("matches the plan"));
    let text = std::fs::read_to_string(&cal).unwrap();
    assert!(
        text.starts_with(
            "# my calendar\n[calendar]\nstart = \"2027-01-04\"\n\n[requests]\nbase = \"minor\"\n"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gantt_chart_is_written() {
    let dir = scratch("gantt");
    let svg = dir.join("plan.svg");
    let (ok, _, err) = xtask(&["release-plan", "--gantt", svg.to_str().unwrap()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(text.contains(">trueno</text>") && text.contains("week 4"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_git_reads_conventional_commits_since_the_last_tag() {
    let dir = scratch("git");
    let src = std::path::Path::new(&fixture("renamed_target"))
        .parent()
        .unwrap()
        .to_owned();
    for f in [
        "Cargo.toml",
        "base/Cargo.toml",
        "base/src/lib.rs",
        "app/Cargo.toml",
        "app/src/lib.rs",
    ] {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let git = |args: &[&str]| common::git(&dir, args);
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "feat!: first cut"]);
    git(&["tag", "base-v0.1.5"]);
    std::fs::write(dir.join("base/src/lib.rs"), "//! changed\n").unwrap();
    git(&["commit", "-qam", "fix(base): a bug"]);
    std::fs::write(dir.join("app/src/lib.rs"), "//! changed\n").unwrap();
    git(&["commit", "-qam", "docs: words"]);

    let m = dir.join("Cargo.toml");
    let (ok, out, err) = xtask(&[
        "release-plan",
        "--manifest-path",
        m.to_str().unwrap(),
        "--start",
        "2027-01-04",
        "--from-git",
    ]);
    assert!(ok, "{err}");
    // base: only `fix` since its tag -> patch. app has no tag: its history holds `feat!` -> breaking (major for 1.x).
    let out = squash(&out);
    assert!(out.contains("base 0.1.5 0.1.6 requested (patch)"), "{out}");
    assert!(out.contains("app 1.0.0 2.0.0 requested (major)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

mod common;

fn in_dir(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let manifest = dir.join("Cargo.toml");
    let mut all = vec![
        "release-plan",
        "--manifest-path",
        manifest.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    xtask(&all)
}

#[test]
fn a_week_carried_out_is_recorded_and_the_rest_keeps_its_slots() {
    let dir = common::copy_fixture("versions");
    std::fs::write(
        dir.join("release-calendar.toml"),
        "[calendar]\nstart = \"2027-01-04\"\n\n[requests]\npre = \"patch\"\nzero = \"patch\"\n",
    )
    .unwrap();
    let (ok, _, err) = in_dir(&dir, &["--write"]);
    assert!(ok, "{err}");
    let planned = |dir: &std::path::Path| {
        let (ok, out, err) = in_dir(dir, &["--format", "json"]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| {
                let week = w["week"].as_u64().unwrap();
                w["releases"].as_array().unwrap().iter().map(move |r| {
                    format!(
                        "{week} {} {} {}",
                        r["crate"].as_str().unwrap(),
                        r["to"].as_str().unwrap(),
                        r["status"].as_str().unwrap()
                    )
                })
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        planned(&dir),
        [
            "1 pre 1.0.0 planned",
            "2 zero 0.0.4 planned",
            "3 app 2.0.1 planned"
        ]
    );
    for week in ["1", "2"] {
        let (ok, out, err) = in_dir(&dir, &["--apply", "--week", week]);
        assert!(ok, "week {week}: {err}");
        assert!(out.contains("release-calendar.toml"), "{out}");
        // The next run plans only what is left, in the same slots, and the
        // committed schedule still matches.
        let (ok, out, err) = in_dir(&dir, &["--check"]);
        assert!(ok, "after week {week}: {out}{err}");
    }
    assert_eq!(
        planned(&dir),
        [
            "1 pre 1.0.0 released",
            "2 zero 0.0.4 released",
            "3 app 2.0.1 planned"
        ]
    );
    let cal = std::fs::read_to_string(dir.join("release-calendar.toml")).unwrap();
    assert!(
        cal.contains(
            "zero = { week = 2, date = \"2027-01-11\", version = \"0.0.4\", from = \"0.0.3\" }"
        ),
        "{cal}"
    );
    // app's requirement on zero was raised in week 2: it still has to release.
    let app = std::fs::read_to_string(dir.join("app/Cargo.toml")).unwrap();
    assert!(
        app.contains("zero = { path = \"../zero\", version = \"0.0.4\" }"),
        "{app}"
    );
    let (ok, _, err) = in_dir(&dir, &["--apply", "--week", "2"]);
    assert!(!ok);
    assert!(err.contains("week 2 is carried out already"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extreme_inputs_are_clear_errors_not_panics() {
    let m = fixture("versions");
    let dir = scratch("extreme");
    let cal = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--start".into(),
                "2027-01-04".into(),
                "--lag".into(),
                u64::MAX.to_string(),
            ],
            "beyond the planning horizon",
        ),
        (
            vec!["--start".into(), "+262142-12-20".into()],
            "past the last date this tool can represent",
        ),
        (
            vec![
                "--calendar".into(),
                cal(
                    "pin.toml",
                    "[calendar]\nstart = \"2027-01-04\"\n[pins]\napp = 18446744073709551615\n",
                ),
            ],
            "beyond the planning horizon",
        ),
        (
            vec![
                "--calendar".into(),
                cal(
                    "lag.toml",
                    "[calendar]\nstart = \"2027-01-04\"\nlag = 18446744073709551615\n",
                ),
            ],
            "beyond the planning horizon",
        ),
        (
            vec![
                "--calendar".into(),
                cal(
                    "end.toml",
                    "[calendar]\nstart = \"+262142-12-30\"\nweekday = \"monday\"\n",
                ),
            ],
            "past the last date",
        ),
        (
            vec![
                "--calendar".into(),
                cal(
                    "pub.toml",
                    "[calendar]\nstart = \"2027-01-04\"\n[public]\napp = [\"ghost\"]\n",
                ),
            ],
            "[public] names `ghost`, which is not a publishable member",
        ),
        (
            vec![
                "--calendar".into(),
                cal("bare.toml", "[calendar]\nstart = 2027-01-04\n"),
            ],
            "write it in quotes: \"2027-01-04\"",
        ),
        (
            vec!["--start".into(), "2027-01-04".into(), "--check".into()],
            "which does not exist; create it with `cargo xtask release-plan --start YYYY-MM-DD --write`",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["release-plan", "--manifest-path", &m, "--all", "patch"];
        all.extend(args.iter().map(String::as_str));
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(&all)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
