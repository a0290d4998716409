//! The SIMD sequence kernels (see [`crate::seq`]): attention as two small
//! GEMMs and a vector softmax per (sequence, head), spread over rayon's
//! threads; gathers and pooling over the vector add and scale kernels.

use rayon::prelude::*;

use super::gemm::{MatMut, MatRef, sgemm};
use crate::{Attention, SegmentPool, scalar};

/// [`scalar::attention`] on the vector kernels: every (sequence, head) is one
/// task, `scale · Q Kᵀ`, a row softmax and `P V` on that sequence's rows only.
pub fn attention(shape: Attention, qkv: &[f32], lens: &[usize], out: &mut [f32]) {
    let (d, w) = (shape.head_dim, shape.width());
    let scale = 1.0 / (d as f32).sqrt();
    let spans: Vec<_> = crate::seq::spans(lens).collect();
    // A task's result is its own n × d block, copied into `out` afterwards:
    // the blocks of one sequence's heads interleave within its rows.
    let blocks: Vec<Vec<f32>> = (0..spans.len() * shape.heads)
        .into_par_iter()
        .map(|task| {
            let (span, head) = (&spans[task / shape.heads], task % shape.heads);
            let n = span.len();
            let view = |part: usize| {
                let from = span.start * 3 * w + part * w + head * d;
                MatRef::strided(&qkv[from..from + (n - 1) * 3 * w + d], n, d, 3 * w)
            };
            let mut scores = vec![0.0; n * n];
            sgemm(
                scale,
                view(0),
                view(1).t(),
                0.0,
                MatMut::new(&mut scores, n, n),
            );
            if shape.causal {
                for (i, row) in scores.chunks_exact_mut(n).enumerate() {
                    row[i + 1..].fill(f32::NEG_INFINITY);
                }
            }
            let mut probs = vec![0.0; n * n];
            super::softmax_rows(&scores, n, &mut probs);
            let mut block = vec![0.0; n * d];
            sgemm(
                1.0,
                MatRef::new(&probs, n, n),
                view(2),
                0.0,
                MatMut::new(&mut block, n, d),
            );
            block
        })
        .collect();
    for (task, block) in blocks.iter().enumerate() {
        let (span, head) = (&spans[task / shape.heads], task % shape.heads);
        for (i, src) in span.clone().zip(block.chunks_exact(d)) {
            out[i * w + head * d..i * w + (head + 1) * d].copy_from_slice(src);
        }
    }
}

/// Rows per parallel task of the row-wise kernels below.
fn rows_per_task(cols: usize) -> usize {
    (super::PAR_CHUNK / cols.max(1)).max(1)
}

/// [`scalar::gather_add_rows`] with vector adds, rows in parallel when many.
pub fn gather_add_rows(tables: &[&[f32]], cols: usize, idx: &[u32], out: &mut [f32]) {
    let t = tables.len();
    let one = |idx: &[u32], out: &mut [f32]| {
        for (o, ids) in out.chunks_exact_mut(cols).zip(idx.chunks_exact(t)) {
            let row = |k: usize| &tables[k][ids[k] as usize * cols..(ids[k] as usize + 1) * cols];
            match t {
                0 => o.fill(0.0),
                1 => o.copy_from_slice(row(0)),
                _ => {
                    super::add(row(0), row(1), o);
                    (2..t).for_each(|k| super::axpy(1.0, row(k), o));
                }
            }
        }
    };
    let per = rows_per_task(cols);
    if super::parallel(out.len()) {
        out.par_chunks_mut(per * cols)
            .zip(idx.par_chunks(per * t.max(1)))
            .for_each(|(o, i)| one(i, o));
    } else {
        one(idx, out);
    }
}

/// [`scalar::segment_pool`] with vector adds (the mean sums in f32 lanes),
/// sequences in parallel.
pub fn segment_pool(x: &[f32], cols: usize, lens: &[usize], pool: SegmentPool, out: &mut [f32]) {
    let spans: Vec<_> = crate::seq::spans(lens).collect();
    let one = |span: &std::ops::Range<usize>, o: &mut [f32]| {
        let row = |r: usize| &x[r * cols..(r + 1) * cols];
        match pool {
            SegmentPool::First => o.copy_from_slice(row(span.start)),
            SegmentPool::Last => o.copy_from_slice(row(span.end - 1)),
            SegmentPool::Mean => {
                o.copy_from_slice(row(span.start));
                for r in span.start + 1..span.end {
                    super::axpy(1.0, row(r), o);
                }
                let inv = 1.0 / span.len() as f32;
                o.iter_mut().for_each(|v| *v *= inv);
            }
        }
    };
    if super::parallel(x.len()) {
        out.par_chunks_mut(cols)
            .zip(spans.par_iter())
            .for_each(|(o, s)| one(s, o));
    } else {
        out.chunks_mut(cols)
            .zip(&spans)
            .for_each(|(o, s)| one(s, o));
    }
}

/// [`scalar::l2_normalize_rows`]: the length from the vector sum of squares,
/// except for rows whose squares leave f32's normal range (then the reference).
pub fn l2_normalize_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let len = super::l2_norm(row);
        if len.is_finite() && len > 1e-18 {
            super::scale(1.0 / len, row, o);
        } else {
            scalar::l2_normalize_rows(row, cols, o);
        }
    }
}
