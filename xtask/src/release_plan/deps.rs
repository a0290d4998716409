//! Which dependency entries of a manifest point at a workspace member — one
//! rule, used by the release graph ([`super::workspace::load`]) and by
//! `--apply`, so that the plan and the edits cannot disagree.
//!
//! An entry points at a member when it is a path dependency on the member's
//! directory, when it inherits (`workspace = true`) a `[workspace.dependencies]`
//! entry that is, or when it is a registry dependency that the root's
//! `[patch.<registry>]` redirects to the member (the tokio layout). A registry
//! dependency that merely shares a member's name is not the member.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use toml_edit::{Item, Table, TableLike};

/// Which dependency table an entry sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `[dependencies]`
    Normal,
    /// `[dev-dependencies]`
    Dev,
    /// `[build-dependencies]`
    Build,
}

impl Kind {
    /// The table's name as written in manifests.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Normal => "dependencies",
            Kind::Dev => "dev-dependencies",
            Kind::Build => "build-dependencies",
        }
    }
}

const TABLES: [(&str, Kind); 5] = [
    ("dependencies", Kind::Normal),
    ("dev-dependencies", Kind::Dev),
    ("dev_dependencies", Kind::Dev),
    ("build-dependencies", Kind::Build),
    ("build_dependencies", Kind::Build),
];

/// Where a dependency table sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A package's own table, target-specific ones included.
    Package(Kind),
    /// The root's `[workspace.dependencies]`, which members inherit from.
    Workspace,
}

/// The fields of one entry that decide where it points, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    /// `package = "…"` (a renamed dependency).
    pub package: Option<String>,
    /// `version = "…"` (or the whole value, for `name = "1.0"`).
    pub version: Option<String>,
    /// `path = "…"`.
    pub path: Option<String>,
    /// `registry = "…"`.
    pub registry: Option<String>,
    /// `git = "…"`.
    pub git: bool,
    /// `workspace = true`.
    pub workspace: bool,
    /// `public = true`.
    pub public: bool,
}

impl Spec {
    /// Reads an entry; `None` for a value that is no dependency spec at all.
    pub fn of(item: &Item) -> Option<Spec> {
        if let Some(v) = item.as_str() {
            return Some(Spec {
                version: Some(v.to_owned()),
                ..Spec::default()
            });
        }
        let t = item.as_table_like()?;
        let s = |k: &str| t.get(k).and_then(Item::as_str).map(str::to_owned);
        let b = |k: &str| t.get(k).and_then(Item::as_bool) == Some(true);
        Some(Spec {
            package: s("package"),
            version: s("version"),
            path: s("path"),
            registry: s("registry"),
            git: t.contains_key("git"),
            workspace: b("workspace"),
            public: b("public"),
        })
    }
}

/// Where an entry resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The workspace member at this index of the list given to [`Resolver::new`].
    Member(usize),
    /// A path dependency outside the workspace's members.
    Path,
    /// A registry or git dependency.
    Elsewhere,
}

/// One entry with its inheritance resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The package name it depends on.
    pub package: String,
    /// Its version requirement, if it has one.
    pub version: Option<String>,
    /// Where it points.
    pub target: Target,
    /// Marked `public = true`.
    pub public: bool,
    /// A path dependency (directly or inherited).
    pub by_path: bool,
}

/// Resolves entries against a workspace's members, `[workspace.dependencies]`
/// and `[patch]` tables.
pub struct Resolver {
    root: PathBuf,
    by_dir: HashMap<PathBuf, usize>,
    workspace_deps: HashMap<String, Spec>,
    patches: HashMap<(String, String), usize>,
}

const CRATES_IO: &str = "crates-io";

