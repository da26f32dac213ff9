//! Every differentiable op's backward rule against central finite differences
//! (`shortcut::autograd::gradcheck`, whose docs justify the tolerance). proptest picks shapes,
//! strides and paddings, odd sizes included.

mod common;

use common::{away_from_zero, distinct, uniform};
use proptest::prelude::*;
use shortcut::autograd::gradcheck::{check_gradients, GradCheck};
use shortcut::ops::{Conv2dParams, PoolParams};
use shortcut::{loss, Tensor};

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    }
}

fn check(f: impl Fn(&[Tensor]) -> shortcut::Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = check_gradients(f, inputs, GradCheck::default()) {
        panic!("{e}");
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn conv2d_grad_matches_finite_differences(
        n in 1usize..3, c in 1usize..4, o in 1usize..4,
        h in 3usize..9, w in 3usize..9, k in 1usize..4,
        sh in 1usize..3, sw in 1usize..3, ph in 0usize..3, pw in 0usize..3,
        bias in any::<bool>(), seed in 0u64..1000,
    ) {
        prop_assume!(h + 2 * ph >= k && w + 2 * pw >= k);
        let params = Conv2dParams { stride: (sh, sw), padding: (ph, pw) };
        let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
        let wt = uniform(&[o, c, k, k], -1.0, 1.0, seed + 1);
        let b = uniform(&[o], -1.0, 1.0, seed + 2);
        if bias {
            check(|t| t[0].conv2d(&t[1], Some(&t[2]), params), &[x, wt, b]);
        } else {
            check(|t| t[0].conv2d(&t[1], None, params), &[x, wt]);
        }
    }

    /// The fused conv + ReLU. A finite difference must not step across the ReLU's kink: a step
    /// h = 0.01 of one x, w or b value (all within [−1, 1]) moves a pre-activation by at most
    /// 0.01, so the case is kept only when every pre-activation is at least 0.02 from zero.
    #[test]
    fn conv2d_relu_grad_matches_finite_differences(
        c in 1usize..4, o in 1usize..4, h in 3usize..7, w in 3usize..7,
        k in prop::sample::select(vec![1usize, 3]), seed in 0u64..1000,
    ) {
        let params = Conv2dParams::new(1, k / 2);
        let x = uniform(&[1, c, h, w], -1.0, 1.0, seed);
        let wt = uniform(&[o, c, k, k], -1.0, 1.0, seed + 1);
        let b = uniform(&[o], -1.0, 1.0, seed + 2);
        let z = x.conv2d(&wt, Some(&b), params).unwrap().to_vec().unwrap();
        prop_assume!(z.iter().all(|v| v.abs() > 0.02));
        check(|t| t[0].conv2d_relu(&t[1], Some(&t[2]), params), &[x, wt, b]);
    }

    /// The fused conv + ReLU + adaptive average pool (LazyCNN's feature extractor), on shapes
    /// its kernel takes (even maps, windows split at even rows and columns); the kink as above.
    #[test]
    fn conv2d_relu_pool_grad_matches_finite_differences(
        n in 1usize..3, c in 1usize..5, o in 1usize..4, th in 1usize..4, tw in 1usize..4,
        oh in 1usize..3, ow in 1usize..3, seed in 0u64..1000,
    ) {
        let (h, w) = (2 * th * oh, 2 * tw * ow);
        prop_assert!(shortcut::ops::conv2d::pooled::supports(c, h, w, oh, ow));
        let params = Conv2dParams::new(1, 1);
        let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
        let wt = uniform(&[o, c, 3, 3], -1.0, 1.0, seed + 1);
        let b = uniform(&[o], -1.0, 1.0, seed + 2);
        let z = x.conv2d(&wt, Some(&b), params).unwrap().to_vec().unwrap();
        prop_assume!(z.iter().all(|v| v.abs() > 0.02));
        check(
            |t| t[0].conv2d_relu_adaptive_avg_pool2d(&t[1], Some(&t[2]), params, oh, ow),
            &[x, wt, b],
        );
    }

    #[test]
    fn matmul_grad_matches_finite_differences(
        m in 1usize..7, k in 1usize..7, n in 1usize..7, ta in any::<bool>(), tb in any::<bool>(), seed in 0u64..1000,
    ) {
        let a = uniform(&if ta { [k, m] } else { [m, k] }, -1.0, 1.0, seed);
        let b = uniform(&if tb { [n, k] } else { [k, n] }, -1.0, 1.0, seed + 1);
        check(|t| t[0].matmul_t(&t[1], ta, tb), &[a, b]);
    }

    #[test]
    fn max_pool2d_grad_matches_finite_differences(
        n in 1usize..3, c in 1usize..3, h in 2usize..9, w in 2usize..9,
        k in 1usize..4, s in 1usize..3, p in 0usize..2, seed in 0u64..1000,
    ) {
        prop_assume!(2 * p <= k && h + 2 * p >= k && w + 2 * p >= k);
        let x = distinct(&[n, c, h, w], seed);
        check(|t| t[0].max_pool2d(PoolParams::new(k, s, p)), &[x]);
    }

    #[test]
    fn avg_pool2d_grad_matches_finite_differences(
        n in 1usize..3, c in 1usize..3, h in 2usize..9, w in 2usize..9,
        k in 1usize..4, s in 1usize..3, p in 0usize..2, seed in 0u64..1000,
    ) {
        prop_assume!(2 * p <= k && h + 2 * p >= k && w + 2 * p >= k);
        let x = uniform(&[n, c, h, w], -1.0, 1.0, seed);
        check(|t| t[0].avg_pool2d(PoolParams::new(k, s, p)), &[x]);
    }

    #[test]
    fn adaptive_avg_pool2d_grad_matches_finite_differences(
        h in 1usize..10, w in 1usize..10, oh in 1usize..5, ow in 1usize..5, seed in 0u64..1000,
    ) {
        let x = uniform(&[2, 2, h, w], -1.0, 1.0, seed);
        check(|t| t[0].adaptive_avg_pool2d(oh, ow), &[x]);
    }

    #[test]
    fn relu_grad_matches_finite_differences(n in 1usize..40, seed in 0u64..1000) {
        check(|t| t[0].relu(), &[away_from_zero(&[n], seed)]);
    }

    #[test]
    fn broadcasting_binary_ops_grad_match_finite_differences(
        rows in 1usize..5, cols in 1usize..5, which in 0usize..4, form in 0usize..4, seed in 0u64..1000,
    ) {
        // form: 0 same shape, 1 per-row operand [cols], 2 per-channel [rows, 1], 3 scalar [1]
        let a = uniform(&[rows, cols], 0.5, 1.5, seed);
        let bshape: Vec<usize> = match form { 0 => vec![rows, cols], 1 => vec![cols], 2 => vec![rows, 1], _ => vec![1] };
        let b = uniform(&bshape, 0.5, 1.5, seed + 1);
        check(|t| match which {
            0 => t[0].add(&t[1]),
            1 => t[0].sub(&t[1]),
            2 => t[0].mul(&t[1]),
            _ => t[0].div(&t[1]),
        }, &[a.clone(), b.clone()]);
        // the broadcast operand first as well
        check(|t| match which {
            0 => t[1].add(&t[0]),
            1 => t[1].sub(&t[0]),
            2 => t[1].mul(&t[0]),
            _ => t[1].div(&t[0]),
        }, &[a, b]);
    }

    #[test]
    fn minimum_maximum_grad_match_finite_differences(n in 1usize..30, seed in 0u64..1000) {
        // a and b interleave on a grid 0.05 apart: never within h of each other
        let ab = distinct(&[2, n], seed);
        check(|t| {
            let a = t[0].slice(0, 0, 1)?;
            let b = t[0].slice(0, 1, 1)?;
            a.minimum(&b)?.add(&a.maximum(&b)?.mul_scalar(2.0)?)
        }, &[ab]);
    }

    #[test]
    fn unary_ops_grad_match_finite_differences(n in 1usize..20, seed in 0u64..1000) {
        let pos = uniform(&[n], 0.5, 2.0, seed);
        let any = away_from_zero(&[n], seed + 1);
        check(|t| t[0].exp(), std::slice::from_ref(&any));
        check(|t| t[0].log(), std::slice::from_ref(&pos));
        check(|t| t[0].sqrt(), std::slice::from_ref(&pos));
        check(|t| t[0].abs(), std::slice::from_ref(&any));
        check(|t| t[0].neg()?.add_scalar(3.0)?.mul_scalar(-2.5), std::slice::from_ref(&any));
        check(|t| t[0].pow_scalar(3.0), std::slice::from_ref(&any));
        check(|t| t[0].pow_scalar(1.7), std::slice::from_ref(&pos));
        check(|t| t[0].sqr(), std::slice::from_ref(&any));
        // clamp bounds ±0.05 lie between grid values of `away_from_zero`, which keep |x| ≥ 0.1
        check(|t| t[0].clamp(-0.05, 0.05), std::slice::from_ref(&any));
        check(|t| t[0].clamp(-0.5, 0.5), &[distinct(&[n], seed + 2).mul_scalar(0.99).unwrap().add_scalar(0.0125).unwrap()]);
        check(|t| t[0].sign()?.add(&t[0]), &[any]);
    }

    #[test]
    fn reductions_grad_match_finite_differences(
        a in 1usize..4, b in 1usize..5, c in 1usize..4, axis in 0isize..3, keep in any::<bool>(), seed in 0u64..1000,
    ) {
        let x = uniform(&[a, b, c], -1.0, 1.0, seed);
        check(|t| t[0].sum(axis, keep), std::slice::from_ref(&x));
        check(|t| t[0].mean(axis, keep), std::slice::from_ref(&x));
        check(|t| t[0].sum_all(), std::slice::from_ref(&x));
        check(|t| t[0].mean_all(), &[x]);
        let d = distinct(&[a, b, c], seed);
        check(|t| t[0].max(axis, keep), std::slice::from_ref(&d));
        check(|t| t[0].max_all(), &[d]);
    }

    #[test]
    fn softmax_and_log_softmax_grad_match_finite_differences(r in 1usize..5, c in 1usize..8, seed in 0u64..1000) {
        let x = uniform(&[r, c], -2.0, 2.0, seed);
        check(|t| t[0].softmax(), std::slice::from_ref(&x));
        check(|t| t[0].log_softmax(), &[x]);
    }

    #[test]
    fn cross_entropy_grad_matches_finite_differences(n in 1usize..6, c in 2usize..8, seed in 0u64..1000) {
        let x = uniform(&[n, c], -2.0, 2.0, seed);
        let targets: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % c).collect();
        check(|t| t[0].cross_entropy(&targets), &[x]);
    }

    #[test]
    fn layout_ops_grad_match_finite_differences(
        a in 1usize..4, b in 1usize..4, c in 1usize..4, seed in 0u64..1000, start in 0usize..3,
    ) {
        let x = uniform(&[a, b, c], -1.0, 1.0, seed);
        let y = uniform(&[a, 2, c], -1.0, 1.0, seed + 1);
        check(|t| t[0].reshape([c, a * b]), std::slice::from_ref(&x));
        check(|t| t[0].flatten(1), std::slice::from_ref(&x));
        check(|t| t[0].permute(&[2, 0, 1]), std::slice::from_ref(&x));
        check(|t| t[0].permute(&[1, 2, 0]), std::slice::from_ref(&x));
        let s = start.min(b - 1);
        check(|t| t[0].slice(1, s, b - s), std::slice::from_ref(&x));
        check(|t| Tensor::cat(&[t[0].clone(), t[1].clone()], 1), &[x.clone(), y]);
        // a repeated index receives the sum of both gradients
        let idx: Vec<usize> = (0..a + 1).map(|i| (i * 5 + 1) % a).collect();
        check(|t| t[0].index_select(&idx), std::slice::from_ref(&x));
        check(|t| t[0].broadcast_to(&shortcut::Shape::new([2, a, b, c])), std::slice::from_ref(&x));
        check(|t| t[0].sum_to(&shortcut::Shape::new([b, 1])), &[x]);
    }

    #[test]
    fn losses_grad_match_finite_differences(n in 1usize..5, c in 2usize..6, seed in 0u64..1000) {
        let p = uniform(&[n, c], -2.0, 2.0, seed);
        let q = uniform(&[n, c], -2.0, 2.0, seed + 1);
        let targets: Vec<usize> = (0..n).map(|i| (i + seed as usize) % c).collect();
        check(|t| loss::cross_entropy(&t[0], &targets), std::slice::from_ref(&p));
        check(|t| loss::focal_loss(&t[0], &targets, 2.0), std::slice::from_ref(&p));
        check(|t| loss::generalized_cross_entropy(&t[0], &targets, 0.7), std::slice::from_ref(&p));
        check(|t| loss::generalized_cross_entropy(&t[0], &targets, 1.0), std::slice::from_ref(&p));
        check(|t| loss::kl_div_logits(&t[0], &t[1]), &[p.clone(), q.clone()]);
        check(|t| loss::symmetric_kl_logits(&t[0], &t[1]), &[p.clone(), q.clone()]);
        check(|t| loss::mse(&t[0], &t[1]), &[p.clone(), q.clone()]);
        // |p − q| ≥ 0.1 everywhere so l1 never meets its kink
        let q2 = p.add(&away_from_zero(&[n, c], seed + 2)).unwrap();
        check(|t| loss::l1(&t[0], &t[1]), &[p, q2]);
    }
}

