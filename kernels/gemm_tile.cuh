// gemm_tile.cuh — the tiled-GEMM core shared by matmul.cu and conv2d.cu (src/device/cuda/
// kernels.rs prepends it to those two modules, after common.cuh; NVRTC has no #include of our
// files). It holds the shared-memory tile loaders and the double-buffered main loop: each block
// of 256 threads computes a BM×BN output tile, staging BK-deep slices of both operands in
// k-major shared tiles and accumulating a TM×TN register micro-tile per thread. The operand
// loaders are template parameters, so matmul passes plain row-major loaders and conv2d passes
// im2col loaders that compute the patch matrix on the fly (implicit GEMM).

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

