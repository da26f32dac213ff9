//! Winograd convolution for 3×3 kernels, stride 1, padding 1 — every convolution of ShapeCNN.
//!
//! # The idea (Lavin & Gray, 2016)
//!
//! A 1-D convolution of 3 taps producing m outputs, F(m, 3), needs 3m multiplications done
//! directly, but only m + 2 done Winograd's way: transform the m + 2 inputs (`Bᵀ d`), the 3
//! taps (`G g`), multiply element by element, transform back (`Aᵀ ·`). Nested in 2-D, an m×m
//! output tile costs (m + 2)² multiplications instead of 9m²: 2.25× fewer for F(2×2, 3×3)
//! (4×4 input tiles) and 4× fewer for F(4×4, 3×3) (6×6 tiles):
//!
//! ```text
//! Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        (one tile, one input and one output channel)
//! ```
//!
//! Over channels the element-wise products become matrix products: with
//! `U[ξ][c][o] = (G g_{o,c} Gᵀ)[ξ]` and `V[ξ][t][c] = (Bᵀ d_{c,t} B)[ξ]` for every tile t and
//! every position ξ of the (m+2)×(m+2) transformed tile,
//!
//! ```text
//! M[ξ] = V[ξ] · U[ξ]          (T×C times C×O: (m+2)² GEMMs on our packed SIMD GEMM)
//! y tile (o, t) = Aᵀ M[·][t][o] A  (+ bias)
//! ```
//!
//! The transforms are cheap in arithmetic (O(C·T) and O(O·T) per position) but touch every
//! value; they run on 16 channels at once — one SIMD lane per channel, the planes interleaved
//! first by 8×8 register transposes — so each tile cell is one contiguous load or store (an
//! earlier version put 16 *tiles* in the lanes and gathered every cell value by value, which
//! cost more than the GEMMs). Tiles of several images go into one GEMM so that small maps
//! (14×14, 7×7) still give it enough rows.
//!
//! # Numerics
//!
//! The transforms add and subtract values with coefficients up to 5 (F(4×4)) before the
//! products, so rounding errors grow with the tile: F(2×2) loses about one decimal digit
//! against the direct sum, F(4×4) about two. `tests/winograd.rs` states the bound it checks
//! against an f64 reference. The filter transform is computed in f64 and rounded once.
//!
//! The input gradient of a 3×3, stride-1, padding-1 convolution is itself one: dx is the
//! convolution of g with the kernel flipped in both axes and its channel axes swapped
//! ([`flipped_filters`]), so the same code computes it. The weight gradient ([`weight_grad`])
//! is the forward pass's adjoint: the same input transform, a transform of the output
//! gradient's tiles, and GEMMs that reduce over the tiles instead of the channels.

use crate::ops::matmul::gemm::sgemm_st;
use rayon::prelude::*;
use std::cell::RefCell;

/// Which Winograd tile to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// F(2×2, 3×3): 4×4 input tiles, 16 GEMMs, 2.25× fewer multiplications.
    F2,
    /// F(4×4, 3×3): 6×6 input tiles, 36 GEMMs, 4× fewer multiplications, larger errors.
    F4,
}

/// Bᵀ (4×4), G (4×3) and Aᵀ (2×4) of F(2×2, 3×3).
const F2_BT: [[f64; 4]; 4] = [
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
];
pub(super) const F2_G: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];
const F2_AT: [[f64; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];

/// Bᵀ (6×6), G (6×3) and Aᵀ (4×6) of F(4×4, 3×3), interpolation points 0, ±1, ±2, ∞.
const F4_BT: [[f64; 6]; 6] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];
const F4_G: [[f64; 3]; 6] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];
const F4_AT: [[f64; 6]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

impl Tile {
    /// Output tile side m.
    pub fn m(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }
    /// Input tile side m + 2.
    pub fn a(self) -> usize {
        self.m() + 2
    }
}

/// `r = L · d · Lᵀ` for a small row-major `d` (K×K) and `l` (R×K): the two-sided transform.
fn sandwich<const R: usize, const K: usize>(l: &[[f64; K]; R], d: &[[f64; K]; K]) -> [[f64; R]; R] {
    let mut ld = [[0.0; K]; R];
    for i in 0..R {
        for j in 0..K {
            ld[i][j] = (0..K).map(|k| l[i][k] * d[k][j]).sum();
        }
    }
    let mut r = [[0.0; R]; R];
    for i in 0..R {
        for j in 0..R {
            r[i][j] = (0..K).map(|k| ld[i][k] * l[j][k]).sum();
        }
    }
    r
}

/// `U[ξ][c][o]` from weights `w` [O, C, 3, 3]: the transformed filters, (m+2)² × C × O (each
/// ξ a C×O matrix: the GEMM's right-hand side, rows of output channels).
pub fn filter_transform(w: &[f32], o: usize, c: usize, tile: Tile) -> Vec<f32> {
    match tile {
        Tile::F2 => filters_with::<4>(w, o, c, &F2_G),
        Tile::F4 => filters_with::<6>(w, o, c, &F4_G),
    }
}

fn filters_with<const A: usize>(w: &[f32], o: usize, c: usize, g: &[[f64; 3]; A]) -> Vec<f32> {
    // Each input channel's A² × O block in parallel ([c][ξ][o]), then rows moved to [ξ][c][o].
    let mut by_channel = vec![0.0f32; A * A * o * c];
    by_channel
        .par_chunks_mut((A * A * o).max(1))
        .enumerate()
        .for_each(|(ci, block)| {
            for oi in 0..o {
                let k = &w[(oi * c + ci) * 9..(oi * c + ci + 1) * 9];
                for (xi, v) in transformed_filter(k, g).iter().flatten().enumerate() {
                    block[xi * o + oi] = *v;
                }
            }
        });
    let mut u = vec![0.0f32; A * A * o * c];
    for ci in 0..c {
        for xi in 0..A * A {
            let row = &by_channel[(ci * A * A + xi) * o..][..o];
            u[(xi * c + ci) * o..][..o].copy_from_slice(row);
        }
    }
    u
}

/// G k Gᵀ (A×A, row-major) of one 3×3 kernel `k`, in f64 and rounded once.
#[inline(always)]
fn transformed_filter<const A: usize>(k: &[f32], g: &[[f64; 3]; A]) -> [[f32; A]; A] {
    let kk: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| k[i * 3 + j] as f64));
    let mut gk = [[0.0f64; 3]; A];
    for i in 0..A {
        for j in 0..3 {
            gk[i][j] = (0..3).map(|t| g[i][t] * kk[t][j]).sum();
        }
    }
    std::array::from_fn(|i| {
        std::array::from_fn(|j| (0..3).map(|t| gk[i][t] * g[j][t]).sum::<f64>() as f32)
    })
}

