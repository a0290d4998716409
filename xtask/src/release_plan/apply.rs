//! `--apply`: make the manifests say what the plan says.
//!
//! For each release: its `package.version` (or `[workspace.package].version`
//! when inherited) becomes the new version, and every requirement on it, in
//! every member manifest and in `[workspace.dependencies]`, that the new version
//! no longer satisfies is raised, keeping its operator and precision (`0.7` →
//! `0.8`, `=0.7.4` → `=0.8.0`). toml_edit keeps formatting and comments; a file
//! with nothing to change is not touched. All files are written to temporaries
//! first and renamed only when every one was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item, TableLike, Value};

use super::schedule::Plan;
use super::workspace::Workspace;

const DEP_TABLES: [&str; 5] = [
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];

/// A requirement raised to admit `new`, keeping its operator and precision.
pub fn raise(req: &str, new: &Version) -> anyhow::Result<String> {
    let t = req.trim();
    let (op, rest) = match t.chars().next() {
        Some(c @ ('=' | '^' | '~')) => (c.to_string(), t[1..].trim_start()),
        _ => (String::new(), t),
    };
    if rest.is_empty() || rest.contains([',', '<', '>', '*', ' ']) {
        bail!("cannot raise requirement `{req}` automatically; edit it by hand");
    }
    let parts = rest.split('-').next().unwrap_or(rest).split('.').count();
    let body = match parts {
        1 => new.major.to_string(),
        2 => format!("{}.{}", new.major, new.minor),
        _ => new.to_string(),
    };
    let out = format!("{op}{body}");
    let parsed = VersionReq::parse(&out).with_context(|| format!("raised requirement `{out}`"))?;
    if !parsed.matches(new) {
        bail!("requirement `{req}` raised to `{out}` still does not admit {new}");
    }
    Ok(out)
}

/// Sets a string value, keeping the comments and spacing around it.
fn set_str(v: &mut Value, s: &str) {
    let decor = v.decor().clone();
    *v = Value::from(s);
    *v.decor_mut() = decor;
}

/// Raises every requirement on `krate` in one dependency table.
fn raise_in(table: &mut dyn TableLike, krate: &str, new: &Version) -> anyhow::Result<()> {
    for (key, item) in table.iter_mut() {
        let key = key.get().to_owned();
        if let Some(v) = item.as_value_mut().filter(|v| v.is_str()) {
            if key == krate {
                let old = v.as_str().unwrap_or_default().to_owned();
                if !VersionReq::parse(&old).is_ok_and(|r| r.matches(new)) {
                    set_str(v, &raise(&old, new)?);
                }
            }
            continue;
        }
        let Some(t) = item.as_table_like_mut() else {
            continue;
        };
        let package = t
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(&key)
            .to_owned();
        if package != krate {
            continue;
        }
        if let Some(v) = t.get_mut("version").and_then(Item::as_value_mut) {
            let old = v.as_str().unwrap_or_default().to_owned();
            if !VersionReq::parse(&old).is_ok_and(|r| r.matches(new)) {
                set_str(v, &raise(&old, new)?);
            }
        }
    }
    Ok(())
}

/// Every dependency table of a manifest, target-specific ones included.
fn for_each_dep_table(
    doc: &mut DocumentMut,
    mut f: impl FnMut(&mut dyn TableLike) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for name in DEP_TABLES {
        if let Some(t) = doc.get_mut(name).and_then(Item::as_table_like_mut) {
            f(t)?;
        }
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            let Some(target) = target.as_table_like_mut() else {
                continue;
            };
            for name in DEP_TABLES {
                if let Some(t) = target.get_mut(name).and_then(Item::as_table_like_mut) {
                    f(t)?;
                }
            }
        }
    }
    if let Some(t) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(Item::as_table_like_mut)
    {
        f(t)?;
    }
    Ok(())
}

fn inherits_version(doc: &DocumentMut) -> bool {
    doc.get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}

