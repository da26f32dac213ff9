// pool.wgsl — pooling over NCHW planes (pl = n·C + c), one thread per output element in the
// forward passes and one per *input* element in the backward passes (gather, no atomics).
//
// Window (oy, ox) covers rows oy·sh − ph … oy·sh − ph + kh − 1 (clipped to the image), likewise
// columns. An input row iy therefore lies in the windows oy with
//     ⌈(iy + ph − kh + 1) / sh⌉ ≤ oy ≤ ⌊(iy + ph) / sh⌋,
// which is how the backward kernels find the outputs that read a pixel.
// Adaptive windows: rows ⌊oy·H/OH⌋ … ⌈(oy+1)·H/OH⌉ − 1.

struct PoolArgs {
    planes: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    out_h: u32,
    out_w: u32,
    _p0: u32,
};

@group(0) @binding(0) var<uniform> pa: PoolArgs;

// Clipped window of output o along an axis: [lo, hi).
fn window(o: u32, s: u32, p: u32, k: u32, size: u32) -> vec2<u32> {
    let start = i32(o * s) - i32(p);
    let lo = u32(max(start, 0));
    let hi = u32(max(min(start + i32(k), i32(size)), 0));
    return vec2<u32>(lo, hi);
}

// Outputs whose window contains input position i along an axis: [lo, hi).
fn outputs_of(i: u32, s: u32, p: u32, k: u32, out: u32) -> vec2<u32> {
    let t = i32(i + p) - i32(k) + 1;
    var lo = 0u;
    if (t > 0) { lo = (u32(t) + s - 1u) / s; }
    let hi = min((i + p) / s + 1u, out);
    return vec2<u32>(lo, max(hi, lo));
}

fn adaptive_window(o: u32, out: u32, size: u32) -> vec2<u32> {
    return vec2<u32>(o * size / out, ((o + 1u) * size + out - 1u) / out);
}

@group(0) @binding(1) var<storage, read> mf_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mf_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mf_idx: array<f32>;

// y = max over the window; idx = iy·W + ix of the first maximum (strict '>' keeps the first;
// a NaN wins, as in PyTorch). Padding never wins.
@compute @workgroup_size(256)
fn max_pool2d_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.out_h * pa.out_w) { return; }
    let ox = i % pa.out_w;
    let oy = (i / pa.out_w) % pa.out_h;
    let pl = i / (pa.out_w * pa.out_h);
    let wy = window(oy, pa.stride_h, pa.pad_h, pa.kh, pa.h);
    let wx = window(ox, pa.stride_w, pa.pad_w, pa.kw, pa.w);
    let base = pl * pa.h * pa.w;
    var best = bitcast<f32>(0xff800000u); // −∞
    var best_i = wy.x * pa.w + wx.x;
    for (var iy = wy.x; iy < wy.y; iy = iy + 1u) {
        for (var ix = wx.x; ix < wx.y; ix = ix + 1u) {
            let v = mf_x[base + iy * pa.w + ix];
            let v_nan = v != v;
            let b_nan = best != best;
            if (v > best || (v_nan && !b_nan)) {
                best = v;
                best_i = iy * pa.w + ix;
            }
        }
    }
    mf_y[i] = best;
    mf_idx[i] = f32(best_i);
}

@group(0) @binding(1) var<storage, read> mb_g: array<f32>;
@group(0) @binding(2) var<storage, read> mb_idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> mb_dx: array<f32>;

// dx[pl, iy, ix] = Σ g[pl, oy, ox] over the windows containing (iy, ix) whose argmax is it.
@compute @workgroup_size(256)
fn max_pool2d_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.h * pa.w) { return; }
    let ix = i % pa.w;
    let iy = (i / pa.w) % pa.h;
    let pl = i / (pa.w * pa.h);
    let me = f32(iy * pa.w + ix);
    let ry = outputs_of(iy, pa.stride_h, pa.pad_h, pa.kh, pa.out_h);
    let rx = outputs_of(ix, pa.stride_w, pa.pad_w, pa.kw, pa.out_w);
    var s = 0.0;
    for (var oy = ry.x; oy < ry.y; oy = oy + 1u) {
        for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
            let o = (pl * pa.out_h + oy) * pa.out_w + ox;
            if (mb_idx[o] == me) { s = s + mb_g[o]; }
        }
    }
    mb_dx[i] = s;
}

