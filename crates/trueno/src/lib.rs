//! trueno: the compute kernels every model in the stack runs on.
//!
//! Three backends sit behind one API ([`Backend`]): a portable scalar reference,
//! a SIMD path chosen once at run time from the CPU's features, and a GPU path
//! through wgpu compute shaders ([`gpu`]). Every operation can also be *described* without running it ([`Op`]):
//! its FLOP count and the bytes it moves are what batuta's cost model weighs.
//!
//! The checked entry points live in [`ops`]; they validate shapes, then dispatch.
//!
//! ```
//! use trueno::{Backend, ops};
//! let a = [1.0, 2.0, 3.0];
//! let b = [4.0, 5.0, 6.0];
//! let mut out = [0.0; 3];
//! ops::add(Backend::Simd, &a, &b, &mut out).unwrap();
//! assert_eq!(out, [5.0, 7.0, 9.0]);
//! ```
//!
//! Architecture invariant: trueno knows nothing of models, queues, HTTP or
//! scheduling. It computes, and it says what computing will cost.
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod backend;
mod error;
pub mod gpu;
mod op;
pub mod ops;
pub mod scalar;
mod seq;
pub mod simd;

pub use backend::Backend;
pub use error::TruenoError;
pub use op::{Op, OpKind};
pub use seq::{Attention, SegmentPool};
pub use simd::gemm::{MatMut, MatRef};
