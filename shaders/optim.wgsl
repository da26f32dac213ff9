// optim.wgsl — fused optimizer updates, one thread per parameter, in place (PyTorch's rules;
// see src/ops/optim/cpu.rs). The element count is the bound buffer's length.

struct AdamArgs {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bias_correction1: f32,        // 1 − β₁ᵗ
    bias_correction2_sqrt: f32,   // √(1 − β₂ᵗ)
    _p0: f32,
};

struct SgdArgs {
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: u32,
    first_step: u32,
    _p0: u32,
    _p1: u32,
};

@group(0) @binding(0) var<uniform> ad: AdamArgs;
@group(0) @binding(1) var<storage, read_write> ad_p: array<f32>;
@group(0) @binding(2) var<storage, read> ad_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> ad_m: array<f32>;
@group(0) @binding(4) var<storage, read_write> ad_v: array<f32>;

//   g ← g + wd·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
//   p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + eps)
@compute @workgroup_size(256)
fn adam_step_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= arrayLength(&ad_p)) { return; }
    let p = ad_p[i];
    let g = ad_g[i] + ad.weight_decay * p;
    let m = ad.beta1 * ad_m[i] + (1.0 - ad.beta1) * g;
    let v = ad.beta2 * ad_v[i] + (1.0 - ad.beta2) * g * g;
    ad_m[i] = m;
    ad_v[i] = v;
    let denom = sqrt(v) / ad.bias_correction2_sqrt + ad.eps;
    ad_p[i] = p - (ad.lr / ad.bias_correction1) * m / denom;
}

@group(0) @binding(0) var<uniform> sg: SgdArgs;
@group(0) @binding(1) var<storage, read_write> sg_p: array<f32>;
@group(0) @binding(2) var<storage, read> sg_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> sg_buf: array<f32>;

//   d ← g + wd·p;  buf ← d (first step) or μ·buf + (1−dampening)·d;
//   d ← d + μ·buf (Nesterov) or buf;  p ← p − lr·d.   Momentum 0: p ← p − lr·(g + wd·p).
@compute @workgroup_size(256)
fn sgd_step_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= arrayLength(&sg_p)) { return; }
    let p = sg_p[i];
    var d = sg_g[i] + sg.weight_decay * p;
    if (sg.momentum != 0.0) {
        var b = d;
        if (sg.first_step == 0u) { b = sg.momentum * sg_buf[i] + (1.0 - sg.dampening) * d; }
        sg_buf[i] = b;
        if (sg.nesterov != 0u) { d = d + sg.momentum * b; } else { d = b; }
    }
    sg_p[i] = p - sg.lr * d;
}
