//! The parity cases shared by `tests/wgpu_parity.rs` and `tests/cuda_parity.rs`: each case runs
//! one computation on CPU copies and on `dev` copies of random inputs whose sizes are not
//! multiples of the block/workgroup (256) or the GEMM tile (64), backpropagates the same random
//! upstream gradient r through `loss = Σ y·r`, and compares the outputs and every input gradient
//! element-wise: |gpu − cpu| ≤ atol + rtol·|cpu|.
//!
//! Tolerances, per op family:
//! * data movement and exact arithmetic (add, mul, comparisons, relu, pooling max, indexing,
//!   permute): results must agree to 1e-6 (they are the same IEEE operations in the same order);
//! * transcendental functions (exp, log, pow, softmax, cross-entropy): WGSL allows exp/log a few
//!   ULP and pow is exp2(p·log2 x); CUDA's `expf`, `logf` and `powf` are within 1–4 ULP (CUDA C
//!   Programming Guide, "Mathematical Functions"; we compile without fast math); so 1e-5
//!   relative;
//! * sums over K terms in another order, or with fused multiply-adds (matmul, conv2d,
//!   reductions): each sum's rounding error is at most ~K·2⁻²⁴·Σ|terms|; with |terms| ≤ 1 and
//!   K ≤ ~600 here that is below 4e-5, so atol = rtol = 1e-4.

// `&[x.clone()]` reads better in the cases below than `std::slice::from_ref(&x)`.
#![allow(clippy::cloned_ref_to_slice_refs)]

use crate::common::{self, uniform};
use shortcut::ops::{Conv2dParams, PoolParams};
use shortcut::{Device, Result, Tensor};

pub fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], atol: f32, rtol: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths differ");
    for (i, (g, c)) in gpu.iter().zip(cpu).enumerate() {
        let ok = (g - c).abs() <= atol + rtol * c.abs() || (g.is_nan() && c.is_nan()) || g == c;
        assert!(
            ok,
            "{what}: element {i}: gpu {g} vs cpu {c} (atol {atol}, rtol {rtol})"
        );
    }
}

/// Run `f` on both devices; compare outputs and (when `grads`) the gradients of every input.
fn parity(
    dev: Device,
    name: &str,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    atol: f32,
    rtol: f32,
    grads: bool,
) {
    let run = |device: Device| -> (Vec<f32>, Vec<Vec<f32>>) {
        let leaves: Vec<Tensor> = inputs
            .iter()
            .map(|t| t.to_device(device).unwrap().requires_grad_(grads).unwrap())
            .collect();
        let y = f(&leaves).unwrap();
        let out = y.to_vec().unwrap();
        let mut gs = Vec::new();
        if grads {
            let r = uniform(y.dims(), -1.0, 1.0, 99).to_device(device).unwrap();
            y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
            for l in &leaves {
                gs.push(l.grad().expect("input gradient").to_vec().unwrap());
            }
        }
        (out, gs)
    };
    let (yc, gc) = run(Device::Cpu);
    let (yg, gg) = run(dev);
    assert_close(&format!("{name} forward"), &yg, &yc, atol, rtol);
    for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
        assert_close(&format!("{name} gradient of input {i}"), a, b, atol, rtol);
    }
}

pub const EXACT: f32 = 1e-6;
pub const TRANSC: f32 = 1e-5;
pub const SUMS: f32 = 1e-4;

