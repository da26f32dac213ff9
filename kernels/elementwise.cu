// elementwise.cu — broadcasting binary ops, unary ops, sum_to and broadcast_to
// (a port of shaders/elementwise.wgsl; launchers in src/ops/elementwise/cuda.rs).
//
// Every kernel is 1-D, one thread per OUTPUT element, in blocks of BLOCK = 256 threads:
//     i = blockIdx.x · 256 + threadIdx.x,   threads with i ≥ n return at once;
//     grid = ⌈n / 256⌉ blocks.
//
// Broadcasting (NumPy's rule): an operand is read through *broadcast strides*, its contiguous
// stride along an axis, or 0 where it repeats. Output element i, with multi-index
// (i_0 … i_{r−1}) in the output shape (row-major, last axis fastest), reads operand element
//     Σ_d i_d · bstride_d.
// The multi-index is peeled off from the last axis: i_d = rem % out_dims[d], rem /= out_dims[d].
//
// * binary_fwd_f32       out[i] = f(a[off_a(i)], b[off_b(i)])           (ShapeArgs; a, b, out)
// * broadcast_to_fwd_f32 out[i] = src[off_a(i)]                          (ShapeArgs; src, out)
// * sum_to_fwd_f32       out[j] = Σ_k src[base(j) + off(k)]              (ShapeArgs; src, out)
//       the inverse of broadcasting, as a gather: output element j sums, in a fixed order, the
//       `count` source elements broadcasting would have copied it to (see the kernel).
// * unary_fwd_f32        y[i] = f(x[i])                                  (ElemArgs; x, y)
//
// Float arithmetic is one IEEE operation per CPU operation (no a·b + c here is fused), so the
// results match the CPU kernels of src/ops/elementwise/cpu.rs.

// The Rust `crate::device::args::ShapeArgs` (#[repr(C)], 144 bytes). WGSL stores the 8-axis
// arrays as array<vec4<u32>, 2>: the same bytes as these plain arrays.
struct ShapeArgs {
    unsigned n;             // output elements
    unsigned rank;          // axes of out_dims (≤ 8)
    unsigned op;            // BinaryOp code (binary_fwd_f32)
    unsigned count;         // source elements summed per output element (sum_to_fwd_f32)
    unsigned out_dims[8];
    unsigned a_strides[8];  // broadcast strides of a / src (sum_to: the source's contiguous strides)
    unsigned b_strides[8];  // broadcast strides of b
    unsigned extra[8];      // sum_to: the source dims
};

// The Rust `crate::device::args::ElemArgs` (#[repr(C)], 16 bytes).
struct ElemArgs {
    unsigned n;
    unsigned op;            // UnaryOp code
    float s0;               // the op's scalars
    float s1;
};

// Offsets into operands a and b of output element i.
__device__ __forceinline__ void bcast_offsets(const ShapeArgs& sa, unsigned i,
                                              unsigned* off_a, unsigned* off_b) {
    unsigned rem = i;
    unsigned oa = 0u, ob = 0u;
    for (int d = (int)sa.rank - 1; d >= 0; --d) {
        unsigned size = sa.out_dims[d];
        unsigned idx = rem % size;
        rem = rem / size;
        oa += idx * sa.a_strides[d];
        ob += idx * sa.b_strides[d];
    }
    *off_a = oa;
    *off_b = ob;
}

// Op codes of BinaryOp, in declaration order (src/ops/elementwise/cuda.rs, binary_code).
__device__ __forceinline__ float binary_op(unsigned op, float x, float y) {
    switch (op) {
        case 0u: return x + y;
        case 1u: return x - y;
        case 2u: return x * y;
        case 3u: return x / y;
        case 4u: return x <= y ? x : y;          // minimum (ties and NaN as the WGSL select)
        case 5u: return x >= y ? x : y;          // maximum
        case 6u: return x > y ? 1.0f : 0.0f;
        case 7u: return x >= y ? 1.0f : 0.0f;
        case 8u: return x < y ? 1.0f : 0.0f;
        case 9u: return x <= y ? 1.0f : 0.0f;
        default: return x == y ? 1.0f : 0.0f;
    }
}

// out[i] = f(a[off_a(i)], b[off_b(i)])
extern "C" __global__ void binary_fwd_f32(const ShapeArgs sa,
                                          const float* __restrict__ a,
                                          const float* __restrict__ b,
                                          float* __restrict__ out) {
    unsigned i = flat_index();
    if (i >= sa.n) return;
    unsigned oa, ob;
    bcast_offsets(sa, i, &oa, &ob);
    out[i] = binary_op(sa.op, a[oa], b[ob]);
}

