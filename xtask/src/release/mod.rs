//! `cargo xtask release --week N`: carry one week of the release calendar out.
//!
//! A dry run unless `--execute`. It checks that the working tree is clean and
//! that the calendar's `[schedule]` is the plan; applies the week (versions,
//! requirements, `Cargo.lock`, `[released]`; see
//! [`crate::release_plan::apply`]) and commits that, unless an earlier run
//! did; then publishes the week's crates in dependency order, waiting until
//! each version is in the registry's index before its dependents go, keeping
//! to crates.io's rate limits ([`rate`]), and tags each release
//! `NAME-vVERSION`. A rerun after a failure skips what the registry already
//! has and tags that are there, so it continues where the last one stopped.

pub mod rate;
pub mod registry;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process;
use crate::release_plan::{self, apply, calendar::Calendar, schedule_file, workspace};
use rate::Limits;
use registry::Registry;

/// Arguments of `cargo xtask release`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The calendar week to carry out.
    #[arg(long)]
    pub week: usize,
    /// Publish to this registry (from cargo's configuration) instead of crates.io.
    #[arg(long)]
    pub registry: Option<String>,
    /// Do it; without this, print what would be done and change nothing.
    #[arg(long)]
    pub execute: bool,
    /// Keep to crates.io's rate limits (`crates-io`, the default there) or none.
    #[arg(long, value_enum)]
    pub rate_limit: Option<RateLimit>,
    /// How long to wait for a published version to appear in the index.
    #[arg(long, default_value_t = 300)]
    pub index_timeout_secs: u64,
    /// The workspace's Cargo.toml (default: this workspace).
    #[arg(long)]
    pub manifest_path: Option<PathBuf>,
    /// The calendar file (default: release-calendar.toml at the workspace root).
    #[arg(long)]
    pub calendar: Option<PathBuf>,
}

/// Which publish rate limits to keep to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RateLimit {
    /// crates.io's: 30 new versions then 1 a minute, 5 new crates then 1 per 10 minutes.
    CratesIo,
    /// None (a private registry).
    None,
}

/// One crate to publish.
struct Step {
    name: String,
    version: String,
}

impl Step {
    fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
    fn tag(&self) -> String {
        format!("{}-v{}", self.name, self.version)
    }
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let manifest = release_plan::default_manifest(args.manifest_path.as_deref());
    let ws = workspace::load(&manifest)?;
    let cal_path = args
        .calendar
        .clone()
        .unwrap_or_else(|| ws.root.join("release-calendar.toml"));
    if !cal_path.exists() {
        bail!(
            "release carries out the calendar {}, which does not exist; create it with `cargo xtask release-plan --start YYYY-MM-DD --write`",
            cal_path.display()
        );
    }
    let cal = Calendar::load(&cal_path)?;
    let plan = release_plan::plan(&ws, &cal)?;
    match schedule_file::differences(&cal, &plan, &ws) {
        None => bail!(
            "{} has no [schedule]; run `cargo xtask release-plan --write` and commit it",
            cal_path.display()
        ),
        Some(d) if !d.is_empty() => bail!(
            "the calendar is not current (run `cargo xtask release-plan --write` and commit):\n  {}",
            d.join("\n  ")
        ),
        Some(_) => {}
    }
    require_clean(&ws.root)?;
    let week = plan
        .weeks
        .iter()
        .find(|w| w.week == args.week)
        .with_context(|| format!("the calendar has no releases in week {}", args.week))?;
    let registry = Registry::new(args.registry.clone(), &ws.root)?;
    for r in &week.releases {
        let c = &ws.crates[r.krate];
        if let Some(allowed) = &c.publish
            && !allowed.iter().any(|a| a == registry.key())
        {
            bail!(
                "{} may only be published to {}, not `{}`",
                c.name,
                allowed.join(", "),
                registry.key()
            );
        }
    }
    let steps: Vec<Step> = week
        .releases
        .iter()
        .map(|r| Step {
            name: ws.crates[r.krate].name.clone(),
            version: r.to.to_string(),
        })
        .collect();
    let to_apply = week.releases.iter().any(|r| !r.done);
    let limit = args.rate_limit.unwrap_or(if registry.is_crates_io() {
        RateLimit::CratesIo
    } else {
        RateLimit::None
    });
    let mut limits = match limit {
        RateLimit::CratesIo => Limits::crates_io(Instant::now()),
        RateLimit::None => Limits::none(),
    };

