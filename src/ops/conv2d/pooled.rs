//! Convolution, ReLU and adaptive average pooling in one pass (CPU): `adaptive_avg_pool2d(
//! relu(conv2d(x, w, b)))` for a 3×3, stride-1, padding-1 convolution with few input channels
//! — LazyCNN's whole feature extractor (3 → 16 channels, 28×28, pooled to 2×2).
//!
//! # Why fuse
//!
//! Done as three operations, the convolution writes an [N, O, H, W] activation (3.2 MB for a
//! LazyCNN batch of 64), the pool reads it back, and backward writes and reads two more
//! tensors that size. With 3 input channels there is little arithmetic per value moved, so
//! those passes, not the multiplications, decide the speed. Here every 2×2 output tile is
//! computed, clamped and added into its pooling window while it is still in registers; the
//! activation never exists. Backward needs only which outputs were positive — one bit per
//! output, kept by the forward pass — and rebuilds the rest from the input.
//!
//! # How
//!
//! The convolution runs through Winograd F(2×2, 3×3) ([`super::winograd`]): per 2×2 tile,
//! `Y = Aᵀ [Σ_c U_c ⊙ V_c] A` with `U = G w Gᵀ` and `V = Bᵀ d B` (16 products per input
//! channel and output channel instead of 36). Two layouts meet:
//!
//! * the input transform works on 16 *tiles* at once (one lane per tile of a tile row): the
//!   padded image is split into its even and odd columns first, so the four columns a row of
//!   tiles reads are four contiguous loads;
//! * the products, the output transform, the ReLU and the pooling work on 16 *output
//!   channels* at once: `M[ξ] = Σ_c V_c[ξ] · U_c[ξ]` is one fused multiply–add per input
//!   channel with `V` broadcast, and a tile's four outputs are added straight into the lanes of
//!   its pooling window.
//!
//! A 2×2 tile must lie inside one pooling window, so the fused path needs even H and W and
//! windows that split the map at even rows and columns ([`supports`]); other shapes take the
//! three separate operations.
//!
//! Backward (the weight and bias gradients) is the adjoint of the same computation: the
//! pooled gradient, divided by the window's area and masked by the kept ReLU bits, is a tile's
//! output gradient `g`; `dU_c[ξ] += V_c[ξ] · (A g Aᵀ)[ξ]` summed over all tiles, and finally
//! `dW = Gᵀ dU G` in f64 ([`super::winograd::weight_grad`] derives it). The images are split
//! into fixed parts whose sums are added in order, so the gradients have the same bits with
//! any number of threads.

use super::winograd::{a2, at2, bt2, filter_grads_with, filter_transform, Lanes, Tile, F2_G, L};
use crate::ops::pool::cpu::adaptive_window;
use rayon::prelude::*;

/// Most input channels the fused kernel takes: the transformed filters of one tile position
/// are held in registers, one lane group per input channel.
pub const MAX_C: usize = 4;

/// The ReLU bit of each lane (output channel) in a u16 mask; u32 so that the compiler tests
/// and sets all 16 at once with vector instructions.
const LANE_BIT: [u32; L] = {
    let mut b = [0u32; L];
    let mut l = 0;
    while l < L {
        b[l] = 1 << l;
        l += 1;
    }
    b
};

/// Images per part of the weight gradient (see the module comment): fixed by the batch alone.
const PARTS: usize = 4;

/// The sizes of one fused call: input [N, C, H, W], O output channels, pooled to OH × OW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Shape {
    fn tiles_y(&self) -> usize {
        self.h / 2
    }
    fn tiles_x(&self) -> usize {
        self.w / 2
    }
    /// Lane groups of 16 output channels (the last one padded).
    fn groups(&self) -> usize {
        self.o.div_ceil(L)
    }
    /// Groups of 16 tiles along a tile row.
    fn chunks(&self) -> usize {
        self.tiles_x().div_ceil(L)
    }
    /// Length of one parity half of a split padded row: every chunk's loads (at offsets 0 and
    /// 1 from its first tile) stay inside it.
    fn half_row(&self) -> usize {
        self.chunks() * L + 1
    }
    fn windows(&self) -> usize {
        self.oh * self.ow
    }
    /// ReLU bits kept per image: one u16 (16 output channels) per group, tile and output.
    pub fn mask_len(&self) -> usize {
        self.groups() * self.tiles_y() * self.tiles_x() * 4
    }
}

