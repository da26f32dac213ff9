//! The fused convolution + ReLU (`Tensor::conv2d_relu`, used by `Sequential` for a `Conv2d`
//! followed by a `ReLU`) against the two operations it replaces, and the fused convolution +
//! ReLU + 2×2 max pool (`Tensor::conv2d_relu_max_pool2d`, for a `Conv2d`, a `ReLU` and a
//! `MaxPool2d(2)`) against the three.
//!
//! Tolerance: none. The fused forward applies `max(·, 0)` to the very values the unfused
//! convolution writes (same kernels, same summation order), and its backward calls the same
//! primitives (the ReLU mask, then the convolution's gradients) on the same tensors, so outputs
//! and gradients must be equal bit for bit — with every convolution algorithm. The same holds
//! with the max pool: the fused pass compares the same clamped values in the same order, and
//! its backward masks the pooled gradient with the pooled output (the ReLU's output at each
//! window's argmax) before routing it, which leaves exactly the values the separate ReLU mask
//! leaves.

mod common;

use common::uniform;
use shortcut::autograd::Tape;
use shortcut::models::ShapeCNN;
use shortcut::nn::Module;
use shortcut::ops::conv2d::cpu::{set_algorithm, Algorithm};
use shortcut::ops::conv2d::winograd::Tile;
use shortcut::ops::{Conv2dParams, PoolParams};
use shortcut::{Device, Rng, Tensor};
use std::sync::Mutex;

/// The convolution algorithm is a process-wide setting: tests that depend on it take turns.
static ALGORITHM: Mutex<()> = Mutex::new(());

/// Every CPU convolution path, forced in turn.
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Im2col,
    Algorithm::Winograd(Tile::F2),
    Algorithm::Winograd(Tile::F4),
    Algorithm::Auto,
];

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

/// Output and the gradients of x, w, b of `f(x, w, b)` for the upstream gradient `g`.
fn grads_of(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &Tensor,
    f: impl Fn(&Tensor, &Tensor, Option<&Tensor>) -> Tensor,
) -> Vec<Vec<u32>> {
    let (x, w) = (
        x.detach().requires_grad_(true).unwrap(),
        w.detach().requires_grad_(true).unwrap(),
    );
    let b = b.map(|b| b.detach().requires_grad_(true).unwrap());
    let y = f(&x, &w, b.as_ref());
    y.backward_with_grad(g).unwrap();
    let mut out = vec![bits(&y), bits(&x.grad().unwrap()), bits(&w.grad().unwrap())];
    out.extend(b.map(|b| bits(&b.grad().unwrap())));
    out
}

/// The output and gradients of the fused and the separate operations, bit for bit.
fn assert_same_bits(fused: &[Vec<u32>], plain: &[Vec<u32>], case: &str) {
    for (what, (a, b)) in ["y", "dx", "dw", "db"].iter().zip(fused.iter().zip(plain)) {
        assert!(a == b, "{case}: {what} differs between fused and unfused");
    }
}

/// [`grads_of`] conv + ReLU, fused or not.
fn run(
    fused: bool,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    p: Conv2dParams,
    g: &Tensor,
) -> Vec<Vec<u32>> {
    grads_of(x, w, b, g, |x, w, b| {
        if fused {
            x.conv2d_relu(w, b, p).unwrap()
        } else {
            x.conv2d(w, b, p).unwrap().relu().unwrap()
        }
    })
}

#[test]
fn conv2d_relu_equals_conv2d_then_relu_bit_for_bit_with_every_algorithm() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    // (N, C, H, W, O, K, stride, padding, bias): LazyCNN's and ShapeCNN's layers at batch 2,
    // odd sizes, batch 1, a 1×1 without bias and a strided 5×5 (which only im2col computes).
    let cases = [
        (2, 3, 28, 28, 16, 3, 1, 1, true),
        (2, 64, 14, 14, 64, 3, 1, 1, true),
        (2, 128, 7, 7, 128, 3, 1, 1, true),
        (1, 5, 9, 5, 3, 3, 1, 1, true),
        (1, 4, 6, 6, 7, 1, 1, 0, false),
        (2, 3, 11, 9, 4, 5, 2, 2, true),
    ];
    for alg in ALGORITHMS {
        set_algorithm(alg);
        for (i, &(n, c, h, w, o, k, s, pad, bias)) in cases.iter().enumerate() {
            let seed = 10 * i as u64;
            let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
            let wt = uniform(&[o, c, k, k], -0.5, 0.5, seed + 1);
            let b = uniform(&[o], -0.5, 0.5, seed + 2);
            let p = Conv2dParams::new(s, pad);
            let out = x.conv2d(&wt, None, p).unwrap();
            let g = uniform(out.dims(), -1.0, 1.0, seed + 3);
            let b = bias.then_some(&b);
            let (fused, plain) = (run(true, &x, &wt, b, p, &g), run(false, &x, &wt, b, p, &g));
            // About half of the outputs are clamped: the case tests the mask, not a no-op.
            let zeros = fused[0].iter().filter(|&&v| v == 0).count();
            assert!(
                zeros > fused[0].len() / 5,
                "{alg:?} case {i}: only {zeros} zeros"
            );
            assert_same_bits(&fused, &plain, &format!("{alg:?} case {i}"));
        }
    }
    set_algorithm(Algorithm::Auto);
}

