// softmax.wgsl — softmax and log_softmax over rows of length c, one thread per row.
//   softmax:      y = exp(x − m) / Σ exp(x − m),   m = max(x)
//   log_softmax:  y = x − m − log Σ exp(x − m)
//   backward:     softmax      dx = y · (g − Σ g·y)
//                 log_softmax  dx = g − exp(y) · Σ g

struct SoftmaxArgs {
    rows: u32,
    c: u32,
    log: u32,
    _p0: u32,
};

@group(0) @binding(0) var<uniform> sm: SoftmaxArgs;

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_y: array<f32>;

@compute @workgroup_size(256)
fn softmax_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, nwg, lid);
    if (r >= sm.rows) { return; }
    let base = r * sm.c;
    var m = bitcast<f32>(0xff800000u);
    for (var k = 0u; k < sm.c; k = k + 1u) { m = max(m, f_x[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < sm.c; k = k + 1u) {
        let e = exp(f_x[base + k] - m);
        f_y[base + k] = e;
        s = s + e;
    }
    if (sm.log != 0u) {
        let ls = log(s);
        for (var k = 0u; k < sm.c; k = k + 1u) { f_y[base + k] = f_x[base + k] - m - ls; }
    } else {
        let inv = 1.0 / s;
        for (var k = 0u; k < sm.c; k = k + 1u) { f_y[base + k] = f_y[base + k] * inv; }
    }
}

@group(0) @binding(1) var<storage, read> b_g: array<f32>;
@group(0) @binding(2) var<storage, read> b_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(256)
fn softmax_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, nwg, lid);
    if (r >= sm.rows) { return; }
    let base = r * sm.c;
    var s = 0.0;
    if (sm.log != 0u) {
        for (var k = 0u; k < sm.c; k = k + 1u) { s = s + b_g[base + k]; }
        for (var k = 0u; k < sm.c; k = k + 1u) {
            b_dx[base + k] = b_g[base + k] - exp(b_y[base + k]) * s;
        }
    } else {
        for (var k = 0u; k < sm.c; k = k + 1u) { s = s + b_g[base + k] * b_y[base + k]; }
        for (var k = 0u; k < sm.c; k = k + 1u) {
            b_dx[base + k] = b_y[base + k] * (b_g[base + k] - s);
        }
    }
}