/// Can the fused kernel compute this shape here? Input channels 1..=[`MAX_C`], even H and W,
/// pooling windows that tile the map at even rows and columns, and a CPU with FMA and AVX2 or
/// AVX-512 (the kernel's multiply–adds are fused: `f32::mul_add` without hardware FMA would
/// be a library call per value).
pub fn supports(c: usize, h: usize, w: usize, oh: usize, ow: usize) -> bool {
    (1..=MAX_C).contains(&c)
        && h >= 2
        && w >= 2
        && h.is_multiple_of(2)
        && w.is_multiple_of(2)
        && even_windows(oh, h)
        && even_windows(ow, w)
        && has_simd_fma()
}

/// Do the adaptive windows of `out` outputs over `size` values tile it (no overlap, no gap)
/// with every boundary even?
fn even_windows(out: usize, size: usize) -> bool {
    out >= 1
        && out <= size
        && (0..out).all(|i| {
            let (a, b) = adaptive_window(i, out, size);
            let next = if i + 1 < out {
                adaptive_window(i + 1, out, size).0
            } else {
                size
            };
            a.is_multiple_of(2) && b.is_multiple_of(2) && b == next
        })
}

fn has_simd_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("fma")
            && (is_x86_feature_detected!("avx512f") || is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What every image of a call shares: the transformed filters and the bias in lane groups,
/// and the pooling window of every tile row and column.
struct Kernel {
    s: Shape,
    /// `u[(g·16 + ξ)·C + c]`: output channels g·16.. of `(G w Gᵀ)[ξ]` for input channel c.
    u: Vec<Lanes>,
    bias: Vec<Lanes>,
    win_y: Vec<usize>,
    win_x: Vec<usize>,
    /// 1 / (window area), per window.
    inv_area: Vec<f32>,
    area: Vec<f32>,
}

impl Kernel {
    /// Everything for the forward pass; with `w` None only the windows (backward needs no
    /// filters: `u` stays empty).
    fn new(w: Option<&[f32]>, b: Option<&[f32]>, s: Shape) -> Kernel {
        let (o, c) = (s.o, s.c);
        let mut u = Vec::new();
        if let Some(w) = w {
            let flat = filter_transform(w, o, c, Tile::F2); // [ξ][c][o]
            u = vec![[0.0f32; L]; s.groups() * 16 * c];
            for xi in 0..16 {
                for ci in 0..c {
                    for oi in 0..o {
                        u[((oi / L) * 16 + xi) * c + ci][oi % L] = flat[(xi * c + ci) * o + oi];
                    }
                }
            }
        }
        let mut bias = vec![[0.0f32; L]; s.groups()];
        if let Some(b) = b {
            for (oi, &v) in b.iter().enumerate() {
                bias[oi / L][oi % L] = v;
            }
        }
        let window_of = |tiles: usize, out: usize, size: usize| -> Vec<usize> {
            (0..tiles)
                .map(|t| {
                    (0..out)
                        .position(|i| adaptive_window(i, out, size).1 > 2 * t)
                        .unwrap_or(out - 1)
                })
                .collect()
        };
        let area: Vec<f32> = (0..s.windows())
            .map(|win| {
                let (y0, y1) = adaptive_window(win / s.ow, s.oh, s.h);
                let (x0, x1) = adaptive_window(win % s.ow, s.ow, s.w);
                ((y1 - y0) * (x1 - x0)) as f32
            })
            .collect();
        Kernel {
            s,
            u,
            bias,
            win_y: window_of(s.tiles_y(), s.oh, s.h),
            win_x: window_of(s.tiles_x(), s.ow, s.w),
            inv_area: area.iter().map(|a| 1.0 / a).collect(),
            area,
        }
    }

    fn window(&self, ty: usize, tx: usize) -> usize {
        self.win_y[ty] * self.s.ow + self.win_x[tx]
    }
}

/// Per-task working memory.
struct Scratch {
    /// The image, zero-padded by one and split by column parity ([`split_columns`]).
    split: Vec<f32>,
    /// `v[c·16 + ξ]`: V of 16 tiles (lanes = tiles).
    v: Vec<Lanes>,
    /// `m[t][ξ]`: per tile of the chunk, the 16 products (forward) or gradient tiles
    /// (backward), lanes = output channels.
    m: Vec<[Lanes; 16]>,
    /// Pooling sums (forward) or window gradients (backward), `[g·windows + window]`.
    win: Vec<Lanes>,
}

impl Scratch {
    fn new(s: &Shape) -> Scratch {
        Scratch {
            split: vec![0.0; s.c * (s.h + 2) * 2 * s.half_row()],
            v: vec![[0.0; L]; s.c * 16],
            m: vec![[[0.0; L]; 16]; L],
            win: vec![[0.0; L]; s.groups() * s.windows()],
        }
    }
}

/// The fused forward pass: x [N, C, H, W], w [O, C, 3, 3], b [O] → pooled [N, O, OH, OW], and
/// with `keep_mask` the ReLU bits backward needs (N × [`Shape::mask_len`]; empty otherwise).
/// Call only where [`supports`] holds.
pub fn forward(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    s: Shape,
    keep_mask: bool,
) -> (Vec<f32>, Vec<u16>) {
    let (in_sz, out_sz) = (s.c * s.h * s.w, s.o * s.windows());
    let mut pooled = vec![0.0f32; s.n * out_sz];
    let mut mask = vec![0u16; if keep_mask { s.n * s.mask_len() } else { 0 }];
    if pooled.is_empty() {
        return (pooled, mask);
    }
    let k = Kernel::new(Some(w), b, s);
    // Any split gives the same bits: images are independent. About 8 tasks per batch.
    let per_task = s.n.div_ceil(8);
    let run = |i: usize, y: &mut [f32], m: Option<&mut [u16]>| {
        let n0 = i * per_task;
        let imgs = y.len() / out_sz;
        forward_images(&x[n0 * in_sz..(n0 + imgs) * in_sz], &k, y, m);
    };
    let ys = pooled.par_chunks_mut(per_task * out_sz);
    if keep_mask {
        ys.zip(mask.par_chunks_mut(per_task * s.mask_len()))
            .enumerate()
            .for_each(|(i, (y, m))| run(i, y, Some(m)));
    } else {
        ys.enumerate().for_each(|(i, y)| run(i, y, None));
    }
    (pooled, mask)
}

/// The weight and bias gradients of the fused operation from `gp` (∂L/∂pooled [N, O, OH, OW]),
/// the input x and the forward pass's ReLU bits: (dW [O, C, 3, 3], db [O]).
pub fn backward(x: &[f32], gp: &[f32], mask: &[u16], s: Shape) -> (Vec<f32>, Vec<f32>) {
    // The weights do not enter these gradients: only the windows are needed.
    let k = Kernel::new(None, None, s);
    let (in_sz, out_sz, mask_sz) = (s.c * s.h * s.w, s.o * s.windows(), s.mask_len());
    let parts = PARTS.min(s.n).max(1);
    let lanes = s.groups() * 16 * s.c;
    let partials: Vec<(Vec<Lanes>, Vec<Lanes>)> = (0..parts)
        .into_par_iter()
        .map(|p| {
            let (lo, hi) = (p * s.n / parts, (p + 1) * s.n / parts);
            let mut du = vec![[0.0f32; L]; lanes];
            let mut db = vec![[0.0f32; L]; s.groups()];
            backward_images(
                &x[lo * in_sz..hi * in_sz],
                &gp[lo * out_sz..hi * out_sz],
                &mask[lo * mask_sz..hi * mask_sz],
                &k,
                &mut du,
                &mut db,
            );
            (du, db)
        })
        .collect();
    // Σ over parts in part order, then dU to the [ξ][c][o] layout of `filter_grads_with`.
    let (c, o) = (s.c, s.o);
    let mut du = vec![0.0f32; 16 * c * o];
    let mut db = vec![0.0f32; o];
    for (pdu, pdb) in &partials {
        for xi in 0..16 {
            for ci in 0..c {
                for oi in 0..o {
                    du[(xi * c + ci) * o + oi] += pdu[((oi / L) * 16 + xi) * c + ci][oi % L];
                }
            }
        }
        for (oi, d) in db.iter_mut().enumerate() {
            *d += pdb[oi / L][oi % L];
        }
    }
    (filter_grads_with::<4>(&du, o, c, &F2_G), db)
}

/// ∂L/∂(pre-activation) [N, O, H, W] from ∂L/∂pooled and the ReLU bits: the pooled gradient
/// spread over its window (÷ area) where the output was positive, 0 elsewhere. Only the input
/// gradient needs it (a convolution's transposed pass); the weights' gradient never forms it.
pub fn pre_activation_grad(gp: &[f32], mask: &[u16], s: Shape) -> Vec<f32> {
    let k = Kernel::new(None, None, s);
    let (plane, mask_sz) = (s.h * s.w, s.mask_len());
    let mut g = vec![0.0f32; s.n * s.o * plane];
    if g.is_empty() {
        return g;
    }
    g.par_chunks_mut(s.o * plane)
        .enumerate()
        .for_each(|(n, gi)| {
            let bits = &mask[n * mask_sz..(n + 1) * mask_sz];
            let gpi = &gp[n * s.o * s.windows()..(n + 1) * s.o * s.windows()];
            for oi in 0..s.o {
                let (grp, lane) = (oi / L, oi % L);
                for y in 0..s.h {
                    for xx in 0..s.w {
                        let tile = (y / 2) * s.tiles_x() + xx / 2;
                        let at =
                            ((grp * s.tiles_y() * s.tiles_x() + tile) * 4) + (y % 2) * 2 + xx % 2;
                        if bits[at] >> lane & 1 == 1 {
                            let win = k.window(y / 2, xx / 2);
                            gi[oi * plane + y * s.w + xx] =
                                gpi[oi * s.windows() + win] * k.inv_area[win];
                        }
                    }
                }
            }
        });
    g
}

/// The forward pass of some images, compiled for the best instruction set there is.
fn forward_images(x: &[f32], k: &Kernel, y: &mut [f32], mask: Option<&mut [u16]>) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        return unsafe { forward_images_avx512(x, k, y, mask) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { forward_images_avx2(x, k, y, mask) };
    }
    forward_images_any::<PORTABLE>(x, k, y, mask)
}

