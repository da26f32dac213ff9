//! CPU conv2d kernels: im2col + our packed GEMM.
//!
//! # im2col
//!
//! For one image, the patch matrix `col` has one row per weight position r = (c·KH + ky)·KW + kx
//! (K = C·KH·KW rows) and one column per output pixel p = oy·OW + ox (P = OH·OW columns):
//!
//! ```text
//! col[r][p] = x[c, oy·sh − ph + ky, ox·sw − pw + kx]   (0 outside the image)
//! ```
//!
//! Then the three passes are matrix products (w viewed as an O×K matrix, y_n and g_n as O×P):
//!
//! * forward          y_n  = w · col_n (+ b broadcast over columns)
//! * backward-input   dcol = wᵀ · g_n, then col2im adds each dcol entry back into the pixel it
//!   came from (the adjoint of im2col)
//! * backward-weight  dw   = Σ_n g_n · col_nᵀ
//!
//! # Winograd
//!
//! 3×3 convolutions with stride 1 and padding 1 (all of ShapeCNN's) can take the Winograd
//! path ([`super::winograd`]) for the forward pass and the input gradient: 2.25–4× fewer
//! multiplications. [`Algorithm`] chooses (`Auto`: where measured faster, see
//! `winograd_tile`); `SHORTCUT_CONV=im2col|winograd2|winograd4|auto` or [`set_algorithm`]
//! force a path (tests, benches).
//!
//! Forward and backward-input run one image per task, in parallel over the batch, each task
//! using a single-threaded GEMM and its own reusable `col` buffer. Backward-weight splits the
//! batch into one fixed, contiguous range per thread, accumulates a partial dw per range, and
//! adds the partials in range order: the result does not depend on scheduling.

use super::winograd::{self, Tile};
use super::Conv2dArgs;
use crate::device::cpu::{take, take_zeroed};
use crate::ops::matmul::gemm::sgemm_st;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

/// How the CPU computes a 3×3, stride-1, padding-1 convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Winograd where it was measured to pay (`winograd_tile`), im2col elsewhere.
    Auto,
    /// Always im2col + GEMM (the reference path).
    Im2col,
    /// Always Winograd with this tile, where the shape allows it.
    Winograd(Tile),
}

/// 0: not read yet; 1 auto; 2 im2col; 3 F(2×2); 4 F(4×4).
static ALGORITHM: AtomicU8 = AtomicU8::new(0);

fn code(a: Algorithm) -> u8 {
    match a {
        Algorithm::Auto => 1,
        Algorithm::Im2col => 2,
        Algorithm::Winograd(Tile::F2) => 3,
        Algorithm::Winograd(Tile::F4) => 4,
    }
}

/// Force a path for every later CPU convolution of this process.
pub fn set_algorithm(a: Algorithm) {
    ALGORITHM.store(code(a), Ordering::Relaxed);
}

/// The path in force: [`set_algorithm`]'s, else `SHORTCUT_CONV`'s, else [`Algorithm::Auto`].
pub fn algorithm() -> Algorithm {
    let c = match ALGORITHM.load(Ordering::Relaxed) {
        0 => {
            let a = match std::env::var("SHORTCUT_CONV").as_deref() {
                Ok("im2col") => Algorithm::Im2col,
                Ok("winograd2") => Algorithm::Winograd(Tile::F2),
                Ok("winograd4") => Algorithm::Winograd(Tile::F4),
                _ => Algorithm::Auto,
            };
            set_algorithm(a);
            code(a)
        }
        c => c,
    };
    match c {
        2 => Algorithm::Im2col,
        3 => Algorithm::Winograd(Tile::F2),
        4 => Algorithm::Winograd(Tile::F4),
        _ => Algorithm::Auto,
    }
}

