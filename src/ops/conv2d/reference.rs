//! Naive conv2d, straight from the definitions, accumulating in f64: the oracle the fast
//! kernels are tested against. Each pass is written in *gather* form — one output element at a
//! time, summing everything that contributes to it — which is also how the GPU kernels work.

use super::Conv2dArgs;

fn dims(a: &Conv2dArgs) -> [usize; 13] {
    [
        a.n, a.c_in, a.h, a.w, a.c_out, a.kh, a.kw, a.stride_h, a.stride_w, a.pad_h, a.pad_w,
        a.out_h, a.out_w,
    ]
    .map(|v| v as usize)
}

/// y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n,c,oy·sh−ph+ky, ox·sw−pw+kx]
pub fn conv2d_fwd(x: &[f32], w: &[f32], b: Option<&[f32]>, a: &Conv2dArgs) -> Vec<f32> {
    let [n, c, h, wd, o, kh, kw, sh, sw, ph, pw, oh, ow] = dims(a);
    let mut y = vec![0.0; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = b.map_or(0.0, |b| b[oi] as f64);
                    for ci in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * sh + ky) as isize - ph as isize;
                                let ix = (ox * sw + kx) as isize - pw as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = x[((ni * c + ci) * h + iy as usize) * wd + ix as usize];
                                let wv = w[((oi * c + ci) * kh + ky) * kw + kx];
                                s += xv as f64 * wv as f64;
                            }
                        }
                    }
                    y[((ni * o + oi) * oh + oy) * ow + ox] = s as f32;
                }
            }
        }
    }
    y
}

/// dx[n,c,iy,ix] = Σ_{o,ky,kx} g[n,o,oy,ox] · w[o,c,ky,kx] where oy = (iy + ph − ky)/sh is a whole
/// number in [0, OH) (likewise ox).
pub fn conv2d_bwd_input(g: &[f32], w: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let [n, c, h, wd, o, kh, kw, sh, sw, ph, pw, oh, ow] = dims(a);
    let mut dx = vec![0.0; n * c * h * wd];
    for ni in 0..n {
        for ci in 0..c {
            for iy in 0..h {
                for ix in 0..wd {
                    let mut s = 0.0f64;
                    for oi in 0..o {
                        for ky in 0..kh {
                            let ty = iy as isize + ph as isize - ky as isize;
                            if ty < 0 || ty % sh as isize != 0 || ty / sh as isize >= oh as isize {
                                continue;
                            }
                            let oy = (ty / sh as isize) as usize;
                            for kx in 0..kw {
                                let tx = ix as isize + pw as isize - kx as isize;
                                if tx < 0
                                    || tx % sw as isize != 0
                                    || tx / sw as isize >= ow as isize
                                {
                                    continue;
                                }
                                let ox = (tx / sw as isize) as usize;
                                s += g[((ni * o + oi) * oh + oy) * ow + ox] as f64
                                    * w[((oi * c + ci) * kh + ky) * kw + kx] as f64;
                            }
                        }
                    }
                    dx[((ni * c + ci) * h + iy) * wd + ix] = s as f32;
                }
            }
        }
    }
    dx
}

/// dw[o,c,ky,kx] = Σ_{n,oy,ox} g[n,o,oy,ox] · x[n,c,oy·sh−ph+ky, ox·sw−pw+kx]
pub fn conv2d_bwd_weight(g: &[f32], x: &[f32], a: &Conv2dArgs) -> Vec<f32> {
    let [n, c, h, wd, o, kh, kw, sh, sw, ph, pw, oh, ow] = dims(a);
    let mut dw = vec![0.0; o * c * kh * kw];
    for oi in 0..o {
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    let mut s = 0.0f64;
                    for ni in 0..n {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let iy = (oy * sh + ky) as isize - ph as isize;
                                let ix = (ox * sw + kx) as isize - pw as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                s += g[((ni * o + oi) * oh + oy) * ow + ox] as f64
                                    * x[((ni * c + ci) * h + iy as usize) * wd + ix as usize]
                                        as f64;
                            }
                        }
                    }
                    dw[((oi * c + ci) * kh + ky) * kw + kx] = s as f32;
                }
            }
        }
    }
    dw
}
