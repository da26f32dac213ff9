// index.wgsl — layout and indexing kernels (pure data movement: results are exact).
// Slices and concatenations use the [outer, n, inner] view of the axis they act on.

struct IndexArgs {
    count: u32,   // threads: elements of the output
    outer: u32,
    n: u32,       // size of the axis in the input (slice) or output (cat)
    inner: u32,
    start: u32,   // slice start, or where a cat part begins along the axis
    len: u32,     // slice length, or the cat part's size along the axis
    row: u32,     // index_select: elements per row
    _p0: u32,
};

struct ShapeArgs {
    n: u32,
    rank: u32,
    op: u32,
    count: u32,
    out_dims: array<vec4<u32>, 2>,
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
    extra: array<vec4<u32>, 2>,
};

@group(0) @binding(0) var<uniform> sh: ShapeArgs;
@group(0) @binding(1) var<storage, read> pm_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> pm_y: array<f32>;

// permute: out[j] = x[Σ_d j_d · stride_{perm[d]}], (j_d) = j's multi-index in the permuted
// shape (out_dims), a_strides = the input's strides taken in permuted order.
@compute @workgroup_size(256)
fn permute_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let j = flat_index(wid, nwg, lid);
    if (j >= sh.n) { return; }
    var rem = j;
    var off = 0u;
    for (var d = i32(sh.rank) - 1; d >= 0; d = d - 1) {
        let du = u32(d);
        let size = sh.out_dims[du >> 2u][du & 3u];
        off = off + (rem % size) * sh.a_strides[du >> 2u][du & 3u];
        rem = rem / size;
    }
    pm_y[j] = pm_x[off];
}

@group(0) @binding(0) var<uniform> ix: IndexArgs;

@group(0) @binding(1) var<storage, read> is_x: array<f32>;
@group(0) @binding(2) var<storage, read> is_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> is_y: array<f32>;

// index_select: out row j = x row idx[j].
@compute @workgroup_size(256)
fn index_select_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ix.count) { return; }
    is_y[e] = is_x[is_idx[e / ix.row] * ix.row + e % ix.row];
}

@group(0) @binding(1) var<storage, read> ib_g: array<f32>;
@group(0) @binding(2) var<storage, read> ib_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> ib_sources: array<u32>;
@group(0) @binding(4) var<storage, read_write> ib_dx: array<f32>;

// index_select backward as a gather: the host inverts the index list into CSR form —
// sources[offsets[r] .. offsets[r+1]] are the output rows j (ascending) that selected input
// row r — and dx row r = Σ g row j over them (the CPU's order).
@compute @workgroup_size(256)
fn index_select_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ix.count) { return; }
    let r = e / ix.row;
    let col = e % ix.row;
    var s = 0.0;
    for (var q = ib_offsets[r]; q < ib_offsets[r + 1u]; q = q + 1u) {
        s = s + ib_g[ib_sources[q] * ix.row + col];
    }
    ib_dx[e] = s;
}

@group(0) @binding(1) var<storage, read> sl_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sl_y: array<f32>;

// slice: y[o, k, i] = x[o, start + k, i] for k < len.
@compute @workgroup_size(256)
fn slice_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ix.count) { return; }
    let block = ix.len * ix.inner;
    let o = e / block;
    sl_y[e] = sl_x[(o * ix.n + ix.start) * ix.inner + e % block];
}

@group(0) @binding(1) var<storage, read> sb_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> sb_dx: array<f32>;

// slice backward: dx[o, k, i] = g[o, k − start, i] inside the slice, 0 outside.
@compute @workgroup_size(256)
fn slice_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ix.count) { return; }
    let i = e % ix.inner;
    let k = (e / ix.inner) % ix.n;
    let o = e / (ix.inner * ix.n);
    var v = 0.0;
    if (k >= ix.start && k < ix.start + ix.len) {
        v = sb_g[(o * ix.len + k - ix.start) * ix.inner + i];
    }
    sb_dx[e] = v;
}

@group(0) @binding(1) var<storage, read> ct_part: array<f32>;
@group(0) @binding(2) var<storage, read_write> ct_out: array<f32>;

// cat, one launch per part: out[o, start + k, i] = part[o, k, i] (k < len, out axis size n).
@compute @workgroup_size(256)
fn cat_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wid, nwg, lid);
    if (e >= ix.count) { return; }
    let block = ix.len * ix.inner;
    let o = e / block;
    ct_out[(o * ix.n + ix.start) * ix.inner + e % block] = ct_part[e];
}
