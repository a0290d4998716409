//! Scalar reference kernels: the definition of every operation's result.
//!
//! These take unchecked slices (callers go through [`crate::ops`], which checks
//! shapes) and are written for clarity; SIMD and GPU kernels are tested against them.

use crate::{Attention, SegmentPool};

/// `out[i] = a[i] + b[i]`
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x + y;
    }
}

/// `out[i] = a[i] * b[i]`
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x * y;
    }
}

/// `out[i] = max(x[i], 0)`; NaN stays NaN.
pub fn relu(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v > 0.0 || v.is_nan() { v } else { 0.0 };
    }
}

/// `out[i] = a[i] - b[i]`
pub fn sub(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x - y;
    }
}

/// `out[i] = a[i] / b[i]`
pub fn div(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x / y;
    }
}

/// `out[i] = alpha * x[i]`
pub fn scale(alpha: f32, x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = alpha * v;
    }
}

/// `y[i] += alpha * x[i]`
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = alpha.mul_add(v, *o);
    }
}

/// `out[i] = e^x[i]`
pub fn exp(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.exp();
    }
}

/// `out[i] = 1 / (1 + e^-x[i])`
pub fn sigmoid(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 1.0 / (1.0 + (-v).exp());
    }
}

/// `out[i] = tanh(x[i])`
pub fn tanh(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.tanh();
    }
}

/// GELU, tanh form: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
pub fn gelu(x: &[f32], out: &mut [f32]) {
    const K: f32 = 0.797_884_6; // √(2/π)
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 0.5 * v * (1.0 + (K * (v + 0.044715 * v * v * v)).tanh());
    }
}

/// GELU, exact form: `x Φ(x) = 0.5 x (1 + erf(x / √2))`, the error function
/// evaluated in f64 (libm's), so the only error is the final rounding.
pub fn gelu_erf(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        let v = f64::from(v);
        *o = (0.5 * v * (1.0 + libm::erf(v * std::f64::consts::FRAC_1_SQRT_2))) as f32;
    }
}

/// Layer normalisation of each row of `cols` values: `(x − mean) / √(var + eps) · γ + β`,
/// with the mean and the (biased) variance accumulated in f64.
pub fn layer_norm_rows(
    x: &[f32],
    cols: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    for (row, o) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let n = cols as f64;
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        for (((o, &v), &g), &b) in o.iter_mut().zip(row).zip(gamma).zip(beta) {
            *o = ((f64::from(v) - mean) * inv) as f32 * g + b;
        }
    }
}

/// Largest element; NaN if any element is NaN; −∞ for an empty slice.
pub fn max(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, |m, v| {
        if m.is_nan() || v.is_nan() {
            f32::NAN
        } else {
            m.max(v)
        }
    })
}

/// Index of the first largest element (a NaN counts as largest); `None` when empty.
pub fn argmax(x: &[f32]) -> Option<usize> {
    let m = max(x);
    x.iter()
        .position(|&v| if m.is_nan() { v.is_nan() } else { v == m })
}

/// Euclidean norm, accumulated in f64 (the accurate reference).
pub fn l2_norm(x: &[f32]) -> f32 {
    x.iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt() as f32
}

/// Row-wise log-softmax, `x − max − ln Σ e^(x − max)`: stable for large logits.
pub fn log_softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for (row, orow) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let m = max(row);
        let lse = row.iter().map(|&v| (v - m).exp()).sum::<f32>().ln();
        for (o, &v) in orow.iter_mut().zip(row) {
            *o = v - m - lse;
        }
    }
}

/// Sequential dot product (the reference order; SIMD kernels sum in lanes).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| x * y).sum()
}

/// Row-wise softmax of `x` (rows of `cols` elements) into `out`.
///
/// Numerically stable: the row maximum is subtracted before `exp`, so large
/// logits do not overflow. A row containing NaN yields NaN; an all `-inf` row
/// yields NaN (there is no distribution to return).
pub fn softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for (row, orow) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, |m, v| {
            if v.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(v)
            }
        });
        let mut sum = 0.0f32;
        for (o, &v) in orow.iter_mut().zip(row) {
            *o = (v - max).exp();
            sum += *o;
        }
        let inv = 1.0 / sum;
        for o in orow.iter_mut() {
            *o *= inv;
        }
    }
}

/// `y = A x` for row-major `A` of `m × n`.
pub fn matvec(a: &[f32], m: usize, n: usize, x: &[f32], y: &mut [f32]) {
    for (i, yi) in y.iter_mut().enumerate().take(m) {
        *yi = dot(&a[i * n..(i + 1) * n], x);
    }
}

/// `C = A B` for row-major `A (m×k)`, `B (k×n)`, `C (m×n)`.
pub fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = acc;
        }
    }
}

/// Multi-head attention over stacked sequences (see [`Attention`]), the
/// reference: scores, softmax and the weighted sum of values in f64, one query
/// at a time. Shapes are the caller's to check (`ops::attention` does).
pub fn attention(shape: Attention, qkv: &[f32], lens: &[usize], out: &mut [f32]) {
    let (d, w) = (shape.head_dim, shape.width());
    let scale = 1.0 / (d as f64).sqrt();
    let row = |t: usize, part: usize, head: usize| {
        let at = t * 3 * w + part * w + head * d;
        &qkv[at..at + d]
    };
    let mut scores = Vec::new();
    for span in crate::seq::spans(lens) {
        for head in 0..shape.heads {
            for i in span.clone() {
                let keys = span.start..if shape.causal { i + 1 } else { span.end };
                let q = row(i, 0, head);
                scores.clear();
                scores.extend(keys.clone().map(|j| {
                    let k = row(j, 1, head);
                    q.iter()
                        .zip(k)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum::<f64>()
                        * scale
                }));
                let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for s in &mut scores {
                    *s = (*s - top).exp();
                    total += *s;
                }
                let o = &mut out[i * w + head * d..i * w + (head + 1) * d];
                for (c, o) in o.iter_mut().enumerate() {
                    let v: f64 = keys
                        .clone()
                        .zip(&scores)
                        .map(|(j, p)| p * f64::from(row(j, 2, head)[c]))
                        .sum();
                    *o = (v / total) as f32;
                }
            }
        }
    }
}