// broadcast_to: out[i] = src[off_a(i)]
extern "C" __global__ void broadcast_to_fwd_f32(const ShapeArgs sa,
                                                const float* __restrict__ src,
                                                float* __restrict__ out) {
    unsigned i = flat_index();
    if (i >= sa.n) return;
    unsigned oa, ob;
    bcast_offsets(sa, i, &oa, &ob);
    out[i] = src[oa];
}

// sum_to (the inverse of broadcasting), as a gather: output element j (multi-index over
// out_dims = the destination padded with leading 1s to the source's rank) sums the `count`
// source elements that broadcasting would have copied it to. Axis d is *reduced* when the
// destination has size 1 there and the source does not; k enumerates the reduced axes in
// row-major order (last axis fastest), the order the CPU kernel adds them in.
// a_strides = the source's contiguous strides, extra = the source dims.
//     base(j) = Σ_d j_d · a_strides[d]
//     off(k)  = Σ_{d reduced} k_d · a_strides[d]    (k_d peeled off k from the last axis)
extern "C" __global__ void sum_to_fwd_f32(const ShapeArgs sa,
                                          const float* __restrict__ src,
                                          float* __restrict__ out) {
    unsigned j = flat_index();
    if (j >= sa.n) return;
    // The reduced axes, innermost first: their sizes and source strides, gathered from the
    // parameter struct once. (Reading sa.extra[d] and sa.out_dims[d] with a run-time d inside
    // the k loop, as the WGSL kernel does, gave wrong sums and out-of-bounds reads for rank-4
    // tensors on an H200 with NVRTC 13.0 — rank 3 was right; the cause was not pinned down.
    // tests/parity_cases sum_to_and_broadcast_to holds the rank-4 cases.)
    unsigned red_size[8], red_stride[8];
    unsigned reduced = 0u;
    // base offset from j's kept axes
    unsigned rem = j;
    unsigned base = 0u;
    for (int d = (int)sa.rank - 1; d >= 0; --d) {
        unsigned size = sa.out_dims[d];
        unsigned sd = sa.extra[d];
        unsigned idx = rem % size;
        rem = rem / size;
        base += idx * sa.a_strides[d];
        if (size == 1u && sd > 1u) {
            red_size[reduced] = sd;
            red_stride[reduced] = sa.a_strides[d];
            reduced += 1u;
        }
    }
    float s = 0.0f;
    for (unsigned k = 0u; k < sa.count; ++k) {
        unsigned kr = k;
        unsigned off = base;
        for (unsigned r = 0u; r < reduced; ++r) {
            off += (kr % red_size[r]) * red_stride[r];
            kr = kr / red_size[r];
        }
        s = s + src[off];
    }
    out[j] = s;
}

// x^p with x² as x·x, as the CPU's pow (src/ops/elementwise/cpu.rs). The WGSL kernel adds
// special cases for x ≤ 0 because WGSL's pow is undefined there; CUDA's powf follows C99 (a
// real result for negative x and integer p, NaN for non-integer p, the signs of ±0 and ±∞),
// like Rust's f32::powf, so copying those cases would only break parity: (−0)³ must stay −0,
// (−0)⁻¹ = −∞ and (−∞)^2.5 = +∞.
__device__ __forceinline__ float pow_scalar(float v, float p) {
    if (p == 2.0f) return v * v;
    if (p == 1.0f) return v;
    if (p == 0.5f) return sqrtf(v);
    return powf(v, p);
}

// Op codes of UnaryOp, in declaration order (src/ops/elementwise/cuda.rs, unary_code);
// s0, s1 are its scalars.
extern "C" __global__ void unary_fwd_f32(const ElemArgs ea,
                                         const float* __restrict__ x,
                                         float* __restrict__ y) {
    unsigned i = flat_index();
    if (i >= ea.n) return;
    float v = x[i];
    float r;
    switch (ea.op) {
        case 0u: r = -v; break;
        case 1u: r = expf(v); break;
        case 2u: r = logf(v); break;
        case 3u: r = sqrtf(v); break;
        case 4u: r = fabsf(v); break;
        case 5u: r = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); break;
        case 6u: r = v + ea.s0; break;
        case 7u: r = v * ea.s0; break;
        case 8u: r = pow_scalar(v, ea.s0); break;
        case 9u: r = fminf(fmaxf(v, ea.s0), ea.s1); break;
        default: r = (v >= ea.s0 && v <= ea.s1) ? 1.0f : 0.0f; break;
    }
    y[i] = r;
}