/// The new text of every manifest the releases change, by path (unchanged files left out).
pub fn edits(
    ws: &Workspace,
    plan: &Plan,
    week: Option<usize>,
) -> anyhow::Result<BTreeMap<PathBuf, (String, String)>> {
    let releases: Vec<_> = plan
        .weeks
        .iter()
        .filter(|w| week.is_none_or(|n| w.week == n))
        .flat_map(|w| &w.releases)
        .collect();
    if let Some(n) = week.filter(|_| releases.is_empty()) {
        bail!("the plan has no releases in week {n}");
    }
    let mut files: BTreeMap<PathBuf, (String, DocumentMut)> = BTreeMap::new();
    let mut paths: Vec<PathBuf> = ws.member_manifests.clone();
    paths.push(ws.root_manifest.clone());
    paths.sort();
    paths.dedup();
    for path in &paths {
        let src =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: DocumentMut = src
            .parse()
            .with_context(|| format!("parsing {}", path.display()))?;
        files.insert(path.clone(), (src, doc));
    }
    let mut workspace_version: Option<Version> = None;
    for r in &releases {
        let c = &ws.crates[r.krate];
        let (_, doc) = files
            .get_mut(&c.manifest)
            .with_context(|| format!("{} is not a member manifest", c.manifest.display()))?;
        if inherits_version(doc) {
            if workspace_version.as_ref().is_some_and(|v| *v != r.to) {
                bail!(
                    "{} inherits [workspace.package] version, which this plan sets to two values",
                    c.name
                );
            }
            workspace_version = Some(r.to.clone());
        } else {
            let v = doc
                .get_mut("package")
                .and_then(|p| p.get_mut("version"))
                .and_then(Item::as_value_mut)
                .with_context(|| format!("{} has no package.version", c.manifest.display()))?;
            set_str(v, &r.to.to_string());
        }
    }
    if let Some(v) = &workspace_version {
        // Every crate inheriting the workspace version moves with it: it must be released too.
        for c in &ws.crates {
            let inherits = files
                .get(&c.manifest)
                .is_some_and(|(_, d)| inherits_version(d));
            if inherits
                && !releases
                    .iter()
                    .any(|r| r.krate == ws.index(&c.name).unwrap_or(usize::MAX))
            {
                bail!(
                    "{} inherits [workspace.package] version but is not released to {v} with the others",
                    c.name
                );
            }
        }
        let (_, root) = files
            .get_mut(&ws.root_manifest)
            .expect("root manifest loaded");
        let item = root
            .get_mut("workspace")
            .and_then(|w| w.get_mut("package"))
            .and_then(|p| p.get_mut("version"))
            .and_then(Item::as_value_mut)
            .context("[workspace.package] has no version")?;
        set_str(item, &v.to_string());
    }
    for r in &releases {
        let name = &ws.crates[r.krate].name;
        for (path, (_, doc)) in files.iter_mut() {
            for_each_dep_table(doc, |t| raise_in(t, name, &r.to))
                .with_context(|| format!("in {}", path.display()))?;
        }
    }
    Ok(files
        .into_iter()
        .map(|(p, (src, doc))| (p, (src, doc.to_string())))
        .filter(|(_, (old, new))| old != new)
        .collect())
}

/// Applies the plan to the manifests, or prints the diff with `dry_run`.
pub fn apply(
    ws: &Workspace,
    plan: &Plan,
    week: Option<usize>,
    dry_run: bool,
) -> anyhow::Result<()> {
    let edits = edits(ws, plan, week)?;
    if dry_run {
        for (path, (old, new)) in &edits {
            super::out(diff(path, old, new))?;
        }
        return Ok(());
    }
    let files: Vec<(PathBuf, String)> = edits
        .iter()
        .map(|(p, (_, new))| (p.clone(), new.clone()))
        .collect();
    write_all(&files)?;
    for (path, _) in &files {
        super::out(format_args!("updated {}\n", path.display()))?;
    }
    Ok(())
}

/// A unified diff of one file.
pub fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(&name, &name)
        .to_string()
}

/// Writes every file or none: all temporaries first, then the renames.
pub fn write_all(files: &[(PathBuf, String)]) -> anyhow::Result<()> {
    let tmp = |p: &Path| {
        let mut name = p.file_name().unwrap_or_default().to_owned();
        name.push(".release-plan.tmp");
        p.with_file_name(name)
    };
    let mut written = Vec::new();
    for (path, text) in files {
        let t = tmp(path);
        if let Err(e) = std::fs::write(&t, text) {
            for w in &written {
                let _ = std::fs::remove_file(w);
            }
            return Err(e).with_context(|| format!("writing {}", t.display()));
        }
        written.push(t);
    }
    for ((path, _), t) in files.iter().zip(&written) {
        std::fs::rename(t, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_keep_operator_and_precision() {
        let v: Version = "0.8.0".parse().unwrap();
        assert_eq!(raise("0.7", &v).unwrap(), "0.8");
        assert_eq!(raise("^0.7.4", &v).unwrap(), "^0.8.0");
        assert_eq!(raise("=0.7.4", &v).unwrap(), "=0.8.0");
        assert_eq!(raise("~0.7", &v).unwrap(), "~0.8");
        assert_eq!(raise("0", &"1.0.0".parse().unwrap()).unwrap(), "1");
        assert!(
            raise(">=0.7, <0.8", &v)
                .unwrap_err()
                .to_string()
                .contains("edit it by hand")
        );
    }
}
