//! Backend selection: for each operation, the backend that will finish it
//! soonest, with the GPU admitted only when it pays for its transfers.
//!
//! ```
//! use batuta::select::{BackendSelector, CostModel};
//! use trueno::{Backend, Op};
//!
//! // Without a measured profile only the fixed thresholds can decide, and the
//! // explanation says so; `batuta calibrate` writes a profile.
//! let selector = BackendSelector::new().with_cost_model(CostModel::Gregg5x).with_load_balancing(true);
//! assert_eq!(selector.select(&Op::add(100)), Backend::Scalar);
//! assert!(selector.explain(&Op::add(100)).reason.contains("no calibration profile"));
//! ```

pub mod calibrate;
pub mod plot;
pub mod profile;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use realizar::QueueLoad;
use trueno::{Backend, Op, OpKind};

pub use profile::{Cost, Curve, GpuProfile, Profile, ProfileError};

/// How costs are judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CostModel {
    /// The seed's fixed table by element count: < 1K scalar, 1K–100K SIMD,
    /// > 100K GPU (SIMD without a GPU). The baseline to beat.
    Thresholds,
    /// The fastest backend by the measured profile, transfers included.
    Calibrated,
    /// As `Calibrated`, and the GPU only when the compute time it saves over
    /// the best CPU backend exceeds `transfer_factor` × its transfer time
    /// (Gregg & Hazelwood's point). [`CostModel::Gregg5x`] is their factor 5.
    Gregg {
        /// Compute saved per unit of transfer time that makes the GPU worth it.
        transfer_factor: f64,
    },
}

impl CostModel {
    /// The seed's model: [`CostModel::Gregg`] with Gregg & Hazelwood's factor 5.
    #[allow(non_upper_case_globals)] // the seed's name, used like a variant
    pub const Gregg5x: CostModel = CostModel::Gregg {
        transfer_factor: 5.0,
    };
}

/// One backend's numbers in a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The backend.
    pub backend: Backend,
    /// Its estimated cost (after online correction).
    pub cost: Cost,
    /// Queue wait (zero without load balancing).
    pub wait: Duration,
    /// Whether the rules allow it at all.
    pub eligible: bool,
}

impl Estimate {
    /// Expected completion: wait plus cost.
    pub fn completion(&self) -> Duration {
        self.wait.saturating_add(self.cost.total())
    }
}

/// A decision with the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The chosen backend.
    pub backend: Backend,
    /// Every backend considered.
    pub estimates: Vec<Estimate>,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backend: {}", self.backend)?;
        writeln!(f, "reason: {}", self.reason)?;
        if !self.estimates.is_empty() {
            writeln!(
                f,
                "{:<8} {:>12} {:>12} {:>12} {:>12}  eligible",
                "backend", "compute", "transfer", "wait", "completion"
            )?;
            for e in &self.estimates {
                let us = |d: Duration| format!("{:.1} us", d.as_secs_f64() * 1e6);
                writeln!(
                    f,
                    "{:<8} {:>12} {:>12} {:>12} {:>12}  {}",
                    e.backend.name(),
                    us(e.cost.compute),
                    us(e.cost.transfer),
                    us(e.wait),
                    us(e.completion()),
                    if e.eligible { "yes" } else { "no" }
                )?;
            }
        }
        Ok(())
    }
}

/// Weight of the newest observation in the correction factors.
const CORRECTION_ALPHA: f64 = 0.3;

/// Picks a backend per operation (see the module doc).
#[derive(Debug)]
pub struct BackendSelector {
    model: CostModel,
    balance: bool,
    profile: Option<Profile>,
    gpu_present: bool,
    /// Observed / estimated, per (backend, kind, log2 work bucket).
    corrections: Mutex<HashMap<(Backend, OpKind, u32), f64>>,
}

impl Default for BackendSelector {
    fn default() -> Self {
        BackendSelector::new()
    }
}

/// The size class an observation corrects: a power of two of work.
fn bucket(op: &Op) -> u32 {
    64 - (op.flops().max(1)).leading_zeros()
}

/// The largest operand's element count: what the seed's table measures.
fn elements(op: &Op) -> u64 {
    match *op {
        Op::Elementwise { len, .. } => len as u64,
        Op::Softmax { rows, cols } => rows as u64 * cols as u64,
        Op::Matvec { m, n } => m as u64 * n as u64,
        Op::Matmul { m, k, n } => (m as u64 * k as u64).max(k as u64 * n as u64),
    }
}

impl BackendSelector {
    /// A selector with the `Calibrated` model, no load balancing, no
    /// profile, and no GPU until a profile with GPU figures is given.
    pub fn new() -> BackendSelector {
        BackendSelector {
            model: CostModel::Calibrated,
            balance: false,
            profile: None,
            gpu_present: false,
            corrections: Mutex::new(HashMap::new()),
        }
    }

    /// Chooses the cost model.
    pub fn with_cost_model(mut self, model: CostModel) -> Self {
        self.model = model;
        self
    }

    /// Adds queue wait to each backend's estimate, so a busy backend sheds work.
    pub fn with_load_balancing(mut self, on: bool) -> Self {
        self.balance = on;
        self
    }