/// [`forward_images`] for AVX-512: a lane group is one register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn forward_images_avx512(x: &[f32], k: &Kernel, y: &mut [f32], mask: Option<&mut [u16]>) {
    forward_images_any::<AVX512>(x, k, y, mask)
}

/// [`forward_images`] for AVX2: the same operations (fused multiply–adds included), the same
/// bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_images_avx2(x: &[f32], k: &Kernel, y: &mut [f32], mask: Option<&mut [u16]>) {
    forward_images_any::<AVX2>(x, k, y, mask)
}

#[inline(always)]
fn forward_images_any<const ISA: u8>(
    x: &[f32],
    k: &Kernel,
    y: &mut [f32],
    mut mask: Option<&mut [u16]>,
) {
    let s = &k.s;
    let (in_sz, out_sz, mask_sz) = (s.c * s.h * s.w, s.o * s.windows(), s.mask_len());
    let mut scratch = Scratch::new(s);
    for (i, yi) in y.chunks_mut(out_sz).enumerate() {
        let xi = &x[i * in_sz..(i + 1) * in_sz];
        let mi = mask
            .as_deref_mut()
            .map(|m| &mut m[i * mask_sz..(i + 1) * mask_sz]);
        match s.c {
            1 => forward_image::<1, ISA>(xi, k, &mut scratch, yi, mi),
            2 => forward_image::<2, ISA>(xi, k, &mut scratch, yi, mi),
            3 => forward_image::<3, ISA>(xi, k, &mut scratch, yi, mi),
            _ => forward_image::<4, ISA>(xi, k, &mut scratch, yi, mi),
        }
    }
}

