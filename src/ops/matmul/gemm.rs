//! Single-precision general matrix multiply (SGEMM), written from scratch in
//! the BLIS / GotoBLAS style.
//!
//! Computes, for row-major matrices,
//!
//! ```text
//! C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C
//! ```
//!
//! where `op(X)` is `X` or `Xᵀ`.
//!
//! # Why not the triple loop?
//!
//! The naive `for i { for j { for p { c[i][j] += a[i][p] * b[p][j] } } }` does
//! 2 flops per 2 loads. A modern core can do 32 f32 flops per cycle (two 8-wide
//! FMA pipes) but only load a few values per cycle, so the naive loop is
//! bound by memory traffic and runs at a few percent of peak. Every fast GEMM
//! is about *reuse*: load a value once into a register or into a cache level,
//! and use it many times there.
//!
//! # The loop nest
//!
//! ```text
//! for jc in 0..n step NC                      // columns of C / op(B)
//!   for pc in 0..k step KC                    // the k dimension, in blocks
//!     pack op(B)[pc..pc+KC, jc..jc+NC]  ->  B̃   (KC×NC, stays in L2)
//!     for ir in 0..m step MR                  // MR rows of C at a time
//!       pack op(A)[ir..ir+MR, pc..pc+KC] -> Ã   (MR×KC, stays in L1)
//!       for jr in 0..NC step NR               // NR columns at a time
//!         micro-kernel:  C[ir..ir+MR, jc+jr..jc+jr+NR]
//!                          (+)= alpha · Ã · B̃[:, jr..jr+NR]
//! ```
//!
//! * The **micro-kernel** keeps an MR×NR tile of C in *registers* (for
//!   AVX-512: 8 rows × 32 columns = 16 zmm registers of 16 floats). For each
//!   `p` in the k block it loads one row of NR values of B̃ (2 vector loads),
//!   broadcasts the MR values of Ã's column `p` one at a time, and does
//!   MR×NR/16 fused multiply-adds. That is 16 vector FMAs (256 multiply-adds
//!   = 512 flops) for 2 vector loads + 8 scalar broadcasts: the FMA units,
//!   not the memory ports, become the bottleneck. The tile's C values are touched in memory
//!   only once per k block (load at the start, store at the end), not once
//!   per `p`. Many independent accumulators (16) also hide the 4-cycle FMA
//!   latency: there are always enough FMAs that do not wait on each other.
//! * The **Ã sliver** (MR×KC floats, 8×384×4 B = 12 KiB) is reused for every
//!   `jr`, so it sits in the L1 cache; the **B̃ block** (KC×NC floats, up to
//!   512 KiB) is reused for every `ir`, so it sits in L2 and streams through
//!   L1 sequentially, which the hardware prefetcher handles well.
//!
//!   This is BLIS's loop nest with the roles of A and B mirrored. BLIS
//!   vectorizes along m, keeps a narrow B̃ sliver in L1 and an MC×KC block
//!   of Ã in L2. Here the vectors run along n (C is row-major, so a row of
//!   the C tile is contiguous), which makes the B̃ sliver the wide one
//!   (32·KC floats, too big for L1) and the Ã sliver the narrow one. So the
//!   Ã sliver is the L1 resident, and it is packed just before its `jr`
//!   loop (hot in L1 right after packing) instead of as an MC×KC block:
//!   there is no MC.
//! * **Packing** copies the operands into exactly the order the micro-kernel
//!   reads them, so its loads are contiguous, aligned, and independent of the
//!   caller's strides and transposes. All four `(trans_a, trans_b)`
//!   combinations therefore run the same micro-kernel at the same speed; only
//!   the (cheap, O(n²)) packing differs. Packing also pads ragged edges with
//!   zeros so the micro-kernel never needs a bounds check.
//!
//! # Packed layouts (index formulas)
//!
//! Let `w` be a sliver's width. A packed Ã sliver (rows `ir..ir+MR` of op(A),
//! columns `pc..pc+kc`) is stored "column by column":
//!
//! ```text
//! Ã[p·MR + i] = op(A)[ir + i, pc + p]      0 ≤ p < kc, 0 ≤ i < MR
//!             = 0                          if ir + i ≥ m   (zero padding)
//! ```
//!
//! The packed B̃ block is a sequence of slivers; the sliver for columns
//! `j0..j0+w` starts at offset `(j0 - jc)·kc` and is stored row by row:
//!
//! ```text
//! B̃_j0[p·w + j] = op(B)[pc + p, j0 + j]    0 ≤ p < kc, 0 ≤ j < w
//!               = 0                        if j0 + j ≥ n   (zero padding)
//! ```
//!
//! `w` is NR, except that the last sliver of a block uses NR/2 when at most
//! NR/2 columns remain (e.g. n = 784 = 24·32 + 16): that halves the wasted
//! work on ragged right edges.
//!
//! With `op(A) = A` (row-major m×k), gathering `Ã[p·MR + i]` is a transpose of
//! an MR×kc panel; with `op(A) = Aᵀ` it is a plain row copy. For B it is the
//! other way round. The transposing packers use 8×8 in-register transposes
//! on x86-64.
//!
//! Both pack buffers are thread-local, reused between calls (so small GEMMs
//! do not allocate) and 64-byte aligned.
//!
//! # Reading B in place
//!
//! Each packed B̃ value is used once per MR rows of C. When m is small (the
//! per-image convolution GEMMs have m = 16…128) that reuse does not pay for
//! the copy, and a non-transposed B already has the layout the micro-kernel
//! wants — row `p` of a sliver is `NR` contiguous floats, just `ldb` instead
//! of `w` floats after row `p − 1`. The micro-kernel therefore takes the
//! sliver's row stride as a parameter, and for up to 256 rows of C full
//! slivers of a non-transposed B are read in place (only a ragged last sliver
//! is packed, for its zero padding). This is skipped when B's rows are very
//! far apart (TLB and prefetcher misses) or a multiple of 1 KiB apart (cache
//! set conflicts).
//!
//! # Prefetching
//!
//! While one B̃ block is multiplied, software prefetches pull in the part of
//! B that the next block will be packed from, a slice per MR rows of C, and
//! the micro-kernel prefetches its C tile before its FMA loop. Both hide
//! memory latency when B or C do not fit in the caches.
//!
//! # Edges
//!
//! Tiles at the bottom/right edge of C are computed at full MR×NR size on the
//! zero-padded panels; the micro-kernel then writes only the valid
//! `mr_eff × nr_eff` part through a small stack temporary.
//!
//! # alpha, beta and the k blocks
//!
//! The first k block writes `C = alpha·acc + beta·C` (or `C = alpha·acc` when
//! `beta == 0`, so that garbage or NaN in C is never read); later k blocks
//! write `C = alpha·acc + C`.
//!
//! # Threads and determinism
//!
//! [`sgemm`] splits the *output* C into rectangular tasks (whole multiples of
//! MR rows and NR columns) and runs them with rayon; each task runs the loop
//! nest above on its own part of C with thread-local pack buffers. The k
//! dimension is never split between threads: splitting it would need a final
//! reduction whose summation order would depend on the split, so results
//! would change with the thread count. Here every element of C is produced by
//! the same sequence of operations — one FMA per `p` in increasing order
//! within each k block, the k blocks in increasing order, and the k blocking
//! depends only on `k` — whichever thread computes it and however the tiles
//! are cut. Hence [`sgemm`] and [`sgemm_st`] agree bit for bit, for every
//! thread count. (Different *kernels* — AVX-512, AVX2, portable — may round
//! differently, since the portable one does not fuse multiply and add.)
//!
//! # Dispatch
//!
//! The micro-kernel is chosen at run time with `is_x86_feature_detected!`:
//! AVX-512F (8×32), AVX2+FMA (6×16), or a portable Rust kernel (4×8) that
//! the compiler auto-vectorizes (SSE2 on x86-64, NEON on aarch64).

