//! Sparse autoencoders (`shortcut::interp::sae`): recovery of known sparse directions, the
//! gradients of both L1 forms (and the decoder-norm-weighted one) against finite differences,
//! TopK's mask, and splicing an SAE into a model through a forward hook.

mod common;

use common::uniform;
use shortcut::autograd::gradcheck::{check_gradients, GradCheck};
use shortcut::data::{mnist, BiasedMnist, Paint, Split};
use shortcut::interp::sae::splice::{spliced_scores, with_splice, Edit, Splice};
use shortcut::interp::sae::{train, L1Form, Sae, SaeConfig, SaeKind};
use shortcut::models::ModelKind;
use shortcut::nn::{Linear, Module};
use shortcut::rng::Rng;
use shortcut::{Device, Tensor};
use std::sync::Arc;

const CPU: Device = Device::Cpu;

fn linear(w: Tensor, b: Tensor) -> Linear {
    let mut l = Linear::new(w.dim(1), w.dim(0), true, &mut Rng::new(0, 0), CPU).unwrap();
    l.weight = w;
    l.bias = Some(b);
    l
}

/// The SAE loss as a function of [x, W_e, b_e, W_d, b_d], through `Sae::loss` itself.
fn loss_of(t: &[Tensor], cfg: &SaeConfig) -> shortcut::Result<Tensor> {
    let sae = Sae::from_layers(
        linear(t[1].clone(), t[2].clone()),
        linear(t[3].clone(), t[4].clone()),
        SaeKind::Relu,
    )?;
    Ok(sae.loss(&t[0], cfg)?.total)
}

/// Inputs whose encoder pre-activations all sit further than 0.05 from ReLU's kink. The check's
/// step h = 0.01 moves a pre-activation by at most h·max(|x|, |W_e|, 1) ≤ 0.01 (every entry is
/// in [−1, 1]), so no central difference straddles the kink.
fn smooth_inputs(n: usize, d: usize, m: usize) -> Vec<Tensor> {
    for seed in 0..1000u64 {
        let x = uniform(&[n, d], 0.0, 1.0, seed);
        let we = uniform(&[m, d], -1.0, 1.0, seed + 1);
        let be = uniform(&[m], -0.5, 0.5, seed + 2);
        let pre = x.matmul_t(&we, false, true).unwrap().add(&be).unwrap();
        let v = pre.to_vec().unwrap();
        let live = v.iter().filter(|&&p| p > 0.0).count();
        if v.iter().all(|p| p.abs() > 0.05) && live > 0 && live < v.len() {
            let wd = uniform(&[d, m], -1.0, 1.0, seed + 3);
            let bd = uniform(&[d], -0.5, 0.5, seed + 4);
            return vec![x, we, be, wd, bd];
        }
    }
    panic!("no seed gave pre-activations away from the kink");
}

#[test]
fn both_l1_forms_and_the_decoder_norm_penalty_match_finite_differences() {
    let inputs = smooth_inputs(3, 4, 6);
    // λ = 0.5 makes the penalty's share of the gradient comparable to the MSE's, so a wrong
    // penalty gradient cannot hide under the check's tolerance.
    for l1 in [L1Form::Mean, L1Form::Sum] {
        for decoder_norm in [false, true] {
            let cfg = SaeConfig {
                lambda: 0.5,
                l1,
                decoder_norm,
                ..SaeConfig::SPEC
            };
            if let Err(e) = check_gradients(|t| loss_of(t, &cfg), &inputs, GradCheck::default()) {
                panic!("{l1:?}, decoder_norm {decoder_norm}: {e}");
            }
        }
    }
}

#[test]
fn the_sum_form_is_m_times_the_mean_form() {
    let h = uniform(&[5, 8], 0.0, 2.0, 3);
    let mean = shortcut::interp::sae::sparsity_penalty(&h, None, L1Form::Mean).unwrap();
    let sum = shortcut::interp::sae::sparsity_penalty(&h, None, L1Form::Sum).unwrap();
    let (mean, sum) = (mean.to_scalar().unwrap(), sum.to_scalar().unwrap());
    assert!(
        (sum - 8.0 * mean).abs() <= 1e-5 * sum,
        "{sum} vs 8 × {mean}"
    );
}

