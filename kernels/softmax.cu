// softmax.cu — a port of shaders/softmax.wgsl (launchers in src/ops/softmax/cuda.rs): softmax
// and log_softmax over rows of length c (the last axis), one thread per row.
//
// * softmax_fwd_f32  (SoftmaxArgs; x, y)
//     softmax:      y = exp(x − m) / Σ exp(x − m),   m = max(x)
//     log_softmax:  y = x − m − log Σ exp(x − m)     (a.log ≠ 0)
// * softmax_bwd_f32  (SoftmaxArgs; g, y, dx), from the saved output y:
//     softmax       dx = y · (g − Σ g·y)
//     log_softmax   dx = g − exp(y) · Σ g
//
// Thread → row r = blockIdx.x · 256 + threadIdx.x; the row is x[r·c … r·c + c − 1]. Sums run
// k = 0, 1, …, c − 1 in order, as on the CPU. The maximum uses fmaxf, which skips NaN like the
// CPU's f32::max (a NaN input still makes its row NaN through exp). Products that feed a sum or
// a subtraction use __fmul_rn so NVRTC cannot contract them into FMAs (CPU rounding).
//
// Launch: 1-D, grid = ⌈rows / 256⌉ blocks of BLOCK = 256 threads; threads with r ≥ rows return
// at once (the launcher passes rows = 0 when c = 0).

// The Rust `crate::ops::softmax::SoftmaxArgs` (#[repr(C)], 16 bytes).
struct SoftmaxArgs {
    unsigned rows;
    unsigned c;
    unsigned log;   // 0: softmax, otherwise log_softmax
    unsigned _pad;
};

extern "C" __global__ void softmax_fwd_f32(const SoftmaxArgs sm,
                                           const float* __restrict__ x,
                                           float* __restrict__ y) {
    unsigned r = flat_index();
    if (r >= sm.rows) return;
    const float* xr = x + r * sm.c;
    float* yr = y + r * sm.c;
    float m = __int_as_float(0xff800000);  // −∞
    for (unsigned k = 0u; k < sm.c; ++k) m = fmaxf(m, xr[k]);
    float s = 0.0f;
    for (unsigned k = 0u; k < sm.c; ++k) {
        float e = expf(xr[k] - m);
        yr[k] = e;
        s = s + e;
    }
    if (sm.log != 0u) {
        float ls = logf(s);
        for (unsigned k = 0u; k < sm.c; ++k) yr[k] = xr[k] - m - ls;
    } else {
        float inv = 1.0f / s;
        for (unsigned k = 0u; k < sm.c; ++k) yr[k] = yr[k] * inv;
    }
}

extern "C" __global__ void softmax_bwd_f32(const SoftmaxArgs sm,
                                           const float* __restrict__ g,
                                           const float* __restrict__ y,
                                           float* __restrict__ dx) {
    unsigned r = flat_index();
    if (r >= sm.rows) return;
    unsigned base = r * sm.c;
    float s = 0.0f;
    if (sm.log != 0u) {
        for (unsigned k = 0u; k < sm.c; ++k) s = s + g[base + k];
        for (unsigned k = 0u; k < sm.c; ++k) {
            dx[base + k] = g[base + k] - __fmul_rn(expf(y[base + k]), s);
        }
    } else {
        for (unsigned k = 0u; k < sm.c; ++k) s = s + __fmul_rn(g[base + k], y[base + k]);
        for (unsigned k = 0u; k < sm.c; ++k) {
            dx[base + k] = y[base + k] * (g[base + k] - s);
        }
    }
}
