// colorize.wgsl — colorize_fwd_f32: paint a batch of MNIST digits on the GPU with exactly
// the draws of the CPU (src/data/biased.rs), so both devices see the same pixels.
//
// Every draw is a pure function of (key, sample, block) through the pcg4d hash:
//   block(i, c) = pcg4d([K0 ^ i, K1, K2 ^ c, K3]),  K = pcg4d([seed_lo, seed_hi, split, epoch]).
// Block 0 picks the colour (word 0 against the bias, word 1 for one of the 9 other colours) and
// the stripe (word 2: on/off, word 3: along the width or the height). Value p of the 3×28×28
// image (CHW order) takes its noise from word p % 4 of block 1 + p/4, as
//   z = (b0 + b1 + b2 + b3 − 510) / √21845     (the sum of the word's four bytes, standardized)
//   pixel = clamp(gray/255 · colour[c] + clamp(0.05·z + stripe, −0.1, 0.1), 0, 1).
// One thread per (image, noise block): 4 values each.

struct ColorizeArgs {
    key: vec4<u32>,
    count: u32,      // images in the batch
    hard: u32,       // 1: the hard split (never the dominant colour)
    threshold: u32,  // dominant colour when word 0 < threshold (bias · 2³²) ...
    always: u32,     // ... or always, when bias · 2³² ≥ 2³²
    color: u32,      // forced palette index, or 0xffffffff to draw it
    noise: u32,      // 0: no noise and no stripe
    _p0: u32,
    _p1: u32,
};

@group(0) @binding(0) var<uniform> ca: ColorizeArgs;
// MNIST pixels of the whole split, 4 bytes per word (uploaded once).
@group(0) @binding(1) var<storage, read> cz_gray: array<u32>;
// Per batch image: its sample index in the split, and its label.
@group(0) @binding(2) var<storage, read> cz_index: array<u32>;
@group(0) @binding(3) var<storage, read> cz_label: array<u32>;
// Constants from the host: palette (10 × 3), stripe table (28), g/255 for g = 0..255.
@group(0) @binding(4) var<storage, read> cz_const: array<f32>;
@group(0) @binding(5) var<storage, read_write> cz_out: array<f32>;

const PIXELS: u32 = 784u;
const BLOCKS: u32 = 588u;   // 3·784 / 4
const STRIPE_AT: u32 = 30u;
const GRAY_AT: u32 = 58u;

// mix4 and pcg4d come from common.wgsl.

fn block(i: u32, c: u32) -> vec4<u32> {
    return pcg4d(vec4<u32>(ca.key.x ^ i, ca.key.y, ca.key.z ^ c, ca.key.w));
}

fn byte_sum_normal(w: u32) -> f32 {
    let s = (w & 0xffu) + ((w >> 8u) & 0xffu) + ((w >> 16u) & 0xffu) + (w >> 24u);
    return f32(i32(s) - 510) * 0.006765869;
}

// ⌊b·9 / 2³²⌋ without 64-bit integers: split b into 16-bit halves.
fn one_of_nine(b: u32) -> u32 {
    let hi = (b >> 16u) * 9u;
    let lo = (b & 0xffffu) * 9u;
    return (hi + (lo >> 16u)) >> 16u;
}

fn pick_color(label: u32, b: vec4<u32>) -> u32 {
    let dominant = ca.hard == 0u && (ca.always != 0u || b.x < ca.threshold);
    if (dominant) { return label; }
    let k = one_of_nine(b.y);
    return select(k, k + 1u, k >= label);
}

@compute @workgroup_size(256)
fn colorize_fwd_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let t = flat_index(wid, nwg, lid);
    if (t >= ca.count * BLOCKS) { return; }
    let b = t / BLOCKS;
    let q = t % BLOCKS;
    let i = cz_index[b];
    let b0 = block(i, 0u);
    var color = ca.color;
    if (color == 0xffffffffu) { color = pick_color(cz_label[b], b0); }
    let stripe_on = (b0.z >> 31u) == 0u;
    let along_width = (b0.w >> 31u) == 0u;
    let words = block(i, 1u + q);
    for (var w = 0u; w < 4u; w = w + 1u) {
        let p = q * 4u + w;
        let c = p / PIXELS;
        let pix = p % PIXELS;
        let y = pix / 28u;
        let x = pix % 28u;
        let byte_at = i * PIXELS + pix;
        let g = (cz_gray[byte_at >> 2u] >> (8u * (byte_at & 3u))) & 0xffu;
        let colored = cz_const[GRAY_AT + g] * cz_const[c + 3u * color];
        var v = colored;
        if (ca.noise != 0u) {
            var n = 0.05 * byte_sum_normal(words[w]);
            if (stripe_on) {
                n = n + cz_const[STRIPE_AT + select(y, x, along_width)];
            }
            n = clamp(n, -0.1, 0.1);
            v = clamp(colored + n, 0.0, 1.0);
        }
        cz_out[b * 3u * PIXELS + p] = v;
    }
}
