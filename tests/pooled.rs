//! The fused convolution + ReLU + adaptive average pool (`ops::conv2d::pooled`, LazyCNN's
//! feature extractor) against an f64 reference, with the error bounds derived below; the tape
//! op against the three separate operations; the model using it.
//!
//! # The bounds
//!
//! With u = 2⁻²⁴ and T_p the absolute Winograd sum of output pixel p
//! (`common::winograd_bounds`, the header of `tests/winograd.rs`), the pre-activation the kernel
//! computes obeys |y_p − y_p*| ≤ e_p = (C + 4·4 + 1)·u·T_p + u·|b| — the F(2×2) forward bound
//! of `tests/winograd.rs` (the products are C fused multiply–adds, at most C roundings). The
//! ReLU is 1-Lipschitz, so the clamped value is as close. The pooled value adds the window's
//! clamped values (per tile 3 additions, then one per tile of the window: at most 3 + k for a
//! window of k tiles) and divides once; each clamped value is at most T_p + |b| in size. So,
//! with A the window's area,
//!
//! ```text
//! |pooled − pooled*| ≤ (C + 17 + k + 4) · u · Σ_p (T_p + |b|) / A  +  u·|pooled*|
//! ```
//!
//! (the last term: the reference's own rounding to f32).
//!
//! The weight gradient is the Winograd weight gradient of `tests/winograd.rs` applied to the
//! pre-activation gradient g_p = bit_p · ∂L/∂pooled / A, with the kernel's own ReLU bits (a
//! pixel whose pre-activation is within e_p of zero may take either side; the bits are tested
//! against the exact signs elsewhere). The kernel forms g_p as ∂L/∂pooled · (1/A) (two
//! roundings) and sums each chunk of ≤ 16 tiles, then the chunks of each image, then the
//! parts: |dW − dW*| ≤ (N·tiles + parts + 4·4 + 2 + 2)·u·S.

mod common;

use common::uniform;
use common::winograd_bounds::{absolute_sums, weight_absolute_sums};
use shortcut::autograd::Tape;
use shortcut::models::ModelKind;
use shortcut::ops::conv2d::pooled::{self, Shape};
use shortcut::ops::conv2d::winograd::Tile;
use shortcut::ops::conv2d::{reference, Conv2dArgs};
use shortcut::ops::pool::cpu::adaptive_window;
use shortcut::ops::Conv2dParams;
use shortcut::{Device, Rng, Tensor};

const U: f64 = 1.0 / 16_777_216.0;

fn random(len: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, 7);
    (0..len)
        .map(|_| scale * rng.uniform_range(-1.0, 1.0))
        .collect()
}

fn args(s: &Shape) -> Conv2dArgs {
    let x = shortcut::Shape::from(vec![s.n, s.c, s.h, s.w]);
    let wt = shortcut::Shape::from(vec![s.o, s.c, 3, 3]);
    Conv2dArgs::new(&x, &wt, &Conv2dParams::new(1, 1)).unwrap()
}

/// The pre-activations in f64, [N, O, H, W].
fn exact_conv(x: &[f32], w: &[f32], b: &[f32], s: &Shape) -> Vec<f64> {
    let mut y = vec![0.0f64; s.n * s.o * s.h * s.w];
    for n in 0..s.n {
        for o in 0..s.o {
            for yy in 0..s.h {
                for xx in 0..s.w {
                    let mut acc = b[o] as f64;
                    for c in 0..s.c {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = (yy + ky, xx + kx);
                                if iy == 0 || ix == 0 || iy > s.h || ix > s.w {
                                    continue;
                                }
                                let xv = x[((n * s.c + c) * s.h + iy - 1) * s.w + ix - 1];
                                acc += xv as f64 * w[(o * s.c + c) * 9 + ky * 3 + kx] as f64;
                            }
                        }
                    }
                    y[((n * s.o + o) * s.h + yy) * s.w + xx] = acc;
                }
            }
        }
    }
    y
}

/// The windows of an adaptive pool as (y0, y1, x0, x1), row-major.
fn windows(s: &Shape) -> Vec<(usize, usize, usize, usize)> {
    let mut v = Vec::new();
    for wy in 0..s.oh {
        for wx in 0..s.ow {
            let (y0, y1) = adaptive_window(wy, s.oh, s.h);
            let (x0, x1) = adaptive_window(wx, s.ow, s.w);
            v.push((y0, y1, x0, x1));
        }
    }
    v
}

