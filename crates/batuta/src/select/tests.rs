//! Selector rules on synthetic profiles, where every number is chosen.

use std::time::Duration;

use trueno::{Backend, Op};

use super::*;

const N: usize = 1_000_000;

/// One GPU worker with `depth` requests of `ms` each queued.
fn gpu_queue(depth: usize, ms: u64) -> realizar::QueueLoad {
    realizar::QueueLoad {
        backend: Backend::Gpu,
        depth,
        admit_limit: depth + 1,
        workers: 1,
        pass_time: Some(Duration::from_millis(ms)),
        requests_per_pass: 1.0,
    }
}

/// A profile where an add of N elements takes `cpu_ms` on SIMD (scalar 10×
/// slower) and `gpu_ms` on the GPU, whose transfers for that add take 2 ms
/// (8 MB in at 8 GB/s, 4 MB out at 4 GB/s).
fn profile(cpu_ms: f64, gpu_ms: f64, with_gpu: bool) -> Profile {
    let mut p = Profile {
        format_version: profile::PROFILE_VERSION,
        machine: "synthetic".into(),
        host_bandwidth_gbs: 1e6, // no bandwidth floor in these tests
        gpu: with_gpu.then(|| GpuProfile {
            adapter: "test".into(),
            dispatch_us: 1.0,
            h2d_gbs: 8.0,
            d2h_gbs: 4.0,
        }),
        ops: Default::default(),
    };
    let curve = |ms: f64| Curve {
        work: vec![N as f64],
        seconds: vec![ms * 1e-3],
    };
    p.set_curve(Backend::Simd, OpKind::Add, curve(cpu_ms));
    p.set_curve(Backend::Scalar, OpKind::Add, curve(cpu_ms * 10.0));
    if with_gpu {
        p.set_curve(Backend::Gpu, OpKind::Add, curve(gpu_ms));
    }
    p
}

fn gregg(p: Profile) -> BackendSelector {
    BackendSelector::new()
        .with_cost_model(CostModel::Gregg5x)
        .with_profile(p)
}

#[test]
fn the_five_times_boundary_is_exact() {
    let op = Op::add(N);
    // Saves 10 ms of compute against 2 ms of transfer: exactly 5×, not more.
    let d = gregg(profile(11.0, 1.0, true)).explain(&op);
    assert_eq!(d.backend, Backend::Simd, "{d}");
    assert!(d.reason.contains("not worth it"), "{}", d.reason);
    // A microsecond more saved tips it.
    let d = gregg(profile(11.001, 1.0, true)).explain(&op);
    assert_eq!(d.backend, Backend::Gpu, "{d}");
    // The Calibrated model alone takes the GPU as soon as its total is lower (3 ms < 4 ms).
    let calibrated = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile(4.0, 1.0, true));
    assert_eq!(calibrated.select(&op), Backend::Gpu);
    assert_eq!(gregg(profile(4.0, 1.0, true)).select(&op), Backend::Simd);
    // The factor is a parameter.
    let lenient = BackendSelector::new()
        .with_cost_model(CostModel::Gregg {
            transfer_factor: 1.0,
        })
        .with_profile(profile(4.0, 1.0, true));
    assert_eq!(lenient.select(&op), Backend::Gpu);
}

#[test]
fn resident_data_pays_no_transfer() {
    let op = Op::add(N);
    let s = gregg(profile(2.0, 1.0, true));
    assert_eq!(s.decide(&op, false).backend, Backend::Simd);
    let d = s.decide(&op, true);
    assert_eq!(d.backend, Backend::Gpu, "{d}");
    assert_eq!(
        d.estimates
            .iter()
            .find(|e| e.backend == Backend::Gpu)
            .unwrap()
            .cost
            .transfer,
        Duration::ZERO
    );
}

#[test]
fn without_a_gpu_the_gpu_is_never_chosen() {
    let op = Op::add(N);
    let no_gpu = gregg(profile(1000.0, 0.0, false));
    assert_eq!(no_gpu.select(&op), Backend::Simd);
    let lost = gregg(profile(1000.0, 1.0, true)).with_gpu(false);
    assert_eq!(lost.select(&op), Backend::Simd);
    assert!(
        lost.explain(&op)
            .estimates
            .iter()
            .all(|e| e.backend != Backend::Gpu)
    );
    let table = BackendSelector::new().with_cost_model(CostModel::Thresholds);
    assert_eq!(table.select(&Op::add(10_000_000)), Backend::Simd);
}

#[test]
fn a_busy_backend_sheds_work() {
    let op = Op::add(N);
    let s = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile(30.0, 1.0, true))
        .with_load_balancing(true);
    assert_eq!(s.select(&op), Backend::Gpu);
    // 20 requests of 5 ms queued on one GPU worker: 100 ms of wait.
    let busy = [gpu_queue(20, 5)];
    let d = s.decide_under_load(&[op], false, &busy);
    assert_eq!(d.backend, Backend::Simd, "{d}");
    assert!(d.reason.contains("queue wait included"));
    // Without load balancing the queue is ignored.
    let blind = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile(30.0, 1.0, true));
    assert_eq!(
        blind.decide_under_load(&[op], false, &busy).backend,
        Backend::Gpu
    );
}

