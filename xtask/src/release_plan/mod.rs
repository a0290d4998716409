//! `cargo xtask release-plan`: read a workspace, decide what must be released at
//! which version, and level the releases over weeks.
//!
//! The pipeline is plan-first: [`workspace::load`] reads the crate graph,
//! [`calendar::Calendar`] the requests and slots, [`bump::propagate`] decides
//! versions, [`schedule::schedule`] assigns weeks, and [`render`] prints. Every
//! step is a pure function of its inputs, so the same input gives the same plan
//! byte for byte.

pub mod bump;
pub mod calendar;
pub mod render;
pub mod schedule;
pub mod workspace;

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `cargo xtask release-plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workspace's Cargo.toml (default: this workspace).
    #[arg(long)]
    manifest_path: Option<PathBuf>,
    /// The calendar file (default: release-calendar.toml at the workspace root).
    #[arg(long)]
    calendar: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = render::Format::Table)]
    format: render::Format,
}

/// Runs the command: load, plan, print.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let manifest = match &args.manifest_path {
        Some(p) => p.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"),
    };
    let ws = workspace::load(&manifest)?;
    let cal_path = args
        .calendar
        .clone()
        .unwrap_or_else(|| ws.root.join("release-calendar.toml"));
    let cal = calendar::Calendar::load(&cal_path)?;
    let plan =
        plan(&ws, &cal).with_context(|| format!("planning releases for {}", manifest.display()))?;
    print!("{}", render::render(&plan, &ws, args.format));
    Ok(())
}

/// The whole plan for a loaded workspace and calendar.
pub fn plan(ws: &workspace::Workspace, cal: &calendar::Calendar) -> anyhow::Result<schedule::Plan> {
    let releases = bump::propagate(ws, cal)?;
    schedule::schedule(ws, &releases, cal)
}