/// The pooled outputs in f64 and their bounds (header).
fn reference_and_bound(x: &[f32], w: &[f32], b: &[f32], s: &Shape) -> (Vec<f64>, Vec<f64>) {
    let pre = exact_conv(x, w, b, s);
    let t = absolute_sums(x, w, s.n, s.c, s.h, s.w, s.o, Tile::F2);
    let mut want = Vec::new();
    let mut bound = Vec::new();
    for n in 0..s.n {
        for (o, bo) in b.iter().enumerate() {
            for &(y0, y1, x0, x1) in &windows(s) {
                let (mut sum, mut mag) = (0.0, 0.0);
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        let i = ((n * s.o + o) * s.h + yy) * s.w + xx;
                        sum += pre[i].max(0.0);
                        mag += t[i] + (*bo as f64).abs();
                    }
                }
                let area = ((y1 - y0) * (x1 - x0)) as f64;
                let tiles = area / 4.0;
                let k = (s.c + 17) as f64 + tiles + 4.0;
                want.push(sum / area);
                bound.push(k * U * mag / area + U * (sum / area).abs() + f32::MIN_POSITIVE as f64);
            }
        }
    }
    (want, bound)
}

/// Shapes the fused kernel takes: LazyCNN's; the smallest; ragged output-channel groups (33);
/// more than 16 tiles along a row (two chunks, the second ragged); windows of one tile;
/// unequal window counts; batches split into several parts.
const SHAPES: [Shape; 7] = [
    Shape {
        n: 2,
        c: 3,
        h: 28,
        w: 28,
        o: 16,
        oh: 2,
        ow: 2,
    },
    Shape {
        n: 1,
        c: 1,
        h: 2,
        w: 2,
        o: 1,
        oh: 1,
        ow: 1,
    },
    Shape {
        n: 3,
        c: 4,
        h: 8,
        w: 4,
        o: 33,
        oh: 2,
        ow: 2,
    },
    Shape {
        n: 2,
        c: 2,
        h: 12,
        w: 36,
        o: 5,
        oh: 3,
        ow: 1,
    },
    Shape {
        n: 1,
        c: 3,
        h: 4,
        w: 6,
        o: 17,
        oh: 2,
        ow: 3,
    },
    Shape {
        n: 9,
        c: 3,
        h: 6,
        w: 10,
        o: 7,
        oh: 1,
        ow: 5,
    },
    Shape {
        n: 5,
        c: 1,
        h: 14,
        w: 14,
        o: 16,
        oh: 7,
        ow: 1,
    },
];

#[test]
fn every_test_shape_takes_the_fused_kernel() {
    for s in SHAPES {
        assert!(pooled::supports(s.c, s.h, s.w, s.oh, s.ow), "{s:?}");
    }
    // odd sizes, windows across a tile, too many channels: not the fused kernel's
    assert!(!pooled::supports(3, 27, 28, 2, 2));
    assert!(!pooled::supports(3, 28, 28, 3, 2)); // 28/3: windows split at odd rows
    assert!(!pooled::supports(5, 28, 28, 2, 2));
    assert!(!pooled::supports(3, 6, 6, 4, 1)); // overlapping windows
}

#[test]
fn the_forward_pass_stays_within_its_bound() {
    for (i, s) in SHAPES.iter().enumerate() {
        for scale in [1.0f32, 1e-3, 300.0] {
            let seed = 10 * i as u64;
            let x = random(s.n * s.c * s.h * s.w, scale, seed);
            let w = random(s.o * s.c * 9, 1.0, seed + 1);
            let b = random(s.o, scale, seed + 2);
            let (got, _) = pooled::forward(&x, &w, Some(&b), *s, false);
            let (want, bound) = reference_and_bound(&x, &w, &b, s);
            for (j, ((&g, &r), &e)) in got.iter().zip(&want).zip(&bound).enumerate() {
                let err = (g as f64 - r).abs();
                assert!(
                    err <= e,
                    "{s:?} scale {scale}: output {j}: {g} vs {r}, error {err:e} > {e:e}"
                );
            }
        }
    }
}

#[test]
fn the_relu_bits_match_the_exact_signs_away_from_zero() {
    for s in SHAPES {
        let x = random(s.n * s.c * s.h * s.w, 1.0, 3);
        let w = random(s.o * s.c * 9, 1.0, 4);
        let b = random(s.o, 1.0, 5);
        let (_, bits) = pooled::forward(&x, &w, Some(&b), s, true);
        assert_eq!(bits.len(), s.n * s.mask_len());
        let pre = exact_conv(&x, &w, &b, &s);
        let t = absolute_sums(&x, &w, s.n, s.c, s.h, s.w, s.o, Tile::F2);
        let g = pre_activation_grads(&bits, &vec![1.0; s.n * s.o * s.oh * s.ow], &s);
        let mut decided = 0;
        for (i, (&p, &gv)) in pre.iter().zip(&g).enumerate() {
            let e = (s.c + 17) as f64 * U * t[i] + U * 1.0;
            if p.abs() > e {
                decided += 1;
                assert_eq!(gv != 0.0, p > 0.0, "{s:?} pixel {i}: pre-activation {p}");
            }
        }
        assert!(decided > pre.len() / 2);
    }
}

