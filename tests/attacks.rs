//! The attacks: FGSM against its closed form on a linear model, PGD inside the ε-ball and
//! [0, 1] for any settings (proptest), targeted attacks raising the target, parameters left
//! without gradients, the minimal ε consistent with PGD, and the colour-only attack changing
//! nothing but the stroke's colour.

mod common;

use proptest::prelude::*;
use shortcut::interp::attack::{
    colour_attack, fgsm, minimal_eps, pgd, probabilities, ColourAttack, Goal, Pgd,
};
use shortcut::models::ModelKind;
use shortcut::nn::{Flatten, Linear, Sequential};
use shortcut::{Device, Rng, Tensor};

fn linear_model(seed: u64) -> Sequential {
    let mut rng = Rng::new(seed, 0);
    Sequential::new()
        .push(Flatten::new())
        .push(Linear::new(3 * 784, 10, true, &mut rng, Device::Cpu).unwrap())
}

fn images(n: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed, 5);
    Tensor::rand_uniform([n, 3, 28, 28], 0.0, 1.0, &mut rng, Device::Cpu).unwrap()
}

#[test]
fn fgsm_on_a_linear_model_is_the_analytic_signed_gradient() {
    // logits z = W x + b; ∂CE(z, t)/∂x = Wᵀ (softmax(z) − e_t). FGSM targeted: x − ε·sign(that).
    let model = linear_model(1);
    let x = images(3, 2);
    let targets = [3, 0, 9];
    let eps = 0.05;
    let adv = fgsm(&model, &x, &targets, Goal::Targeted, eps)
        .unwrap()
        .to_vec()
        .unwrap();
    let lin = model.layer(1).unwrap();
    let w = lin.named_parameters()[0].1.to_vec().unwrap(); // [10, 2352]
    let p = probabilities(&model, &x).unwrap();
    let xv = x.to_vec().unwrap();
    for (b, &t) in targets.iter().enumerate() {
        for i in 0..3 * 784 {
            let g: f64 = (0..10)
                .map(|k| (p[b][k] as f64 - if k == t { 1.0 } else { 0.0 }) * w[k * 2352 + i] as f64)
                .sum();
            let want = (xv[b * 2352 + i] - eps * g.signum() as f32).clamp(0.0, 1.0);
            assert!(
                (adv[b * 2352 + i] - want).abs() < 1e-6,
                "image {b} pixel {i}: {} vs {want}",
                adv[b * 2352 + i]
            );
        }
    }
    // Untargeted goes the other way.
    let up = fgsm(&model, &x, &targets, Goal::Untargeted, eps)
        .unwrap()
        .to_vec()
        .unwrap();
    let moved = up
        .iter()
        .zip(&adv)
        .zip(&xv)
        .filter(|((u, a), o)| (*u - *o) * (*a - *o) < 0.0)
        .count();
    assert!(
        moved > 2 * 2352,
        "untargeted FGSM should move the other way ({moved} pixels)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn pgd_never_leaves_the_eps_ball_or_the_unit_cube(
        eps in 0.0f32..0.5, steps in 1usize..6, random_start in any::<bool>(),
        restarts in 1usize..3, targeted in any::<bool>(), seed in 0u64..100,
    ) {
        let model = ModelKind::Lazy.build(seed, Device::Cpu).unwrap();
        // Pixels at 0 and 1 exercise the clamp, others the projection.
        let mut v = images(2, seed).to_vec().unwrap();
        for (i, p) in v.iter_mut().enumerate() {
            if i % 7 == 0 { *p = 0.0 } else if i % 11 == 0 { *p = 1.0 }
        }
        let x = Tensor::from_vec(v.clone(), [2, 3, 28, 28], Device::Cpu).unwrap();
        let cfg = Pgd { eps, alpha: eps / 3.0, steps, random_start, restarts, seed };
        let goal = if targeted { Goal::Targeted } else { Goal::Untargeted };
        let adv = pgd(model.as_ref(), &x, &[3, 8], goal, cfg).unwrap().to_vec().unwrap();
        for (a, o) in adv.iter().zip(&v) {
            // x ± ε is rounded to f32 once: at most half an ulp of 1 (6e-8) beyond ε.
            prop_assert!((a - o).abs() <= eps + 1e-7, "|{a} − {o}| > ε = {eps}");
            prop_assert!((0.0..=1.0).contains(a));
        }
        prop_assert!(model.parameters().iter().all(|p| p.grad().is_none() && p.requires_grad()));
    }
}