/// `out[r] = Σ_t tables[t][idx[r·T + t]]` for `T = tables.len()` tables of rows
/// of `cols` values: an embedding lookup that sums word, position and type rows.
/// Indices are the caller's to check (`ops::gather_add_rows` does).
pub fn gather_add_rows(tables: &[&[f32]], cols: usize, idx: &[u32], out: &mut [f32]) {
    for (o, ids) in out
        .chunks_exact_mut(cols)
        .zip(idx.chunks_exact(tables.len()))
    {
        o.fill(0.0);
        for (table, &i) in tables.iter().zip(ids) {
            let r = &table[i as usize * cols..(i as usize + 1) * cols];
            o.iter_mut().zip(r).for_each(|(o, v)| *o += v);
        }
    }
}

/// One row per sequence of `x` (rows of `cols`): the mean of its rows (summed
/// in f64), its first or its last.
pub fn segment_pool(x: &[f32], cols: usize, lens: &[usize], pool: SegmentPool, out: &mut [f32]) {
    for (span, o) in crate::seq::spans(lens).zip(out.chunks_exact_mut(cols)) {
        let row = |r: usize| &x[r * cols..(r + 1) * cols];
        match pool {
            SegmentPool::First => o.copy_from_slice(row(span.start)),
            SegmentPool::Last => o.copy_from_slice(row(span.end - 1)),
            SegmentPool::Mean => {
                let n = span.len() as f64;
                for (c, o) in o.iter_mut().enumerate() {
                    *o = (span.clone().map(|r| f64::from(row(r)[c])).sum::<f64>() / n) as f32;
                }
            }
        }
    }
}

/// Each row of `cols` values divided by its Euclidean length, or by 1e-12 when
/// shorter (as torch's `F.normalize`), in f64.
pub fn l2_normalize_rows(x: &[f32], cols: usize, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let len = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        for (o, &v) in o.iter_mut().zip(row) {
            *o = (f64::from(v) / len) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_gelu_and_layer_norm_by_hand() {
        let mut g = [0.0; 4];
        gelu_erf(&[0.0, 1.0, -1.0, 3.0], &mut g);
        // x Φ(x): Φ(1) = 0.841344746, Φ(3) = 0.998650102.
        for (got, want) in g.iter().zip([0.0, 0.841_344_7, -0.158_655_3, 2.995_950_4]) {
            // Within an ulp or so of the f32 nearest the true value.
            assert!(
                (got - want).abs() <= 2.0 * f32::EPSILON * want.abs().max(1.0),
                "{g:?}"
            );
        }
        // Rows [1, 2, 3] and [5, 5, 5]: mean 2, variance 2/3; a constant row is β.
        let mut out = [0.0; 6];
        let gamma = [1.0, 2.0, 0.5];
        let beta = [0.0, 0.0, 1.0];
        layer_norm_rows(
            &[1.0, 2.0, 3.0, 5.0, 5.0, 5.0],
            3,
            &gamma,
            &beta,
            1e-12,
            &mut out,
        );
        let s = (1.5f32).sqrt(); // 1 / √(2/3)
        for (got, want) in out.iter().zip([-s, 0.0, 0.5 * s + 1.0, 0.0, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn small_cases_by_hand() {
        let mut out = [0.0; 3];
        add(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0], &mut out);
        assert_eq!(out, [2.0, 3.0, 4.0]);
        mul(&[1.0, 2.0, 3.0], &[2.0, 2.0, 2.0], &mut out);
        assert_eq!(out, [2.0, 4.0, 6.0]);
        relu(&[-1.0, 0.0, 2.0], &mut out);
        assert_eq!(out, [0.0, 0.0, 2.0]);

        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let mut c = [0.0; 4];
        matmul(
            &[1.0, 2.0, 3.0, 4.0],
            &[5.0, 6.0, 7.0, 8.0],
            &mut c,
            2,
            2,
            2,
        );
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);

        let mut y = [0.0; 2];
        matvec(&[1.0, 2.0, 3.0, 4.0], 2, 2, &[1.0, 1.0], &mut y);
        assert_eq!(y, [3.0, 7.0]);
    }

    #[test]
    fn relu_keeps_nan() {
        let mut out = [0.0; 1];
        relu(&[f32::NAN], &mut out);
        assert!(out[0].is_nan());
    }

    #[test]
    fn softmax_is_stable_and_normalised() {
        let x = [1000.0, 1001.0, 1002.0, -5.0, 0.0, 5.0];
        let mut out = [0.0; 6];
        softmax_rows(&x, 3, &mut out);
        for row in out.chunks(3) {
            let s: f32 = row.iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "row sums to {s}");
            assert!(row.iter().all(|v| v.is_finite()));
        }
        // Shift invariance: the first row equals softmax([0, 1, 2]).
        let mut shifted = [0.0; 3];
        softmax_rows(&[0.0, 1.0, 2.0], 3, &mut shifted);
        for (a, b) in out[..3].iter().zip(&shifted) {
            assert!((a - b).abs() < 1e-6);
        }
        softmax_rows(&[f32::NAN, 1.0], 2, &mut out[..2]);
        assert!(out[..2].iter().all(|v| v.is_nan()));
    }
}