#[test]
fn topk_keeps_exactly_k_features_per_sample() {
    let sae = Sae::new(6, 24, SaeKind::TopK(3), 1, CPU).unwrap();
    let x = uniform(&[50, 6], 0.0, 1.0, 9);
    let h = sae.encode(&x).unwrap().to_vec().unwrap();
    let pre = sae.encoder.forward(&x).unwrap().to_vec().unwrap();
    for (row, prow) in h.chunks(24).zip(pre.chunks(24)) {
        let kept: Vec<usize> = (0..24).filter(|&j| row[j] > 0.0).collect();
        // Exactly the positive ones among the row's 3 largest pre-activations survive.
        let mut sorted = prow.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let positive_in_top3 = sorted[..3].iter().filter(|&&v| v > 0.0).count();
        assert_eq!(kept.len(), positive_in_top3);
        for j in kept {
            assert!(
                prow[j] >= sorted[2],
                "feature {j} kept but not in the top 3"
            );
            assert_eq!(row[j], prow[j]);
        }
    }
}

/// Data made of 8 known unit directions in ℝ¹⁶, each active in a sample with probability 0.15
/// with an amplitude in [0.5, 1.5]: an SAE with 16 features and the sum L1 finds every one.
#[test]
fn an_sae_recovers_known_sparse_directions() {
    let (d, k, n) = (16usize, 8usize, 4096usize);
    let mut rng = Rng::new(5, 0);
    let dirs: Vec<Vec<f32>> = (0..k)
        .map(|_| {
            let v: Vec<f32> = (0..d).map(|_| rng.normal()).collect();
            let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
            v.into_iter().map(|a| a / norm).collect()
        })
        .collect();
    let mut x = vec![0f32; n * d];
    for row in x.chunks_mut(d) {
        for dir in &dirs {
            if rng.uniform() < 0.15 {
                let a = rng.uniform_range(0.5, 1.5);
                for (r, v) in row.iter_mut().zip(dir) {
                    *r += a * v;
                }
            }
        }
    }
    let x = Tensor::from_vec(x, [n, d], CPU).unwrap();
    let cfg = SaeConfig {
        width: 16,
        lambda: 3e-3,
        l1: L1Form::Sum,
        decoder_norm: true,
        lr: 3e-3,
        batch: 64,
        epochs: 40,
        seed: 2,
        kind: SaeKind::Relu,
    };
    let sae = Sae::new(d, cfg.width, cfg.kind, cfg.seed, CPU).unwrap();
    let log = train(&sae, &x, &cfg, &mut |_, _| {}).unwrap();
    assert!(log.loss.last().unwrap() < &log.loss[0]);
    // Decoder columns = learned directions.
    let w = sae.decoder.weight.to_vec().unwrap(); // [d, m]
    let m = cfg.width;
    let col = |j: usize| -> Vec<f32> { (0..d).map(|i| w[i * m + j]).collect() };
    for (t, dir) in dirs.iter().enumerate() {
        let best = (0..m)
            .map(|j| {
                let c = col(j);
                let norm = c.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
                c.iter().zip(dir).map(|(a, b)| a * b).sum::<f32>() / norm
            })
            .fold(f32::MIN, f32::max);
        assert!(best > 0.9, "direction {t}: best cosine {best}");
    }
}

/// Biased MNIST (None: no copy and no network; the test skips).
fn data() -> Option<BiasedMnist> {
    let dir = common::mnist_dir()?;
    Some(BiasedMnist::new(mnist::load(&dir).unwrap(), 0, 0.95, true).unwrap())
}

/// An SAE that is the identity on non-negative inputs: encoder = decoder = I, biases 0. On a
/// post-ReLU layer, ReLU(I·x) = x, and each product with I adds x·1 to exact zeros, so the
/// reconstruction is bit-identical to x.
fn identity_sae(d: usize) -> Sae {
    let mut eye = vec![0f32; d * d];
    for i in 0..d {
        eye[i * d + i] = 1.0;
    }
    let e = || Tensor::from_vec(eye.clone(), [d, d], CPU).unwrap();
    let z = || Tensor::zeros([d], CPU).unwrap();
    Sae::from_layers(linear(e(), z()), linear(e(), z()), SaeKind::Relu).unwrap()
}

