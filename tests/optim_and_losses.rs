//! Optimizer steps against hand-computed PyTorch updates, and losses against closed forms.

use shortcut::optim::{Adam, Optimizer, Sgd};
use shortcut::{loss, Device, Tensor};

fn param(v: f32) -> Tensor {
    Tensor::from_vec(vec![v], [1], Device::Cpu)
        .unwrap()
        .requires_grad_(true)
        .unwrap()
}

fn set_grad(p: &Tensor, g: f32) {
    p.zero_grad();
    // L = g·p has ∂L/∂p = g
    p.mul_scalar(g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
}

fn close(a: f32, b: f64) {
    assert!((a as f64 - b).abs() < 1e-6, "{a} vs {b}");
}

#[test]
fn adam_matches_hand_computed_steps() {
    // p = 1, lr = 0.1, β = (0.9, 0.999), eps = 1e-8; gradients 0.5 then −1.
    // step 1: m = 0.05, v = 2.5e-4, p −= (0.1/0.1)·0.05/(√2.5e-4/√1e-3 + 1e-8) → 0.9
    // step 2: m = −0.055, v = 1.24975e-3, p −= (0.1/0.19)·(−0.055)/(√v/√1.999e-3 + 1e-8) → 0.93661035
    let p = param(1.0);
    let mut opt = Adam::new(vec![p.clone()], 0.1).unwrap();
    set_grad(&p, 0.5);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 0.900000002);
    set_grad(&p, -1.0);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 0.9366103542);
}

#[test]
fn adam_weight_decay_adds_to_the_gradient() {
    // g' = 0.5 + 0.1·1 = 0.6; the first Adam step moves by lr regardless of |g'|: p = 0.9
    let p = param(1.0);
    let mut opt = Adam::with_options(vec![p.clone()], 0.1, (0.9, 0.999), 1e-8, 0.1).unwrap();
    set_grad(&p, 0.5);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 0.9000000017);
}

#[test]
fn sgd_with_momentum_matches_hand_computed_steps() {
    // buf₁ = g₁ = 0.5 → p = 1 − 0.1·0.5 = 0.95; buf₂ = 0.9·0.5 − 1 = −0.55 → p = 0.95 + 0.055
    let p = param(1.0);
    let mut opt = Sgd::with_options(vec![p.clone()], 0.1, 0.9, 0.0, 0.0, false).unwrap();
    set_grad(&p, 0.5);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 0.95);
    set_grad(&p, -1.0);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 1.005);
}

#[test]
fn sgd_nesterov_and_weight_decay() {
    // Nesterov: buf = 0.5, d = 0.5 + 0.9·0.5 = 0.95 → p = 1 − 0.095 = 0.905
    let p = param(1.0);
    let mut opt = Sgd::with_options(vec![p.clone()], 0.1, 0.9, 0.0, 0.0, true).unwrap();
    set_grad(&p, 0.5);
    opt.step().unwrap();
    close(p.to_scalar().unwrap(), 0.905);
    // plain SGD, weight decay 0.1: d = 0.5 + 0.1 = 0.6 → p = 0.94
    let q = param(1.0);
    let mut opt = Sgd::with_options(vec![q.clone()], 0.1, 0.0, 0.0, 0.1, false).unwrap();
    set_grad(&q, 0.5);
    opt.step().unwrap();
    close(q.to_scalar().unwrap(), 0.94);
}

#[test]
fn optimizers_skip_parameters_without_gradients_and_reject_bad_settings() {
    let p = param(1.0);
    let mut opt = Adam::new(vec![p.clone()], 0.1).unwrap();
    opt.step().unwrap();
    assert_eq!(p.to_scalar().unwrap(), 1.0);
    assert!(Adam::with_options(vec![], -1.0, (0.9, 0.999), 1e-8, 0.0).is_err());
    assert!(Adam::with_options(vec![], 0.1, (1.0, 0.999), 1e-8, 0.0).is_err());
    assert!(Sgd::with_options(vec![], 0.1, 0.0, 0.0, 0.0, true).is_err());
}

fn logits(v: Vec<f32>, n: usize, c: usize) -> Tensor {
    Tensor::from_vec(v, [n, c], Device::Cpu).unwrap()
}

