// matmul.cu — a port of shaders/matmul.wgsl (launcher: src/ops/matmul/cuda.rs).
//
//   C[m×n] = op(A)·op(B), row-major, op = identity or transpose:
//   A is stored m×k (k×m when trans_a), B is stored k×n (n×k when trans_b).
//
// Kernels (all take MatmulArgs; buffers a, b, c):
//
// * matmul_fwd_f32          tiled GEMM, 64×64 output tile per block, BK = 16, 4×4 per thread.
// * matmul_fwd_128x128_f32  tiled GEMM, 128×128 output tile per block, BK = 8, 8×8 per thread
//                           (the launcher picks it when there are enough tiles to fill the GPU).
// * matmul_fwd_naive_f32    one thread per C element, a plain loop over k (the simple version,
//                           kept to compare against in the bench).
//
// Tiled GEMM (both tile sizes): a block of 256 threads computes a BM×BN tile of C. It walks k
// in steps of BK: every thread copies its share of the BM×BK slice of op(A) and the BK×BN slice
// of op(B) from global memory into registers, the registers go to shared memory (stored k-major:
// As[kk][i] = op(A)[row0 + i, k0 + kk], Bs[kk][j] = op(B)[k0 + kk, col0 + j]), and each thread
// accumulates a TM×TN register micro-tile. The shared tiles are double-buffered: the global
// loads of step t+1 are issued before the arithmetic of step t, so their latency hides behind it,
// and one __syncthreads per step suffices.
//
//   thread t: tx = t mod TX, ty = t / TX            (TX = BN/TN threads along n, TY = BM/TM)
//   its rows    row0 + g·4·TY + 4·ty + r   (g < TM/4, r < 4)
//   its columns col0 + h·4·TX + 4·tx + c   (h < TN/4, c < 4)
//
// so every shared-memory read of the inner loop is a float4 and a warp reads contiguous words.
// Transposes are folded into the loaders: each thread reads a run of 4 consecutive stored
// elements (along k for A, along k for Bᵀ; along m for Aᵀ, along n for B), as one float4 when
// the stored row length is a multiple of 4, and writes them into the k-major shared tile.
// Out-of-range elements (edges of m, n, k) load as 0 and are never stored.
//
// Each C element is one sum over k in ascending order, acc = fma(a, b, acc) (zero-padded k
// beyond the end add exactly 0): deterministic, no split-K, no atomics.
//
// Launch (tiled): 1-D grid of ⌈m/BM⌉·⌈n/BN⌉ blocks of 256 threads; block b computes the tile
// (by, bx) = (b / ⌈n/BN⌉, b mod ⌈n/BN⌉) (x reaches 2³¹ − 1, so there is no y limit to hit).
// Launch (naive): 1-D, one thread per C element i = row·n + col, ⌈m·n / 256⌉ blocks.

// The Rust `MatmulArgs` (src/ops/matmul/mod.rs, #[repr(C)], 32 bytes).
struct MatmulArgs {
    unsigned m;
    unsigned n;
    unsigned k;
    unsigned trans_a;
    unsigned trans_b;
    unsigned _pad[3];
};

// ---------------------------------------------------------------- GEMM core (also in conv2d.cu)

// Shared tiles are k-major with rows padded by 4 words (keeps float4 alignment and spreads the
// transposing stores over the banks).
#define TILE_PAD 4

// Loads the BM_×BK slice of a logical matrix L[mn][k] (mn < mn_lim, k < k_lim) whose storage
// is row-major with rows along k (K_CONTIG: S[mn][k], ld = k_ld) or along mn (S[k][mn],
// ld = mn_ld). Each thread owns a run of NV consecutive stored elements.
template <int BM_, int BK, int NV, bool K_CONTIG>
struct RunLoader {
    static_assert(BM_ * BK == 256 * NV, "one run of NV elements per thread");
    const float* __restrict__ src;
    unsigned mn_lim, k_lim, ld, mn0;
    unsigned a;  // K_CONTIG: mn offset in the tile; else: k offset
    unsigned b;  // K_CONTIG: k offset (multiple of NV); else: mn offset (multiple of NV)
    bool vec;    // rows start 16-byte aligned: float4 loads allowed
    float v[NV];

    __device__ __forceinline__ void init(const float* __restrict__ s, unsigned mn_lim_,
                                         unsigned k_lim_, unsigned ld_, unsigned mn0_) {
        src = s;
        mn_lim = mn_lim_;
        k_lim = k_lim_;
        ld = ld_;
        mn0 = mn0_;
        const unsigned t = threadIdx.x;
        if constexpr (K_CONTIG) {
            a = t / (BK / NV);
            b = (t % (BK / NV)) * NV;
        } else {
            a = t / (BM_ / NV);
            b = (t % (BM_ / NV)) * NV;
        }
        vec = (NV % 4 == 0) && (ld % 4u == 0u);
    }

