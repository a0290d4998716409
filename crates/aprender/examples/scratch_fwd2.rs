use std::time::Instant;
use trueno::simd::gemm::{Epilogue, PackedMatrix, sgemm_packed_serial};
fn main() {
    let mlp = aprender::Mlp::random(&[784, 256, 128, 10], 42).unwrap();
    let packed: Vec<PackedMatrix> = mlp
        .layers()
        .iter()
        .map(|l| PackedMatrix::pack(l.weight(), l.inputs(), l.outputs()))
        .collect();
    let rows = 32;
    let x: Vec<f32> = (0..rows * 784)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let mut tl = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..2000 {
        let mut act = x.clone();
        for (i, (l, p)) in mlp.layers().iter().zip(&packed).enumerate() {
            let s = Instant::now();
            let mut z = vec![0.0; rows * l.outputs()];
            let epi = if i < 2 {
                Epilogue::BiasRelu(l.bias())
            } else {
                Epilogue::Bias(l.bias())
            };
            sgemm_packed_serial(rows, &act, l.inputs(), p, &mut z, l.outputs(), epi);
            tl[i].push(s.elapsed().as_secs_f64());
            act = z;
        }
        let s = Instant::now();
        let mut out = vec![0.0; act.len()];
        trueno::ops::softmax_rows(trueno::Backend::Simd, &act, 10, &mut out).unwrap();
        tl[3].push(s.elapsed().as_secs_f64());
    }
    for (i, t) in tl.iter_mut().enumerate() {
        t.sort_by(f64::total_cmp);
        println!("step {i}: {:.1} us", t[1000] * 1e6);
    }
    let mut t = Vec::new();
    for _ in 0..2000 {
        let s = Instant::now();
        mlp.predict(trueno::Backend::Simd, &x, rows).unwrap();
        t.push(s.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    println!("predict: {:.1} us", t[1000] * 1e6);
}
