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
//! `U[ξ][o][c] = (G g_{o,c} Gᵀ)[ξ]` and `V[ξ][c][t] = (Bᵀ d_{c,t} B)[ξ]` for every tile t and
//! every position ξ of the (m+2)×(m+2) transformed tile,
//!
//! ```text
//! M[ξ] = U[ξ] · V[ξ]          (O×C times C×T: (m+2)² GEMMs on our packed SIMD GEMM)
//! y tile (o, t) = Aᵀ M[·][o][t] A  (+ bias)
//! ```
//!
//! The transforms are cheap (O(C·T) and O(O·T) per position); the GEMMs do the work. Tiles of
//! several images go into one GEMM so that small maps (14×14, 7×7) still give it long rows.
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
//! ([`flipped_filters`]), so the same code computes it.

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
const F2_G: [[f64; 3]; 4] = [
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

/// `U[ξ][o][c]` from weights `w` [O, C, 3, 3]: the transformed filters, (m+2)² × O × C.
pub fn filter_transform(w: &[f32], o: usize, c: usize, tile: Tile) -> Vec<f32> {
    match tile {
        Tile::F2 => filters_with::<4>(w, o, c, &F2_G),
        Tile::F4 => filters_with::<6>(w, o, c, &F4_G),
    }
}

fn filters_with<const A: usize>(w: &[f32], o: usize, c: usize, g: &[[f64; 3]; A]) -> Vec<f32> {
    let mut u = vec![0.0f32; A * A * o * c];
    for oi in 0..o {
        for ci in 0..c {
            let k = &w[(oi * c + ci) * 9..(oi * c + ci + 1) * 9];
            let kk = [
                [k[0] as f64, k[1] as f64, k[2] as f64],
                [k[3] as f64, k[4] as f64, k[5] as f64],
                [k[6] as f64, k[7] as f64, k[8] as f64],
            ];
            // G k Gᵀ (A×A), in f64 and rounded once.
            let mut gk = [[0.0f64; 3]; A];
            for i in 0..A {
                for j in 0..3 {
                    gk[i][j] = (0..3).map(|t| g[i][t] * kk[t][j]).sum();
                }
            }
            for i in 0..A {
                for j in 0..A {
                    let v: f64 = (0..3).map(|t| gk[i][t] * g[j][t]).sum();
                    u[((i * A + j) * o + oi) * c + ci] = v as f32;
                }
            }
        }
    }
    u
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

/// Tiles per GEMM to aim for: enough for the GEMM's column panels, few enough that V and M
/// stay near the caches.
const TARGET_TILES: usize = 256;

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
    /// it, exactly as the separate ReLU kernel does).
    #[inline(always)]
    fn apply(&self, v: f32, bias: f32) -> f32 {
        let v = v + bias;
        match self.relu {
            true if v > 0.0 => v,
            true => 0.0,
            false => v,
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
    let m = tile.m();
    let tiles = h.div_ceil(m) * w.div_ceil(m);
    // Images per task: about TARGET_TILES tiles. Fixed by the shape alone — not by the thread
    // count — so every output is computed the same way with any number of threads.
    let per_task = TARGET_TILES.div_ceil(tiles).clamp(1, n.max(1));
    let (in_sz, out_sz) = (c * h * w, o * h * w);
    y.par_chunks_mut(per_task * out_sz)
        .enumerate()
        .for_each(|(g, yg)| {
            let n0 = g * per_task;
            let imgs = yg.len() / out_sz;
            let xg = &x[n0 * in_sz..(n0 + imgs) * in_sz];
            let plane = Plane { imgs, h, w, m };
            group(xg, c, &plane, u, o, epi, yg, tile);
        });
}

/// One group of images (`shape`): input transform, (m+2)² GEMMs, output transform.
#[allow(clippy::too_many_arguments)]
fn group(
    x: &[f32],
    c: usize,
    shape: &Plane,
    u: &[f32],
    o: usize,
    epi: Epilogue,
    y: &mut [f32],
    tile: Tile,
) {
    let t = shape.imgs * shape.tiles();
    let aa = tile.a() * tile.a();
    SCRATCH.with(|s| {
        let (v, mm) = &mut *s.borrow_mut();
        grow(v, aa * c * t);
        grow(mm, aa * o * t);
        transform_inputs(x, c, shape, tile, &mut v[..aa * c * t]);
        for xi in 0..aa {
            sgemm_st(
                o,
                t,
                c,
                1.0,
                &u[xi * o * c..(xi + 1) * o * c],
                c,
                false,
                &v[xi * c * t..(xi + 1) * c * t],
                t,
                false,
                0.0,
                &mut mm[xi * o * t..(xi + 1) * o * t],
                t,
            );
        }
        transform_outputs(&mm[..aa * o * t], o, shape, epi, tile, y);
    });
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// The transforms work on `L` tiles at once: every arithmetic step is a loop over the lanes,
/// which the compiler turns into SIMD instructions (16 floats: one AVX-512 or two AVX2
/// registers).
const L: usize = 16;
type Lanes = [f32; L];

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
fn bt2(d: &[Lanes; 4], r: &mut [Lanes; 4]) {
    for l in 0..L {
        r[0][l] = d[0][l] - d[2][l];
        r[1][l] = d[1][l] + d[2][l];
        r[2][l] = d[2][l] - d[1][l];
        r[3][l] = d[1][l] - d[3][l];
    }
}

/// Aᵀ of F(2×2, 3×3).
#[inline(always)]
fn at2(d: &[Lanes; 4], r: &mut [Lanes; 2]) {
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

/// `out = T · X · Tᵀ` for L tiles at once, with the 1-D transform `f` (T) applied to the
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

/// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for every channel and tile (d: the tile's (m+2)² inputs, the
/// padding and the ragged last tiles read as zeros).
fn transform_inputs(x: &[f32], c: usize, p: &Plane, tile: Tile, v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { transform_inputs_avx2(x, c, p, tile, v) };
    }
    transform_inputs_any(x, c, p, tile, v)
}

/// [`transform_inputs`] compiled for AVX2: the same operations in the same order (no FMA is
/// enabled, so nothing is fused and both builds give the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transform_inputs_avx2(x: &[f32], c: usize, p: &Plane, tile: Tile, v: &mut [f32]) {
    transform_inputs_any(x, c, p, tile, v)
}

#[inline(always)]
fn transform_inputs_any(x: &[f32], c: usize, p: &Plane, tile: Tile, v: &mut [f32]) {
    match tile {
        Tile::F2 => inputs_with::<4>(x, c, p, v, bt2),
        Tile::F4 => inputs_with::<6>(x, c, p, v, bt4),
    }
}

#[inline(always)]
fn inputs_with<const A: usize>(
    x: &[f32],
    c: usize,
    p: &Plane,
    v: &mut [f32],
    bt: fn(&[Lanes; A], &mut [Lanes; A]),
) {
    let (h, w, m) = (p.h, p.w, p.m);
    let (tiles, tiles_x) = (p.tiles(), p.tiles_x());
    let t_all = p.imgs * tiles;
    // Each plane is first copied into a zero-bordered one (`padded`, one row and column of
    // zeros before, the padding and the ragged last tiles' overhang after), so that every tile
    // reads (m+2)² values at fixed offsets from its corner, with no bounds tests.
    let pw = tiles_x * m + 2;
    let mut padded = vec![0.0f32; (p.tiles_y() * m + 2) * pw];
    // The corner of tile t in `padded`; lanes past the last tile read tile 0 (and are dropped).
    let corner = |t: usize| (t / tiles_x) * m * pw + (t % tiles_x) * m;
    let corners: Vec<[usize; L]> = (0..tiles)
        .step_by(L)
        .map(|t0| std::array::from_fn(|l| if t0 + l < tiles { corner(t0 + l) } else { 0 }))
        .collect();
    let mut r = [[[0.0f32; L]; A]; A];
    let mut d = [[[0.0f32; L]; A]; A];
    for img in 0..p.imgs {
        for ci in 0..c {
            let plane = &x[(img * c + ci) * h * w..(img * c + ci + 1) * h * w];
            for (row, src) in padded[pw..].chunks_mut(pw).zip(plane.chunks(w)) {
                row[1..=w].copy_from_slice(src);
            }
            for (t0, corners) in (0..tiles).step_by(L).zip(&corners) {
                let lanes = L.min(tiles - t0);
                for (i, row) in d.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        let off = i * pw + j;
                        for (value, &at) in cell.iter_mut().zip(corners) {
                            *value = padded[at + off];
                        }
                    }
                }
                two_sided(&d, bt, &mut r);
                let t = img * tiles + t0;
                for (i, row) in r.iter().enumerate() {
                    for (j, cell) in row.iter().enumerate() {
                        let at = ((i * A + j) * c + ci) * t_all + t;
                        store_lanes(&mut v[at..], cell, lanes);
                    }
                }
            }
        }
    }
}

/// `dst[..lanes] = lanes of src`: a whole group as one fixed-size copy (a few vector moves), the
/// ragged last group element by element — a copy of run-time length would be a `memmove` call
/// for 16 floats, which cost a large share of the transforms.
#[inline(always)]
fn store_lanes(dst: &mut [f32], src: &Lanes, lanes: usize) {
    match dst.first_chunk_mut::<L>() {
        Some(group) if lanes == L => *group = *src,
        _ => {
            for (d, s) in dst[..lanes].iter_mut().zip(src) {
                *d = *s;
            }
        }
    }
}

/// `dst lanes = src[..lanes]`, as [`store_lanes`] (the other lanes keep what they held).
#[inline(always)]
fn load_lanes(src: &[f32], dst: &mut Lanes, lanes: usize) {
    match src.first_chunk::<L>() {
        Some(group) if lanes == L => *dst = *group,
        _ => {
            for (d, s) in dst[..lanes].iter_mut().zip(src) {
                *d = *s;
            }
        }
    }
}

/// y tile (o, t) = epi(Aᵀ M[·][o][t] A), cut at the image's edge.
fn transform_outputs(mm: &[f32], o: usize, p: &Plane, epi: Epilogue, tile: Tile, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { transform_outputs_avx2(mm, o, p, epi, tile, y) };
    }
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
    y: &mut [f32],
) {
    transform_outputs_any(mm, o, p, epi, tile, y)
}

