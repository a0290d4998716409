use std::time::Instant;
use trueno::simd::gemm::{Epilogue, PackedMatrix};
fn main() {
    let limit = std::env::var("XDIRECT").unwrap_or_default();
    for (m, k, n) in [
        (32, 784, 256),
        (512, 784, 256),
        (512, 256, 128),
        (512, 128, 10),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let bias = vec![0.5; n];
        let mut c = vec![0.0; m * n];
        let pm = PackedMatrix::pack(&b, k, n);
        let flops = 2.0 * (m * n * k) as f64;
        let mut t = Vec::new();
        for _ in 0..300 {
            let s = Instant::now();
            trueno::simd::gemm::sgemm_packed_serial(
                m,
                &a,
                k,
                &pm,
                &mut c,
                n,
                Epilogue::BiasRelu(&bias),
            );
            t.push(s.elapsed().as_secs_f64());
        }
        t.sort_by(f64::total_cmp);
        println!(
            "direct<= {limit}: {m}x{k}x{n}: {:.1} us  {:.1} GFLOP/s",
            t[150] * 1e6,
            flops / t[150] / 1e9
        );
    }
}
