//! `cargo xtask release-plan`: read a workspace, decide what must be released at
//! which version, and level the releases over calendar slots.
//!
//! The pipeline is plan-first: [`workspace::load`] reads the crate graph,
//! [`calendar::Calendar`] the slots and requests ([`git`] can suggest more),
//! [`bump::propagate`] decides versions, [`schedule::schedule`] assigns slots,
//! and [`render`] prints. Every step is a pure function of its inputs, so the
//! same input gives the same plan byte for byte. Side effects — rewriting the
//! calendar ([`schedule_file`]) or the manifests ([`apply`]) — come last, each
//! all-or-nothing.

pub mod apply;
pub mod bump;
pub mod calendar;
pub mod deps;
pub mod gantt;
pub mod git;
pub mod render;
pub mod schedule;
pub mod schedule_file;
pub mod workspace;

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::NaiveDate;

use bump::Level;
use calendar::Calendar;

/// Writes to stdout, returning the error (a closed pipe, as in
/// `cargo xtask release-plan | head`, ends the command quietly) instead of
/// panicking as `print!` does.
pub fn out(text: impl std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write;
    write!(std::io::stdout().lock(), "{text}")
}

/// Arguments of `cargo xtask release-plan`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// The workspace's Cargo.toml (default: this workspace).
    #[arg(long)]
    pub manifest_path: Option<PathBuf>,
    /// The calendar file (default: release-calendar.toml at the workspace root, if present).
    #[arg(long)]
    pub calendar: Option<PathBuf>,
    /// Date of the first slot (YYYY-MM-DD), overriding the calendar's.
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Releases per slot, overriding the calendar's.
    #[arg(long)]
    pub capacity: Option<usize>,
    /// Slots between a dependency's release and its dependent's, overriding the calendar's.
    #[arg(long)]
    pub lag: Option<usize>,
    /// Request a bump: CRATE=patch|minor|major (repeatable).
    #[arg(long, value_parser = parse_bump)]
    pub bump: Vec<(String, Level)>,
    /// Request this bump for every publishable crate.
    #[arg(long, value_enum)]
    pub all: Option<Level>,
    /// Add bumps suggested by conventional commits since each crate's last tag.
    #[arg(long)]
    pub from_git: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = render::Format::Table)]
    pub format: render::Format,
    /// Also draw the plan as an SVG Gantt chart to this file.
    #[arg(long)]
    pub gantt: Option<PathBuf>,
    /// Exit non-zero if the calendar's committed [schedule] differs from the plan.
    #[arg(long, conflicts_with_all = ["write", "apply"])]
    pub check: bool,
    /// Write the plan into the calendar's [schedule], keeping its comments and layout.
    #[arg(long)]
    pub write: bool,
    /// Set the planned versions and raise dependents' requirements in the manifests.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: only the releases planned for this week.
    #[arg(long, requires = "apply")]
    pub week: Option<usize>,
    /// With --apply or --write: print the diff, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print to stderr how long `cargo metadata` and the planner itself took.
    #[arg(long)]
    pub timings: bool,
}

fn parse_bump(s: &str) -> Result<(String, Level), String> {
    let (name, level) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not CRATE=LEVEL"))?;
    let level = <Level as clap::ValueEnum>::from_str(level, false)
        .map_err(|_| format!("`{level}` is not patch, minor or major"))?;
    Ok((name.to_owned(), level))
}

/// `path`, or this workspace's root manifest.
pub fn default_manifest(path: Option<&std::path::Path>) -> PathBuf {
    path.map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"),
        ToOwned::to_owned,
    )
}

/// Runs the command: load, plan, then print or act.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let manifest = default_manifest(args.manifest_path.as_deref());
    let started = std::time::Instant::now();
    let json = workspace::metadata_output(&manifest)
        .with_context(|| format!("reading workspace metadata of {}", manifest.display()))?;
    let metadata_time = started.elapsed();
    let ws = workspace::from_metadata(workspace::Metadata::parse(&json)?)?;
    let graph_time = started.elapsed() - metadata_time;
    let cal_path = args
        .calendar
        .clone()
        .unwrap_or_else(|| ws.root.join("release-calendar.toml"));
    let have_file = args.calendar.is_some() || cal_path.exists();
    if args.check && !have_file {
        bail!(
            "--check compares the plan with the [schedule] of {}, which does not exist; create it with `cargo xtask release-plan --start YYYY-MM-DD --write`, then commit it",
            cal_path.display()
        );
    }
    let mut cal = if have_file {
        Calendar::load(&cal_path)?
    } else if let Some(start) = args.start {
        Calendar::new(start)
    } else {
        bail!(
            "no calendar at {}: pass --calendar FILE or --start DATE (`--start DATE --write` creates the file)",
            cal_path.display()
        );
    };
    if let Some(start) = args.start {
        cal.start = start;
    }
    if let Some(capacity) = args.capacity {
        if capacity == 0 {
            bail!("--capacity must be at least 1");
        }
        cal.capacity = capacity;
    }
    if let Some(lag) = args.lag {
        if lag > schedule::HORIZON {
            bail!(
                "--lag {lag} is beyond the planning horizon of {} slots",
                schedule::HORIZON
            );
        }
        cal.lag = lag;
    }
    let mut extra: Vec<(String, Level)> = Vec::new();
    if args.from_git {
        extra.extend(git::suggest(&ws)?);
    }
    if let Some(level) = args.all {
        extra.extend(ws.crates.iter().map(|c| (c.name.clone(), level)));
    }
    extra.extend(args.bump.iter().cloned());
    for (name, level) in extra {
        let entry = cal.requests.entry(name).or_insert(level);
        *entry = (*entry).max(level);
    }

    let plan_started = std::time::Instant::now();
    let plan =
        plan(&ws, &cal).with_context(|| format!("planning releases for {}", manifest.display()))?;
    let plan_time = plan_started.elapsed();
    let result = act(args, &ws, &cal, &cal_path, &plan);
    if args.timings {
        let total = started.elapsed();
        eprintln!(
            "timings: cargo metadata {:.3} s; planner {:.3} s (manifests and graph {:.3} s, plan {:.3} s, the rest {:.3} s)",
            metadata_time.as_secs_f64(),
            (total - metadata_time).as_secs_f64(),
            graph_time.as_secs_f64(),
            plan_time.as_secs_f64(),
            (total - metadata_time - graph_time - plan_time).as_secs_f64(),
        );
    }
    result
}

/// Prints the plan or acts on it, as the arguments ask.
fn act(
    args: &Args,
    ws: &workspace::Workspace,
    cal: &Calendar,
    cal_path: &std::path::Path,
    plan: &schedule::Plan,
) -> anyhow::Result<()> {
    if args.check {
        return schedule_file::check(cal, plan, ws, cal_path);
    }
    if let Some(path) = &args.gantt {
        std::fs::write(path, gantt::svg(plan, ws))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.write {
        schedule_file::write(cal_path, cal, plan, ws, args.dry_run)?;
    }
    if args.apply {
        let calendar = cal_path.exists().then_some(cal_path);
        apply::apply(ws, plan, args.week, args.dry_run, calendar)?;
    }
    if !args.write && !args.apply {
        out(render::render(plan, ws, args.format))?;
    }
    Ok(())
}

/// The whole plan for a loaded workspace and calendar.
pub fn plan(ws: &workspace::Workspace, cal: &Calendar) -> anyhow::Result<schedule::Plan> {
    let releases = bump::propagate(ws, cal)?;
    schedule::schedule(ws, &releases, cal)
}
