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
//! Forward and backward-input run one image per task, in parallel over the batch, each task
//! using a single-threaded GEMM and its own reusable `col` buffer. Backward-weight splits the
//! batch into one fixed, contiguous range per thread, accumulates a partial dw per range, and
//! adds the partials in range order: the result does not depend on scheduling.

use super::Conv2dArgs;
use crate::device::cpu::num_threads;
use crate::ops::matmul::gemm::sgemm_st;
use rayon::prelude::*;
use std::cell::RefCell;

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

/// Fill `col` (K×P) from one image `x` (C×H×W).
fn im2col(x: &[f32], d: &Dims, col: &mut [f32]) {
    let p = d.p();
    for c in 0..d.c {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ky in 0..d.kh {
            for kx in 0..d.kw {
                let r = (c * d.kh + ky) * d.kw + kx;
                let row = &mut col[r * p..(r + 1) * p];
                for oy in 0..d.oh {
                    let out = &mut row[oy * d.ow..(oy + 1) * d.ow];
                    let iy = (oy * d.sh + ky) as isize - d.ph as isize;
                    if iy < 0 || iy >= d.h as isize {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * d.w..(iy as usize + 1) * d.w];
                    // ix = ox·sw − pw + kx must lie in [0, W)
                    for (ox, v) in out.iter_mut().enumerate() {
                        let ix = (ox * d.sw + kx) as isize - d.pw as isize;
                        *v = if ix >= 0 && ix < d.w as isize {
                            src[ix as usize]
                        } else {
                            0.0
                        };
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
                for oy in 0..d.oh {
                    let iy = (oy * d.sh + ky) as isize - d.ph as isize;
                    if iy < 0 || iy >= d.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * d.w..(iy as usize + 1) * d.w];
                    let src = &row[oy * d.ow..(oy + 1) * d.ow];
                    for (ox, &v) in src.iter().enumerate() {
                        let ix = (ox * d.sw + kx) as isize - d.pw as isize;
                        if ix >= 0 && ix < d.w as isize {
                            dst[ix as usize] += v;
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
pub fn conv2d_fwd(x: &[f32], w: &[f32], b: Option<&[f32]>, a: &Conv2dArgs) -> Vec<f32> {
    let d = Dims::of(a);
    let (k, p) = (d.k(), d.p());
    let in_sz = d.c * d.h * d.w;
    let mut y = vec![0.0f32; a.n as usize * d.o * p];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(d.o * p).enumerate().for_each(|(n, yn)| {
        let xn = &x[n * in_sz..(n + 1) * in_sz];
        // Start from the bias (or zero) and let the GEMM accumulate onto it (beta = 1).
        let beta = match b {
            Some(b) => {
                for (o, row) in yn.chunks_mut(p).enumerate() {
                    row.fill(b[o]);
                }
                1.0
            }
            None => 0.0,
        };
        if d.is_pointwise() {
            sgemm_st(d.o, p, k, 1.0, w, k, false, xn, p, false, beta, yn, p);
        } else {
            with_col(k * p, |col| {
                im2col(xn, &d, col);
                sgemm_st(d.o, p, k, 1.0, w, k, false, col, p, false, beta, yn, p);
            });
        }
    });
    y
}

/// `conv2d_bwd_input_f32`: dx = col2im(wᵀ · g_n) per image.
pub fn conv2d_bwd_input(g: &[f32], w: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let d = Dims::of(a);
    let (k, p) = (d.k(), d.p());
    let in_sz = d.c * d.h * d.w;
    let mut dx = vec![0.0f32; a.n as usize * in_sz];
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

/// `conv2d_bwd_weight_f32`: dw = Σ_n g_n · col_nᵀ, in fixed batch ranges (deterministic).
pub fn conv2d_bwd_weight(g: &[f32], x: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let d = Dims::of(a);
    let (k, p) = (d.k(), d.p());
    let n = a.n as usize;
    let in_sz = d.c * d.h * d.w;
    let parts = num_threads().min(n).max(1);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|t| {
            let mut dw = vec![0.0f32; d.o * k];
            let (lo, hi) = (t * n / parts, (t + 1) * n / parts);
            for i in lo..hi {
                let gn = &g[i * d.o * p..(i + 1) * d.o * p];
                let xn = &x[i * in_sz..(i + 1) * in_sz];
                if d.is_pointwise() {
                    sgemm_st(d.o, k, p, 1.0, gn, p, false, xn, p, true, 1.0, &mut dw, k);
                } else {
                    with_col(k * p, |col| {
                        im2col(xn, &d, col);
                        sgemm_st(d.o, k, p, 1.0, gn, p, false, col, p, true, 1.0, &mut dw, k);
                    });
                }
            }
            dw
        })
        .collect();
    let mut out = vec![0.0f32; d.o * k];
    for part in &partials {
        for (o, v) in out.iter_mut().zip(part) {
            *o += v;
        }
    }
    out
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