/// `[patch]` keys name a registry or its index URL; crates.io has both.
fn registry_key(key: &str) -> String {
    let k = key.trim_end_matches('/');
    if k == "https://github.com/rust-lang/crates.io-index" || k == "sparse+https://index.crates.io"
    {
        CRATES_IO.to_owned()
    } else {
        k.to_owned()
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

impl Resolver {
    /// `members` are (name, manifest path); `root_doc` is the root manifest.
    pub fn new(root: &Path, root_doc: &Table, members: &[(String, PathBuf)]) -> Resolver {
        let mut r = Resolver {
            root: root.to_owned(),
            by_dir: HashMap::new(),
            workspace_deps: HashMap::new(),
            patches: HashMap::new(),
        };
        for (k, (_, manifest)) in members.iter().enumerate() {
            let dir = manifest.parent().unwrap_or(root);
            r.by_dir.insert(normalize(dir), k);
            if let Ok(canon) = dir.canonicalize() {
                r.by_dir.insert(canon, k);
            }
        }
        if let Some(t) = root_doc
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(Item::as_table_like)
        {
            for (key, item) in t.iter() {
                if let Some(spec) = Spec::of(item) {
                    r.workspace_deps.insert(key.to_owned(), spec);
                }
            }
        }
        if let Some(patch) = root_doc.get("patch").and_then(Item::as_table_like) {
            for (registry, table) in patch.iter() {
                let Some(table) = table.as_table_like() else {
                    continue;
                };
                for (key, item) in table.iter() {
                    let Some(spec) = Spec::of(item) else { continue };
                    let Some(path) = &spec.path else { continue };
                    if let Some(member) = r.member_at(root, path) {
                        let package = spec.package.clone().unwrap_or_else(|| key.to_owned());
                        r.patches.insert((registry_key(registry), package), member);
                    }
                }
            }
        }
        r
    }

    fn member_at(&self, base: &Path, path: &str) -> Option<usize> {
        let dir = base.join(path);
        if let Some(&m) = self.by_dir.get(&normalize(&dir)) {
            return Some(m);
        }
        let canon = dir.canonicalize().ok()?;
        self.by_dir.get(&canon).copied()
    }

    /// Resolves the entry `key` of a table in `scope` of the manifest in `dir`.
    pub fn resolve(&self, dir: &Path, scope: Scope, key: &str, spec: &Spec) -> Resolved {
        let inherited = (spec.workspace && scope != Scope::Workspace)
            .then(|| self.workspace_deps.get(key))
            .flatten();
        let (base, from) = match inherited {
            Some(ws) => (self.root.as_path(), ws),
            None => (dir, spec),
        };
        let package = spec
            .package
            .clone()
            .or_else(|| from.package.clone())
            .unwrap_or_else(|| key.to_owned());
        let target = if let Some(path) = &from.path {
            match self.member_at(base, path) {
                Some(m) => Target::Member(m),
                None => Target::Path,
            }
        } else if from.git {
            Target::Elsewhere
        } else {
            let registry = from
                .registry
                .as_deref()
                .map_or(CRATES_IO.to_owned(), registry_key);
            match self.patches.get(&(registry, package.clone())) {
                Some(&m) => Target::Member(m),
                None => Target::Elsewhere,
            }
        };
        Resolved {
            package,
            version: from.version.clone(),
            target,
            public: spec.public || from.public,
            by_path: from.path.is_some(),
        }
    }
}

/// Where one dependency table sits in a manifest: its scope and key path
/// (`["target", "cfg(unix)", "dependencies"]`). The reader and `--apply`
/// both find tables through [`tables`], so they see the same ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePath {
    /// The kind of table.
    pub scope: Scope,
    keys: Vec<String>,
}

impl TablePath {
    /// The table in `doc`.
    pub fn get<'a>(&self, doc: &'a Table) -> Option<&'a dyn TableLike> {
        let (last, parents) = self.keys.split_last()?;
        let mut t: &dyn TableLike = doc;
        for k in parents {
            t = t.get(k)?.as_table_like()?;
        }
        t.get(last)?.as_table_like()
    }

    /// The table in `doc`, to edit.
    pub fn get_mut<'a>(&self, doc: &'a mut Table) -> Option<&'a mut dyn TableLike> {
        let (last, parents) = self.keys.split_last()?;
        let mut t: &mut dyn TableLike = doc;
        for k in parents {
            t = t.get_mut(k)?.as_table_like_mut()?;
        }
        t.get_mut(last)?.as_table_like_mut()
    }
}

/// Every dependency table of a manifest: the package's own, the
/// target-specific ones, and the root's `[workspace.dependencies]`.
pub fn tables(doc: &Table) -> Vec<TablePath> {
    let path = |scope, keys: &[&str]| TablePath {
        scope,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    };
    let mut out = Vec::new();
    for (name, kind) in TABLES {
        if doc.get(name).is_some_and(|t| t.is_table_like()) {
            out.push(path(Scope::Package(kind), &[name]));
        }
    }
    if let Some(targets) = doc.get("target").and_then(Item::as_table_like) {
        for (cfg, target) in targets.iter() {
            for (name, kind) in TABLES {
                if target.get(name).is_some_and(|t| t.is_table_like()) {
                    out.push(path(Scope::Package(kind), &["target", cfg, name]));
                }
            }
        }
    }
    if doc
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .is_some_and(|t| t.is_table_like())
    {
        out.push(path(Scope::Workspace, &["workspace", "dependencies"]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(root: &str) -> Resolver {
        let doc: toml_edit::DocumentMut = root.parse().unwrap();
        let members = [
            ("log".to_owned(), PathBuf::from("/ws/log/Cargo.toml")),
            (
                "core".to_owned(),
                PathBuf::from("/ws/crates/core/Cargo.toml"),
            ),
        ];
        Resolver::new(Path::new("/ws"), &doc, &members)
    }

    fn resolve(r: &Resolver, entry: &str) -> Resolved {
        let doc: toml_edit::DocumentMut = format!("[dependencies]\n{entry}\n").parse().unwrap();
        let (key, item) = doc["dependencies"]
            .as_table()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let spec = Spec::of(item).unwrap();
        r.resolve(
            Path::new("/ws/app"),
            Scope::Package(Kind::Normal),
            key,
            &spec,
        )
    }

    #[test]
    fn only_entries_that_reach_a_member_point_at_it() {
        let r = resolver(
            "[workspace.dependencies]\ncore = { path = \"crates/core\", version = \"1\" }\nserde = \"1\"\n",
        );
        let member = |e: &str| resolve(&r, e).target;
        assert_eq!(member("log = \"0.4\""), Target::Elsewhere);
        assert_eq!(
            member("log = { path = \"../log\", version = \"0.4\" }"),
            Target::Member(0)
        );
        assert_eq!(
            member("c = { path = \"../crates/./core\", package = \"core\" }"),
            Target::Member(1)
        );
        assert_eq!(member("core.workspace = true"), Target::Member(1));
        assert_eq!(member("serde.workspace = true"), Target::Elsewhere);
        assert_eq!(member("x = { path = \"../../elsewhere\" }"), Target::Path);
        assert_eq!(
            member("log = { git = \"https://example.com/log\" }"),
            Target::Elsewhere
        );
        let inherited = resolve(&r, "core = { workspace = true, public = true }");
        assert_eq!(inherited.version.as_deref(), Some("1"));
        assert!(inherited.public && inherited.by_path);
    }

    #[test]
    fn a_patch_redirects_registry_requirements_to_the_member() {
        let r = resolver("[patch.crates-io]\nlog = { path = \"log\" }\n");
        assert_eq!(resolve(&r, "log = \"0.4\"").target, Target::Member(0));
        assert_eq!(
            resolve(&r, "log = { version = \"0.4\", registry = \"other\" }").target,
            Target::Elsewhere
        );
    }
}
