//! batuta: orchestration for the heijunka stack.
//!
//! batuta decides *where* work runs so that no backend spikes while another
//! idles. This crate holds the backend selector ([`select`]:
//! `BackendSelector`, `CostModel::Gregg5x`, calibration), the configuration
//! ([`config`]), the spillover routing policy ([`route`]: [`route_request`]),
//! admission and the serving state ([`admit`]: [`ServerState`]), start-up
//! wiring ([`startup`]), and the KServe v2 HTTP server ([`http`]) behind the
//! `batuta serve` command.
//!
//! Architecture invariant: batuta decides backends and admits or refuses
//! requests; it never computes. Models run inside realizar's workers.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admit;
pub mod breaker;
pub mod config;
pub mod http;
pub mod route;
pub mod select;
pub mod startup;

pub use admit::ServerState;
pub use route::{InferenceRequest, route_request};