/// The kernel of the input gradient: `w'[c][o][ky][kx] = w[o][c][2−ky][2−kx]` ([C, O, 3, 3]).
pub fn flipped_filters(w: &[f32], o: usize, c: usize) -> Vec<f32> {
    let mut f = vec![0.0f32; c * o * 9];
    for oi in 0..o {
        for ci in 0..c {
            for t in 0..9 {
                f[(ci * o + oi) * 9 + (8 - t)] = w[(oi * c + ci) * 9 + t];
            }
        }
    }
    f
}

thread_local! {
    /// Per-thread scratch for the transformed inputs V and the products M.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Tiles per GEMM to aim for: enough rows for the GEMM's panels, few enough that V and M stay
/// in the core's cache between the transforms and the GEMMs (measured: 64 is 3–7 % faster
/// than 256 on ShapeCNN's layers, 1024 much slower).
const TARGET_TILES: usize = 64;

/// What the output transform does to each output value on its way out: add the channel's bias,
/// then, with `relu`, clamp it at zero. Doing it here fuses the bias and the activation into the
/// convolution: no separate pass reads and writes the whole output again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

impl Epilogue<'_> {
    /// v + bias[o], then max(·, 0) with `relu` (a NaN stays NaN without it and becomes 0 with
    /// it, exactly as the separate ReLU kernel does), for 16 channels.
    #[inline(always)]
    fn apply_lanes(&self, v: &Lanes, bias: &Lanes, out: &mut Lanes) {
        for ((o, &v), &b) in out.iter_mut().zip(v).zip(bias) {
            *o = v + b;
        }
        if self.relu {
            for o in out.iter_mut() {
                *o = if *o > 0.0 { *o } else { 0.0 };
            }
        }
    }
}

/// A 3×3, stride-1, padding-1 convolution of `x` [N, C, H, W] with the transformed filters `u`
/// ([`filter_transform`], O output channels), then `epi` (bias, ReLU): y [N, O, H, W].
#[allow(clippy::too_many_arguments)]
pub fn conv3x3(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    u: &[f32],
    o: usize,
    epi: Epilogue,
    tile: Tile,
    y: &mut [f32],
) {
    let layer = Layer {
        x,
        c,
        h,
        w,
        u,
        o,
        epi,
        tile,
    };
    let per_task = images_per_task(n, h, w, tile);
    let out_sz = o * h * w;
    y.par_chunks_mut(per_task * out_sz)
        .enumerate()
        .for_each(|(g, yg)| {
            let first = g * per_task;
            layer.images(first, yg.len() / out_sz, Out::Full(yg));
        });
}

/// [`conv3x3`] followed by a 2×2, stride-2 max pool, fused: each group's outputs are pooled
/// while they are still in the cache, so the full-size output is never written. H and W must
/// be even (every tile side m is even, so no pooling window straddles two tiles). Writes the
/// pooled values y [N, O, H/2, W/2] and, like `max_pool2d`, the flat index (iy·W + ix, as f32)
/// of each window's first maximum.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3_max_pool2(
    x: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    u: &[f32],
    o: usize,
    epi: Epilogue,
    tile: Tile,
    y: &mut [f32],
    idx: &mut [f32],
) {
    debug_assert!(h.is_multiple_of(2) && w.is_multiple_of(2));
    let per_task = images_per_task(n, h, w, tile);
    let out_sz = o * (h / 2) * (w / 2);
    let layer = Layer {
        x,
        c,
        h,
        w,
        u,
        o,
        epi,
        tile,
    };
    y.par_chunks_mut(per_task * out_sz)
        .zip(idx.par_chunks_mut(per_task * out_sz))
        .enumerate()
        .for_each(|(g, (yg, ig))| {
            let first = g * per_task;
            layer.images(first, yg.len() / out_sz, Out::MaxPooled2(yg, ig));
        });
}