/// One image: every tile's outputs, clamped, added into its window; then the sums ÷ area.
#[inline(always)]
fn forward_image<const C: usize, const ISA: u8>(
    x: &[f32],
    k: &Kernel,
    sc: &mut Scratch,
    y: &mut [f32],
    mut mask: Option<&mut [u16]>,
) {
    let s = &k.s;
    split_columns(x, s, &mut sc.split);
    sc.win.fill([0.0; L]);
    let (nw, tiles) = (s.windows(), s.tiles_y() * s.tiles_x());
    for ty in 0..s.tiles_y() {
        for chunk in 0..s.chunks() {
            let tx0 = chunk * L;
            let nt = L.min(s.tiles_x() - tx0);
            input_tiles::<C>(&sc.split, s, ty, tx0, &mut sc.v);
            for g in 0..s.groups() {
                products::<C>(&sc.v, &k.u[g * 16 * C..(g + 1) * 16 * C], &mut sc.m);
                // Consecutive tiles of one window add into `run` (a register), which goes
                // into the window's sum when the window changes.
                let wins = &mut sc.win[g * nw + k.win_y[ty] * s.ow..][..s.ow];
                let (mut run, mut cur) = ([0.0f32; L], k.win_x[tx0]);
                for (t, m) in sc.m[..nt].iter().enumerate() {
                    let out = output_tile(m);
                    let (sum, bits) = relu_sum::<ISA>(&out, &k.bias[g]);
                    if let Some(mk) = mask.as_deref_mut() {
                        let at = (g * tiles + ty * s.tiles_x() + tx0 + t) * 4;
                        mk[at..at + 4].copy_from_slice(&bits);
                    }
                    let win = k.win_x[tx0 + t];
                    if win != cur {
                        add_lanes(&mut wins[cur], &run);
                        (run, cur) = ([0.0; L], win);
                    }
                    add_lanes(&mut run, &sum);
                }
                add_lanes(&mut wins[cur], &run);
            }
        }
    }
    for oi in 0..s.o {
        for win in 0..nw {
            y[oi * nw + win] = sc.win[(oi / L) * nw + win][oi % L] / k.area[win];
        }
    }
}

