// C = A B for row-major A (m × k), B (k × n), C (m × n). Two kernels:
// `matmul` (the baseline) and `matmul_bk16_split` (the default, at the end).
//
// Each workgroup computes a 128 × 128 tile of C with 16 × 16 threads; each
// thread owns an 8 × 8 block held in 16 vec4 registers (c<row><half>). Per step
// of the k loop, tiles of A (128 × BK, stored transposed) and B (BK × 128) are
// staged in workgroup memory as vec4s; every thread then reads two vec4 of A
// (its 8 rows) and two of B (its 8 columns) and issues 64 FMAs, so shared-memory
// traffic is a quarter of the arithmetic. Edges are zero-padded on load and
// masked on store, so any m, k, n work. Summation over k is sequential per
// output, with one rounding per FMA.
//
// The accumulators are 16 named variables rather than an array so that every
// register index is a constant and no driver spills them to local memory.

struct Dims {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> d: Dims;

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 8u;

// As[kk * 32 + m / 4][m % 4] = A[row0 + m][k0 + kk]; Bs[kk * 32 + n / 4][n % 4] = B[k0 + kk][col0 + n].
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;

const BK16: u32 = 16u;
var<workgroup> As16: array<vec4<f32>, 512>;
var<workgroup> Bs16: array<vec4<f32>, 512>;

fn load_a(r: u32, c: u32) -> f32 {
    if (r < d.m && c < d.k) { return A[r * d.k + c]; }
    return 0.0;
}

fn load_b(r: u32, c: u32) -> f32 {
    if (r < d.k && c < d.n) { return B[r * d.n + c]; }
    return 0.0;
}

// Writes 4 consecutive values of one row of C, masking what falls outside.
fn store4(r: u32, c: u32, v: vec4<f32>) {
    if (r >= d.m) { return; }
    let base = r * d.n;
    if (c + 4u <= d.n) {
        C[base + c] = v.x; C[base + c + 1u] = v.y; C[base + c + 2u] = v.z; C[base + c + 3u] = v.w;
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (c + j < d.n) { C[base + c + j] = v[j]; }
    }
}

// Writes 8 consecutive values of one row of C, masking what falls outside.
fn store_row(r: u32, c: u32, v0: vec4<f32>, v1: vec4<f32>) {
    if (r >= d.m) { return; }
    let base = r * d.n;
    if (c + 8u <= d.n) {
        C[base + c] = v0.x; C[base + c + 1u] = v0.y; C[base + c + 2u] = v0.z; C[base + c + 3u] = v0.w;
        C[base + c + 4u] = v1.x; C[base + c + 5u] = v1.y; C[base + c + 6u] = v1.z; C[base + c + 7u] = v1.w;
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (c + j < d.n) { C[base + c + j] = v0[j]; }
        if (c + 4u + j < d.n) { C[base + c + 4u + j] = v1[j]; }
    }
}

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(local_invocation_index) tid: u32) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tx = lid.x;
    let ty = lid.y;

    var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0);

    // Loading: thread tid fetches 4 consecutive k of one row of A and 4
    // consecutive columns of one row of B.
    let a_row = tid / 2u;
    let a_k = (tid % 2u) * 4u;
    let b_k = tid / 32u;
    let b_col = (tid % 32u) * 4u;

    let tiles = (d.k + BK - 1u) / BK;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let k0 = t * BK;
        let ar = row0 + a_row;
        let slot = a_row / 4u;
        let lane = a_row % 4u;
        As[(a_k + 0u) * 32u + slot][lane] = load_a(ar, k0 + a_k);
        As[(a_k + 1u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 1u);
        As[(a_k + 2u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 2u);
        As[(a_k + 3u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 3u);
        let bk = k0 + b_k;
        let bc = col0 + b_col;
        Bs[b_k * 32u + b_col / 4u] = vec4<f32>(load_b(bk, bc), load_b(bk, bc + 1u), load_b(bk, bc + 2u), load_b(bk, bc + 3u));
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a0 = As[kk * 32u + ty * 2u];
            let a1 = As[kk * 32u + ty * 2u + 1u];
            let b0 = Bs[kk * 32u + tx * 2u];
            let b1 = Bs[kk * 32u + tx * 2u + 1u];
            c00 = fma(vec4<f32>(a0.x), b0, c00); c01 = fma(vec4<f32>(a0.x), b1, c01);
            c10 = fma(vec4<f32>(a0.y), b0, c10); c11 = fma(vec4<f32>(a0.y), b1, c11);
            c20 = fma(vec4<f32>(a0.z), b0, c20); c21 = fma(vec4<f32>(a0.z), b1, c21);
            c30 = fma(vec4<f32>(a0.w), b0, c30); c31 = fma(vec4<f32>(a0.w), b1, c31);
            c40 = fma(vec4<f32>(a1.x), b0, c40); c41 = fma(vec4<f32>(a1.x), b1, c41);
            c50 = fma(vec4<f32>(a1.y), b0, c50); c51 = fma(vec4<f32>(a1.y), b1, c51);
            c60 = fma(vec4<f32>(a1.z), b0, c60); c61 = fma(vec4<f32>(a1.z), b1, c61);
            c70 = fma(vec4<f32>(a1.w), b0, c70); c71 = fma(vec4<f32>(a1.w), b1, c71);
        }
        workgroupBarrier();
    }

    let row_base = row0 + ty * 8u;
    let col_base = col0 + tx * 8u;
    store_row(row_base + 0u, col_base, c00, c01);
    store_row(row_base + 1u, col_base, c10, c11);
    store_row(row_base + 2u, col_base, c20, c21);
    store_row(row_base + 3u, col_base, c30, c31);
    store_row(row_base + 4u, col_base, c40, c41);
    store_row(row_base + 5u, col_base, c50, c51);
    store_row(row_base + 6u, col_base, c60, c61);
    store_row(row_base + 7u, col_base, c70, c71);
}

