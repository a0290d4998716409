// Kernels over stacked variable-length sequences (trueno's `seq` module):
// embedding gathers, layer norm with a fused residual and bias, bias plus
// activation, multi-head attention, pooling per sequence, L2 normalisation.
// Every entry point uses all of the bindings it is given (auto layouts):
//   0 src (f32, read)   1 aux (f32, read)   2 dst (f32, write)
//   3 uniform params    4 index (u32, read) 5 affine (f32, read)
// Grids past 65535 workgroups are two-dimensional; `group()` rebuilds the
// linear workgroup index.

struct Params {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> aux: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> index: array<u32>;
@group(0) @binding(5) var<storage, read> affine: array<f32>;

const WG: u32 = 128u;
var<workgroup> red: array<f32, 128>;

fn group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

fn tree_sum(lid: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    }
    workgroupBarrier();
    let v = red[0];
    workgroupBarrier();
    return v;
}

fn tree_max(lid: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    }
    workgroupBarrier();
    let v = red[0];
    workgroupBarrier();
    return v;
}

// dst[r, c] = Σ_t src[index[r·T + t], c]: a = rows, b = cols, c = T.
// One thread per output element.
@compute @workgroup_size(128)
fn gather_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = group(wid, nwg) * WG + lid;
    if (e >= p.a * p.b) { return; }
    let r = e / p.b;
    let c = e % p.b;
    var s = 0.0;
    for (var t = 0u; t < p.c; t = t + 1u) {
        s = s + src[index[r * p.c + t] * p.b + c];
    }
    dst[e] = s;
}

// dst[r] = LN(src[r] + bias + (aux[r] if d & 1)) · γ + β, with affine =
// [bias | γ | β] and a = rows, b = cols, c = eps (f32 bits). One workgroup
// per row; mean and variance in two passes over the row.
@compute @workgroup_size(128)
fn add_layer_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = group(wid, nwg);
    if (row >= p.a) { return; }   // uniform per workgroup
    let cols = p.b;
    let base = row * cols;
    let with_res = (p.d & 1u) == 1u;
    var s = 0.0;
    for (var c = lid; c < cols; c = c + WG) {
        var v = src[base + c] + affine[c];
        if (with_res) { v = v + aux[base + c]; }
        dst[base + c] = v;
        s = s + v;
    }
    red[lid] = s;
    let mean = tree_sum(lid) / f32(cols);
    var q = 0.0;
    for (var c = lid; c < cols; c = c + WG) {
        let z = dst[base + c] - mean;
        q = q + z * z;
    }
    red[lid] = q;
    let inv = inverseSqrt(tree_sum(lid) / f32(cols) + bitcast<f32>(p.c));
    for (var c = lid; c < cols; c = c + WG) {
        dst[base + c] = (dst[base + c] - mean) * inv * affine[cols + c] + affine[2u * cols + c];
    }
}

// erf(x) from the Chebyshev fit of erfc in Numerical Recipes (2nd ed., §6.2),
// fractional error below 1.2e-7 everywhere.
fn erf_(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let y = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
    return select(y - 1.0, 1.0 - y, x >= 0.0);
}

// dst = act(src + aux[c]) with a = elements, b = cols of aux, c = activation
// (0 none, 1 exact GELU, 2 tanh GELU). One thread per element.
@compute @workgroup_size(128)
fn bias_act(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = group(wid, nwg) * WG + lid;
    if (e >= p.a) { return; }
    let v = src[e] + aux[e % p.b];
    var o = v;
    if (p.c == 1u) {
        o = 0.5 * v * (1.0 + erf_(v * 0.70710678118654752));
    } else if (p.c == 2u) {
        o = 0.5 * v * (1.0 + tanh(0.7978845608 * (v + 0.044715 * v * v * v)));
    }
    dst[e] = o;
}

// Attention: 4 heads per workgroup, 32 threads per head (a "lane group").
const LANES: u32 = 32u;
const HEADS_PER_WG: u32 = 4u;
const KEYS: u32 = 256u;
var<workgroup> qs: array<f32, 512>;        // 4 heads × head_dim ≤ 128
var<workgroup> scores: array<f32, 1024>;   // 4 heads × KEYS

// Sum (or max) of `red[g·32 .. g·32 + 32]` for every lane group at once.
fn group_sum(g: u32, l: u32) -> f32 {
    for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (l < s) { red[g * LANES + l] = red[g * LANES + l] + red[g * LANES + l + s]; }
    }
    workgroupBarrier();
    let v = red[g * LANES];
    workgroupBarrier();
    return v;
}

fn group_max(g: u32, l: u32) -> f32 {
    for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (l < s) { red[g * LANES + l] = max(red[g * LANES + l], red[g * LANES + l + s]); }
    }
    workgroupBarrier();
    let v = red[g * LANES];
    workgroupBarrier();
    return v;
}

