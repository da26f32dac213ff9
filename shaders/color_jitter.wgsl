// color_jitter.wgsl — color_jitter_fwd_f32: torchvision's ColorJitter on a batch of RGB images,
// one draw per image, with the CPU kernel's formulas and order (src/ops/color_jitter/cpu.rs;
// the op's docs in src/ops/color_jitter/mod.rs, the index math in kernels/color_jitter.cu).
//
// One workgroup of 256 per image (image = wid.y · nwg.x + wid.x: the host folds more than
// 65,535 images into two dimensions). Thread l owns pixels l, l + 256, … (all three channels)
// for all four steps; the contrast mean is each thread's in-order sum of its grays, then a
// tree over the 256 partial sums (strides 128 … 1) — the CPU's order. The tree runs at every
// step, so every barrier is in uniform control flow.

struct JitterArgs {
    key: vec4<u32>,
    count: u32,
    hw: u32,
    threshold: u32,  // extreme when word 0 of block 1 < threshold ...
    always: u32,     // ... or always
    lo: vec4<f32>,   // brightness, contrast, saturation, hue
    span: vec4<f32>,
    xlo: vec4<f32>,  // the extreme ranges
    xspan: vec4<f32>,
};

@group(0) @binding(0) var<uniform> ja: JitterArgs;
@group(0) @binding(1) var<storage, read> jt_x: array<f32>;
@group(0) @binding(2) var<storage, read> jt_index: array<u32>;
@group(0) @binding(3) var<storage, read_write> jt_out: array<f32>;

const JITTER_LANES: u32 = 256u;
var<workgroup> jt_partial: array<f32, 256>;

// pcg4d comes from common.wgsl.

fn jt_gray(c: vec3<f32>) -> f32 {
    return 0.2989 * c.x + 0.587 * c.y + 0.114 * c.z;
}

// clamp(f·a + (1 − f)·b, 0, 1), per channel
fn jt_blend(a: vec3<f32>, b: vec3<f32>, f: f32) -> vec3<f32> {
    return clamp(f * a + (1.0 - f) * b, vec3<f32>(0.0), vec3<f32>(1.0));
}

fn jt_shift_hue(c: vec3<f32>, shift: f32) -> vec3<f32> {
    let r = c.x;
    let g = c.y;
    let b = c.z;
    // _rgb2hsv
    let maxc = max(max(r, g), b);
    let minc = min(min(r, g), b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / select(maxc, 1.0, eqc);
    let crd = select(cr, 1.0, eqc);
    let rc = (maxc - r) / crd;
    let gc = (maxc - g) / crd;
    let bc = (maxc - b) / crd;
    var h: f32;
    if (maxc == r) {
        h = bc - gc;
    } else if (maxc == g) {
        h = 2.0 + rc - bc;
    } else {
        h = 4.0 + gc - rc;
    }
    let x = h / 6.0 + 1.0;
    h = x - floor(x);
    let v = maxc;
    // H ← (H + shift) mod 1
    h = h + shift;
    h = h - floor(h);
    // _hsv2rgb
    let h6 = h * 6.0;
    let fi = floor(h6);
    let f = h6 - fi;
    let p = clamp(v * (1.0 - s), 0.0, 1.0);
    let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
    let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
    let i = ((i32(fi) % 6) + 6) % 6;
    switch i {
        case 0: { return vec3<f32>(v, t, p); }
        case 1: { return vec3<f32>(q, v, p); }
        case 2: { return vec3<f32>(p, v, t); }
        case 3: { return vec3<f32>(p, q, v); }
        case 4: { return vec3<f32>(t, p, v); }
        default: { return vec3<f32>(v, p, q); }
    }
}

@compute @workgroup_size(256)
fn color_jitter_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) lid: u32) {
    let img = wid.y * nwg.x + wid.x;
    // Workgroups past the batch (the folded grid's tail) still run every barrier, writing nothing.
    let live = img < ja.count;
    let hw = ja.hw;
    let base = min(img, ja.count - 1u) * 3u * hw;
    if (live) {
        for (var p = lid; p < hw; p = p + JITTER_LANES) {
            jt_out[base + p] = jt_x[base + p];
            jt_out[base + hw + p] = jt_x[base + hw + p];
            jt_out[base + 2u * hw + p] = jt_x[base + 2u * hw + p];
        }
    }
    let i = jt_index[min(img, ja.count - 1u)];
    let b0 = pcg4d(vec4<u32>(ja.key.x ^ i, ja.key.y, ja.key.z, ja.key.w));
    let b1 = pcg4d(vec4<u32>(ja.key.x ^ i, ja.key.y, ja.key.z ^ 1u, ja.key.w));
    let extreme = ja.always != 0u || b1.x < ja.threshold;
    let lo = select(ja.lo, ja.xlo, extreme);
    let span = select(ja.span, ja.xspan, extreme);
    let u = vec4<f32>(b0 >> vec4<u32>(8u)) * 5.9604645e-8;  // 2^-24
    let factor = lo + span * u;
    // ⌊w·24 / 2³²⌋, then the Lehmer code → the order of the four adjustments
    let w = b1.y;
    var code = (((w >> 16u) * 24u) + (((w & 0xffffu) * 24u) >> 16u)) >> 16u;
    var rest = array<u32, 4>(0u, 1u, 2u, 3u);
    var order = array<u32, 4>(0u, 0u, 0u, 0u);
    var fact = array<u32, 4>(6u, 2u, 1u, 1u);
    var left = 4u;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let j = code / fact[k];
        code = code % fact[k];
        order[k] = rest[j];
        for (var m = j; m + 1u < left; m = m + 1u) {
            rest[m] = rest[m + 1u];
        }
        left = left - 1u;
    }

    for (var step = 0u; step < 4u; step = step + 1u) {
        let op = order[step];
        let f = factor[op];
        var sum = 0.0;
        if (live && op == 1u) {
            for (var p = lid; p < hw; p = p + JITTER_LANES) {
                sum = sum + jt_gray(vec3<f32>(jt_out[base + p], jt_out[base + hw + p], jt_out[base + 2u * hw + p]));
            }
        }
        jt_partial[lid] = sum;
        workgroupBarrier();
        for (var stride = JITTER_LANES / 2u; stride > 0u; stride = stride >> 1u) {
            if (lid < stride) {
                jt_partial[lid] = jt_partial[lid] + jt_partial[lid + stride];
            }
            workgroupBarrier();
        }
        let mean = jt_partial[0] / f32(hw);
        workgroupBarrier();
        if (live) {
            for (var p = lid; p < hw; p = p + JITTER_LANES) {
                var c = vec3<f32>(jt_out[base + p], jt_out[base + hw + p], jt_out[base + 2u * hw + p]);
                if (op == 0u) {
                    c = jt_blend(c, vec3<f32>(0.0), f);
                } else if (op == 1u) {
                    c = jt_blend(c, vec3<f32>(mean), f);
                } else if (op == 2u) {
                    c = jt_blend(c, vec3<f32>(jt_gray(c)), f);
                } else {
                    c = jt_shift_hue(c, f);
                }
                jt_out[base + p] = c.x;
                jt_out[base + hw + p] = c.y;
                jt_out[base + 2u * hw + p] = c.z;
            }
        }
    }
}
