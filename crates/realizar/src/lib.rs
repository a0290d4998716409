//! realizar: the inference engine of the heijunka stack.
//!
//! An [`Engine`] owns the loaded models (any [`Model`]: MLPs, sentence
//! encoders; files and folders through [`registry`]) and, for each configured
//! backend, a pool of worker threads fed by a **bounded** queue
//! ([`BackendQueue`]). [`Engine::submit`] reserves a queue slot atomically and
//! returns at once: either a [`Pending`] result (await it, or
//! [`Pending::wait`] from sync code) or [`EngineError::QueueFull`]. It never
//! blocks, so callers can send the request elsewhere — which is what batuta's
//! spillover routing does.
//!
//! ```
//! use std::sync::Arc;
//! use realizar::{BackendConfig, Engine, InferenceInput};
//! use trueno::Backend;
//!
//! let engine = Engine::new(&[BackendConfig::new(Backend::Simd, 4, 1)]).unwrap();
//! engine.insert_model("demo", Arc::new(aprender::Mlp::random(&[2, 3], 1).unwrap()));
//! let out = engine
//!     .submit(Backend::Simd, InferenceInput::rows("demo", 1, vec![0.5, -0.5]))
//!     .unwrap()
//!     .wait()
//!     .unwrap();
//! assert_eq!(out.cols, 3);
//! ```
//!
//! Architecture invariant: realizar never chooses a backend; it runs requests
//! on the backend it is given and reports exactly how full each queue is.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod error;
pub mod model;
mod queue;
pub mod registry;
mod worker;

pub use engine::{BackendConfig, Engine, InferenceInput, InferenceOutput, Pending};
pub use error::EngineError;
pub use model::{Answer, InputKind, Model, Payload, Signature};
pub use queue::{BackendQueue, QueueLoad};
