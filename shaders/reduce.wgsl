// reduce.wgsl — reductions over the middle axis of an [outer, n, inner] view:
//   out[o, i] = reduce_k x[o, k, i],  x[o, k, i] at (o·n + k)·inner + i.

struct ReduceArgs {
    outer: u32,
    n: u32,
    inner: u32,
    _p0: u32,
};

@group(0) @binding(0) var<uniform> ra: ReduceArgs;

@group(0) @binding(1) var<storage, read> sum_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sum_out: array<f32>;

// One thread per output, k ascending (used when n is small or inner > 1).
@compute @workgroup_size(256)
fn sum_axis_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let j = flat_index(wid, nwg, lid);
    if (j >= ra.outer * ra.inner) { return; }
    let o = j / ra.inner;
    let i = j % ra.inner;
    var s = 0.0;
    for (var k = 0u; k < ra.n; k = k + 1u) {
        s = s + sum_x[(o * ra.n + k) * ra.inner + i];
    }
    sum_out[j] = s;
}

var<workgroup> partial: array<f32, 256>;

// One workgroup per output (long rows, inner = 1): thread t sums k = t, t + 256, …, then a
// tree in workgroup memory halves the 256 partial sums 8 times. Fixed order: deterministic.
@compute @workgroup_size(256)
fn sum_axis_wg_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let j = wid.y * nwg.x + wid.x;
    let total = ra.outer * ra.inner;
    let o = j / ra.inner;
    let i = j % ra.inner;
    var s = 0.0;
    if (j < total) {
        for (var k = lid; k < ra.n; k = k + 256u) {
            s = s + sum_x[(o * ra.n + k) * ra.inner + i];
        }
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half = half >> 1u) {
        if (lid < half) {
            partial[lid] = partial[lid] + partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u && j < total) {
        sum_out[j] = partial[0];
    }
}

@group(0) @binding(1) var<storage, read> max_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> max_val: array<f32>;
@group(0) @binding(3) var<storage, read_write> max_idx: array<f32>;

// Maximum and the index k of its first occurrence (as f32); NaN wins, as in PyTorch.
@compute @workgroup_size(256)
fn max_axis_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let j = flat_index(wid, nwg, lid);
    if (j >= ra.outer * ra.inner) { return; }
    let o = j / ra.inner;
    let i = j % ra.inner;
    var best = max_x[o * ra.n * ra.inner + i];
    var bi = 0u;
    for (var k = 1u; k < ra.n; k = k + 1u) {
        let v = max_x[(o * ra.n + k) * ra.inner + i];
        if (v > best || (v != v && best == best)) {
            best = v;
            bi = k;
        }
    }
    max_val[j] = best;
    max_idx[j] = f32(bi);
}

@group(0) @binding(1) var<storage, read> mb_g: array<f32>;
@group(0) @binding(2) var<storage, read> mb_idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> mb_dx: array<f32>;

// dx[o, k, i] = g[o, i] where k is the argmax, else 0 (one thread per dx element).
@compute @workgroup_size(256)
fn max_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ra.outer * ra.n * ra.inner) { return; }
    let i = e % ra.inner;
    let k = (e / ra.inner) % ra.n;
    let o = e / (ra.inner * ra.n);
    let j = o * ra.inner + i;
    mb_dx[e] = select(0.0, mb_g[j], u32(mb_idx[j]) == k);
}
