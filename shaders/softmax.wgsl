// Row-wise numerically stable softmax: one workgroup per row (2-D grid past
// 65535 rows). The row maximum is subtracted before exp, like the CPU kernels.

struct Params {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn softmax_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.y * nwg.x + wid.x;
    if (row >= p.rows) { return; }   // uniform per workgroup: barriers stay uniform
    let base = row * p.cols;

    var m = -3.4028235e38;
    for (var c = lid; c < p.cols; c = c + 256u) { m = max(m, x[base + c]); }
    red[lid] = m;
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    }
    workgroupBarrier();
    let row_max = red[0];
    workgroupBarrier();

    var sum = 0.0;
    for (var c = lid; c < p.cols; c = c + 256u) {
        let e = exp(x[base + c] - row_max);
        out[base + c] = e;
        sum = sum + e;
    }
    red[lid] = sum;
    for (var s = 128u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    }
    workgroupBarrier();
    let inv = 1.0 / red[0];
    for (var c = lid; c < p.cols; c = c + 256u) { out[base + c] = out[base + c] * inv; }
}
