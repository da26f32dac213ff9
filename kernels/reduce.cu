// reduce.cu — a port of shaders/reduce.wgsl (launchers in src/ops/reduce/cuda.rs): reductions
// over the middle axis of an [outer, n, inner] view,
//     out[o, i] = reduce_k x[o, k, i],    x[o, k, i] at (o·n + k)·inner + i,   out at o·inner + i.
//
// * sum_axis_f32     out = Σ_k x, k ascending                     (ReduceArgs; x, out)
//     one thread per output j = o·inner + i  (o = j / inner, i = j mod inner);
//     1-D launch, outer·inner threads.
// * sum_axis_wg_f32  out = Σ_k x for long rows (the launcher uses it when inner = 1, n ≥ 1024)
//     one BLOCK of 256 threads per output j = blockIdx.x: thread t sums k = t, t + 256, t + 512, …
//     in that order, then a tree in shared memory halves the 256 partial sums 8 times
//     (partial[t] += partial[t + h] for h = 128, 64, …, 1), exactly the WGSL workgroup tree.
//     Launch: grid = outer·inner blocks, block = 256 threads. Fixed order: deterministic.
// * max_axis_f32     out = max_k x and the first k reaching it, as f32 (ReduceArgs; x, val, idx)
//     one thread per output j; a NaN wins (as in PyTorch); 1-D launch, outer·inner threads.
// * max_bwd_f32      dx[o, k, i] = g[o, i] if k is the argmax, else 0   (ReduceArgs; g, idx, dx)
//     one thread per dx element e = (o·n + k)·inner + i:
//     i = e mod inner, k = (e / inner) mod n, o = e / (inner·n); 1-D launch, outer·n·inner threads.
//
// 1-D launches: i = blockIdx.x · 256 + threadIdx.x, grid = ⌈threads / 256⌉ blocks of BLOCK = 256;
// threads past the end return at once.

// The Rust `crate::ops::reduce::ReduceArgs` (#[repr(C)], 16 bytes).
struct ReduceArgs {
    unsigned outer;
    unsigned n;
    unsigned inner;
    unsigned _pad;
};

extern "C" __global__ void sum_axis_f32(const ReduceArgs ra,
                                        const float* __restrict__ x,
                                        float* __restrict__ out) {
    unsigned j = flat_index();
    if (j >= ra.outer * ra.inner) return;
    unsigned o = j / ra.inner;
    unsigned i = j % ra.inner;
    float s = 0.0f;
    for (unsigned k = 0u; k < ra.n; ++k) {
        s = s + x[(o * ra.n + k) * ra.inner + i];
    }
    out[j] = s;
}

// Must run with blockDim.x == BLOCK (256): the tree below assumes 256 partial sums.
extern "C" __global__ void sum_axis_wg_f32(const ReduceArgs ra,
                                           const float* __restrict__ x,
                                           float* __restrict__ out) {
    __shared__ float partial[BLOCK];
    unsigned lid = threadIdx.x;
    unsigned j = blockIdx.x;
    unsigned total = ra.outer * ra.inner;
    unsigned o = j / ra.inner;
    unsigned i = j % ra.inner;
    float s = 0.0f;
    if (j < total) {
        for (unsigned k = lid; k < ra.n; k += BLOCK) {
            s = s + x[(o * ra.n + k) * ra.inner + i];
        }
    }
    partial[lid] = s;
    __syncthreads();
    for (unsigned half = BLOCK / 2u; half > 0u; half >>= 1) {
        if (lid < half) {
            partial[lid] = partial[lid] + partial[lid + half];
        }
        __syncthreads();
    }
    if (lid == 0u && j < total) {
        out[j] = partial[0];
    }
}

extern "C" __global__ void max_axis_f32(const ReduceArgs ra,
                                        const float* __restrict__ x,
                                        float* __restrict__ val,
                                        float* __restrict__ idx) {
    unsigned j = flat_index();
    if (j >= ra.outer * ra.inner) return;
    if (ra.n == 0u) {  // nothing to read (the host rejects this; never read out of bounds)
        val[j] = nan_f32();
        idx[j] = 0.0f;
        return;
    }
    unsigned o = j / ra.inner;
    unsigned i = j % ra.inner;
    float best = x[o * ra.n * ra.inner + i];
    unsigned bi = 0u;
    for (unsigned k = 1u; k < ra.n; ++k) {
        float v = x[(o * ra.n + k) * ra.inner + i];
        if (v > best || (v != v && best == best)) {
            best = v;
            bi = k;
        }
    }
    val[j] = best;
    idx[j] = (float)bi;
}

extern "C" __global__ void max_bwd_f32(const ReduceArgs ra,
                                       const float* __restrict__ g,
                                       const float* __restrict__ idx,
                                       float* __restrict__ dx) {
    unsigned e = flat_index();
    if (e >= ra.outer * ra.n * ra.inner) return;
    unsigned i = e % ra.inner;
    unsigned k = (e / ra.inner) % ra.n;
    unsigned o = e / (ra.inner * ra.n);
    unsigned j = o * ra.inner + i;
    dx[e] = ((unsigned)idx[j] == k) ? g[j] : 0.0f;
}
