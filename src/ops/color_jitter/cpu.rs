//! CPU kernel `color_jitter_fwd_f32`, the reference of the CUDA and WGSL kernels: the same
//! formulas in the same order (torchvision's, see the op's docs), images in parallel.

use super::{JitterArgs, LANES};
use crate::device::cpu::take;
use rayon::prelude::*;

/// torchvision's `rgb_to_grayscale`: 0.2989·r + 0.587·g + 0.114·b.
#[inline]
pub fn gray(r: f32, g: f32, b: f32) -> f32 {
    0.2989 * r + 0.587 * g + 0.114 * b
}

/// torchvision's `_blend`: clamp(f·a + (1 − f)·b, 0, 1).
#[inline]
pub fn blend(a: f32, b: f32, f: f32) -> f32 {
    (f * a + (1.0 - f) * b).clamp(0.0, 1.0)
}

/// torchvision's `_rgb2hsv` for one pixel: (h, s, v), h in [0, 1).
pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let crd = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / crd;
    let gc = (maxc - g) / crd;
    let bc = (maxc - b) / crd;
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    // torch.fmod(h / 6 + 1, 1): the argument is positive, so fmod = x − ⌊x⌋
    let x = h / 6.0 + 1.0;
    (x - x.floor(), s, maxc)
}

/// torchvision's `_hsv2rgb` for one pixel.
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match (i as i32).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// torchvision's `adjust_hue` for one pixel: H ← (H + shift) mod 1 (Python's `%`).
pub fn shift_hue(r: f32, g: f32, b: f32, shift: f32) -> (f32, f32, f32) {
    let (h, s, v) = rgb_to_hsv(r, g, b);
    let h = h + shift;
    hsv_to_rgb(h - h.floor(), s, v)
}

/// Mean gray level of one image (planes r, g, b), summed in the kernels' order: lane l adds
/// pixels l, l + 256, … in turn, then a tree adds the 256 lanes.
pub fn mean_gray(r: &[f32], g: &[f32], b: &[f32]) -> f32 {
    let hw = r.len();
    let mut lanes = [0.0f32; LANES];
    for (l, lane) in lanes.iter_mut().enumerate() {
        let mut p = l;
        while p < hw {
            *lane += gray(r[p], g[p], b[p]);
            p += LANES;
        }
    }
    let mut stride = LANES / 2;
    while stride > 0 {
        for l in 0..stride {
            lanes[l] += lanes[l + stride];
        }
        stride /= 2;
    }
    lanes[0] / hw as f32
}

/// Apply adjustment `op` with factor `f` to one image in place.
pub fn adjust(img: &mut [f32], hw: usize, op: u32, f: f32) {
    let (r, rest) = img.split_at_mut(hw);
    let (g, b) = rest.split_at_mut(hw);
    match op {
        0 => {
            for v in r.iter_mut().chain(g.iter_mut()).chain(b.iter_mut()) {
                *v = blend(*v, 0.0, f);
            }
        }
        1 => {
            let m = mean_gray(r, g, b);
            for v in r.iter_mut().chain(g.iter_mut()).chain(b.iter_mut()) {
                *v = blend(*v, m, f);
            }
        }
        2 => {
            for p in 0..hw {
                let l = gray(r[p], g[p], b[p]);
                (r[p], g[p], b[p]) = (blend(r[p], l, f), blend(g[p], l, f), blend(b[p], l, f));
            }
        }
        _ => {
            for p in 0..hw {
                (r[p], g[p], b[p]) = shift_hue(r[p], g[p], b[p], f);
            }
        }
    }
}

/// Jitter every image of `x` ([B, 3, hw]); image b is sample `indices[b]`.
pub fn color_jitter_fwd(x: &[f32], indices: &[u32], args: &JitterArgs) -> Vec<f32> {
    let hw = args.hw as usize;
    let mut out = take(x.len());
    out.copy_from_slice(x);
    out.par_chunks_mut(3 * hw)
        .zip(indices.par_iter())
        .for_each(|(img, &i)| {
            let d = args.draw(i);
            for op in d.order {
                adjust(img, hw, op, d.factors[op as usize]);
            }
        });
    out
}
