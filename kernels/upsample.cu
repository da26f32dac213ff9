// upsample.cu — a port of shaders/upsample.wgsl (launcher in src/ops/upsample/cuda.rs).
//
// * upsample_bilinear2d_fwd_f32   bilinear resize of `planes` planes of h×w to out_h×out_w
//                                 (align_corners = false, as PyTorch's F.interpolate)
//                                                                        (UpArgs; x, y)
//
// Along an axis, output o samples the source at s = max((o + 0.5)·in/out − 0.5, 0):
// i0 = min(⌊s⌋, in − 1), i1 = min(i0 + 1, in − 1), weight of i1 t = s − i0. Then, with
// (y0, y1, λ) for the row and (x0, x1, μ) for the column,
//
//     top = (1−μ)·x[y0, x0] + μ·x[y0, x1],   bot = (1−μ)·x[y1, x0] + μ·x[y1, x1],
//     y   = (1−λ)·top + λ·bot                  (plane p's pixels start at p·h·w).
//
// Each product and sum is one IEEE operation, in the CPU's order (nvcc's default
// contraction of a·b + c into an FMA is prevented with __fmul_rn), so results match the CPU.
//
// Launch: 1-D, one thread per output element i = (p·out_h + oy)·out_w + ox,
// i = blockIdx.x · 256 + threadIdx.x, grid = ⌈planes·out_h·out_w / 256⌉ blocks of BLOCK = 256;
// threads with i ≥ planes·out_h·out_w return at once.
//
// The op has no backward (Grad-CAM upsamples maps that need no gradient), so there is no
// backward kernel, matching the WGSL.

// The Rust `crate::ops::upsample::UpArgs` (#[repr(C)], 32 bytes).
struct UpArgs {
    unsigned planes;
    unsigned h;
    unsigned w;
    unsigned out_h;
    unsigned out_w;
    unsigned _pad[3];
};

struct Coord {
    unsigned i0;
    unsigned i1;
    float t;
};

__device__ __forceinline__ Coord up_coord(unsigned o, unsigned in_size, unsigned out_size) {
    float scale = (float)in_size / (float)out_size;
    float s = fmaxf(__fmul_rn((float)o + 0.5f, scale) - 0.5f, 0.0f);
    Coord c;
    c.i0 = min((unsigned)floorf(s), in_size - 1u);
    c.i1 = min(c.i0 + 1u, in_size - 1u);
    c.t = s - (float)c.i0;
    return c;
}

// (1 − t)·a + t·b with two separately rounded products (no FMA contraction).
__device__ __forceinline__ float up_lerp(float a, float b, float t) {
    return __fmul_rn(1.0f - t, a) + __fmul_rn(t, b);
}

extern "C" __global__ void upsample_bilinear2d_fwd_f32(const UpArgs ua,
                                                       const float* __restrict__ x,
                                                       float* __restrict__ y) {
    unsigned i = flat_index();
    if (i >= ua.planes * ua.out_h * ua.out_w) return;
    unsigned ox = i % ua.out_w;
    unsigned oy = (i / ua.out_w) % ua.out_h;
    unsigned p = i / (ua.out_w * ua.out_h);
    Coord cy = up_coord(oy, ua.h, ua.out_h);
    Coord cx = up_coord(ox, ua.w, ua.out_w);
    unsigned base = p * ua.h * ua.w;
    float top = up_lerp(x[base + cy.i0 * ua.w + cx.i0], x[base + cy.i0 * ua.w + cx.i1], cx.t);
    float bot = up_lerp(x[base + cy.i1 * ua.w + cx.i0], x[base + cy.i1 * ua.w + cx.i1], cx.t);
    y[i] = up_lerp(top, bot, cy.t);
}