pub fn binary_ops_with_broadcasting(dev: Device) {
    use shortcut::ops::BinaryOp::*;
    let shapes: [(&[usize], &[usize]); 6] = [
        (&[2, 1, 4, 5], &[3, 1, 1]),
        (&[2, 3, 4, 5], &[2, 3, 1, 1]),
        (&[3, 1, 5], &[4, 5]),
        (&[7, 301], &[7, 301]),
        (&[1], &[2, 3]),
        (&[6, 1], &[1, 9]),
    ];
    for (sa, sb) in shapes {
        for op in [Add, Sub, Mul, Div, Minimum, Maximum] {
            let a = uniform(sa, -1.0, 1.0, 1);
            let b = uniform(sb, 0.5, 1.5, 2);
            parity(
                dev,
                &format!("{op:?} {sa:?} {sb:?}"),
                &[a, b],
                |x| x[0].binary(&x[1], op),
                EXACT,
                EXACT,
                true,
            );
        }
        for op in [Gt, Ge, Lt, Le, Eq] {
            let a = uniform(sa, -1.0, 1.0, 3);
            let b = a
                .clone()
                .sum_to(&shortcut::Shape::new(sa.to_vec()))
                .unwrap();
            let c = uniform(sb, -1.0, 1.0, 4);
            parity(
                dev,
                &format!("{op:?}"),
                &[b, c],
                |x| x[0].binary(&x[1], op),
                0.0,
                0.0,
                false,
            );
        }
    }
}

pub fn unary_ops(dev: Device) {
    use shortcut::ops::UnaryOp::*;
    let x = uniform(&[517], -2.0, 2.0, 5);
    let pos = uniform(&[517], 0.1, 3.0, 6);
    for op in [
        Neg,
        Abs,
        Sign,
        AddScalar(0.3),
        MulScalar(-1.7),
        Clamp(-0.5, 0.7),
    ] {
        parity(
            dev,
            &format!("{op:?}"),
            &[x.clone()],
            |t| t[0].unary(op),
            EXACT,
            EXACT,
            true,
        );
    }
    for op in [PowScalar(2.0), PowScalar(3.0)] {
        parity(
            dev,
            &format!("{op:?}"),
            &[x.clone()],
            |t| t[0].unary(op),
            TRANSC,
            TRANSC,
            true,
        );
    }
    for op in [
        Exp,
        Log,
        Sqrt,
        PowScalar(0.5),
        PowScalar(-1.5),
        PowScalar(2.7),
    ] {
        parity(
            dev,
            &format!("{op:?}"),
            &[pos.clone()],
            |t| t[0].unary(op),
            TRANSC,
            TRANSC,
            true,
        );
    }
}

pub fn sum_to_and_broadcast_to(dev: Device) {
    let x = uniform(&[4, 3, 70], -1.0, 1.0, 7);
    for dst in [
        vec![3, 70],
        vec![4, 1, 70],
        vec![4, 3, 1],
        vec![1],
        vec![3, 1],
    ] {
        let shape = shortcut::Shape::new(dst.clone());
        parity(
            dev,
            &format!("sum_to {dst:?}"),
            &[x.clone()],
            |t| t[0].sum_to(&shape),
            SUMS,
            SUMS,
            true,
        );
    }
    // The colour attack's graph (Task 5, `interp::attack::colour_attack`) at its batch of 250:
    // gray [N, 1, 28, 28] · c [N, 3, 1, 1] + background, clamped; backward sums the image's
    // gradient down to c's [N, 3, 1, 1] (two inner axes reduced).
    let n = 250;
    let gray = uniform(&[n, 1, 28, 28], 0.0, 1.0, 9);
    let c = uniform(&[n, 3, 1, 1], 0.0, 1.0, 10);
    let background = uniform(&[n, 3, 28, 28], 0.0, 0.3, 11);
    parity(
        dev,
        "colour attack paint, N = 250",
        &[gray, c, background],
        |t| t[0].mul(&t[1])?.add(&t[2])?.clamp(0.0, 1.0),
        SUMS,
        SUMS,
        true,
    );
    let image_grads = uniform(&[n, 3, 28, 28], -1.0, 1.0, 12);
    let per_channel = shortcut::Shape::new(vec![n, 3, 1, 1]);
    parity(
        dev,
        "sum_to [250, 3, 28, 28] → [250, 3, 1, 1]",
        &[image_grads],
        |t| t[0].sum_to(&per_channel),
        SUMS,
        SUMS,
        true,
    );
    // Rank 4, every pattern of reduced axes (rank 3 was right on CUDA when rank 4 was not).
    let x4 = uniform(&[2, 3, 4, 5], -1.0, 1.0, 13);
    for dst in [
        vec![2, 3, 4, 1],
        vec![2, 1, 4, 5],
        vec![1, 3, 1, 1],
        vec![2, 1, 1, 5],
        vec![3, 1, 1],
        vec![1, 1, 1, 1],
    ] {
        let shape = shortcut::Shape::new(dst.clone());
        parity(
            dev,
            &format!("sum_to [2, 3, 4, 5] → {dst:?}"),
            &[x4.clone()],
            |t| t[0].sum_to(&shape),
            SUMS,
            SUMS,
            true,
        );
    }
    let small = uniform(&[3, 1], -1.0, 1.0, 8);
    let big = shortcut::Shape::new(vec![5, 3, 301]);
    parity(
        dev,
        "broadcast_to",
        &[small],
        |t| t[0].broadcast_to(&big),
        SUMS,
        SUMS,
        true,
    );
}