/// The padded image split by column parity: for channel c and padded row r (0..H+2, rows 0
/// and H+1 the zero padding), `split[((c·(H+2) + r)·2 + p)·half + j]` is padded column 2j + p
/// (padded column q is image column q − 1). A tile at tile column t reads padded columns
/// 2t..2t+4 = even t, odd t, even t+1, odd t+1: for 16 consecutive tiles, four contiguous
/// loads.
#[inline(always)]
fn split_columns(x: &[f32], s: &Shape, split: &mut [f32]) {
    let (half, rows) = (s.half_row(), s.h + 2);
    split.fill(0.0);
    for ci in 0..s.c {
        for yy in 0..s.h {
            let src = &x[(ci * s.h + yy) * s.w..][..s.w];
            let base = (ci * rows + yy + 1) * 2 * half;
            let (even, odd) = split[base..base + 2 * half].split_at_mut(half);
            for j in 0..s.w / 2 {
                // image column 2j is padded column 2j + 1 (odd), 2j + 1 is 2j + 2 (even).
                odd[j] = src[2 * j];
                even[j + 1] = src[2 * j + 1];
            }
        }
    }
}

fn lanes(s: &[f32]) -> Lanes {
    let mut v = [0.0; L];
    v.copy_from_slice(&s[..L]);
    v
}

/// V = Bᵀ d B of 16 tiles of tile row `ty` from tile `tx0` on, one lane per tile:
/// `v[c·16 + ξ]`, ξ = 4·row + column of the transformed tile.
#[inline(always)]
fn input_tiles<const C: usize>(split: &[f32], s: &Shape, ty: usize, tx0: usize, v: &mut [Lanes]) {
    let (half, rows) = (s.half_row(), s.h + 2);
    for ci in 0..C {
        let mut t = [[[0.0f32; L]; 4]; 4];
        for (r, tr) in t.iter_mut().enumerate() {
            let base = (ci * rows + 2 * ty + r) * 2 * half;
            let (even, odd) = split[base..base + 2 * half].split_at(half);
            let d = [
                lanes(&even[tx0..]),
                lanes(&odd[tx0..]),
                lanes(&even[tx0 + 1..]),
                lanes(&odd[tx0 + 1..]),
            ];
            bt2(&d, tr);
        }
        for j in 0..4 {
            let mut col = [[0.0f32; L]; 4];
            bt2(&[t[0][j], t[1][j], t[2][j], t[3][j]], &mut col);
            for (i, c) in col.iter().enumerate() {
                v[ci * 16 + i * 4 + j] = *c;
            }
        }
    }
}

