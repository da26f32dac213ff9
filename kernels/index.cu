// index.cu — a port of shaders/index.wgsl (launchers in src/ops/index/cuda.rs): layout and
// indexing kernels. They only move data, so the results are exact (bit-identical to the CPU),
// except index_select_bwd_f32, which adds — in the CPU's order, so it matches too.
//
// Slices and concatenations use the [outer, n, inner] view of the axis they act on: element
// (o, k, i) of a contiguous tensor lies at (o·n + k)·inner + i.
//
// * permute_fwd_f32       y[j] = x[Σ_d j_d · a_strides[d]]                   (ShapeArgs; x, y)
//       (j_d) is j's multi-index in the permuted shape out_dims, peeled off from the last axis
//       (j_d = rem % out_dims[d], rem /= out_dims[d]); a_strides are the input's contiguous
//       strides taken in permuted order (a_strides[d] = stride of input axis perm[d]).
// * index_select_fwd_f32  y[e] = x[idx[e / row] · row + e % row]             (IndexArgs; x, idx, y)
//       output row j is input row idx[j] (rows of `row` elements).
// * index_select_bwd_f32  dx[e] = Σ_{q = offsets[r]}^{offsets[r+1]−1} g[sources[q] · row + c]
//                                                          (IndexArgs; g, offsets, sources, dx)
//       a gather: r = e / row, c = e % row. The host inverts the index list into CSR form:
//       sources[offsets[r] .. offsets[r+1]] are the output rows j (ascending) with idx[j] = r,
//       so the sum runs in the CPU's order (j ascending). No atomics.
// * slice_fwd_f32         y[o, k, i] = x[o, start + k, i],  k < len           (IndexArgs; x, y)
//       e = (o·len + k)·inner + i;  source = (o·n + start)·inner + e % (len·inner).
// * slice_bwd_f32         dx[o, k, i] = g[o, k − start, i] if start ≤ k < start + len, else 0
//                                                                             (IndexArgs; g, dx)
//       one thread per dx element, so the zeros are written too (no memset needed).
// * cat_fwd_f32           out[o, start + k, i] = part[o, k, i],  k < len      (IndexArgs; part, out)
//       one launch per part, one thread per element of the part; n is the output axis size.
//
// Launch: 1-D, one thread per element of the output (for cat: of the part), i =
// blockIdx.x · 256 + threadIdx.x, grid = ⌈count / 256⌉ blocks of BLOCK = 256; threads past
// the end return at once. All index arithmetic is in 32-bit unsigned (the launcher checks the
// sizes fit).

// The Rust `crate::device::args::ShapeArgs` (#[repr(C)], 144 bytes).
struct ShapeArgs {
    unsigned n;             // output elements
    unsigned rank;          // axes of out_dims (≤ 8)
    unsigned op;            // unused here
    unsigned count;         // unused here
    unsigned out_dims[8];   // the permuted shape
    unsigned a_strides[8];  // input strides in permuted order
    unsigned b_strides[8];  // unused here
    unsigned extra[8];      // unused here
};

// The Rust `crate::ops::index::IndexArgs` (#[repr(C)], 32 bytes).
struct IndexArgs {
    unsigned count;  // threads: elements of the output (cat: of the part)
    unsigned outer;
    unsigned n;      // size of the axis in the input (slice) or output (cat)
    unsigned inner;
    unsigned start;  // slice start, or where a cat part begins along the axis
    unsigned len;    // slice length, or the cat part's size along the axis
    unsigned row;    // index_select: elements per row
    unsigned _pad;
};

extern "C" __global__ void permute_fwd_f32(const ShapeArgs sh,
                                           const float* __restrict__ x,
                                           float* __restrict__ y) {
    unsigned j = flat_index();
    if (j >= sh.n) return;
    unsigned rem = j;
    unsigned off = 0u;
    for (int d = (int)sh.rank - 1; d >= 0; --d) {
        unsigned size = sh.out_dims[d];
        off += (rem % size) * sh.a_strides[d];
        rem = rem / size;
    }
    y[j] = x[off];
}

extern "C" __global__ void index_select_fwd_f32(const IndexArgs ix,
                                                const float* __restrict__ x,
                                                const unsigned* __restrict__ idx,
                                                float* __restrict__ y) {
    unsigned e = flat_index();
    if (e >= ix.count) return;
    y[e] = x[idx[e / ix.row] * ix.row + e % ix.row];
}

extern "C" __global__ void index_select_bwd_f32(const IndexArgs ix,
                                                const float* __restrict__ g,
                                                const unsigned* __restrict__ offsets,
                                                const unsigned* __restrict__ sources,
                                                float* __restrict__ dx) {
    unsigned e = flat_index();
    if (e >= ix.count) return;
    unsigned r = e / ix.row;
    unsigned col = e % ix.row;
    unsigned end = offsets[r + 1u];
    float s = 0.0f;
    for (unsigned q = offsets[r]; q < end; ++q) {
        s = s + g[sources[q] * ix.row + col];
    }
    dx[e] = s;
}

extern "C" __global__ void slice_fwd_f32(const IndexArgs ix,
                                         const float* __restrict__ x,
                                         float* __restrict__ y) {
    unsigned e = flat_index();
    if (e >= ix.count) return;
    unsigned block = ix.len * ix.inner;
    unsigned o = e / block;
    y[e] = x[(o * ix.n + ix.start) * ix.inner + e % block];
}

extern "C" __global__ void slice_bwd_f32(const IndexArgs ix,
                                         const float* __restrict__ g,
                                         float* __restrict__ dx) {
    unsigned e = flat_index();
    if (e >= ix.count) return;
    unsigned i = e % ix.inner;
    unsigned k = (e / ix.inner) % ix.n;
    unsigned o = e / (ix.inner * ix.n);
    float v = 0.0f;
    if (k >= ix.start && k < ix.start + ix.len) {
        v = g[(o * ix.len + k - ix.start) * ix.inner + i];
    }
    dx[e] = v;
}

extern "C" __global__ void cat_fwd_f32(const IndexArgs ix,
                                       const float* __restrict__ part,
                                       float* __restrict__ out) {
    unsigned e = flat_index();
    if (e >= ix.count) return;
    unsigned block = ix.len * ix.inner;
    unsigned o = e / block;
    out[(o * ix.n + ix.start) * ix.inner + e % block] = part[e];
}
