// conv2d.cu — a port of shaders/conv2d.wgsl (launchers: src/ops/conv2d/cuda.rs).
//
// 2-D convolution (cross-correlation), NCHW, as in PyTorch:
//
//   y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n, c, oy·sh − ph + ky, ox·sw − pw + kx]
//
// with x = 0 outside the image. Write P = OH·OW, K = C·KH·KW, flatten (c,ky,kx) into
// kk = (c·KH + ky)·KW + kx and (n,oy,ox) into the position p = n·P + oy·OW + ox. Then the forward
// pass is a GEMM, Y[o, p] = Σ_kk W[o, kk] · X̂[kk, p], where the "im2col" matrix
// X̂[kk, p] = x[n, c, oy·sh − ph + ky, ox·sw − pw + kx] is never stored: the tile loader computes
// each element from x on the fly (an *implicit GEMM*). The weight gradient is the same kind of
// GEMM with the positions as the inner dimension, dW[o, kk] = Σ_p G[o, p] · X̂[kk, p].
//
// Every kernel takes the ConvLaunch struct (80 bytes) by value. Two versions of each pass are
// kept, the tiled implicit GEMMs (what the launchers use) and the simple direct loops (one
// thread per output element), so the bench can compare them.
//
// Forward, tiled (buffers x, w, b, y; b is only read when has_bias):
// * conv2d_fwd_f32          64×64 tile of Y[o, p] per block, BK = 16, 4×4 per thread
// * conv2d_fwd_64x128_f32   64×128 tile, BK = 16, 4×8 per thread
// * conv2d_fwd_32x128_f32   32×128 tile, BK = 16, 4×4 per thread (for C_out ≤ 32)
//   The GEMM core is kernels/gemm_tile.cuh (k-major double-buffered shared tiles, register
//   micro-tiles; see there): M = C_out, N = N·P, inner dimension K, kk ascending. The W loader
//   reads runs of 4 consecutive kk of a weight row (float4 when K % 4 = 0); the X̂ loader gives
//   each thread one fixed column p (decomposed into n, oy, ox once) and a run of consecutive kk,
//   so a warp reads 32 neighbouring pixels. The epilogue adds b[o] (has_bias) and scatters
//   Y[o, p] to y[n, o, oy, ox] (float4 when P % 4 = 0).
//   Launch: 1-D grid of ⌈C_out/BM⌉·⌈N·P/BN⌉ blocks of 256 threads; block i computes the tile
//   (i / ⌈N·P/BN⌉, i mod ⌈N·P/BN⌉).
// Forward, direct:
// * conv2d_fwd_direct_f32   one thread per y element, i = ((n·O + o)·OH + oy)·OW + ox, a loop
//   over c, ky, kx ascending, then + b[o]. 1-D launch, count = N·O·OH·OW.
//
// Input gradient (buffers g, w, dx), dx[n,c,iy,ix] = Σ_{o,ky,kx} g[n,o,oy,ox] · w[o,c,ky,kx] over
// the (ky, kx) for which oy = (iy + ph − ky) / sh is a whole number in [0, OH) (likewise ox),
// summed in the order o, ky, kx. Both versions give the same bits:
// * conv2d_bwd_input_f32    the gather of the WGSL (the direct version): one thread per dx
//   element i = ((n·C + c)·H + iy)·W + ix. The valid ky (kx) form an arithmetic progression
//   that does not depend on o, computed once. 1-D launch, count = N·C·H·W.
// * conv2d_bwd_input_64x64_f32, _64x128_f32, _32x128_f32   the same sum as an implicit GEMM
//   dX[c, q] = Σ_kk Wᵀ[c, kk] · Ĝ[kk, q]: rows the input channels, columns the input positions
//   q = (n, iy, ix), kk = (o, ky, kx) ascending, Ĝ[kk, q] = g[n, o, oy, ox] or 0 where no such
//   (oy, ox) exists (those zeros add exactly nothing). Tiles and launch as the forward pass,
//   with C_in rows and N·H·W columns.
//
// Weight gradient, tiled (split-K implicit GEMM + a fixed-order reduction, no atomics):
// * conv2d_bwd_weight_f32   block (i, z): the 64×64 tile i of the partial sum
//   part[z, o, kk] = Σ_{p ∈ [z·k_chunk, min((z+1)·k_chunk, N·P))} G[o, p] · X̂[kk, p]
//   (M = C_out, N = K, inner dimension the positions p, ascending; BK = 16, 4×4 per thread).
//   Buffers g, x, part. Launch: grid (⌈C_out/64⌉·⌈K/64⌉, splits) of 256 threads.
// * conv2d_bwd_weight_reduce_f32   dW[e] = Σ_z part[z, e], z ascending (buffers part, dw).
//   1-D launch, count = C_out·K. (With one split the launcher lets part be dW and skips it.)
// Weight gradient, direct:
// * conv2d_bwd_weight_direct_f32   one thread per dW element e = ((o·C + c)·KH + ky)·KW + kx,
//   a loop over n, oy, ox ascending. Buffers g, x, dw. 1-D launch, count = C_out·K.
//
// The bias gradient is two sum_axis reductions (kernels/reduce.cu).

