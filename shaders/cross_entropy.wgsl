// cross_entropy.wgsl — per-sample cross-entropy from logits, log-softmax and NLL fused:
//   loss[i]   = logsumexp(x[i]) − x[i, t[i]]
//   dx[i, k]  = g[i] · (exp(x[i, k] − logsumexp(x[i])) − [k = t[i]])
// Targets are class indices stored as f32. logsumexp subtracts the row maximum first.

struct CeArgs {
    n: u32,
    c: u32,
    _p0: u32,
    _p1: u32,
};

@group(0) @binding(0) var<uniform> ce: CeArgs;

fn lse_of(row: u32) -> f32 {
    let base = row * ce.c;
    var m = bitcast<f32>(0xff800000u);
    for (var k = 0u; k < ce.c; k = k + 1u) { m = max(m, f_x[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < ce.c; k = k + 1u) { s = s + exp(f_x[base + k] - m); }
    return m + log(s);
}

fn lse_of_b(row: u32) -> f32 {
    let base = row * ce.c;
    var m = bitcast<f32>(0xff800000u);
    for (var k = 0u; k < ce.c; k = k + 1u) { m = max(m, b_x[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < ce.c; k = k + 1u) { s = s + exp(b_x[base + k] - m); }
    return m + log(s);
}

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read> f_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_loss: array<f32>;

// One thread per sample.
@compute @workgroup_size(256)
fn cross_entropy_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ce.n) { return; }
    f_loss[i] = lse_of(i) - f_x[i * ce.c + u32(f_t[i])];
}

@group(0) @binding(1) var<storage, read> b_x: array<f32>;
@group(0) @binding(2) var<storage, read> b_t: array<f32>;
@group(0) @binding(3) var<storage, read> b_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> b_dx: array<f32>;

// One thread per sample (rows are short: the classes).
@compute @workgroup_size(256)
fn cross_entropy_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= ce.n) { return; }
    let lse = lse_of_b(i);
    let t = u32(b_t[i]);
    for (var k = 0u; k < ce.c; k = k + 1u) {
        let onehot = select(0.0, 1.0, k == t);
        b_dx[i * ce.c + k] = b_g[i] * (exp(b_x[i * ce.c + k] - lse) - onehot);
    }
}
