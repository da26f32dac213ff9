//! The fast CPU kernels (im2col + packed GEMM) against the naive f64 references, on random
//! shapes that are not multiples of any tile size.
//!
//! Tolerance: a K-term f32 dot product has rounding error at most ~K·u·Σ|terms| (u = 6·10⁻⁸);
//! with K ≤ 600 and |terms| ≤ 1 that is < 4·10⁻⁵·(1 + |ref|), so we allow 1e-4 relative to
//! (1 + |ref|).

mod common;

use common::{max_rel_diff, uniform};
use proptest::prelude::*;
use shortcut::ops::conv2d::{cpu, reference, Conv2dArgs};
use shortcut::ops::matmul::gemm;
use shortcut::ops::Conv2dParams;

const TOL: f32 = 1e-4;

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn fast_conv2d_matches_naive_reference(
        n in 1usize..4, c in 1usize..9, o in 1usize..17, h in 1usize..20, w in 1usize..20,
        k in 1usize..6, sh in 1usize..4, sw in 1usize..4, ph in 0usize..3, pw in 0usize..3,
        seed in 0u64..10_000,
    ) {
        prop_assume!(h + 2 * ph >= k && w + 2 * pw >= k);
        let p = Conv2dParams { stride: (sh, sw), padding: (ph, pw) };
        let x = uniform(&[n, c, h, w], -1.0, 1.0, seed).to_vec().unwrap();
        let wt = uniform(&[o, c, k, k], -1.0, 1.0, seed + 1).to_vec().unwrap();
        let b = uniform(&[o], -1.0, 1.0, seed + 2).to_vec().unwrap();
        let args = Conv2dArgs::new(&[n, c, h, w].into(), &[o, c, k, k].into(), &p).unwrap();
        let y = cpu::conv2d_fwd(&x, &wt, Some(&b), &args);
        let y_ref = reference::conv2d_fwd(&x, &wt, Some(&b), &args);
        prop_assert!(max_rel_diff(&y, &y_ref) < TOL, "forward differs by {}", max_rel_diff(&y, &y_ref));

        let g = uniform(args.out_shape().dims(), -1.0, 1.0, seed + 3).to_vec().unwrap();
        let dx = cpu::conv2d_bwd_input(&g, &wt, &args);
        let dx_ref = reference::conv2d_bwd_input(&g, &wt, &args);
        prop_assert!(max_rel_diff(&dx, &dx_ref) < TOL, "backward-input differs by {}", max_rel_diff(&dx, &dx_ref));
        let dw = cpu::conv2d_bwd_weight(&g, &x, &args);
        let dw_ref = reference::conv2d_bwd_weight(&g, &x, &args);
        // dw sums N·OH·OW terms (up to ~1200): allow the K·u bound for that K
        prop_assert!(max_rel_diff(&dw, &dw_ref) < 3.0 * TOL, "backward-weight differs by {}", max_rel_diff(&dw, &dw_ref));
    }

    #[test]
    fn packed_gemm_matches_naive_reference(
        m in 1usize..70, n in 1usize..70, k in 0usize..70, ta in any::<bool>(), tb in any::<bool>(),
        extra in 0usize..3, seed in 0u64..10_000,
    ) {
        // leading dimensions larger than the minimum exercise the stride handling
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (ac + extra, bc + extra, n + extra);
        let a = uniform(&[ar.max(1) * lda.max(1)], -1.0, 1.0, seed).to_vec().unwrap();
        let b = uniform(&[br.max(1) * ldb.max(1)], -1.0, 1.0, seed + 1).to_vec().unwrap();
        let c0 = uniform(&[m * ldc], -1.0, 1.0, seed + 2).to_vec().unwrap();
        let (alpha, beta) = (0.75, -0.5);
        let mut c = c0.clone();
        let mut c_ref = c0.clone();
        gemm::sgemm(m, n, k, alpha, &a, lda.max(1), ta, &b, ldb.max(1), tb, beta, &mut c, ldc);
        gemm::sgemm_naive(m, n, k, alpha, &a, lda.max(1), ta, &b, ldb.max(1), tb, beta, &mut c_ref, ldc);
        prop_assert!(max_rel_diff(&c, &c_ref) < TOL, "gemm differs by {}", max_rel_diff(&c, &c_ref));
        let mut c_st = c0;
        gemm::sgemm_st(m, n, k, alpha, &a, lda.max(1), ta, &b, ldb.max(1), tb, beta, &mut c_st, ldc);
        // multi-threaded and single-threaded GEMM never split k: bit-identical
        prop_assert_eq!(c, c_st);
    }
}