// The Rust `Conv2dArgs` (src/ops/conv2d/mod.rs, #[repr(C)], 64 bytes).
struct Conv2dArgs {
    unsigned n;
    unsigned c_in;
    unsigned h;
    unsigned w;
    unsigned c_out;
    unsigned kh;
    unsigned kw;
    unsigned stride_h;
    unsigned stride_w;
    unsigned pad_h;
    unsigned pad_w;
    unsigned out_h;
    unsigned out_w;
    unsigned _pad[3];
};

// The Rust `ConvLaunch` (src/ops/conv2d/mod.rs, #[repr(C)], 80 bytes): the shape plus has_bias
// (forward), the positions per split and the split count (weight gradient) and the thread count
// of the 1-D kernels.
struct ConvLaunch {
    Conv2dArgs a;
    unsigned has_bias;
    unsigned k_chunk;
    unsigned splits;
    unsigned count;
};

// The GEMM core (tile loaders, double-buffered main loop) is kernels/gemm_tile.cuh, prepended
// to this file together with matmul.cu.

// ---------------------------------------------------------------- im2col loaders

// Forward, op(B) = X̂: the BK×BN_ slice X̂[k0 .. k0+BK, col0 .. col0+BN_]. Thread t owns the
// column p = col0 + t mod BN_ (decomposed once) and the NV consecutive rows kb0 .. kb0+NV,
// kb0 = (t / BN_)·NV; (c, ky, kx) of kk are stepped along the run.
template <int BN_, int BK, int NV>
struct Im2colLoader {
    static_assert(BN_ * BK == 256 * NV && 256 % BN_ == 0, "one run of NV rows per thread");
    const float* __restrict__ x;
    unsigned kdim, jb, kb0, xbase;
    int iy0, ix0;
    bool pvalid;
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ x_, const Conv2dArgs& a,
                                         unsigned col0) {
        x = x_;
        kdim = a.c_in * a.kh * a.kw;
        const unsigned t = threadIdx.x;
        jb = t % BN_;
        kb0 = (t / BN_) * NV;
        const unsigned ohw = a.out_h * a.out_w;
        const unsigned p = col0 + jb;
        pvalid = p < a.n * ohw;
        const unsigned n = p / ohw, pix = p - n * ohw;
        const unsigned oy = pix / a.out_w, ox = pix - oy * a.out_w;
        xbase = n * a.c_in * a.h * a.w;
        iy0 = (int)(oy * a.stride_h) - (int)a.pad_h;
        ix0 = (int)(ox * a.stride_w) - (int)a.pad_w;
    }

    __device__ __forceinline__ void fetch(const Conv2dArgs& a, unsigned k0) {
        const unsigned kk = k0 + kb0;
        const unsigned khw = a.kh * a.kw;
        unsigned c = kk / khw;
        const unsigned r = kk - c * khw;
        unsigned ky = r / a.kw;
        unsigned kx = r - ky * a.kw;
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            float val = 0.0f;
            const int iy = iy0 + (int)ky, ix = ix0 + (int)kx;
            if (pvalid && kk + q < kdim && iy >= 0 && ix >= 0 && iy < (int)a.h && ix < (int)a.w) {
                val = x[xbase + (c * a.h + (unsigned)iy) * a.w + (unsigned)ix];
            }
            v[q] = val;
            if (++kx == a.kw) {
                kx = 0;
                if (++ky == a.kh) { ky = 0; ++c; }
            }
        }
    }

    // Shared tile [BK][BN_ + TILE_PAD]: a warp writes 32 consecutive words of one row.
    __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
        for (int q = 0; q < NV; ++q) tile[(kb0 + q) * (BN_ + TILE_PAD) + jb] = v[q];
    }
};