/// `m[t][ξ] = Σ_c V_c[ξ](tile t) · U_c[ξ]` for all 16 tiles of a chunk (lanes past the map's
/// edge compute leftovers nobody reads) and one group of 16 output channels (`u` that group's
/// filters), in fused multiply–adds. Four tiles at a time, so that four independent chains
/// hide the multiply–add's latency.
#[inline(always)]
fn products<const C: usize>(v: &[Lanes], u: &[Lanes], m: &mut [[Lanes; 16]]) {
    for xi in 0..16 {
        let uu: [Lanes; C] = std::array::from_fn(|ci| u[xi * C + ci]);
        for t0 in (0..L).step_by(4) {
            let mut acc = [[0.0f32; L]; 4];
            for (ci, uc) in uu.iter().enumerate() {
                for (dt, a) in acc.iter_mut().enumerate() {
                    fma_lanes(a, v[ci * 16 + xi][t0 + dt], uc);
                }
            }
            for (dt, a) in acc.iter().enumerate() {
                m[t0 + dt][xi] = *a;
            }
        }
    }
}

/// Y = Aᵀ M A: the tile's four outputs [y00, y01, y10, y11] for 16 output channels.
#[inline(always)]
fn output_tile(m: &[Lanes; 16]) -> [Lanes; 4] {
    let mut r = [[[0.0f32; L]; 2]; 4];
    for (i, ri) in r.iter_mut().enumerate() {
        at2(&[m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3]], ri);
    }
    let mut y = [[0.0f32; L]; 4];
    for ox in 0..2 {
        let mut col = [[0.0f32; L]; 2];
        at2(&[r[0][ox], r[1][ox], r[2][ox], r[3][ox]], &mut col);
        y[ox] = col[0];
        y[2 + ox] = col[1];
    }
    y
}

/// Bias, ReLU and the sum of a tile's four outputs, with the bits of the positive ones (the
/// ReLU's mask: a NaN is not positive, so it is clamped to 0 and passes no gradient, as in
/// the separate ReLU).
#[inline(always)]
fn relu_sum<const ISA: u8>(out: &[Lanes; 4], bias: &Lanes) -> (Lanes, [u16; 4]) {
    let mut sum = [0.0f32; L];
    let mut bits = [0u16; 4];
    for (yk, bk) in out.iter().zip(&mut bits) {
        let mut a = [0.0f32; L];
        for l in 0..L {
            a[l] = yk[l] + bias[l];
        }
        *bk = positive_bits::<ISA>(&a);
        for l in 0..L {
            sum[l] += if a[l] > 0.0 { a[l] } else { 0.0 };
        }
    }
    (sum, bits)
}

/// Which instructions a build of the kernels may use: [`positive_bits`] is the one step the
/// compiler does not turn into vector code by itself (it tests and ORs bit by bit), so it
/// is written with each instruction set's compare-to-mask.
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// Bit l set where lane l is > 0 (a NaN is not).
#[inline(always)]
fn positive_bits<const ISA: u8>(a: &Lanes) -> u16 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        if ISA == AVX512 {
            // SAFETY: ISA is AVX512 only in the build compiled with AVX-512F, which runs only
            // where the CPU has it; the 16 floats are read from a whole array.
            return unsafe {
                _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_loadu_ps(a.as_ptr()), _mm512_setzero_ps())
            };
        }
        if ISA == AVX2 {
            // SAFETY: as above, for the AVX2 build; two loads of 8 floats inside the array.
            return unsafe {
                let z = _mm256_setzero_ps();
                let lo = _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_loadu_ps(a.as_ptr()), z);
                let hi = _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_loadu_ps(a.as_ptr().add(8)), z);
                (_mm256_movemask_ps(lo) as u16) | ((_mm256_movemask_ps(hi) as u16) << 8)
            };
        }
    }
    let mut b = 0u16;
    for (l, &v) in a.iter().enumerate() {
        b |= ((v > 0.0) as u16) << l;
    }
    b
}

/// The backward pass of some images (their partial dU and db added into `du`, `db`), compiled
/// for the best instruction set there is.
fn backward_images(
    x: &[f32],
    gp: &[f32],
    mask: &[u16],
    k: &Kernel,
    du: &mut [Lanes],
    db: &mut [Lanes],
) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        return unsafe { backward_images_avx512(x, gp, mask, k, du, db) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { backward_images_avx2(x, gp, mask, k, du, db) };
    }
    backward_images_any::<PORTABLE>(x, gp, mask, k, du, db)
}