/// The Winograd tile for a convolution with these dimensions, if any. `Auto` follows what was
/// measured on a 2-core Zen 4 (`cargo bench --bench ops -- conv2d_winograd`, BENCHMARKS.md):
/// with few input or output channels (< 32: LazyCNN's and ShapeCNN's first layers, and the
/// input gradient of the first layer, 32 → 3) the GEMMs are small and the transforms dominate,
/// so im2col wins by 3–5×; from 32 channels on both sides, F(4×4) wins on large
/// maps (ShapeCNN's 28×28 layer: 1.6× faster than im2col, 1.3× than F(2×2)) and F(2×2) on
/// maps up to 14×14 (1.7–2.1× faster than im2col). On the 7×7 layer F(4×4) is 13 % faster
/// alone (both tilings overhang to 8×8) but the ShapeCNN step measured the same either way, so
/// the smaller rounding error of F(2×2) is kept there.
fn winograd_tile(d: &Dims) -> Option<Tile> {
    let fits = d.kh == 3 && d.kw == 3 && d.sh == 1 && d.sw == 1 && d.ph == 1 && d.pw == 1;
    match algorithm() {
        _ if !fits => None,
        Algorithm::Im2col => None,
        Algorithm::Winograd(t) => Some(t),
        Algorithm::Auto if d.c < 32 || d.o < 32 => None,
        Algorithm::Auto if d.h * d.w >= 400 => Some(Tile::F4),
        Algorithm::Auto => Some(Tile::F2),
    }
}

