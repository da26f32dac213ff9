//! CPU reduction kernels on the [outer, n, inner] view.

use crate::device::cpu::{take, take_zeroed};

use crate::ops::elementwise::cpu::sum_pairwise;
use rayon::prelude::*;

/// `sum_axis_f32`: out[o·inner + i] = Σ_k x[(o·n + k)·inner + i].
pub fn sum_axis(x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut out = take_zeroed(outer * inner);
    if out.is_empty() {
        return out;
    }
    let big = x.len() >= crate::device::cpu::PAR_THRESHOLD;
    let body = |o: usize, dst: &mut [f32]| {
        let block = &x[o * n * inner..(o + 1) * n * inner];
        if inner == 1 {
            dst[0] = sum_pairwise(block);
        } else {
            for k in 0..n {
                for (d, &v) in dst.iter_mut().zip(&block[k * inner..(k + 1) * inner]) {
                    *d += v;
                }
            }
        }
    };
    if big && outer > 1 {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(o, d)| body(o, d));
    } else {
        for (o, d) in out.chunks_mut(inner).enumerate() {
            body(o, d);
        }
    }
    out
}

/// `max_axis_f32`: maxima and the index k of the first maximum (as f32). NaN wins, as in PyTorch.
pub fn max_axis(x: &[f32], outer: usize, n: usize, inner: usize) -> (Vec<f32>, Vec<f32>) {
    let mut vals = take(outer * inner);
    let mut idx = take(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut best = x[o * n * inner + i];
            let mut bi = 0;
            for k in 1..n {
                let v = x[(o * n + k) * inner + i];
                if v > best || (v.is_nan() && !best.is_nan()) {
                    best = v;
                    bi = k;
                }
            }
            vals[o * inner + i] = best;
            idx[o * inner + i] = bi as f32;
        }
    }
    (vals, idx)
}

/// `max_bwd_f32`: dx[(o·n + idx)·inner + i] = g[o·inner + i], zeros elsewhere.
pub fn max_bwd(g: &[f32], idx: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut dx = take_zeroed(outer * n * inner);
    for o in 0..outer {
        for i in 0..inner {
            let k = idx[o * inner + i] as usize;
            dx[(o * n + k) * inner + i] = g[o * inner + i];
        }
    }
    dx
}