/// [`backward_images`] for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn backward_images_avx512(
    x: &[f32],
    gp: &[f32],
    mask: &[u16],
    k: &Kernel,
    du: &mut [Lanes],
    db: &mut [Lanes],
) {
    backward_images_any::<AVX512>(x, gp, mask, k, du, db)
}

/// [`backward_images`] for AVX2: the same operations, the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_images_avx2(
    x: &[f32],
    gp: &[f32],
    mask: &[u16],
    k: &Kernel,
    du: &mut [Lanes],
    db: &mut [Lanes],
) {
    backward_images_any::<AVX2>(x, gp, mask, k, du, db)
}

#[inline(always)]
fn backward_images_any<const ISA: u8>(
    x: &[f32],
    gp: &[f32],
    mask: &[u16],
    k: &Kernel,
    du: &mut [Lanes],
    db: &mut [Lanes],
) {
    let s = &k.s;
    let (in_sz, out_sz, mask_sz) = (s.c * s.h * s.w, s.o * s.windows(), s.mask_len());
    let mut scratch = Scratch::new(s);
    for i in 0..x.len() / in_sz.max(1) {
        let xi = &x[i * in_sz..(i + 1) * in_sz];
        let gi = &gp[i * out_sz..(i + 1) * out_sz];
        let mi = &mask[i * mask_sz..(i + 1) * mask_sz];
        match s.c {
            1 => backward_image::<1, ISA>(xi, gi, mi, k, &mut scratch, du, db),
            2 => backward_image::<2, ISA>(xi, gi, mi, k, &mut scratch, du, db),
            3 => backward_image::<3, ISA>(xi, gi, mi, k, &mut scratch, du, db),
            _ => backward_image::<4, ISA>(xi, gi, mi, k, &mut scratch, du, db),
        }
    }
}

/// One image's share of dU and db: per tile, its output gradient (the window's gradient ÷
/// area where the ReLU let it through), `A g Aᵀ`, and `dU_c[ξ] += V_c[ξ] · (A g Aᵀ)[ξ]`.
#[inline(always)]
fn backward_image<const C: usize, const ISA: u8>(
    x: &[f32],
    gp: &[f32],
    mask: &[u16],
    k: &Kernel,
    sc: &mut Scratch,
    du: &mut [Lanes],
    db: &mut [Lanes],
) {
    let s = &k.s;
    let (nw, tiles) = (s.windows(), s.tiles_y() * s.tiles_x());
    split_columns(x, s, &mut sc.split);
    for (i, gw) in sc.win.iter_mut().enumerate() {
        let (g, win) = (i / nw, i % nw);
        for (l, v) in gw.iter_mut().enumerate() {
            let oi = g * L + l;
            *v = if oi < s.o {
                gp[oi * nw + win] * k.inv_area[win]
            } else {
                0.0
            };
        }
    }
    for ty in 0..s.tiles_y() {
        for chunk in 0..s.chunks() {
            let tx0 = chunk * L;
            let nt = L.min(s.tiles_x() - tx0);
            input_tiles::<C>(&sc.split, s, ty, tx0, &mut sc.v);
            for g in 0..s.groups() {
                let wins = &sc.win[g * nw + k.win_y[ty] * s.ow..][..s.ow];
                let mut db_chunk = [0.0f32; L];
                for (t, dm) in sc.m[..nt].iter_mut().enumerate() {
                    let at = (g * tiles + ty * s.tiles_x() + tx0 + t) * 4;
                    let gt = masked::<ISA>(&wins[k.win_x[tx0 + t]], &mask[at..at + 4]);
                    for out in &gt {
                        add_lanes(&mut db_chunk, out);
                    }
                    *dm = grad_tile(&gt);
                }
                add_lanes(&mut db[g], &db_chunk);
                let dug = &mut du[g * 16 * C..(g + 1) * 16 * C];
                weight_products::<C>(&sc.v, &sc.m[..nt], dug);
            }
        }
    }
}