// Multi-head attention: src = [q | k | v] rows of 3·heads·head_dim, index =
// (start, len) of each token's sequence, a = tokens, b = heads, c = head_dim
// (≤ 128), d & 1 = causal. One workgroup per (token, 4 heads); in each lane
// group of 32, lane l scores keys l, l+32, … of its head's query, the group
// keeps a running max and sum across blocks of KEYS keys (online softmax),
// and lane l accumulates output dims l, l+32, l+64, l+96. Every lane runs
// the same loops (a group past the last head computes nothing), so barriers
// stay uniform.
@compute @workgroup_size(128)
fn attention(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3<u32>) {
    let blocks = (p.b + HEADS_PER_WG - 1u) / HEADS_PER_WG;
    let wg = group(wid, nwg);
    if (wg >= p.a * blocks) { return; }   // uniform per workgroup
    let i = wg / blocks;
    let g = lid / LANES;
    let l = lid % LANES;
    let head = (wg % blocks) * HEADS_PER_WG + g;
    let live = head < p.b;
    let d = p.c;
    let w = p.b * d;
    let start = index[2u * i];
    var end = start + index[2u * i + 1u];
    if ((p.d & 1u) == 1u) { end = i + 1u; }
    let scale = inverseSqrt(f32(d));
    if (live) {
        for (var c = l; c < d; c = c + LANES) { qs[g * 128u + c] = src[i * 3u * w + head * d + c]; }
    }
    workgroupBarrier();
    var m = -3.4028235e38;
    var total = 0.0;
    var acc = vec4<f32>(0.0);
    for (var b0 = start; b0 < end; b0 = b0 + KEYS) {
        let n = min(KEYS, end - b0);
        var bm = -3.4028235e38;
        if (live) {
            for (var j = l; j < n; j = j + LANES) {
                let kb = (b0 + j) * 3u * w + w + head * d;
                var s = 0.0;
                for (var c = 0u; c < d; c = c + 1u) { s = s + qs[g * 128u + c] * src[kb + c]; }
                s = s * scale;
                scores[g * KEYS + j] = s;
                bm = max(bm, s);
            }
        }
        red[lid] = bm;
        let nm = max(m, group_max(g, l));
        let factor = exp(m - nm);
        var bs = 0.0;
        if (live) {
            for (var j = l; j < n; j = j + LANES) {
                let e = exp(scores[g * KEYS + j] - nm);
                scores[g * KEYS + j] = e;
                bs = bs + e;
            }
        }
        red[lid] = bs;
        total = total * factor + group_sum(g, l);   // its barriers publish `scores`
        var part = vec4<f32>(0.0);
        if (live) {
            for (var j = 0u; j < n; j = j + 1u) {
                let pj = scores[g * KEYS + j];
                let vb = (b0 + j) * 3u * w + 2u * w + head * d;
                for (var q = 0u; q < 4u; q = q + 1u) {
                    let c = l + q * LANES;
                    if (c < d) { part[q] = part[q] + pj * src[vb + c]; }
                }
            }
        }
        acc = acc * factor + part;
        m = nm;
        workgroupBarrier();   // `scores` is rewritten by the next block
    }
    if (live) {
        let o = i * w + head * d;
        for (var q = 0u; q < 4u; q = q + 1u) {
            let c = l + q * LANES;
            if (c < d) { dst[o + c] = acc[q] / total; }
        }
    }
}

// One row per sequence: index = (start, len) per sequence, a = sequences,
// b = cols, c = 0 mean, 1 first, 2 last. One workgroup per sequence.
@compute @workgroup_size(128)
fn segment_pool(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = group(wid, nwg);
    if (s >= p.a) { return; }
    let start = index[2u * s];
    let n = index[2u * s + 1u];
    for (var c = lid; c < p.b; c = c + WG) {
        var v = 0.0;
        if (p.c == 0u) {
            for (var r = 0u; r < n; r = r + 1u) { v = v + src[(start + r) * p.b + c]; }
            v = v / f32(n);
        } else if (p.c == 1u) {
            v = src[start * p.b + c];
        } else {
            v = src[(start + n - 1u) * p.b + c];
        }
        dst[s * p.b + c] = v;
    }
}

// Each row divided by max(‖row‖, 1e-12): a = rows, b = cols. One workgroup per row.
@compute @workgroup_size(128)
fn l2_normalize_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = group(wid, nwg);
    if (row >= p.a) { return; }
    let base = row * p.b;
    var q = 0.0;
    for (var c = lid; c < p.b; c = c + WG) { q = q + src[base + c] * src[base + c]; }
    red[lid] = q;
    let inv = 1.0 / max(sqrt(tree_sum(lid)), 1e-12);
    for (var c = lid; c < p.b; c = c + WG) { dst[base + c] = src[base + c] * inv; }
}
