//! `--from-git`: bump levels suggested by Conventional Commits.
//!
//! For each crate, the commits since its last tag (`NAME-vVERSION`,
//! `NAME@VERSION` or `vVERSION`, the first that exists) that touch its
//! directory are classified: a `!` after the type or a `BREAKING CHANGE:`
//! footer is breaking (cargo's breaking bump for the version: patch for 0.0.x,
//! minor for 0.x, major otherwise); `feat` is a minor bump from 1.0 on and a
//! patch before; `fix` and `perf` are patches; other types suggest nothing.

use std::path::Path;

use anyhow::{Context, bail};

use super::bump::{Level, breaking_level};
use super::workspace::Workspace;
use crate::process;

fn git(root: &Path, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let out = process::output(process::git(root).args(args))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// The level one commit message suggests for a crate at `version`.
pub fn classify(message: &str, version: &semver::Version) -> Option<Level> {
    let subject = message.lines().next().unwrap_or("");
    let (head, _) = subject.split_once(':')?;
    let bang = head.ends_with('!');
    let kind = head
        .trim_end_matches('!')
        .split('(')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let breaking_footer = message
        .lines()
        .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    if bang || breaking_footer {
        return Some(breaking_level(version));
    }
    match kind.as_str() {
        "feat" if version.major >= 1 => Some(Level::Minor),
        "feat" | "fix" | "perf" => Some(Level::Patch),
        _ => None,
    }
}

/// Suggested bumps for every crate with qualifying commits.
pub fn suggest(ws: &Workspace) -> anyhow::Result<Vec<(String, Level)>> {
    let (ok, _) = git(&ws.root, &["rev-parse", "--git-dir"])?;
    if !ok {
        bail!(
            "--from-git: {} is not in a git repository",
            ws.root.display()
        );
    }
    let mut out = Vec::new();
    for c in &ws.crates {
        let dir = c.manifest.parent().unwrap_or(&ws.root);
        let tags = [
            format!("{}-v{}", c.name, c.version),
            format!("{}@{}", c.name, c.version),
            format!("v{}", c.version),
        ];
        let mut since = None;
        for tag in &tags {
            if git(
                &ws.root,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/tags/{tag}"),
                ],
            )?
            .0
            {
                since = Some(format!("{tag}..HEAD"));
                break;
            }
        }
        let range = since.unwrap_or_else(|| "HEAD".to_owned());
        let dir = dir.to_str().context("crate directory is not UTF-8")?;
        let (ok, log) = git(&ws.root, &["log", "--format=%B%x1e", &range, "--", dir])?;
        if !ok {
            bail!(
                "--from-git: `git log {range}` failed in {}",
                ws.root.display()
            );
        }
        let level = log
            .split('\u{1e}')
            .filter_map(|m| classify(m.trim(), &c.version))
            .max();
        if let Some(level) = level {
            out.push((c.name.clone(), level));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_commits_map_to_cargo_bumps() {
        let v0: semver::Version = "0.7.4".parse().unwrap();
        let v1: semver::Version = "1.2.0".parse().unwrap();
        assert_eq!(classify("fix(queue): off by one", &v0), Some(Level::Patch));
        assert_eq!(classify("feat: spillover", &v0), Some(Level::Patch));
        assert_eq!(classify("feat: spillover", &v1), Some(Level::Minor));
        assert_eq!(classify("feat!: new API", &v0), Some(Level::Minor));
        assert_eq!(
            classify("refactor: x\n\nBREAKING CHANGE: gone", &v1),
            Some(Level::Major)
        );
        assert_eq!(classify("docs: typo", &v1), None);
        assert_eq!(classify("Merge branch 'x'", &v1), None);
    }
}