/// The four outputs' gradients of a tile: the window's gradient where the bit is set.
#[inline(always)]
fn masked<const ISA: u8>(gw: &Lanes, bits: &[u16]) -> [Lanes; 4] {
    let mut gt = [[0.0f32; L]; 4];
    for (gk, &b) in gt.iter_mut().zip(bits) {
        *gk = select_bits::<ISA>(b, gw);
    }
    gt
}

/// Lane l of `v` where bit l of `bits` is set, 0 elsewhere.
#[inline(always)]
fn select_bits<const ISA: u8>(bits: u16, v: &Lanes) -> Lanes {
    let mut out = [0.0f32; L];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        if ISA == AVX512 {
            // SAFETY: the AVX-512 build only (see `positive_bits`); whole arrays read and written.
            unsafe {
                let r = _mm512_maskz_mov_ps(bits, _mm512_loadu_ps(v.as_ptr()));
                _mm512_storeu_ps(out.as_mut_ptr(), r);
            }
            return out;
        }
        if ISA == AVX2 {
            // SAFETY: the AVX2 build only; each half's lanes are all-ones where their bit is set.
            unsafe {
                let b = _mm256_set1_epi32(bits as i32);
                for half in 0..2 {
                    let lane_bits = _mm256_loadu_si256(LANE_BIT[8 * half..].as_ptr().cast());
                    let on = _mm256_cmpeq_epi32(_mm256_and_si256(b, lane_bits), lane_bits);
                    let r = _mm256_and_ps(
                        _mm256_castsi256_ps(on),
                        _mm256_loadu_ps(v[8 * half..].as_ptr()),
                    );
                    _mm256_storeu_ps(out[8 * half..].as_mut_ptr(), r);
                }
            }
            return out;
        }
    }
    for l in 0..L {
        out[l] = if u32::from(bits) & LANE_BIT[l] != 0 {
            v[l]
        } else {
            0.0
        };
    }
    out
}

/// dM = A g Aᵀ (4×4) of a tile's 2×2 output gradients [g00, g01, g10, g11]: the adjoint of
/// [`output_tile`].
#[inline(always)]
fn grad_tile(g: &[Lanes; 4]) -> [Lanes; 16] {
    let mut s = [[[0.0f32; L]; 4]; 2];
    for (oy, so) in s.iter_mut().enumerate() {
        a2(&[g[2 * oy], g[2 * oy + 1]], so);
    }
    let mut dm = [[0.0f32; L]; 16];
    for j in 0..4 {
        let mut col = [[0.0f32; L]; 4];
        a2(&[s[0][j], s[1][j]], &mut col);
        for (i, c) in col.iter().enumerate() {
            dm[4 * i + j] = *c;
        }
    }
    dm
}

/// `du[ξ·C + c] += Σ_t V_c[ξ](tile t) · dM[t][ξ]`, the chunk's sum formed first (fused
/// multiply–adds, tiles in order) and then added. Four positions ξ at a time: their 4·C sums
/// are independent chains, enough to hide the multiply–add's latency (one ξ at a time, the C
/// chains waited on each other: 3× slower).
#[inline(always)]
fn weight_products<const C: usize>(v: &[Lanes], dm: &[[Lanes; 16]], du: &mut [Lanes]) {
    for x0 in (0..16).step_by(4) {
        let mut acc = [[0.0f32; L]; 16];
        for (t, dmt) in dm.iter().enumerate() {
            for (k, a) in acc[..4 * C].iter_mut().enumerate() {
                let (xi, ci) = (x0 + k / C, k % C);
                fma_lanes(a, v[ci * 16 + xi][t], &dmt[xi]);
            }
        }
        for (k, a) in acc[..4 * C].iter().enumerate() {
            let (xi, ci) = (x0 + k / C, k % C);
            add_lanes(&mut du[xi * C + ci], a);
        }
    }
}

/// `acc += s · v` on 16 lanes, in fused multiply–adds.
#[inline(always)]
fn fma_lanes(acc: &mut Lanes, s: f32, v: &Lanes) {
    for l in 0..L {
        acc[l] = s.mul_add(v[l], acc[l]);
    }
}

/// `acc += v` on 16 lanes.
#[inline(always)]
fn add_lanes(acc: &mut Lanes, v: &Lanes) {
    for l in 0..L {
        acc[l] += v[l];
    }
}