/// The operands of one 3×3 convolution through Winograd, shared by its tasks.
struct Layer<'a> {
    x: &'a [f32],
    c: usize,
    h: usize,
    w: usize,
    u: &'a [f32],
    o: usize,
    epi: Epilogue<'a>,
    tile: Tile,
}

impl Layer<'_> {
    /// Images `first..first + imgs` as one group, written to `out`.
    fn images(&self, first: usize, imgs: usize, out: Out) {
        let in_sz = self.c * self.h * self.w;
        let xg = &self.x[first * in_sz..][..imgs * in_sz];
        let (h, w, m) = (self.h, self.w, self.tile.m());
        let plane = Plane { imgs, h, w, m };
        group(xg, self.c, &plane, self.u, self.o, self.epi, out, self.tile);
    }
}

/// Images per task: about TARGET_TILES tiles. Fixed by the shape alone — not by the thread
/// count — so every output is computed the same way with any number of threads.
fn images_per_task(n: usize, h: usize, w: usize, tile: Tile) -> usize {
    let m = tile.m();
    let tiles = h.div_ceil(m) * w.div_ceil(m);
    TARGET_TILES.div_ceil(tiles).clamp(1, n.max(1))
}

/// Where the output transform writes: the full output, or its 2×2 max pool and argmax indices.
enum Out<'a> {
    Full(&'a mut [f32]),
    MaxPooled2(&'a mut [f32], &'a mut [f32]),
}

/// One group of images (`shape`): input transform, (m+2)² GEMMs, output transform.
///
/// The transforms work on 16 channels at once (one lane per channel, see [`L`]), so V and M
/// are laid out with the channel innermost — `V[ξ][t][c]`, `M[ξ][t][o]`, rows padded to whole
/// lane groups — and each GEMM is `M[ξ] (T×O) = V[ξ] (T×C) · U[ξ] (C×O)`.
#[allow(clippy::too_many_arguments)]
fn group(
    x: &[f32],
    c: usize,
    shape: &Plane,
    u: &[f32],
    o: usize,
    epi: Epilogue,
    y: Out,
    tile: Tile,
) {
    let t = shape.imgs * shape.tiles();
    let aa = tile.a() * tile.a();
    let (cp, op) = (c.next_multiple_of(L), o.next_multiple_of(L));
    with_transformed_inputs(x, c, o, shape, tile, |v, mm| {
        for xi in 0..aa {
            sgemm_st(
                t,
                o,
                c,
                1.0,
                &v[xi * t * cp..(xi + 1) * t * cp],
                cp,
                false,
                &u[xi * c * o..(xi + 1) * c * o],
                o,
                false,
                0.0,
                &mut mm[xi * t * op..(xi + 1) * t * op],
                op,
            );
        }
        transform_outputs(&mm[..aa * t * op], o, shape, epi, tile, y);
    });
}

/// Run `f(V, other)` on this thread's scratch: V [ξ][t][c] holds the group's transformed inputs
/// (C channels), `other` room for a second [ξ][t][o] operand (O channels, rows rounded up to 16)
/// — the forward's products M, or the weight gradient's transformed output gradients.
fn with_transformed_inputs(
    x: &[f32],
    c: usize,
    o: usize,
    shape: &Plane,
    tile: Tile,
    f: impl FnOnce(&[f32], &mut [f32]),
) {
    let t = shape.imgs * shape.tiles();
    let aa = tile.a() * tile.a();
    let (vlen, olen) = (
        aa * t * c.next_multiple_of(L),
        aa * t * o.next_multiple_of(L),
    );
    SCRATCH.with(|s| {
        let (v, other) = &mut *s.borrow_mut();
        grow(v, vlen);
        grow(other, olen);
        transform_tiles(Source::Inputs, x, c, shape, tile, &mut v[..vlen]);
        f(&v[..vlen], &mut other[..olen]);
    });
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// Images per part of the weight gradient's batch. The parts are fixed by the batch size alone —
/// not by the thread count — and their partial sums are added in part order, so the gradient
/// has the same bits with any number of threads.
const WEIGHT_GRAD_PARTS: usize = 4;

/// The weight gradient of a 3×3, stride-1, padding-1 convolution through Winograd: x [N, C, H,
/// W] the layer's input, g [N, O, H, W] the gradient of its output; returns dW [O, C, 3, 3].
///
/// The forward pass is linear in the transformed filter U = G w Gᵀ: per tile,
/// Y = Aᵀ (U ⊙ V) A. Its adjoint gives, for every tile t (with ⟨·,·⟩ the sum of element-wise
/// products: ⟨dY, Aᵀ(U ⊙ V)A⟩ = ⟨A dY Aᵀ ⊙ V, U⟩ = ⟨Gᵀ(A dY Aᵀ ⊙ V)G, w⟩),
///
/// ```text
/// dW[o][c] = Gᵀ [ Σ_t (A g_{o,t} Aᵀ) ⊙ (Bᵀ d_{c,t} B) ] G
/// ```
///
/// so the sum over tiles becomes (m+2)² GEMMs whose reduction runs over the tiles of the whole
/// batch: `dU[ξ] (C×O) = V[ξ]ᵀ (C×T) · dM[ξ] (T×O)` with `dM = A g Aᵀ` (the gradient tiles are
/// m×m, zero past the image's edge, exactly the outputs the forward pass cut away). The input
/// transform is the forward pass's; the last step, Gᵀ dU G, runs in f64 and rounds once.
#[allow(clippy::too_many_arguments)]
pub fn weight_grad(
    x: &[f32],
    g: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    tile: Tile,
) -> Vec<f32> {
    let aa = tile.a() * tile.a();
    let m = tile.m();
    let tiles = h.div_ceil(m) * w.div_ceil(m);
    let per_group = TARGET_TILES_WEIGHT.div_ceil(tiles).max(1);
    let parts = WEIGHT_GRAD_PARTS.min(n).max(1);
    let (in_sz, out_sz) = (c * h * w, o * h * w);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut du = vec![0.0f32; aa * c * o];
            let (lo, hi) = (part * n / parts, (part + 1) * n / parts);
            let mut i = lo;
            while i < hi {
                let imgs = per_group.min(hi - i);
                let shape = Plane { imgs, h, w, m };
                let xs = &x[i * in_sz..(i + imgs) * in_sz];
                let gs = &g[i * out_sz..(i + imgs) * out_sz];
                weight_grad_group(xs, gs, c, o, &shape, tile, &mut du);
                i += imgs;
            }
            du
        })
        .collect();
    // dU = Σ_parts, in part order, in parallel over rows of dU.
    let mut du = vec![0.0f32; aa * c * o];
    du.par_chunks_mut(o.max(1) * 16)
        .enumerate()
        .for_each(|(i, chunk)| {
            let at = i * o.max(1) * 16;
            for part in &partials {
                for (s, v) in chunk.iter_mut().zip(&part[at..]) {
                    *s += v;
                }
            }
        });
    match tile {
        Tile::F2 => filter_grads_with::<4>(&du, o, c, &F2_G),
        Tile::F4 => filter_grads_with::<6>(&du, o, c, &F4_G),
    }
}

