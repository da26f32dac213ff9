//! CPU kernel `upsample_bilinear2d_fwd_f32`.

use crate::device::cpu::take;

/// Source coordinate and weights along one axis (align_corners = false).
fn coords(o: usize, in_size: usize, out_size: usize) -> (usize, usize, f32) {
    let scale = in_size as f32 / out_size as f32;
    let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(in_size - 1);
    let i1 = (i0 + 1).min(in_size - 1);
    (i0, i1, s - i0 as f32)
}

/// Upsample `planes` planes of h×w to oh×ow.
pub fn upsample_bilinear2d_fwd(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Vec<f32> {
    let mut out = take(planes * oh * ow);
    let cols: Vec<(usize, usize, f32)> = (0..ow).map(|ox| coords(ox, w, ow)).collect();
    for p in 0..planes {
        let xp = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            let (y0, y1, l) = coords(oy, h, oh);
            for (ox, &(x0, x1, m)) in cols.iter().enumerate() {
                let top = (1.0 - m) * xp[y0 * w + x0] + m * xp[y0 * w + x1];
                let bot = (1.0 - m) * xp[y1 * w + x0] + m * xp[y1 * w + x1];
                out[(p * oh + oy) * ow + ox] = (1.0 - l) * top + l * bot;
            }
        }
    }
    out
}