#[test]
fn conv2d_at_study_layer_shapes_matches_reference() {
    // ShapeCNN's 32→64 layer on a batch of 2 and LazyCNN's 3→16 layer.
    for &(c, o) in &[(32usize, 64usize), (3, 16)] {
        let p = Conv2dParams::new(1, 1);
        let x = uniform(&[2, c, 28, 28], 0.0, 1.0, 5).to_vec().unwrap();
        let w = uniform(&[o, c, 3, 3], -0.1, 0.1, 6).to_vec().unwrap();
        let args = Conv2dArgs::new(&[2, c, 28, 28].into(), &[o, c, 3, 3].into(), &p).unwrap();
        let y = cpu::conv2d_fwd(&x, &w, None, &args);
        let y_ref = reference::conv2d_fwd(&x, &w, None, &args);
        assert!(max_rel_diff(&y, &y_ref) < TOL);
    }
}

#[test]
fn conv2d_backward_weight_is_deterministic() {
    let p = Conv2dParams::new(1, 1);
    let args = Conv2dArgs::new(&[8, 4, 9, 9].into(), &[6, 4, 3, 3].into(), &p).unwrap();
    let x = uniform(&[8, 4, 9, 9], -1.0, 1.0, 1).to_vec().unwrap();
    let g = uniform(&[8, 6, 9, 9], -1.0, 1.0, 2).to_vec().unwrap();
    let a = cpu::conv2d_bwd_weight(&g, &x, &args);
    for _ in 0..3 {
        assert_eq!(a, cpu::conv2d_bwd_weight(&g, &x, &args));
    }
}

/// On small maps the weight gradient puts several images side by side in one GEMM (each of the
/// 16 batch ranges holds 2–3 of these 40 images): still the reference's sum, for 3×3 with
/// padding, a strided 2×2 and a 1×1 (where the patch matrix is the image itself).
#[test]
fn weight_gradient_with_several_images_per_gemm_matches_the_reference() {
    for (c, o, h, w, k, s, pad) in [
        (5, 7, 7, 6, 3, 1, 1),
        (3, 4, 9, 5, 2, 2, 0),
        (6, 5, 4, 3, 1, 1, 0),
    ] {
        let n = 40;
        let p = Conv2dParams::new(s, pad);
        let args = Conv2dArgs::new(&[n, c, h, w].into(), &[o, c, k, k].into(), &p).unwrap();
        let x = uniform(&[n, c, h, w], -1.0, 1.0, 3).to_vec().unwrap();
        let out = args.out_shape();
        let g = uniform(out.dims(), -1.0, 1.0, 4).to_vec().unwrap();
        let dw = cpu::conv2d_bwd_weight(&g, &x, &args);
        let dw_ref = reference::conv2d_bwd_weight(&g, &x, &args);
        // up to 40·42 = 1,680 terms per sum: the K·u bound of the module docs for that K
        let diff = max_rel_diff(&dw, &dw_ref);
        assert!(
            diff < 3.0 * TOL,
            "{c}→{o}, {h}×{w}, k {k}: differs by {diff}"
        );
    }
}

#[test]
fn max_pool_2x2_fast_path_matches_a_direct_computation() {
    use shortcut::ops::PoolParams;
    use shortcut::Tensor;
    // odd sizes drop the last row/column; a tie must go to the first element, a NaN must win
    let mut v: Vec<f32> = common::uniform(&[2, 3, 9, 7], -1.0, 1.0, 4)
        .to_vec()
        .unwrap();
    v[1] = v[0] + 5.0;
    v[7] = v[1]; // ties with v[1] (same window: rows 0–1, columns 0–1): v[1] must win
    v[30] = f32::NAN;
    let x = Tensor::from_vec(v.clone(), [2, 3, 9, 7], shortcut::Device::Cpu)
        .unwrap()
        .requires_grad_(true)
        .unwrap();
    let y = x.max_pool2d(PoolParams::new(2, 2, 0)).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    let (got, grad) = (y.to_vec().unwrap(), x.grad().unwrap().to_vec().unwrap());
    assert_eq!(got.len(), 2 * 3 * 4 * 3);
    let mut want_grad = vec![0.0f32; v.len()];
    for p in 0..6 {
        for oy in 0..4 {
            for ox in 0..3 {
                let idx = [
                    (2 * oy) * 7 + 2 * ox,
                    (2 * oy) * 7 + 2 * ox + 1,
                    (2 * oy + 1) * 7 + 2 * ox,
                    (2 * oy + 1) * 7 + 2 * ox + 1,
                ];
                let mut best = idx[0];
                for &j in &idx[1..] {
                    let (a, b) = (v[p * 63 + j], v[p * 63 + best]);
                    if a > b || (a.is_nan() && !b.is_nan()) {
                        best = j;
                    }
                }
                let (g, w) = (got[(p * 4 + oy) * 3 + ox], v[p * 63 + best]);
                assert!(
                    g == w || (g.is_nan() && w.is_nan()),
                    "plane {p} ({oy},{ox}): {g} vs {w}"
                );
                want_grad[p * 63 + best] += 1.0;
            }
        }
    }
    assert_eq!(
        grad, want_grad,
        "the gradient must go to the first maximum of each window"
    );
}
