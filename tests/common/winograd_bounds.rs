//! The absolute Winograd sums that the error bounds of `tests/winograd.rs` and
//! `tests/pooled.rs` scale (their headers derive the bounds).

use shortcut::ops::conv2d::winograd::{self, Tile};

/// |L| · |D| · |L|ᵀ for row-major matrices.
pub fn abs_sandwich(l: &[Vec<f64>], d: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let (r, k) = (l.len(), d.len());
    let ld: Vec<Vec<f64>> = (0..r)
        .map(|i| {
            (0..d[0].len())
                .map(|j| (0..k).map(|t| l[i][t].abs() * d[t][j].abs()).sum())
                .collect()
        })
        .collect();
    (0..r)
        .map(|i| {
            (0..r)
                .map(|j| (0..ld[0].len()).map(|t| ld[i][t] * l[j][t].abs()).sum())
                .collect()
        })
        .collect()
}

/// T (see the header) for every output element: [N, O, H, W].
#[allow(clippy::too_many_arguments)]
pub fn absolute_sums(
    x: &[f32],
    w: &[f32],
    n: usize,
    c: usize,
    h: usize,
    wd: usize,
    o: usize,
    tile: Tile,
) -> Vec<f64> {
    let (bt, g, at) = winograd::matrices(tile);
    let (m, a) = (tile.m(), tile.a());
    let gabs: Vec<Vec<Vec<f64>>> = (0..o * c)
        .map(|k| {
            let kk: Vec<Vec<f64>> = (0..3)
                .map(|i| (0..3).map(|j| w[k * 9 + i * 3 + j] as f64).collect())
                .collect();
            abs_sandwich(&g, &kk)
        })
        .collect();
    let mut t_out = vec![0.0; n * o * h * wd];
    for ni in 0..n {
        for ty in 0..h.div_ceil(m) {
            for tx in 0..wd.div_ceil(m) {
                let vs: Vec<Vec<Vec<f64>>> = (0..c)
                    .map(|ci| {
                        let d: Vec<Vec<f64>> = (0..a)
                            .map(|i| {
                                (0..a)
                                    .map(|j| {
                                        let (iy, ix) =
                                            ((ty * m + i) as isize - 1, (tx * m + j) as isize - 1);
                                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize
                                        {
                                            0.0
                                        } else {
                                            x[((ni * c + ci) * h + iy as usize) * wd + ix as usize]
                                                as f64
                                        }
                                    })
                                    .collect()
                            })
                            .collect();
                        abs_sandwich(&bt, &d)
                    })
                    .collect();
                for oi in 0..o {
                    let mut prod = vec![vec![0.0; a]; a];
                    for ci in 0..c {
                        for i in 0..a {
                            for j in 0..a {
                                prod[i][j] += gabs[oi * c + ci][i][j] * vs[ci][i][j];
                            }
                        }
                    }
                    let out = abs_sandwich(&at, &prod);
                    for (i, row) in out.iter().enumerate() {
                        for (j, &value) in row.iter().enumerate() {
                            let (oy, ox) = (ty * m + i, tx * m + j);
                            if oy < h && ox < wd {
                                t_out[((ni * o + oi) * h + oy) * wd + ox] = value;
                            }
                        }
                    }
                }
            }
        }
    }
    t_out
}

/// S of the header for every weight: [O, C, 3, 3].
#[allow(clippy::too_many_arguments)]
pub fn weight_absolute_sums(
    x: &[f32],
    g: &[f32],
    n: usize,
    c: usize,
    h: usize,
    wd: usize,
    o: usize,
    tile: Tile,
) -> Vec<f64> {
    let (bt, gm, at) = winograd::matrices(tile);
    let (m, a) = (tile.m(), tile.a());
    let a_rows: Vec<Vec<f64>> = (0..a).map(|i| (0..m).map(|j| at[j][i]).collect()).collect();
    let gt_rows: Vec<Vec<f64>> = (0..3).map(|i| (0..a).map(|j| gm[j][i]).collect()).collect();
    // |value| of plane `p` (h×wd) at (y, x), zero outside (the padding, the overhang)
    let at_abs = |p: &[f32], y: isize, x: isize| {
        if y < 0 || x < 0 || y >= h as isize || x >= wd as isize {
            0.0
        } else {
            p[y as usize * wd + x as usize].abs() as f64
        }
    };
    let mut s = vec![0.0; o * c * 9];
    for ni in 0..n {
        for ty in 0..h.div_ceil(m) {
            for tx in 0..wd.div_ceil(m) {
                let (y0, x0) = ((ty * m) as isize, (tx * m) as isize);
                let vs: Vec<Vec<Vec<f64>>> = (0..c)
                    .map(|ci| {
                        let p = &x[(ni * c + ci) * h * wd..(ni * c + ci + 1) * h * wd];
                        let d: Vec<Vec<f64>> = (0..a)
                            .map(|i| {
                                (0..a)
                                    .map(|j| at_abs(p, y0 + i as isize - 1, x0 + j as isize - 1))
                                    .collect()
                            })
                            .collect();
                        abs_sandwich(&bt, &d)
                    })
                    .collect();
                for oi in 0..o {
                    let p = &g[(ni * o + oi) * h * wd..(ni * o + oi + 1) * h * wd];
                    let gt: Vec<Vec<f64>> = (0..m)
                        .map(|i| {
                            (0..m)
                                .map(|j| at_abs(p, y0 + i as isize, x0 + j as isize))
                                .collect()
                        })
                        .collect();
                    let dm = abs_sandwich(&a_rows, &gt);
                    for (ci, v) in vs.iter().enumerate() {
                        let prod: Vec<Vec<f64>> = (0..a)
                            .map(|i| (0..a).map(|j| dm[i][j] * v[i][j]).collect())
                            .collect();
                        let w3 = abs_sandwich(&gt_rows, &prod);
                        for (k, val) in w3.iter().flatten().enumerate() {
                            s[(oi * c + ci) * 9 + k] += val;
                        }
                    }
                }
            }
        }
    }
    s
}
