//! The workspace as a release graph: publishable crates and the dependency
//! edges that constrain publishing order.
//!
//! Edges are normal and build dependencies, and dev-dependencies that carry a
//! version (cargo strips unversioned dev-dependencies when publishing, so they
//! impose no order). Target-specific and renamed dependencies count like any
//! other: they are still published requirements.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cargo_metadata::{DependencyKind, MetadataCommand};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use semver::{Version, VersionReq};

use super::manifest::{self, Kind};

/// A publishable workspace member.
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    /// Package name.
    pub name: String,
    /// Current version.
    pub version: Version,
    /// Its Cargo.toml.
    pub manifest: PathBuf,
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
    /// The manifest of every member, publishable or not.
    pub member_manifests: Vec<PathBuf>,
}

impl Workspace {
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
                let path = cycle_path(&g, &scc)
                    .iter()
                    .map(|&n| self.crates[g[n]].name.as_str())
                    .collect::<Vec<_>>();
                bail!("dependency cycle: {}", path.join(" -> "));
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

/// Reads a workspace offline with `cargo metadata --no-deps`, plus the raw
/// manifests for what metadata loses.
pub fn load(manifest: &Path) -> anyhow::Result<Workspace> {
    let meta = MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .with_context(|| format!("reading workspace metadata of {}", manifest.display()))?;
    let root = meta.workspace_root.clone().into_std_path_buf();
    let root_manifest = root.join("Cargo.toml");
    let ws_deps = manifest::workspace_dependencies(&root_manifest)?;
    let mut ws = Workspace {
        root,
        root_manifest,
        ..Workspace::default()
    };
    let mut members = meta.workspace_packages();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    ws.member_manifests = members
        .iter()
        .map(|p| p.manifest_path.clone().into_std_path_buf())
        .collect();
    let publishable: Vec<_> = members
        .into_iter()
        .filter(|p| {
            let unpublished = matches!(&p.publish, Some(registries) if registries.is_empty());
            if unpublished {
                ws.excluded
                    .push((p.name.to_string(), "publish = false".to_owned()));
            }
            !unpublished
        })
        .collect();
    ws.crates = publishable
        .iter()
        .map(|p| Crate {
            name: p.name.to_string(),
            version: p.version.clone(),
            manifest: p.manifest_path.clone().into_std_path_buf(),
        })
        .collect();
    for (dependent, p) in publishable.iter().enumerate() {
        let raw = manifest::entries(p.manifest_path.as_std_path(), &ws_deps)?;
        for d in &p.dependencies {
            let Some(dependency) = ws.index(&d.name) else {
                continue;
            };
            // A registry dependency that shares a member's name is not the member.
            if d.path.is_none() && d.source.is_some() {
                continue;
            }
            let kind = match d.kind {
                DependencyKind::Development => Kind::Dev,
                DependencyKind::Build => Kind::Build,
                _ => Kind::Normal,
            };
            let entry = raw
                .get(&(kind, d.name.clone()))
                .copied()
                .unwrap_or_default();
            if kind == Kind::Dev && !entry.versioned {
                continue; // stripped on publish: no ordering constraint
            }
            let dep = Dep {
                dependent,
                dependency,
                req: d.req.clone(),
                public: entry.public,
            };
            if !ws.deps.contains(&dep) {
                ws.deps.push(dep);
            }
        }
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
