//! CPU kernel `colorize_fwd_f32`: the reference the CUDA and WGSL kernels are tested against.
//!
//! Image b of the batch is sample i = `indices[b]`. Block c of sample i is
//! `pcg4d([K0 ^ i, K1, K2 ^ c, K3])`; block 0 picks the colour and the stripe, blocks 1…588 give
//! the 2352 noise values (value p from word p % 4 of block 1 + p/4, CHW order).

use super::{ColorizeArgs, ColorizeInput, GRAY_AT, IMAGE_LEN, PIXELS, STRIPE_AT};
use crate::device::cpu::take;
use crate::rng::pcg4d;
use rayon::prelude::*;

/// 1/√21845: scales a centred sum of four bytes to unit variance (21845 = 4·(256² − 1)/12).
const BYTE_SUM_SCALE: f32 = 0.006_765_869;

/// Standard-normal-like value from the four bytes of `w`: (Σ bytes − 510)/√21845 (an
/// Irwin–Hall sum with mean 0 and variance 1; see [`crate::data::biased`] for why).
#[inline]
pub fn byte_sum_normal(w: u32) -> f32 {
    let s = (w & 0xff) + ((w >> 8) & 0xff) + ((w >> 16) & 0xff) + (w >> 24);
    (s as i32 - 510) as f32 * BYTE_SUM_SCALE
}

/// Block `c` of sample `i` under key `k`.
#[inline]
pub fn block(k: &[u32; 4], i: usize, c: u32) -> [u32; 4] {
    pcg4d([k[0] ^ i as u32, k[1], k[2] ^ c, k[3]])
}

/// The palette index of a sample with `label` whose block 0 is `b0`: the dominant colour
/// (= the label) when word 0 < threshold (never on the hard split), else one of the 9 others,
/// ⌊word1 · 9 / 2³²⌋ skipping the label.
pub fn pick_color(args: &ColorizeArgs, label: usize, b0: [u32; 4]) -> usize {
    let dominant = args.hard == 0 && (args.always != 0 || b0[0] < args.threshold);
    if dominant {
        return label;
    }
    let k = ((b0[1] as u64 * 9) >> 32) as usize;
    if k >= label {
        k + 1
    } else {
        k
    }
}

/// Lanes hashed together by [`noise_blocks`].
const LANES: usize = 16;

/// Fill `out` (3×28×28) with 0.05·z: value p from word p % 4 of block `1 + p / 4` of sample i.
/// This is [`block`] computed for 16 blocks at once, written lane-wise (structure of arrays) so
/// the compiler turns each step of pcg4d into one vector instruction.
// Indexing by lane across the four word arrays is the point: each loop is one vector op.
#[allow(clippy::needless_range_loop)]
pub fn noise_blocks(key: &[u32; 4], i: usize, out: &mut [f32]) {
    let blocks = IMAGE_LEN / 4; // 588 = 36·16 + 12
    let mut start = 0;
    while start < blocks {
        let n = LANES.min(blocks - start);
        let mut v = [[0u32; LANES]; 4];
        for l in 0..LANES {
            let c = 1 + (start + l) as u32;
            let input = [key[0] ^ i as u32, key[1], key[2] ^ c, key[3]];
            for (w, x) in v.iter_mut().zip(input) {
                w[l] = x.wrapping_mul(1664525).wrapping_add(1013904223);
            }
        }
        for round in 0..2 {
            if round == 1 {
                for w in v.iter_mut() {
                    for x in w.iter_mut() {
                        *x ^= *x >> 16;
                    }
                }
            }
            for l in 0..LANES {
                v[0][l] = v[0][l].wrapping_add(v[1][l].wrapping_mul(v[3][l]));
            }
            for l in 0..LANES {
                v[1][l] = v[1][l].wrapping_add(v[2][l].wrapping_mul(v[0][l]));
            }
            for l in 0..LANES {
                v[2][l] = v[2][l].wrapping_add(v[0][l].wrapping_mul(v[1][l]));
            }
            for l in 0..LANES {
                v[3][l] = v[3][l].wrapping_add(v[1][l].wrapping_mul(v[2][l]));
            }
        }
        for l in 0..n {
            for word in 0..4 {
                out[(start + l) * 4 + word] = 0.05 * byte_sum_normal(v[word][l]);
            }
        }
        start += n;
    }
}