#[test]
fn observations_correct_a_wrong_profile() {
    let op = Op::add(N);
    // The profile claims SIMD takes 1 ms and the GPU 3 ms in total; in truth SIMD takes 8 ms.
    let s = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile(1.0, 1.0, true));
    assert_eq!(s.select(&op), Backend::Simd);
    let mut factors = Vec::new();
    for _ in 0..12 {
        s.observe(Backend::Simd, &op, false, Duration::from_millis(8));
        factors.push(s.correction(Backend::Simd, &op));
    }
    assert!(
        factors.windows(2).all(|w| w[1] > w[0]),
        "monotone: {factors:?}"
    );
    assert!(
        (factors.last().unwrap() - 8.0).abs() < 0.1,
        "converges to 8: {factors:?}"
    );
    assert_eq!(s.select(&op), Backend::Gpu, "{}", s.explain(&op));
    // Other sizes keep their own factor.
    assert_eq!(s.correction(Backend::Simd, &Op::add(N * 64)), 1.0);
}

#[test]
fn thresholds_follow_the_seed_table() {
    let gpu = BackendSelector::new()
        .with_cost_model(CostModel::Thresholds)
        .with_profile(profile(1.0, 1.0, true));
    assert_eq!(gpu.select(&Op::add(999)), Backend::Scalar);
    assert_eq!(gpu.select(&Op::add(1_000)), Backend::Simd);
    assert_eq!(gpu.select(&Op::add(100_000)), Backend::Simd);
    assert_eq!(gpu.select(&Op::add(100_001)), Backend::Gpu);
    assert_eq!(gpu.select(&Op::matmul(400, 400, 10)), Backend::Gpu);
}

#[test]
fn curves_interpolate_log_log_and_scale_linearly_outside() {
    let c = Curve {
        work: vec![100.0, 10_000.0],
        seconds: vec![1.0, 4.0],
    };
    assert_eq!(c.seconds_for(100.0), Some(1.0));
    assert!(
        (c.seconds_for(1_000.0).unwrap() - 2.0).abs() < 1e-9,
        "geometric midpoint"
    );
    assert_eq!(c.seconds_for(50.0), Some(0.5));
    assert_eq!(c.seconds_for(20_000.0), Some(8.0));
    assert_eq!(Curve::default().seconds_for(1.0), None);
}

#[test]
fn profiles_round_trip_and_bad_ones_are_named() {
    let dir = std::env::temp_dir().join(format!("batuta-profile-{}", std::process::id()));
    let path = dir.join("p.toml");
    let p = profile(2.0, 1.0, true);
    p.save(&path).unwrap();
    assert_eq!(Profile::load(&path).unwrap(), p);

    let bad = |text: &str| {
        std::fs::write(&path, text).unwrap();
        Profile::load(&path).unwrap_err().to_string()
    };
    let head = "format_version = 1\nmachine = \"m\"\nhost_bandwidth_gbs = 10.0\n";
    assert!(
        bad("format_version = 9\nmachine = \"m\"\nhost_bandwidth_gbs = 1.0\n")
            .contains("format_version 9 is not supported")
    );
    assert!(
        bad(&format!(
            "{head}[ops.simd.conv]\nwork = [1.0]\nseconds = [1.0]\n"
        ))
        .contains("ops.simd.conv: unknown op kind")
    );
    assert!(
        bad(&format!(
            "{head}[ops.tpu.add]\nwork = [1.0]\nseconds = [1.0]\n"
        ))
        .contains("ops.tpu: unknown backend")
    );
    assert!(
        bad(&format!(
            "{head}[ops.simd.add]\nwork = [2.0, 1.0]\nseconds = [1.0, 1.0]\n"
        ))
        .contains("strictly ascending")
    );
    assert!(
        bad(&format!(
            "{head}[ops.simd.add]\nwork = [1.0]\nseconds = [-1.0]\n"
        ))
        .contains("positive")
    );
    assert!(
        bad("format_version = 1\nmachine = \"m\"\nhost_bandwidth_gbs = 0.0\n")
            .contains("host_bandwidth_gbs must be a positive")
    );
    let e = bad("format_version = 1\nmachin = \"m\"\n");
    assert!(e.contains("p.toml: 2:1: unknown field `machin`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_forward_pass_is_priced_as_a_whole() {
    // Two adds of N on the GPU: 2 ms of transfer each (4 ms) against 2 × 10 ms
    // of SIMD compute saved: the sum decides, and the queue is waited for once.
    let s = BackendSelector::new()
        .with_cost_model(CostModel::Calibrated)
        .with_profile(profile(10.0, 1.0, true))
        .with_load_balancing(true);
    let ops = [Op::add(N), Op::add(N)];
    let d = s.decide_many(&ops, false);
    assert_eq!(d.backend, Backend::Gpu, "{d}");
    let gpu = d
        .estimates
        .iter()
        .find(|e| e.backend == Backend::Gpu)
        .unwrap();
    assert_eq!(gpu.cost.transfer, Duration::from_millis(4));
    assert_eq!(
        s.decide_under_load(&ops, false, &[gpu_queue(3, 5)]).backend,
        Backend::Simd
    );
    assert_eq!(s.decide_many(&[], false).backend, Backend::Simd);
}

#[test]
fn an_absurd_profile_saturates_instead_of_panicking() {
    // 1e300 seconds per add is past Duration::MAX: the estimate saturates.
    let p = profile(1e303, 1e303, true);
    let d = gregg(p).explain(&Op::add(N));
    assert_eq!(d.backend, Backend::Simd, "{d}");
    let big = gregg(profile(1e303, 1e303, true)).explain(&Op::add(N * 1000));
    assert!(matches!(big.backend, Backend::Simd | Backend::Gpu), "{big}");
}
