//! Criterion benches of the CPU kernels, for regression tracking between
//! commits (`cargo bench -p trueno --bench kernels`). Peer comparisons and the
//! targets live in `examples/bench_cpu.rs`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use trueno::simd::{self, gemm};

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn vector_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("vector");
    for len in [4 << 10, 256 << 10] {
        let (x, y) = (data(len), data(len));
        let mut out = vec![0.0; len];
        g.throughput(Throughput::Bytes(8 * len as u64));
        g.bench_with_input(BenchmarkId::new("dot", len), &len, |b, _| {
            b.iter(|| black_box(simd::dot(&x, &y)))
        });
        g.bench_with_input(BenchmarkId::new("sum", len), &len, |b, _| {
            b.iter(|| black_box(simd::sum(&x)))
        });
        g.bench_with_input(BenchmarkId::new("add", len), &len, |b, _| {
            b.iter(|| simd::add(&x, &y, black_box(&mut out)))
        });
        g.bench_with_input(BenchmarkId::new("exp", len), &len, |b, _| {
            b.iter(|| simd::exp(&x, black_box(&mut out)))
        });
        g.bench_with_input(BenchmarkId::new("gelu", len), &len, |b, _| {
            b.iter(|| simd::gelu(&x, black_box(&mut out)))
        });
        g.bench_with_input(BenchmarkId::new("softmax_rows_256", len), &len, |b, _| {
            b.iter(|| simd::softmax_rows(&x, 256, black_box(&mut out)))
        });
    }
    g.finish();
}

fn sgemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm");
    g.sample_size(20);
    for n in [64, 256, 512] {
        let (a, b) = (data(n * n), data(n * n));
        let mut out = vec![0.0; n * n];
        g.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, &n| {
            bch.iter(|| {
                let (av, bv) = (gemm::MatRef::new(&a, n, n), gemm::MatRef::new(&b, n, n));
                gemm::sgemm(
                    1.0,
                    av,
                    bv,
                    0.0,
                    gemm::MatMut::new(black_box(&mut out), n, n),
                )
            })
        });
    }
    g.finish();
}

/// A 784-256 dense layer on packed weights with bias and ReLU fused, at the
/// batch sizes realizar is measured at.
fn dense_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm_packed_784x256");
    g.sample_size(20);
    let (k, n) = (784, 256);
    let w = gemm::PackedMatrix::pack(&data(k * n), k, n);
    let bias = data(n);
    for m in [1, 64, 1024] {
        let x = data(m * k);
        let mut out = vec![0.0; m * n];
        g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(m), &m, |bch, &m| {
            bch.iter(|| {
                gemm::sgemm_packed(
                    gemm::MatRef::new(&x, m, k),
                    &w,
                    gemm::MatMut::new(black_box(&mut out), m, n),
                    gemm::Epilogue::BiasRelu(&bias),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, vector_ops, sgemm, dense_layer);
criterion_main!(benches);
