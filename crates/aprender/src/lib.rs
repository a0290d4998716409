//! aprender: the models of the heijunka stack, computed with trueno.
//!
//! Today this is a multi-layer perceptron ([`Mlp`]: dense layers, ReLU between
//! them, softmax at the end) that predicts on a batch on any trueno backend and
//! round-trips through a `.safetensors` file whose metadata records the
//! architecture and format version ([`Mlp::save`], [`Mlp::load`]).
//!
//! ```
//! use aprender::Mlp;
//! use trueno::Backend;
//! let mlp = Mlp::random(&[4, 8, 3], 42).unwrap();
//! let probs = mlp.predict(Backend::Simd, &[0.1, 0.2, 0.3, 0.4], 1).unwrap();
//! assert_eq!(probs.len(), 3);
//! assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```
//!
//! Architecture invariant: aprender knows nothing of queues, servers or backend
//! choice; it computes on the backend its caller names.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod format;
mod gpu;
mod mlp;

pub use error::{AprenderError, FileProblem};
pub use format::FORMAT_VERSION;
pub use gpu::GpuMlp;
pub use mlp::{Dense, Mlp};