/// Tiles per group of the weight gradient: its GEMMs reduce over the tiles, so longer groups
/// read and write the C×O accumulators less often (64 to 512 measured the same within noise on
/// ShapeCNN's layers).
const TARGET_TILES_WEIGHT: usize = 128;

/// One group's share of dU: both transforms, then dU[ξ] += V[ξ]ᵀ · dM[ξ] for every ξ.
fn weight_grad_group(
    x: &[f32],
    g: &[f32],
    c: usize,
    o: usize,
    shape: &Plane,
    tile: Tile,
    du: &mut [f32],
) {
    let t = shape.imgs * shape.tiles();
    let aa = tile.a() * tile.a();
    let (cp, op) = (c.next_multiple_of(L), o.next_multiple_of(L));
    with_transformed_inputs(x, c, o, shape, tile, |v, dm| {
        transform_tiles(Source::Grads, g, o, shape, tile, dm);
        for xi in 0..aa {
            sgemm_st(
                c,
                o,
                t,
                1.0,
                &v[xi * t * cp..(xi + 1) * t * cp],
                cp,
                true,
                &dm[xi * t * op..(xi + 1) * t * op],
                op,
                false,
                1.0,
                &mut du[xi * c * o..(xi + 1) * c * o],
                o,
            );
        }
    });
}

/// dW[o][c] = Gᵀ dU[·][c][o] G (3×3), in f64, rounded once.
pub(super) fn filter_grads_with<const A: usize>(
    du: &[f32],
    o: usize,
    c: usize,
    g: &[[f64; 3]; A],
) -> Vec<f32> {
    let mut dw = vec![0.0f32; o * c * 9];
    dw.par_chunks_mut((c * 9).max(1))
        .enumerate()
        .for_each(|(oi, row)| {
            for ci in 0..c {
                let at = |xi: usize| du[(xi * c + ci) * o + oi] as f64;
                // (dU G) (A×3), then Gᵀ (dU G) (3×3)
                let mut dug = [[0.0f64; 3]; A];
                for (i, r) in dug.iter_mut().enumerate() {
                    for (ky, v) in r.iter_mut().enumerate() {
                        *v = (0..A).map(|j| at(i * A + j) * g[j][ky]).sum();
                    }
                }
                for ky in 0..3 {
                    for kx in 0..3 {
                        let v: f64 = (0..A).map(|i| g[i][ky] * dug[i][kx]).sum();
                        row[ci * 9 + ky * 3 + kx] = v as f32;
                    }
                }
            }
        });
    dw
}

/// The transforms work on `L` channels at once: every arithmetic step is a loop over the
/// lanes, which the compiler turns into SIMD instructions (16 floats: one AVX-512 or two AVX2
/// registers). With channels as lanes, a tile's cell is 16 contiguous floats in a
/// channel-interleaved copy of the planes: no gathers, and no ragged lane groups at the edges
/// of small maps (only when the channel count is not a multiple of 16).
pub(super) const L: usize = 16;
pub(super) type Lanes = [f32; L];

/// The images of a group and the output tile side.
struct Plane {
    imgs: usize,
    h: usize,
    w: usize,
    m: usize,
}

impl Plane {
    fn tiles_y(&self) -> usize {
        self.h.div_ceil(self.m)
    }
    fn tiles_x(&self) -> usize {
        self.w.div_ceil(self.m)
    }
    fn tiles(&self) -> usize {
        self.tiles_y() * self.tiles_x()
    }
}

