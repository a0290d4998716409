//! The workspace as a release graph: publishable crates and the dependency
//! edges that constrain publishing order.
//!
//! Edges are normal and build dependencies, and dev-dependencies that carry a
//! version (cargo strips unversioned dev-dependencies when publishing, so they
//! impose no order), on members as [`super::deps`] decides. Target-specific and
//! renamed dependencies count like any other: they are still published
//! requirements. A member cargo would refuse to publish is an error, not a
//! quietly wrong plan.

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use anyhow::{Context, bail};
use cargo_metadata::MetadataCommand;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item};

pub use super::deps::Kind;
use super::deps::{Resolver, Scope, Spec, Target, for_each_table};

/// A publishable workspace member.
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    /// Package name.
    pub name: String,
    /// Current version.
    pub version: Version,
    /// Its Cargo.toml.
    pub manifest: PathBuf,
    /// `package.publish`: the registries it may go to (`None`: any).
    pub publish: Option<Vec<String>>,
    /// `version.workspace = true`: it shares `[workspace.package].version`.
    pub inherits_version: bool,
}

/// `dependent` requires `dependency` at `req`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    /// Index of the crate that depends.
    pub dependent: usize,
    /// Index of the crate depended on.
    pub dependency: usize,
    /// The requirement as published.
    pub req: VersionReq,
    /// The manifest marks the dependency `public = true`.
    pub public: bool,
    /// The table it is declared in (the strongest, when declared twice).
    pub kind: Kind,
}

/// The release graph of a workspace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workspace {
    /// The workspace root directory.
    pub root: PathBuf,
    /// The root Cargo.toml.
    pub root_manifest: PathBuf,
    /// Publishable members, sorted by name.
    pub crates: Vec<Crate>,
    /// Edges among them (deduplicated per pair and requirement).
    pub deps: Vec<Dep>,
    /// Members left out, with the reason.
    pub excluded: Vec<(String, String)>,
    /// Every member, publishable or not: (name, manifest).
    pub members: Vec<(String, PathBuf)>,
}

impl Workspace {
    /// The crates that share `[workspace.package].version`: one release group.
    pub fn version_group(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.crates.len()).filter(|&i| self.crates[i].inherits_version)
    }

    /// Index of a crate by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.crates.iter().position(|c| c.name == name)
    }

    /// A workspace that exists only in memory, for tests and benchmarks:
    /// `(name, version)` crates and `(dependent, dependency, requirement)` edges.
    pub fn in_memory(
        crates: &[(&str, &str)],
        deps: &[(&str, &str, &str)],
    ) -> anyhow::Result<Workspace> {
        let mut ws = Workspace::default();
        for (name, version) in crates {
            let version = version
                .parse()
                .with_context(|| format!("version of {name}"))?;
            ws.crates.push(Crate {
                name: name.to_string(),
                version,
                manifest: PathBuf::new(),
                publish: None,
                inherits_version: false,
            });
        }
        ws.crates.sort_by(|a, b| a.name.cmp(&b.name));
        for (a, b, req) in deps {
            let index = |n: &str| ws.index(n).with_context(|| format!("unknown crate `{n}`"));
            let (dependent, dependency) = (index(a)?, index(b)?);
            let req = req
                .parse()
                .with_context(|| format!("requirement of {a} on {b}"))?;
            ws.deps.push(Dep {
                dependent,
                dependency,
                req,
                public: false,
                kind: Kind::Normal,
            });
        }
        Ok(ws)
    }

    /// The graph with an edge dependent → dependency per dependency.
    pub fn graph(&self) -> DiGraph<usize, ()> {
        let mut g = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..self.crates.len()).map(|i| g.add_node(i)).collect();
        for d in &self.deps {
            g.update_edge(nodes[d.dependent], nodes[d.dependency], ());
        }
        g
    }

    /// Fails with the cycle spelled out as a path if the graph has one.
    pub fn check_acyclic(&self) -> anyhow::Result<()> {
        let g = self.graph();
        for scc in tarjan_scc(&g) {
            let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                let path: Vec<usize> = cycle_path(&g, &scc).iter().map(|&n| g[n]).collect();
                let name = |i: usize| self.crates[i].name.as_str();
                let names: Vec<&str> = path.iter().map(|&i| name(i)).collect();
                let dev: Vec<String> = path
                    .windows(2)
                    .filter(|w| {
                        self.deps
                            .iter()
                            .filter(|d| d.dependent == w[0] && d.dependency == w[1])
                            .all(|d| d.kind == Kind::Dev)
                    })
                    .map(|w| format!("{} -> {}", name(w[0]), name(w[1])))
                    .collect();
                if dev.is_empty() {
                    bail!("dependency cycle: {}", names.join(" -> "));
                }
                bail!(
                    "dependency cycle: {} ({} is a dev-dependency with a `version`, which cargo keeps on publish; drop that `version` so cargo strips the dev-dependency and the cycle is gone)",
                    names.join(" -> "),
                    dev.join(", ")
                );
            }
        }
        Ok(())
    }
}

