//! Which crates must release, at which version, and why — with cargo's semver
//! rules: a new version is *breaking* exactly when a caret requirement on the old
//! one no longer matches it (so 0.x minor and 0.0.x patch bumps are breaking).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::bail;
use petgraph::algo::toposort;
use semver::{Prerelease, Version, VersionReq};
use serde::Deserialize;

use super::calendar::Calendar;
use super::workspace::Workspace;

/// A requested bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Bug fixes.
    Patch,
    /// New features.
    Minor,
    /// Incompatible changes.
    Major,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        })
    }
}

/// The version after bumping `v` by `level`. A pre-release is finalised by a
/// patch bump (`1.0.0-rc.1` → `1.0.0`) and otherwise bumped from its base.
pub fn bump(v: &Version, level: Level) -> anyhow::Result<Version> {
    let mut n = Version::new(v.major, v.minor, v.patch);
    if !v.pre.is_empty() && level == Level::Patch {
        return Ok(n);
    }
    let next = |x: u64| {
        x.checked_add(1)
            .ok_or_else(|| anyhow::anyhow!("a {level} bump of {v} overflows the version number"))
    };
    match level {
        Level::Patch => n.patch = next(n.patch)?,
        Level::Minor => (n.minor, n.patch) = (next(n.minor)?, 0),
        Level::Major => (n.major, n.minor, n.patch) = (next(n.major)?, 0, 0),
    }
    n.pre = Prerelease::EMPTY;
    Ok(n)
}

/// Whether `new` is incompatible with `old` under cargo's caret rules.
pub fn is_breaking(old: &Version, new: &Version) -> bool {
    let req =
        VersionReq::parse(&format!("^{old}")).expect("a version is a valid caret requirement");
    !req.matches(new)
}

/// The smallest bump that is breaking for `v`: patch for 0.0.x, minor for 0.x, major otherwise.
pub fn breaking_level(v: &Version) -> Level {
    match (v.major, v.minor) {
        (0, 0) => Level::Patch,
        (0, _) => Level::Minor,
        _ => Level::Major,
    }
}

/// Why a crate is in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Asked for in the calendar.
    Requested(Level),
    /// A dependency's new version falls outside this crate's requirement.
    RequirementBroken {
        /// The dependency.
        dependency: String,
        /// This crate's requirement on it.
        req: String,
        /// The dependency's new version.
        new: Version,
        /// The dependency is part of this crate's public API, so the bump is breaking.
        public: bool,
    },
    /// It shares `[workspace.package].version` with a crate that releases.
    SharedVersion,
    /// `--apply` carried it out already (`[released]`).
    Released,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Requested(level) => write!(f, "requested ({level})"),
            Reason::RequirementBroken {
                dependency,
                req,
                new,
                public,
            } => {
                write!(
                    f,
                    "requirement {req} on {dependency} no longer matches {new}"
                )?;
                if *public {
                    write!(f, "; exposes {dependency} publicly")?;
                }
                Ok(())
            }
            Reason::SharedVersion => f.write_str("shares the workspace version"),
            Reason::Released => f.write_str("released"),
        }
    }
}

/// One crate's release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Index into the workspace's crates.
    pub krate: usize,
    /// The version it moves from.
    pub from: Version,
    /// The version it moves to.
    pub to: Version,
    /// The bump applied.
    pub level: Level,
    /// Every reason it must release, requests first.
    pub reasons: Vec<Reason>,
    /// Already carried out: recorded in `[released]`, fixed to its slot.
    pub done: bool,
}

/// The recorded releases, checked against the manifests: crate index →
/// (from, to, week).
fn released(
    ws: &Workspace,
    cal: &Calendar,
) -> anyhow::Result<BTreeMap<usize, (Version, Version, usize)>> {
    let mut out = BTreeMap::new();
    for (name, r) in &cal.released {
        let Some(i) = ws.index(name) else {
            bail!("[released] names `{name}`, which is not a publishable member of this workspace");
        };
        let parse = |v: &str, what: &str| -> anyhow::Result<Version> {
            v.parse()
                .map_err(|e| anyhow::anyhow!("[released] {name}: {what} `{v}`: {e}"))
        };
        let (from, to) = (parse(&r.from, "from")?, parse(&r.version, "version")?);
        if ws.crates[i].version != to {
            bail!(
                "[released] records {name} {to} (week {}), but its manifest says {}; re-run --apply --week {} or correct [released]",
                r.week,
                ws.crates[i].version,
                r.week
            );
        }
        out.insert(i, (from, to, r.week));
    }
    Ok(out)
}