// Weight gradient, op(A) = G: the BM_×BK slice G[row0 .. row0+BM_, p0 .. p0+BK] with
// G[o, p] = g[n, o, pix] (p = n·P + pix), positions limited to [.., p_end). Thread t owns the
// row o = row0 + t / (BK/NV) and a run of NV consecutive positions.
template <int BM_, int BK, int NV>
struct GradLoader {
    static_assert(BM_ * BK == 256 * NV, "one run of NV positions per thread");
    const float* __restrict__ g;
    unsigned o, b, p_end;
    bool ovalid;
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ g_, const Conv2dArgs& a,
                                         unsigned row0, unsigned p_end_) {
        g = g_;
        const unsigned t = threadIdx.x;
        o = row0 + t / (BK / NV);
        b = (t % (BK / NV)) * NV;
        ovalid = o < a.c_out;
        p_end = p_end_;
    }

    __device__ __forceinline__ void fetch(const Conv2dArgs& a, unsigned p0) {
        const unsigned ohw = a.out_h * a.out_w;
        const unsigned p = p0 + b;
        unsigned n = p / ohw;
        unsigned pix = p - n * ohw;
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            v[q] = (ovalid && p + q < p_end) ? g[(n * a.c_out + o) * ohw + pix] : 0.0f;
            if (++pix == ohw) { pix = 0; ++n; }
        }
    }

    // Shared tile [BK][BM_ + TILE_PAD].
    __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
        for (int q = 0; q < NV; ++q) tile[(b + q) * (BM_ + TILE_PAD) + (o % BM_)] = v[q];
    }
};

// Weight gradient, op(B) = X̂ᵀ: the BK×BN_ slice X̂ᵀ[p0 .. p0+BK, col0 .. col0+BN_]. Thread t owns
// the position p0 + t mod BK (neighbouring threads: neighbouring pixels) and NV consecutive
// columns kk = col0 + kq + q, kq = (t / BK)·NV, whose (c, ky, kx) are decomposed once.
template <int BN_, int BK, int NV>
struct Im2colTLoader {
    static_assert(BN_ * BK == 256 * NV && 256 % BK == 0, "one run of NV columns per thread");
    const float* __restrict__ x;
    unsigned pl, kq, p_end;
    unsigned coff[NV];  // c·H·W of each column
    int ky[NV], kx[NV];  // -1 marks a column beyond K
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ x_, const Conv2dArgs& a,
                                         unsigned col0, unsigned p_end_) {
        x = x_;
        const unsigned t = threadIdx.x;
        pl = t % BK;
        kq = (t / BK) * NV;
        p_end = p_end_;
        const unsigned kdim = a.c_in * a.kh * a.kw, khw = a.kh * a.kw;
        const unsigned kk = col0 + kq;
        unsigned c = kk / khw;
        const unsigned r = kk - c * khw;
        unsigned y = r / a.kw;
        unsigned z = r - y * a.kw;
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            const bool ok = kk + q < kdim;
            coff[q] = c * a.h * a.w;
            ky[q] = ok ? (int)y : -1;
            kx[q] = (int)z;
            if (++z == a.kw) {
                z = 0;
                if (++y == a.kh) { y = 0; ++c; }
            }
        }
    }

    __device__ __forceinline__ void fetch(const Conv2dArgs& a, unsigned p0) {
        const unsigned p = p0 + pl;
        const unsigned ohw = a.out_h * a.out_w;
        const unsigned n = p / ohw, pix = p - n * ohw;
        const unsigned oy = pix / a.out_w, ox = pix - oy * a.out_w;
        const bool pvalid = p < p_end;
        const unsigned xbase = n * a.c_in * a.h * a.w;
        const int iy0 = (int)(oy * a.stride_h) - (int)a.pad_h;
        const int ix0 = (int)(ox * a.stride_w) - (int)a.pad_w;
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            const int iy = iy0 + ky[q], ix = ix0 + kx[q];
            float val = 0.0f;
            if (pvalid && ky[q] >= 0 && iy >= 0 && ix >= 0 && iy < (int)a.h && ix < (int)a.w) {
                val = x[xbase + coff[q] + (unsigned)iy * a.w + (unsigned)ix];
            }
            v[q] = val;
        }
    }

    // Shared tile [BK][BN_ + TILE_PAD].
    __device__ __forceinline__ void store(float* tile) const {
        float* row = tile + pl * (BN_ + TILE_PAD) + kq;
        if constexpr (NV % 4 == 0) {
#pragma unroll
            for (int q = 0; q < NV; q += 4)
                *reinterpret_cast<float4*>(row + q) =
                    make_float4(v[q], v[q + 1], v[q + 2], v[q + 3]);
        } else {
#pragma unroll
            for (int q = 0; q < NV; ++q) row[q] = v[q];
        }
    }
};

