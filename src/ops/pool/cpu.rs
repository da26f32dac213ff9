//! CPU pooling kernels, one task per (n, c) plane.

use crate::device::cpu::{take, take_zeroed};

use super::PoolArgs;
use rayon::prelude::*;

struct D {
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

fn dims(a: &PoolArgs) -> D {
    let u = |v: u32| v as usize;
    D {
        h: u(a.h),
        w: u(a.w),
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

/// The clipped input range of window `o` along one axis: [o·s − p, o·s − p + k) ∩ [0, size).
fn window(o: usize, s: usize, p: usize, k: usize, size: usize) -> (usize, usize) {
    let start = (o * s) as isize - p as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).min(size as isize)).max(0) as usize;
    (lo, hi)
}

/// Adaptive window along one axis: [⌊o·in/out⌋, ⌈(o+1)·in/out⌉).
pub fn adaptive_window(o: usize, out: usize, size: usize) -> (usize, usize) {
    (o * size / out, ((o + 1) * size).div_ceil(out))
}

/// `max_pool2d_fwd_f32`: values and flat argmax indices (iy·W + ix, as f32).
pub fn max_pool2d_fwd(x: &[f32], a: &PoolArgs) -> (Vec<f32>, Vec<f32>) {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let mut y = take(a.planes as usize * out_sz);
    let mut idx = take(y.len());
    if y.is_empty() {
        return (y, idx);
    }
    y.par_chunks_mut(out_sz)
        .zip(idx.par_chunks_mut(out_sz))
        .enumerate()
        .for_each(|(pl, (yp, ip))| {
            let xp = &x[pl * in_sz..(pl + 1) * in_sz];
            if d.kh == 2 && d.kw == 2 && d.sh == 2 && d.sw == 2 && d.ph == 0 && d.pw == 0 {
                max_pool_2x2(xp, d.w, d.oh, d.ow, yp, ip);
                return;
            }
            for oy in 0..d.oh {
                let (y0, y1) = window(oy, d.sh, d.ph, d.kh, d.h);
                for ox in 0..d.ow {
                    let (x0, x1) = window(ox, d.sw, d.pw, d.kw, d.w);
                    let mut best = f32::NEG_INFINITY;
                    let mut best_i = y0 * d.w + x0;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            let v = xp[iy * d.w + ix];
                            // strict '>' keeps the first maximum; NaN propagates like PyTorch
                            if v > best || v.is_nan() && !best.is_nan() {
                                best = v;
                                best_i = iy * d.w + ix;
                            }
                        }
                    }
                    yp[oy * d.ow + ox] = best;
                    ip[oy * d.ow + ox] = best_i as f32;
                }
            }
        });
    (y, idx)
}

/// The common 2×2, stride-2 window: rows 2·oy and 2·oy + 1, columns 2·ox and 2·ox + 1, compared
/// in the order (top-left, top-right, bottom-left, bottom-right) so the first maximum wins ties,
/// and a NaN wins like in the general loop.
fn max_pool_2x2(xp: &[f32], w: usize, oh: usize, ow: usize, yp: &mut [f32], ip: &mut [f32]) {
    for oy in 0..oh {
        let r0 = &xp[2 * oy * w..2 * oy * w + 2 * ow];
        let r1 = &xp[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * ow];
        let (yr, ir) = (
            &mut yp[oy * ow..(oy + 1) * ow],
            &mut ip[oy * ow..(oy + 1) * ow],
        );
        for ox in 0..ow {
            let cand = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
            let mut best = cand[0];
            let mut k = 0;
            for (j, &v) in cand.iter().enumerate().skip(1) {
                if v > best || (v.is_nan() && !best.is_nan()) {
                    best = v;
                    k = j;
                }
            }
            yr[ox] = best;
            let (dy, dx) = (k / 2, k % 2);
            ir[ox] = ((2 * oy + dy) * w + 2 * ox + dx) as f32;
        }
    }
}

/// `max_pool2d_bwd_f32`: dx[idx] += g (within each plane, in output order).
pub fn max_pool2d_bwd(g: &[f32], idx: &[f32], a: &PoolArgs) -> Vec<f32> {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let mut dx = take_zeroed(a.planes as usize * in_sz);
    if dx.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(in_sz).enumerate().for_each(|(pl, dp)| {
        let gp = &g[pl * out_sz..(pl + 1) * out_sz];
        let ip = &idx[pl * out_sz..(pl + 1) * out_sz];
        for (gv, iv) in gp.iter().zip(ip) {
            dp[*iv as usize] += gv;
        }
    });
    dx
}

