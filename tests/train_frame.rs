//! The training frame (`src/train/`): the consistency step's gradient, the suppression hook,
//! layers by name, and a loss that becomes NaN.

use shortcut::autograd::no_grad;
use shortcut::data::mnist::{Mnist, MnistSplit, PIXELS};
use shortcut::data::BiasedMnist;
use shortcut::models::{LazyCNN, ModelKind, ShapeCNN};
use shortcut::nn::{
    get_submodule, last_of_kind, named_modules, AdaptiveAvgPool2d, Conv2d, Flatten, Linear, Module,
    Sequential,
};
use shortcut::ops::color_jitter::ColorJitter;
use shortcut::ops::Conv2dParams;
use shortcut::optim::Adam;
use shortcut::train::{fit, Batch, ConsistencyStep, Step, StepLoss, Suppression, TrainConfig};
use shortcut::{Device, Error, Result, Rng, Tensor};
use std::sync::{Arc, Mutex};

/// A tiny smooth model (no ReLU, so no kink for a finite difference to straddle).
fn tiny_model() -> Sequential {
    let mut rng = Rng::new(4, 4);
    Sequential::new()
        .push(Conv2d::new(3, 2, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap())
        .push(AdaptiveAvgPool2d::new(1, 1))
        .push(Flatten::new())
        .push(Linear::new(2, 3, true, &mut rng, Device::Cpu).unwrap())
}

#[test]
fn consistency_step_gradient_equals_the_finite_difference_of_the_combined_loss() {
    let model = tiny_model();
    let mut rng = Rng::new(1, 1);
    let x = Tensor::rand_uniform([3, 3, 5, 5], 0.0, 1.0, &mut rng, Device::Cpu).unwrap();
    let y = [0usize, 2, 1];
    let indices = [3usize, 10, 4];
    let step = ConsistencyStep {
        lambda: 5.0,
        jitter: ColorJitter::default(),
    };
    let batch = Batch {
        x,
        y: &y,
        indices: &indices,
        epoch: 2,
        seed: 9,
    };
    let loss_value = |m: &dyn Module| -> f64 {
        no_grad(|| step.loss(m, &batch).unwrap().loss.to_scalar().unwrap() as f64)
    };
    model.zero_grad();
    step.loss(&model, &batch).unwrap().loss.backward().unwrap();
    // Central differences in f32 with h = 1e-2; the tolerance is the gradient checker's
    // (src/autograd/gradcheck.rs): atol 1e-3 + rtol 1e-2 covers truncation (h²) and rounding
    // (u·|L|/h ≈ 3e-5); a wrong term (a missing λ, a dropped view) is off by O(1).
    let h = 1e-2f32;
    let mut checked = 0;
    for (name, p) in model.named_parameters() {
        let analytic = p.grad().unwrap().to_vec().unwrap();
        let base = p.to_vec().unwrap();
        for j in 0..base.len() {
            let mut v = base.clone();
            v[j] = base[j] + h;
            p.assign(&Tensor::from_vec(v.clone(), p.dims().to_vec(), Device::Cpu).unwrap())
                .unwrap();
            let up = loss_value(&model);
            v[j] = base[j] - h;
            p.assign(&Tensor::from_vec(v, p.dims().to_vec(), Device::Cpu).unwrap())
                .unwrap();
            let down = loss_value(&model);
            p.assign(&Tensor::from_vec(base.clone(), p.dims().to_vec(), Device::Cpu).unwrap())
                .unwrap();
            let numeric = (up - down) / (2.0 * h as f64);
            let a = analytic[j] as f64;
            assert!(
                (a - numeric).abs() <= 1e-3 + 1e-2 * numeric.abs(),
                "{name}[{j}]: analytic {a} vs numeric {numeric}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 27 + 2 + 3 * 2 + 3);
    // and the KL term matters: λ = 0 changes the gradient
    let plain = ConsistencyStep {
        lambda: 0.0,
        jitter: ColorJitter::default(),
    };
    let l5 = step.loss(&model, &batch).unwrap().loss.to_scalar().unwrap();
    let l0 = plain
        .loss(&model, &batch)
        .unwrap()
        .loss
        .to_scalar()
        .unwrap();
    assert!(
        l5 > l0,
        "the symmetric KL term adds to the loss ({l5} vs {l0})"
    );
}

#[test]
fn consistency_counts_accuracy_on_the_original_view() {
    let model = tiny_model();
    let x = Tensor::zeros([4, 3, 5, 5], Device::Cpu).unwrap();
    let step = ConsistencyStep {
        lambda: 5.0,
        jitter: ColorJitter::default(),
    };
    let out = step
        .loss(
            &model,
            &Batch {
                x,
                y: &[0, 1, 2, 0],
                indices: &[0, 1, 2, 3],
                epoch: 0,
                seed: 0,
            },
        )
        .unwrap();
    assert_eq!(out.logits.dims(), &[4, 3]);
}

#[test]
fn layers_have_pytorchs_dotted_names() {
    let lazy = LazyCNN::new(&mut Rng::new(0, 1), Device::Cpu).unwrap();
    let names: Vec<String> = named_modules(&lazy).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "",
            "color_mixer",
            "color_mixer.0",
            "color_mixer.1",
            "global_pool",
            "classifier",
            "classifier.0",
            "classifier.1",
            "classifier.2",
            "classifier.3"
        ]
    );
    assert_eq!(
        get_submodule(&lazy, "classifier.1").unwrap().kind(),
        "Linear"
    );
    assert_eq!(last_of_kind(&lazy, "Conv2d").unwrap(), "color_mixer.0");
    let shape = ShapeCNN::new(&mut Rng::new(0, 1), Device::Cpu).unwrap();
    assert_eq!(last_of_kind(&shape, "Conv2d").unwrap(), "features.10");
    let err = get_submodule(&lazy, "classifier.9")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no layer 'classifier.9'") && err.contains("color_mixer.0"));
}

/// A hook after the suppression hook sees what the next layer sees.
fn spy(model: &dyn Module, layer: &str) -> Arc<Mutex<Vec<Tensor>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    get_submodule(model, layer)
        .unwrap()
        .hooks()
        .add(move |_, out| {
            sink.lock().unwrap().push(out.detach());
            Ok(None)
        });
    seen
}

#[test]
fn suppression_hook_scales_channels_in_training_and_evaluation_and_is_removed_by_its_handle() {
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let s = Suppression {
        layer: "color_mixer.0".into(),
        color_channels: vec![0, 5],
        shape_channels: vec![3],
        suppress: 0.3,
        amplify: 3.0,
        csi: vec![0.0; 16],
    };
    let x =
        Tensor::rand_uniform([2, 3, 28, 28], 0.0, 1.0, &mut Rng::new(2, 2), Device::Cpu).unwrap();
    let conv = get_submodule(model.as_ref(), "color_mixer.0").unwrap();
    let raw = conv.forward_raw(&x).unwrap().to_vec().unwrap();
    let handle = s.attach(model.as_ref()).unwrap();
    let seen = spy(model.as_ref(), "color_mixer.0");
    for training in [true, false] {
        model.set_training(training);
        model.forward(&x).unwrap();
    }
    let plane = 28 * 28;
    for out in seen.lock().unwrap().iter() {
        let v = out.to_vec().unwrap();
        for (i, (&o, &r)) in v.iter().zip(&raw).enumerate() {
            let ch = (i / plane) % 16;
            let f = match ch {
                0 | 5 => 0.3,
                3 => 3.0,
                _ => 1.0,
            };
            assert_eq!(o, r * f, "channel {ch}");
        }
    }
    handle.remove();
    seen.lock().unwrap().clear();
    model.forward(&x).unwrap();
    assert_eq!(
        seen.lock().unwrap()[0].to_vec().unwrap(),
        raw,
        "hook removed"
    );
    // the record round-trips through a checkpoint's metadata
    let (k, v) = s.metadata().unwrap();
    let meta = std::collections::HashMap::from([(k, v)]);
    assert_eq!(Suppression::from_metadata(&meta).unwrap(), Some(s));
}

#[test]
fn ranking_takes_the_top_and_bottom_csi_quartiles_of_the_last_conv() {
    let model = ModelKind::Lazy.build(3, Device::Cpu).unwrap();
    let s = Suppression::rank(model.as_ref(), 0.3, 3.0, Device::Cpu).unwrap();
    assert_eq!(s.layer, "color_mixer.0");
    assert_eq!((s.color_channels.len(), s.shape_channels.len()), (4, 4));
    let min_color = s
        .color_channels
        .iter()
        .map(|&c| s.csi[c])
        .fold(f32::INFINITY, f32::min);
    let max_shape = s
        .shape_channels
        .iter()
        .map(|&c| s.csi[c])
        .fold(0.0, f32::max);
    let others: Vec<f32> = (0..16)
        .filter(|c| !s.color_channels.contains(c) && !s.shape_channels.contains(c))
        .map(|c| s.csi[c])
        .collect();
    assert!(others.iter().all(|&v| v <= min_color && v >= max_shape));
    assert!(
        s.csi.iter().all(|&v| (0.0..=3.0 + 1e-4).contains(&v)),
        "CSI ≤ √9 = 3"
    );
    assert!(Suppression::rank(model.as_ref(), -1.0, 3.0, Device::Cpu).is_err());
    let no_conv = Sequential::new().push(Flatten::new());
    assert!(Suppression::rank(&no_conv, 0.3, 3.0, Device::Cpu).is_err());
}

/// 200 synthetic digits: label i % 10, a bright square.
fn tiny_data() -> BiasedMnist {
    let n = 200;
    let mut images = vec![0u8; n * PIXELS];
    for i in 0..n {
        for p in 300..400 {
            images[i * PIXELS + p] = 255;
        }
    }
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    let split = MnistSplit { images, labels };
    let mnist = Mnist {
        train: split.clone(),
        test: split,
    };
    BiasedMnist::new(mnist, 1, 0.95, true).unwrap()
}

/// Cross-entropy whose loss is NaN from the second epoch on.
struct NanFromEpoch2;

impl Step for NanFromEpoch2 {
    fn name(&self) -> &'static str {
        "nan-test"
    }
    fn hyper(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn loss(&self, model: &dyn Module, b: &Batch) -> Result<StepLoss> {
        let logits = model.forward(&b.x)?;
        let mut loss = shortcut::loss::cross_entropy(&logits, b.y)?;
        if b.epoch >= 1 {
            loss = loss.mul_scalar(f32::NAN)?;
        }
        Ok(StepLoss { loss, logits })
    }
}

#[test]
fn a_nan_loss_stops_the_run_naming_the_step_and_epoch_after_the_good_epochs() {
    let data = tiny_data();
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let cfg = TrainConfig {
        epochs: 3,
        batch: 50,
        lr: 1e-3,
        seed: 0,
        limit: None,
        device: Device::Cpu,
        progress: false,
    };
    let mut opt = Adam::new(model.parameters(), cfg.lr).unwrap();
    let mut good = Vec::new();
    let before = model.state_dict();
    let err = fit(
        model.as_ref(),
        &data,
        &cfg,
        &NanFromEpoch2,
        &mut opt,
        "LazyCNN",
        |r, _| {
            good.push(r.epoch);
            Ok(())
        },
    )
    .err()
    .unwrap();
    assert_eq!(
        good,
        [1],
        "epoch 1 was reported (and a run folder saves its checkpoint)"
    );
    match err {
        Error::Numeric(m) => assert!(
            m.contains("nan-test") && m.contains("at step 1 of epoch 2"),
            "{m}"
        ),
        other => panic!("expected a numeric error, got {other}"),
    }
    // The bad step never updated the weights: they are epoch 1's, all finite.
    for (name, t) in model.state_dict() {
        assert!(t.to_vec().unwrap().iter().all(|v| v.is_finite()), "{name}");
    }
    assert_eq!(before.len(), model.state_dict().len());
}