/// g_p = bit_p · gp / A, [N, O, H, W], from the library (its spreading is checked here against
/// the bits read directly).
fn pre_activation_grads(bits: &[u16], gp: &[f32], s: &Shape) -> Vec<f32> {
    let g = pooled::pre_activation_grad(gp, bits, *s);
    let wins = windows(s);
    for n in 0..s.n {
        for o in 0..s.o {
            for (wi, &(y0, y1, x0, x1)) in wins.iter().enumerate() {
                let area = ((y1 - y0) * (x1 - x0)) as f32;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        let tile = (yy / 2) * (s.w / 2) + xx / 2;
                        let groups_tiles = (s.h / 2) * (s.w / 2);
                        let at = ((o / 16) * groups_tiles + tile) * 4 + (yy % 2) * 2 + xx % 2;
                        let on = bits[n * s.mask_len() + at] >> (o % 16) & 1 == 1;
                        let want = if on {
                            gp[(n * s.o + o) * s.oh * s.ow + wi] * (1.0 / area)
                        } else {
                            0.0
                        };
                        let got = g[((n * s.o + o) * s.h + yy) * s.w + xx];
                        assert_eq!(got, want, "{s:?} n{n} o{o} ({yy}, {xx})");
                    }
                }
            }
        }
    }
    g
}

#[test]
fn the_weight_and_bias_gradients_stay_within_their_bounds() {
    for (i, s) in SHAPES.iter().enumerate() {
        let seed = 100 + 10 * i as u64;
        let x = random(s.n * s.c * s.h * s.w, 1.0, seed);
        let w = random(s.o * s.c * 9, 1.0, seed + 1);
        let b = random(s.o, 1.0, seed + 2);
        let gp = random(s.n * s.o * s.oh * s.ow, 1.0, seed + 3);
        let (_, bits) = pooled::forward(&x, &w, Some(&b), *s, true);
        let (dw, db) = pooled::backward(&x, &gp, &bits, *s);
        let g = pre_activation_grads(&bits, &gp, s);
        let want = reference::conv2d_bwd_weight(&g, &x, &args(s));
        let sums = weight_absolute_sums(&x, &g, s.n, s.c, s.h, s.w, s.o, Tile::F2);
        let tiles = s.h / 2 * s.w / 2;
        let k = (s.n * tiles + s.n.min(4) + 16 + 4) as f64;
        for (j, ((&got, &r), &sj)) in dw.iter().zip(&want).zip(&sums).enumerate() {
            let bound = k * U * sj + U * (r as f64).abs() + f32::MIN_POSITIVE as f64;
            let err = (got as f64 - r as f64).abs();
            assert!(
                err <= bound,
                "{s:?} dW {j}: {got} vs {r}, {err:e} > {bound:e}"
            );
        }
        for o in 0..s.o {
            let plane = |n: usize| &g[(n * s.o + o) * s.h * s.w..][..s.h * s.w];
            let exact: f64 = (0..s.n).flat_map(plane).map(|&v| v as f64).sum();
            let mag: f64 = (0..s.n).flat_map(plane).map(|&v| (v as f64).abs()).sum();
            let bound = (s.n * s.h * s.w + 4 + 2) as f64 * U * mag + U * exact.abs() + 1e-30;
            let err = (db[o] as f64 - exact).abs();
            assert!(err <= bound, "{s:?} db {o}: {} vs {exact}", db[o]);
        }
    }
}

#[test]
fn the_results_are_the_same_with_any_thread_count() {
    let s = Shape {
        n: 11,
        c: 3,
        h: 28,
        w: 28,
        o: 16,
        oh: 2,
        ow: 2,
    };
    let x = random(s.n * s.c * s.h * s.w, 1.0, 8);
    let w = random(s.o * s.c * 9, 1.0, 9);
    let b = random(s.o, 1.0, 10);
    let gp = random(s.n * s.o * 4, 1.0, 11);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (y, bits) = pooled::forward(&x, &w, Some(&b), s, true);
            let (dw, db) = pooled::backward(&x, &gp, &bits, s);
            (y, bits, dw, db)
        })
    };
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    let (one, two) = (run(1), run(2));
    assert_eq!(bits(&one.0), bits(&two.0));
    assert_eq!(one.1, two.1);
    assert_eq!(bits(&one.2), bits(&two.2));
    assert_eq!(bits(&one.3), bits(&two.3));
}

