//! The GPU backend: wgpu compute shaders (WGSL in the top-level `shaders/`).
//!
//! [`GpuContext`] owns one device and queue, a cache of compiled pipelines and a
//! pool of buffers. Data lives on the device as [`GpuTensor`]s: upload once,
//! chain operations without leaving the device, download once. Host-slice
//! helpers ([`GpuContext::run_host`]) time each phase separately
//! ([`Timings`]: upload, compute, download) — the numbers batuta's cost model
//! calibrates from, since on a discrete GPU the transfers often dominate.
//!
//! A software adapter (Mesa's lavapipe, `DeviceType::Cpu`) is used only when
//! asked for ([`GpuOptions::allow_software`], or `TRUENO_ALLOW_SOFTWARE_GPU=1`
//! for the shared context) and is reported as such: it is for tests, not speed.
//!
//! ```no_run
//! use trueno::gpu::{GpuContext, GpuOptions};
//! let ctx = GpuContext::new(GpuOptions::from_env()).unwrap();
//! let a = ctx.upload(&[1.0, 2.0, 3.0]).unwrap();
//! let b = ctx.upload(&[4.0, 5.0, 6.0]).unwrap();
//! let c = ctx.add(&a, &b).unwrap();
//! assert_eq!(ctx.download(&c).unwrap(), vec![5.0, 7.0, 9.0]);
//! ```

mod context;
mod kernels;
mod pool;
mod seq;

use std::time::Duration;

pub use context::{GpuContext, GpuOptions};
pub use kernels::MatmulKernel;
pub use pool::GpuTensor;
pub use seq::{Activation, GpuSpans};

/// What can go wrong on the GPU. Every variant leaves the caller free to fall
/// back to a CPU backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// No adapter was found at all.
    #[error("no GPU adapter found (is a Vulkan driver installed?)")]
    NoAdapter,
    /// Only a software adapter exists, and software was not allowed.
    #[error(
        "only a software GPU adapter ({0}) is present; set TRUENO_ALLOW_SOFTWARE_GPU=1 to use it"
    )]
    SoftwareOnly(String),
    /// The adapter refused to open a device.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// An allocation failed.
    #[error("GPU out of memory allocating {bytes} bytes")]
    OutOfMemory {
        /// The size asked for.
        bytes: u64,
    },
    /// The device was lost (driver reset, GPU removed); the context is unusable.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A shape exceeds what one dispatch or buffer can hold.
    #[error("{0} is too large for this GPU")]
    TooLarge(String),
    /// wgpu reported an error it should not have (a bug in trueno).
    #[error("GPU internal error: {0}")]
    Internal(String),
}

/// Wall-clock time of each phase of a host-to-host GPU operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Host → device copies, until the data is on the device.
    pub upload: Duration,
    /// Kernel dispatches, from submission until the device is idle.
    pub compute: Duration,
    /// Device → host copies, until the data is in host memory.
    pub download: Duration,
}

impl Timings {
    /// All three phases.
    pub fn total(&self) -> Duration {
        self.upload + self.compute + self.download
    }
}
