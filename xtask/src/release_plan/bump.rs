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
pub fn bump(v: &Version, level: Level) -> Version {
    let mut n = Version::new(v.major, v.minor, v.patch);
    if !v.pre.is_empty() && level == Level::Patch {
        return n;
    }
    match level {
        Level::Patch => n.patch += 1,
        Level::Minor => (n.minor, n.patch) = (n.minor + 1, 0),
        Level::Major => (n.major, n.minor, n.patch) = (n.major + 1, 0, 0),
    }
    n.pre = Prerelease::EMPTY;
    n
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
        }
    }
}

/// One crate's release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Index into the workspace's crates.
    pub krate: usize,
    /// The version it moves to.
    pub to: Version,
    /// The bump applied.
    pub level: Level,
    /// Every reason it must release, requests first.
    pub reasons: Vec<Reason>,
}

/// Applies the calendar's requests and propagates them to dependents.
/// Returns releases keyed by crate index.
pub fn propagate(ws: &Workspace, cal: &Calendar) -> anyhow::Result<BTreeMap<usize, Release>> {
    let mut pending: BTreeMap<usize, (Level, Vec<Reason>)> = BTreeMap::new();
    for (name, &level) in &cal.requests {
        let Some(i) = ws.index(name) else {
            if ws.excluded.iter().any(|(n, _)| n == name) {
                bail!("`{name}` is requested but not publishable (publish = false)");
            }
            bail!("`{name}` is requested but is not a member of this workspace");
        };
        pending.insert(i, (level, vec![Reason::Requested(level)]));
    }
    let graph = ws.graph();
    let order = toposort(&graph, None).map_err(|_| anyhow::anyhow!("dependency cycle"))?;
    let mut releases = BTreeMap::new();
    // Dependencies first: every crate's level is final before its dependents look at it.
    for node in order.into_iter().rev() {
        let i = graph[node];
        let Some((level, reasons)) = pending.remove(&i) else {
            continue;
        };
        let krate = &ws.crates[i];
        let to = bump(&krate.version, level);
        let breaking = is_breaking(&krate.version, &to);
        for dep in ws.deps.iter().filter(|d| d.dependency == i) {
            if dep.req.matches(&to) {
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
                to,
                level,
                reasons,
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
        assert_eq!(bump(&v("0.16.0"), Level::Patch), v("0.16.1"));
        assert_eq!(bump(&v("0.7.4"), Level::Minor), v("0.8.0"));
        assert_eq!(bump(&v("1.2.3"), Level::Major), v("2.0.0"));
        assert_eq!(bump(&v("1.0.0-rc.1"), Level::Patch), v("1.0.0"));
        assert_eq!(bump(&v("1.0.0-rc.1"), Level::Minor), v("1.1.0"));
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
