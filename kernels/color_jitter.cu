// color_jitter.cu — color_jitter_fwd_f32: torchvision's ColorJitter on a batch of RGB images,
// one draw per image, a port of shaders/color_jitter.wgsl with the CPU kernel's formulas and
// order (src/ops/color_jitter/cpu.rs; the op's docs in src/ops/color_jitter/mod.rs).
//
// Draws for sample i (all integer arithmetic 32-bit unsigned, wrapping):
//   b0 = pcg4d(K0 ^ i, K1, K2, K3)      word k → u_k = (w >> 8) · 2⁻²⁴, factor_k = lo_k + span_k·u_k
//   b1 = pcg4d(K0 ^ i, K1, K2 ^ 1, K3)  word 0 < threshold (or always) → the extreme ranges;
//                                        word 1 → ⌊w·24/2³²⌋ → the order (Lehmer code)
// Adjustments: 0 brightness  x ← clamp(f·x, 0, 1)
//              1 contrast    x ← clamp(f·x + (1−f)·m, 0, 1), m = mean gray of the image
//              2 saturation  x ← clamp(f·x + (1−f)·gray(pixel), 0, 1)
//              3 hue         RGB → HSV, H ← (H + f) mod 1, HSV → RGB (torchvision's formulas)
// gray = 0.2989·r + 0.587·g + 0.114·b.
//
// Launch: one block of 256 threads per image (grid = count). out starts as a copy of x made by
// the kernel itself; thread l owns (all three channels of) pixels l, l + 256, … of its image for all four steps, so
// the only exchange between threads is the contrast mean: each thread sums the grays of its
// pixels in order, then a shared-memory tree (strides 128 … 1) adds the 256 partial sums — the
// CPU kernel sums in exactly this order. The tree runs at every step (its input is 0 when the
// step is not contrast), so __syncthreads() is never inside a branch.
//
// Buffers, in order: x (count × 3 × hw floats), index (u32 per image), out (like x).
// Float steps are separately rounded (__fmul_rn / __fadd_rn), as the CPU computes them.

// The Rust `JitterArgs` of src/ops/color_jitter/mod.rs (#[repr(C)], 96 bytes).
struct JitterArgs {
    unsigned key[4];
    unsigned count;      // images
    unsigned hw;         // pixels per plane
    unsigned threshold;  // extreme when word 0 of block 1 < threshold ...
    unsigned always;     // ... or always
    float lo[4];         // brightness, contrast, saturation, hue: lower ends ...
    float span[4];       // ... and widths of the normal ranges
    float xlo[4];        // the extreme ranges
    float xspan[4];
};

#define JITTER_LANES 256u

// pcg4d (Words) comes from common.cuh.

__device__ __forceinline__ float jt_clamp01(float v) {
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

__device__ __forceinline__ float jt_gray(float r, float g, float b) {
    return __fadd_rn(__fadd_rn(__fmul_rn(0.2989f, r), __fmul_rn(0.587f, g)), __fmul_rn(0.114f, b));
}

// clamp(f·a + (1 − f)·b, 0, 1)
__device__ __forceinline__ float jt_blend(float a, float b, float f) {
    return jt_clamp01(__fadd_rn(__fmul_rn(f, a), __fmul_rn(__fsub_rn(1.0f, f), b)));
}

__device__ void jt_shift_hue(float& r, float& g, float& b, float shift) {
    // _rgb2hsv
    float maxc = fmaxf(fmaxf(r, g), b);
    float minc = fminf(fminf(r, g), b);
    bool eqc = maxc == minc;
    float cr = __fsub_rn(maxc, minc);
    float s = __fdiv_rn(cr, eqc ? 1.0f : maxc);
    float crd = eqc ? 1.0f : cr;
    float rc = __fdiv_rn(__fsub_rn(maxc, r), crd);
    float gc = __fdiv_rn(__fsub_rn(maxc, g), crd);
    float bc = __fdiv_rn(__fsub_rn(maxc, b), crd);
    float h;
    if (maxc == r) h = __fsub_rn(bc, gc);
    else if (maxc == g) h = __fsub_rn(__fadd_rn(2.0f, rc), bc);
    else h = __fsub_rn(__fadd_rn(4.0f, gc), rc);
    float x = __fadd_rn(__fdiv_rn(h, 6.0f), 1.0f);
    h = __fsub_rn(x, floorf(x));
    float v = maxc;
    // H ← (H + shift) mod 1
    h = __fadd_rn(h, shift);
    h = __fsub_rn(h, floorf(h));
    // _hsv2rgb
    float h6 = __fmul_rn(h, 6.0f);
    float fi = floorf(h6);
    float f = __fsub_rn(h6, fi);
    float p = jt_clamp01(__fmul_rn(v, __fsub_rn(1.0f, s)));
    float q = jt_clamp01(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, f))));
    float t = jt_clamp01(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, __fsub_rn(1.0f, f)))));
    int i = ((int)fi % 6 + 6) % 6;
    switch (i) {
        case 0: r = v; g = t; b = p; break;
        case 1: r = q; g = v; b = p; break;
        case 2: r = p; g = v; b = t; break;
        case 3: r = p; g = q; b = v; break;
        case 4: r = t; g = p; b = v; break;
        default: r = v; g = p; b = q; break;
    }
}

