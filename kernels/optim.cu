// optim.cu — fused optimizer updates, a port of shaders/optim.wgsl (launchers in
// src/ops/optim/cuda.rs). PyTorch's rules; src/ops/optim/cpu.rs is the reference.
//
// One thread per parameter, in place on the parameter and the optimizer state:
//     i = blockIdx.x · 256 + threadIdx.x,   threads with i ≥ n return at once;
//     grid = ⌈n / 256⌉ blocks of BLOCK = 256.
// WGSL reads n as arrayLength(param); CUDA has no buffer lengths, so the launcher passes n
// after the op's argument struct (AdamStepArgs / SgdStepArgs, defined in cuda.rs).
//
// * adam_step_f32 (AdamStepArgs; p, g, m, v)
//       g ← g + wd·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)·g·g
//       p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + eps)
// * sgd_step_f32 (SgdStepArgs; p, g, buf)
//       d ← g + wd·p;  buf ← d (first step) or μ·buf + (1−dampening)·d;
//       d ← d + μ·buf (Nesterov) or buf;  p ← p − lr·d.   Momentum 0: p ← p − lr·(g + wd·p).
//
// Every product and sum is a separately rounded IEEE operation (__fmul_rn / __fadd_rn, which
// the compiler never fuses into an FMA), in the CPU's order, so the updates match the CPU
// bit for bit (sqrtf and '/' are IEEE-exact without --use_fast_math).

// The Rust `AdamArgs` of src/ops/optim/mod.rs (#[repr(C)], 32 bytes).
struct AdamArgs {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    float bias_correction1;        // 1 − β₁ᵗ
    float bias_correction2_sqrt;   // √(1 − β₂ᵗ)
    float _pad;
};

// The Rust `SgdArgs` of src/ops/optim/mod.rs (#[repr(C)], 32 bytes).
struct SgdArgs {
    float lr;
    float momentum;
    float dampening;
    float weight_decay;
    unsigned nesterov;             // 1 for Nesterov momentum
    unsigned first_step;           // 1 on the first step: buf starts as d
    unsigned _pad[2];
};

// The Rust `AdamStepArgs` of src/ops/optim/cuda.rs (#[repr(C)], 36 bytes).
struct AdamStepArgs {
    AdamArgs args;
    unsigned n;                    // parameters
};

// The Rust `SgdStepArgs` of src/ops/optim/cuda.rs (#[repr(C)], 36 bytes).
struct SgdStepArgs {
    SgdArgs args;
    unsigned n;                    // parameters
};

extern "C" __global__ void adam_step_f32(const AdamStepArgs s,
                                         float* param,
                                         const float* __restrict__ grad,
                                         float* m_state,
                                         float* v_state) {
    unsigned i = flat_index();
    if (i >= s.n) return;
    const AdamArgs& a = s.args;
    float p = param[i];
    float g = __fadd_rn(grad[i], __fmul_rn(a.weight_decay, p));
    float m = __fadd_rn(__fmul_rn(a.beta1, m_state[i]), __fmul_rn(1.0f - a.beta1, g));
    float v = __fadd_rn(__fmul_rn(a.beta2, v_state[i]),
                        __fmul_rn(__fmul_rn(1.0f - a.beta2, g), g));
    m_state[i] = m;
    v_state[i] = v;
    float denom = __fadd_rn(sqrtf(v) / a.bias_correction2_sqrt, a.eps);
    float step = a.lr / a.bias_correction1;
    param[i] = __fsub_rn(p, __fmul_rn(step, m) / denom);
}

extern "C" __global__ void sgd_step_f32(const SgdStepArgs s,
                                        float* param,
                                        const float* __restrict__ grad,
                                        float* buf) {
    unsigned i = flat_index();
    if (i >= s.n) return;
    const SgdArgs& a = s.args;
    float p = param[i];
    float d = __fadd_rn(grad[i], __fmul_rn(a.weight_decay, p));
    if (a.momentum != 0.0f) {
        float b = d;
        if (a.first_step == 0u) {
            b = __fadd_rn(__fmul_rn(a.momentum, buf[i]), __fmul_rn(1.0f - a.dampening, d));
        }
        buf[i] = b;
        d = a.nesterov != 0u ? __fadd_rn(d, __fmul_rn(a.momentum, b)) : b;
    }
    param[i] = __fsub_rn(p, __fmul_rn(a.lr, d));
}
