//! xtask's library: the workspace tooling behind `cargo xtask`, kept in a
//! library so tests and benches call it directly.
//!
//! - [`release_plan`]: a leveled, week-by-week release calendar for any Cargo
//!   workspace.
//! - [`release`]: carrying one week of that calendar out (publish, tag).
//! - [`models`]: fetching the real model files into a cache outside the repository.
#![forbid(unsafe_code)]

pub mod models;
pub mod process;
pub mod release;
pub mod release_plan;