/// Bᵀ of F(2×2, 3×3) applied to a 4-vector of lanes.
#[inline(always)]
pub(super) fn bt2(d: &[Lanes; 4], r: &mut [Lanes; 4]) {
    for l in 0..L {
        r[0][l] = d[0][l] - d[2][l];
        r[1][l] = d[1][l] + d[2][l];
        r[2][l] = d[2][l] - d[1][l];
        r[3][l] = d[1][l] - d[3][l];
    }
}

/// Aᵀ of F(2×2, 3×3).
#[inline(always)]
pub(super) fn at2(d: &[Lanes; 4], r: &mut [Lanes; 2]) {
    for l in 0..L {
        r[0][l] = d[0][l] + d[1][l] + d[2][l];
        r[1][l] = d[1][l] - d[2][l] - d[3][l];
    }
}

/// Bᵀ of F(4×4, 3×3) (the rows of `F4_BT`).
#[inline(always)]
fn bt4(d: &[Lanes; 6], r: &mut [Lanes; 6]) {
    for l in 0..L {
        let (d0, d1, d2, d3, d4, d5) = (d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]);
        r[0][l] = 4.0 * d0 - 5.0 * d2 + d4;
        r[1][l] = -4.0 * d1 - 4.0 * d2 + d3 + d4;
        r[2][l] = 4.0 * d1 - 4.0 * d2 - d3 + d4;
        r[3][l] = -2.0 * d1 - d2 + 2.0 * d3 + d4;
        r[4][l] = 2.0 * d1 - d2 - 2.0 * d3 + d4;
        r[5][l] = 4.0 * d1 - 5.0 * d3 + d5;
    }
}

/// Aᵀ of F(4×4, 3×3) (the rows of `F4_AT`).
#[inline(always)]
fn at4(d: &[Lanes; 6], r: &mut [Lanes; 4]) {
    for l in 0..L {
        let (d0, d1, d2, d3, d4, d5) = (d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]);
        r[0][l] = d0 + d1 + d2 + d3 + d4;
        r[1][l] = d1 - d2 + 2.0 * d3 - 2.0 * d4;
        r[2][l] = d1 + d2 + 4.0 * d3 + 4.0 * d4;
        r[3][l] = d1 - d2 + 8.0 * d3 - 8.0 * d4 + d5;
    }
}

/// A = (Aᵀ)ᵀ of F(2×2, 3×3) (4×2): the adjoint of the output transform, for the weight gradient.
#[inline(always)]
pub(super) fn a2(d: &[Lanes; 2], r: &mut [Lanes; 4]) {
    for l in 0..L {
        r[0][l] = d[0][l];
        r[1][l] = d[0][l] + d[1][l];
        r[2][l] = d[0][l] - d[1][l];
        r[3][l] = -d[1][l];
    }
}

/// A = (Aᵀ)ᵀ of F(4×4, 3×3) (6×4, the columns of `F4_AT`).
#[inline(always)]
fn a4(d: &[Lanes; 4], r: &mut [Lanes; 6]) {
    for l in 0..L {
        let (d0, d1, d2, d3) = (d[0][l], d[1][l], d[2][l], d[3][l]);
        r[0][l] = d0;
        r[1][l] = d0 + d1 + d2 + d3;
        r[2][l] = d0 - d1 + d2 - d3;
        r[3][l] = d0 + 2.0 * d1 + 4.0 * d2 + 8.0 * d3;
        r[4][l] = d0 - 2.0 * d1 + 4.0 * d2 - 8.0 * d3;
        r[5][l] = d3;
    }
}

/// `out = T · X · Tᵀ` for L channels at once, with the 1-D transform `f` (T) applied to the
/// columns, then to the rows. Everything stays in place: no tile array is returned by value.
#[inline(always)]
fn two_sided<const A: usize, const R: usize>(
    x: &[[Lanes; A]; A],
    f: fn(&[Lanes; A], &mut [Lanes; R]),
    out: &mut [[Lanes; R]; R],
) {
    let mut col = [[0.0; L]; A];
    let mut t = [[0.0; L]; R];
    let mut cols = [[[0.0; L]; A]; R];
    for j in 0..A {
        for k in 0..A {
            col[k] = x[k][j];
        }
        f(&col, &mut t);
        for i in 0..R {
            cols[i][j] = t[i];
        }
    }
    for i in 0..R {
        f(&cols[i], &mut out[i]);
    }
}

/// The two transforms that read tiles from planes and write them, transformed, to the GEMMs'
/// operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `V[ξ][t][c] = (Bᵀ d B)[ξ]`: d the tile's (m+2)² inputs, overlapping neighbours by two,
    /// the padding and the ragged last tiles read as zeros.
    Inputs,
    /// `dM[ξ][t][o] = (A g Aᵀ)[ξ]`: g the tile's m×m output gradients (tiles do not overlap),
    /// zero past the image's edge — the weight gradient's second transform, A = (Aᵀ)ᵀ.
    Grads,
}

/// `src` [imgs, ch, h, w] → `dst` [ξ][t][ch rounded up to 16], transformed as `into` says.
fn transform_tiles(into: Source, src: &[f32], ch: usize, p: &Plane, tile: Tile, dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { transform_tiles_avx512(into, src, ch, p, tile, dst) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { transform_tiles_avx2(into, src, ch, p, tile, dst) };
    }
    transform_tiles_any(into, src, ch, p, tile, dst)
}