/// The tape op against `conv2d_relu` then `adaptive_avg_pool2d`: the outputs and all three
/// gradients (the input's through the pre-activation gradient) agree to within a few units of
/// the im2col path's rounding — the two compute the same function in a different order; a
/// wrong index or transform gives errors of the order of the values.
#[test]
fn the_tape_op_agrees_with_the_three_operations() {
    for (n, c, h, w, o, oh, ow) in [(4, 3, 28, 28, 16, 2, 2), (2, 2, 6, 8, 20, 3, 2)] {
        let x = uniform(&[n, c, h, w], 0.0, 1.0, 1)
            .requires_grad_(true)
            .unwrap();
        let wt = uniform(&[o, c, 3, 3], -0.5, 0.5, 2)
            .requires_grad_(true)
            .unwrap();
        let b = uniform(&[o], -0.1, 0.1, 3).requires_grad_(true).unwrap();
        let gy = uniform(&[n, o, oh, ow], -1.0, 1.0, 4);
        let p = Conv2dParams::new(1, 1);
        let run = |fused: bool| {
            for t in [&x, &wt, &b] {
                t.zero_grad();
            }
            let y = if fused {
                x.conv2d_relu_adaptive_avg_pool2d(&wt, Some(&b), p, oh, ow)
                    .unwrap()
            } else {
                x.conv2d_relu(&wt, Some(&b), p)
                    .unwrap()
                    .adaptive_avg_pool2d(oh, ow)
                    .unwrap()
            };
            y.backward_with_grad(&gy).unwrap();
            let grads: Vec<Vec<f32>> = [&x, &wt, &b]
                .iter()
                .map(|t| t.grad().unwrap().to_vec().unwrap())
                .collect();
            (y.to_vec().unwrap(), grads)
        };
        let (yf, gf) = run(true);
        let (yu, gu) = run(false);
        let close = |a: &[f32], b: &[f32], what: &str| {
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!(
                    (p - q).abs() <= 1e-5 * scale,
                    "{what} {i}: {p} vs {q} (scale {scale})"
                );
            }
        };
        close(&yf, &yu, "output");
        for (name, (a, b)) in ["dx", "dw", "db"].iter().zip(gf.iter().zip(&gu)) {
            close(a, b, name);
        }
    }
}

fn ops_of(t: &Tensor) -> Vec<&'static str> {
    Tape::of(t).unwrap().entries.iter().map(|e| e.op).collect()
}

#[test]
fn the_tape_shows_one_fused_op_where_the_kernel_applies_and_three_elsewhere() {
    let wt = uniform(&[16, 3, 3, 3], -0.5, 0.5, 2)
        .requires_grad_(true)
        .unwrap();
    let fused = uniform(&[2, 3, 28, 28], 0.0, 1.0, 1)
        .conv2d_relu_adaptive_avg_pool2d(&wt, None, Conv2dParams::new(1, 1), 2, 2)
        .unwrap();
    assert_eq!(ops_of(&fused), ["conv2d_relu_pool"]);
    // an odd map: the separate operations, exactly as if called one by one
    let x = uniform(&[2, 3, 27, 27], 0.0, 1.0, 1);
    let y = x
        .conv2d_relu_adaptive_avg_pool2d(&wt, None, Conv2dParams::new(1, 1), 2, 2)
        .unwrap();
    let mut names = ops_of(&y);
    names.sort();
    assert_eq!(names, ["adaptive_avg_pool2d", "conv2d_relu"]);
    let z = x
        .conv2d_relu(&wt, None, Conv2dParams::new(1, 1))
        .unwrap()
        .adaptive_avg_pool2d(2, 2)
        .unwrap();
    assert_eq!(y.to_vec().unwrap(), z.to_vec().unwrap());
}

/// LazyCNN runs its feature extractor fused, unless a hook needs the activation: the logits
/// agree either way.
#[test]
fn lazy_cnn_fuses_its_feature_extractor_unless_a_hook_watches() {
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let x = uniform(&[3, 3, 28, 28], 0.0, 1.0, 6);
    let fused = model.forward(&x).unwrap();
    assert!(
        ops_of(&fused).contains(&"conv2d_relu_pool"),
        "{:?}",
        ops_of(&fused)
    );
    let relu = shortcut::nn::get_submodule(model.as_ref(), "color_mixer.1").unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen2 = seen.clone();
    let handle = relu.hooks().add(move |_, y| {
        *seen2.lock().unwrap() = Some(y.dims().to_vec());
        Ok(None)
    });
    let hooked = model.forward(&x).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(vec![3, 16, 28, 28]));
    assert!(!ops_of(&hooked).contains(&"conv2d_relu_pool"));
    handle.remove();
    let (a, b) = (fused.to_vec().unwrap(), hooked.to_vec().unwrap());
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() <= 1e-5 * (1.0 + q.abs()), "{p} vs {q}");
    }
}