use rayon::prelude::*;
use std::cell::RefCell;

// ---------------------------------------------------------------------------
// Tuning constants
// ---------------------------------------------------------------------------

/// Largest k block. An Ã sliver is MR·KC floats (8·384·4 B = 12 KiB for
/// AVX-512), which leaves room in a 32 KiB L1 for the streamed B̃ rows.
const KC_MAX: usize = 384;

/// Target size of one packed B̃ block (KC×NC floats), chosen to sit
/// comfortably in a 1 MiB L2 next to the C tiles being updated.
const B_BLOCK_FLOATS: usize = 128 * 1024;

/// Largest number of rows of C for which a non-transposed B is read in
/// place rather than packed (see `run_task_with`).
const DIRECT_B_MAX_ROWS: usize = 256;

/// Largest extent (in floats) of one k block of B read in place.
const DIRECT_B_MAX_SPAN: usize = 512 * 1024;

/// Below this many multiply-adds (m·n·k), [`sgemm`] does not bother to spread
/// work over threads: the rayon hand-off would cost more than it saves.
const MT_MIN_WORK: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Kernel selection
// ---------------------------------------------------------------------------

/// Which micro-kernel (and matching packers) to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Plain Rust, auto-vectorized; runs everywhere.
    Portable,
    /// 6×16 tile with 256-bit FMA (requires AVX2 and FMA).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 8×32 tile with 512-bit FMA (requires AVX-512F, AVX2 and FMA).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The best kernel this CPU supports. `is_x86_feature_detected!` caches
    /// its answer, so this is cheap to call on every GEMM.
    pub(crate) fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if Kernel::Avx512.supported() {
                return Kernel::Avx512;
            }
            if Kernel::Avx2.supported() {
                return Kernel::Avx2;
            }
        }
        Kernel::Portable
    }

    /// Whether this CPU has the instruction-set extensions the kernel (and
    /// its packers) use. Running an unsupported kernel would be undefined
    /// behaviour, so [`sgemm_with`] asserts this.
    pub(crate) fn supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Kernel::Avx2.supported() && is_x86_feature_detected!("avx512f"),
        }
    }

    /// Rows of the register tile.
    fn mr(self) -> usize {
        match self {
            Kernel::Portable => portable::MR,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => x86::MR_AVX2,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => x86::MR_AVX512,
        }
    }

    /// Columns of the register tile.
    fn nr(self) -> usize {
        match self {
            Kernel::Portable => portable::NR,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => 16,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => 32,
        }
    }

    /// Width of the B̃ sliver that starts `rem` columns before the end of a
    /// block, and how many of its columns are real (the rest is padding).
    fn sliver(self, rem: usize) -> (usize, usize) {
        let nr = self.nr();
        if rem >= nr {
            (nr, nr)
        } else if rem <= nr / 2 {
            (nr / 2, rem)
        } else {
            (nr, rem)
        }
    }

    /// Runs the micro-kernel on one tile.
    ///
    /// # Safety
    /// * `a` points to `mr()·kc` readable floats (a packed Ã sliver);
    /// * `b` points to a B̃ sliver of width `w` (`w == nr()` or `nr()/2`):
    ///   rows `p·bs .. p·bs + w` are readable for `p < kc`;
    /// * `c` points to a `mr_eff × nr_eff` tile (row stride `ldc`) that is
    ///   valid for reads and writes and that no other thread touches;
    /// * `mr_eff ≤ mr()`, `nr_eff ≤ w`.
    unsafe fn run(self, t: Tile) {
        match self {
            Kernel::Portable => {
                // SAFETY: forwarded from this function's contract.
                unsafe { portable::kernel(t) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                // SAFETY: `sgemm_with` asserted `Kernel::Avx2.supported()`
                // (AVX2 and FMA present) before any kernel runs; pointer
                // validity is forwarded from this function's contract.
                unsafe {
                    if t.w == 16 {
                        x86::kernel_avx2::<2>(t)
                    } else {
                        x86::kernel_avx2::<1>(t)
                    }
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                // SAFETY: as above, with AVX-512F also asserted present.
                unsafe {
                    if t.w == 32 {
                        x86::kernel_avx512::<2>(t)
                    } else {
                        x86::kernel_avx512::<1>(t)
                    }
                }
            }
        }
    }

    /// Whether the x86 SIMD packers may be used.
    fn simd_pack(self) -> bool {
        !matches!(self, Kernel::Portable)
    }
}

/// Everything one micro-kernel call needs (see [`Kernel::run`]).
#[derive(Clone, Copy)]
struct Tile {
    kc: usize,
    a: *const f32,
    b: *const f32,
    /// Distance (in floats) between consecutive k rows of the B̃ sliver.
    bs: usize,
    /// Width of the B̃ sliver (NR or NR/2).
    w: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
    mr_eff: usize,
    nr_eff: usize,
}

/// Writes `alpha·acc + beta·C` (or `alpha·acc` when `beta == 0`) for the valid
/// part of a tile whose accumulators were spilled to `acc` (row stride
/// `acc_ld`). It performs exactly the same f32 operations, in the same order,
/// as the vector write-back of the SIMD kernels (multiply, multiply, add; no
/// fusion), so partial and full tiles round identically.
///
/// # Safety
/// `c` must point to an `mr_eff × nr_eff` tile with row stride `ldc` that is
/// valid for reads and writes and not accessed by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn write_back_scalar(
    acc: &[f32],
    acc_ld: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
    mr_eff: usize,
    nr_eff: usize,
) {
    for i in 0..mr_eff {
        let acc_row = &acc[i * acc_ld..i * acc_ld + nr_eff];
        for (j, &v) in acc_row.iter().enumerate() {
            // SAFETY: (i, j) lies inside the mr_eff × nr_eff tile that the
            // caller guarantees to be valid and exclusively ours.
            unsafe {
                let cp = c.add(i * ldc + j);
                let x = alpha * v;
                *cp = if beta == 0.0 { x } else { x + beta * *cp };
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Portable micro-kernel
// ---------------------------------------------------------------------------

mod portable {
    use super::{write_back_scalar, Tile};

    pub const MR: usize = 4;
    pub const NR: usize = 8;

    /// Portable micro-kernel: an `MR × W` accumulator array the compiler keeps
    /// in vector registers. Multiply and add are separate operations here:
    /// `f32::mul_add` would call a slow software routine on targets without
    /// hardware FMA.
    fn accumulate<const W: usize>(kc: usize, a: &[f32], b: &[f32], bs: usize) -> [[f32; W]; MR] {
        let mut acc = [[0.0f32; W]; MR];
        for p in 0..kc {
            let ap = &a[p * MR..p * MR + MR];
            let bp = &b[p * bs..p * bs + W];
            for i in 0..MR {
                let ai = ap[i];
                for j in 0..W {
                    acc[i][j] += ai * bp[j];
                }
            }
        }
        acc
    }

    /// # Safety
    /// See [`super::Kernel::run`].
    pub unsafe fn kernel(t: Tile) {
        let b_len = if t.kc == 0 {
            0
        } else {
            (t.kc - 1) * t.bs + t.w
        };
        // SAFETY: the caller guarantees `a` holds MR·kc floats and that B̃
        // rows `p·bs .. p·bs + w` (p < kc) are readable; both are packed
        // buffers that nobody writes while the kernel runs.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(t.a, MR * t.kc),
                std::slice::from_raw_parts(t.b, b_len),
            )
        };
        if t.w == NR {
            let acc = accumulate::<NR>(t.kc, a, b, t.bs);
            // SAFETY: the C tile contract is forwarded from the caller.
            unsafe {
                write_back_scalar(
                    acc.as_flattened(),
                    NR,
                    t.c,
                    t.ldc,
                    t.alpha,
                    t.beta,
                    t.mr_eff,
                    t.nr_eff,
                )
            }
        } else {
            let acc = accumulate::<{ NR / 2 }>(t.kc, a, b, t.bs);
            // SAFETY: as above.
            unsafe {
                write_back_scalar(
                    acc.as_flattened(),
                    NR / 2,
                    t.c,
                    t.ldc,
                    t.alpha,
                    t.beta,
                    t.mr_eff,
                    t.nr_eff,
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------
// x86-64 micro-kernels and packers
// ---------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::{write_back_scalar, Tile};
    use std::arch::x86_64::*;

    pub const MR_AVX512: usize = 8;
    pub const MR_AVX2: usize = 6;

    /// AVX-512 micro-kernel: an 8 × (16·NV) tile of C lives in 8·NV zmm
    /// registers (NV = 2: 16 accumulators, plus 2 for the B̃ row and 1 for the
    /// broadcast, well within the 32 zmm registers).
    ///
    /// # Safety
    /// The CPU must support AVX-512F; pointers as in [`super::Kernel::run`]
    /// with `w == 16·NV`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel_avx512<const NV: usize>(t: Tile) {
        const MR: usize = MR_AVX512;
        // Ask for the C tile early, so that its cache misses overlap with
        // the FMA loop instead of stalling the write-back.
        for i in 0..t.mr_eff {
            let row = t.c.wrapping_add(i * t.ldc);
            for v in 0..NV {
                // SAFETY: prefetching is only a hint and never faults, so any
                // address is fine (computed with wrapping arithmetic).
                #[allow(unused_unsafe)] // safe to call in newer Rust versions
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(16 * v).cast::<i8>())
                };
            }
        }
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let mut ap = t.a;
        let mut bp = t.b;
        for _ in 0..t.kc {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                // SAFETY: row p of the B̃ sliver has w = 16·NV readable floats.
                *x = unsafe { _mm512_loadu_ps(bp.add(16 * v)) };
            }
            for (i, acc_i) in acc.iter_mut().enumerate() {
                // SAFETY: column p of the Ã sliver has MR readable floats.
                let ai = _mm512_set1_ps(unsafe { *ap.add(i) });
                for (x, &bvv) in acc_i.iter_mut().zip(bv.iter()) {
                    *x = _mm512_fmadd_ps(ai, bvv, *x);
                }
            }
            // SAFETY: stays within (or one past) the packed buffers; the last
            // advanced pointers are never dereferenced.
            unsafe {
                ap = ap.add(MR);
                bp = bp.add(t.bs);
            }
        }

        let va = _mm512_set1_ps(t.alpha);
        if t.mr_eff == MR && t.nr_eff == 16 * NV {
            let vb = _mm512_set1_ps(t.beta);
            for (i, acc_i) in acc.iter().enumerate() {
                for (v, &x) in acc_i.iter().enumerate() {
                    // SAFETY: full tile: (i, 16v..16v+16) lies inside the
                    // MR × w tile of C that the caller hands us exclusively.
                    unsafe {
                        let cp = t.c.add(i * t.ldc + 16 * v);
                        let mut r = _mm512_mul_ps(va, x);
                        if t.beta != 0.0 {
                            r = _mm512_add_ps(r, _mm512_mul_ps(vb, _mm512_loadu_ps(cp)));
                        }
                        _mm512_storeu_ps(cp, r);
                    }
                }
            }
        } else {
            // Partial tile: spill the accumulators and write the valid part.
            let mut tmp = [[0.0f32; 32]; MR];
            for (i, acc_i) in acc.iter().enumerate() {
                for (v, &x) in acc_i.iter().enumerate() {
                    // SAFETY: tmp[i] has 32 ≥ 16·NV floats.
                    unsafe { _mm512_storeu_ps(tmp[i].as_mut_ptr().add(16 * v), x) };
                }
            }
            // SAFETY: C tile contract forwarded from the caller.
            unsafe {
                write_back_scalar(
                    tmp.as_flattened(),
                    32,
                    t.c,
                    t.ldc,
                    t.alpha,
                    t.beta,
                    t.mr_eff,
                    t.nr_eff,
                )
            };
        }
    }

    /// AVX2 micro-kernel: a 6 × (8·NV) tile of C in 6·NV ymm registers
    /// (NV = 2: 12 accumulators + 2 B̃ values + 1 broadcast = 15 of the 16
    /// ymm registers).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; pointers as in
    /// [`super::Kernel::run`] with `w == 8·NV`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn kernel_avx2<const NV: usize>(t: Tile) {
        const MR: usize = MR_AVX2;
        let mut acc = [[_mm256_setzero_ps(); NV]; MR];
        let mut ap = t.a;
        let mut bp = t.b;
        for _ in 0..t.kc {
            let mut bv = [_mm256_setzero_ps(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                // SAFETY: row p of the B̃ sliver has w = 8·NV readable floats.
                *x = unsafe { _mm256_loadu_ps(bp.add(8 * v)) };
            }
            for (i, acc_i) in acc.iter_mut().enumerate() {
                // SAFETY: column p of the Ã sliver has MR readable floats.
                let ai = _mm256_set1_ps(unsafe { *ap.add(i) });
                for (x, &bvv) in acc_i.iter_mut().zip(bv.iter()) {
                    *x = _mm256_fmadd_ps(ai, bvv, *x);
                }
            }
            // SAFETY: see kernel_avx512.
            unsafe {
                ap = ap.add(MR);
                bp = bp.add(t.bs);
            }
        }

        let va = _mm256_set1_ps(t.alpha);
        if t.mr_eff == MR && t.nr_eff == 8 * NV {
            let vb = _mm256_set1_ps(t.beta);
            for (i, acc_i) in acc.iter().enumerate() {
                for (v, &x) in acc_i.iter().enumerate() {
                    // SAFETY: full tile, see kernel_avx512.
                    unsafe {
                        let cp = t.c.add(i * t.ldc + 8 * v);
                        let mut r = _mm256_mul_ps(va, x);
                        if t.beta != 0.0 {
                            r = _mm256_add_ps(r, _mm256_mul_ps(vb, _mm256_loadu_ps(cp)));
                        }
                        _mm256_storeu_ps(cp, r);
                    }
                }
            }
        } else {
            let mut tmp = [[0.0f32; 16]; MR];
            for (i, acc_i) in acc.iter().enumerate() {
                for (v, &x) in acc_i.iter().enumerate() {
                    // SAFETY: tmp[i] has 16 ≥ 8·NV floats.
                    unsafe { _mm256_storeu_ps(tmp[i].as_mut_ptr().add(8 * v), x) };
                }
            }
            // SAFETY: C tile contract forwarded from the caller.
            unsafe {
                write_back_scalar(
                    tmp.as_flattened(),
                    16,
                    t.c,
                    t.ldc,
                    t.alpha,
                    t.beta,
                    t.mr_eff,
                    t.nr_eff,
                )
            };
        }
    }

    /// Transposing pack with 8×8 in-register transposes:
    /// `dst[p·w + r] = src[(r0 + r)·ld + p0 + p]` for `r < nrows`, `p < kc`,
    /// and `dst[p·w + r] = 0` for `nrows ≤ r < w`.
    ///
    /// # Safety
    /// The CPU must support AVX; `src[(r0 + r)·ld + p0 + p]` must be in
    /// bounds for all `r < nrows`, `p < kc`; `dst.len() ≥ kc·w`, `nrows ≤ w`.
    #[target_feature(enable = "avx")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn pack_transposed_avx(
        src: &[f32],
        ld: usize,
        r0: usize,
        nrows: usize,
        p0: usize,
        kc: usize,
        w: usize,
        dst: &mut [f32],
    ) {
        debug_assert!(dst.len() >= kc * w && nrows <= w);
        let s = src.as_ptr();
        let d = dst.as_mut_ptr();
        let full_r = nrows / 8 * 8;
        let full_p = kc / 8 * 8;
        let mut r = 0;
        while r < full_r {
            let mut p = 0;
            while p < full_p {
                // SAFETY: rows r..r+8 < nrows and columns p..p+8 ≤ kc are in
                // bounds of `src` (caller contract); the 8 stores write
                // dst[(p+q)·w + r .. +8] with p+q < kc and r+8 ≤ w.
                unsafe {
                    let row = |q: usize| _mm256_loadu_ps(s.add((r0 + r + q) * ld + p0 + p));
                    transpose8x8_store(std::array::from_fn(row), d.add(p * w + r), w);
                }
                p += 8;
            }
            // Leftover columns (kc not a multiple of 8) of these 8 rows.
            for q in 0..8 {
                let srow = &src[(r0 + r + q) * ld + p0..(r0 + r + q) * ld + p0 + kc];
                for pp in full_p..kc {
                    dst[pp * w + r + q] = srow[pp];
                }
            }
            r += 8;
        }
        if full_r < nrows && w == 8 && full_r == 0 {
            // SAFETY: the caller's contract, as for this function.
            unsafe { pack_partial_panel_avx(src, ld, r0, nrows, p0, kc, dst) };
            return;
        }
        super::pack_transposed_scalar(src, ld, r0, full_r, nrows, p0, kc, w, dst);
    }

    /// Store the 8×8 block whose rows are `x` transposed: row q of the result (column q of
    /// the block) goes to `out[q·w .. q·w + 8]`.
    ///
    /// # Safety
    /// The CPU must support AVX; `out[q·w + i]` must be writable for q, i < 8.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(crate) unsafe fn transpose8x8_store(x: [__m256; 8], out: *mut f32, w: usize) {
        let t0 = _mm256_unpacklo_ps(x[0], x[1]);
        let t1 = _mm256_unpackhi_ps(x[0], x[1]);
        let t2 = _mm256_unpacklo_ps(x[2], x[3]);
        let t3 = _mm256_unpackhi_ps(x[2], x[3]);
        let t4 = _mm256_unpacklo_ps(x[4], x[5]);
        let t5 = _mm256_unpackhi_ps(x[4], x[5]);
        let t6 = _mm256_unpacklo_ps(x[6], x[7]);
        let t7 = _mm256_unpackhi_ps(x[6], x[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        // SAFETY: the caller guarantees out[q·w .. q·w + 8] is writable for q < 8.
        unsafe {
            _mm256_storeu_ps(out, _mm256_permute2f128_ps::<0x20>(u0, u4));
            _mm256_storeu_ps(out.add(w), _mm256_permute2f128_ps::<0x20>(u1, u5));
            _mm256_storeu_ps(out.add(2 * w), _mm256_permute2f128_ps::<0x20>(u2, u6));
            _mm256_storeu_ps(out.add(3 * w), _mm256_permute2f128_ps::<0x20>(u3, u7));
            _mm256_storeu_ps(out.add(4 * w), _mm256_permute2f128_ps::<0x31>(u0, u4));
            _mm256_storeu_ps(out.add(5 * w), _mm256_permute2f128_ps::<0x31>(u1, u5));
            _mm256_storeu_ps(out.add(6 * w), _mm256_permute2f128_ps::<0x31>(u2, u6));
            _mm256_storeu_ps(out.add(7 * w), _mm256_permute2f128_ps::<0x31>(u3, u7));
        }
    }

    /// The last, partial panel of an 8-wide pack (`nrows < 8` rows): the missing rows read as
    /// zeros, so each 8×8 transpose writes the values and the panel's zero padding at once —
    /// instead of strided scalar stores and a `memset` call per packed row.
    ///
    /// # Safety
    /// The CPU must support AVX; `src[(r0 + r)·ld + p0 + p]` in bounds for `r < nrows < 8`,
    /// `p < kc`; `dst.len() ≥ 8·kc`.
    #[target_feature(enable = "avx")]
    unsafe fn pack_partial_panel_avx(
        src: &[f32],
        ld: usize,
        r0: usize,
        nrows: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        debug_assert!(nrows < 8 && dst.len() >= 8 * kc);
        let s = src.as_ptr();
        let d = dst.as_mut_ptr();
        let full_p = kc / 8 * 8;
        let mut p = 0;
        while p < full_p {
            // SAFETY: rows q < nrows and columns p..p+8 ≤ kc are in bounds of `src`; the 8
            // stores write dst[(p+q)·8 .. +8] with p+q < kc.
            unsafe {
                let row = |q: usize| {
                    if q < nrows {
                        _mm256_loadu_ps(s.add((r0 + q) * ld + p0 + p))
                    } else {
                        _mm256_setzero_ps()
                    }
                };
                transpose8x8_store(std::array::from_fn(row), d.add(p * 8), 8);
            }
            p += 8;
        }
        for pp in full_p..kc {
            for q in 0..8 {
                dst[pp * 8 + q] = if q < nrows {
                    src[(r0 + q) * ld + p0 + pp]
                } else {
                    0.0
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------

/// Direct pack: `dst[p·w + j] = src[(p0 + p)·ld + c0 + j]` for `j < ncols`,
/// zero for `ncols ≤ j < w`, for `p < kc`.
#[allow(clippy::too_many_arguments)]
fn pack_direct(
    src: &[f32],
    ld: usize,
    p0: usize,
    kc: usize,
    c0: usize,
    ncols: usize,
    w: usize,
    dst: &mut [f32],
) {
    // A compile-time width turns each row into a few vector moves; a
    // run-time width would call `memcpy` for every short row.
    match w {
        4 => pack_direct_w::<4>(src, ld, p0, kc, c0, ncols, dst),
        6 => pack_direct_w::<6>(src, ld, p0, kc, c0, ncols, dst),
        8 => pack_direct_w::<8>(src, ld, p0, kc, c0, ncols, dst),
        16 => pack_direct_w::<16>(src, ld, p0, kc, c0, ncols, dst),
        32 => pack_direct_w::<32>(src, ld, p0, kc, c0, ncols, dst),
        _ => {
            for (p, drow) in dst.chunks_exact_mut(w).take(kc).enumerate() {
                let s = (p0 + p) * ld + c0;
                drow[..ncols].copy_from_slice(&src[s..s + ncols]);
                drow[ncols..].fill(0.0);
            }
        }
    }
}

fn pack_direct_w<const W: usize>(
    src: &[f32],
    ld: usize,
    p0: usize,
    kc: usize,
    c0: usize,
    ncols: usize,
    dst: &mut [f32],
) {
    for (p, drow) in dst.chunks_exact_mut(W).take(kc).enumerate() {
        let s = (p0 + p) * ld + c0;
        if ncols == W {
            copy_fixed::<W>(&src[s..s + W], drow);
        } else {
            let srow = &src[s..s + ncols];
            for (j, d) in drow.iter_mut().enumerate() {
                *d = srow.get(j).copied().unwrap_or(0.0);
            }
        }
    }
}

/// Packs the non-transposed `B[pc..pc+kc, jc..jc+nc]` into slivers (layout in
/// the module docs). It walks B row by row, so that it reads each row's
/// `nc` floats sequentially: walking one sliver at a time instead would jump
/// `ldb` floats for every 32 read, which for wide B touches a new page (and
/// misses the TLB) on every row.
#[allow(clippy::too_many_arguments)]
fn pack_b_rows(
    kern: Kernel,
    b: &[f32],
    ldb: usize,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    dst: &mut [f32],
) {
    for p in 0..kc {
        let s = (pc + p) * ldb + jc;
        let src = &b[s..s + nc];
        if p + PREFETCH_ROWS < kc {
            prefetch_row(&b[s + PREFETCH_ROWS * ldb..s + PREFETCH_ROWS * ldb + nc]);
        }
        let mut j = 0;
        let mut off = 0;
        while j < nc {
            let (w, cols) = kern.sliver(nc - j);
            let drow = &mut dst[off + p * w..off + p * w + w];
            let srow = &src[j..j + cols];
            match (cols, w) {
                // Fixed-size copies compile to a few vector moves instead of
                // a `memcpy` call per (short) row.
                (32, 32) => copy_fixed::<32>(srow, drow),
                (16, 16) => copy_fixed::<16>(srow, drow),
                (8, 8) => copy_fixed::<8>(srow, drow),
                _ => {
                    drow[..cols].copy_from_slice(srow);
                    drow[cols..].fill(0.0);
                }
            }
            j += w;
            off += w * kc;
        }
    }
}

/// How many rows ahead [`pack_b_rows`] prefetches. Rows of a wide B are far
/// apart, so the hardware prefetcher only catches on after the first few
/// misses of every row; asking early hides that latency.
const PREFETCH_ROWS: usize = 4;

/// Hints the CPU to start loading `row` into the cache (a no-op off x86-64).
#[inline(always)]
fn prefetch_row(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for chunk in row.chunks(16) {
        // SAFETY: `_mm_prefetch` is SSE (part of the x86-64 baseline) and only
        // a hint: it never faults and the pointer comes from a live slice.
        #[allow(unused_unsafe)] // safe to call in newer Rust versions
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                chunk.as_ptr().cast::<i8>(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

#[inline(always)]
fn copy_fixed<const W: usize>(src: &[f32], dst: &mut [f32]) {
    let s: &[f32; W] = src[..W].try_into().expect("length checked by slicing");
    let d: &mut [f32; W] = (&mut dst[..W])
        .try_into()
        .expect("length checked by slicing");
    *d = *s;
}

/// Scalar transposing pack of rows `r_begin..nrows` (and zero padding of rows
/// `nrows..w`): `dst[p·w + r] = src[(r0 + r)·ld + p0 + p]`.
#[allow(clippy::too_many_arguments)]
fn pack_transposed_scalar(
    src: &[f32],
    ld: usize,
    r0: usize,
    r_begin: usize,
    nrows: usize,
    p0: usize,
    kc: usize,
    w: usize,
    dst: &mut [f32],
) {
    for r in r_begin..nrows {
        let s = (r0 + r) * ld + p0;
        for (p, &v) in src[s..s + kc].iter().enumerate() {
            dst[p * w + r] = v;
        }
    }
    if nrows < w {
        for drow in dst.chunks_exact_mut(w).take(kc) {
            drow[nrows..].fill(0.0);
        }
    }
}

/// Transposing pack: `dst[p·w + r] = src[(r0 + r)·ld + p0 + p]` for
/// `r < nrows`, zero for `nrows ≤ r < w`, for `p < kc`.
#[allow(clippy::too_many_arguments)]
fn pack_transposed(
    simd: bool,
    src: &[f32],
    ld: usize,
    r0: usize,
    nrows: usize,
    p0: usize,
    kc: usize,
    w: usize,
    dst: &mut [f32],
) {
    // Bounds of everything the SIMD path reads, checked once up front.
    assert!(nrows == 0 || kc == 0 || (r0 + nrows - 1) * ld + p0 + kc <= src.len());
    assert!(dst.len() >= kc * w && nrows <= w);
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` is only true for the AVX2/AVX-512 kernels, and
        // `sgemm_with` asserted that their features, AVX2 (hence AVX)
        // included, are present; the bounds required by the function were
        // asserted just above.
        unsafe { x86::pack_transposed_avx(src, ld, r0, nrows, p0, kc, w, dst) };
        return;
    }
    let _ = simd;
    pack_transposed_scalar(src, ld, r0, 0, nrows, p0, kc, w, dst);
}

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

/// A raw pointer to C that may be shared between rayon tasks.
#[derive(Clone, Copy)]
struct CPtr(*mut f32);
// SAFETY: tasks write pairwise disjoint rectangles of C (see `sgemm_with`),
// and the `&mut [f32]` that the pointer comes from outlives all tasks.
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

/// The arguments of one GEMM call, shared by all its tasks.
struct Problem<'a> {
    m: usize,
    n: usize,
    alpha: f32,
    a: &'a [f32],
    lda: usize,
    trans_a: bool,
    b: &'a [f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: CPtr,
    ldc: usize,
    kernel: Kernel,
    /// The k blocks `(pc, kc)`: a function of k only (determinism).
    kblocks: Vec<(usize, usize)>,
}

/// Splits `0..k` into `ceil(k / KC_MAX)` blocks of nearly equal size. This
/// depends on nothing but `k`, which is what makes every thread count produce
/// identical bits.
fn k_blocks(k: usize) -> Vec<(usize, usize)> {
    let nb = k.div_ceil(KC_MAX).max(1);
    let base = k / nb;
    let extra = k % nb;
    let mut out = Vec::with_capacity(nb);
    let mut pc = 0;
    for i in 0..nb {
        let kc = base + usize::from(i < extra);
        out.push((pc, kc));
        pc += kc;
    }
    out
}

/// Reusable per-thread pack buffers (so small GEMMs do not allocate).
#[derive(Default)]
struct PackBuffers {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static PACK: RefCell<PackBuffers> = RefCell::new(PackBuffers::default());
}

/// A 64-byte-aligned window of `len` floats inside `v`, growing `v` if needed.
fn aligned(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const PAD: usize = 16; // 64 bytes of f32
    if v.len() < len + PAD {
        v.resize(len + PAD, 0.0);
    }
    let off = v.as_ptr().align_offset(64).min(PAD);
    &mut v[off..off + len]
}

/// Computes the rectangle `rows × cols` of C for the whole k range.
fn run_task(p: &Problem, rows: (usize, usize), cols: (usize, usize)) {
    PACK.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => run_task_with(p, rows, cols, &mut bufs),
        // Only reachable if a task re-entered this thread's GEMM while its
        // buffers were in use; fall back to fresh buffers.
        Err(_) => run_task_with(p, rows, cols, &mut PackBuffers::default()),
    });
}

fn run_task_with(
    p: &Problem,
    (i0, i1): (usize, usize),
    (j0, j1): (usize, usize),
    bufs: &mut PackBuffers,
) {
    let kern = p.kernel;
    let (mr, nr) = (kern.mr(), kern.nr());
    let simd = kern.simd_pack();
    let kc_max = p.kblocks.iter().map(|&(_, kc)| kc).max().unwrap_or(0);

    // NC: split this task's columns into blocks of nearly equal width (a
    // multiple of NR) such that a packed B̃ block stays near B_BLOCK_FLOATS.
    let ncols = j1 - j0;
    let nc_cap = ((B_BLOCK_FLOATS / kc_max.max(1)) / nr * nr).max(nr);
    let nblocks = ncols.div_ceil(nc_cap);
    let nc = ncols.div_ceil(nblocks).div_ceil(nr) * nr;

    let a_pack = aligned(&mut bufs.a, mr * kc_max);
    // Slivers are at most NR wide and nc is a multiple of NR.
    let b_pack = aligned(&mut bufs.b, nc * kc_max);

    // Each packed B̃ value is used once per MR rows of C, so with few rows
    // packing costs more than it saves, and the micro-kernel can just as well
    // read a non-transposed B in place (row stride ldb instead of w). Not
    // when B's rows are far apart (the reads then miss the TLB and the
    // prefetchers) or a multiple of 1 KiB apart (they then compete for a
    // few cache sets).
    let direct_b = !p.trans_b
        && i1 - i0 <= DIRECT_B_MAX_ROWS
        && kc_max.saturating_mul(p.ldb) <= DIRECT_B_MAX_SPAN
        && !p.ldb.is_multiple_of(256);

    let mut jc = j0;
    while jc < j1 {
        let nc_eff = nc.min(j1 - jc);
        for (bi, &(pc, kc)) in p.kblocks.iter().enumerate() {
            let beta = if bi == 0 { p.beta } else { 1.0 };

            // Pack op(B)[pc..pc+kc, jc..jc+nc_eff] as a sequence of slivers.
            if p.trans_b {
                // op(B)[p, j] = B[j·ldb + p]: each sliver reads `w` rows of
                // B, each a contiguous run of kc floats.
                let mut j = 0;
                let mut off = 0;
                while j < nc_eff {
                    let (w, cols) = kern.sliver(nc_eff - j);
                    let dst = &mut b_pack[off..off + w * kc];
                    pack_transposed(simd, p.b, p.ldb, jc + j, cols, pc, kc, w, dst);
                    j += w;
                    off += w * kc;
                }
            } else if direct_b {
                // Full slivers are read in place; only a ragged last sliver
                // needs zero padding, so only it is packed.
                let mut j = 0;
                let mut off = 0;
                while j < nc_eff {
                    let (w, cols) = kern.sliver(nc_eff - j);
                    if cols < w {
                        let dst = &mut b_pack[off..off + w * kc];
                        pack_direct(p.b, p.ldb, pc, kc, jc + j, cols, w, dst);
                    }
                    j += w;
                    off += w * kc;
                }
            } else {
                // op(B)[p, j] = B[p·ldb + j]
                pack_b_rows(kern, p.b, p.ldb, pc, kc, jc, nc_eff, b_pack);
            }

            // While this block is being multiplied, pull the part of B that
            // the *next* B̃ block will be packed from towards the cache, one
            // slice per MR rows, so that packing it does not wait on memory.
            let next = if bi + 1 < p.kblocks.len() {
                Some((jc, nc_eff, p.kblocks[bi + 1]))
            } else if jc + nc_eff < j1 {
                Some((jc + nc_eff, nc.min(j1 - jc - nc_eff), p.kblocks[0]))
            } else {
                None
            };
            let parts = (i1 - i0).div_ceil(mr);

            let mut ir = i0;
            while ir < i1 {
                let mr_eff = mr.min(i1 - ir);
                if let (Some((njc, nnc, (npc, nkc))), false) = (next, direct_b) {
                    // The stored-B rectangle behind op(B)[npc.., njc..].
                    let (r0, nrows, c0, ncols) = if p.trans_b {
                        (njc, nnc, npc, nkc)
                    } else {
                        (npc, nkc, njc, nnc)
                    };
                    let part = (ir - i0) / mr;
                    for r in r0 + nrows * part / parts..r0 + nrows * (part + 1) / parts {
                        prefetch_row(&p.b[r * p.ldb + c0..r * p.ldb + c0 + ncols]);
                    }
                }
                let a_dst = &mut a_pack[..mr * kc];
                if p.trans_a {
                    // op(A)[i, p] = A[p·lda + i]
                    pack_direct(p.a, p.lda, pc, kc, ir, mr_eff, mr, a_dst);
                } else {
                    // op(A)[i, p] = A[i·lda + p]
                    pack_transposed(simd, p.a, p.lda, ir, mr_eff, pc, kc, mr, a_dst);
                }

                let mut j = 0;
                let mut off = 0;
                while j < nc_eff {
                    let (w, cols) = kern.sliver(nc_eff - j);
                    let (b, bs) = if direct_b && cols == w {
                        (p.b[pc * p.ldb + jc + j..].as_ptr(), p.ldb)
                    } else {
                        (b_pack[off..].as_ptr(), w)
                    };
                    let tile = Tile {
                        kc,
                        a: a_pack.as_ptr(),
                        b,
                        bs,
                        w,
                        // SAFETY (pointer arithmetic only): ir < m and
                        // jc + j < n, so the offset is inside the C slice
                        // whose length `check_args` verified.
                        c: unsafe { p.c.0.add(ir * p.ldc + jc + j) },
                        ldc: p.ldc,
                        alpha: p.alpha,
                        beta,
                        mr_eff,
                        nr_eff: cols,
                    };
                    // SAFETY: Ã holds mr·kc packed floats; the B̃ sliver at
                    // `off` holds kc rows of w floats (bs = w); the C tile
                    // rows ir..ir+mr_eff, columns jc+j..jc+j+cols are inside
                    // C (checked lengths) and inside this task's rectangle,
                    // which no other task touches.
                    unsafe { kern.run(tile) };
                    j += w;
                    off += w * kc;
                }
                ir += mr;
            }
        }
        jc += nc_eff;
    }
}

/// Number of elements a `rows × cols` row-major matrix with row stride `ld`
/// spans (0 if empty).
fn required_len(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1)
        .checked_mul(ld)
        .and_then(|x| x.checked_add(cols))
        .expect("sgemm: matrix extent overflows usize")
}

#[allow(clippy::too_many_arguments)]
fn check_args(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &[f32],
    ldc: usize,
) {
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    // A stride only matters when the stored matrix has at least one row.
    assert!(
        ar == 0 || lda >= ac,
        "sgemm: lda = {lda} is smaller than the {ac} columns of the stored A"
    );
    assert!(
        br == 0 || ldb >= bc,
        "sgemm: ldb = {ldb} is smaller than the {bc} columns of the stored B"
    );
    assert!(
        m == 0 || ldc >= n,
        "sgemm: ldc = {ldc} is smaller than n = {n}"
    );
    let (la, lb, lc) = (
        required_len(ar, ac, lda),
        required_len(br, bc, ldb),
        required_len(m, n, ldc),
    );
    assert!(
        a.len() >= la,
        "sgemm: A has {} elements, a {ar}×{ac} matrix with lda {lda} needs {la}",
        a.len()
    );
    assert!(
        b.len() >= lb,
        "sgemm: B has {} elements, a {br}×{bc} matrix with ldb {ldb} needs {lb}",
        b.len()
    );
    assert!(
        c.len() >= lc,
        "sgemm: C has {} elements, a {m}×{n} matrix with ldc {ldc} needs {lc}",
        c.len()
    );
}

/// C = beta·C (the whole result when k == 0 or alpha == 0).
fn scale_c(m: usize, n: usize, beta: f32, c: &mut [f32], ldc: usize) {
    for row in c.chunks_mut(ldc).take(m) {
        let row = &mut row[..n];
        if beta == 0.0 {
            row.fill(0.0);
        } else if beta != 1.0 {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
}

/// Cuts C into rectangles for the threads: whole multiples of MR rows and NR
/// columns. Splitting columns first is cheaper (each task packs only its own
/// part of B̃, and B̃ is the expensive operand to pack); rows are split too
/// when there are too few column slivers to keep every thread busy.
fn split_tasks(
    m: usize,
    n: usize,
    mr: usize,
    nr: usize,
    threads: usize,
) -> Vec<((usize, usize), (usize, usize))> {
    let target = threads * 4;
    let tiles_m = m.div_ceil(mr);
    let tiles_n = n.div_ceil(nr);
    // Keep at least 4 slivers (128 columns for AVX-512) per task.
    let nb = target.min((tiles_n / 4).max(1));
    let mb = tiles_m.min(target.div_ceil(nb)).max(1);
    let n_step = tiles_n.div_ceil(nb) * nr;
    let m_step = tiles_m.div_ceil(mb) * mr;
    let mut tasks = Vec::with_capacity(nb * mb);
    for i in (0..m).step_by(m_step) {
        for j in (0..n).step_by(n_step) {
            tasks.push(((i, (i + m_step).min(m)), (j, (j + n_step).min(n))));
        }
    }
    tasks
}

/// The GEMM with an explicit kernel choice and threading switch (tests use
/// it to force the portable path).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_with(
    kernel: Kernel,
    threaded: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    check_args(m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc);
    assert!(
        kernel.supported(),
        "sgemm: this CPU cannot run the {kernel:?} kernel"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    let p = Problem {
        m,
        n,
        alpha,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        beta,
        c: CPtr(c.as_mut_ptr()),
        ldc,
        kernel,
        kblocks: k_blocks(k),
    };
    let threads = rayon::current_num_threads();
    if !threaded || threads <= 1 || m.saturating_mul(n).saturating_mul(k) < MT_MIN_WORK {
        run_task(&p, (0, p.m), (0, p.n));
    } else {
        let tasks = split_tasks(m, n, kernel.mr(), kernel.nr(), threads);
        // Each task owns a disjoint rectangle of C, so the raw-pointer writes
        // in `run_task` never race.
        tasks
            .into_par_iter()
            .for_each(|(rows, cols)| run_task(&p, rows, cols));
    }
}

/// Row-major `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`.
///
/// * `op(A) = A` if `!trans_a` (A stored m×k, row stride `lda ≥ k`), else `Aᵀ`
///   (A stored k×m, row stride `lda ≥ m`).
/// * `op(B) = B` if `!trans_b` (B stored k×n, row stride `ldb ≥ n`), else `Bᵀ`
///   (B stored n×k, row stride `ldb ≥ k`).
/// * C row stride `ldc ≥ n`. `beta == 0` means C is overwritten (never read,
///   so NaN garbage in C is ignored). With `k == 0` or `alpha == 0` the result
///   is `beta · C` and A, B are not read.
///
/// Multi-threaded with rayon over blocks of the output only (k is never
/// split), so every output element is summed in the same order whatever the
/// thread count: results are deterministic and equal to [`sgemm_st`]'s.
///
/// # Panics
/// If a stride is smaller than the stored matrix's row length or a slice is
/// too short for the given sizes and strides.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_with(
        Kernel::detect(),
        true,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        beta,
        c,
        ldc,
    );
}

/// Same contract as [`sgemm`], single-threaded (for callers that already
/// parallelize, e.g. over a batch).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_st(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    sgemm_with(
        Kernel::detect(),
        false,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        trans_a,
        b,
        ldb,
        trans_b,
        beta,
        c,
        ldc,
    );
}

/// Naive triple-loop reference with f64 accumulation, same contract as
/// [`sgemm`]. Slow; meant as the test oracle.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_naive(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    check_args(m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            if alpha != 0.0 {
                for p in 0..k {
                    let av = if trans_a {
                        a[p * lda + i]
                    } else {
                        a[i * lda + p]
                    };
                    let bv = if trans_b {
                        b[j * ldb + p]
                    } else {
                        b[p * ldb + j]
                    };
                    s += f64::from(av) * f64::from(bv);
                }
            }
            let v = f64::from(alpha) * s;
            let cij = &mut c[i * ldc + j];
            *cij = if beta == 0.0 {
                v as f32
            } else {
                (v + f64::from(beta) * f64::from(*cij)) as f32
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1) (no `rand` dependency).
    fn fill(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// All kernels this machine can run: the detected one and the portable one.
    fn kernels() -> Vec<Kernel> {
        let all = [
            Kernel::Portable,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512,
        ];
        all.into_iter().filter(|k| k.supported()).collect()
    }

    struct Case {
        m: usize,
        n: usize,
        k: usize,
        trans_a: bool,
        trans_b: bool,
        alpha: f32,
        beta: f32,
        /// Extra row-stride padding for A, B and C.
        pad: usize,
    }

    /// Runs one case with `kernel` (threaded or not) and checks it against
    /// `sgemm_naive`.
    ///
    /// Tolerance: an f32 dot product of k terms carries a rounding error of at
    /// most about k·u·Σ|terms| (u = 6e-8, the f32 unit roundoff), plus one
    /// rounding each for the alpha/beta update. Relative to the absolute sum
    /// S = |alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij| we therefore allow
    /// |c − ref| ≤ 1e-4·(1 + S), which covers k up to ~1600 with margin.
    fn check(kernel: Kernel, threaded: bool, t: &Case) {
        let Case {
            m,
            n,
            k,
            trans_a,
            trans_b,
            alpha,
            beta,
            pad,
        } = *t;
        let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
        let (br, bc) = if trans_b { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (ac + pad, bc + pad, n + pad);
        let a = fill(ar * lda, 1 + (m * 31 + k) as u64);
        let b = fill(br * ldb, 2 + (n * 17 + k) as u64);
        let c0 = fill(m * ldc, 3 + (m * n) as u64);
        let mut c = c0.clone();
        let mut r = c0.clone();
        sgemm_with(
            kernel, threaded, m, n, k, alpha, &a, lda, trans_a, &b, ldb, trans_b, beta, &mut c, ldc,
        );
        sgemm_naive(
            m, n, k, alpha, &a, lda, trans_a, &b, ldb, trans_b, beta, &mut r, ldc,
        );
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let av = if trans_a {
                        a[p * lda + i]
                    } else {
                        a[i * lda + p]
                    };
                    let bv = if trans_b {
                        b[j * ldb + p]
                    } else {
                        b[p * ldb + j]
                    };
                    s += f64::from(av * bv).abs();
                }
                let bound = 1e-4
                    * (1.0
                        + f64::from(alpha.abs()) * s
                        + f64::from((beta * c0[i * ldc + j]).abs()));
                let (got, want) = (c[i * ldc + j], r[i * ldc + j]);
                assert!(
                    (f64::from(got) - f64::from(want)).abs() <= bound,
                    "{kernel:?} threaded={threaded} m={m} n={n} k={k} ta={trans_a} tb={trans_b} \
                     alpha={alpha} beta={beta} pad={pad}: c[{i},{j}] = {got}, expected {want}"
                );
            }
        }
        // Padding between rows of C must be untouched.
        for i in 0..m {
            assert_eq!(
                &c[i * ldc + n..i * ldc + ldc],
                &c0[i * ldc + n..i * ldc + ldc],
                "row padding of C was written"
            );
        }
    }

    #[test]
    fn matches_naive_all_transposes_and_odd_sizes() {
        let sizes = [1usize, 7, 13, 17, 33, 65, 100];
        for kernel in kernels() {
            for (idx, &(ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
                .iter()
                .enumerate()
            {
                for (si, &m) in sizes.iter().enumerate() {
                    // Vary n and k with m so that many combinations are hit
                    // without running all 7³.
                    let n = sizes[(si + 2 + idx) % sizes.len()];
                    let k = sizes[(si + 4 + 2 * idx) % sizes.len()];
                    for &(alpha, beta, pad) in
                        &[(1.0f32, 0.0f32, 0usize), (0.75, -1.5, 3), (-2.0, 1.0, 1)]
                    {
                        let case = Case {
                            m,
                            n,
                            k,
                            trans_a: ta,
                            trans_b: tb,
                            alpha,
                            beta,
                            pad,
                        };
                        check(kernel, false, &case);
                    }
                }
            }
        }
    }

    #[test]
    fn multiple_k_blocks_and_column_blocks() {
        // k > KC_MAX gives several k blocks (beta applied once, then += );
        // the sizes also leave ragged tiles on every side and several NC blocks.
        for kernel in kernels() {
            for &(ta, tb) in &[(false, false), (true, false), (false, true), (true, true)] {
                let case = Case {
                    m: 19,
                    n: 300,
                    k: 2 * KC_MAX + 37,
                    trans_a: ta,
                    trans_b: tb,
                    alpha: 1.25,
                    beta: 0.5,
                    pad: 5,
                };
                check(kernel, false, &case);
                check(kernel, true, &case);
            }
        }
    }

    #[test]
    fn many_rows_pack_b_and_several_column_blocks() {
        // More than DIRECT_B_MAX_ROWS rows, so the non-transposed B is packed
        // (row by row) instead of read in place; k = KC_MAX and n = 350 give
        // two column blocks, so the prefetch of the next block runs too.
        for kernel in kernels() {
            let m = DIRECT_B_MAX_ROWS + 7;
            let case = Case {
                m,
                n: 350,
                k: KC_MAX,
                trans_a: false,
                trans_b: false,
                alpha: 1.0,
                beta: -1.0,
                pad: 1,
            };
            check(kernel, true, &case);
        }
    }

    #[test]
    fn per_item_calls_inside_a_rayon_loop() {
        // The engine's usage pattern: sgemm_st per image inside a parallel
        // loop over a batch; every item must equal its sequential result.
        let (m, n, k, batch) = (16, 50, 27, 6);
        let a = fill(m * k, 10);
        let b: Vec<Vec<f32>> = (0..batch).map(|i| fill(k * n, 20 + i as u64)).collect();
        let mut par = vec![vec![0.0f32; m * n]; batch];
        par.par_iter_mut().zip(&b).for_each(|(c, b)| {
            sgemm_st(m, n, k, 1.0, &a, k, false, b, n, false, 0.0, c, n);
        });
        for (c, b) in par.iter().zip(&b) {
            let mut seq = vec![0.0f32; m * n];
            sgemm_st(m, n, k, 1.0, &a, k, false, b, n, false, 0.0, &mut seq, n);
            assert!(c.iter().zip(&seq).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    #[test]
    fn threaded_matches_naive() {
        for kernel in kernels() {
            let case = Case {
                m: 97,
                n: 211,
                k: 129,
                trans_a: true,
                trans_b: false,
                alpha: -0.5,
                beta: 2.0,
                pad: 2,
            };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .expect("thread pool");
            pool.install(|| check(kernel, true, &case));
        }
    }

    #[test]
    fn k_zero_scales_c() {
        for kernel in kernels() {
            let (m, n, ldc) = (5, 6, 8);
            let c0 = fill(m * ldc, 9);
            let mut c = c0.clone();
            sgemm_with(
                kernel,
                false,
                m,
                n,
                0,
                1.0,
                &[],
                1,
                false,
                &[],
                n,
                false,
                3.0,
                &mut c,
                ldc,
            );
            for i in 0..m {
                for j in 0..ldc {
                    let want = if j < n {
                        3.0 * c0[i * ldc + j]
                    } else {
                        c0[i * ldc + j]
                    };
                    assert_eq!(c[i * ldc + j], want);
                }
            }
            // beta == 0 with k == 0 gives exact zeros, even over NaN.
            let mut c = vec![f32::NAN; m * ldc];
            sgemm_with(
                kernel,
                true,
                m,
                n,
                0,
                1.0,
                &[],
                1,
                true,
                &[],
                n,
                true,
                0.0,
                &mut c,
                ldc,
            );
            assert!((0..m).all(|i| c[i * ldc..i * ldc + n].iter().all(|&x| x == 0.0)));
        }
    }

    #[test]
    fn empty_outputs_are_no_ops() {
        let mut c = vec![7.0f32; 4];
        sgemm(
            0,
            4,
            3,
            1.0,
            &[],
            3,
            false,
            &[1.0; 12],
            4,
            false,
            0.0,
            &mut c,
            4,
        );
        sgemm_st(
            4,
            0,
            3,
            1.0,
            &[1.0; 12],
            3,
            false,
            &[],
            0,
            false,
            0.0,
            &mut c,
            0,
        );
        sgemm_naive(0, 0, 0, 1.0, &[], 0, false, &[], 0, false, 0.0, &mut c, 0);
        assert_eq!(c, vec![7.0; 4]);
    }

    #[test]
    fn beta_zero_ignores_nan_in_c() {
        for kernel in kernels() {
            let (m, n, k) = (9, 37, 11);
            let a = fill(m * k, 4);
            let b = fill(k * n, 5);
            let mut c = vec![f32::NAN; m * n];
            let mut r = vec![0.0f32; m * n];
            sgemm_with(
                kernel, false, m, n, k, 1.0, &a, k, false, &b, n, false, 0.0, &mut c, n,
            );
            sgemm_naive(m, n, k, 1.0, &a, k, false, &b, n, false, 0.0, &mut r, n);
            for (x, y) in c.iter().zip(&r) {
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + k as f32),
                    "{kernel:?}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn deterministic_across_thread_counts() {
        // Large enough to be split into many tasks, with ragged edges and
        // several k blocks.
        let (m, n, k) = (77, 531, 2 * KC_MAX + 5);
        for &(ta, tb) in &[(false, false), (true, true)] {
            let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
            let a = fill(m * k, 6);
            let b = fill(k * n, 7);
            let c0 = fill(m * n, 8);
            let run = |threads: usize, threaded: bool| {
                let mut c = c0.clone();
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("thread pool");
                pool.install(|| {
                    if threaded {
                        sgemm(m, n, k, 0.5, &a, lda, ta, &b, ldb, tb, 0.25, &mut c, n)
                    } else {
                        sgemm_st(m, n, k, 0.5, &a, lda, ta, &b, ldb, tb, 0.25, &mut c, n)
                    }
                });
                c
            };
            let st = run(1, false);
            for threads in [2, 3, 4] {
                let mt1 = run(threads, true);
                let mt2 = run(threads, true);
                assert!(
                    mt1.iter()
                        .zip(&mt2)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "sgemm not repeatable"
                );
                assert!(
                    mt1.iter().zip(&st).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "sgemm != sgemm_st"
                );
            }
        }
    }

    #[test]
    fn k_blocks_cover_k() {
        for k in [0, 1, KC_MAX - 1, KC_MAX, KC_MAX + 1, 784, 1152, 5000] {
            let blocks = k_blocks(k);
            let mut next = 0;
            for &(pc, kc) in &blocks {
                assert_eq!(pc, next);
                assert!(kc <= KC_MAX);
                next += kc;
            }
            assert_eq!(next, k);
        }
    }

    #[test]
    #[should_panic(expected = "sgemm: A has")]
    fn short_a_panics_with_message() {
        let mut c = vec![0.0f32; 4];
        sgemm(
            2, 2, 2, 1.0, &[1.0; 3], 2, false, &[1.0; 4], 2, false, 0.0, &mut c, 2,
        );
    }
}