/// [`transform_tiles`] compiled for AVX-512: a lane group is one register. Rust never fuses
/// a multiply and an add on its own (no FMA contraction), so every build gives the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_tiles_avx512(
    into: Source,
    src: &[f32],
    ch: usize,
    p: &Plane,
    tile: Tile,
    dst: &mut [f32],
) {
    transform_tiles_any(into, src, ch, p, tile, dst)
}

/// [`transform_tiles`] compiled for AVX2: the same operations in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transform_tiles_avx2(
    into: Source,
    src: &[f32],
    ch: usize,
    p: &Plane,
    tile: Tile,
    dst: &mut [f32],
) {
    transform_tiles_any(into, src, ch, p, tile, dst)
}

#[inline(always)]
fn transform_tiles_any(
    into: Source,
    src: &[f32],
    ch: usize,
    p: &Plane,
    tile: Tile,
    dst: &mut [f32],
) {
    match (into, tile) {
        (Source::Inputs, Tile::F2) => tiles_with::<4, 4>(src, ch, p, dst, bt2),
        (Source::Inputs, Tile::F4) => tiles_with::<6, 6>(src, ch, p, dst, bt4),
        (Source::Grads, Tile::F2) => tiles_with::<2, 4>(src, ch, p, dst, a2),
        (Source::Grads, Tile::F4) => tiles_with::<4, 6>(src, ch, p, dst, a4),
    }
}

/// Read K×K tiles m apart (K = m + 2: inputs, overlapping; K = m: gradients) and write
/// `f · tile · fᵀ` (A×A) for 16 channels at once.
///
/// The 16 planes are first interleaved into a block with a zero border of (K − m)/2 (one row and
/// column of zeros before — the padding — for inputs, none for gradients) and zeros past the
/// image (the ragged last tiles' overhang): cell (py, px) of channel l is `block[(py·bw + px)·L
/// + l]`, so a tile reads K² lane groups at fixed offsets from its corner, with no bounds tests.
/// Lanes of channels past `ch` hold leftovers that the GEMMs never read.
#[inline(always)]
fn tiles_with<const K: usize, const A: usize>(
    src: &[f32],
    ch: usize,
    p: &Plane,
    dst: &mut [f32],
    f: fn(&[Lanes; K], &mut [Lanes; A]),
) {
    let (h, w, m) = (p.h, p.w, p.m);
    let (tiles, tiles_x) = (p.tiles(), p.tiles_x());
    let t_all = p.imgs * tiles;
    let cp = ch.next_multiple_of(L);
    let border = (K - m) / 2;
    let bw = tiles_x * m + 2 * border;
    let mut block = vec![0.0f32; (p.tiles_y() * m + 2 * border) * bw * L];
    let mut flat = vec![0.0f32; h * w * L];
    let mut d = [[[0.0f32; L]; K]; K];
    let mut r = [[[0.0f32; L]; A]; A];
    for img in 0..p.imgs {
        for c0 in (0..ch).step_by(L) {
            let lanes = L.min(ch - c0);
            let planes = &src[(img * ch + c0) * h * w..(img * ch + c0 + lanes) * h * w];
            interleave(planes, lanes, h * w, &mut flat);
            for (py, row) in flat.chunks(w * L).enumerate() {
                block[((py + border) * bw + border) * L..][..w * L].copy_from_slice(row);
            }
            for t in 0..tiles {
                let corner = ((t / tiles_x) * m * bw + (t % tiles_x) * m) * L;
                for (i, row) in d.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        if let Some(g) = block[corner + (i * bw + j) * L..].first_chunk::<L>() {
                            *cell = *g;
                        }
                    }
                }
                two_sided(&d, f, &mut r);
                let tt = img * tiles + t;
                for (i, row) in r.iter().enumerate() {
                    for (j, cell) in row.iter().enumerate() {
                        let at = ((i * A + j) * t_all + tt) * cp + c0;
                        if let Some(g) = dst[at..].first_chunk_mut::<L>() {
                            *g = *cell;
                        }
                    }
                }
            }
        }
    }
}

/// y tile (o, t) = epi(Aᵀ M[·][o][t] A), cut at the image's edge.
fn transform_outputs(mm: &[f32], o: usize, p: &Plane, epi: Epilogue, tile: Tile, y: Out) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { transform_outputs_avx512(mm, o, p, epi, tile, y) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { transform_outputs_avx2(mm, o, p, epi, tile, y) };
    }
    transform_outputs_any(mm, o, p, epi, tile, y)
}

/// [`transform_outputs`] compiled for AVX-512 (same operations, same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_outputs_avx512(
    mm: &[f32],
    o: usize,
    p: &Plane,
    epi: Epilogue,
    tile: Tile,
    y: Out,
) {
    transform_outputs_any(mm, o, p, epi, tile, y)
}

/// [`transform_outputs`] compiled for AVX2 (same operations, same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transform_outputs_avx2(
    mm: &[f32],
    o: usize,
    p: &Plane,
    epi: Epilogue,
    tile: Tile,
    y: Out,
) {
    transform_outputs_any(mm, o, p, epi, tile, y)
}

