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

/// ⌊x⌋ for |x| < 2³¹, from a truncation (SSE2 has truncating conversions but no floor, so this
/// keeps the pixel loops vectorizable on any x86-64); equal to `f32::floor` on that range.
#[inline(always)]
fn floor_small(x: f32) -> f32 {
    let t = (x as i32) as f32;
    if x < t {
        t - 1.0
    } else {
        t
    }
}

/// torchvision's `_rgb2hsv` for one pixel: (h, s, v), h in [0, 1).
///
/// Written without data-dependent branches (the compiler turns the `if`s into selects), so the
/// loop over an image's pixels runs in SIMD lanes.
#[inline(always)]
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
    let hr = bc - gc;
    let hg = 2.0 + rc - bc;
    let hb = 4.0 + gc - rc;
    let h = if maxc == r {
        hr
    } else if maxc == g {
        hg
    } else {
        hb
    };
    // torch.fmod(h / 6 + 1, 1): the argument is positive, so fmod = x − ⌊x⌋
    let x = h / 6.0 + 1.0;
    (x - floor_small(x), s, maxc)
}

/// torchvision's `_hsv2rgb` for one pixel (branch-free, like [`rgb_to_hsv`]).
#[inline(always)]
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let i = floor_small(h * 6.0);
    let f = h * 6.0 - i;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    // i mod 6 (i ≥ 0 here: h ∈ [0, 1]); sector k: r = [v,q,p,p,t,v][k], g = [t,v,v,q,p,p][k],
    // b = [p,p,t,v,v,q][k]
    let k = i - 6.0 * floor_small(i / 6.0);
    let r = if k == 0.0 || k == 5.0 {
        v
    } else if k == 1.0 {
        q
    } else if k == 4.0 {
        t
    } else {
        p
    };
    let g = if k == 1.0 || k == 2.0 {
        v
    } else if k == 0.0 {
        t
    } else if k == 3.0 {
        q
    } else {
        p
    };
    let b = if k == 3.0 || k == 4.0 {
        v
    } else if k == 2.0 {
        t
    } else if k == 5.0 {
        q
    } else {
        p
    };
    (r, g, b)
}

/// torchvision's `adjust_hue` for one pixel: H ← (H + shift) mod 1 (Python's `%`).
#[inline(always)]
pub fn shift_hue(r: f32, g: f32, b: f32, shift: f32) -> (f32, f32, f32) {
    let (h, s, v) = rgb_to_hsv(r, g, b);
    let h = h + shift;
    hsv_to_rgb(h - floor_small(h), s, v)
}

/// Mean gray level of one image (planes r, g, b), summed in the kernels' order: lane l adds
/// pixels l, l + 256, … in turn, then a tree adds the 256 lanes.
pub fn mean_gray(r: &[f32], g: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    // lane l adds pixels l, l + 256, … in turn: block by block, lanes side by side
    for ((rb, gb), bb) in r.chunks(LANES).zip(g.chunks(LANES)).zip(b.chunks(LANES)) {
        for (l, lane) in lanes.iter_mut().enumerate().take(rb.len()) {
            *lane += gray(rb[l], gb[l], bb[l]);
        }
    }
    let mut stride = LANES / 2;
    while stride > 0 {
        for l in 0..stride {
            lanes[l] += lanes[l + stride];
        }
        stride /= 2;
    }
    lanes[0] / r.len() as f32
}

/// Apply adjustment `op` with factor `f` to one image in place.
pub fn adjust(img: &mut [f32], hw: usize, op: u32, f: f32) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { adjust_avx2(img, hw, op, f) };
    }
    adjust_any(img, hw, op, f)
}

/// [`adjust`] compiled for AVX2: the same operations in the same order, eight lanes at a time
/// (AVX2 also has a rounding instruction; no FMA is enabled, so nothing is fused).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adjust_avx2(img: &mut [f32], hw: usize, op: u32, f: f32) {
    adjust_any(img, hw, op, f)
}

#[inline(always)]
fn adjust_any(img: &mut [f32], hw: usize, op: u32, f: f32) {
    match op {
        0 => {
            for v in img.iter_mut() {
                *v = blend(*v, 0.0, f);
            }
        }
        1 => {
            let (r, rest) = img.split_at(hw);
            let (g, b) = rest.split_at(hw);
            let m = mean_gray(r, g, b);
            for v in img.iter_mut() {
                *v = blend(*v, m, f);
            }
        }
        _ => {
            let (r, rest) = img.split_at_mut(hw);
            let (g, b) = rest.split_at_mut(hw);
            let pixels = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
            if op == 2 {
                for ((r, g), b) in pixels {
                    let l = gray(*r, *g, *b);
                    (*r, *g, *b) = (blend(*r, l, f), blend(*g, l, f), blend(*b, l, f));
                }
            } else {
                for ((r, g), b) in pixels {
                    (*r, *g, *b) = shift_hue(*r, *g, *b, f);
                }
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