extern "C" __global__ void color_jitter_fwd_f32(const JitterArgs a,
                                                const float* __restrict__ x,
                                                const unsigned* __restrict__ index,
                                                float* __restrict__ out) {
    __shared__ float partial[JITTER_LANES];
    unsigned img = blockIdx.x;
    unsigned lid = threadIdx.x;
    if (img >= a.count) return;  // the whole block returns together
    unsigned hw = a.hw;
    const float* src = x + (size_t)img * 3u * hw;
    float* dst = out + (size_t)img * 3u * hw;
    for (unsigned p = lid; p < hw; p += JITTER_LANES) {
        dst[p] = src[p];
        dst[hw + p] = src[hw + p];
        dst[2u * hw + p] = src[2u * hw + p];
    }

    unsigned i = index[img];
    Words w0 = pcg4d(a.key[0] ^ i, a.key[1], a.key[2], a.key[3]);
    Words w1 = pcg4d(a.key[0] ^ i, a.key[1], a.key[2] ^ 1u, a.key[3]);
    const unsigned* b0 = w0.w;
    const unsigned* b1 = w1.w;
    bool extreme = a.always != 0u || b1[0] < a.threshold;
    float factor[4];
    for (int k = 0; k < 4; ++k) {
        float lo = extreme ? a.xlo[k] : a.lo[k];
        float span = extreme ? a.xspan[k] : a.span[k];
        float u = __fmul_rn((float)(b0[k] >> 8), 5.9604645e-8f);  // 2^-24
        factor[k] = __fadd_rn(lo, __fmul_rn(span, u));
    }
    // ⌊w·24 / 2³²⌋, then the Lehmer code → the order of the four adjustments
    unsigned w = b1[1];
    unsigned code = (((w >> 16) * 24u) + (((w & 0xffffu) * 24u) >> 16)) >> 16;
    unsigned rest[4] = {0u, 1u, 2u, 3u};
    unsigned order[4];
    const unsigned fact[4] = {6u, 2u, 1u, 1u};
    unsigned left = 4u;
    for (int k = 0; k < 4; ++k) {
        unsigned j = code / fact[k];
        code %= fact[k];
        order[k] = rest[j];
        for (unsigned m = j; m + 1u < left; ++m) rest[m] = rest[m + 1u];
        --left;
    }

    for (int step = 0; step < 4; ++step) {
        unsigned op = order[step];
        float f = factor[op];
        // the contrast mean (every step, so the barriers are never inside a branch)
        float sum = 0.0f;
        if (op == 1u) {
            for (unsigned p = lid; p < hw; p += JITTER_LANES)
                sum = __fadd_rn(sum, jt_gray(dst[p], dst[hw + p], dst[2u * hw + p]));
        }
        partial[lid] = sum;
        __syncthreads();
        for (unsigned stride = JITTER_LANES / 2u; stride > 0u; stride >>= 1) {
            if (lid < stride) partial[lid] = __fadd_rn(partial[lid], partial[lid + stride]);
            __syncthreads();
        }
        float mean = __fdiv_rn(partial[0], (float)hw);
        __syncthreads();
        for (unsigned p = lid; p < hw; p += JITTER_LANES) {
            float r = dst[p], g = dst[hw + p], b = dst[2u * hw + p];
            if (op == 0u) {
                r = jt_blend(r, 0.0f, f); g = jt_blend(g, 0.0f, f); b = jt_blend(b, 0.0f, f);
            } else if (op == 1u) {
                r = jt_blend(r, mean, f); g = jt_blend(g, mean, f); b = jt_blend(b, mean, f);
            } else if (op == 2u) {
                float l = jt_gray(r, g, b);
                r = jt_blend(r, l, f); g = jt_blend(g, l, f); b = jt_blend(b, l, f);
            } else {
                jt_shift_hue(r, g, b, f);
            }
            dst[p] = r; dst[hw + p] = g; dst[2u * hw + p] = b;
        }
    }
}
