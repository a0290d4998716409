//! A machine's measured cost profile, and estimates drawn from it.
//!
//! For each backend and op kind the profile holds measured (work, seconds)
//! points, work being the op's FLOP count. An estimate interpolates between
//! points log-log, scales linearly beyond them, and is bounded below the
//! roofline way: never faster than moving the op's bytes at the host's memory
//! bandwidth (CPU backends) or than one dispatch (GPU). GPU estimates add the
//! transfers of whatever is not resident on the device.
//!
//! ```toml
//! format_version = 1
//! machine = "x86_64, simd avx2+fma, no GPU"
//! host_bandwidth_gbs = 36.5
//!
//! [gpu]                      # absent without a hardware GPU
//! adapter = "NVIDIA H100 80GB HBM3"
//! dispatch_us = 80.0
//! h2d_gbs = 4.0
//! d2h_gbs = 1.2
//!
//! [ops.simd.matmul]          # ops.<backend>.<kind>: work (FLOPs) and seconds, ascending
//! work = [2097152.0, 16777216.0]
//! seconds = [0.0001, 0.0008]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use trueno::{Backend, Op, OpKind};

/// The profile format version this build reads and writes.
pub const PROFILE_VERSION: u32 = 1;

/// GPU figures of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuProfile {
    /// The adapter measured.
    pub adapter: String,
    /// Dispatch plus wait for a trivial kernel, µs.
    pub dispatch_us: f64,
    /// Host → device bandwidth, GB/s.
    pub h2d_gbs: f64,
    /// Device → host bandwidth, GB/s.
    pub d2h_gbs: f64,
}

/// Measured times of one op kind on one backend.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curve {
    /// Work of each measurement (FLOPs), ascending.
    pub work: Vec<f64>,
    /// Seconds each took (GPU: on the device, without transfers).
    pub seconds: Vec<f64>,
}

/// A machine's cost profile (see the module doc for the file format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Must be [`PROFILE_VERSION`].
    pub format_version: u32,
    /// What was measured, for people.
    pub machine: String,
    /// Host memory bandwidth, GB/s.
    pub host_bandwidth_gbs: f64,
    /// GPU figures, if a hardware GPU was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuProfile>,
    /// `ops[backend][kind]`.
    #[serde(default)]
    pub ops: BTreeMap<String, BTreeMap<String, Curve>>,
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid profile.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column when known.
        message: String,
    },
}

impl Curve {
    /// Seconds for `work`: log-log interpolation inside the measured range,
    /// linear scaling outside it. `None` without measurements.
    pub fn seconds_for(&self, work: f64) -> Option<f64> {
        let (w, s) = (&self.work, &self.seconds);
        let n = w.len();
        if n == 0 {
            return None;
        }
        let work = work.max(1.0);
        if work <= w[0] {
            return Some(s[0] * work / w[0]);
        }
        if work >= w[n - 1] {
            return Some(s[n - 1] * work / w[n - 1]);
        }
        let i = w.partition_point(|&x| x < work);
        let (w0, w1, s0, s1) = (w[i - 1], w[i], s[i - 1], s[i]);
        let f = (work.ln() - w0.ln()) / (w1.ln() - w0.ln());
        Some((s0.ln() + f * (s1.ln() - s0.ln())).exp())
    }
}

/// An estimate split into its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Running the op.
    pub compute: Duration,
    /// Moving data the backend does not hold (GPU only).
    pub transfer: Duration,
}

impl Cost {
    /// Both parts.
    pub fn total(&self) -> Duration {
        self.compute.saturating_add(self.transfer)
    }
}

/// Seconds as a `Duration`; negative (or NaN) is zero, and a value past
/// `Duration::MAX` (a hostile or absurd profile) saturates instead of panicking.
pub(crate) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

/// `d × f`, saturating like [`secs`] (estimates from a profile can be absurd).
pub(crate) fn scale(d: Duration, f: f64) -> Duration {
    secs(d.as_secs_f64() * f)
}

impl Profile {
    /// The measured curve for a backend and kind, if any.
    pub fn curve(&self, backend: Backend, kind: OpKind) -> Option<&Curve> {
        self.ops.get(backend.name())?.get(kind.name())
    }

