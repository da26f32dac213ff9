// relu.cu — a port of shaders/relu.wgsl (launchers in src/ops/relu/cuda.rs).
//
// * relu_fwd_f32   y[i]  = x[i] > 0 ? x[i] : 0          (ElemArgs; x, y)
// * relu_bwd_f32   dx[i] = y[i] > 0 ? g[i] : 0          (ElemArgs; g, y, dx)
//
// NaN maps to 0, as on the CPU, because NaN > 0 is false. The backward reads the forward's
// *output* y (x > 0 ⇔ y > 0).
//
// Launch: 1-D, one thread per element, i = blockIdx.x · 256 + threadIdx.x, grid = ⌈n / 256⌉
// blocks of BLOCK = 256; threads with i ≥ n return at once.

// The Rust `crate::device::args::ElemArgs` (#[repr(C)], 16 bytes); only n is used here.
struct ElemArgs {
    unsigned n;
    unsigned op;
    float s0;
    float s1;
};

extern "C" __global__ void relu_fwd_f32(const ElemArgs ra,
                                        const float* __restrict__ x,
                                        float* __restrict__ y) {
    unsigned i = flat_index();
    if (i >= ra.n) return;
    float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;
}

extern "C" __global__ void relu_bwd_f32(const ElemArgs ra,
                                        const float* __restrict__ g,
                                        const float* __restrict__ y,
                                        float* __restrict__ dx) {
    unsigned i = flat_index();
    if (i >= ra.n) return;
    dx[i] = y[i] > 0.0f ? g[i] : 0.0f;
}
