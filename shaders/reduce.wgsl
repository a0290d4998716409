// Reductions in two passes. Pass 1: each workgroup accumulates a grid-strided
// share of the input per thread, then reduces its 256 partial results as a
// tree in workgroup memory and writes one value per workgroup. Pass 2 runs the
// same kernel over those partials with one workgroup. Tree order keeps the
// rounding error at O(log n) levels plus the short per-thread runs.

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> shared_vals: array<f32, 256>;

fn tree_sum(lid: u32) {
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { shared_vals[lid] = shared_vals[lid] + shared_vals[lid + s]; }
    }
    workgroupBarrier();
}

fn tree_max(lid: u32) {
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { shared_vals[lid] = max(shared_vals[lid], shared_vals[lid + s]); }
    }
    workgroupBarrier();
}

@compute @workgroup_size(256)
fn sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    var acc = 0.0;
    for (var i = wid.x * 256u + lid; i < p.n; i = i + stride) { acc = acc + a[i]; }
    shared_vals[lid] = acc;
    tree_sum(lid);
    if (lid == 0u) { out[wid.x] = shared_vals[0]; }
}

@compute @workgroup_size(256)
fn dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    var acc = 0.0;
    for (var i = wid.x * 256u + lid; i < p.n; i = i + stride) { acc = fma(a[i], b[i], acc); }
    shared_vals[lid] = acc;
    tree_sum(lid);
    if (lid == 0u) { out[wid.x] = shared_vals[0]; }
}

@compute @workgroup_size(256)
fn max_value(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    var acc = -3.4028235e38;
    for (var i = wid.x * 256u + lid; i < p.n; i = i + stride) { acc = max(acc, a[i]); }
    shared_vals[lid] = acc;
    tree_max(lid);
    if (lid == 0u) { out[wid.x] = shared_vals[0]; }
}