pub fn relu_on_a_grid_of_more_than_65535_blocks(dev: Device) {
    let x = uniform(&[1001], -1.0, 1.0, 9);
    parity(dev, "relu", &[x], |t| t[0].relu(), EXACT, EXACT, true);
    // 65,536 blocks of 256 + a tail: more than WebGPU allows along one grid dimension (its
    // grid folds into 2-D) and more than CUDA allows along y or z (its kernels index by x).
    let n = 65_536 * 256 + 77;
    let big = uniform(&[n], -1.0, 1.0, 10);
    parity(
        dev,
        "relu large grid",
        &[big],
        |t| t[0].relu(),
        EXACT,
        EXACT,
        false,
    );
}

pub fn matmul_with_every_transpose(dev: Device) {
    for &(m, n, k) in &[(67, 45, 131), (1, 1, 1), (130, 70, 3), (5, 200, 17)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if ta { [k, m] } else { [m, k] };
            let b = if tb { [n, k] } else { [k, n] };
            parity(
                dev,
                &format!("matmul {m}×{n}×{k} ta={ta} tb={tb}"),
                &[uniform(&a, -1.0, 1.0, 11), uniform(&b, -1.0, 1.0, 12)],
                |t| t[0].matmul_t(&t[1], ta, tb),
                SUMS,
                SUMS,
                true,
            );
        }
    }
}

pub fn conv2d_forward_and_both_gradients(dev: Device) {
    // (N, C, H, W, O, KH, KW, stride, padding, bias)
    let cases = [
        (2, 3, 13, 11, 5, 3, 3, (1, 1), (1, 1), true),
        (3, 4, 9, 10, 70, 3, 2, (2, 1), (1, 0), true),
        (1, 2, 7, 7, 3, 1, 1, (1, 1), (0, 0), false),
        (2, 16, 28, 28, 32, 3, 3, (1, 1), (1, 1), true),
        (1, 3, 6, 5, 4, 5, 5, (2, 3), (2, 2), false),
    ];
    for (n, c, h, w, o, kh, kw, stride, padding, bias) in cases {
        let p = Conv2dParams { stride, padding };
        let mut inputs = vec![
            uniform(&[n, c, h, w], -1.0, 1.0, 13),
            uniform(&[o, c, kh, kw], -0.5, 0.5, 14),
        ];
        if bias {
            inputs.push(uniform(&[o], -0.5, 0.5, 15));
        }
        parity(
            dev,
            &format!("conv2d {n}×{c}×{h}×{w} → {o}, {kh}×{kw}, {p:?}"),
            &inputs,
            |t| t[0].conv2d(&t[1], t.get(2), p),
            SUMS,
            SUMS,
            true,
        );
        parity(
            dev,
            &format!("conv2d_relu {n}×{c}×{h}×{w} → {o}, {kh}×{kw}, {p:?}"),
            &inputs,
            |t| t[0].conv2d_relu(&t[1], t.get(2), p),
            SUMS,
            SUMS,
            true,
        );
    }
}

