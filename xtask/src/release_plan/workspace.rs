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

/// A publishable workspace member.
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    /// Package name.
    pub name: String,
    /// Current version.
    pub version: Version,
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
}

/// The release graph of a workspace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workspace {
    /// The workspace root directory.
    pub root: PathBuf,
    /// Publishable members, sorted by name.
    pub crates: Vec<Crate>,
    /// Edges among them (deduplicated per pair and requirement).
    pub deps: Vec<Dep>,
    /// Members left out, with the reason.
    pub excluded: Vec<(String, String)>,
}

impl Workspace {
    /// Index of a crate by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.crates.iter().position(|c| c.name == name)
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

/// Reads a workspace offline with `cargo metadata --no-deps`.
pub fn load(manifest: &Path) -> anyhow::Result<Workspace> {
    let meta = MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .with_context(|| format!("reading workspace metadata of {}", manifest.display()))?;
    let mut ws = Workspace {
        root: meta.workspace_root.clone().into_std_path_buf(),
        ..Workspace::default()
    };
    let mut members = meta.workspace_packages();
    members.sort_by(|a, b| a.name.cmp(&b.name));
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
        })
        .collect();
    for (dependent, p) in publishable.iter().enumerate() {
        for d in &p.dependencies {
            let Some(dependency) = ws.index(&d.name) else {
                continue;
            };
            // A workspace path dependency is only "the same crate" if it points into the workspace.
            if d.path.is_none() && d.source.is_some() {
                continue;
            }
            let unversioned_dev =
                d.kind == DependencyKind::Development && d.req == VersionReq::STAR;
            if unversioned_dev {
                continue;
            }
            let dep = Dep {
                dependent,
                dependency,
                req: d.req.clone(),
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

    /// A workspace from `(name, version)` crates and `(dependent, dependency, req)` edges.
    pub(crate) fn synthetic(crates: &[(&str, &str)], deps: &[(&str, &str, &str)]) -> Workspace {
        let mut ws = Workspace {
            crates: crates
                .iter()
                .map(|(n, v)| Crate {
                    name: n.to_string(),
                    version: v.parse().unwrap(),
                })
                .collect(),
            ..Workspace::default()
        };
        for (a, b, req) in deps {
            let dep = Dep {
                dependent: ws.index(a).unwrap(),
                dependency: ws.index(b).unwrap(),
                req: req.parse().unwrap(),
            };
            ws.deps.push(dep);
        }
        ws
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
