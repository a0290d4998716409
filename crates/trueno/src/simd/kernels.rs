//! The vector kernels, written once against a small set of per-ISA
//! primitives and instantiated for each ISA by `vector_kernels!("features")`
//! inside that ISA's module (`avx2.rs`, `avx512.rs`, `neon.rs`). The module
//! provides the vector type `V`, `LANES`, and `vsplat`, `vload`, `vstore`,
//! `vadd`, `vsub`, `vmul`, `vdiv`, `vfma`, `vmax` (NaN-propagating), `relu_v`,
//! `exp_v`, `hsum`, `hmax`.
//! Tails shorter than a vector run the scalar reference.
//!
//! Accuracy (tested in `tests/simd_vs_scalar.rs`): element-wise arithmetic is
//! exact; `exp_v` is within 2 ulp of `f32::exp` on [−87.3, 88.7] (below, it
//! flushes to 0; above, +∞), so exp, sigmoid, softmax agree with the scalar
//! code to a few ulp and tanh, GELU (via `2σ(2x) − 1`) to ~1e-6 absolute;
//! sums run in `4·LANES` lanes then pairwise, within `n·ε·Σ|xᵢ|`.

macro_rules! vector_kernels {
    ($feat:literal) => {
        macro_rules! binary {
            ($name:ident, $op:ident, $tail:path) => {
                #[target_feature(enable = $feat)]
                pub(super) fn $name(a: &[f32], b: &[f32], out: &mut [f32]) {
                    let body = out.len() - out.len() % LANES;
                    for ((o, x), y) in out[..body]
                        .chunks_exact_mut(LANES)
                        .zip(a.chunks_exact(LANES))
                        .zip(b.chunks_exact(LANES))
                    {
                        vstore(o, $op(vload(x), vload(y)));
                    }
                    $tail(&a[body..], &b[body..], &mut out[body..]);
                }
            };
        }
        binary!(add, vadd, crate::scalar::add);
        binary!(sub, vsub, crate::scalar::sub);
        binary!(mul, vmul, crate::scalar::mul);
        binary!(div, vdiv, crate::scalar::div);

        macro_rules! unary {
            ($name:ident, $f:expr, $tail:path) => {
                #[target_feature(enable = $feat)]
                pub(super) fn $name(x: &[f32], out: &mut [f32]) {
                    let body = out.len() - out.len() % LANES;
                    for (o, v) in out[..body]
                        .chunks_exact_mut(LANES)
                        .zip(x.chunks_exact(LANES))
                    {
                        vstore(o, $f(vload(v)));
                    }
                    $tail(&x[body..], &mut out[body..]);
                }
            };
        }
        unary!(relu, relu_v, crate::scalar::relu);
        unary!(exp, exp_v, crate::scalar::exp);
        unary!(sigmoid, sigmoid_v, crate::scalar::sigmoid);
        unary!(tanh, tanh_v, crate::scalar::tanh);
        unary!(gelu, gelu_v, crate::scalar::gelu);
        unary!(gelu_erf, gelu_erf_v, crate::scalar::gelu_erf);

        #[target_feature(enable = $feat)]
        fn sigmoid_v(v: V) -> V {
            let one = vsplat(1.0);
            vdiv(one, vadd(one, exp_v(vsub(vsplat(0.0), v))))
        }

        #[target_feature(enable = $feat)]
        fn tanh_v(v: V) -> V {
            // tanh x = 2σ(2x) − 1: absolute error ~1e-7, enough for activations.
            vsub(vmul(vsplat(2.0), sigmoid_v(vadd(v, v))), vsplat(1.0))
        }

        #[target_feature(enable = $feat)]
        fn gelu_v(v: V) -> V {
            let inner = vmul(
                vsplat(0.797_884_6),
                vfma(vmul(vsplat(0.044715), vmul(v, v)), v, v),
            );
            vmul(vmul(vsplat(0.5), v), vadd(vsplat(1.0), tanh_v(inner)))
        }

        /// Exact-form GELU, `0.5 x + 0.5 |x| erf(|x| / √2)` (x·erf(x/√2) is
        /// even, so no sign is needed), with Abramowitz & Stegun's 7.1.26 for
        /// erf (absolute error ≤ 1.5e-7).
        #[target_feature(enable = $feat)]
        fn gelu_erf_v(v: V) -> V {
            let a = vmax(v, vsub(vsplat(0.0), v));
            let z = vmul(a, vsplat(std::f32::consts::FRAC_1_SQRT_2));
            let t = vdiv(vsplat(1.0), vfma(vsplat(0.327_591_1), z, vsplat(1.0)));
            let mut p = vsplat(1.061_405_4);
            for c in [-1.453_152, 1.421_413_8, -0.284_496_72, 0.254_829_6] {
                p = vfma(p, t, vsplat(c));
            }
            let e = exp_v(vmul(vsub(vsplat(0.0), z), z));
            let erf = vsub(vsplat(1.0), vmul(vmul(p, t), e));
            vmul(vsplat(0.5), vfma(a, erf, v))
        }

        /// Layer norm of each row. The mean is taken in two steps, a rough
        /// `m0` and the mean `c` of the residuals `x − m0`, and every deviation
        /// is computed as `(x − m0) − c`: `x − m0` is exact for values near the
        /// mean, so rows whose spread is tiny against their mean (where one
        /// f32 mean would lose most digits) normalise accurately.
        #[target_feature(enable = $feat)]
        pub(super) fn layer_norm_rows(
            x: &[f32],
            cols: usize,
            gamma: &[f32],
            beta: &[f32],
            eps: f32,
            out: &mut [f32],
        ) {
            let body = cols - cols % LANES;
            let n = cols as f32;
            for (row, orow) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                let m0 = sum(row) / n;
                let vm0 = vsplat(m0);
                let mut acc = vsplat(0.0);
                for v in row[..body].chunks_exact(LANES) {
                    acc = vadd(acc, vsub(vload(v), vm0));
                }
                let c = (hsum(acc) + row[body..].iter().map(|&v| v - m0).sum::<f32>()) / n;
                let vc = vsplat(c);
                let dev = |v: V| vsub(vsub(v, vm0), vc);
                let mut acc = vsplat(0.0);
                for v in row[..body].chunks_exact(LANES) {
                    let d = dev(vload(v));
                    acc = vfma(d, d, acc);
                }
                let tail_sq: f32 = row[body..].iter().map(|&v| ((v - m0) - c).powi(2)).sum();
                let inv = 1.0 / ((hsum(acc) + tail_sq) / n + eps).sqrt();
                let vi = vsplat(inv);
                for (((o, v), g), b) in orow[..body]
                    .chunks_exact_mut(LANES)
                    .zip(row.chunks_exact(LANES))
                    .zip(gamma.chunks_exact(LANES))
                    .zip(beta.chunks_exact(LANES))
                {
                    let r = vfma(vmul(dev(vload(v)), vi), vload(g), vload(b));
                    vstore(o, r);
                }
                for j in body..cols {
                    orow[j] = ((row[j] - m0) - c) * inv * gamma[j] + beta[j];
                }
            }
        }

        #[target_feature(enable = $feat)]
        pub(super) fn scale(alpha: f32, x: &[f32], out: &mut [f32]) {
            let body = out.len() - out.len() % LANES;
            let va = vsplat(alpha);
            for (o, v) in out[..body]
                .chunks_exact_mut(LANES)
                .zip(x.chunks_exact(LANES))
            {
                vstore(o, vmul(va, vload(v)));
            }
            crate::scalar::scale(alpha, &x[body..], &mut out[body..]);
        }

        #[target_feature(enable = $feat)]
        pub(super) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
            let body = y.len() - y.len() % LANES;
            let va = vsplat(alpha);
            for (o, v) in y[..body].chunks_exact_mut(LANES).zip(x.chunks_exact(LANES)) {
                let r = vfma(va, vload(v), vload(o));
                vstore(o, r);
            }
            crate::scalar::axpy(alpha, &x[body..], &mut y[body..]);
        }

        /// Σ f(aᵢ, bᵢ) in 4·LANES lanes; `f` is inlined.
        #[target_feature(enable = $feat)]
        fn reduce2(
            a: &[f32],
            b: &[f32],
            f: impl Fn(V, V, V) -> V,
            tail: impl Fn(&[f32], &[f32]) -> f32,
        ) -> f32 {
            let step = 4 * LANES;
            let body = a.len() - a.len() % step;
            let mut acc = [vsplat(0.0); 4];
            for (x, y) in a[..body].chunks_exact(step).zip(b.chunks_exact(step)) {
                for u in 0..4 {
                    let r = u * LANES..(u + 1) * LANES;
                    acc[u] = f(vload(&x[r.clone()]), vload(&y[r]), acc[u]);
                }
            }
            hsum(vadd(vadd(acc[0], acc[1]), vadd(acc[2], acc[3]))) + tail(&a[body..], &b[body..])
        }

        #[target_feature(enable = $feat)]
        pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
            if a.len() >= 1 << 19 {
                return dot_halves(a, b);
            }
            reduce2(a, b, |x, y, acc| vfma(x, y, acc), crate::scalar::dot)
        }

        /// `dot` of inputs too long for L2 (2 × 2 MiB and up), which come from
        /// memory: both halves at once, as in `sum`, four streams, which keep
        /// more loads in flight. Shorter ones stay on one pair of streams with
        /// more lanes, which is no slower from L2 and faster from L1.
        #[target_feature(enable = $feat)]
        #[inline(never)]
        fn dot_halves(a: &[f32], b: &[f32]) -> f32 {
            let step = 2 * LANES;
            let half = (a.len() / 2) - (a.len() / 2) % step;
            let (a0, a1) = a.split_at(half);
            let (b0, b1) = b.split_at(half);
            let mut acc = [vsplat(0.0); 4];
            let pairs = a0.chunks_exact(step).zip(b0.chunks_exact(step));
            for ((x0, y0), (x1, y1)) in pairs.zip(a1.chunks_exact(step).zip(b1.chunks_exact(step)))
            {
                for u in 0..2 {
                    let r = u * LANES..(u + 1) * LANES;
                    acc[u] = vfma(vload(&x0[r.clone()]), vload(&y0[r.clone()]), acc[u]);
                    acc[2 + u] = vfma(vload(&x1[r.clone()]), vload(&y1[r]), acc[2 + u]);
                }
            }
            hsum(vadd(vadd(acc[0], acc[1]), vadd(acc[2], acc[3])))
                + crate::scalar::dot(&a[2 * half..], &b[2 * half..])
        }

        #[target_feature(enable = $feat)]
        pub(super) fn sum(a: &[f32]) -> f32 {
            // Two halves at once: two memory streams keep more loads in flight
            // than one, which cannot reach the memory bandwidth alone.
            let half = (a.len() / 2) - (a.len() / 2) % (4 * LANES);
            let (lo, hi) = a.split_at(half);
            reduce2(
                lo,
                &hi[..half],
                |x, y, acc| vadd(acc, vadd(x, y)),
                |x, y| x.iter().chain(y).sum(),
            ) + a[2 * half..].iter().sum::<f32>()
        }

        #[target_feature(enable = $feat)]
        pub(super) fn sumsq(a: &[f32]) -> f32 {
            reduce2(a, a, |x, _, acc| vfma(x, x, acc), crate::scalar::dot)
        }

        #[target_feature(enable = $feat)]
        pub(super) fn max(a: &[f32]) -> f32 {
            let body = a.len() - a.len() % LANES;
            let mut m = vsplat(f32::NEG_INFINITY);
            for x in a[..body].chunks_exact(LANES) {
                m = vmax(m, vload(x));
            }
            let tail = crate::scalar::max(&a[body..]);
            let head = hmax(m);
            if head.is_nan() || tail.is_nan() {
                f32::NAN
            } else {
                head.max(tail)
            }
        }

        #[target_feature(enable = $feat)]
        pub(super) fn softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
            for (row, orow) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                let mscalar = max(row);
                let m = vsplat(mscalar);
                let body = cols - cols % LANES;
                let mut total = vsplat(0.0);
                for (o, v) in orow[..body]
                    .chunks_exact_mut(LANES)
                    .zip(row.chunks_exact(LANES))
                {
                    let e = exp_v(vsub(vload(v), m));
                    total = vadd(total, e);
                    vstore(o, e);
                }
                let mut sum = hsum(total);
                // The tail as one padded vector: a 10-class output row is all
                // tail, and a scalar `exp` and divide per value were most of its cost.
                let tail = cols - body;
                let mut lanes = [mscalar; LANES];
                let mut e = vsplat(0.0);
                if tail > 0 {
                    lanes[..tail].copy_from_slice(&row[body..]);
                    e = exp_v(vsub(vload(&lanes), m));
                    vstore(&mut lanes, e);
                    sum += lanes[..tail].iter().sum::<f32>();
                }
                let inv = vsplat(1.0 / sum);
                for o in orow[..body].chunks_exact_mut(LANES) {
                    let r = vmul(vload(o), inv);
                    vstore(o, r);
                }
                if tail > 0 {
                    vstore(&mut lanes, vmul(e, inv));
                    orow[body..].copy_from_slice(&lanes[..tail]);
                }
            }
        }

        #[target_feature(enable = $feat)]
        pub(super) fn log_softmax_rows(x: &[f32], cols: usize, out: &mut [f32]) {
            for (row, orow) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                let mscalar = max(row);
                let m = vsplat(mscalar);
                let body = cols - cols % LANES;
                let mut total = vsplat(0.0);
                for v in row[..body].chunks_exact(LANES) {
                    total = vadd(total, exp_v(vsub(vload(v), m)));
                }
                let sum = hsum(total)
                    + row[body..]
                        .iter()
                        .map(|&v| (v - mscalar).exp())
                        .sum::<f32>();
                // (v − max) − ln Σ: subtracting the max first is exact near the
                // max; folding max + ln Σ first would round at large logits.
                let lse = sum.ln();
                let vlse = vsplat(lse);
                for (o, v) in orow[..body]
                    .chunks_exact_mut(LANES)
                    .zip(row.chunks_exact(LANES))
                {
                    vstore(o, vsub(vsub(vload(v), m), vlse));
                }
                for (o, &v) in orow[body..].iter_mut().zip(&row[body..]) {
                    *o = v - mscalar - lse;
                }
            }
        }
    };
}
