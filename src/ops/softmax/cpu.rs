//! CPU softmax kernels, one row at a time (rows in parallel when large).

use crate::device::cpu::take;

use rayon::prelude::*;

fn par_rows(out: &mut [f32], c: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if c == 0 {
        return;
    }
    if out.len() >= crate::device::cpu::PAR_THRESHOLD {
        out.par_chunks_mut(c).enumerate().for_each(|(r, o)| f(r, o));
    } else {
        for (r, o) in out.chunks_mut(c).enumerate() {
            f(r, o);
        }
    }
}

/// `softmax_fwd_f32` / `log_softmax_fwd_f32` over rows of length c.
pub fn softmax_fwd(x: &[f32], rows: usize, c: usize, log: bool) -> Vec<f32> {
    let mut y = take(rows * c);
    par_rows(&mut y, c, |r, yr| {
        let xr = &x[r * c..(r + 1) * c];
        let m = xr.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut s = 0.0f32;
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = (v - m).exp();
            s += *o;
        }
        if log {
            let ls = s.ln();
            for (o, &v) in yr.iter_mut().zip(xr) {
                *o = v - m - ls;
            }
        } else {
            let inv = 1.0 / s;
            for o in yr.iter_mut() {
                *o *= inv;
            }
        }
    });
    y
}

/// `softmax_bwd_f32` / `log_softmax_bwd_f32`.
pub fn softmax_bwd(g: &[f32], y: &[f32], rows: usize, c: usize, log: bool) -> Vec<f32> {
    let mut dx = take(rows * c);
    par_rows(&mut dx, c, |r, dr| {
        let (gr, yr) = (&g[r * c..(r + 1) * c], &y[r * c..(r + 1) * c]);
        if log {
            let sg: f32 = gr.iter().sum();
            for ((d, &gv), &yv) in dr.iter_mut().zip(gr).zip(yr) {
                *d = gv - yv.exp() * sg;
            }
        } else {
            let dot: f32 = gr.iter().zip(yr).map(|(a, b)| a * b).sum();
            for ((d, &gv), &yv) in dr.iter_mut().zip(gr).zip(yr) {
                *d = yv * (gv - dot);
            }
        }
    });
    dx
}
