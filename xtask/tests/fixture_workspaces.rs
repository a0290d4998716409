//! The planner on real (small) workspaces under `tests/fixtures`, read with
//! cargo metadata exactly as on a user's workspace.

mod common;

use std::path::PathBuf;

use common::{copy_fixture, fixture};

use chrono::NaiveDate;
use xtask::release_plan::bump::Level;
use xtask::release_plan::calendar::Calendar;
use xtask::release_plan::{apply, plan, workspace};

fn calendar(requests: &[(&str, Level)]) -> Calendar {
    let mut cal = Calendar::new(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
    cal.requests = requests.iter().map(|(n, l)| (n.to_string(), *l)).collect();
    cal
}

/// (week, crate, new version) of every release.
fn layout(ws: &workspace::Workspace, requests: &[(&str, Level)]) -> Vec<(usize, String, String)> {
    let p = plan(ws, &calendar(requests)).unwrap();
    p.weeks
        .iter()
        .flat_map(|w| {
            w.releases
                .iter()
                .map(move |r| (w.week, ws.crates[r.krate].name.clone(), r.to.to_string()))
        })
        .collect()
}

fn row(week: usize, name: &str, v: &str) -> (usize, String, String) {
    (week, name.to_owned(), v.to_owned())
}

#[test]
fn an_unversioned_dev_dependency_is_not_an_edge() {
    let ws = workspace::load(&fixture("dev_cycle_unversioned")).unwrap();
    assert_eq!(ws.deps.len(), 1, "only a -> b remains");
    assert_eq!(
        layout(&ws, &[("b", Level::Minor)]),
        vec![row(1, "b", "0.3.0"), row(2, "a", "0.1.1")]
    );
}

#[test]
fn a_versioned_dev_dependency_cycle_is_an_error() {
    let err = workspace::load(&fixture("dev_cycle_versioned")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dependency cycle: a -> b -> a (b -> a is a dev-dependency with a `version`, which cargo keeps on publish; drop that `version` so cargo strips the dev-dependency and the cycle is gone)"
    );
}

#[test]
fn a_true_cycle_is_printed_as_a_path() {
    let err = workspace::load(&fixture("true_cycle")).unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle: x -> y -> x");
}

#[test]
fn renamed_target_specific_dependencies_are_edges() {
    let ws = workspace::load(&fixture("renamed_target")).unwrap();
    assert_eq!(
        layout(&ws, &[("base", Level::Minor)]),
        vec![row(1, "base", "0.2.0"), row(2, "app", "1.0.1")]
    );
}

#[test]
fn zero_zero_and_pre_release_versions_follow_cargo() {
    let ws = workspace::load(&fixture("versions")).unwrap();
    // 0.0.3 -> 0.0.4 is breaking: app must follow. rc.1 -> 1.0.0 still matches ^1.0.0-rc.1.
    assert_eq!(
        layout(&ws, &[("zero", Level::Patch), ("pre", Level::Patch)]),
        vec![
            row(1, "pre", "1.0.0"),
            row(2, "zero", "0.0.4"),
            row(3, "app", "2.0.1")
        ]
    );
}

#[test]
fn workspace_inheritance_and_unpublished_members() {
    let ws = workspace::load(&fixture("inherit")).unwrap();
    assert_eq!(
        ws.excluded,
        vec![("internal".to_owned(), "publish = false".to_owned())]
    );
    assert_eq!(
        ws.crates
            .iter()
            .find(|c| c.name == "core")
            .unwrap()
            .version
            .to_string(),
        "1.2.0"
    );
    // core.workspace = true carries the [workspace.dependencies] requirement 1.2.
    assert_eq!(
        layout(&ws, &[("core", Level::Major)]),
        vec![row(1, "core", "2.0.0"), row(2, "tool", "0.3.1")]
    );
}

#[test]
fn apply_edits_inherited_versions_and_workspace_dependencies_in_place() {
    let dir = copy_fixture("inherit");
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    let p = plan(&ws, &calendar(&[("core", Level::Major)])).unwrap();
    let before = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let core_before = before("core/Cargo.toml");
    apply::apply(&ws, &p, None, false, None).unwrap();

    let root = before("Cargo.toml");
    assert!(
        root.contains("version = \"2.0.0\"   # bumped by release-plan --apply"),
        "{root}"
    );
    assert!(
        root.contains("core = { path = \"core\", version = \"2.0\" }"),
        "{root}"
    );
    assert!(root.contains("# The shared version of the inheriting crates."));
    assert!(before("tool/Cargo.toml").contains("version = \"0.3.1\""));
    assert!(before("internal/Cargo.toml").contains("version = \"2.0\" } # keep this comment"));
    // core inherits its version: its own manifest has nothing to change.
    assert_eq!(before("core/Cargo.toml"), core_before);

    // Re-planning the edited workspace reads the new versions.
    let again = workspace::load(&dir.join("Cargo.toml")).unwrap();
    assert_eq!(
        again
            .crates
            .iter()
            .find(|c| c.name == "tool")
            .unwrap()
            .version
            .to_string(),
        "0.3.1"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crates_sharing_the_workspace_version_release_together() {
    let dir = copy_fixture("inherit");
    // tool depends on core; make tool inherit the workspace version too.
    let tool = dir.join("tool/Cargo.toml");
    let text = std::fs::read_to_string(&tool)
        .unwrap()
        .replace("version = \"0.3.0\"", "version.workspace = true");
    std::fs::write(&tool, text).unwrap();
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    // A patch of tool and a minor of core: one release of both, at minor.
    let requests = [("tool", Level::Patch), ("core", Level::Minor)];
    assert_eq!(
        layout(&ws, &requests),
        vec![row(1, "core", "1.3.0"), row(1, "tool", "1.3.0")]
    );
    // Asking for one brings the other, with a reason.
    let p = plan(&ws, &calendar(&[("tool", Level::Patch)])).unwrap();
    let reasons: Vec<String> = p.weeks[0]
        .releases
        .iter()
        .map(|r| r.reasons[0].to_string())
        .collect();
    assert_eq!(
        reasons,
        ["shares the workspace version", "requested (patch)"]
    );
    // And --apply carries out the plan it made.
    let p = plan(&ws, &calendar(&requests)).unwrap();
    apply::apply(&ws, &p, Some(1), false, None).unwrap();
    let root = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(root.contains("version = \"1.3.0\"   # bumped"), "{root}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dependencies_on_members_cargo_cannot_publish_are_errors() {
    let err = format!(
        "{:#}",
        workspace::load(&fixture("unpublishable")).unwrap_err()
    );
    for needle in [
        "app depends on private in [dependencies], but private publish = false: app cannot be published",
        "app depends on nover in [build-dependencies], but nover has no `version` (cargo does not publish it): app cannot be published",
        "app is published to `crates-io`, but its dependency elsewhere may only go to `other-registry`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    assert!(
        !err.contains("tool"),
        "tool and elsewhere share a registry: {err}"
    );
}

#[test]
fn path_dependencies_without_a_version_are_errors() {
    let err = format!(
        "{:#}",
        workspace::load(&fixture("unversioned_path")).unwrap_err()
    );
    assert!(
        err.contains("app: path dependency `lib` in [dependencies] has no `version`, so cargo cannot package app"),
        "{err}"
    );
    assert!(
        err.contains("app: path dependency `gen` in [build-dependencies] has no `version`"),
        "{err}"
    );
    assert!(!err.contains("dev-dependencies"), "{err}");
}

#[test]
fn a_registry_dependency_sharing_a_members_name_is_left_alone() {
    let dir = copy_fixture("shared_name");
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    assert_eq!(
        layout(&ws, &[("log", Level::Minor)]),
        vec![row(1, "log", "0.2.0"), row(2, "other", "1.0.1")]
    );
    let p = plan(&ws, &calendar(&[("log", Level::Minor)])).unwrap();
    let edits = apply::edits(&ws, &p, None).unwrap();
    assert!(
        !edits.contains_key(&dir.join("app/Cargo.toml")),
        "{edits:?}"
    );
    assert!(
        edits[&dir.join("other/Cargo.toml")]
            .1
            .contains("mylog = { package = \"log\", path = \"../log\", version = \"0.2\" }")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn patched_registry_requirements_are_edges_and_apply_edits_exactly_the_plan() {
    let dir = copy_fixture("patched");
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    // macros 3.0 breaks core's requirement; core 2.0 breaks util's (through the patch).
    let requests = [("macros", Level::Major), ("core", Level::Major)];
    assert_eq!(
        layout(&ws, &requests),
        vec![
            row(1, "macros", "3.0.0"),
            row(2, "core", "2.0.0"),
            row(3, "util", "0.7.4")
        ]
    );
    let p = plan(&ws, &calendar(&requests)).unwrap();
    let planned: std::collections::BTreeSet<PathBuf> = p
        .weeks
        .iter()
        .flat_map(|w| &w.releases)
        .map(|r| ws.crates[r.krate].manifest.clone())
        .collect();
    let edits = apply::edits(&ws, &p, None).unwrap();
    let edited: std::collections::BTreeSet<PathBuf> = edits.keys().cloned().collect();
    assert_eq!(edited, planned, "apply edits exactly the planned crates");
    let util = &edits[&dir.join("util/Cargo.toml")].1;
    assert!(
        util.contains("core = \"2.0\" # a registry requirement"),
        "{util}"
    );
    assert!(
        util.contains("core = { version = \"2.0\", features = [] }"),
        "{util}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn apply_updates_the_lock_file_so_locked_builds_pass() {
    let dir = copy_fixture("versions");
    let cargo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO"))
            .args(args)
            .arg("--manifest-path")
            .arg(dir.join("Cargo.toml"))
            .output()
            .unwrap()
    };
    assert!(cargo(&["generate-lockfile", "--offline"]).status.success());
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    let p = plan(&ws, &calendar(&[("zero", Level::Patch)])).unwrap();
    apply::apply(&ws, &p, None, false, None).unwrap();
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"zero\"\nversion = \"0.0.4\""),
        "{lock}"
    );
    let locked = cargo(&["metadata", "--locked", "--offline", "--format-version", "1"]);
    assert!(
        locked.status.success(),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn apply_of_a_target_specific_renamed_dependency() {
    let dir = copy_fixture("renamed_target");
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    let p = plan(&ws, &calendar(&[("base", Level::Minor)])).unwrap();
    let edits = apply::edits(&ws, &p, Some(1)).unwrap();
    let app = &edits[&dir.join("app/Cargo.toml")].1;
    assert!(
        app.contains(
            "base-renamed = { package = \"base\", path = \"../base\", version = \"0.2\" }"
        ),
        "{app}"
    );
    assert!(
        app.contains("version = \"1.0.0\""),
        "week 1 applies base only; app's own bump is week 2"
    );
    assert_eq!(edits.len(), 2);
    let err = apply::edits(&ws, &p, Some(7)).unwrap_err();
    assert_eq!(err.to_string(), "the plan has no releases in week 7");
    std::fs::remove_dir_all(&dir).unwrap();
}
