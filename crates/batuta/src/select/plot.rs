//! `batuta calibrate --plot crossover.svg`: measured time against size for
//! every backend and op kind, with the selector's choice ringed at each size —
//! the picture that shows where the crossovers are and whether the selector
//! takes them. The GPU appears twice: its measured on-device time, and that
//! plus the transfers the profile predicts for data on the host, which is what
//! the selector weighs (and where its ring goes when it picks the GPU).

use std::path::Path;

use plotters::prelude::*;
use trueno::{Backend, OpKind};

use super::BackendSelector;
use super::calibrate::Sample;

fn color(b: Backend) -> RGBColor {
    match b {
        Backend::Scalar => RGBColor(150, 150, 150),
        Backend::Simd => RGBColor(31, 119, 180),
        Backend::Gpu => RGBColor(214, 39, 40),
    }
}

/// Draws one panel per op kind into an SVG file.
pub fn crossover_svg(
    path: &Path,
    samples: &[Sample],
    selector: &BackendSelector,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (1500, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((2, 3));
    for (kind, area) in OpKind::ALL.iter().zip(panels.iter()) {
        panel(area, *kind, samples, selector).map_err(|e| format!("{kind}: {e}"))?;
    }
    root.present().map_err(|e| e.to_string())
}

fn panel<'a>(
    area: &'a DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    kind: OpKind,
    samples: &[Sample],
    selector: &BackendSelector,
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let mine: Vec<&Sample> = samples.iter().filter(|s| s.op.kind() == kind).collect();
    if mine.is_empty() {
        return Ok(());
    }
    let xs = mine.iter().map(|s| s.op.flops().max(1) as f64);
    let ys = mine.iter().map(|s| s.time.as_secs_f64().max(1e-9));
    let (x0, x1) = xs.fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ys.fold((f64::MAX, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{kind}: time vs work (ring = selector's choice)"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (x0 / 2.0..x1 * 2.0).log_scale(),
            (y0 / 2.0..y1 * 20.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("FLOPs")
        .y_desc("seconds")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    let profile = selector.profile();
    let with_transfers = |s: &Sample| {
        let t = s.time.as_secs_f64();
        let transfer = profile
            .and_then(|p| p.estimate(Backend::Gpu, &s.op, false))
            .map_or(0.0, |c| c.transfer.as_secs_f64());
        (s.op.flops().max(1) as f64, (t + transfer).max(1e-9))
    };
    for b in Backend::ALL {
        let pts: Vec<(f64, f64)> = mine
            .iter()
            .filter(|s| s.backend == b)
            .map(|s| (s.op.flops().max(1) as f64, s.time.as_secs_f64().max(1e-9)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(pts.clone(), color(b).stroke_width(2)))?
            .label(b.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color(b).stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color(b).filled())))?;
    }
    let gpu_total: Vec<(f64, f64)> = mine
        .iter()
        .filter(|s| s.backend == Backend::Gpu)
        .map(|s| with_transfers(s))
        .collect();
    if !gpu_total.is_empty() {
        let dark = RGBColor(120, 0, 0);
        chart
            .draw_series(LineSeries::new(gpu_total, dark.stroke_width(3)))?
            .label("gpu + transfers")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], dark.stroke_width(3))
            });
    }
    // Ring the point of the backend the selector picks at each measured size.
    let chosen = mine.iter().filter(|s| selector.select(&s.op) == s.backend);
    chart.draw_series(chosen.map(|s| {
        let at = if s.backend == Backend::Gpu {
            with_transfers(s)
        } else {
            (s.op.flops().max(1) as f64, s.time.as_secs_f64().max(1e-9))
        };
        Circle::new(at, 8, BLACK.stroke_width(2))
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use trueno::Op;

    use super::*;
    use crate::select::{CostModel, Curve, GpuProfile, Profile, profile::PROFILE_VERSION};

    #[test]
    fn draws_every_kind_with_the_gpu_twice() {
        let mut profile = Profile {
            format_version: PROFILE_VERSION,
            machine: "test".into(),
            host_bandwidth_gbs: 20.0,
            gpu: Some(GpuProfile {
                adapter: "test".into(),
                dispatch_us: 50.0,
                h2d_gbs: 4.0,
                d2h_gbs: 2.0,
            }),
            ops: Default::default(),
        };
        let mut samples = Vec::new();
        for kind in OpKind::ALL {
            for (b, gflops) in [
                (Backend::Scalar, 1.0),
                (Backend::Simd, 4.0),
                (Backend::Gpu, 100.0),
            ] {
                let ops: Vec<Op> = (0..4)
                    .map(|s| super::super::calibrate::op_at(kind, s))
                    .collect();
                let curve = Curve {
                    work: ops.iter().map(|o| o.flops() as f64).collect(),
                    seconds: ops
                        .iter()
                        .map(|o| o.flops() as f64 / (gflops * 1e9) + 1e-6)
                        .collect(),
                };
                for (op, &t) in ops.iter().zip(&curve.seconds) {
                    samples.push(Sample {
                        backend: b,
                        op: *op,
                        time: Duration::from_secs_f64(t),
                    });
                }
                profile.set_curve(b, kind, curve);
            }
        }
        let selector = BackendSelector::new()
            .with_cost_model(CostModel::Gregg5x)
            .with_profile(profile);
        let path = std::env::temp_dir().join(format!("crossover-{}.svg", std::process::id()));
        crossover_svg(&path, &samples, &selector).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        for kind in OpKind::ALL {
            assert!(
                svg.contains(&format!("{kind}: time vs work")),
                "{kind} panel missing"
            );
        }
        assert!(svg.contains("gpu + transfers"));
    }
}