pub fn pooling_forward_and_backward(dev: Device) {
    let x = common::distinct(&[2, 3, 13, 11], 16);
    for p in [
        PoolParams::new(2, 2, 0),
        PoolParams::new(3, 2, 1),
        PoolParams {
            kernel: (3, 2),
            stride: (1, 2),
            padding: (1, 1),
        },
    ] {
        parity(
            dev,
            &format!("max_pool2d {p:?}"),
            &[x.clone()],
            |t| t[0].max_pool2d(p),
            EXACT,
            EXACT,
            true,
        );
        parity(
            dev,
            &format!("avg_pool2d {p:?}"),
            &[x.clone()],
            |t| t[0].avg_pool2d(p),
            EXACT,
            EXACT,
            true,
        );
    }
    for (oh, ow) in [(3, 4), (1, 1), (13, 11), (5, 7)] {
        parity(
            dev,
            &format!("adaptive_avg_pool2d {oh}×{ow}"),
            &[x.clone()],
            |t| t[0].adaptive_avg_pool2d(oh, ow),
            EXACT,
            EXACT,
            true,
        );
    }
}

pub fn reductions(dev: Device) {
    let x = common::distinct(&[5, 300, 7], 17);
    for axis in 0..3 {
        parity(
            dev,
            &format!("sum axis {axis}"),
            &[x.clone()],
            |t| t[0].sum(axis, false),
            SUMS,
            SUMS,
            true,
        );
        parity(
            dev,
            &format!("mean axis {axis}"),
            &[x.clone()],
            |t| t[0].mean(axis, true),
            SUMS,
            SUMS,
            true,
        );
        parity(
            dev,
            &format!("max axis {axis}"),
            &[x.clone()],
            |t| t[0].max(axis, false),
            EXACT,
            EXACT,
            true,
        );
        parity(
            dev,
            &format!("argmax axis {axis}"),
            &[x.clone()],
            |t| t[0].argmax(axis),
            0.0,
            0.0,
            false,
        );
    }
    // a long row: the one-workgroup-per-output path
    let long = uniform(&[3, 5000], -1.0, 1.0, 18);
    parity(
        dev,
        "sum long rows",
        &[long.clone()],
        |t| t[0].sum(1, false),
        SUMS,
        SUMS,
        true,
    );
    parity(
        dev,
        "sum_all",
        &[long],
        |t| t[0].sum_all(),
        1e-3,
        SUMS,
        true,
    );
}

pub fn softmax_and_cross_entropy(dev: Device) {
    for shape in [[37, 10], [3, 300]] {
        let x = uniform(&shape, -3.0, 3.0, 19);
        parity(
            dev,
            "softmax",
            &[x.clone()],
            |t| t[0].softmax(),
            TRANSC,
            TRANSC,
            true,
        );
        parity(
            dev,
            "log_softmax",
            &[x],
            |t| t[0].log_softmax(),
            TRANSC,
            TRANSC,
            true,
        );
    }
    let logits = uniform(&[70, 10], -3.0, 3.0, 20);
    let targets: Vec<usize> = (0..70).map(|i| (i * 7) % 10).collect();
    parity(
        dev,
        "cross_entropy",
        &[logits],
        |t| t[0].cross_entropy(&targets),
        TRANSC,
        TRANSC,
        true,
    );
}