    /// Records a curve.
    pub fn set_curve(&mut self, backend: Backend, kind: OpKind, curve: Curve) {
        self.ops
            .entry(backend.name().to_owned())
            .or_default()
            .insert(kind.name().to_owned(), curve);
    }

    /// The estimated cost of `op` on `backend`; `None` when the profile has no
    /// measurements for it. `resident`: the GPU already holds inputs and keeps
    /// the output, so no transfers are counted.
    pub fn estimate(&self, backend: Backend, op: &Op, resident: bool) -> Option<Cost> {
        let work = op.flops() as f64;
        let measured = self.curve(backend, op.kind())?.seconds_for(work)?;
        let bytes = (op.bytes_read() + op.bytes_written()) as f64;
        match backend {
            Backend::Scalar | Backend::Simd => {
                let floor = bytes / (self.host_bandwidth_gbs * 1e9);
                Some(Cost {
                    compute: secs(measured.max(floor)),
                    transfer: Duration::ZERO,
                })
            }
            Backend::Gpu => {
                let gpu = self.gpu.as_ref()?;
                let compute = measured.max(gpu.dispatch_us * 1e-6);
                let transfer = if resident {
                    0.0
                } else {
                    op.bytes_read() as f64 / (gpu.h2d_gbs * 1e9)
                        + op.bytes_written() as f64 / (gpu.d2h_gbs * 1e9)
                };
                Some(Cost {
                    compute: secs(compute),
                    transfer: secs(transfer),
                })
            }
        }
    }

    /// Checks every figure is usable; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<(), ProfileError> {
        let bad = |message: String| {
            Err(ProfileError::Invalid {
                path: path.to_owned(),
                message,
            })
        };
        if self.format_version != PROFILE_VERSION {
            return bad(format!(
                "format_version {} is not supported (this build reads {PROFILE_VERSION}); run `batuta calibrate` again",
                self.format_version
            ));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.host_bandwidth_gbs) {
            return bad(format!(
                "host_bandwidth_gbs must be a positive number, got {}",
                self.host_bandwidth_gbs
            ));
        }
        if let Some(g) = &self.gpu {
            for (name, v) in [
                ("dispatch_us", g.dispatch_us),
                ("h2d_gbs", g.h2d_gbs),
                ("d2h_gbs", g.d2h_gbs),
            ] {
                if !positive(v) {
                    return bad(format!("gpu.{name} must be a positive number, got {v}"));
                }
            }
        }
        for (backend, kinds) in &self.ops {
            if backend.parse::<Backend>().is_err() {
                return bad(format!(
                    "ops.{backend}: unknown backend (scalar, simd or gpu)"
                ));
            }
            for (kind, c) in kinds {
                let at = format!("ops.{backend}.{kind}");
                if OpKind::from_name(kind).is_none() {
                    return bad(format!("{at}: unknown op kind"));
                }
                if c.work.len() != c.seconds.len() || c.work.is_empty() {
                    return bad(format!(
                        "{at}: `work` and `seconds` must be non-empty and of equal length"
                    ));
                }
                if !c.work.iter().chain(&c.seconds).all(|&v| positive(v)) {
                    return bad(format!("{at}: every value must be a positive number"));
                }
                if !c.work.windows(2).all(|p| p[0] < p[1]) {
                    return bad(format!("{at}: `work` must be strictly ascending"));
                }
            }
        }
        Ok(())
    }

    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let src = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_owned(),
            source,
        })?;
        let profile: Profile = toml::from_str(&src).map_err(|e| {
            let at = e.span().map(|s| {
                let (line, col) = crate::config::line_col(&src, s.start);
                format!("{line}:{col}: ")
            });
            ProfileError::Invalid {
                path: path.to_owned(),
                message: format!("{}{}", at.unwrap_or_default(), e.message()),
            }
        })?;
        profile.validate(path)?;
        Ok(profile)
    }

    /// Writes the profile atomically ([`aprender::file::write_atomic`]).
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let io = |source| ProfileError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string(self).map_err(|e| ProfileError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        aprender::file::write_atomic(path, text.as_bytes()).map_err(io)
    }

    /// Where `batuta calibrate` keeps the profile by default: the user's cache directory.
    pub fn default_path() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("batuta").join("profile.toml"))
    }
}
