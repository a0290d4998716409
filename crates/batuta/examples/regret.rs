//! How much time the selector's choices cost against the best choice in
//! hindsight: regret = Σ time(chosen) / Σ time(fastest), for the `Calibrated`
//! model and the seed's fixed `Thresholds`.
//!
//! `cargo run --release -p batuta --example regret [-- --quick]`
//!
//! The profile is calibrated first on its usual grid of sizes; the regret is
//! then measured afresh on sizes between those grid points (geometric
//! midpoints), so the selector is judged on sizes it has not seen. Every
//! backend runs each op on host data (GPU: transfers included), except one
//! whose profile estimate exceeds 2 s and that no model chose — it cannot be
//! the fastest. Last line: `regret calibrated=<x> thresholds=<y>`.

use std::time::Duration;

use batuta::select::calibrate::{self, Options};
use batuta::select::{BackendSelector, CostModel};
use trueno::{Backend, Op, OpKind};

/// The geometric midpoint between grid steps `s` and `s + 1`.
fn between(kind: OpKind, s: u32) -> Op {
    let side = ((16u64 << s) as f64 * std::f64::consts::SQRT_2).round() as usize;
    match kind {
        OpKind::Add | OpKind::Mul | OpKind::Relu => Op::Elementwise {
            kind,
            len: 512 << (2 * s),
        },
        OpKind::Softmax => Op::softmax(2 << (2 * s), 512),
        OpKind::Matvec => Op::matvec(side, side),
        OpKind::Matmul => Op::matmul(side, side, side),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    eprintln!("calibrating{}…", if quick { " (quick)" } else { "" });
    let (profile, _) = calibrate::calibrate(Options { quick }, |_, _, _| {}).expect("calibration");
    println!("machine: {}", profile.machine);
    let gpu = profile.gpu.is_some();
    let backends: Vec<Backend> = [Backend::Scalar, Backend::Simd]
        .into_iter()
        .chain(gpu.then_some(Backend::Gpu))
        .collect();
    let calibrated = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile.clone());
    let gregg = BackendSelector::new()
        .with_cost_model(CostModel::Gregg5x)
        .with_profile(profile.clone());
    let thresholds = BackendSelector::new()
        .with_cost_model(CostModel::Thresholds)
        .with_gpu(gpu);
    let samples = if quick { 3 } else { 5 };

    let (mut sum_fast, mut sum_cal, mut sum_gregg, mut sum_thr) = (0.0, 0.0, 0.0, 0.0);
    println!("\n| op | FLOPs | fastest | calibrated | gregg5x | thresholds | times (us) |");
    println!("|---|---:|---|---|---|---|---|");
    for kind in OpKind::ALL {
        let grid = calibrate::steps(kind, false);
        for s in grid
            .iter()
            .copied()
            .take(grid.len() - 1)
            .filter(|s| !quick || s % 2 == 1)
        {
            let op = between(kind, s);
            let picks = [
                calibrated.select(&op),
                gregg.select(&op),
                thresholds.select(&op),
            ];
            let mut times: Vec<(Backend, Duration)> = Vec::new();
            for &b in &backends {
                let estimate = profile
                    .estimate(b, &op, false)
                    .map_or(Duration::ZERO, |c| c.total());
                if estimate > Duration::from_secs(2) && !picks.contains(&b) {
                    continue;
                }
                let t = calibrate::measure(b, &op, samples, true).expect("measurement");
                times.push((b, t));
            }
            let time_of = |b: Backend| {
                times
                    .iter()
                    .find(|t| t.0 == b)
                    .expect("chosen backends are measured")
                    .1
            };
            let (fastest, best) = times
                .iter()
                .copied()
                .min_by_key(|t| t.1)
                .expect("at least one backend");
            sum_fast += best.as_secs_f64();
            sum_cal += time_of(picks[0]).as_secs_f64();
            sum_gregg += time_of(picks[1]).as_secs_f64();
            sum_thr += time_of(picks[2]).as_secs_f64();
            let shown: Vec<String> = times
                .iter()
                .map(|(b, t)| format!("{b} {:.1}", t.as_secs_f64() * 1e6))
                .collect();
            println!(
                "| {kind} | {} | {fastest} | {} | {} | {} | {} |",
                op.flops(),
                picks[0],
                picks[1],
                picks[2],
                shown.join(", ")
            );
        }
    }
    println!(
        "\nΣ fastest {:.1} ms, Σ gregg5x {:.1} ms (regret {:.3})",
        sum_fast * 1e3,
        sum_gregg * 1e3,
        sum_gregg / sum_fast
    );
    println!(
        "regret calibrated={:.3} thresholds={:.3}",
        sum_cal / sum_fast,
        sum_thr / sum_fast
    );
}