pub fn indexing_and_layout(dev: Device) {
    let x = uniform(&[2, 3, 4, 5], -1.0, 1.0, 21);
    parity(
        dev,
        "permute",
        &[x.clone()],
        |t| t[0].permute(&[3, 0, 2, 1]),
        EXACT,
        EXACT,
        true,
    );
    parity(
        dev,
        "slice",
        &[x.clone()],
        |t| t[0].slice(2, 1, 2),
        EXACT,
        EXACT,
        true,
    );
    parity(
        dev,
        "slice last",
        &[x.clone()],
        |t| t[0].slice(-1, 4, 1),
        EXACT,
        EXACT,
        true,
    );
    let rows = uniform(&[9, 7], -1.0, 1.0, 22);
    parity(
        dev,
        "index_select with repeats",
        &[rows],
        |t| t[0].index_select(&[3, 0, 3, 8, 3, 1]),
        EXACT,
        EXACT,
        true,
    );
    let (a, b) = (
        uniform(&[2, 3, 4], -1.0, 1.0, 23),
        uniform(&[2, 5, 4], -1.0, 1.0, 24),
    );
    parity(
        dev,
        "cat",
        &[a, b],
        |t| Tensor::cat(t, 1),
        EXACT,
        EXACT,
        true,
    );
}

pub fn upsample_bilinear(dev: Device) {
    let x = uniform(&[2, 3, 5, 7], -1.0, 1.0, 25);
    parity(
        dev,
        "upsample",
        &[x.clone()],
        |t| t[0].upsample_bilinear2d(11, 13),
        TRANSC,
        TRANSC,
        false,
    );
    parity(
        dev,
        "downsample",
        &[x],
        |t| t[0].upsample_bilinear2d(3, 2),
        TRANSC,
        TRANSC,
        false,
    );
}

pub fn fused_optimizer_steps(dev: Device) {
    use shortcut::ops::optim::{adam_step, sgd_step, AdamArgs, SgdArgs};
    let n = 1000;
    let run = |device: Device| -> Vec<Vec<f32>> {
        let on = |t: Tensor| t.to_device(device).unwrap();
        let p = on(uniform(&[n], -1.0, 1.0, 26));
        let m = on(Tensor::zeros([n], Device::Cpu).unwrap());
        let v = on(Tensor::zeros([n], Device::Cpu).unwrap());
        let q = on(uniform(&[n], -1.0, 1.0, 27));
        let buf = on(Tensor::zeros([n], Device::Cpu).unwrap());
        for step in 1..=3 {
            let g = on(uniform(&[n], -1.0, 1.0, 30 + step));
            let a = AdamArgs {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                bias_correction1: 1.0 - 0.9f32.powi(step as i32),
                bias_correction2_sqrt: (1.0 - 0.999f32.powi(step as i32)).sqrt(),
                _pad: 0.0,
            };
            adam_step(&p, &g, &m, &v, &a).unwrap();
            let s = SgdArgs {
                lr: 0.1,
                momentum: 0.9,
                dampening: 0.1,
                weight_decay: 0.01,
                nesterov: (step % 2) as u32,
                first_step: (step == 1) as u32,
                _pad: [0; 2],
            };
            sgd_step(&q, &g, &buf, &s).unwrap();
        }
        [p, m, v, q, buf]
            .iter()
            .map(|t| t.to_vec().unwrap())
            .collect()
    };
    let (c, g) = (run(Device::Cpu), run(dev));
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        assert_close(&format!("optimizer state {i}"), a, b, TRANSC, TRANSC);
    }
}

