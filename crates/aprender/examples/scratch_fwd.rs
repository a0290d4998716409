use std::time::Instant;
fn main() {
    let mlp = aprender::Mlp::random(&[784, 256, 128, 10], 42).unwrap();
    for rows in [32usize, 64, 1024] {
        let x: Vec<f32> = (0..rows * 784)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let mut t = Vec::new();
        for _ in 0..1000 {
            let s = Instant::now();
            mlp.predict(trueno::Backend::Simd, &x, rows).unwrap();
            t.push(s.elapsed().as_secs_f64());
        }
        t.sort_by(f64::total_cmp);
        println!(
            "rows {rows}: {:.1} us  {:.0} rows/s",
            t[500] * 1e6,
            rows as f64 / t[500]
        );
    }
}