// The default kernel (see docs/benchmarks.md for the variants measured): a k
// step of 16, and each thread owns rows {4ty..4ty+3, 64+4ty..64+4ty+3} and
// the same pattern of columns, instead of 8 consecutive ones: a warp's 128-bit
// reads of the B tile are then consecutive (no bank conflicts) and its stores
// to C are coalesced 256-byte runs.
@compute @workgroup_size(16, 16)
fn matmul_bk16_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(local_invocation_index) tid: u32) {
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let tx = lid.x;
    let ty = lid.y;

    var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0);

    // Loading: thread tid fetches 8 consecutive k of one row of A and 8
    // consecutive columns of one row of B (a k step of 16: twice the baseline's).
    let a_row = tid / 2u;
    let a_k = (tid % 2u) * 8u;
    let b_k = tid / 16u;
    let b_col = (tid % 16u) * 8u;

    let tiles = (d.k + BK16 - 1u) / BK16;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let k0 = t * BK16;
        let ar = row0 + a_row;
        let slot = a_row / 4u;
        let lane = a_row % 4u;
        As16[(a_k + 0u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 0u);
        As16[(a_k + 1u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 1u);
        As16[(a_k + 2u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 2u);
        As16[(a_k + 3u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 3u);
        As16[(a_k + 4u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 4u);
        As16[(a_k + 5u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 5u);
        As16[(a_k + 6u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 6u);
        As16[(a_k + 7u) * 32u + slot][lane] = load_a(ar, k0 + a_k + 7u);
        let bk = k0 + b_k;
        let bc = col0 + b_col;
        Bs16[b_k * 32u + b_col / 4u] = vec4<f32>(load_b(bk, bc), load_b(bk, bc + 1u), load_b(bk, bc + 2u), load_b(bk, bc + 3u));
        Bs16[b_k * 32u + b_col / 4u + 1u] = vec4<f32>(load_b(bk, bc + 4u), load_b(bk, bc + 5u), load_b(bk, bc + 6u), load_b(bk, bc + 7u));
        workgroupBarrier();

        for (var kk = 0u; kk < BK16; kk = kk + 1u) {
            let a0 = As16[kk * 32u + ty];
            let a1 = As16[kk * 32u + 16u + ty];
            let b0 = Bs16[kk * 32u + tx];
            let b1 = Bs16[kk * 32u + 16u + tx];
            c00 = fma(vec4<f32>(a0.x), b0, c00); c01 = fma(vec4<f32>(a0.x), b1, c01);
            c10 = fma(vec4<f32>(a0.y), b0, c10); c11 = fma(vec4<f32>(a0.y), b1, c11);
            c20 = fma(vec4<f32>(a0.z), b0, c20); c21 = fma(vec4<f32>(a0.z), b1, c21);
            c30 = fma(vec4<f32>(a0.w), b0, c30); c31 = fma(vec4<f32>(a0.w), b1, c31);
            c40 = fma(vec4<f32>(a1.x), b0, c40); c41 = fma(vec4<f32>(a1.x), b1, c41);
            c50 = fma(vec4<f32>(a1.y), b0, c50); c51 = fma(vec4<f32>(a1.y), b1, c51);
            c60 = fma(vec4<f32>(a1.z), b0, c60); c61 = fma(vec4<f32>(a1.z), b1, c61);
            c70 = fma(vec4<f32>(a1.w), b0, c70); c71 = fma(vec4<f32>(a1.w), b1, c71);
        }
        workgroupBarrier();
    }

    let r_lo = row0 + ty * 4u;
    let r_hi = row0 + 64u + ty * 4u;
    let c_lo = col0 + tx * 4u;
    let c_hi = col0 + 64u + tx * 4u;
    store4(r_lo + 0u, c_lo, c00); store4(r_lo + 0u, c_hi, c01);
    store4(r_lo + 1u, c_lo, c10); store4(r_lo + 1u, c_hi, c11);
    store4(r_lo + 2u, c_lo, c20); store4(r_lo + 2u, c_hi, c21);
    store4(r_lo + 3u, c_lo, c30); store4(r_lo + 3u, c_hi, c31);
    store4(r_hi + 0u, c_lo, c40); store4(r_hi + 0u, c_hi, c41);
    store4(r_hi + 1u, c_lo, c50); store4(r_hi + 1u, c_hi, c51);
    store4(r_hi + 2u, c_lo, c60); store4(r_hi + 2u, c_hi, c61);
    store4(r_hi + 3u, c_lo, c70); store4(r_hi + 3u, c_hi, c71);
}