    // Registers ← the slice starting at k0.
    __device__ __forceinline__ void fetch(unsigned k0) {
        unsigned row, col, row_lim, col_lim;
        if constexpr (K_CONTIG) {
            row = mn0 + a; col = k0 + b; row_lim = mn_lim; col_lim = k_lim;
        } else {
            row = k0 + a; col = mn0 + b; row_lim = k_lim; col_lim = mn_lim;
        }
        const float* p = src + (size_t)row * ld + col;
        if constexpr (NV % 4 == 0) {
            if (row < row_lim && vec && col + NV <= col_lim) {
#pragma unroll
                for (int q = 0; q < NV; q += 4) {
                    float4 f = *reinterpret_cast<const float4*>(p + q);
                    v[q] = f.x; v[q + 1] = f.y; v[q + 2] = f.z; v[q + 3] = f.w;
                }
                return;
            }
        }
#pragma unroll
        for (int q = 0; q < NV; ++q) v[q] = (row < row_lim && col + q < col_lim) ? p[q] : 0.0f;
    }

    // Shared tile [BK][BM_ + TILE_PAD] ← registers.
    __device__ __forceinline__ void store(float* tile) const {
        const int LD = BM_ + TILE_PAD;
        if constexpr (K_CONTIG) {
#pragma unroll
            for (int q = 0; q < NV; ++q) tile[(b + q) * LD + a] = v[q];
        } else if constexpr (NV % 4 == 0) {
#pragma unroll
            for (int q = 0; q < NV; q += 4) {
                *reinterpret_cast<float4*>(tile + a * LD + b + q) =
                    make_float4(v[q], v[q + 1], v[q + 2], v[q + 3]);
            }
        } else {
#pragma unroll
            for (int q = 0; q < NV; ++q) tile[a * LD + b + q] = v[q];
        }
    }
};

// acc[i][j] = Σ_{k ∈ [kbeg, kend)} A[row(i), k] · B[k, col(j)], k ascending. As and Bs are the
// shared tiles, 2·BK·(BM+4) and 2·BK·(BN+4) words. Every thread of the block must call it.
template <int BM, int BN, int BK, int TM, int TN, class LA, class LB>
__device__ __forceinline__ void gemm_mainloop(LA& la, LB& lb, unsigned kbeg, unsigned kend,
                                              float* As, float* Bs, float (&acc)[TM][TN]) {
    constexpr int TX = BN / TN, TY = BM / TM;
    static_assert(TX * TY == 256, "256 threads per block");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are made of float4 groups");
    constexpr int LDA = BM + TILE_PAD, LDB = BN + TILE_PAD;
    const unsigned tx = threadIdx.x % TX, ty = threadIdx.x / TX;
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    if (kbeg >= kend) return;

    la.fetch(kbeg);
    lb.fetch(kbeg);
    la.store(As);
    lb.store(Bs);
    __syncthreads();
    int cur = 0;
    for (unsigned k0 = kbeg; k0 < kend; k0 += BK) {
        const bool more = k0 + BK < kend;
        if (more) {  // next slice: global → registers, in flight during the arithmetic below
            la.fetch(k0 + BK);
            lb.fetch(k0 + BK);
        }
        const float* at = As + cur * BK * LDA + 4 * ty;
        const float* bt = Bs + cur * BK * LDB + 4 * tx;
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float ra[TM], rb[TN];
#pragma unroll
            for (int g = 0; g < TM / 4; ++g) {
                float4 f = *reinterpret_cast<const float4*>(at + kk * LDA + g * 4 * TY);
                ra[4 * g] = f.x; ra[4 * g + 1] = f.y; ra[4 * g + 2] = f.z; ra[4 * g + 3] = f.w;
            }
#pragma unroll
            for (int h = 0; h < TN / 4; ++h) {
                float4 f = *reinterpret_cast<const float4*>(bt + kk * LDB + h * 4 * TX);
                rb[4 * h] = f.x; rb[4 * h + 1] = f.y; rb[4 * h + 2] = f.z; rb[4 * h + 3] = f.w;
            }
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
        }
        if (more) {  // the other buffer was last read before the previous barrier
            la.store(As + (cur ^ 1) * BK * LDA);
            lb.store(Bs + (cur ^ 1) * BK * LDB);
        }
        __syncthreads();
        cur ^= 1;
    }
}

// ---------------------------------------------------------------- matmul

