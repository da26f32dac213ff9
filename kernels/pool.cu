// pool.cu — a port of shaders/pool.wgsl (launchers in src/ops/pool/cuda.rs): pooling over NCHW
// planes (pl = n·C + c).
//
// * max_pool2d_fwd_f32           y, idx over the window          (PoolArgs; x, y, idx)
// * max_pool2d_bwd_f32           dx from g and idx (gather)      (PoolArgs; g, idx, dx)
// * avg_pool2d_fwd_f32           y = Σ window / (kh·kw)          (PoolArgs; x, y)
// * avg_pool2d_bwd_f32           dx = Σ g / (kh·kw)  (gather)    (PoolArgs; g, dx)
// * adaptive_avg_pool2d_fwd_f32  y = Σ window / |window|         (PoolArgs; x, y)
// * adaptive_avg_pool2d_bwd_f32  dx = Σ g / |window|  (gather)   (PoolArgs; g, dx)
//
// Thread → element. Forward: one thread per OUTPUT element i = (pl·OH + oy)·OW + ox, so
//     ox = i mod OW,  oy = (i / OW) mod OH,  pl = i / (OW·OH).
// Backward: one thread per INPUT element i = (pl·H + iy)·W + ix, so
//     ix = i mod W,   iy = (i / W) mod H,    pl = i / (W·H),
// and the thread sums the gradients of every output whose window holds (iy, ix), oy then ox
// ascending (the order the CPU accumulates them in). No atomics.
//
// Windows. Output (oy, ox) covers rows oy·sh − ph … oy·sh − ph + kh − 1, clipped to [0, H)
// (likewise columns). An input row iy lies in the windows oy with
//     ⌈(iy + ph − kh + 1) / sh⌉ ≤ oy ≤ ⌊(iy + ph) / sh⌋      (and oy < OH),
// which is how the backward kernels find the outputs that read a pixel.
// Adaptive windows: rows ⌊oy·H/OH⌋ … ⌈(oy+1)·H/OH⌉ − 1 (PyTorch's formula), likewise columns.
//
// max: strict '>' keeps the first maximum; a NaN wins (as in PyTorch); padding never wins. The
// argmax is stored as the f32 value iy·W + ix (exact below 2²⁴ pixels per plane, checked on the
// host). avg counts padding as zeros (count_include_pad).
//
// Products added to a running sum use __fmul_rn (an exactly rounded multiply) so NVRTC cannot
// contract them into an FMA: the result then rounds like the CPU's.
//
// Launch: 1-D, i = blockIdx.x · 256 + threadIdx.x, grid = ⌈threads / 256⌉ blocks of BLOCK = 256;
// threads = planes·OH·OW forward, planes·H·W backward; threads past the end return at once.

// The Rust `crate::ops::pool::PoolArgs` (#[repr(C)], 48 bytes).
struct PoolArgs {
    unsigned planes;   // N·C
    unsigned h;
    unsigned w;
    unsigned kh;
    unsigned kw;
    unsigned stride_h;
    unsigned stride_w;
    unsigned pad_h;
    unsigned pad_w;
    unsigned out_h;
    unsigned out_w;
    unsigned _pad;
};

// Clipped window [lo, hi) of output o along one axis.
__device__ __forceinline__ void pool_window(unsigned o, unsigned s, unsigned p, unsigned k,
                                            unsigned size, unsigned& lo, unsigned& hi) {
    int start = (int)(o * s) - (int)p;
    lo = (unsigned)max(start, 0);
    hi = (unsigned)max(min(start + (int)k, (int)size), 0);
}

// Outputs [lo, hi) whose window contains input position i along one axis.
__device__ __forceinline__ void pool_outputs_of(unsigned i, unsigned s, unsigned p, unsigned k,
                                                unsigned out, unsigned& lo, unsigned& hi) {
    int t = (int)(i + p) - (int)k + 1;
    lo = 0u;
    if (t > 0) lo = ((unsigned)t + s - 1u) / s;
    unsigned h = min((i + p) / s + 1u, out);
    hi = max(h, lo);
}

// Adaptive window [lo, hi) of output o along one axis.
__device__ __forceinline__ void adaptive_window(unsigned o, unsigned out, unsigned size,
                                                unsigned& lo, unsigned& hi) {
    lo = o * size / out;
    hi = ((o + 1u) * size + out - 1u) / out;
}

extern "C" __global__ void max_pool2d_fwd_f32(const PoolArgs pa,
                                              const float* __restrict__ x,
                                              float* __restrict__ y,
                                              float* __restrict__ idx) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.out_h * pa.out_w) return;
    unsigned ox = i % pa.out_w;
    unsigned oy = (i / pa.out_w) % pa.out_h;
    unsigned pl = i / (pa.out_w * pa.out_h);
    unsigned y0, y1, x0, x1;
    pool_window(oy, pa.stride_h, pa.pad_h, pa.kh, pa.h, y0, y1);
    pool_window(ox, pa.stride_w, pa.pad_w, pa.kw, pa.w, x0, x1);
    const float* xp = x + pl * pa.h * pa.w;
    float best = __int_as_float(0xff800000);  // −∞
    unsigned best_i = y0 * pa.w + x0;
    for (unsigned iy = y0; iy < y1; ++iy) {
        for (unsigned ix = x0; ix < x1; ++ix) {
            float v = xp[iy * pa.w + ix];
            bool v_nan = v != v;
            bool b_nan = best != best;
            if (v > best || (v_nan && !b_nan)) {
                best = v;
                best_i = iy * pa.w + ix;
            }
        }
    }
    y[i] = best;
    idx[i] = (float)best_i;
}

