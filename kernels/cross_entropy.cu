// cross_entropy.cu — a port of shaders/cross_entropy.wgsl (launchers in
// src/ops/cross_entropy/cuda.rs): per-sample cross-entropy from logits x[n, c], log-softmax and
// NLL fused. Targets t are class indices stored as f32.
//
// * cross_entropy_fwd_f32  (CeArgs; x, t, loss)
//     loss[i]  = logsumexp(x[i]) − x[i, t[i]]
// * cross_entropy_bwd_f32  (CeArgs; x, t, g, dx)
//     dx[i, k] = g[i] · (exp(x[i, k] − logsumexp(x[i])) − [k = t[i]])
//   (the softmax is recomputed from the logits rather than stored).
//
// logsumexp(row) = m + log Σ_k exp(x[k] − m), m = the row maximum (fmaxf: NaN skipped, like
// the CPU's f32::max), k ascending.
//
// Thread → sample i = blockIdx.x · 256 + threadIdx.x (rows are short: the classes), row
// x[i·c … i·c + c − 1]. A target outside [0, c) (possible only when targets come from a device
// tensor the host did not range-check) gives loss NaN instead of reading out of bounds; its
// gradient row is then g·softmax (no one-hot match).
//
// Launch: 1-D, grid = ⌈n / 256⌉ blocks of BLOCK = 256 threads; threads with i ≥ n return.

// The Rust `crate::ops::cross_entropy::CeArgs` (#[repr(C)], 16 bytes).
struct CeArgs {
    unsigned n;
    unsigned c;
    unsigned _pad[2];
};

__device__ __forceinline__ float ce_logsumexp(const float* __restrict__ row, unsigned c) {
    float m = __int_as_float(0xff800000);  // −∞
    for (unsigned k = 0u; k < c; ++k) m = fmaxf(m, row[k]);
    float s = 0.0f;
    for (unsigned k = 0u; k < c; ++k) s = s + expf(row[k] - m);
    return m + logf(s);
}

extern "C" __global__ void cross_entropy_fwd_f32(const CeArgs ce,
                                                 const float* __restrict__ x,
                                                 const float* __restrict__ t,
                                                 float* __restrict__ loss) {
    unsigned i = flat_index();
    if (i >= ce.n) return;
    const float* row = x + i * ce.c;
    float tv = t[i];
    // !(tv >= 0) also catches NaN.
    if (!(tv >= 0.0f) || (unsigned)tv >= ce.c) {
        loss[i] = nan_f32();
        return;
    }
    loss[i] = ce_logsumexp(row, ce.c) - row[(unsigned)tv];
}

extern "C" __global__ void cross_entropy_bwd_f32(const CeArgs ce,
                                                 const float* __restrict__ x,
                                                 const float* __restrict__ t,
                                                 const float* __restrict__ g,
                                                 float* __restrict__ dx) {
    unsigned i = flat_index();
    if (i >= ce.n) return;
    const float* row = x + i * ce.c;
    float lse = ce_logsumexp(row, ce.c);
    float tv = t[i];
    // A NaN or negative target would convert to class 0; send it (like one ≥ c) past the last
    // class so no k matches it.
    unsigned tc = (tv >= 0.0f) ? (unsigned)tv : ce.c;
    float gi = g[i];
    for (unsigned k = 0u; k < ce.c; ++k) {
        float onehot = (k == tc) ? 1.0f : 0.0f;
        dx[i * ce.c + k] = gi * (expf(row[k] - lse) - onehot);
    }
}