/// Applies the calendar's requests and propagates them to dependents; crates
/// sharing the workspace version release together at the highest level any of
/// them needs. Returns the releases (recorded ones included, `done`) by crate.
pub fn propagate(ws: &Workspace, cal: &Calendar) -> anyhow::Result<BTreeMap<usize, Release>> {
    for (dependent, deps) in &cal.public {
        for name in std::iter::once(dependent).chain(deps) {
            if ws.index(name).is_none() {
                bail!(
                    "[public] names `{name}`, which is not a publishable member of this workspace"
                );
            }
        }
    }
    let done = released(ws, cal)?;
    let mut seeds: BTreeMap<usize, (Level, Vec<Reason>)> = BTreeMap::new();
    for (name, &level) in &cal.requests {
        let Some(i) = ws.index(name) else {
            if let Some((_, why)) = ws.excluded.iter().find(|(n, _)| n == name) {
                bail!("`{name}` is requested but cannot be published: it {why}");
            }
            bail!("`{name}` is requested but is not a member of this workspace");
        };
        if !done.contains_key(&i) {
            seeds.insert(i, (level, vec![Reason::Requested(level)]));
        }
    }
    let group: Vec<usize> = ws
        .version_group()
        .filter(|i| !done.contains_key(i))
        .collect();
    loop {
        let releases = pass(ws, cal, &done, seeds.clone())?;
        let levels: Vec<Level> = group
            .iter()
            .filter_map(|i| releases.get(i))
            .map(|r| r.level)
            .collect();
        let Some(&top) = levels.iter().max() else {
            return Ok(releases);
        };
        if levels.len() == group.len() && levels.iter().all(|&l| l == top) {
            return Ok(releases);
        }
        for &i in &group {
            let seed = seeds.entry(i).or_insert((top, vec![Reason::SharedVersion]));
            seed.0 = top;
        }
    }
}

/// One propagation from the seeds, dependencies first.
fn pass(
    ws: &Workspace,
    cal: &Calendar,
    done: &BTreeMap<usize, (Version, Version, usize)>,
    mut pending: BTreeMap<usize, (Level, Vec<Reason>)>,
) -> anyhow::Result<BTreeMap<usize, Release>> {
    let graph = ws.graph();
    let order = toposort(&graph, None).map_err(|_| anyhow::anyhow!("dependency cycle"))?;
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ws.crates.len()];
    for (k, d) in ws.deps.iter().enumerate() {
        dependents[d.dependency].push(k);
    }
    let mut releases = BTreeMap::new();
    // Dependencies first: every crate's level is final before its dependents look at it.
    for node in order.into_iter().rev() {
        let i = graph[node];
        let krate = &ws.crates[i];
        // A recorded release broke exactly the requirements that --apply raised:
        // those that no longer admit the version it came from.
        let (from, to, level, reasons, recorded) = if let Some((from, to, _)) = done.get(&i) {
            (
                from.clone(),
                to.clone(),
                Level::Patch,
                vec![Reason::Released],
                true,
            )
        } else if let Some((level, reasons)) = pending.remove(&i) {
            let to =
                bump(&krate.version, level).map_err(|e| anyhow::anyhow!("{}: {e}", krate.name))?;
            (krate.version.clone(), to, level, reasons, false)
        } else {
            continue;
        };
        let breaking = is_breaking(&from, &to);
        for &k in &dependents[i] {
            let dep = &ws.deps[k];
            let broken = if recorded {
                !dep.req.matches(&from)
            } else {
                !dep.req.matches(&to)
            };
            if !broken || done.contains_key(&dep.dependent) {
                continue;
            }
            let dependent = &ws.crates[dep.dependent];
            let public = breaking && (dep.public || cal.is_public(&dependent.name, &krate.name));
            let need = if public {
                breaking_level(&dependent.version)
            } else {
                Level::Patch
            };
            let reason = Reason::RequirementBroken {
                dependency: krate.name.clone(),
                req: dep.req.to_string(),
                new: to.clone(),
                public,
            };
            let entry = pending.entry(dep.dependent).or_insert((need, Vec::new()));
            entry.0 = entry.0.max(need);
            entry.1.push(reason);
        }
        releases.insert(
            i,
            Release {
                krate: i,
                from,
                to,
                level,
                reasons,
                done: recorded,
            },
        );
    }
    Ok(releases)
}

