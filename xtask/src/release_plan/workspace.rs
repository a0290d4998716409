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
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::process;
use toml_edit::Item;

pub use super::deps::Kind;
use super::deps::{Resolver, Scope, Spec, Target, tables};

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
        let mut g = DiGraph::with_capacity(self.crates.len(), self.deps.len());
        let nodes: Vec<NodeIndex> = (0..self.crates.len()).map(|i| g.add_node(i)).collect();
        let mut pairs: Vec<(usize, usize)> = self
            .deps
            .iter()
            .map(|d| (d.dependent, d.dependency))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (a, b) in pairs {
            g.add_edge(nodes[a], nodes[b], ());
        }
        g
    }

    /// Every dependency edge, dependent → dependency, by name, sorted.
    pub fn edge_names(&self) -> Vec<(String, String)> {
        let set: std::collections::BTreeSet<(&str, &str)> = self
            .deps
            .iter()
            .map(|d| {
                (
                    self.crates[d.dependent].name.as_str(),
                    self.crates[d.dependency].name.as_str(),
                )
            })
            .collect();
        set.into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
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

/// The part of `cargo metadata --no-deps` the planner reads. Dependencies are
/// read from the raw manifests instead (they say where each one points), so
/// their JSON — most of the output on a large workspace — is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    version: Version,
    id: String,
    manifest_path: PathBuf,
    publish: Option<Vec<String>>,
}

/// Runs `cargo metadata --no-deps --offline` on `manifest` and parses the part
/// the planner reads.
pub fn metadata(manifest: &Path) -> anyhow::Result<Metadata> {
    Metadata::parse(&metadata_output(manifest)?)
}

impl Metadata {
    /// Parses `cargo metadata --format-version 1` output.
    pub fn parse(json: &[u8]) -> anyhow::Result<Metadata> {
        serde_json::from_slice(json).context("reading cargo metadata's output")
    }
}

/// The output of `cargo metadata --no-deps --offline` on `manifest`, run in
/// its directory so that the workspace's own `.cargo/config.toml` applies.
pub fn metadata_output(manifest: &Path) -> anyhow::Result<Vec<u8>> {
    let manifest = std::path::absolute(manifest)
        .with_context(|| format!("resolving {}", manifest.display()))?;
    process::checked(
        process::cargo()
            .current_dir(manifest.parent().unwrap_or(Path::new("/")))
            .args([
                "metadata",
                "--no-deps",
                "--offline",
                "--format-version",
                "1",
            ])
            .arg("--manifest-path")
            .arg(&manifest),
    )
}

/// Why cargo cannot publish a member, if it cannot.
fn unpublishable(p: &Package, doc: &Manifest) -> Option<&'static str> {
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

/// A manifest, read only: spans into its text rather than owned strings,
/// which makes a large workspace noticeably quicker to read.
type Manifest = toml_edit::Document<String>;

fn parse(path: &Path) -> anyhow::Result<Manifest> {
    let src =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Manifest::parse(src).with_context(|| format!("parsing {}", path.display()))
}

/// `f` over `items` on all cores, results in order; the first error wins.
fn parallel_map<T: Send, R: Send>(
    items: &mut [T],
    f: impl Fn(&mut T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (len, chunk) = (items.len(), items.len().div_ceil(threads).max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks_mut(chunk)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter_mut().map(f).collect::<anyhow::Result<Vec<R>>>())
            })
            .collect();
        let mut out = Vec::with_capacity(len);
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a manifest reader panicked"))??,
            );
        }
        Ok(out)
    })
}

/// What the scan of one manifest needs to know about the workspace.
struct ScanContext<'a> {
    resolver: &'a Resolver,
    members: &'a [&'a Package],
    /// By member: why it cannot be published, its index among the crates.
    status: &'a [(Option<&'static str>, Option<usize>)],
    root: &'a Path,
}

/// An edge as one manifest writes it, before requirements are parsed.
struct RawEdge {
    dependency: usize,
    kind: Kind,
    version: String,
    public: bool,
}

/// One publishable manifest's edges on members, and what cargo would refuse.
#[derive(Default)]
struct Scan {
    edges: Vec<RawEdge>,
    problems: Vec<String>,
}

fn scan(ctx: &ScanContext<'_>, p: &Package, doc: &Manifest) -> anyhow::Result<Scan> {
    let name = &p.name;
    let dir = p.manifest_path.parent().unwrap_or(ctx.root);
    let goes_to = destinations(&p.publish);
    let mut out = Scan::default();
    for path in tables(doc) {
        let Scope::Package(kind) = path.scope else {
            continue;
        };
        let Some(table) = path.get(doc) else { continue };
        let scope = path.scope;
        for (key, item) in table.iter() {
            let Some(spec) = Spec::of(item) else { continue };
            let r = ctx.resolver.resolve(dir, scope, key, &spec);
            let Some(version) = r.version else {
                if kind == Kind::Dev {
                    continue; // stripped on publish: no ordering constraint
                }
                if r.by_path {
                    out.problems.push(format!(
                        "{name}: path dependency `{key}` in [{}] has no `version`, so cargo cannot package {name}; add the version it needs",
                        kind.table()
                    ));
                }
                continue;
            };
            let Target::Member(m) = r.target else {
                continue;
            };
            let member = &ctx.members[m].name;
            let via = if kind == Kind::Dev {
                " (a versioned dev-dependency; drop its `version` to have cargo strip it on publish)"
            } else {
                ""
            };
            let (why, member_crate) = ctx.status[m];
            if let Some(why) = why {
                out.problems.push(format!(
                    "{name} depends on {member} in [{}], but {member} {why}: {name} cannot be published{via}",
                    kind.table()
                ));
                continue;
            }
            let allowed = &ctx.members[m].publish;
            if let Some(reg) = goes_to.iter().find(|r| !allows(allowed, r)) {
                let allowed: Vec<String> =
                    allowed.iter().flatten().map(|r| format!("`{r}`")).collect();
                out.problems.push(format!(
                    "{name} is published to `{reg}`, but its dependency {member} may only go to {}{via}",
                    allowed.join(", ")
                ));
                continue;
            }
            out.edges.push(RawEdge {
                dependency: member_crate.expect("a publishable member has a crate index"),
                kind,
                version,
                public: r.public,
            });
        }
    }
    Ok(out)
}