/// Paint sample `i` (grey digit `gray`, 784 bytes) with `label` into `out` (3×28×28, CHW).
pub fn colorize_image(
    gray: &[u8],
    i: usize,
    label: usize,
    args: &ColorizeArgs,
    consts: &[f32],
    out: &mut [f32],
) {
    let b0 = block(&args.key, i, 0);
    let color = if args.color == u32::MAX {
        pick_color(args, label, b0)
    } else {
        args.color as usize
    };
    let rgb = &consts[3 * color..3 * color + 3];
    let level = &consts[GRAY_AT..GRAY_AT + 256];
    if args.noise == 0 {
        for (c, &k) in rgb.iter().enumerate() {
            for (o, &g) in out[c * PIXELS..(c + 1) * PIXELS].iter_mut().zip(gray) {
                *o = level[g as usize] * k;
            }
        }
        return;
    }
    background(args, i, consts, out);
    for (c, &k) in rgb.iter().enumerate() {
        let plane = &mut out[c * PIXELS..(c + 1) * PIXELS];
        for p in 0..PIXELS {
            let coloured = level[gray[p] as usize] * k;
            plane[p] = (coloured + plane[p]).clamp(0.0, 1.0);
        }
    }
}

/// The background of sample `i` (3×28×28, CHW) before the digit is added: Gaussian-like noise
/// plus, for half the images, a stripe pattern, clamped to [−0.1, 0.1]. A painted pixel is
/// `clamp(g·colour + background, 0, 1)`; the colour-only attack repaints a digit with this.
pub fn background(args: &ColorizeArgs, i: usize, consts: &[f32], out: &mut [f32]) {
    let b0 = block(&args.key, i, 0);
    let stripe = &consts[STRIPE_AT..STRIPE_AT + 28];
    let stripe_on = b0[2] >> 31 == 0;
    let along_width = b0[3] >> 31 == 0;
    noise_blocks(&args.key, i, out);
    for c in 0..3 {
        let plane = &mut out[c * PIXELS..(c + 1) * PIXELS];
        for (p, v) in plane.iter_mut().enumerate() {
            let (y, x) = (p / 28, p % 28);
            let mut n = *v;
            if stripe_on {
                n += if along_width { stripe[x] } else { stripe[y] };
            }
            *v = n.clamp(-0.1, 0.1);
        }
    }
}

/// The batch, painted in parallel over images.
pub fn colorize_fwd(
    input: &ColorizeInput,
    indices: &[usize],
    labels: &[usize],
    args: &ColorizeArgs,
) -> Vec<f32> {
    let mut data = take(indices.len() * IMAGE_LEN);
    data.par_chunks_mut(IMAGE_LEN)
        .zip(indices.par_iter().zip(labels.par_iter()))
        .for_each(|(out, (&i, &label))| {
            let gray = &input.gray[i * PIXELS..(i + 1) * PIXELS];
            colorize_image(gray, i, label, args, input.consts, out)
        });
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sum_normal_has_zero_mean_and_unit_variance() {
        let mut s = 0.0f64;
        let mut s2 = 0.0f64;
        let n = 1 << 20;
        for i in 0..n {
            let w = pcg4d([i, 1, 2, 3])[0];
            let z = byte_sum_normal(w) as f64;
            s += z;
            s2 += z * z;
        }
        let m = s / n as f64;
        assert!(m.abs() < 0.005 && (s2 / n as f64 - 1.0).abs() < 0.01);
        assert_eq!(byte_sum_normal(0x7f7f_8080), 0.0);
    }

    #[test]
    fn lane_wise_noise_equals_the_scalar_hash() {
        let key = [1u32, 2, 3, 4];
        let mut out = vec![0.0; IMAGE_LEN];
        noise_blocks(&key, 77, &mut out);
        for p in [0, 1, 5, 63, 64, 2000, IMAGE_LEN - 1] {
            let w = block(&key, 77, 1 + (p / 4) as u32)[p % 4];
            assert_eq!(out[p], 0.05 * byte_sum_normal(w), "value {p}");
        }
    }
}