#[test]
fn a_nan_is_clamped_like_the_relu_kernel_clamps_it() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    let mut xs = uniform(&[1, 2, 6, 6], -1.0, 1.0, 3).to_vec().unwrap();
    xs[7] = f32::NAN;
    let x = Tensor::from_vec(xs, [1, 2, 6, 6], Device::Cpu).unwrap();
    let w = uniform(&[3, 2, 3, 3], -0.5, 0.5, 4);
    for alg in [Algorithm::Im2col, Algorithm::Winograd(Tile::F4)] {
        set_algorithm(alg);
        let p = Conv2dParams::new(1, 1);
        let fused = bits(&x.conv2d_relu(&w, None, p).unwrap());
        let plain = bits(&x.conv2d(&w, None, p).unwrap().relu().unwrap());
        assert_eq!(fused, plain, "{alg:?}");
    }
    set_algorithm(Algorithm::Auto);
}

fn ops_of(t: &Tensor) -> Vec<&'static str> {
    Tape::of(t).unwrap().entries.iter().map(|e| e.op).collect()
}

#[test]
fn sequential_fuses_each_conv_relu_pair_unless_a_hook_needs_the_tensor_between() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    let model = ShapeCNN::new(&mut Rng::new(0, 0), Device::Cpu).unwrap();
    let x = uniform(&[2, 3, 28, 28], 0.0, 1.0, 5);
    let fused = model.forward(&x).unwrap();
    let ops = ops_of(&fused);
    // conv1, conv3 and conv5 with their ReLUs; conv2 and conv4 with their ReLUs and max pools
    let count = |ops: &[&str], name: &str| ops.iter().filter(|&&o| o == name).count();
    assert_eq!(count(&ops, "conv2d_relu"), 3, "{ops:?}");
    assert_eq!(count(&ops, "conv2d_relu_maxpool"), 2, "{ops:?}");
    assert!(
        !ops.contains(&"relu") && !ops.contains(&"conv2d") && !ops.contains(&"max_pool2d"),
        "{ops:?}"
    );

    // A hook on the first ReLU sees its input (the pre-activation, negatives included): that
    // pair runs as two operations, the other four stay fused, and the logits do not change.
    let seen_negative = std::sync::Arc::new(Mutex::new(false));
    let flag = seen_negative.clone();
    let handle = model
        .features
        .layer(1)
        .unwrap()
        .hooks()
        .add(move |input, _| {
            *flag.lock().unwrap() = input.to_vec()?.iter().any(|&v| v < 0.0);
            Ok(None)
        });
    let hooked = model.forward(&x).unwrap();
    let ops = ops_of(&hooked);
    assert_eq!(count(&ops, "conv2d_relu"), 2, "{ops:?}");
    assert_eq!(count(&ops, "conv2d_relu_maxpool"), 2, "{ops:?}");
    assert_eq!(ops[..2], ["conv2d", "relu"], "{ops:?}");
    assert!(*seen_negative.lock().unwrap());
    assert_eq!(bits(&hooked), bits(&fused));
    handle.remove();
    assert_eq!(ops_of(&model.forward(&x).unwrap()), ops_of(&fused));
}

/// [`grads_of`] conv + ReLU + 2×2 max pool, fused (one op) or not.
fn run_pooled(
    fused: bool,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &Tensor,
) -> Vec<Vec<u32>> {
    let p = Conv2dParams::new(1, 1);
    grads_of(x, w, b, g, |x, w, b| {
        if fused {
            x.conv2d_relu_max_pool2d(w, b, p).unwrap()
        } else {
            let a = x.conv2d_relu(w, b, p).unwrap();
            a.max_pool2d(PoolParams::new(2, 2, 0)).unwrap()
        }
    })
}