#[test]
fn losses_match_closed_forms() {
    let ln2 = std::f32::consts::LN_2;
    let x = logits(vec![0.0, 0.0, 2.0, 0.0], 2, 2);
    // sample 0: ln 2; sample 1 (target 0, logits [2, 0]): ln(1 + e⁻²)
    let ce1 = (1.0 + (-2.0f32).exp()).ln();
    let ce = loss::cross_entropy(&x, &[0, 0])
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((ce - (ln2 + ce1) / 2.0).abs() < 1e-6);
    // focal γ = 0 is CE; γ = 2 weights by (1 − p_t)²
    let f0 = loss::focal_loss(&x, &[0, 0], 0.0)
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((f0 - ce).abs() < 1e-6);
    let pt1 = 1.0 / (1.0 + (-2.0f32).exp());
    let f2 = loss::focal_loss(&x, &[0, 0], 2.0)
        .unwrap()
        .to_scalar()
        .unwrap();
    let want = (0.25 * ln2 + (1.0 - pt1).powi(2) * ce1) / 2.0;
    assert!((f2 - want).abs() < 1e-6, "{f2} vs {want}");
    // KL(p‖p) = 0; KL between softmax([0,0]) = (½,½) and softmax([ln 3, 0]) = (¾,¼):
    // ½ ln(½/¾) + ½ ln(½/¼) = ½ ln(4/3)
    let p = logits(vec![0.0, 0.0], 1, 2);
    let q = logits(vec![3f32.ln(), 0.0], 1, 2);
    assert!(
        loss::kl_div_logits(&p, &p)
            .unwrap()
            .to_scalar()
            .unwrap()
            .abs()
            < 1e-7
    );
    let kl = loss::kl_div_logits(&p, &q).unwrap().to_scalar().unwrap();
    assert!((kl - 0.5 * (4.0f32 / 3.0).ln()).abs() < 1e-6);
    // KL(q‖p) = ¾ ln(3/2) + ¼ ln(1/2)
    let klqp = 0.75 * 1.5f32.ln() + 0.25 * 0.5f32.ln();
    let sym = loss::symmetric_kl_logits(&p, &q)
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((sym - 0.5 * (kl + klqp)).abs() < 1e-6);
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3], Device::Cpu).unwrap();
    let b = Tensor::from_vec(vec![1.0, 0.0, 6.0], [3], Device::Cpu).unwrap();
    assert!((loss::mse(&a, &b).unwrap().to_scalar().unwrap() - 13.0 / 3.0).abs() < 1e-6);
    assert!((loss::l1(&a, &b).unwrap().to_scalar().unwrap() - 5.0 / 3.0).abs() < 1e-6);
    assert!(loss::mse(&a, &x).is_err());
}

#[test]
fn generalized_cross_entropy_matches_its_closed_form_and_its_limits() {
    // sample 0: logits [0, 0], target 0 → p_t = ½; sample 1: logits [2, 0], target 0 →
    // p_t = 1 / (1 + e⁻²). GCE = mean of (1 − p_tᵠ) / q.
    let x = logits(vec![0.0, 0.0, 2.0, 0.0], 2, 2);
    let pt = [0.5f32, 1.0 / (1.0 + (-2.0f32).exp())];
    let gce = |q: f32| {
        loss::generalized_cross_entropy(&x, &[0, 0], q)
            .unwrap()
            .to_scalar()
            .unwrap()
    };
    for q in [0.3f32, 0.7, 1.0] {
        let want = pt.iter().map(|p| (1.0 - p.powf(q)) / q).sum::<f32>() / 2.0;
        assert!(
            (gce(q) - want).abs() < 1e-6,
            "q = {q}: {} vs {want}",
            gce(q)
        );
    }
    // q = 1 is the bounded 1 − p_t; q → 0 tends to cross-entropy (within O(q·CE²)).
    let ce = loss::cross_entropy(&x, &[0, 0])
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((gce(1e-4) - ce).abs() < 1e-3, "{} vs CE {ce}", gce(1e-4));
    for bad in [0.0f32, -0.5, 1.5, f32::NAN] {
        assert!(loss::generalized_cross_entropy(&x, &[0, 0], bad).is_err());
        assert!(loss::lff_gce(&x, &[0, 0], bad).is_err());
    }
}

/// LfF's GCE (`module/loss.py` of alinlab/LfF) detaches its weight: its gradient must be q
/// times the true GCE's, sample by sample, and its value CE·q·p_tᵠ.
#[test]
fn lffs_gce_has_q_times_the_gradient_of_the_true_gce() {
    let grad_of = |f: &dyn Fn(&Tensor) -> Tensor| {
        let x = logits(vec![0.3, -1.2, 0.8, 2.0, 0.1, -0.4], 2, 3)
            .requires_grad_(true)
            .unwrap();
        f(&x).backward().unwrap();
        x.grad().unwrap().to_vec().unwrap()
    };
    let q = 0.7;
    let t = [2usize, 0];
    let g_true = grad_of(&|x| loss::generalized_cross_entropy(x, &t, q).unwrap());
    let g_lff = grad_of(&|x| loss::lff_gce(x, &t, q).unwrap());
    for (a, b) in g_lff.iter().zip(&g_true) {
        assert!((a - q * b).abs() < 1e-6, "{a} vs {q} × {b}");
    }
    let x = logits(vec![0.3, -1.2, 0.8, 2.0, 0.1, -0.4], 2, 3);
    let ce = x.cross_entropy(&t).unwrap().to_vec().unwrap();
    let want: f32 = ce.iter().map(|c| c * q * (-q * c).exp()).sum::<f32>() / 2.0;
    let v = loss::lff_gce(&x, &t, q).unwrap().to_scalar().unwrap();
    assert!((v - want).abs() < 1e-6, "{v} vs {want}");
}