    /// Uses a measured profile. The GPU is considered only if the profile has
    /// GPU figures (calibration records none for a software adapter).
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.gpu_present = profile.gpu.is_some();
        self.profile = Some(profile);
        self
    }

    /// Overrides GPU presence (e.g. the GPU failed since calibration).
    pub fn with_gpu(mut self, present: bool) -> Self {
        self.gpu_present = present;
        self
    }

    /// The profile in use.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Feeds back how long `op` really took on `backend` (total, transfers
    /// included unless `resident`), correcting later estimates of that size.
    pub fn observe(&self, backend: Backend, op: &Op, resident: bool, actual: Duration) {
        let Some(raw) = self
            .profile
            .as_ref()
            .and_then(|p| p.estimate(backend, op, resident))
        else {
            return;
        };
        let ratio = actual.as_secs_f64() / raw.total().as_secs_f64().max(1e-12);
        let mut c = self.corrections.lock().unwrap_or_else(|e| e.into_inner());
        let f = c.entry((backend, op.kind(), bucket(op))).or_insert(1.0);
        *f += CORRECTION_ALPHA * (ratio - *f);
    }

    /// The current correction factor for an op size on a backend (1 = none).
    pub fn correction(&self, backend: Backend, op: &Op) -> f64 {
        let c = self.corrections.lock().unwrap_or_else(|e| e.into_inner());
        c.get(&(backend, op.kind(), bucket(op)))
            .copied()
            .unwrap_or(1.0)
    }

    /// The backend for `op`, its data on the host.
    pub fn select(&self, op: &Op) -> Backend {
        self.decide(op, false).backend
    }

    /// The backend and the numbers behind it, data on the host.
    pub fn explain(&self, op: &Op) -> Decision {
        self.decide(op, false)
    }

    /// The decision when `resident` says whether the data already lives on the GPU.
    pub fn decide(&self, op: &Op, resident: bool) -> Decision {
        self.decide_many(std::slice::from_ref(op), resident)
    }

    /// One decision for a sequence of ops run back to back on one backend (a
    /// model's forward pass), every backend idle: costs add up.
    pub fn decide_many(&self, ops: &[Op], resident: bool) -> Decision {
        self.decide_under_load(ops, resident, &[])
    }

    /// As [`decide_many`](Self::decide_many), each backend's queue drained
    /// first (with load balancing on): a backend in `loads` waits its
    /// [`QueueLoad::drain_time`], one absent waits nothing.
    pub fn decide_under_load(&self, ops: &[Op], resident: bool, loads: &[QueueLoad]) -> Decision {
        let Some(largest) = ops.iter().max_by_key(|o| o.flops()) else {
            return Decision {
                backend: Backend::Simd,
                estimates: Vec::new(),
                reason: "nothing to run".into(),
            };
        };
        let profile = match (self.model, &self.profile) {
            (CostModel::Thresholds, _) => {
                return self.thresholds(largest, "the fixed element-count table");
            }
            (_, None) => {
                return self.thresholds(
                    largest,
                    "no calibration profile (run `batuta calibrate`); fixed table used",
                );
            }
            (_, Some(p)) => p,
        };
        // SIMD first: on a tie (both at the memory-bandwidth floor) it is the better default.
        let mut candidates = vec![Backend::Simd, Backend::Scalar];
        if self.gpu_present {
            candidates.push(Backend::Gpu);
        }
        let mut estimates: Vec<Estimate> = candidates
            .into_iter()
            .filter_map(|b| {
                let mut cost = Cost {
                    compute: Duration::ZERO,
                    transfer: Duration::ZERO,
                };
                for op in ops {
                    let raw = profile.estimate(b, op, resident)?;
                    let f = self.correction(b, op);
                    cost.compute = cost.compute.saturating_add(profile::scale(raw.compute, f));
                    cost.transfer = cost
                        .transfer
                        .saturating_add(profile::scale(raw.transfer, f));
                }
                let wait = if self.balance {
                    loads
                        .iter()
                        .find(|l| l.backend == b)
                        .map(QueueLoad::drain_time)
                        .unwrap_or_default()
                } else {
                    Duration::ZERO
                };
                Some(Estimate {
                    backend: b,
                    cost,
                    wait,
                    eligible: true,
                })
            })
            .collect();
        if estimates.is_empty() {
            return self.thresholds(
                largest,
                "the profile has no measurements for this op kind; fixed table used",
            );
        }
        let mut reason = String::new();
        if let CostModel::Gregg { transfer_factor } = self.model {
            let best_cpu = estimates
                .iter()
                .filter(|e| e.backend != Backend::Gpu)
                .map(|e| e.cost.compute)
                .min();
            if let (Some(cpu), Some(gpu)) = (
                best_cpu,
                estimates.iter_mut().find(|e| e.backend == Backend::Gpu),
            ) {
                let saved = cpu.saturating_sub(gpu.cost.compute);
                gpu.eligible =
                    saved.as_secs_f64() > transfer_factor * gpu.cost.transfer.as_secs_f64();
                reason = format!(
                    "GPU saves {:.1} us of compute against {} x {:.1} us of transfer: {}; ",
                    saved.as_secs_f64() * 1e6,
                    transfer_factor,
                    gpu.cost.transfer.as_secs_f64() * 1e6,
                    if gpu.eligible {
                        "eligible"
                    } else {
                        "not worth it"
                    }
                );
            }
        }
        let best = estimates
            .iter()
            .filter(|e| e.eligible)
            .min_by_key(|e| e.completion())
            .expect("CPU backends are always eligible");
        reason.push_str(&format!(
            "{} has the earliest expected completion{}",
            best.backend,
            if self.balance {
                " (queue wait included)"
            } else {
                ""
            }
        ));
        Decision {
            backend: best.backend,
            estimates,
            reason,
        }
    }

    fn thresholds(&self, op: &Op, why: &str) -> Decision {
        let n = elements(op);
        let backend = match n {
            0..1_000 => Backend::Scalar,
            1_000..=100_000 => Backend::Simd,
            _ if self.gpu_present => Backend::Gpu,
            _ => Backend::Simd,
        };
        Decision {
            backend,
            estimates: Vec::new(),
            reason: format!("{why}: {n} elements"),
        }
    }
}

#[cfg(test)]
mod tests;
