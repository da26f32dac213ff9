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

// The GEMM core (tile loaders, double-buffered main loop) is kernels/gemm_tile.cuh, prepended
// to this file together with conv2d.cu.

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