@group(0) @binding(1) var<storage, read> af_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> af_y: array<f32>;

// y = (Σ window) · 1/(kh·kw), padding counted as zeros (count_include_pad).
@compute @workgroup_size(256)
fn avg_pool2d_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.out_h * pa.out_w) { return; }
    let ox = i % pa.out_w;
    let oy = (i / pa.out_w) % pa.out_h;
    let pl = i / (pa.out_w * pa.out_h);
    let wy = window(oy, pa.stride_h, pa.pad_h, pa.kh, pa.h);
    let wx = window(ox, pa.stride_w, pa.pad_w, pa.kw, pa.w);
    let base = pl * pa.h * pa.w;
    var s = 0.0;
    for (var iy = wy.x; iy < wy.y; iy = iy + 1u) {
        for (var ix = wx.x; ix < wx.y; ix = ix + 1u) {
            s = s + af_x[base + iy * pa.w + ix];
        }
    }
    af_y[i] = s * (1.0 / f32(pa.kh * pa.kw));
}

@group(0) @binding(1) var<storage, read> ab_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> ab_dx: array<f32>;

// dx = Σ g · 1/(kh·kw) over the windows containing the pixel.
@compute @workgroup_size(256)
fn avg_pool2d_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.h * pa.w) { return; }
    let ix = i % pa.w;
    let iy = (i / pa.w) % pa.h;
    let pl = i / (pa.w * pa.h);
    let inv = 1.0 / f32(pa.kh * pa.kw);
    let ry = outputs_of(iy, pa.stride_h, pa.pad_h, pa.kh, pa.out_h);
    let rx = outputs_of(ix, pa.stride_w, pa.pad_w, pa.kw, pa.out_w);
    var s = 0.0;
    for (var oy = ry.x; oy < ry.y; oy = oy + 1u) {
        for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
            s = s + ab_g[(pl * pa.out_h + oy) * pa.out_w + ox] * inv;
        }
    }
    ab_dx[i] = s;
}

@group(0) @binding(1) var<storage, read> adf_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> adf_y: array<f32>;

// Adaptive average: sum each column of the window over its rows, then the column sums (the
// CPU kernel's order), divided by the window's area.
@compute @workgroup_size(256)
fn adaptive_avg_pool2d_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.out_h * pa.out_w) { return; }
    let ox = i % pa.out_w;
    let oy = (i / pa.out_w) % pa.out_h;
    let pl = i / (pa.out_w * pa.out_h);
    let wy = adaptive_window(oy, pa.out_h, pa.h);
    let wx = adaptive_window(ox, pa.out_w, pa.w);
    let base = pl * pa.h * pa.w;
    var s = 0.0;
    for (var ix = wx.x; ix < wx.y; ix = ix + 1u) {
        var col = 0.0;
        for (var iy = wy.x; iy < wy.y; iy = iy + 1u) {
            col = col + adf_x[base + iy * pa.w + ix];
        }
        s = s + col;
    }
    adf_y[i] = s / f32((wy.y - wy.x) * (wx.y - wx.x));
}

@group(0) @binding(1) var<storage, read> adb_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> adb_dx: array<f32>;

// dx = Σ g / |window| over the adaptive windows containing the pixel.
@compute @workgroup_size(256)
fn adaptive_avg_pool2d_bwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if (i >= pa.planes * pa.h * pa.w) { return; }
    let ix = i % pa.w;
    let iy = (i / pa.w) % pa.h;
    let pl = i / (pa.w * pa.h);
    var s = 0.0;
    for (var oy = 0u; oy < pa.out_h; oy = oy + 1u) {
        let wy = adaptive_window(oy, pa.out_h, pa.h);
        if (iy < wy.x || iy >= wy.y) { continue; }
        for (var ox = 0u; ox < pa.out_w; ox = ox + 1u) {
            let wx = adaptive_window(ox, pa.out_w, pa.w);
            if (ix < wx.x || ix >= wx.y) { continue; }
            let area = f32((wy.y - wy.x) * (wx.y - wx.x));
            s = s + adb_g[(pl * pa.out_h + oy) * pa.out_w + ox] / area;
        }
    }
    adb_dx[i] = s;
}
