//! The compute backends a kernel can run on.

use std::fmt;
use std::str::FromStr;

/// Where a kernel runs.
///
/// ```
/// use trueno::Backend;
/// assert_eq!("simd".parse::<Backend>().unwrap(), Backend::Simd);
/// assert_eq!(Backend::Gpu.to_string(), "gpu");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Backend {
    /// Portable one-element-at-a-time reference code; always available.
    Scalar,
    /// Vector instructions picked at run time (AVX-512, AVX2+FMA or NEON);
    /// falls back to the scalar code on CPUs without them, so it is always
    /// available.
    Simd,
    /// A GPU through wgpu compute shaders.
    Gpu,
}

impl Backend {
    /// Every backend, in a fixed order.
    pub const ALL: [Backend; 3] = [Backend::Scalar, Backend::Simd, Backend::Gpu];

    /// The lowercase name used in configuration files, headers and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Simd => "simd",
            Backend::Gpu => "gpu",
        }
    }

    /// Whether kernels can run on this backend here. The CPU backends always
    /// can; the GPU backend can when the shared [`GpuContext`](crate::gpu::GpuContext)
    /// opens (a hardware adapter, or a software one when
    /// `TRUENO_ALLOW_SOFTWARE_GPU=1`). The first call for the GPU opens it.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar | Backend::Simd => true,
            Backend::Gpu => crate::gpu::GpuContext::shared().is_ok(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a backend name that is not `scalar`, `simd` or `gpu`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend `{0}`: expected one of scalar, simd, gpu")]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBackend(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        let err = "tpu".parse::<Backend>().unwrap_err();
        assert!(err.to_string().contains("`tpu`"));
    }
}
