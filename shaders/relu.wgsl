// relu.wgsl — relu_fwd_f32: y = x > 0 ? x : 0 ;  relu_bwd_f32: dx = y > 0 ? g : 0.
// (NaN maps to 0, as on the CPU, because NaN > 0 is false.)

struct ElemArgs {
    n: u32,
    op: u32,
    s0: f32,
    s1: f32,
};

@group(0) @binding(0) var<uniform> ra: ElemArgs;

@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;

@compute @workgroup_size(256)
fn relu_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ra.n) { return; }
    let v = fwd_x[i];
    fwd_y[i] = select(0.0, v, v > 0.0);
}

@group(0) @binding(1) var<storage, read> bwd_g: array<f32>;
@group(0) @binding(2) var<storage, read> bwd_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_dx: array<f32>;

@compute @workgroup_size(256)
fn relu_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ra.n) { return; }
    bwd_dx[i] = select(0.0, bwd_g[i], bwd_y[i] > 0.0);
}
