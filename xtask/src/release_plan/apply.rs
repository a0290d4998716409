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
use chrono::NaiveDate;
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item, TableLike, Value};

use super::bump::Release;
use super::deps::{Resolver, Scope, Spec, Target, tables};
use super::schedule::Plan;
use super::workspace::Workspace;
use crate::process;

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

/// Raises, in one dependency table, every requirement that points at a
/// released member (as [`Resolver`] decides: the same rule the plan used) and
/// no longer admits its new version.
fn raise_in(
    table: &mut dyn TableLike,
    scope: Scope,
    dir: &Path,
    resolver: &Resolver,
    new: &BTreeMap<usize, &Version>,
) -> anyhow::Result<()> {
    for (key, item) in table.iter_mut() {
        let Some(spec) = Spec::of(item) else { continue };
        let r = resolver.resolve(dir, scope, key.get(), &spec);
        let Target::Member(member) = r.target else {
            continue;
        };
        let Some(&to) = new.get(&member) else {
            continue;
        };
        // An inherited entry's requirement lives in [workspace.dependencies].
        let v = match item {
            Item::Value(v) if v.is_str() => Some(v),
            _ => item
                .as_table_like_mut()
                .and_then(|t| t.get_mut("version"))
                .and_then(Item::as_value_mut),
        };
        if let Some(v) = v {
            let old = v.as_str().unwrap_or_default().to_owned();
            if !VersionReq::parse(&old).is_ok_and(|r| r.matches(to)) {
                set_str(
                    v,
                    &raise(&old, to).with_context(|| format!("`{}`", key.get()))?,
                );
            }
        }
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

/// A release with its slot: (week, date, release).
pub type Selected<'a> = (usize, NaiveDate, &'a Release);

/// The releases `--apply` carries out: week `week`'s, or all, not yet done.
pub fn selected(plan: &Plan, week: Option<usize>) -> anyhow::Result<Vec<Selected<'_>>> {
    let releases: Vec<Selected<'_>> = plan
        .weeks
        .iter()
        .filter(|w| week.is_none_or(|n| w.week == n))
        .flat_map(|w| w.releases.iter().map(move |r| (w.week, w.date, r)))
        .collect();
    if let Some(n) = week {
        if releases.is_empty() {
            bail!("the plan has no releases in week {n}");
        }
        if releases.iter().all(|(_, _, r)| r.done) {
            bail!("week {n} is carried out already (its releases are in [released])");
        }
    }
    Ok(releases.into_iter().filter(|(_, _, r)| !r.done).collect())
}

/// The new text of every manifest the releases change, by path (unchanged files left out).
pub fn edits(
    ws: &Workspace,
    plan: &Plan,
    week: Option<usize>,
) -> anyhow::Result<BTreeMap<PathBuf, (String, String)>> {
    let releases = selected(plan, week)?;
    let mut files: BTreeMap<PathBuf, (String, DocumentMut)> = BTreeMap::new();
    let mut paths: Vec<PathBuf> = ws.members.iter().map(|(_, p)| p.clone()).collect();
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
    let resolver = Resolver::new(&ws.root, &files[&ws.root_manifest].1, &ws.members);
    let mut workspace_version: Option<Version> = None;
    for (_, _, r) in &releases {
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
        // Every crate inheriting the workspace version moves with it: the plan
        // releases them as one group, so all must be here.
        for c in ws.crates.iter().filter(|c| c.inherits_version) {
            if !releases
                .iter()
                .any(|(_, _, r)| ws.crates[r.krate].name == c.name)
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
    // By position in ws.members, as the resolver names members.
    let new: BTreeMap<usize, &Version> = releases
        .iter()
        .filter_map(|(_, _, r)| {
            let name = &ws.crates[r.krate].name;
            let m = ws.members.iter().position(|(n, _)| n == name)?;
            Some((m, &r.to))
        })
        .collect();
    for (path, (_, doc)) in files.iter_mut() {
        let dir = path.parent().unwrap_or(&ws.root).to_owned();
        for t in tables(doc) {
            if let Some(table) = t.get_mut(doc) {
                raise_in(table, t.scope, &dir, &resolver, &new)
                    .with_context(|| format!("in {}", path.display()))?;
            }
        }
    }
    Ok(files
        .into_iter()
        .map(|(p, (src, doc))| (p, (src, doc.to_string())))
        .filter(|(_, (old, new))| old != new)
        .collect())
}

/// Applies the plan to the manifests, records the releases in the calendar's
/// `[released]` (when there is a calendar file) and brings `Cargo.lock` in line
/// (when the workspace has one, offline), or prints the diff with `dry_run`.
/// Either everything changes or nothing does.
pub fn apply(
    ws: &Workspace,
    plan: &Plan,
    week: Option<usize>,
    dry_run: bool,
    calendar: Option<&Path>,
) -> anyhow::Result<()> {
    let mut edits = edits(ws, plan, week)?;
    if let Some(path) = calendar {
        let src =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let new = super::schedule_file::record(&src, ws, &selected(plan, week)?)?;
        edits.insert(path.to_owned(), (src, new));
    }
    if dry_run {
        for (path, (old, new)) in &edits {
            super::out(diff(path, old, new))?;
        }
        return Ok(());
    }
    let lock = ws.root.join("Cargo.lock");
    let old_lock = match std::fs::read_to_string(&lock) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", lock.display())),
    };
    let files: Vec<(PathBuf, String)> = edits
        .iter()
        .map(|(p, (_, new))| (p.clone(), new.clone()))
        .collect();
    write_all(&files)?;
    if let Some(old_lock) = &old_lock
        && let Err(e) = update_lock(ws)
    {
        let mut undo: Vec<(PathBuf, String)> = edits
            .iter()
            .map(|(p, (old, _))| (p.clone(), old.clone()))
            .collect();
        undo.push((lock, old_lock.clone()));
        write_all(&undo).context("restoring the files after Cargo.lock could not be updated")?;
        return Err(e.context("updating Cargo.lock (every file is as it was)"));
    }
    for (path, _) in &files {
        super::out(format_args!("updated {}\n", path.display()))?;
    }
    if let Some(old) = old_lock
        && std::fs::read_to_string(&lock).is_ok_and(|now| now != old)
    {
        super::out(format_args!("updated {}\n", lock.display()))?;
    }
    Ok(())
}

/// `cargo update --workspace --offline`: the lock file's entries for the
/// members take their new versions; nothing else moves.
fn update_lock(ws: &Workspace) -> anyhow::Result<()> {
    process::checked(
        process::cargo()
            .current_dir(&ws.root)
            .args([
                "update",
                "--workspace",
                "--offline",
                "--quiet",
                "--manifest-path",
            ])
            .arg(&ws.root_manifest),
    )?;
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

/// Writes every file or none: all temporaries first (uniquely named beside
/// their targets, synced), then the renames. A failure before the renames
/// leaves every file as it was and no temporary behind.
pub fn write_all(files: &[(PathBuf, String)]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut written = Vec::with_capacity(files.len());
    for (path, text) in files {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".release-plan.")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("writing a temporary file for {}", path.display()))?;
        written.push(tmp);
    }
    for ((path, _), tmp) in files.iter().zip(written) {
        tmp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("replacing {}", path.display()))?;
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
