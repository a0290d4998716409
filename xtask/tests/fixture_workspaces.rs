//! The planner on real (small) workspaces under `tests/fixtures`, read with
//! cargo metadata exactly as on a user's workspace.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use xtask::release_plan::bump::Level;
use xtask::release_plan::calendar::Calendar;
use xtask::release_plan::{apply, plan, workspace};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

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
    assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
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

/// Copies a fixture into a fresh temporary directory.
fn copy_fixture(name: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!(
        "xtask-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dst);
    fn copy(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            let to = dst.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to);
            } else {
                std::fs::copy(e.path(), to).unwrap();
            }
        }
    }
    copy(fixture(name).parent().unwrap(), &dst);
    dst
}

#[test]
fn apply_edits_inherited_versions_and_workspace_dependencies_in_place() {
    let dir = copy_fixture("inherit");
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    let p = plan(&ws, &calendar(&[("core", Level::Major)])).unwrap();
    let before = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let core_before = before("core/Cargo.toml");
    apply::apply(&ws, &p, None, false).unwrap();

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
fn apply_refuses_to_split_an_inherited_version_and_writes_nothing() {
    let dir = copy_fixture("inherit");
    // tool depends on core; make tool inherit too, then request only core: the
    // shared version would have to be both 2.0.0 (core) and something else.
    let tool = dir.join("tool/Cargo.toml");
    let text = std::fs::read_to_string(&tool)
        .unwrap()
        .replace("version = \"0.3.0\"", "version.workspace = true");
    std::fs::write(&tool, text).unwrap();
    let snapshot = |d: &Path| -> Vec<String> {
        [
            "Cargo.toml",
            "core/Cargo.toml",
            "tool/Cargo.toml",
            "internal/Cargo.toml",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(d.join(f)).unwrap())
        .collect()
    };
    let before = snapshot(&dir);
    let ws = workspace::load(&dir.join("Cargo.toml")).unwrap();
    let p = plan(&ws, &calendar(&[("core", Level::Major)])).unwrap();
    let err = apply::apply(&ws, &p, Some(1), false).unwrap_err();
    assert!(
        err.to_string()
            .contains("tool inherits [workspace.package] version but is not released"),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before);
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