pub fn colorization_matches_the_cpu_pixel_for_pixel(dev: Device) {
    use shortcut::data::mnist::{Mnist, MnistSplit, PIXELS};
    use shortcut::data::{BiasedMnist, Paint, Split};
    let n = 300;
    let mut rng = shortcut::Rng::new(5, 5);
    let images: Vec<u8> = (0..n * PIXELS)
        .map(|_| (rng.uniform() * 256.0) as u8)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i * 3 % 10) as u8).collect();
    let split = MnistSplit { images, labels };
    for bias in [0.95, 1.0, 0.0] {
        let data = BiasedMnist::new(
            Mnist {
                train: split.clone(),
                test: split.clone(),
            },
            0x1234_5678_9abc,
            bias,
            true,
        )
        .unwrap();
        let idx: Vec<usize> = (0..n).rev().step_by(3).collect();
        for s in [Split::Train, Split::Hard, Split::Aligned] {
            for paint in [
                Paint::DRAWN,
                Paint {
                    color: Some(0),
                    noise: false,
                },
                Paint {
                    color: Some(7),
                    noise: true,
                },
            ] {
                let (xc, yc) = data.batch(s, 3, &idx, paint, Device::Cpu).unwrap();
                let (xg, yg) = data.batch(s, 3, &idx, paint, dev).unwrap();
                assert_eq!(yc, yg);
                assert_eq!(xg.device(), dev);
                // one rounding of a value ≤ 1: the GPU may fuse the final multiply-add
                assert_close(
                    &format!("colorize {s:?} bias {bias} {paint:?}"),
                    &xg.to_vec().unwrap(),
                    &xc.to_vec().unwrap(),
                    2e-7,
                    0.0,
                );
            }
        }
    }
}

/// Colour jitter, every draw and the four adjustments in their drawn order, against the CPU.
///
/// Tolerance 1e-5 absolute: each adjustment is a few roundings of values ≤ 1 (≤ 4u, u = 2⁻²⁴,
/// where a GPU may fuse a multiply-add or, in WGSL, divide within 2.5 ULP), and a later blend
/// with a factor ≤ 2 amplifies an earlier difference at most 3× (f·a + (1 − f)·b): over four
/// steps 4u·(1 + 3 + 9 + 27) = 160u ≈ 1e-5. The HSV round trip does not amplify further: where
/// its hue is ill-conditioned (max ≈ min) the saturation, which multiplies it, is ≈ 0.
pub fn color_jitter_matches_the_cpu(dev: Device) {
    use shortcut::ops::color_jitter::ColorJitter;
    for (shape, fraction) in [
        ([37usize, 3, 28, 28], 0.5f32),
        ([5, 3, 17, 19], 1.0),
        ([3, 3, 9, 7], 0.0),
    ] {
        let x = uniform(&shape, 0.0, 1.0, 41);
        let jitter = ColorJitter {
            extreme_fraction: fraction,
            ..ColorJitter::default()
        };
        let key = ColorJitter::key(7, 2);
        let idx: Vec<usize> = (0..shape[0]).map(|i| 1000 + 17 * i).collect();
        let c = x
            .color_jitter(&jitter, key, &idx)
            .unwrap()
            .to_vec()
            .unwrap();
        let g = x
            .to_device(dev)
            .unwrap()
            .color_jitter(&jitter, key, &idx)
            .unwrap();
        assert_eq!(g.device(), dev);
        assert_close(
            &format!("color_jitter {shape:?} extreme fraction {fraction}"),
            &g.to_vec().unwrap(),
            &c,
            1e-5,
            0.0,
        );
    }
}

/// The attention CNN's pooling (a 1×1 conv to scores, softmax over the H·W positions, the
/// weighted sum of each channel): composed of conv2d, softmax, reshape, mul and sum, so it
/// inherits their tolerances — sums (1e-4) dominate.
pub fn spatial_attention_pooling(dev: Device) {
    use shortcut::models::{attention_pool, position_scores, softmax_over_positions};
    let f = uniform(&[3, 5, 7, 9], -1.0, 1.0, 40);
    let w = uniform(&[1, 5, 1, 1], -1.0, 1.0, 41);
    let b = uniform(&[1], -1.0, 1.0, 42);
    parity(
        dev,
        "spatial attention pooling",
        &[f, w, b],
        |t| {
            attention_pool(
                &t[0],
                &softmax_over_positions(&position_scores(&t[0], &t[1], &t[2])?)?,
            )
        },
        SUMS,
        SUMS,
        true,
    );
}