/// `avg_pool2d_fwd_f32`: window sum / (kh·kw).
pub fn avg_pool2d_fwd(x: &[f32], a: &PoolArgs) -> Vec<f32> {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let inv = 1.0 / (d.kh * d.kw) as f32;
    let mut y = take(a.planes as usize * out_sz);
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(out_sz).enumerate().for_each(|(pl, yp)| {
        let xp = &x[pl * in_sz..(pl + 1) * in_sz];
        for oy in 0..d.oh {
            let (y0, y1) = window(oy, d.sh, d.ph, d.kh, d.h);
            for ox in 0..d.ow {
                let (x0, x1) = window(ox, d.sw, d.pw, d.kw, d.w);
                let mut s = 0.0f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        s += xp[iy * d.w + ix];
                    }
                }
                yp[oy * d.ow + ox] = s * inv;
            }
        }
    });
    y
}

/// `avg_pool2d_bwd_f32`: dx += g/(kh·kw) over each window.
pub fn avg_pool2d_bwd(g: &[f32], a: &PoolArgs) -> Vec<f32> {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let inv = 1.0 / (d.kh * d.kw) as f32;
    let mut dx = take_zeroed(a.planes as usize * in_sz);
    if dx.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(in_sz).enumerate().for_each(|(pl, dp)| {
        let gp = &g[pl * out_sz..(pl + 1) * out_sz];
        for oy in 0..d.oh {
            let (y0, y1) = window(oy, d.sh, d.ph, d.kh, d.h);
            for ox in 0..d.ow {
                let (x0, x1) = window(ox, d.sw, d.pw, d.kw, d.w);
                let v = gp[oy * d.ow + ox] * inv;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        dp[iy * d.w + ix] += v;
                    }
                }
            }
        }
    });
    dx
}

/// `adaptive_avg_pool2d_fwd_f32`. For each band of rows [y0, y1) we first add the rows into
/// one vector of column sums (contiguous, so it vectorizes), then sum that vector over each
/// window's columns.
pub fn adaptive_avg_pool2d_fwd(x: &[f32], a: &PoolArgs) -> Vec<f32> {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let mut y = take(a.planes as usize * out_sz);
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(out_sz).enumerate().for_each(|(pl, yp)| {
        let xp = &x[pl * in_sz..(pl + 1) * in_sz];
        // The column sums of one window row, on the stack for the usual widths: a heap
        // allocation per plane (1,024 planes in a LazyCNN batch) cost more than the sums.
        let (mut stack, mut heap) = ([0.0f32; 64], Vec::new());
        let colsum: &mut [f32] = if d.w <= stack.len() {
            &mut stack[..d.w]
        } else {
            heap.resize(d.w, 0.0);
            &mut heap
        };
        for oy in 0..d.oh {
            let (y0, y1) = adaptive_window(oy, d.oh, d.h);
            colsum.fill(0.0);
            for iy in y0..y1 {
                for (s, &v) in colsum.iter_mut().zip(&xp[iy * d.w..(iy + 1) * d.w]) {
                    *s += v;
                }
            }
            for ox in 0..d.ow {
                let (x0, x1) = adaptive_window(ox, d.ow, d.w);
                let s: f32 = colsum[x0..x1].iter().sum();
                yp[oy * d.ow + ox] = s / ((y1 - y0) * (x1 - x0)) as f32;
            }
        }
    });
    y
}

/// Do the adaptive windows along one axis tile it exactly (no overlap, no gap)?
fn windows_tile(out: usize, size: usize) -> bool {
    (0..out).all(|o| {
        adaptive_window(o, out, size).1
            == if o + 1 < out {
                adaptive_window(o + 1, out, size).0
            } else {
                size
            }
    })
}

/// `adaptive_avg_pool2d_bwd_f32`: dx += g/|window| over each window. When the windows tile the
/// plane (H divisible by OH and W by OW, the usual case), every pixel lies in exactly one window,
/// so each window simply *fills* its rectangle (vectorized, no zero-fill pass); otherwise windows
/// overlap and we zero the plane and accumulate.
pub fn adaptive_avg_pool2d_bwd(g: &[f32], a: &PoolArgs) -> Vec<f32> {
    let d = dims(a);
    let (in_sz, out_sz) = (d.h * d.w, d.oh * d.ow);
    let tiles = windows_tile(d.oh, d.h) && windows_tile(d.ow, d.w);
    let mut dx = if tiles {
        take(a.planes as usize * in_sz)
    } else {
        take_zeroed(a.planes as usize * in_sz)
    };
    if dx.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(in_sz).enumerate().for_each(|(pl, dp)| {
        let gp = &g[pl * out_sz..(pl + 1) * out_sz];
        for oy in 0..d.oh {
            let (y0, y1) = adaptive_window(oy, d.oh, d.h);
            for ox in 0..d.ow {
                let (x0, x1) = adaptive_window(ox, d.ow, d.w);
                let v = gp[oy * d.ow + ox] / ((y1 - y0) * (x1 - x0)) as f32;
                for iy in y0..y1 {
                    let row = &mut dp[iy * d.w + x0..iy * d.w + x1];
                    if tiles {
                        row.fill(v);
                    } else {
                        for r in row {
                            *r += v;
                        }
                    }
                }
            }
        }
    });
    dx
}