#[test]
fn an_identity_sae_spliced_in_scores_exactly_the_clean_accuracy() {
    let Some(data) = data() else { return };
    let model = ModelKind::Lazy.build(3, CPU).unwrap();
    let sae = Arc::new(identity_sae(64));
    let mean = Tensor::zeros([64], CPU).unwrap();
    let s = spliced_scores(
        model.as_ref(),
        "classifier.2",
        &sae,
        &mean,
        &data,
        Split::Aligned,
        300,
        CPU,
    )
    .unwrap();
    assert_eq!(s.sae.accuracy, s.clean.accuracy);
    assert_eq!(s.sae.cross_entropy, s.clean.cross_entropy);
    // Zero-ablation here is the same as mean-ablation with a zero mean, and the identity SAE
    // recovers all of what the layer contributes.
    assert_eq!(s.zero_ablation.accuracy, s.mean_ablation.accuracy);
    assert_eq!(s.ce_recovered, 1.0);
    assert!(s.accuracy_recovered == 1.0 || s.accuracy_recovered.is_nan());
}

#[test]
fn a_constant_splice_gives_every_image_the_logits_of_that_constant() {
    let Some(data) = data() else { return };
    let model = ModelKind::Lazy.build(5, CPU).unwrap();
    let (x, _) = data
        .batch(Split::Hard, 0, &[0, 1, 2], Paint::DRAWN, CPU)
        .unwrap();
    let sae = Arc::new(identity_sae(64));
    let c = uniform(&[64], 0.0, 1.0, 11);
    let spliced = with_splice(
        model.as_ref(),
        "classifier.2",
        &sae,
        Splice::Constant(c.clone()),
        || model.forward(&x)?.to_vec(),
    )
    .unwrap();
    // The layer after classifier.2 is the last Linear: its output on c, for every image.
    let last = shortcut::nn::get_submodule(model.as_ref(), "classifier.3").unwrap();
    let want = last
        .forward(&c.reshape([1, 64]).unwrap())
        .unwrap()
        .to_vec()
        .unwrap();
    for row in spliced.chunks(10) {
        let d = row
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-6, "{d}");
    }
}

#[test]
fn the_error_term_with_no_edit_leaves_the_output_unchanged_and_the_hook_goes_away() {
    let Some(data) = data() else { return };
    let model = ModelKind::Lazy.build(4, CPU).unwrap();
    let (x, _) = data
        .batch(
            Split::Hard,
            0,
            &(0..64).collect::<Vec<_>>(),
            Paint::DRAWN,
            CPU,
        )
        .unwrap();
    let clean = model.forward(&x).unwrap().to_vec().unwrap();
    // A random, untrained SAE: its reconstruction is far from x, so only the error term can
    // give the output back.
    let sae = Arc::new(Sae::new(64, 256, SaeKind::Relu, 7, CPU).unwrap());
    let run = |s: Splice| {
        with_splice(model.as_ref(), "classifier.2", &sae, s, || {
            model.forward(&x)?.to_vec()
        })
        .unwrap()
    };
    let with_error = run(Splice::Edited {
        edit: Edit::None,
        error_term: true,
    });
    let without = run(Splice::Edited {
        edit: Edit::None,
        error_term: false,
    });
    let scale = clean.iter().fold(1f32, |m, v| m.max(v.abs()));
    let max_diff = |a: &[f32]| {
        a.iter()
            .zip(&clean)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    };
    // x̂ + (x − x̂) differs from x by at most two roundings (≈ 2⁻²³·(|x| + |x̂|) per unit);
    // through the 64 → 10 Linear (|w| ≤ 1/8) that stays below 1e-5 of the logits' scale.
    assert!(
        max_diff(&with_error) <= 1e-5 * scale,
        "{}",
        max_diff(&with_error)
    );
    assert!(
        max_diff(&without) > 1e-3 * scale,
        "the untrained SAE should change the output"
    );
    // The hook is gone: the model computes its clean output again.
    assert_eq!(model.forward(&x).unwrap().to_vec().unwrap(), clean);
}