#[cfg(test)]
mod tests {
    use super::super::workspace::tests::synthetic;
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn bumps_follow_semver() {
        assert_eq!(bump(&v("0.16.0"), Level::Patch).unwrap(), v("0.16.1"));
        assert_eq!(bump(&v("0.7.4"), Level::Minor).unwrap(), v("0.8.0"));
        assert_eq!(bump(&v("1.2.3"), Level::Major).unwrap(), v("2.0.0"));
        assert_eq!(bump(&v("1.0.0-rc.1"), Level::Patch).unwrap(), v("1.0.0"));
        assert_eq!(bump(&v("1.0.0-rc.1"), Level::Minor).unwrap(), v("1.1.0"));
        let err = bump(&v("1.18446744073709551615.0"), Level::Minor).unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
    }

    #[test]
    fn breaking_follows_cargo() {
        assert!(!is_breaking(&v("0.16.0"), &v("0.16.1")));
        assert!(is_breaking(&v("0.7.4"), &v("0.8.0")));
        assert!(is_breaking(&v("0.0.3"), &v("0.0.4")));
        assert!(!is_breaking(&v("1.2.3"), &v("1.3.0")));
        assert!(is_breaking(&v("1.2.3"), &v("2.0.0")));
        assert_eq!(breaking_level(&v("0.0.3")), Level::Patch);
        assert_eq!(breaking_level(&v("0.3.0")), Level::Minor);
        assert_eq!(breaking_level(&v("3.0.0")), Level::Major);
    }

    fn cal(requests: &str, public: &str) -> Calendar {
        Calendar::parse(&format!(
            "[calendar]\nstart = \"2026-12-07\"\n[requests]\n{requests}\n[public]\n{public}\n"
        ))
        .unwrap()
    }

    #[test]
    fn breaking_bumps_propagate_as_patch_or_breaking_when_public() {
        let ws = synthetic(
            &[("core", "0.5.0"), ("mid", "0.2.1"), ("top", "1.4.0")],
            &[("mid", "core", "0.5"), ("top", "mid", "0.2")],
        );
        let private = propagate(&ws, &cal("core = \"minor\"", "")).unwrap();
        let mid = &private[&ws.index("mid").unwrap()];
        assert_eq!(mid.to, v("0.2.2"));
        assert_eq!(
            mid.reasons[0].to_string(),
            "requirement ^0.5 on core no longer matches 0.6.0"
        );
        assert!(
            !private.contains_key(&ws.index("top").unwrap()),
            "a patch of mid still matches ^0.2"
        );

        let public = propagate(
            &ws,
            &cal("core = \"minor\"", "mid = [\"core\"]\ntop = [\"mid\"]"),
        )
        .unwrap();
        assert_eq!(public[&ws.index("mid").unwrap()].to, v("0.3.0"));
        let top = &public[&ws.index("top").unwrap()];
        assert_eq!(top.to, v("2.0.0"));
        assert!(
            top.reasons[0]
                .to_string()
                .ends_with("; exposes mid publicly")
        );
    }

    #[test]
    fn unknown_requests_are_errors() {
        let ws = synthetic(&[("a", "1.0.0")], &[]);
        let err = propagate(&ws, &cal("b = \"patch\"", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`b` is requested but is not a member of this workspace"
        );
    }
}