/// A cycle through the smallest-named node of a strongly connected component.
fn cycle_path(g: &DiGraph<usize, ()>, scc: &[NodeIndex]) -> Vec<NodeIndex> {
    let start = *scc.iter().min_by_key(|n| g[**n]).expect("non-empty scc");
    // Breadth-first search back to `start`, staying inside the component.
    let mut prev = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<_> = g.neighbors(n).filter(|m| scc.contains(m)).collect();
        next.sort_by_key(|m| g[*m]);
        for m in next {
            if m == start {
                let mut path = vec![start];
                let mut cur = n;
                while cur != start {
                    path.push(cur);
                    cur = prev[&cur];
                }
                path[1..].reverse();
                path.push(start);
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

/// Why cargo cannot publish a member, if it cannot.
fn unpublishable(p: &cargo_metadata::Package, doc: &DocumentMut) -> Option<&'static str> {
    let has_version = doc.get("package").and_then(|p| p.get("version")).is_some();
    if !has_version {
        Some("has no `version` (cargo does not publish it)")
    } else if matches!(&p.publish, Some(r) if r.is_empty()) {
        Some("publish = false")
    } else {
        None
    }
}

/// The registries a crate may go to: `None` is any (crates.io by default).
fn allows(publish: &Option<Vec<String>>, registry: &str) -> bool {
    publish
        .as_ref()
        .is_none_or(|r| r.iter().any(|x| x == registry))
}

/// The registries a crate goes to when published as configured.
fn destinations(publish: &Option<Vec<String>>) -> Vec<String> {
    publish
        .clone()
        .unwrap_or_else(|| vec!["crates-io".to_owned()])
}

/// Reads a workspace offline with `cargo metadata --no-deps`, plus the raw
/// manifests for what metadata loses (where each dependency really points,
/// whether it declares a version, `public`, inherited versions). Every
/// dependency that `cargo publish` would refuse is reported, all at once.
pub fn load(manifest: &Path) -> anyhow::Result<Workspace> {
    let meta = MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .with_context(|| format!("reading workspace metadata of {}", manifest.display()))?;
    let root = meta.workspace_root.clone().into_std_path_buf();
    let root_manifest = root.join("Cargo.toml");
    let mut members = meta.workspace_packages();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ws = Workspace {
        root: root.clone(),
        root_manifest: root_manifest.clone(),
        ..Workspace::default()
    };
    let parse = |path: &Path| -> anyhow::Result<DocumentMut> {
        let src =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        src.parse()
            .with_context(|| format!("parsing {}", path.display()))
    };
    let root_doc = parse(&root_manifest)?;
    let mut docs = Vec::with_capacity(members.len());
    for p in &members {
        docs.push(parse(p.manifest_path.as_std_path())?);
    }
    let named: Vec<(String, PathBuf)> = members
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.manifest_path.clone().into_std_path_buf(),
            )
        })
        .collect();
    let resolver = Resolver::new(&root, &root_doc, &named);
    ws.members = named;
    // name -> (why it cannot be published, where it may be published)
    let mut status: HashMap<String, (Option<&'static str>, Option<Vec<String>>)> = HashMap::new();
    for (p, doc) in members.iter().zip(&docs) {
        let why = unpublishable(p, doc);
        status.insert(p.name.to_string(), (why, p.publish.clone()));
        match why {
            Some(why) => ws.excluded.push((p.name.to_string(), why.to_owned())),
            None => ws.crates.push(Crate {
                name: p.name.to_string(),
                version: p.version.clone(),
                manifest: p.manifest_path.clone().into_std_path_buf(),
                publish: p.publish.clone(),
                inherits_version: doc
                    .get("package")
                    .and_then(|p| p.get("version"))
                    .and_then(|v| v.get("workspace"))
                    .and_then(Item::as_bool)
                    == Some(true),
            }),
        }
    }
    let index: HashMap<String, usize> = ws
        .crates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    let mut problems: Vec<String> = Vec::new();
    let mut seen: HashMap<(usize, usize, String), usize> = HashMap::new();
    for (p, mut doc) in members.iter().zip(docs) {
        let Some(&dependent) = index.get(p.name.as_str()) else {
            continue;
        };
        let name = p.name.to_string();
        let dir = p
            .manifest_path
            .parent()
            .map_or(root.clone(), |d| d.as_std_path().to_owned());
        let publish = ws.crates[dependent].publish.clone();
        for_each_table(&mut doc, |scope, table| {
            let Scope::Package(kind) = scope else {
                return Ok(());
            };
            for (key, item) in table.iter() {
                let Some(spec) = Spec::of(item) else { continue };
                let r = resolver.resolve(&dir, scope, key, &spec);
                let Some(version) = &r.version else {
                    if kind == Kind::Dev {
                        continue; // stripped on publish: no ordering constraint
                    }
                    if r.by_path {
                        problems.push(format!(
                            "{name}: path dependency `{key}` in [{}] has no `version`, so cargo cannot package {name}; add the version it needs",
                            kind.table()
                        ));
                    }
                    continue;
                };
                let Target::Member(member) = &r.target else {
                    continue;
                };
                let (why, allowed) = &status[member];
                let via = if kind == Kind::Dev {
                    " (a versioned dev-dependency; drop its `version` to have cargo strip it on publish)"
                } else {
                    ""
                };
                if let Some(why) = why {
                    problems.push(format!(
                        "{name} depends on {member} in [{}], but {member} {why}: {name} cannot be published{via}",
                        kind.table()
                    ));
                    continue;
                }
                if let Some(reg) = destinations(&publish).iter().find(|r| !allows(allowed, r)) {
                    problems.push(format!(
                        "{name} is published to `{reg}`, but its dependency {member} may only go to {}{via}",
                        allowed.as_deref().unwrap_or_default().iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                    ));
                    continue;
                }
                let req: VersionReq = match version.parse() {
                    Ok(req) => req,
                    Err(e) => {
                        problems.push(format!(
                            "{name}: requirement `{version}` on {member} is not a version requirement: {e}"
                        ));
                        continue;
                    }
                };
                let dependency = index[member.as_str()];
                match seen.entry((dependent, dependency, req.to_string())) {
                    std::collections::hash_map::Entry::Occupied(e) => {
                        let d = &mut ws.deps[*e.get()];
                        d.public |= r.public;
                        if d.kind == Kind::Dev {
                            d.kind = kind;
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(ws.deps.len());
                        ws.deps.push(Dep {
                            dependent,
                            dependency,
                            req,
                            public: r.public,
                            kind,
                        });
                    }
                }
            }
            Ok(())
        })?;
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        bail!(
            "{} cannot be released as it is:\n  {}",
            root_manifest.display(),
            problems.join("\n  ")
        );
    }
    ws.check_acyclic()?;
    Ok(ws)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn synthetic(crates: &[(&str, &str)], deps: &[(&str, &str, &str)]) -> Workspace {
        Workspace::in_memory(crates, deps).unwrap()
    }

    #[test]
    fn cycles_are_printed_as_a_path() {
        let ws = synthetic(
            &[
                ("a", "1.0.0"),
                ("b", "1.0.0"),
                ("c", "1.0.0"),
                ("d", "1.0.0"),
            ],
            &[
                ("a", "b", "1"),
                ("b", "c", "1"),
                ("c", "a", "1"),
                ("d", "a", "1"),
            ],
        );
        assert_eq!(
            ws.check_acyclic().unwrap_err().to_string(),
            "dependency cycle: a -> b -> c -> a"
        );
        let ws = synthetic(&[("a", "1.0.0")], &[("a", "a", "1")]);
        assert_eq!(
            ws.check_acyclic().unwrap_err().to_string(),
            "dependency cycle: a -> a"
        );
    }

    #[test]
    fn this_workspace_reads_offline() {
        let ws = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")).unwrap();
        let names: Vec<_> = ws.crates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["aprender", "batuta", "realizar", "trueno"]);
        assert_eq!(
            ws.excluded,
            vec![("xtask".to_owned(), "publish = false".to_owned())]
        );
        let edge = |a: &str, b: &str| {
            ws.deps.iter().any(|d| {
                d.dependent == ws.index(a).unwrap() && d.dependency == ws.index(b).unwrap()
            })
        };
        assert!(
            edge("aprender", "trueno")
                && edge("realizar", "aprender")
                && edge("batuta", "realizar")
        );
        assert!(!edge("trueno", "aprender"));
    }
}