#[test]
fn editing_a_feature_changes_the_output_only_through_that_feature() {
    let Some(data) = data() else { return };
    let model = ModelKind::Lazy.build(4, CPU).unwrap();
    let (x, _) = data
        .batch(Split::Hard, 0, &[0, 1, 2, 3], Paint::DRAWN, CPU)
        .unwrap();
    let sae = Arc::new(Sae::new(64, 256, SaeKind::Relu, 7, CPU).unwrap());
    let h = sae
        .encode(
            &shortcut::measure::capture::layer_output(model.as_ref(), "classifier.2", &x)
                .unwrap()
                .1,
        )
        .unwrap()
        .to_vec()
        .unwrap();
    // A feature silent on all four images: scaling it changes nothing; one that fires: it does.
    let silent = (0..256).find(|&j| (0..4).all(|i| h[i * 256 + j] == 0.0));
    let firing = (0..256)
        .find(|&j| (0..4).all(|i| h[i * 256 + j] > 0.0))
        .unwrap();
    let run = |feature: usize| {
        with_splice(
            model.as_ref(),
            "classifier.2",
            &sae,
            Splice::Edited {
                edit: Edit::Scale {
                    feature,
                    factor: 3.0,
                },
                error_term: true,
            },
            || model.forward(&x)?.to_vec(),
        )
        .unwrap()
    };
    let clean = model.forward(&x).unwrap().to_vec().unwrap();
    if let Some(j) = silent {
        let d: f32 = run(j).iter().zip(&clean).map(|(a, b)| (a - b).abs()).sum();
        assert!(d < 1e-4, "a silent feature moved the logits by {d}");
    }
    let d: f32 = run(firing)
        .iter()
        .zip(&clean)
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(d > 1e-3, "a firing feature ×3 left the logits as they were");
    // A feature index outside the dictionary is an error, not a panic.
    let bad = with_splice(
        model.as_ref(),
        "classifier.2",
        &sae,
        Splice::Edited {
            edit: Edit::Scale {
                feature: 256,
                factor: 3.0,
            },
            error_term: true,
        },
        || model.forward(&x),
    );
    assert!(bad.is_err());
    // The failed splice removed its hook too.
    assert_eq!(model.forward(&x).unwrap().to_vec().unwrap(), clean);
}

#[test]
fn sae_settings_and_checkpoints_are_checked() {
    let bad = |cfg: SaeConfig| cfg.validate(64).is_err();
    assert!(bad(SaeConfig {
        lambda: -1.0,
        ..SaeConfig::SPEC
    }));
    assert!(bad(SaeConfig {
        lambda: f32::NAN,
        ..SaeConfig::SPEC
    }));
    assert!(bad(SaeConfig {
        kind: SaeKind::TopK(257),
        ..SaeConfig::SPEC
    }));
    assert!(bad(SaeConfig {
        kind: SaeKind::TopK(0),
        ..SaeConfig::SPEC
    }));
    assert!(!bad(SaeConfig {
        kind: SaeKind::TopK(256),
        ..SaeConfig::SPEC
    }));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sae.safetensors");
    let sae = Sae::new(64, 256, SaeKind::TopK(12), 1, CPU).unwrap();
    sae.save(&path, "classifier.2", &SaeConfig::SPEC).unwrap();
    let (back, saved) = Sae::load(&path, "classifier.2", 64, CPU).unwrap();
    assert_eq!(saved.unwrap().lambda, SaeConfig::SPEC.lambda);
    assert_eq!(back.kind, SaeKind::TopK(12));
    assert_eq!(
        back.decoder.weight.to_vec().unwrap(),
        sae.decoder.weight.to_vec().unwrap()
    );
    let wrong_layer = Sae::load(&path, "pool", 64, CPU).err().unwrap().to_string();
    assert!(
        wrong_layer.contains("trained on layer 'classifier.2'"),
        "{wrong_layer}"
    );
    let wrong_width = Sae::load(&path, "classifier.2", 128, CPU)
        .err()
        .unwrap()
        .to_string();
    assert!(wrong_width.contains("reads 64 units"), "{wrong_width}");
}