#[inline(always)]
fn transform_outputs_any(mm: &[f32], o: usize, p: &Plane, epi: Epilogue, tile: Tile, y: Out) {
    match tile {
        Tile::F2 => outputs_with::<2, 4>(mm, o, p, epi, y, at2),
        Tile::F4 => outputs_with::<4, 6>(mm, o, p, epi, y, at4),
    }
}

#[inline(always)]
fn outputs_with<const M: usize, const A: usize>(
    mm: &[f32],
    o: usize,
    p: &Plane,
    epi: Epilogue,
    mut y: Out,
    at: fn(&[Lanes; A], &mut [Lanes; M]),
) {
    let (h, w) = (p.h, p.w);
    let (tiles, tiles_x) = (p.tiles(), p.tiles_x());
    let t_all = p.imgs * tiles;
    let op = o.next_multiple_of(L);
    // The outputs of 16 channels interleaved (cell (py, px) of channel l at
    // `block[(py·bw + px)·L + l]`), whole tiles, then cut at the edge and de-interleaved.
    let bw = tiles_x * M;
    let pooled = matches!(y, Out::MaxPooled2(..));
    let (ph, pw) = (h / 2, w / 2);
    let mut block = vec![0.0f32; if pooled { 0 } else { p.tiles_y() * M * bw * L }];
    let mut flat = vec![0.0f32; h * w * L];
    let mut d = [[[0.0f32; L]; A]; A];
    let mut r = [[[0.0f32; L]; M]; M];
    for img in 0..p.imgs {
        for o0 in (0..o).step_by(L) {
            // The bias of the 16 channels, added (and the ReLU applied) as each tile is
            // transformed, 16 channels at once.
            let lanes = L.min(o - o0);
            let bias: Lanes = std::array::from_fn(|l| match epi.bias {
                Some(b) if l < lanes => b[o0 + l],
                _ => 0.0,
            });
            for t in 0..tiles {
                let tt = img * tiles + t;
                for (i, row) in d.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        let at = ((i * A + j) * t_all + tt) * op + o0;
                        if let Some(g) = mm[at..].first_chunk::<L>() {
                            *cell = *g;
                        }
                    }
                }
                two_sided(&d, at, &mut r);
                if pooled {
                    // Pool the tile's clamped outputs straight away: m/2 × m/2 windows.
                    let mut cells = [[[0.0f32; L]; M]; M];
                    for (row, out) in r.iter().zip(cells.iter_mut()) {
                        for (cell, c) in row.iter().zip(out.iter_mut()) {
                            epi.apply_lanes(cell, &bias, c);
                        }
                    }
                    let (vals, idx) = flat.split_at_mut(ph * pw * L);
                    for wi in 0..M / 2 {
                        for wj in 0..M / 2 {
                            let (py, px) = ((t / tiles_x) * M / 2 + wi, (t % tiles_x) * M / 2 + wj);
                            if py >= ph || px >= pw {
                                continue;
                            }
                            let (a, b) = (&cells[2 * wi], &cells[2 * wi + 1]);
                            let cand = [a[2 * wj], a[2 * wj + 1], b[2 * wj], b[2 * wj + 1]];
                            let k = (py * pw + px) * L;
                            let corner = (2 * py * w + 2 * px) as f32;
                            max_of_four(&cand, corner, w, &mut vals[k..k + L], &mut idx[k..k + L]);
                        }
                    }
                    continue;
                }
                let corner = ((t / tiles_x) * M * bw + (t % tiles_x) * M) * L;
                for (i, row) in r.iter().enumerate() {
                    for (j, cell) in row.iter().enumerate() {
                        if let Some(g) = block[corner + (i * bw + j) * L..].first_chunk_mut::<L>() {
                            epi.apply_lanes(cell, &bias, g);
                        }
                    }
                }
            }
            match &mut y {
                Out::Full(y) => {
                    // Cut at the edge, then send each channel's values to its own plane.
                    for (py, out) in flat.chunks_mut(w * L).enumerate() {
                        out.copy_from_slice(&block[py * bw * L..][..w * L]);
                    }
                    let planes = &mut y[(img * o + o0) * h * w..(img * o + o0 + lanes) * h * w];
                    deinterleave(&flat, lanes, h * w, planes);
                }
                Out::MaxPooled2(y, idx) => {
                    let len = ph * pw;
                    let range = (img * o + o0) * len..(img * o + o0 + lanes) * len;
                    deinterleave(&flat[..len * L], lanes, len, &mut y[range.clone()]);
                    deinterleave(&flat[len * L..2 * len * L], lanes, len, &mut idx[range]);
                }
            }
        }
    }
}

/// One 2×2 max-pool window of 16 channels: the maximum of the four cells, compared in
/// `max_pool2d`'s order (top-left, top-right, bottom-left, bottom-right; the first maximum wins
/// ties, a NaN wins), and its flat index iy·W + ix (as f32) from the window's corner — exactly
/// the separate max pool's values and indices. Branch-free: a compare and two selects per
/// candidate, 16 lanes at once.
#[inline(always)]
fn max_of_four(cand: &[Lanes; 4], corner: f32, w: usize, v: &mut [f32], ix: &mut [f32]) {
    let offsets = [0.0, 1.0, w as f32, (w + 1) as f32];
    let mut best = cand[0];
    let mut off = [offsets[0]; L];
    for (c, &o) in cand.iter().zip(&offsets).skip(1) {
        for l in 0..L {
            let take = c[l] > best[l] || (c[l].is_nan() && !best[l].is_nan());
            best[l] = if take { c[l] } else { best[l] };
            off[l] = if take { o } else { off[l] };
        }
    }
    for l in 0..L {
        v[l] = best[l];
        ix[l] = corner + off[l];
    }
}

