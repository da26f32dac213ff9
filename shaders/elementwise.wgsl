// elementwise.wgsl — broadcasting binary ops, unary ops, sum_to and broadcast_to.
//
// Broadcasting (NumPy's rule): an operand is read through *broadcast strides*, its contiguous
// stride along an axis, or 0 where it repeats. Output element i, with multi-index (i_0 … i_{r−1})
// in the output shape, reads operand element Σ_d i_d · bstride_d.

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

struct ElemArgs {
    n: u32,
    op: u32,
    s0: f32,
    s1: f32,
};

@group(0) @binding(0) var<uniform> sa: ShapeArgs;

fn out_dim(d: u32) -> u32 { return sa.out_dims[d >> 2u][d & 3u]; }
fn a_stride(d: u32) -> u32 { return sa.a_strides[d >> 2u][d & 3u]; }
fn b_stride(d: u32) -> u32 { return sa.b_strides[d >> 2u][d & 3u]; }
fn src_dim(d: u32) -> u32 { return sa.extra[d >> 2u][d & 3u]; }

// Offsets into operands a and b of output element i.
fn bcast_offsets(i: u32) -> vec2<u32> {
    var rem = i;
    var off = vec2<u32>(0u, 0u);
    for (var d = i32(sa.rank) - 1; d >= 0; d = d - 1) {
        let du = u32(d);
        let size = out_dim(du);
        let idx = rem % size;
        rem = rem / size;
        off = off + vec2<u32>(idx * a_stride(du), idx * b_stride(du));
    }
    return off;
}

// Op codes of BinaryOp, in declaration order (src/ops/elementwise/wgpu.rs).
fn binary_op(op: u32, x: f32, y: f32) -> f32 {
    switch op {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return select(y, x, x <= y); }
        case 5u: { return select(y, x, x >= y); }
        case 6u: { return select(0.0, 1.0, x > y); }
        case 7u: { return select(0.0, 1.0, x >= y); }
        case 8u: { return select(0.0, 1.0, x < y); }
        case 9u: { return select(0.0, 1.0, x <= y); }
        default: { return select(0.0, 1.0, x == y); }
    }
}

@group(0) @binding(1) var<storage, read> bin_a: array<f32>;
@group(0) @binding(2) var<storage, read> bin_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> bin_out: array<f32>;

// out[i] = f(a[off_a(i)], b[off_b(i)])
@compute @workgroup_size(256)
fn binary_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= sa.n) { return; }
    let off = bcast_offsets(i);
    bin_out[i] = binary_op(sa.op, bin_a[off.x], bin_b[off.y]);
}

@group(0) @binding(1) var<storage, read> bc_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> bc_out: array<f32>;

// broadcast_to: out[i] = src[off_a(i)]
@compute @workgroup_size(256)
fn broadcast_to_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= sa.n) { return; }
    bc_out[i] = bc_src[bcast_offsets(i).x];
}

@group(0) @binding(1) var<storage, read> st_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_out: array<f32>;

// sum_to (the inverse of broadcasting), as a gather: output element j (multi-index over
// out_dims = the destination padded with leading 1s to the source's rank) sums the `count`
// source elements that broadcasting would have copied it to. Axis d is *reduced* when the
// destination has size 1 there and the source does not; k enumerates the reduced axes in
// row-major order (last axis fastest), the order the CPU kernel adds them in.
// a_strides = the source's contiguous strides, extra = the source dims.
@compute @workgroup_size(256)
fn sum_to_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let j = flat_index(wid, nwg, lid);
    if (j >= sa.n) { return; }
    // base offset from j's kept axes
    var rem = j;
    var base = 0u;
    for (var d = i32(sa.rank) - 1; d >= 0; d = d - 1) {
        let du = u32(d);
        let size = out_dim(du);
        let idx = rem % size;
        rem = rem / size;
        base = base + idx * a_stride(du);
    }
    var s = 0.0;
    for (var k = 0u; k < sa.count; k = k + 1u) {
        var kr = k;
        var off = base;
        for (var d = i32(sa.rank) - 1; d >= 0; d = d - 1) {
            let du = u32(d);
            let sd = src_dim(du);
            if (out_dim(du) == 1u && sd > 1u) {
                off = off + (kr % sd) * a_stride(du);
                kr = kr / sd;
            }
        }
        s = s + st_src[off];
    }
    st_out[j] = s;
}

@group(0) @binding(0) var<uniform> ea: ElemArgs;
@group(0) @binding(1) var<storage, read> un_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> un_y: array<f32>;

// x^p with x² as x·x and a real result for negative x and integer p (WGSL's pow is undefined
// for x < 0).
fn pow_scalar(v: f32, p: f32) -> f32 {
    if (p == 2.0) { return v * v; }
    if (p == 1.0) { return v; }
    if (p == 0.5) { return sqrt(v); }
    if (p == 0.0) { return 1.0; }
    if (v == 0.0) { return select(bitcast<f32>(0x7f800000u), 0.0, p > 0.0); }
    if (v < 0.0) {
        if (p != floor(p)) { return nan_f32(); }
        let r = pow(-v, p);
        return select(r, -r, fract(p * 0.5) != 0.0);
    }
    return pow(v, p);
}

// Op codes of UnaryOp, in declaration order; s0, s1 are its scalars.
@compute @workgroup_size(256)
fn unary_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ea.n) { return; }
    let v = un_x[i];
    var r = 0.0;
    switch ea.op {
        case 0u: { r = -v; }
        case 1u: { r = exp(v); }
        case 2u: { r = log(v); }
        case 3u: { r = sqrt(v); }
        case 4u: { r = abs(v); }
        case 5u: { r = select(select(0.0, -1.0, v < 0.0), 1.0, v > 0.0); }
        case 6u: { r = v + ea.s0; }
        case 7u: { r = v * ea.s0; }
        case 8u: { r = pow_scalar(v, ea.s0); }
        case 9u: { r = min(max(v, ea.s0), ea.s1); }
        default: { r = select(0.0, 1.0, v >= ea.s0 && v <= ea.s1); }
    }
    un_y[i] = r;
}
