//! xtask's library: the workspace tooling behind `cargo xtask`, kept in a
//! library so tests and benches call it directly.
//!
//! - [`release_plan`]: a leveled, week-by-week release calendar for any Cargo
//!   workspace.
#![forbid(unsafe_code)]

pub mod release_plan;