#[test]
fn a_targeted_attack_raises_the_target_and_leaves_no_parameter_gradient() {
    for kind in [ModelKind::Lazy, ModelKind::Shape] {
        let model = kind.build(4, Device::Cpu).unwrap();
        let x = images(4, 9);
        let t = [2, 2, 5, 7];
        let before = probabilities(model.as_ref(), &x).unwrap();
        let adv = pgd(model.as_ref(), &x, &t, Goal::Targeted, Pgd::spec(0.05)).unwrap();
        let after = probabilities(model.as_ref(), &adv).unwrap();
        for b in 0..4 {
            assert!(
                after[b][t[b]] > before[b][t[b]],
                "{kind:?} image {b}: {} → {}",
                before[b][t[b]],
                after[b][t[b]]
            );
        }
        for p in model.parameters() {
            assert!(p.grad().is_none(), "a parameter received a gradient");
            assert!(p.requires_grad(), "the parameters were left frozen");
        }
    }
}

#[test]
fn the_minimal_eps_is_where_pgd_starts_to_win() {
    let model = ModelKind::Lazy.build(2, Device::Cpu).unwrap();
    let x = images(6, 3);
    let p = probabilities(model.as_ref(), &x).unwrap();
    let labels: Vec<usize> = p
        .iter()
        .map(|v| shortcut::measure::stats::argmax(v))
        .collect();
    let m = minimal_eps(model.as_ref(), &x, &labels, 10, 6, 0.3).unwrap();
    for (b, e) in m.iter().enumerate() {
        let Some(e) = e else { continue };
        assert!(*e > 0.0 && *e <= 0.3, "image {b}: {e}");
        // PGD at the returned ε (per image) misclassifies it.
        let xi = x.slice(0, b, 1).unwrap();
        let cfg = Pgd {
            eps: *e,
            alpha: 2.5 * e / 10.0,
            steps: 10,
            random_start: false,
            restarts: 1,
            seed: 0,
        };
        let adv = pgd(
            model.as_ref(),
            &xi,
            &labels[b..b + 1],
            Goal::Untargeted,
            cfg,
        )
        .unwrap();
        let q = probabilities(model.as_ref(), &adv).unwrap();
        assert_ne!(
            shortcut::measure::stats::argmax(&q[0]),
            labels[b],
            "image {b} at ε {e}"
        );
    }
}

#[test]
fn the_colour_attack_changes_only_the_strokes_colour() {
    let model = ModelKind::Lazy.build(1, Device::Cpu).unwrap();
    let n = 3;
    let mut rng = Rng::new(8, 0);
    let gray: Vec<f32> = (0..n * 784)
        .map(|i| {
            if (i % 784) % 5 == 0 {
                rng.uniform()
            } else {
                0.0
            }
        })
        .collect();
    let bg: Vec<f32> = (0..n * 3 * 784)
        .map(|_| rng.uniform_range(-0.1, 0.1))
        .collect();
    let g = Tensor::from_vec(gray.clone(), [n, 1, 28, 28], Device::Cpu).unwrap();
    let b = Tensor::from_vec(bg.clone(), [n, 3, 28, 28], Device::Cpu).unwrap();
    let start = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 1.0]];
    let r = colour_attack(
        model.as_ref(),
        &g,
        &b,
        &start,
        &[3, 3, 3],
        Goal::Targeted,
        ColourAttack::default(),
    )
    .unwrap();
    let img = r.images.to_vec().unwrap();
    for k in 0..n {
        let c = r.colours[k];
        assert!(c.iter().all(|v| (0.0..=1.0).contains(v)));
        for ch in 0..3 {
            for p in 0..784 {
                let want = (gray[k * 784 + p] * c[ch] + bg[(k * 3 + ch) * 784 + p]).clamp(0.0, 1.0);
                assert!((img[(k * 3 + ch) * 784 + p] - want).abs() < 1e-6);
            }
        }
    }
    // Not worse than the start for the attacker.
    let paint = |cs: &[[f32; 3]]| {
        let c = Tensor::from_vec(cs.concat(), [n, 3, 1, 1], Device::Cpu).unwrap();
        g.mul(&c).unwrap().add(&b).unwrap().clamp(0.0, 1.0).unwrap()
    };
    let p0 = probabilities(model.as_ref(), &paint(&start)).unwrap();
    let p1 = probabilities(model.as_ref(), &r.images).unwrap();
    for k in 0..n {
        assert!(
            p1[k][3] >= p0[k][3] - 1e-6,
            "image {k}: {} → {}",
            p0[k][3],
            p1[k][3]
        );
    }
}