#[test]
fn where_mask_routes_gradients_by_the_mask() {
    let a = uniform(&[6], -1.0, 1.0, 1);
    let b = uniform(&[6], -1.0, 1.0, 2);
    let mask = Tensor::from_vec(
        vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
        [6],
        shortcut::Device::Cpu,
    )
    .unwrap();
    check(|t| t[0].where_mask(&mask, &t[1]), &[a, b]);
}

#[test]
fn upsample_bilinear2d_refuses_backward_with_a_clear_error() {
    let x = uniform(&[1, 1, 3, 3], 0.0, 1.0, 3)
        .requires_grad_(true)
        .unwrap();
    let y = x.upsample_bilinear2d(6, 6).unwrap().sum_all().unwrap();
    let err = y.backward().unwrap_err().to_string();
    assert!(err.contains("upsample_bilinear2d has no backward"), "{err}");
}

#[test]
fn gradient_checker_catches_a_wrong_gradient() {
    // A gradient hook that doubles the gradient makes the analytic result wrong by 2×: the
    // checker must reject it (guards against a checker that passes everything).
    let x = uniform(&[5], -1.0, 1.0, 9);
    let result = check_gradients(
        |t| {
            let y = t[0].mul_scalar(3.0)?;
            y.register_grad_hook(|g| Ok(Some(g.mul_scalar(2.0)?)))?;
            Ok(y)
        },
        &[x],
        GradCheck::default(),
    );
    assert!(result.is_err(), "a doubled gradient passed the check");
}

#[test]
fn spatial_attention_pooling_grad_matches_finite_differences() {
    // Scores → softmax over positions → weighted sum: gradients for the features (through both
    // the pooling and the scores), the score weights and the bias. Scores stay within ±3, far
    // from where f32 softmax loses precision, so the default tolerances hold.
    use shortcut::models::{attention_pool, position_scores, softmax_over_positions};
    for (n, c, h, w, seed) in [(2, 3, 4, 5, 1), (1, 4, 3, 3, 2), (3, 2, 6, 2, 3)] {
        let f = uniform(&[n, c, h, w], -1.0, 1.0, seed);
        let wt = uniform(&[1, c, 1, 1], -1.0, 1.0, seed + 10);
        let b = uniform(&[1], -1.0, 1.0, seed + 20);
        check(
            |t| {
                let a = softmax_over_positions(&position_scores(&t[0], &t[1], &t[2])?)?;
                attention_pool(&t[0], &a)
            },
            &[f, wt, b],
        );
    }
}