#[inline(always)]
fn transform_outputs_any(
    mm: &[f32],
    o: usize,
    p: &Plane,
    epi: Epilogue,
    tile: Tile,
    y: &mut [f32],
) {
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
    y: &mut [f32],
    at: fn(&[Lanes; A], &mut [Lanes; M]),
) {
    let (h, w) = (p.h, p.w);
    let (tiles, tiles_x) = (p.tiles(), p.tiles_x());
    let t_all = p.imgs * tiles;
    let mut d = [[[0.0f32; L]; A]; A];
    let mut r = [[[0.0f32; L]; M]; M];
    for img in 0..p.imgs {
        for oi in 0..o {
            let b = epi.bias.map_or(0.0, |b| b[oi]);
            let plane = &mut y[(img * o + oi) * h * w..(img * o + oi + 1) * h * w];
            for t0 in (0..tiles).step_by(L) {
                let lanes = L.min(tiles - t0);
                let t = img * tiles + t0;
                for (i, row) in d.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        let at = ((i * A + j) * o + oi) * t_all + t;
                        load_lanes(&mm[at..], cell, lanes);
                    }
                }
                two_sided(&d, at, &mut r);
                for lane in 0..lanes {
                    let (ty, tx) = ((t0 + lane) / tiles_x, (t0 + lane) % tiles_x);
                    let (oy, ox) = (ty * M, tx * M);
                    if oy + M <= h && ox + M <= w {
                        // A tile inside the image (all but the ragged last row and column).
                        for (i, row) in r.iter().enumerate() {
                            let out = &mut plane[(oy + i) * w + ox..(oy + i) * w + ox + M];
                            for (v, cell) in out.iter_mut().zip(row) {
                                *v = epi.apply(cell[lane], b);
                            }
                        }
                        continue;
                    }
                    for (i, row) in r.iter().enumerate().take(h - oy) {
                        for (j, cell) in row.iter().enumerate().take(w - ox) {
                            plane[(oy + i) * w + ox + j] = epi.apply(cell[lane], b);
                        }
                    }
                }
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
