// y = A x for row-major A (m × n): one workgroup per row (2-D grid past 65535
// rows); threads stride along the row, then reduce as a tree.

struct Params {
    m: u32,
    n: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn matvec(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.y * nwg.x + wid.x;
    if (row >= p.m) { return; }
    let base = row * p.n;
    var acc = 0.0;
    for (var c = lid; c < p.n; c = c + 256u) { acc = fma(a[base + c], x[c], acc); }
    red[lid] = acc;
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    }
    if (lid == 0u) { y[row] = red[0]; }
}