// Adapters giving the conv loaders the fetch(k0) interface of gemm_mainloop.
template <class L>
struct WithArgs {
    L l;
    const Conv2dArgs* a;
    __device__ __forceinline__ void fetch(unsigned k0) { l.fetch(*a, k0); }
    __device__ __forceinline__ void store(float* tile) const { l.store(tile); }
};

// ---------------------------------------------------------------- forward

// Epilogue of the GEMMs whose columns are positions: out[n, row, pix] = acc + bias[row]
// (bias may be null) for the rows row0.. < m and positions col0.. < n_img·hw (p = n·hw + pix).
template <int BM, int BN, int TM, int TN>
__device__ __forceinline__ void store_nchw(const float (&acc)[TM][TN], unsigned row0,
                                           unsigned col0, unsigned m, unsigned hw, unsigned np,
                                           const float* __restrict__ bias,
                                           float* __restrict__ out) {
    constexpr int TX = BN / TN, TY = BM / TM;
    const unsigned tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const bool vec = (hw % 4u) == 0u;
#pragma unroll
    for (int h = 0; h < TN / 4; ++h) {
        const unsigned p = col0 + h * 4 * TX + 4 * tx;
        if (p >= np) continue;
        const unsigned n = p / hw, pix = p - n * hw;
        if (vec && p + 4 <= np) {  // 4 pixels of one image, 16-byte aligned
#pragma unroll
            for (int i = 0; i < TM; ++i) {
                const unsigned o = row0 + (i / 4) * 4 * TY + 4 * ty + (i % 4);
                if (o >= m) continue;
                const float bo = bias ? bias[o] : 0.0f;
                *reinterpret_cast<float4*>(out + (size_t)(n * m + o) * hw + pix) =
                    make_float4(acc[i][4 * h] + bo, acc[i][4 * h + 1] + bo,
                                acc[i][4 * h + 2] + bo, acc[i][4 * h + 3] + bo);
            }
        } else {
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const unsigned pc = p + c;
                if (pc >= np) break;
                const unsigned nc = pc / hw, pixc = pc - nc * hw;
#pragma unroll
                for (int i = 0; i < TM; ++i) {
                    const unsigned o = row0 + (i / 4) * 4 * TY + 4 * ty + (i % 4);
                    if (o >= m) continue;
                    const float bo = bias ? bias[o] : 0.0f;
                    out[(size_t)(nc * m + o) * hw + pixc] = acc[i][4 * h + c] + bo;
                }
            }
        }
    }
}

