use std::time::Instant;
fn med(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}
fn main() {
    let mlp = aprender::Mlp::random(&[784, 256, 128, 10], 42).unwrap();
    let rows = 512;
    let x: Vec<f32> = (0..rows * 784)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for round in 0..4 {
        // alone: one thread, 512 rows
        let alone = pool1.install(|| {
            med((0..200)
                .map(|_| {
                    let s = Instant::now();
                    mlp.predict(trueno::Backend::Simd, &x, rows).unwrap();
                    s.elapsed().as_secs_f64()
                })
                .collect())
        });
        // together: two OS threads at once, each 512 rows on its own 1-thread pool
        let together = std::thread::scope(|sc| {
            let h: Vec<_> = (0..2)
                .map(|_| {
                    sc.spawn(|| {
                        let p = rayon::ThreadPoolBuilder::new()
                            .num_threads(1)
                            .build()
                            .unwrap();
                        p.install(|| {
                            med((0..200)
                                .map(|_| {
                                    let s = Instant::now();
                                    mlp.predict(trueno::Backend::Simd, &x, rows).unwrap();
                                    s.elapsed().as_secs_f64()
                                })
                                .collect())
                        })
                    })
                })
                .collect();
            h.into_iter().map(|h| h.join().unwrap()).fold(0.0, f64::max)
        });
        // split: 1024 rows across the global 2-thread pool
        let x2: Vec<f32> = x.iter().chain(&x).copied().collect();
        let split = med((0..200)
            .map(|_| {
                let s = Instant::now();
                mlp.predict(trueno::Backend::Simd, &x2, 2 * rows).unwrap();
                s.elapsed().as_secs_f64()
            })
            .collect());
        println!(
            "round {round}: 512 rows alone {:.0} us, two at once {:.0} us, 1024 split {:.0} us",
            alone * 1e6,
            together * 1e6,
            split * 1e6
        );
    }
}
