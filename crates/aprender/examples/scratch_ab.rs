use trueno::simd::gemm::{Transpose, sgemm};
fn main() {
    let var = std::env::args().nth(1).unwrap();
    let val = std::env::var("VAL").unwrap_or("1".into());
    let th: usize = std::env::args().nth(2).map_or(1, |s| s.parse().unwrap());
    let sizes: Vec<usize> = std::env::args()
        .skip(3)
        .map(|s| s.parse().unwrap())
        .collect();
    rayon::ThreadPoolBuilder::new()
        .num_threads(th)
        .build_global()
        .unwrap();
    for n in sizes {
        let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..n * n).map(|i| (i % 11) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; n * n];
        let iters = (200_000_000 / (n * n * n)).max(1);
        let mut ratios = vec![];
        let mut g = [vec![], vec![]];
        for _ in 0..15 {
            let mut t = [0.0; 2];
            for on in [false, true] {
                if on {
                    unsafe { std::env::set_var(&var, &val) }
                } else {
                    unsafe { std::env::remove_var(&var) }
                }
                let s = std::time::Instant::now();
                for _ in 0..iters {
                    sgemm(
                        Transpose::No,
                        Transpose::No,
                        n,
                        n,
                        n,
                        1.0,
                        &a,
                        n,
                        &b,
                        n,
                        0.0,
                        &mut c,
                        n,
                    );
                }
                t[on as usize] = s.elapsed().as_secs_f64();
                g[on as usize].push(2.0 * (n * n * n * iters) as f64 / t[on as usize] / 1e9);
            }
            ratios.push(t[0] / t[1]);
        }
        ratios.sort_by(f64::total_cmp);
        for v in &mut g {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "n {n} threads {th}: {var} speedup median {:.3} (range {:.3}-{:.3}); off {:.1} on {:.1} GFLOP/s",
            ratios[7], ratios[0], ratios[14], g[0][7], g[1][7]
        );
    }
}