template <int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void conv_fwd_tile(const ConvLaunch& cv, const float* __restrict__ x,
                                              const float* __restrict__ w,
                                              const float* __restrict__ bias,
                                              float* __restrict__ y, float* As, float* Bs) {
    const Conv2dArgs& a = cv.a;
    const unsigned m = a.c_out;
    const unsigned kdim = a.c_in * a.kh * a.kw;
    const unsigned ohw = a.out_h * a.out_w;
    const unsigned np = a.n * ohw;
    const unsigned tiles_n = (np + BN - 1) / BN;
    const unsigned row0 = (blockIdx.x / tiles_n) * BM;
    const unsigned col0 = (blockIdx.x % tiles_n) * BN;

    RunLoader<BM, BK, BM * BK / 256, true> la;  // W[o, kk], rows along kk
    la.init(w, m, kdim, kdim, row0);
    WithArgs<Im2colLoader<BN, BK, BN * BK / 256>> lb;
    lb.l.init(x, a, col0);
    lb.a = &a;
    float acc[TM][TN];
    gemm_mainloop<BM, BN, BK, TM, TN>(la, lb, 0u, kdim, As, Bs, acc);
    store_nchw<BM, BN, TM, TN>(acc, row0, col0, m, ohw, np, cv.has_bias ? bias : nullptr, y);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_fwd_f32(const ConvLaunch cv, const float* __restrict__ x, const float* __restrict__ w,
               const float* __restrict__ b, float* __restrict__ y) {
    __shared__ __align__(16) float As[2 * 16 * (64 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (64 + TILE_PAD)];
    conv_fwd_tile<64, 64, 16, 4, 4>(cv, x, w, b, y, As, Bs);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_fwd_64x128_f32(const ConvLaunch cv, const float* __restrict__ x,
                      const float* __restrict__ w, const float* __restrict__ b,
                      float* __restrict__ y) {
    __shared__ __align__(16) float As[2 * 16 * (64 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (128 + TILE_PAD)];
    conv_fwd_tile<64, 128, 16, 4, 8>(cv, x, w, b, y, As, Bs);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_fwd_32x128_f32(const ConvLaunch cv, const float* __restrict__ x,
                      const float* __restrict__ w, const float* __restrict__ b,
                      float* __restrict__ y) {
    __shared__ __align__(16) float As[2 * 16 * (32 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (128 + TILE_PAD)];
    conv_fwd_tile<32, 128, 16, 4, 4>(cv, x, w, b, y, As, Bs);
}

// Direct: one thread per y element, loops c, ky, kx ascending.
extern "C" __global__ void conv2d_fwd_direct_f32(const ConvLaunch cv, const float* __restrict__ x,
                                                 const float* __restrict__ w,
                                                 const float* __restrict__ b,
                                                 float* __restrict__ y) {
    const unsigned i = flat_index();
    if (i >= cv.count) return;
    const Conv2dArgs& a = cv.a;
    const unsigned ox = i % a.out_w;
    const unsigned oy = (i / a.out_w) % a.out_h;
    const unsigned o = (i / (a.out_w * a.out_h)) % a.c_out;
    const unsigned n = i / (a.out_w * a.out_h * a.c_out);
    const int iy0 = (int)(oy * a.stride_h) - (int)a.pad_h;
    const int ix0 = (int)(ox * a.stride_w) - (int)a.pad_w;
    float s = 0.0f;
    for (unsigned c = 0; c < a.c_in; ++c) {
        const float* xp = x + (size_t)(n * a.c_in + c) * a.h * a.w;
        const float* wp = w + (size_t)(o * a.c_in + c) * a.kh * a.kw;
        for (unsigned ky = 0; ky < a.kh; ++ky) {
            const int iy = iy0 + (int)ky;
            if (iy < 0 || iy >= (int)a.h) continue;
            for (unsigned kx = 0; kx < a.kw; ++kx) {
                const int ix = ix0 + (int)kx;
                if (ix < 0 || ix >= (int)a.w) continue;
                s = fmaf(wp[ky * a.kw + kx], xp[(unsigned)iy * a.w + (unsigned)ix], s);
            }
        }
    }
    y[i] = s + (cv.has_bias ? b[o] : 0.0f);
}

// ---------------------------------------------------------------- input gradient

// The ascending progression of kernel offsets k ∈ [0, kext) that reach input coordinate i:
// t = i + pad − k must be ≥ 0, a multiple of the stride s, and t / s < out. Returns the first
// such k in *first* and the count; the others are first + s, first + 2s, …
__device__ __forceinline__ unsigned taps(unsigned i, unsigned pad, unsigned kext, unsigned s,
                                         unsigned out, unsigned* first) {
    const int t = (int)(i + pad);
    int lo = t - (int)((out - 1) * s);  // k ≥ lo keeps t − k ≤ (out − 1)·s
    if (lo < 0) lo = 0;
    const int hi = t < (int)kext - 1 ? t : (int)kext - 1;  // k ≤ t keeps t − k ≥ 0
    const int k0 = lo + (t - lo) % (int)s;  // t − k0 divisible by s
    if (lo > hi || k0 > hi) { *first = 0; return 0; }
    *first = (unsigned)k0;
    return (unsigned)((hi - k0) / (int)s + 1);
}

extern "C" __global__ void conv2d_bwd_input_f32(const ConvLaunch cv, const float* __restrict__ g,
                                                const float* __restrict__ w,
                                                float* __restrict__ dx) {
    const unsigned i = flat_index();
    if (i >= cv.count) return;
    const Conv2dArgs& a = cv.a;
    const unsigned ix = i % a.w;
    const unsigned iy = (i / a.w) % a.h;
    const unsigned c = (i / (a.w * a.h)) % a.c_in;
    const unsigned n = i / (a.w * a.h * a.c_in);
    unsigned ky0, kx0;
    const unsigned nky = taps(iy, a.pad_h, a.kh, a.stride_h, a.out_h, &ky0);
    const unsigned nkx = taps(ix, a.pad_w, a.kw, a.stride_w, a.out_w, &kx0);
    // g index of (o = 0, ky0, kx0), and the steps as ky (kx) grows by one stride
    const unsigned oy0 = (iy + a.pad_h - ky0) / a.stride_h;
    const unsigned ox0 = (ix + a.pad_w - kx0) / a.stride_w;
    const unsigned ohw = a.out_h * a.out_w;
    const float* gp = g + (size_t)n * a.c_out * ohw + oy0 * a.out_w + ox0;
    const float* wp = w + (size_t)c * a.kh * a.kw + ky0 * a.kw + kx0;
    const unsigned wo = a.c_in * a.kh * a.kw;  // w step per o
    float s = 0.0f;
    for (unsigned o = 0; o < a.c_out; ++o) {
        const float* gq = gp + (size_t)o * ohw;
        const float* wq = wp + (size_t)o * wo;
        for (unsigned u = 0; u < nky; ++u) {
            // ky = ky0 + u·sh  ⇒  oy = oy0 − u
            const float* gr = gq - (size_t)u * a.out_w;
            const float* wr = wq + u * a.stride_h * a.kw;
            for (unsigned v = 0; v < nkx; ++v) {
                s = fmaf(gr[-(int)v], wr[v * a.stride_w], s);
            }
        }
    }
    dx[i] = s;
}

// Tiled: the same sum as an implicit GEMM, dX[c, q] = Σ_kk Wᵀ[c, kk] · Ĝ[kk, q] with rows the
// input channels c, columns the input positions q = (n, iy, ix), inner index kk = (o, ky, kx)
// ascending (the gather's order), Wᵀ[c, kk] = w[o, c, ky, kx] and Ĝ[kk, q] = g[n, o, oy, ox]
// when (oy, ox) as above exist, else 0. The zeros add exactly nothing, so the result equals
// the gather's bit for bit.

// Whether output coordinate o = t / s exists for tap offset t = i + pad − k.
__device__ __forceinline__ bool tap(int t, unsigned s, unsigned out, unsigned* o) {
    if (t < 0) return false;
    if (s == 1u) {
        *o = (unsigned)t;
    } else {
        *o = (unsigned)t / s;
        if (*o * s != (unsigned)t) return false;
    }
    return *o < out;
}

// op(A) = Wᵀ: the BM_×BK slice Wᵀ[row0 .., k0 ..]. Thread t owns the row c = row0 + t / (BK/NV)
// and a run of NV consecutive kk, w index (o·C + c)·KH·KW + r with kk = o·KH·KW + r.
template <int BM_, int BK, int NV>
struct WeightTLoader {
    static_assert(BM_ * BK == 256 * NV, "one run of NV elements per thread");
    const float* __restrict__ w;
    unsigned cl, c, b, kdim2;
    bool cvalid;
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ w_, const Conv2dArgs& a,
                                         unsigned row0) {
        w = w_;
        const unsigned t = threadIdx.x;
        cl = t / (BK / NV);
        c = row0 + cl;
        b = (t % (BK / NV)) * NV;
        cvalid = c < a.c_in;
        kdim2 = a.c_out * a.kh * a.kw;
    }

    __device__ __forceinline__ void fetch(const Conv2dArgs& a, unsigned k0) {
        const unsigned khw = a.kh * a.kw;
        const unsigned kk = k0 + b;
        unsigned o = kk / khw;
        unsigned r = kk - o * khw;
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            v[q] = (cvalid && kk + q < kdim2) ? w[(o * a.c_in + c) * khw + r] : 0.0f;
            if (++r == khw) { r = 0; ++o; }
        }
    }

    __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
        for (int q = 0; q < NV; ++q) tile[(b + q) * (BM_ + TILE_PAD) + cl] = v[q];
    }
};

// op(B) = Ĝ: the BK×BN_ slice Ĝ[k0 .., col0 ..]. Thread t owns the column q = col0 + t mod BN_
// (decomposed once into n, iy, ix) and NV consecutive rows kk from kb0 = (t / BN_)·NV.
template <int BN_, int BK, int NV>
struct GradColLoader {
    static_assert(BN_ * BK == 256 * NV && 256 % BN_ == 0, "one run of NV rows per thread");
    const float* __restrict__ g;
    unsigned jb, kb0, gbase, kdim2;
    int ty0, tx0;  // iy + pad_h, ix + pad_w
    bool qvalid;
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ g_, const Conv2dArgs& a,
                                         unsigned col0) {
        g = g_;
        const unsigned t = threadIdx.x;
        jb = t % BN_;
        kb0 = (t / BN_) * NV;
        kdim2 = a.c_out * a.kh * a.kw;
        const unsigned hw = a.h * a.w;
        const unsigned q = col0 + jb;
        qvalid = q < a.n * hw;
        const unsigned n = q / hw, pix = q - n * hw;
        const unsigned iy = pix / a.w, ix = pix - iy * a.w;
        gbase = n * a.c_out * a.out_h * a.out_w;
        ty0 = (int)(iy + a.pad_h);
        tx0 = (int)(ix + a.pad_w);
    }

    __device__ __forceinline__ void fetch(const Conv2dArgs& a, unsigned k0) {
        const unsigned khw = a.kh * a.kw;
        const unsigned kk = k0 + kb0;
        unsigned o = kk / khw;
        const unsigned r = kk - o * khw;
        unsigned ky = r / a.kw;
        unsigned kx = r - ky * a.kw;
        unsigned oy = 0, ox = 0;
        bool yok = tap(ty0 - (int)ky, a.stride_h, a.out_h, &oy);
        bool xok = tap(tx0 - (int)kx, a.stride_w, a.out_w, &ox);
#pragma unroll
        for (int q = 0; q < NV; ++q) {
            v[q] = (qvalid && kk + q < kdim2 && yok && xok)
                       ? g[gbase + (o * a.out_h + oy) * a.out_w + ox]
                       : 0.0f;
            if (++kx == a.kw) {
                kx = 0;
                if (++ky == a.kh) { ky = 0; ++o; }
                yok = tap(ty0 - (int)ky, a.stride_h, a.out_h, &oy);
            }
            xok = tap(tx0 - (int)kx, a.stride_w, a.out_w, &ox);
        }
    }

    __device__ __forceinline__ void store(float* tile) const {
#pragma unroll
        for (int q = 0; q < NV; ++q) tile[(kb0 + q) * (BN_ + TILE_PAD) + jb] = v[q];
    }
};

template <int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void conv_bwd_input_tile(const ConvLaunch& cv,
                                                    const float* __restrict__ g,
                                                    const float* __restrict__ w,
                                                    float* __restrict__ dx, float* As,
                                                    float* Bs) {
    const Conv2dArgs& a = cv.a;
    const unsigned m = a.c_in;
    const unsigned kdim2 = a.c_out * a.kh * a.kw;
    const unsigned hw = a.h * a.w;
    const unsigned np = a.n * hw;
    const unsigned tiles_n = (np + BN - 1) / BN;
    const unsigned row0 = (blockIdx.x / tiles_n) * BM;
    const unsigned col0 = (blockIdx.x % tiles_n) * BN;

    WithArgs<WeightTLoader<BM, BK, BM * BK / 256>> la;
    la.l.init(w, a, row0);
    la.a = &a;
    WithArgs<GradColLoader<BN, BK, BN * BK / 256>> lb;
    lb.l.init(g, a, col0);
    lb.a = &a;
    float acc[TM][TN];
    gemm_mainloop<BM, BN, BK, TM, TN>(la, lb, 0u, kdim2, As, Bs, acc);
    store_nchw<BM, BN, TM, TN>(acc, row0, col0, m, hw, np, nullptr, dx);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_bwd_input_64x64_f32(const ConvLaunch cv, const float* __restrict__ g,
                           const float* __restrict__ w, float* __restrict__ dx) {
    __shared__ __align__(16) float As[2 * 16 * (64 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (64 + TILE_PAD)];
    conv_bwd_input_tile<64, 64, 16, 4, 4>(cv, g, w, dx, As, Bs);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_bwd_input_64x128_f32(const ConvLaunch cv, const float* __restrict__ g,
                            const float* __restrict__ w, float* __restrict__ dx) {
    __shared__ __align__(16) float As[2 * 16 * (64 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (128 + TILE_PAD)];
    conv_bwd_input_tile<64, 128, 16, 4, 8>(cv, g, w, dx, As, Bs);
}

extern "C" __global__ void __launch_bounds__(256)
conv2d_bwd_input_32x128_f32(const ConvLaunch cv, const float* __restrict__ g,
                            const float* __restrict__ w, float* __restrict__ dx) {
    __shared__ __align__(16) float As[2 * 16 * (32 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (128 + TILE_PAD)];
    conv_bwd_input_tile<32, 128, 16, 4, 4>(cv, g, w, dx, As, Bs);
}

// ---------------------------------------------------------------- weight gradient

extern "C" __global__ void __launch_bounds__(256)
conv2d_bwd_weight_f32(const ConvLaunch cv, const float* __restrict__ g,
                      const float* __restrict__ x, float* __restrict__ part) {
    constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;
    constexpr int TX = BN / TN, TY = BM / TM;
    __shared__ __align__(16) float As[2 * BK * (BM + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * BK * (BN + TILE_PAD)];
    const Conv2dArgs& a = cv.a;
    const unsigned m = a.c_out;
    const unsigned kdim = a.c_in * a.kh * a.kw;
    const unsigned np = a.n * a.out_h * a.out_w;
    const unsigned tiles_n = (kdim + BN - 1) / BN;
    const unsigned row0 = (blockIdx.x / tiles_n) * BM;
    const unsigned col0 = (blockIdx.x % tiles_n) * BN;
    const unsigned z = blockIdx.y;
    const unsigned p_begin = z * cv.k_chunk;
    const unsigned p_end = min(p_begin + cv.k_chunk, np);

    WithArgs<GradLoader<BM, BK, BM * BK / 256>> la;
    la.l.init(g, a, row0, p_end);
    la.a = &a;
    WithArgs<Im2colTLoader<BN, BK, BN * BK / 256>> lb;
    lb.l.init(x, a, col0, p_end);
    lb.a = &a;
    float acc[TM][TN];
    gemm_mainloop<BM, BN, BK, TM, TN>(la, lb, p_begin, p_end, As, Bs, acc);

    const unsigned tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const bool vec = (kdim % 4u) == 0u;
    float* out = part + (size_t)z * m * kdim;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const unsigned o = row0 + (i / 4) * 4 * TY + 4 * ty + (i % 4);
        if (o >= m) continue;
        float* orow = out + (size_t)o * kdim;
#pragma unroll
        for (int h = 0; h < TN / 4; ++h) {
            const unsigned kk = col0 + h * 4 * TX + 4 * tx;
            if (vec && kk + 4 <= kdim) {
                *reinterpret_cast<float4*>(orow + kk) =
                    make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2],
                                acc[i][4 * h + 3]);
            } else {
#pragma unroll
                for (int c = 0; c < 4; ++c)
                    if (kk + c < kdim) orow[kk + c] = acc[i][4 * h + c];
            }
        }
    }
}

// dW[e] = Σ_z part[z, e], z ascending.
extern "C" __global__ void conv2d_bwd_weight_reduce_f32(const ConvLaunch cv,
                                                        const float* __restrict__ part,
                                                        float* __restrict__ dw) {
    const unsigned e = flat_index();
    if (e >= cv.count) return;
    float s = 0.0f;
    for (unsigned z = 0; z < cv.splits; ++z) s += part[(size_t)z * cv.count + e];
    dw[e] = s;
}

// Direct: one thread per dW element, loops n, oy, ox ascending.
extern "C" __global__ void conv2d_bwd_weight_direct_f32(const ConvLaunch cv,
                                                        const float* __restrict__ g,
                                                        const float* __restrict__ x,
                                                        float* __restrict__ dw) {
    const unsigned e = flat_index();
    if (e >= cv.count) return;
    const Conv2dArgs& a = cv.a;
    const unsigned kx = e % a.kw;
    const unsigned ky = (e / a.kw) % a.kh;
    const unsigned c = (e / (a.kw * a.kh)) % a.c_in;
    const unsigned o = e / (a.kw * a.kh * a.c_in);
    const unsigned ohw = a.out_h * a.out_w;
    float s = 0.0f;
    for (unsigned n = 0; n < a.n; ++n) {
        const float* gp = g + (size_t)(n * a.c_out + o) * ohw;
        const float* xp = x + (size_t)(n * a.c_in + c) * a.h * a.w;
        for (unsigned oy = 0; oy < a.out_h; ++oy) {
            const int iy = (int)(oy * a.stride_h + ky) - (int)a.pad_h;
            if (iy < 0 || iy >= (int)a.h) continue;
            for (unsigned ox = 0; ox < a.out_w; ++ox) {
                const int ix = (int)(ox * a.stride_w + kx) - (int)a.pad_w;
                if (ix < 0 || ix >= (int)a.w) continue;
                s = fmaf(gp[oy * a.out_w + ox], xp[(unsigned)iy * a.w + (unsigned)ix], s);
            }
        }
    }
    dw[e] = s;
}
