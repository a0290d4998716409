use std::time::Instant;
use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed_serial};
fn main() {
    let mlp = aprender::Mlp::random(&[784, 256, 128, 10], 42).unwrap();
    let (m, k, n) = (32, 784, 256);
    let w_model = mlp.layers()[0].weight().to_vec();
    let w_pat: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let x_model: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let x_pat: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
    let bias = vec![0.5; n];
    for (wn, w) in [("model w", &w_model), ("pattern w", &w_pat)] {
        for (xn, x) in [("model x", &x_model), ("pattern x", &x_pat)] {
            let p = PackedMatrix::pack(w, k, n);
            let mut c = vec![0.0; m * n];
            let mut t = Vec::new();
            for _ in 0..2000 {
                let s = Instant::now();
                sgemm_packed_serial(m, x, k, &p, &mut c, n, Epilogue::BiasRelu(&bias));
                t.push(s.elapsed().as_secs_f64());
            }
            t.sort_by(f64::total_cmp);
            println!("{wn} {xn}: {:.1} us", t[1000] * 1e6);
        }
    }
}