#[test]
fn conv2d_relu_max_pool_equals_the_three_operations_bit_for_bit_with_every_algorithm() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    // (N, C, H, W, O, bias): ShapeCNN's conv2 and conv4 at batch 2 (F(4×4) overhangs 14×14),
    // batch 1 with channel counts off the 16 lanes, a map with odd sides (the separate
    // operations: the fused pass needs even sides) and a 2×2 map.
    let cases = [
        (2, 32, 28, 28, 64, true),
        (2, 64, 14, 14, 128, true),
        (1, 33, 10, 6, 17, false),
        (1, 32, 9, 7, 40, true),
        (3, 40, 2, 2, 36, true),
    ];
    for alg in ALGORITHMS {
        set_algorithm(alg);
        for (i, &(n, c, h, w, o, bias)) in cases.iter().enumerate() {
            let seed = 50 + 10 * i as u64;
            let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
            let wt = uniform(&[o, c, 3, 3], -0.2, 0.2, seed + 1);
            let b = uniform(&[o], -0.5, 0.5, seed + 2);
            let g = uniform(&[n, o, h / 2, w / 2], -1.0, 1.0, seed + 3);
            let b = bias.then_some(&b);
            let (fused, plain) = (
                run_pooled(true, &x, &wt, b, &g),
                run_pooled(false, &x, &wt, b, &g),
            );
            // Some windows are all clamped (their gradient is masked): not a no-op.
            let zeros = fused[0].iter().filter(|&&v| v == 0).count();
            assert!(zeros > 0, "{alg:?} case {i}: no clamped window");
            assert_same_bits(&fused, &plain, &format!("{alg:?} case {i}"));
        }
    }
    set_algorithm(Algorithm::Auto);
}

#[test]
fn the_fused_max_pool_keeps_nans_and_ties_like_the_separate_one() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    set_algorithm(Algorithm::Winograd(Tile::F2));
    // A NaN input makes NaN pre-activations, which the ReLU clamps to 0; a constant input and
    // zero weights make every window a four-way tie (the first cell wins).
    let mut xs = uniform(&[1, 32, 4, 4], -1.0, 1.0, 9).to_vec().unwrap();
    xs[5] = f32::NAN;
    let x = Tensor::from_vec(xs, [1, 32, 4, 4], Device::Cpu).unwrap();
    let w = uniform(&[32, 32, 3, 3], -0.5, 0.5, 4);
    let zero_w = Tensor::zeros([32, 32, 3, 3], Device::Cpu).unwrap();
    let b = uniform(&[32], 0.1, 0.5, 5);
    let g = uniform(&[1, 32, 2, 2], -1.0, 1.0, 6);
    for wt in [&w, &zero_w] {
        let (fused, plain) = (
            run_pooled(true, &x, wt, Some(&b), &g),
            run_pooled(false, &x, wt, Some(&b), &g),
        );
        assert_eq!(fused, plain);
    }
    set_algorithm(Algorithm::Auto);
}

/// `SHORTCUT_CONV=im2col` (here `set_algorithm(Im2col)`) forces the plain path everywhere,
/// LazyCNN's fused conv + ReLU + average pool included (it computes through Winograd).
#[test]
fn forcing_im2col_turns_the_fused_winograd_paths_off() {
    let _turn = ALGORITHM.lock().unwrap_or_else(|e| e.into_inner());
    let x = uniform(&[2, 3, 28, 28], 0.0, 1.0, 1);
    let w = uniform(&[16, 3, 3, 3], -0.5, 0.5, 2)
        .requires_grad_(true)
        .unwrap();
    let p = Conv2dParams::new(1, 1);
    let pooled = |alg| {
        set_algorithm(alg);
        let y = x
            .conv2d_relu_adaptive_avg_pool2d(&w, None, p, 2, 2)
            .unwrap();
        set_algorithm(Algorithm::Auto);
        let mut ops = ops_of(&y);
        ops.sort();
        ops
    };
    assert_eq!(pooled(Algorithm::Auto), ["conv2d_relu_pool"]);
    assert_eq!(
        pooled(Algorithm::Im2col),
        ["adaptive_avg_pool2d", "conv2d_relu"]
    );
}
