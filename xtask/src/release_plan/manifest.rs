//! What `cargo metadata` does not say, read from the raw manifests: whether a
//! dependency declares a version (an unversioned dev-dependency is stripped on
//! publish, so it imposes no order) and whether it is marked `public = true`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use toml::{Table, Value};

/// Which dependency table an entry sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `[dependencies]`
    Normal,
    /// `[dev-dependencies]`
    Dev,
    /// `[build-dependencies]`
    Build,
}

/// One dependency entry as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// It declares a version (directly, or through `workspace = true`).
    pub versioned: bool,
    /// It is marked `public = true`.
    pub public: bool,
}

/// Entries of one manifest keyed by (kind, package name). Target-specific
/// tables merge into their kind: an entry is versioned or public if any of its
/// declarations is.
pub type Entries = BTreeMap<(Kind, String), Entry>;

const TABLES: [(&str, Kind); 5] = [
    ("dependencies", Kind::Normal),
    ("dev-dependencies", Kind::Dev),
    ("dev_dependencies", Kind::Dev),
    ("build-dependencies", Kind::Build),
    ("build_dependencies", Kind::Build),
];

/// Every dependency table of a manifest, the target-specific ones included.
fn tables(doc: &Table) -> Vec<(Kind, &Table)> {
    let targets = doc.get("target").and_then(Value::as_table);
    let scopes = std::iter::once(doc).chain(
        targets
            .into_iter()
            .flat_map(|t| t.values().filter_map(Value::as_table)),
    );
    scopes
        .flat_map(|scope| {
            TABLES
                .iter()
                .filter_map(move |(key, kind)| scope.get(*key)?.as_table().map(|t| (*kind, t)))
        })
        .collect()
}

/// Reads the entries of `manifest`; `workspace_deps` is the root's
/// `[workspace.dependencies]`, consulted for `workspace = true` entries.
pub fn entries(manifest: &Path, workspace_deps: &Table) -> anyhow::Result<Entries> {
    let doc = read(manifest)?;
    let mut out = Entries::new();
    for (kind, deps) in tables(&doc) {
        for (alias, spec) in deps {
            let (package, versioned, public) = match spec {
                Value::String(_) => (alias.clone(), true, false),
                Value::Table(t) => {
                    let inherited = t.get("workspace").and_then(Value::as_bool) == Some(true);
                    let ws_entry = inherited.then(|| workspace_deps.get(alias)).flatten();
                    let package = t
                        .get("package")
                        .or_else(|| ws_entry.and_then(|e| e.get("package")))
                        .and_then(Value::as_str)
                        .unwrap_or(alias)
                        .to_owned();
                    let versioned = t.contains_key("version")
                        || ws_entry.is_some_and(|e| e.is_str() || e.get("version").is_some());
                    (
                        package,
                        versioned,
                        t.get("public").and_then(Value::as_bool) == Some(true),
                    )
                }
                _ => continue,
            };
            let e = out.entry((kind, package)).or_default();
            e.versioned |= versioned;
            e.public |= public;
        }
    }
    Ok(out)
}

/// Parses a manifest as a plain TOML table.
pub fn read(manifest: &Path) -> anyhow::Result<Table> {
    let src = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    src.parse::<Table>()
        .with_context(|| format!("parsing {}", manifest.display()))
}

/// The root manifest's `[workspace.dependencies]` (empty when absent).
pub fn workspace_dependencies(root_manifest: &Path) -> anyhow::Result<Table> {
    let doc = read(root_manifest)?;
    Ok(doc
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default())
}