/// Reads a workspace offline: [`metadata`], then [`from_metadata`].
pub fn load(manifest: &Path) -> anyhow::Result<Workspace> {
    let meta = metadata(manifest)
        .with_context(|| format!("reading workspace metadata of {}", manifest.display()))?;
    from_metadata(meta)
}

/// The release graph from cargo's metadata plus the raw manifests, for what
/// metadata does not say (where each dependency really points, whether it
/// declares a version, `public`, inherited versions). Every dependency that
/// `cargo publish` would refuse is reported, all at once.
pub fn from_metadata(meta: Metadata) -> anyhow::Result<Workspace> {
    let root = meta.workspace_root.clone();
    let root_manifest = root.join("Cargo.toml");
    let ids: std::collections::HashSet<&str> =
        meta.workspace_members.iter().map(String::as_str).collect();
    let mut members: Vec<&Package> = meta
        .packages
        .iter()
        .filter(|p| ids.contains(p.id.as_str()))
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ws = Workspace {
        root: root.clone(),
        root_manifest: root_manifest.clone(),
        ..Workspace::default()
    };
    let root_doc = parse(&root_manifest)?;
    // Reading and scanning the manifests is most of the planner's time on a
    // large workspace; each manifest is independent, so they go in parallel.
    let docs = parallel_map(&mut members.clone(), |p| parse(&p.manifest_path))?;
    let named: Vec<(String, PathBuf)> = members
        .iter()
        .map(|p| (p.name.clone(), p.manifest_path.clone()))
        .collect();
    let resolver = Resolver::new(&root, &root_doc, &named);
    ws.members = named;
    // By member: (why it cannot be published, its index among the crates).
    let mut status: Vec<(Option<&'static str>, Option<usize>)> = Vec::with_capacity(members.len());
    for (p, doc) in members.iter().zip(&docs) {
        let why = unpublishable(p, doc);
        status.push((why, why.is_none().then_some(ws.crates.len())));
        match why {
            Some(why) => ws.excluded.push((p.name.to_string(), why.to_owned())),
            None => ws.crates.push(Crate {
                name: p.name.to_string(),
                version: p.version.clone(),
                manifest: p.manifest_path.clone(),
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
    // Each job owns its manifest, so the worker also frees it.
    let mut jobs: Vec<(usize, &Package, Option<Manifest>)> = members
        .iter()
        .zip(docs)
        .zip(&status)
        .filter_map(|((p, doc), &(_, i))| Some((i?, *p, Some(doc))))
        .collect();
    let ctx = ScanContext {
        resolver: &resolver,
        members: &members,
        status: &status,
        root: &root,
    };
    let scans = parallel_map(&mut jobs, |(_, p, doc)| match doc.take() {
        Some(doc) => scan(&ctx, p, &doc),
        None => Ok(Scan::default()),
    })?;
    let mut problems: Vec<String> = Vec::new();
    // Edges by (dependent, dependency, requirement as written, interned).
    let mut seen: HashMap<(usize, usize, usize), usize> = HashMap::new();
    let mut reqs: HashMap<String, (usize, VersionReq)> = HashMap::new();
    for ((dependent, p, _), scan) in jobs.iter().zip(scans) {
        problems.extend(scan.problems);
        for e in scan.edges {
            let next_id = reqs.len();
            let (req_id, req) = match reqs.get(&e.version) {
                Some(known) => known.clone(),
                None => match e.version.parse::<VersionReq>() {
                    Ok(req) => {
                        reqs.insert(e.version.clone(), (next_id, req.clone()));
                        (next_id, req)
                    }
                    Err(err) => {
                        problems.push(format!(
                            "{}: requirement `{}` on {} is not a version requirement: {err}",
                            p.name, e.version, ws.crates[e.dependency].name
                        ));
                        continue;
                    }
                },
            };
            match seen.entry((*dependent, e.dependency, req_id)) {
                std::collections::hash_map::Entry::Occupied(o) => {
                    let d = &mut ws.deps[*o.get()];
                    d.public |= e.public;
                    if d.kind == Kind::Dev {
                        d.kind = e.kind;
                    }
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(ws.deps.len());
                    ws.deps.push(Dep {
                        dependent: *dependent,
                        dependency: e.dependency,
                        req,
                        public: e.public,
                        kind: e.kind,
                    });
                }
            }
        }
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
        assert_eq!(
            names,
            [
                "aprender",
                "aprender-cli",
                "batuta",
                "realizar",
                "realizar-cli",
                "trueno"
            ]
        );
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
                && edge("aprender-cli", "aprender")
                && edge("realizar-cli", "realizar")
        );
        assert!(!edge("trueno", "aprender"));
    }
}