template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__device__ __forceinline__ void matmul_tile(const MatmulArgs& p, const float* __restrict__ A,
                                            const float* __restrict__ B, float* __restrict__ C,
                                            float* As, float* Bs) {
    constexpr int TX = BN / TN, TY = BM / TM;
    const unsigned tiles_n = (p.n + BN - 1) / BN;
    const unsigned row0 = (blockIdx.x / tiles_n) * BM;
    const unsigned col0 = (blockIdx.x % tiles_n) * BN;
    // op(A) is m×k: stored m×k (rows along k) or, transposed, k×m (rows along m).
    RunLoader<BM, BK, BM * BK / 256, !TA> la;
    la.init(A, p.m, p.k, TA ? p.m : p.k, row0);
    // op(B)ᵀ is n×k: B stored k×n has rows along n; Bᵀ stored n×k has rows along k.
    RunLoader<BN, BK, BN * BK / 256, TB> lb;
    lb.init(B, p.n, p.k, TB ? p.k : p.n, col0);
    float acc[TM][TN];
    gemm_mainloop<BM, BN, BK, TM, TN>(la, lb, 0u, p.k, As, Bs, acc);

    const unsigned tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const bool vec = (p.n % 4u) == 0u;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const unsigned row = row0 + (i / 4) * 4 * TY + 4 * ty + (i % 4);
        if (row >= p.m) continue;
        float* crow = C + (size_t)row * p.n;
#pragma unroll
        for (int h = 0; h < TN / 4; ++h) {
            const unsigned col = col0 + h * 4 * TX + 4 * tx;
            if (vec && col + 4 <= p.n) {
                *reinterpret_cast<float4*>(crow + col) =
                    make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2],
                                acc[i][4 * h + 3]);
            } else {
#pragma unroll
                for (int c = 0; c < 4; ++c)
                    if (col + c < p.n) crow[col + c] = acc[i][4 * h + c];
            }
        }
    }
}

template <int BM, int BN, int BK, int TM, int TN>
__device__ __forceinline__ void matmul_dispatch(const MatmulArgs& p, const float* __restrict__ A,
                                                const float* __restrict__ B, float* __restrict__ C,
                                                float* As, float* Bs) {
    if (p.trans_a == 0u) {
        if (p.trans_b == 0u) matmul_tile<BM, BN, BK, TM, TN, false, false>(p, A, B, C, As, Bs);
        else                 matmul_tile<BM, BN, BK, TM, TN, false, true>(p, A, B, C, As, Bs);
    } else {
        if (p.trans_b == 0u) matmul_tile<BM, BN, BK, TM, TN, true, false>(p, A, B, C, As, Bs);
        else                 matmul_tile<BM, BN, BK, TM, TN, true, true>(p, A, B, C, As, Bs);
    }
}

// 64×64 tile, BK = 16, 4×4 per thread (the WGSL's tiling).
extern "C" __global__ void __launch_bounds__(256)
matmul_fwd_f32(const MatmulArgs mm, const float* __restrict__ a, const float* __restrict__ b,
               float* __restrict__ c) {
    __shared__ __align__(16) float As[2 * 16 * (64 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 16 * (64 + TILE_PAD)];
    matmul_dispatch<64, 64, 16, 4, 4>(mm, a, b, c, As, Bs);
}

// 128×128 tile, BK = 8, 8×8 per thread.
extern "C" __global__ void __launch_bounds__(256)
matmul_fwd_128x128_f32(const MatmulArgs mm, const float* __restrict__ a,
                       const float* __restrict__ b, float* __restrict__ c) {
    __shared__ __align__(16) float As[2 * 8 * (128 + TILE_PAD)];
    __shared__ __align__(16) float Bs[2 * 8 * (128 + TILE_PAD)];
    matmul_dispatch<128, 128, 8, 8, 8>(mm, a, b, c, As, Bs);
}

// One thread per C element: C[row, col] = Σ_k op(A)[row, k] · op(B)[k, col], k ascending.
extern "C" __global__ void matmul_fwd_naive_f32(const MatmulArgs mm, const float* __restrict__ a,
                                                const float* __restrict__ b,
                                                float* __restrict__ c) {
    const unsigned i = flat_index();
    if (i >= mm.m * mm.n) return;
    const unsigned row = i / mm.n, col = i % mm.n;
    // op(A)[row, k] = a[row·sa_r + k·sa_k]; op(B)[k, col] = b[k·sb_k + col·sb_c]
    const size_t sa_r = mm.trans_a ? 1u : mm.k, sa_k = mm.trans_a ? mm.m : 1u;
    const size_t sb_k = mm.trans_b ? 1u : mm.n, sb_c = mm.trans_b ? mm.k : 1u;
    const float* pa = a + row * sa_r;
    const float* pb = b + col * sb_c;
    float s = 0.0f;
    for (unsigned k = 0; k < mm.k; ++k) s = fmaf(pa[k * sa_k], pb[k * sb_k], s);
    c[i] = s;
}