#[test]
fn bad_attack_settings_are_errors_not_panics() {
    let model = linear_model(0);
    let x = images(2, 0);
    assert!(fgsm(&model, &x, &[1, 2], Goal::Targeted, -0.1).is_err());
    assert!(fgsm(&model, &x, &[1, 2], Goal::Targeted, 1.5).is_err());
    let e = fgsm(&model, &x, &[1, 12], Goal::Targeted, 0.1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("class 12 is out of range"), "{e}");
    let e = pgd(&model, &x, &[1], Goal::Targeted, Pgd::spec(0.1))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("one class per image"), "{e}");
    let cfg = Pgd {
        restarts: 0,
        ..Pgd::spec(0.1)
    };
    assert!(pgd(&model, &x, &[1, 2], Goal::Targeted, cfg).is_err());
}

#[test]
fn targeted_pgd_pushes_a_trained_lazy_model_toward_the_target() {
    use shortcut::data::{mnist, BiasedMnist, Paint, Split};
    use shortcut::optim::Adam;
    use shortcut::train::{fit, CrossEntropyStep, TrainConfig};
    let Some(dir) = common::mnist_dir() else {
        return;
    };
    let data = BiasedMnist::new(mnist::load(&dir).unwrap(), 0, 0.95, true).unwrap();
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let cfg = TrainConfig {
        epochs: 4,
        batch: 64,
        lr: 1e-3,
        seed: 0,
        limit: Some(6000),
        device: Device::Cpu,
        progress: false,
    };
    let mut opt = Adam::new(model.parameters(), cfg.lr).unwrap();
    let rec = fit(
        model.as_ref(),
        &data,
        &cfg,
        &CrossEntropyStep,
        &mut opt,
        "LazyCNN",
        |_, _| Ok(()),
    )
    .unwrap();
    assert!(
        rec.last().unwrap().train_acc > 50.0,
        "the model did not train: {:?}",
        rec.last()
    );
    model.set_training(false);
    let sevens: Vec<usize> = (0..data.len(Split::Hard))
        .filter(|&i| data.label(Split::Hard, i) == 7)
        .take(20)
        .collect();
    let (x, _) = data
        .batch(Split::Hard, 0, &sevens, Paint::DRAWN, Device::Cpu)
        .unwrap();
    let t = vec![3; 20];
    let before = probabilities(model.as_ref(), &x).unwrap();
    let adv = pgd(model.as_ref(), &x, &t, Goal::Targeted, Pgd::spec(0.1)).unwrap();
    let after = probabilities(model.as_ref(), &adv).unwrap();
    let mean = |p: &[Vec<f32>]| p.iter().map(|v| v[3] as f64).sum::<f64>() / p.len() as f64;
    assert!(
        mean(&after) > mean(&before) + 0.2,
        "p(3): {} → {}",
        mean(&before),
        mean(&after)
    );
    let raised = (0..20).filter(|&b| after[b][3] > before[b][3]).count();
    assert!(raised >= 18, "only {raised} of 20 images moved toward 3");
}