/// `flat[e·L + q] = planes[q·len + e]`: `lanes` planes of `len` values interleaved, lane q for
/// plane q (the other lanes are left as they are). 8×8 blocks go through registers.
#[inline(always)]
fn interleave(planes: &[f32], lanes: usize, len: usize, flat: &mut [f32]) {
    for half in (0..lanes).step_by(8) {
        let full = lanes - half >= 8;
        for e0 in (0..len).step_by(8) {
            if full && e0 + 8 <= len {
                transpose8(
                    &planes[half * len + e0..],
                    len,
                    &mut flat[e0 * L + half..],
                    L,
                );
                continue;
            }
            for e in e0..len.min(e0 + 8) {
                for q in half..lanes.min(half + 8) {
                    flat[e * L + q] = planes[q * len + e];
                }
            }
        }
    }
}

/// `planes[q·len + e] = flat[e·L + q]` for q < `lanes`: the inverse of [`interleave`].
#[inline(always)]
fn deinterleave(flat: &[f32], lanes: usize, len: usize, planes: &mut [f32]) {
    for half in (0..lanes).step_by(8) {
        let full = lanes - half >= 8;
        for e0 in (0..len).step_by(8) {
            if full && e0 + 8 <= len {
                transpose8(
                    &flat[e0 * L + half..],
                    L,
                    &mut planes[half * len + e0..],
                    len,
                );
                continue;
            }
            for e in e0..len.min(e0 + 8) {
                for q in half..lanes.min(half + 8) {
                    planes[q * len + e] = flat[e * L + q];
                }
            }
        }
    }
}

/// `dst[j·dst_ld + k] = src[k·src_ld + j]` for j, k < 8: an 8×8 transpose (in AVX registers
/// where the CPU has them: 8 loads, 24 shuffles, 8 stores instead of 64 scalar moves).
#[inline(always)]
fn transpose8(src: &[f32], src_ld: usize, dst: &mut [f32], dst_ld: usize) {
    let fits = src.len() >= 7 * src_ld + 8 && dst.len() >= 7 * dst_ld + 8;
    #[cfg(target_arch = "x86_64")]
    if fits && is_x86_feature_detected!("avx") {
        use std::arch::x86_64::_mm256_loadu_ps;
        // SAFETY: AVX is present (checked); rows k·src_ld..k·src_ld + 8 of `src` and
        // j·dst_ld..j·dst_ld + 8 of `dst` are in bounds for j, k < 8 (`fits`).
        unsafe {
            let rows = std::array::from_fn(|k| _mm256_loadu_ps(src.as_ptr().add(k * src_ld)));
            crate::ops::matmul::gemm::x86::transpose8x8_store(rows, dst.as_mut_ptr(), dst_ld);
        }
        return;
    }
    if fits {
        for j in 0..8 {
            for k in 0..8 {
                dst[j * dst_ld + k] = src[k * src_ld + j];
            }
        }
    }
}

/// The f64 transforms, for tests that check them against their defining identity.
pub fn transform_f64(tile: Tile, d: &[f64], g: &[f64]) -> Vec<f64> {
    fn run<const M: usize, const A: usize>(
        bt: &[[f64; A]; A],
        gm: &[[f64; 3]; A],
        at: &[[f64; A]; M],
        d: &[f64],
        g: &[f64],
    ) -> Vec<f64> {
        let mut dd = [[0.0; A]; A];
        for i in 0..A {
            for j in 0..A {
                dd[i][j] = d[i * A + j];
            }
        }
        let v = sandwich(bt, &dd);
        let mut gk = [[0.0f64; 3]; A];
        for i in 0..A {
            for j in 0..3 {
                gk[i][j] = (0..3).map(|t| gm[i][t] * g[t * 3 + j]).sum();
            }
        }
        let mut u = [[0.0; A]; A];
        for i in 0..A {
            for j in 0..A {
                u[i][j] = (0..3).map(|t| gk[i][t] * gm[j][t]).sum::<f64>() * v[i][j];
            }
        }
        sandwich(at, &u).iter().flatten().copied().collect()
    }
    match tile {
        Tile::F2 => run::<2, 4>(&F2_BT, &F2_G, &F2_AT, d, g),
        Tile::F4 => run::<4, 6>(&F4_BT, &F4_G, &F4_AT, d, g),
    }
}

/// A small matrix as rows.
pub type Rows = Vec<Vec<f64>>;

/// Bᵀ, G and Aᵀ of a tile as f64 rows, for tests that bound the rounding error.
pub fn matrices(tile: Tile) -> (Rows, Rows, Rows) {
    fn rows<const C: usize>(m: &[[f64; C]]) -> Vec<Vec<f64>> {
        m.iter().map(|r| r.to_vec()).collect()
    }
    match tile {
        Tile::F2 => (rows(&F2_BT), rows(&F2_G), rows(&F2_AT)),
        Tile::F4 => (rows(&F4_BT), rows(&F4_G), rows(&F4_AT)),
    }
}