thread_local! {
    /// Per-thread scratch for the patch matrix, reused across calls.
    static COL: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

struct Dims {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

impl Dims {
    fn of(a: &Conv2dArgs) -> Dims {
        let u = |v: u32| v as usize;
        Dims {
            c: u(a.c_in),
            h: u(a.h),
            w: u(a.w),
            o: u(a.c_out),
            kh: u(a.kh),
            kw: u(a.kw),
            sh: u(a.stride_h),
            sw: u(a.stride_w),
            ph: u(a.pad_h),
            pw: u(a.pad_w),
            oh: u(a.out_h),
            ow: u(a.out_w),
        }
    }
    /// Rows of the patch matrix.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Columns of the patch matrix (output pixels per channel).
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// A 1×1 kernel with stride 1 and no padding: the image already *is* its patch matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }
}

/// The output columns `ox` whose input column `ix = ox·s + k − p` lies inside [0, size):
/// `ox ∈ [lo, hi)`. Computing this range once per (kx) row removes every bounds test from the
/// inner loops of im2col and col2im.
fn valid_range(out: usize, s: usize, k: usize, p: usize, size: usize) -> (usize, usize) {
    // ox·s + k ≥ p  ⇔  ox ≥ ⌈(p − k)/s⌉ ;  ox·s + k − p ≤ size − 1  ⇔  ox ≤ ⌊(size − 1 + p − k)/s⌋
    let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
    let hi = if size + p > k {
        ((size - 1 + p - k) / s + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Fill `col` (K×P) from one image `x` (C×H×W).
fn im2col(x: &[f32], d: &Dims, col: &mut [f32]) {
    im2col_rows(x, d, col, d.p());
}

/// [`im2col`] into a wider matrix: row r of the image's patch matrix goes to
/// `col[r·ld .. r·ld + P]` (`ld ≥ P`), so several images can sit side by side.
fn im2col_rows(x: &[f32], d: &Dims, col: &mut [f32], ld: usize) {
    let p = d.p();
    for c in 0..d.c {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ky in 0..d.kh {
            for kx in 0..d.kw {
                let r = (c * d.kh + ky) * d.kw + kx;
                let row = &mut col[r * ld..r * ld + p];
                let (lo, hi) = valid_range(d.ow, d.sw, kx, d.pw, d.w);
                for oy in 0..d.oh {
                    let out = &mut row[oy * d.ow..(oy + 1) * d.ow];
                    let iy = (oy * d.sh + ky) as isize - d.ph as isize;
                    if iy < 0 || iy >= d.h as isize || lo >= hi {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * d.w..(iy as usize + 1) * d.w];
                    out[..lo].fill(0.0);
                    out[hi..].fill(0.0);
                    let ix0 = lo * d.sw + kx - d.pw;
                    if d.sw == 1 {
                        out[lo..hi].copy_from_slice(&src[ix0..ix0 + (hi - lo)]);
                    } else {
                        for (j, v) in out[lo..hi].iter_mut().enumerate() {
                            *v = src[ix0 + j * d.sw];
                        }
                    }
                }
            }
        }
    }
}

/// Add `col` (K×P) back into the image gradient `dx` (C×H×W), the adjoint of [`im2col`].
fn col2im(col: &[f32], d: &Dims, dx: &mut [f32]) {
    let p = d.p();
    dx.fill(0.0);
    for c in 0..d.c {
        let plane = &mut dx[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ky in 0..d.kh {
            for kx in 0..d.kw {
                let r = (c * d.kh + ky) * d.kw + kx;
                let row = &col[r * p..(r + 1) * p];
                let (lo, hi) = valid_range(d.ow, d.sw, kx, d.pw, d.w);
                if lo >= hi {
                    continue;
                }
                let ix0 = lo * d.sw + kx - d.pw;
                for oy in 0..d.oh {
                    let iy = (oy * d.sh + ky) as isize - d.ph as isize;
                    if iy < 0 || iy >= d.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * d.w..(iy as usize + 1) * d.w];
                    let src = &row[oy * d.ow + lo..oy * d.ow + hi];
                    if d.sw == 1 {
                        for (v, &g) in dst[ix0..ix0 + (hi - lo)].iter_mut().zip(src) {
                            *v += g;
                        }
                    } else {
                        for (j, &g) in src.iter().enumerate() {
                            dst[ix0 + j * d.sw] += g;
                        }
                    }
                }
            }
        }
    }
}

/// Run `f` with this thread's patch buffer, grown to at least `len` elements.
fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COL.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < len {
            c.resize(len, 0.0);
        }
        f(&mut c[..len])
    })
}

/// `conv2d_fwd_f32`: y = conv(x, w) + b.
///
/// The bias rides along in the GEMM: with a bias, the patch matrix gets one extra row of ones
/// and the weight matrix one extra column holding b, so `[w | b] · [col ; 1] = w·col + b` and
/// the output is written once, by the GEMM, instead of being filled with b first.
pub fn conv2d_fwd(x: &[f32], w: &[f32], b: Option<&[f32]>, a: &Conv2dArgs) -> Vec<f32> {
    conv2d_fwd_fused(x, w, b, a, false)
}

/// `max_pool2d(relu(conv2d(x, w, b)), 2)` in one pass when the convolution goes through
/// Winograd and the map's sides are even ([`winograd::conv3x3_max_pool2`]): the pooled values
/// [N, O, H/2, W/2] and the argmax indices `max_pool2d` would keep. `None` where the
/// convolution takes another path (the caller then runs the separate operations).
pub fn conv2d_relu_max_pool2_fwd(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    a: &Conv2dArgs,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let d = Dims::of(a);
    let tile = winograd_tile(&d)?;
    if !d.h.is_multiple_of(2) || !d.w.is_multiple_of(2) || d.h == 0 || d.w == 0 {
        return None;
    }
    let len = a.n as usize * d.o * (d.h / 2) * (d.w / 2);
    let (mut y, mut idx) = (take(len), take(len));
    if len > 0 {
        let u = winograd::filter_transform(w, d.o, d.c, tile);
        let epi = winograd::Epilogue {
            bias: b,
            relu: true,
        };
        let n = a.n as usize;
        winograd::conv3x3_max_pool2(x, n, d.c, d.h, d.w, &u, d.o, epi, tile, &mut y, &mut idx);
    }
    Some((y, idx))
}

/// [`conv2d_fwd`], then, with `relu`, y = max(y, 0) — applied where each output is produced
/// (Winograd's output transform; right after each image's GEMM, while its output is still in
/// the cache) instead of in a separate pass over the whole tensor.
pub fn conv2d_fwd_fused(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    a: &Conv2dArgs,
    relu: bool,
) -> Vec<f32> {
    let d = Dims::of(a);
    if let Some(tile) = winograd_tile(&d) {
        let mut y = take(a.n as usize * d.o * d.p());
        let u = winograd::filter_transform(w, d.o, d.c, tile);
        let epi = winograd::Epilogue { bias: b, relu };
        winograd::conv3x3(x, a.n as usize, d.c, d.h, d.w, &u, d.o, epi, tile, &mut y);
        return y;
    }
    let (k, p) = (d.k(), d.p());
    let in_sz = d.c * d.h * d.w;
    let mut y = take(a.n as usize * d.o * p); // every element written by the GEMM (beta = 0)
    if y.is_empty() {
        return y;
    }
    // [w | b]: O rows of K + 1 values (only when there is a bias)
    let kb = if b.is_some() { k + 1 } else { k };
    let wb: Vec<f32> = match b {
        Some(b) => (0..d.o)
            .flat_map(|o| w[o * k..(o + 1) * k].iter().copied().chain([b[o]]))
            .collect(),
        None => Vec::new(),
    };
    let wmat: &[f32] = if b.is_some() { &wb } else { w };
    y.par_chunks_mut(d.o * p).enumerate().for_each(|(n, yn)| {
        let xn = &x[n * in_sz..(n + 1) * in_sz];
        if d.is_pointwise() && b.is_none() {
            sgemm_st(d.o, p, k, 1.0, w, k, false, xn, p, false, 0.0, yn, p);
        } else {
            with_col(kb * p, |col| {
                if d.is_pointwise() {
                    col[..k * p].copy_from_slice(xn);
                } else {
                    im2col(xn, &d, &mut col[..k * p]);
                }
                if kb > k {
                    col[k * p..].fill(1.0);
                }
                sgemm_st(d.o, p, kb, 1.0, wmat, kb, false, col, p, false, 0.0, yn, p);
            });
        }
        if relu {
            relu_in_place(yn);
        }
    });
    y
}

/// y = max(y, 0) in place, with the ReLU kernel's rule (NaN becomes 0).
///
/// Written as a select on every element (not "store 0 when negative"), which the compiler turns
/// into SIMD compares and blends; a store behind a branch that half the values take runs about
/// ten times slower on these random signs.
fn relu_in_place(y: &mut [f32]) {
    for v in y {
        let x = *v;
        *v = if x > 0.0 { x } else { 0.0 };
    }
}

/// `conv2d_bwd_input_f32`: dx = col2im(wᵀ · g_n) per image.
pub fn conv2d_bwd_input(g: &[f32], w: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let d = Dims::of(a);
    // dx is the convolution of g (O channels) with the flipped, transposed kernel.
    let transposed = Dims {
        c: d.o,
        o: d.c,
        ..Dims::of(a)
    };
    if let Some(tile) = winograd_tile(&transposed) {
        let mut dx = take(a.n as usize * d.c * d.h * d.w);
        let flipped = winograd::flipped_filters(w, d.o, d.c);
        let u = winograd::filter_transform(&flipped, d.c, d.o, tile);
        let epi = winograd::Epilogue::default();
        winograd::conv3x3(g, a.n as usize, d.o, d.h, d.w, &u, d.c, epi, tile, &mut dx);
        return dx;
    }
    let (k, p) = (d.k(), d.p());
    let in_sz = d.c * d.h * d.w;
    let mut dx = take(a.n as usize * in_sz); // col2im zero-fills; beta = 0 otherwise
    if dx.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(in_sz).enumerate().for_each(|(n, dxn)| {
        let gn = &g[n * d.o * p..(n + 1) * d.o * p];
        if d.is_pointwise() {
            sgemm_st(k, p, d.o, 1.0, w, k, true, gn, p, false, 0.0, dxn, p);
        } else {
            with_col(k * p, |col| {
                sgemm_st(k, p, d.o, 1.0, w, k, true, gn, p, false, 0.0, col, p);
                col2im(col, &d, dxn);
            });
        }
    });
    dx
}

/// How many batch ranges the weight gradient is split into. Fixed — not the thread count — so
/// the partial sums are added in the same order with any `RAYON_NUM_THREADS` and the gradient
/// (hence training) is bit-for-bit the same; 16 ranges keep up to 16 threads busy, and adding
/// 16 partials of at most 147,456 floats (ShapeCNN's largest layer) costs little.
const BWD_WEIGHT_PARTS: usize = 16;

/// Columns to aim for in one weight-gradient GEMM: on small maps (7×7, 14×14) a GEMM per image
/// would have a reduction of only 49 or 196 terms, and reading and writing the whole K×O
/// accumulator for so few would cost more than the multiplications; several images side by
/// side give it about this many.
const BWD_WEIGHT_COLUMNS: usize = 512;

/// `conv2d_bwd_weight_f32`: dw = Σ_n g_n · col_nᵀ, in fixed batch ranges (deterministic).
/// 3×3, stride-1, padding-1 layers with 32 channels or more on both sides go through Winograd
/// instead ([`winograd::weight_grad`], the same tile as their forward pass: 1.4–2.1× faster
/// than this im2col path on ShapeCNN's layers).
///
/// We accumulate the transpose, dwᵀ (K×O) = Σ_n col_n · g_nᵀ: the GEMM then reads the patch
/// matrix as a plain (untransposed) operand and only has to transpose g_n (O×P), which is
/// K/O times smaller than col_n; one small transpose at the end gives dw. Where a map is small,
/// `imgs` images go into one GEMM: their patch matrices side by side (K × imgs·P) times their
/// gradients side by side (O × imgs·P), transposed. How many is fixed by the shape alone.
pub fn conv2d_bwd_weight(g: &[f32], x: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let d = Dims::of(a);
    // The same tile as the forward pass: measured fastest for the weight gradient as well.
    if let Some(tile) = winograd_tile(&d) {
        return winograd::weight_grad(x, g, a.n as usize, d.c, d.h, d.w, d.o, tile);
    }
    let (k, p) = (d.k(), d.p());
    let n = a.n as usize;
    let in_sz = d.c * d.h * d.w;
    let parts = BWD_WEIGHT_PARTS.min(n).max(1);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|t| {
            let mut dwt = vec![0.0f32; k * d.o];
            let (lo, hi) = (t * n / parts, (t + 1) * n / parts);
            // The range's images in GEMMs of about BWD_WEIGHT_COLUMNS columns, evenly split.
            let gemms = ((hi - lo) * p).div_ceil(BWD_WEIGHT_COLUMNS).max(1);
            let per_gemm = (hi - lo).div_ceil(gemms).max(1);
            let mut i = lo;
            while i < hi {
                let imgs = per_gemm.min(hi - i);
                let (gs, xs) = (
                    &g[i * d.o * p..(i + imgs) * d.o * p],
                    &x[i * in_sz..(i + imgs) * in_sz],
                );
                weight_grad_images(gs, xs, &d, imgs, &mut dwt);
                i += imgs;
            }
            dwt
        })
        .collect();
    // dwᵀ = Σ_parts dwt, summed in part order (contiguous, in parallel over rows of dwᵀ: the
    // order of the additions for each element does not depend on the split), then dw = (dwᵀ)ᵀ.
    // Small gradients (LazyCNN's 16×27) stay on one thread: a task would cost more than the sum.
    let min_tasks = |chunk: usize| (1usize << 14).div_ceil(chunk.max(1));
    let mut sum = take_zeroed(k * d.o);
    let chunk = d.o.max(1) * 16;
    sum.par_chunks_mut(chunk)
        .with_min_len(min_tasks(chunk))
        .enumerate()
        .for_each(|(i, chunk)| {
            let at = i * d.o.max(1) * 16;
            for part in &partials {
                for (s, v) in chunk.iter_mut().zip(&part[at..]) {
                    *s += v;
                }
            }
        });
    let mut out = take(d.o * k);
    out.par_chunks_mut(k.max(1))
        .with_min_len(min_tasks(k))
        .enumerate()
        .for_each(|(o, row)| {
            for (r, v) in row.iter_mut().enumerate() {
                *v = sum[r * d.o + o];
            }
        });
    out
}

/// The backward of the fused conv + ReLU's ReLU and of its bias, in one pass over the incoming
/// gradient: gm = g where y > 0, else 0 (the ReLU's mask), and db[o] = Σ_{n,p} gm[n, o, p].
///
/// Each (image, channel) plane is masked and then summed while it is still in the cache; the
/// plane sums are added over the images in order, exactly as [`conv2d_bwd_bias`] adds them, so
/// db has the same bits as the two separate kernels give.
pub fn relu_mask_and_bias_grad(
    g: &[f32],
    y: &[f32],
    n: usize,
    o: usize,
    p: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut gm = take(n * o * p);
    let mut plane_sums = vec![0.0f32; n * o];
    if p > 0 {
        gm.par_chunks_mut(p)
            .zip(plane_sums.par_iter_mut())
            .enumerate()
            .for_each(|(i, (gp, sum))| {
                let (gi, yi) = (&g[i * p..(i + 1) * p], &y[i * p..(i + 1) * p]);
                for ((m, &gv), &yv) in gp.iter_mut().zip(gi).zip(yi) {
                    *m = if yv > 0.0 { gv } else { 0.0 };
                }
                *sum = crate::ops::elementwise::cpu::sum_pairwise(gp);
            });
    }
    let db = (0..o)
        .map(|c| {
            let mut s = 0.0f32;
            for i in 0..n {
                s += plane_sums[i * o + c];
            }
            s
        })
        .collect();
    (gm, db)
}

/// dwᵀ (K×O) += Σ over `imgs` images of col_n · g_nᵀ, as one GEMM (see [`conv2d_bwd_weight`]).
fn weight_grad_images(g: &[f32], x: &[f32], d: &Dims, imgs: usize, dwt: &mut [f32]) {
    let (k, p, o) = (d.k(), d.p(), d.o);
    if imgs == 1 && d.is_pointwise() {
        sgemm_st(k, o, p, 1.0, x, p, false, g, p, true, 1.0, dwt, o);
        return;
    }
    if imgs == 1 {
        with_col(k * p, |col| {
            im2col(x, d, col);
            sgemm_st(k, o, p, 1.0, col, p, false, g, p, true, 1.0, dwt, o);
        });
        return;
    }
    let (in_sz, cols) = (d.c * d.h * d.w, imgs * p);
    with_col((k + o) * cols, |buf| {
        let (col, gcat) = buf.split_at_mut(k * cols);
        for j in 0..imgs {
            im2col_rows(&x[j * in_sz..(j + 1) * in_sz], d, &mut col[j * p..], cols);
            for oc in 0..o {
                let src = &g[(j * o + oc) * p..(j * o + oc + 1) * p];
                gcat[oc * cols + j * p..oc * cols + (j + 1) * p].copy_from_slice(src);
            }
        }
        sgemm_st(
            k, o, cols, 1.0, col, cols, false, gcat, cols, true, 1.0, dwt, o,
        );
    });
}

/// `conv2d_bwd_bias_f32`: db[o] = Σ_{n,p} g[n, o, p]; one task per channel, fixed order.
pub fn conv2d_bwd_bias(g: &[f32], n: usize, o: usize, p: usize) -> Vec<f32> {
    (0..o)
        .into_par_iter()
        .map(|c| {
            let mut s = 0.0f32;
            for i in 0..n {
                s += crate::ops::elementwise::cpu::sum_pairwise(
                    &g[(i * o + c) * p..(i * o + c + 1) * p],
                );
            }
            s
        })
        .collect()
}
