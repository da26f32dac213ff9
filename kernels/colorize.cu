// colorize.cu — colorize_fwd_f32, a port of shaders/colorize.wgsl: paint a batch of
// MNIST digits on the GPU with exactly the draws of the CPU (src/data/biased.rs), so every
// device sees the same pixels, bit for bit.
//
// Every draw is a pure function of (key, sample, block) through the pcg4d hash (src/rng.rs;
// all integer arithmetic is 32-bit unsigned and wraps):
//   block(i, c) = pcg4d([K0 ^ i, K1, K2 ^ c, K3]),  K = pcg4d([seed_lo, seed_hi, split, epoch]).
// Block 0 picks the colour (word 0 against the bias, word 1 for one of the 9 other colours) and
// the stripe (word 2: on/off, word 3: along the width or the height). Value p of the 3×28×28
// image (CHW order) takes its noise from word p % 4 of block 1 + p/4, as
//   z = (b0 + b1 + b2 + b3 − 510) / √21845     (the sum of the word's four bytes, standardized)
//   pixel = clamp(gray/255 · colour[c] + clamp(0.05·z + stripe, −0.1, 0.1), 0, 1).
// (Without noise: pixel = gray/255 · colour[c].)
//
// Launch: 1-D, one thread per (image, noise block) — 588 blocks of 4 values per image:
//   t = blockIdx.x · 256 + threadIdx.x < count · 588;   image b = t / 588, block q = t % 588,
//   values p = 4q … 4q+3 of image b, written to out[b · 2352 + p].
//   grid = ⌈count · 588 / 256⌉ blocks of BLOCK = 256.
//
// Buffers, in order: gray (the split's MNIST pixels, 4 bytes per word, little-endian),
// index (per batch image: its sample index in the split), label (per batch image: its label),
// consts (floats: palette 10×3 at 0, stripe table 28 at 30, g/255 for g = 0..255 at 58),
// out (count × 3 × 28 × 28 floats).
//
// The float steps are separately rounded (__fmul_rn / __fadd_rn: never fused into an FMA) in
// the CPU's order, so the pixels equal the CPU's.

// The Rust `ColorizeArgs` of src/ops/colorize/mod.rs (#[repr(C)], 48 bytes).
struct ColorizeArgs {
    unsigned key[4];     // K
    unsigned count;      // images in the batch
    unsigned hard;       // 1: the hard split (never the dominant colour)
    unsigned threshold;  // dominant colour when word 0 < threshold (bias · 2³²) ...
    unsigned always;     // ... or always, when bias · 2³² ≥ 2³²
    unsigned color;      // forced palette index, or 0xffffffff to draw it
    unsigned noise;      // 0: no noise and no stripe
    unsigned _pad[2];
};

#define PIXELS 784u
#define BLOCKS 588u      // 3·784 / 4
#define STRIPE_AT 30u
#define GRAY_AT 58u

// Words, mix4 and pcg4d come from common.cuh.

__device__ __forceinline__ Words block(const ColorizeArgs& ca, unsigned i, unsigned c) {
    return pcg4d(ca.key[0] ^ i, ca.key[1], ca.key[2] ^ c, ca.key[3]);
}

// Standard-normal-like value from the four bytes of w: (Σ bytes − 510) · 1/√21845.
__device__ __forceinline__ float byte_sum_normal(unsigned w) {
    unsigned s = (w & 0xffu) + ((w >> 8) & 0xffu) + ((w >> 16) & 0xffu) + (w >> 24);
    return __fmul_rn((float)((int)s - 510), 0.006765869f);
}

// ⌊b·9 / 2³²⌋ (WGSL has no 64-bit integers; the split into 16-bit halves is kept here).
__device__ __forceinline__ unsigned one_of_nine(unsigned b) {
    unsigned hi = (b >> 16) * 9u;
    unsigned lo = (b & 0xffffu) * 9u;
    return (hi + (lo >> 16)) >> 16;
}

__device__ __forceinline__ unsigned pick_color(const ColorizeArgs& ca, unsigned label,
                                               const Words& b) {
    bool dominant = ca.hard == 0u && (ca.always != 0u || b.w[0] < ca.threshold);
    if (dominant) return label;
    unsigned k = one_of_nine(b.w[1]);
    return k >= label ? k + 1u : k;
}

// Rust's f32::clamp, the CPU's.
__device__ __forceinline__ float clamp_rs(float v, float lo, float hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

extern "C" __global__ void colorize_fwd_f32(const ColorizeArgs ca,
                                            const unsigned* __restrict__ gray,
                                            const unsigned* __restrict__ index,
                                            const unsigned* __restrict__ label,
                                            const float* __restrict__ consts,
                                            float* __restrict__ out) {
    unsigned t = flat_index();
    if (t >= ca.count * BLOCKS) return;
    unsigned b = t / BLOCKS;
    unsigned q = t % BLOCKS;
    unsigned i = index[b];
    Words b0 = block(ca, i, 0u);
    unsigned color = ca.color;
    if (color == 0xffffffffu) color = pick_color(ca, label[b], b0);
    bool stripe_on = (b0.w[2] >> 31) == 0u;
    bool along_width = (b0.w[3] >> 31) == 0u;
    Words words = block(ca, i, 1u + q);
#pragma unroll
    for (unsigned w = 0u; w < 4u; ++w) {
        unsigned p = q * 4u + w;
        unsigned c = p / PIXELS;
        unsigned pix = p % PIXELS;
        unsigned y = pix / 28u;
        unsigned x = pix % 28u;
        unsigned byte_at = i * PIXELS + pix;
        unsigned g = (gray[byte_at >> 2] >> (8u * (byte_at & 3u))) & 0xffu;
        float colored = __fmul_rn(consts[GRAY_AT + g], consts[c + 3u * color]);
        float v = colored;
        if (ca.noise != 0u) {
            float n = __fmul_rn(0.05f, byte_sum_normal(words.w[w]));
            if (stripe_on) {
                n = __fadd_rn(n, consts[STRIPE_AT + (along_width ? x : y)]);
            }
            n = clamp_rs(n, -0.1f, 0.1f);
            v = clamp_rs(__fadd_rn(colored, n), 0.0f, 1.0f);
        }
        out[b * 3u * PIXELS + p] = v;
    }
}