// dx[pl, iy, ix] = Σ g[pl, oy, ox] over the windows containing (iy, ix) whose argmax is it.
extern "C" __global__ void max_pool2d_bwd_f32(const PoolArgs pa,
                                              const float* __restrict__ g,
                                              const float* __restrict__ idx,
                                              float* __restrict__ dx) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.h * pa.w) return;
    unsigned ix = i % pa.w;
    unsigned iy = (i / pa.w) % pa.h;
    unsigned pl = i / (pa.w * pa.h);
    float me = (float)(iy * pa.w + ix);
    unsigned oy0, oy1, ox0, ox1;
    pool_outputs_of(iy, pa.stride_h, pa.pad_h, pa.kh, pa.out_h, oy0, oy1);
    pool_outputs_of(ix, pa.stride_w, pa.pad_w, pa.kw, pa.out_w, ox0, ox1);
    float s = 0.0f;
    for (unsigned oy = oy0; oy < oy1; ++oy) {
        for (unsigned ox = ox0; ox < ox1; ++ox) {
            unsigned o = (pl * pa.out_h + oy) * pa.out_w + ox;
            if (idx[o] == me) s = s + g[o];
        }
    }
    dx[i] = s;
}

// y = (Σ window) · 1/(kh·kw), padding counted as zeros.
extern "C" __global__ void avg_pool2d_fwd_f32(const PoolArgs pa,
                                              const float* __restrict__ x,
                                              float* __restrict__ y) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.out_h * pa.out_w) return;
    unsigned ox = i % pa.out_w;
    unsigned oy = (i / pa.out_w) % pa.out_h;
    unsigned pl = i / (pa.out_w * pa.out_h);
    unsigned y0, y1, x0, x1;
    pool_window(oy, pa.stride_h, pa.pad_h, pa.kh, pa.h, y0, y1);
    pool_window(ox, pa.stride_w, pa.pad_w, pa.kw, pa.w, x0, x1);
    const float* xp = x + pl * pa.h * pa.w;
    float s = 0.0f;
    for (unsigned iy = y0; iy < y1; ++iy) {
        for (unsigned ix = x0; ix < x1; ++ix) {
            s = s + xp[iy * pa.w + ix];
        }
    }
    y[i] = s * (1.0f / (float)(pa.kh * pa.kw));
}

// dx = Σ g · 1/(kh·kw) over the windows containing the pixel.
extern "C" __global__ void avg_pool2d_bwd_f32(const PoolArgs pa,
                                              const float* __restrict__ g,
                                              float* __restrict__ dx) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.h * pa.w) return;
    unsigned ix = i % pa.w;
    unsigned iy = (i / pa.w) % pa.h;
    unsigned pl = i / (pa.w * pa.h);
    float inv = 1.0f / (float)(pa.kh * pa.kw);
    unsigned oy0, oy1, ox0, ox1;
    pool_outputs_of(iy, pa.stride_h, pa.pad_h, pa.kh, pa.out_h, oy0, oy1);
    pool_outputs_of(ix, pa.stride_w, pa.pad_w, pa.kw, pa.out_w, ox0, ox1);
    float s = 0.0f;
    for (unsigned oy = oy0; oy < oy1; ++oy) {
        for (unsigned ox = ox0; ox < ox1; ++ox) {
            s = s + __fmul_rn(g[(pl * pa.out_h + oy) * pa.out_w + ox], inv);
        }
    }
    dx[i] = s;
}

// Adaptive average: sum each column of the window over its rows, then the column sums left to
// right (the CPU kernel's order), divided by the window's area.
extern "C" __global__ void adaptive_avg_pool2d_fwd_f32(const PoolArgs pa,
                                                       const float* __restrict__ x,
                                                       float* __restrict__ y) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.out_h * pa.out_w) return;
    unsigned ox = i % pa.out_w;
    unsigned oy = (i / pa.out_w) % pa.out_h;
    unsigned pl = i / (pa.out_w * pa.out_h);
    unsigned y0, y1, x0, x1;
    adaptive_window(oy, pa.out_h, pa.h, y0, y1);
    adaptive_window(ox, pa.out_w, pa.w, x0, x1);
    const float* xp = x + pl * pa.h * pa.w;
    float s = 0.0f;
    for (unsigned ix = x0; ix < x1; ++ix) {
        float col = 0.0f;
        for (unsigned iy = y0; iy < y1; ++iy) {
            col = col + xp[iy * pa.w + ix];
        }
        s = s + col;
    }
    y[i] = s / (float)((y1 - y0) * (x1 - x0));
}

// dx = Σ g / |window| over the adaptive windows containing the pixel (oy, then ox ascending).
extern "C" __global__ void adaptive_avg_pool2d_bwd_f32(const PoolArgs pa,
                                                       const float* __restrict__ g,
                                                       float* __restrict__ dx) {
    unsigned i = flat_index();
    if (i >= pa.planes * pa.h * pa.w) return;
    unsigned ix = i % pa.w;
    unsigned iy = (i / pa.w) % pa.h;
    unsigned pl = i / (pa.w * pa.h);
    float s = 0.0f;
    for (unsigned oy = 0u; oy < pa.out_h; ++oy) {
        unsigned y0, y1;
        adaptive_window(oy, pa.out_h, pa.h, y0, y1);
        if (iy < y0 || iy >= y1) continue;
        for (unsigned ox = 0u; ox < pa.out_w; ++ox) {
            unsigned x0, x1;
            adaptive_window(ox, pa.out_w, pa.w, x0, x1);
            if (ix < x0 || ix >= x1) continue;
            float area = (float)((y1 - y0) * (x1 - x0));
            s = s + g[(pl * pa.out_h + oy) * pa.out_w + ox] / area;
        }
    }
    dx[i] = s;
}