    if !args.execute {
        return dry_run(&registry, &steps, to_apply, args.week, &limits);
    }
    if to_apply {
        apply::apply(&ws, &plan, Some(args.week), false, Some(&cal_path))?;
        let names: Vec<String> = steps
            .iter()
            .map(|s| format!("{} {}", s.name, s.version))
            .collect();
        commit(
            &ws.root,
            &format!("release: week {} ({})", args.week, names.join(", ")),
        )?;
    }
    // The manifests must now say what the week publishes.
    let ws = workspace::load(&manifest)?;
    for s in &steps {
        let have = ws.index(&s.name).map(|i| ws.crates[i].version.to_string());
        if have.as_deref() != Some(s.version.as_str()) {
            bail!(
                "{} should be at {} for week {}, but its manifest says {}",
                s.name,
                s.version,
                args.week,
                have.unwrap_or_else(|| "nothing".into())
            );
        }
    }
    publish_all(&ws.root, &registry, &steps, &mut limits, args)?;
    release_plan::out(format_args!(
        "week {} is released; push the commit and tags: git push --follow-tags\n",
        args.week
    ))?;
    Ok(())
}

fn publish_all(
    root: &Path,
    registry: &Registry,
    steps: &[Step],
    limits: &mut Limits,
    args: &Args,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut published = 0u32;
    // Which of the rest are new crates (their own rate limit), for the forecast.
    let mut new_crates = Vec::with_capacity(steps.len());
    for s in steps {
        new_crates.push(!registry.has(&s.name)?);
    }
    for (k, s) in steps.iter().enumerate() {
        if registry.has(&s.spec())? {
            progress(
                k + 1,
                steps.len(),
                &format!("{} is in {} already: skipped", s.spec(), registry.key()),
                None,
            )?;
        } else {
            let new_crate = new_crates[k];
            let wait = limits.wait(Instant::now(), new_crate);
            if !wait.is_zero() {
                progress(
                    k,
                    steps.len(),
                    &format!("rate limit: waiting {} before {}", human(wait), s.spec()),
                    None,
                )?;
                std::thread::sleep(wait);
            }
            registry.publish(root, &s.name).with_context(|| {
                format!("publishing {} (rerun to continue from here)", s.spec())
            })?;
            limits.take(Instant::now(), new_crate);
            registry.wait_for(&s.spec(), Duration::from_secs(args.index_timeout_secs))?;
            published += 1;
            let each = started.elapsed() / published;
            let rest = &new_crates[k + 1..];
            let left = (!rest.is_empty()).then(|| limits.forecast(Instant::now(), rest, each));
            progress(
                k + 1,
                steps.len(),
                &format!("published {} to {}", s.spec(), registry.key()),
                left,
            )?;
        }
        tag(root, s)?;
    }
    Ok(())
}

/// One progress line: a bar, the count, what happened, the time left.
fn progress(done: usize, total: usize, what: &str, left: Option<Duration>) -> anyhow::Result<()> {
    const WIDTH: usize = 20;
    let filled = WIDTH * done / total.max(1);
    let left = left.map_or(String::new(), |l| format!(" · about {} left", human(l)));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "[{}{}] {done}/{total} {what}{left}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )?;
    out.flush()?;
    Ok(())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn dry_run(
    registry: &Registry,
    steps: &[Step],
    to_apply: bool,
    week: usize,
    limits: &Limits,
) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    if to_apply {
        lines.push(format!(
            "would apply week {week} (versions, requirements, Cargo.lock, [released]) and commit it"
        ));
    }
    let mut kinds = Vec::new();
    for s in steps {
        if registry.has(&s.spec())? {
            lines.push(format!(
                "{} is in {} already: would skip it",
                s.spec(),
                registry.key()
            ));
        } else {
            let new_crate = !registry.has(&s.name)?;
            kinds.push(new_crate);
            let kind = if new_crate {
                "new crate"
            } else {
                "new version"
            };
            lines.push(format!(
                "would publish {} to {} ({kind}), wait for the index, tag {}",
                s.spec(),
                registry.key(),
                s.tag()
            ));
        }
    }
    let waits = limits.forecast(Instant::now(), &kinds, Duration::ZERO);
    if !waits.is_zero() {
        lines.push(format!("rate limits would add about {}", human(waits)));
    }
    lines.push("dry run: nothing changed; pass --execute to do it".to_owned());
    release_plan::out(lines.join("\n") + "\n")?;
    Ok(())
}

fn require_clean(root: &Path) -> anyhow::Result<()> {
    let status = process::checked(process::git(root).args(["status", "--porcelain"]))
        .context("release needs the workspace in a git repository")?;
    let status = String::from_utf8_lossy(&status);
    if !status.trim().is_empty() {
        bail!(
            "the working tree has uncommitted changes; commit or stash them first:\n{}",
            status.trim_end()
        );
    }
    Ok(())
}

fn commit(root: &Path, message: &str) -> anyhow::Result<()> {
    process::checked(process::git(root).args(["add", "--update"]))?;
    process::checked(process::git(root).args(["commit", "--quiet", "--message", message]))?;
    Ok(())
}

fn tag(root: &Path, s: &Step) -> anyhow::Result<()> {
    let exists = process::output(process::git(root).args([
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("refs/tags/{}", s.tag()),
    ]))?;
    if !exists.status.success() {
        process::checked(process::git(root).args([
            "tag",
            "--annotate",
            &s.tag(),
            "--message",
            &format!("{} {}", s.name, s.version),
        ]))?;
    }
    Ok(())
}
