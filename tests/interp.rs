//! The interpretability tools on models whose answers are known: Grad-CAM on a hand-built
//! colour detector, activation maximization on a linear model, frozen parameters that skip the
//! weight-gradient kernels, gradient hooks that fail, and hooks that leave no trace.

use shortcut::autograd::no_grad;
use shortcut::interp::featviz::{maximize, AmConfig};
use shortcut::interp::gradcam::{concentration_ratio, grad_cam, randomization_test};
use shortcut::measure::selectivity::UnitSelectivity;
use shortcut::models::ModelKind;
use shortcut::nn::{
    freeze, named_modules, AdaptiveAvgPool2d, Conv2d, Flatten, Linear, Module, Sequential,
};
use shortcut::ops::{launches, Conv2dParams};
use shortcut::{Device, Error, Rng, Tensor};

/// conv 1×1 that copies the red channel → global average → Linear(1 → 2) = (+1, −1): class 0
/// is "how red the image is", class 1 its opposite.
fn red_detector() -> Sequential {
    let mut rng = Rng::new(0, 0);
    let conv = Conv2d::new(3, 1, 1, Conv2dParams::new(1, 0), &mut rng, Device::Cpu).unwrap();
    conv.weight
        .assign(&Tensor::from_vec(vec![1.0, 0.0, 0.0], [1, 3, 1, 1], Device::Cpu).unwrap())
        .unwrap();
    conv.bias
        .as_ref()
        .unwrap()
        .assign(&Tensor::zeros([1], Device::Cpu).unwrap())
        .unwrap();
    let fc = Linear::new(1, 2, true, &mut rng, Device::Cpu).unwrap();
    fc.weight
        .assign(&Tensor::from_vec(vec![1.0, -1.0], [2, 1], Device::Cpu).unwrap())
        .unwrap();
    fc.bias
        .as_ref()
        .unwrap()
        .assign(&Tensor::zeros([2], Device::Cpu).unwrap())
        .unwrap();
    Sequential::new()
        .push(conv)
        .push(AdaptiveAvgPool2d::new(1, 1))
        .push(Flatten::new())
        .push(fc)
}

/// A dark image with a red square over rows 4..12, columns 16..24 and a green one elsewhere.
fn red_square() -> Tensor {
    let mut v = vec![0.05f32; 3 * 784];
    for r in 0..28 {
        for c in 0..28 {
            if (4..12).contains(&r) && (16..24).contains(&c) {
                v[r * 28 + c] = 1.0;
            }
            if (18..26).contains(&r) && (2..10).contains(&c) {
                v[784 + r * 28 + c] = 1.0;
            }
        }
    }
    Tensor::from_vec(v, [1, 3, 28, 28], Device::Cpu).unwrap()
}

#[test]
fn grad_cam_lights_exactly_the_region_a_hand_built_model_reads() {
    let model = red_detector();
    let cam = grad_cam(&model, "0", &red_square(), &[0]).unwrap();
    let map = &cam.cams[0];
    // Class 0: α = ∂y0/∂A = +1/784 everywhere, A = the red channel, so the CAM is the red
    // channel min–max normalized: 1 on the red square, 0 elsewhere (the 28×28 map needs no
    // resampling: bilinear 28 → 28 is the identity).
    for r in 0..28 {
        for c in 0..28 {
            let want = if (4..12).contains(&r) && (16..24).contains(&c) {
                1.0
            } else {
                0.0
            };
            assert!(
                (map[r * 28 + c] - want).abs() < 1e-5,
                "pixel ({r}, {c}): {}",
                map[r * 28 + c]
            );
        }
    }
    assert!(!cam.empty[0]);
    // 80 % of the mass lies in 80 % of the square's 64 pixels: 52 of 784.
    let ratio = concentration_ratio(map, 0.8).unwrap();
    assert!((ratio - 52.0 / 784.0).abs() < 1e-6, "ratio {ratio}");
    // Class 1 reads the red channel negatively: α < 0, ReLU leaves nothing, the CAM is empty.
    let cam1 = grad_cam(&model, "0", &red_square(), &[1]).unwrap();
    assert!(cam1.empty[0] && cam1.cams[0].iter().all(|&v| v == 0.0));
}

#[test]
fn grad_cam_of_a_batch_equals_grad_cam_of_each_image() {
    let model = ModelKind::Lazy.build(3, Device::Cpu).unwrap();
    let mut rng = Rng::new(9, 0);
    let x = Tensor::rand_uniform([3, 3, 28, 28], 0.0, 1.0, &mut rng, Device::Cpu).unwrap();
    let classes = [2, 7, 7];
    let batch = grad_cam(model.as_ref(), "color_mixer.0", &x, &classes).unwrap();
    for (b, &class) in classes.iter().enumerate() {
        let one = grad_cam(
            model.as_ref(),
            "color_mixer.0",
            &x.slice(0, b, 1).unwrap(),
            &[class],
        )
        .unwrap();
        for (p, q) in batch.cams[b].iter().zip(&one.cams[0]) {
            assert!((p - q).abs() < 1e-5, "image {b}: {p} vs {q}");
        }
    }
}

#[test]
fn activation_maximization_increases_its_target_monotonically() {
    // A linear model: each logit is w·x, so its gradient is constant and Adam moves every pixel
    // the same way at every step; clamping can only stop a pixel, never reverse it. Without
    // regularization every step must raise (or keep) the target.
    let mut rng = Rng::new(1, 0);
    let model = Sequential::new()
        .push(Flatten::new())
        .push(Linear::new(3 * 784, 10, true, &mut rng, Device::Cpu).unwrap());
    let cfg = AmConfig {
        steps: 40,
        lr: 0.05,
        l2: 0.0,
        tv: 0.0,
        seed: 4,
    };
    let m = maximize(&model, None, &[0, 3, 9], cfg, Device::Cpu).unwrap();
    for b in 0..3 {
        for s in 1..m.trace.len() {
            assert!(
                m.trace[s][b] >= m.trace[s - 1][b] - 1e-4,
                "unit {b}: step {s} went from {} to {}",
                m.trace[s - 1][b],
                m.trace[s][b]
            );
        }
        assert!(m.trace.last().unwrap()[b] > m.trace[0][b] + 1.0);
    }
    let v = m.images.to_vec().unwrap();
    assert!(
        v.iter().all(|&p| (0.0..=1.0).contains(&p)),
        "images leave [0, 1]"
    );
    // With the SPEC's regularization, on an (untrained) lazy model, the class logit still rises.
    let lazy = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let cfg = AmConfig {
        steps: 30,
        ..AmConfig::CLASS_LOGIT
    };
    let m = maximize(lazy.as_ref(), None, &[0, 5], cfg, Device::Cpu).unwrap();
    for b in 0..2 {
        let (first, last) = (m.trace[0][b], m.trace.last().unwrap()[b]);
        assert!(last > first, "class logit went from {first} to {last}");
    }
}

#[test]
fn frozen_parameters_skip_the_weight_gradient_kernels() {
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let mut rng = Rng::new(2, 0);
    let x = Tensor::rand_uniform([4, 3, 28, 28], 0.0, 1.0, &mut rng, Device::Cpu)
        .unwrap()
        .requires_grad_(true)
        .unwrap();
    let run = || {
        launches::reset();
        x.zero_grad();
        model
            .forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        launches::counts()
    };
    let trained = run();
    // LazyCNN's conv, ReLU and pool run fused: its weight and bias gradients come from one
    // kernel (`conv2d_relu_pool_bwd_params`), not from `conv2d_bwd_weight`/`_bias`.
    assert_eq!(trained.get("conv2d_relu_pool_bwd_params"), Some(&1));
    assert_eq!(trained.get("conv2d_bwd_weight"), None);
    assert_eq!(trained.get("conv2d_bwd_bias"), None);
    // Forward: 2 matmuls; backward: ∂x and ∂W of each Linear.
    assert_eq!(trained.get("matmul"), Some(&6));
    model.zero_grad();
    {
        let _frozen = freeze(model.as_ref()).unwrap();
        let frozen = run();
        assert_eq!(
            frozen.get("conv2d_relu_pool_bwd_params"),
            None,
            "{frozen:?}"
        );
        assert_eq!(frozen.get("conv2d_bwd_weight"), None);
        assert_eq!(frozen.get("conv2d_bwd_bias"), None);
        assert_eq!(frozen.get("conv2d_bwd_input"), Some(&1));
        assert_eq!(
            frozen.get("matmul"),
            Some(&4),
            "only the two input gradients"
        );
        assert!(x.grad().is_some());
        assert!(model
            .parameters()
            .iter()
            .all(|p| p.grad().is_none() && !p.requires_grad()));
    }
    assert!(
        model.parameters().iter().all(|p| p.requires_grad()),
        "the guard restores the flags"
    );
}

#[test]
fn a_failing_gradient_hook_stops_backward_with_its_error() {
    let x = Tensor::from_vec(vec![1.0, 2.0], [2], Device::Cpu)
        .unwrap()
        .requires_grad_(true)
        .unwrap();
    let y = x.mul_scalar(3.0).unwrap();
    y.register_grad_hook(|_| Err(Error::Invalid("the hook's disk is full".into())))
        .unwrap();
    let err = y.sum_all().unwrap().backward().unwrap_err();
    assert!(err.to_string().contains("the hook's disk is full"), "{err}");
    assert!(
        x.grad().is_none(),
        "no gradient may reach the leaf after the hook failed"
    );
}

/// Outputs of `model` on `x`, without recording.
fn outputs(model: &dyn Module, x: &Tensor) -> Vec<f32> {
    no_grad(|| model.forward(x)).unwrap().to_vec().unwrap()
}

#[test]
fn the_tools_leave_no_hook_and_no_changed_weight_behind() {
    for kind in [ModelKind::Lazy, ModelKind::Attention] {
        let model = kind.build(5, Device::Cpu).unwrap();
        let pristine = kind.build(5, Device::Cpu).unwrap();
        let mut rng = Rng::new(6, 0);
        let x = Tensor::rand_uniform([4, 3, 28, 28], 0.0, 1.0, &mut rng, Device::Cpu).unwrap();
        grad_cam(model.as_ref(), kind.cam_layer(), &x, &[0, 1, 2, 3]).unwrap();
        let cfg = AmConfig {
            steps: 3,
            ..AmConfig::CLASS_LOGIT
        };
        maximize(
            model.as_ref(),
            Some(kind.hidden_layer()),
            &[0, 1],
            cfg,
            Device::Cpu,
        )
        .unwrap();
        UnitSelectivity::measure(
            model.as_ref(),
            kind.hidden_layer(),
            &shortcut::data::PALETTE,
            Device::Cpu,
        )
        .unwrap();
        let fresh = kind.build(99, Device::Cpu).unwrap();
        let steps = randomization_test(
            model.as_ref(),
            fresh.as_ref(),
            kind.cam_layer(),
            &x,
            &[0, 1, 2, 3],
        )
        .unwrap();
        assert!(!steps.is_empty());
        // An error inside a tool removes its hook too.
        assert!(grad_cam(model.as_ref(), kind.cam_layer(), &x, &[0, 1, 2, 11]).is_err());
        for (name, m) in named_modules(model.as_ref()) {
            assert!(m.hooks().is_empty(), "{kind:?}: a hook is left on '{name}'");
        }
        assert!(model.parameters().iter().all(|p| p.requires_grad()));
        assert_eq!(
            outputs(model.as_ref(), &x),
            outputs(pristine.as_ref(), &x),
            "{kind:?}"
        );
    }
}

#[test]
fn randomizing_every_layer_decorrelates_the_cam_of_a_trained_like_model() {
    // The red detector's CAM is the red channel; with every layer replaced by random weights
    // it is not: the last step's rank correlation must fall well below 1.
    let model = red_detector();
    let fresh = {
        let mut rng = Rng::new(77, 0);
        let conv = Conv2d::new(3, 1, 1, Conv2dParams::new(1, 0), &mut rng, Device::Cpu).unwrap();
        Sequential::new()
            .push(conv)
            .push(AdaptiveAvgPool2d::new(1, 1))
            .push(Flatten::new())
            .push(Linear::new(1, 2, true, &mut rng, Device::Cpu).unwrap())
    };
    let x = Tensor::cat(&[red_square(), red_square().mul_scalar(0.5).unwrap()], 0).unwrap();
    let steps = randomization_test(&model, &fresh, "0", &x, &[0, 0]).unwrap();
    assert_eq!(
        steps.iter().map(|s| s.layer.as_str()).collect::<Vec<_>>(),
        ["3", "0"]
    );
    let last = steps.last().unwrap();
    assert!(
        last.undefined > 0 || last.mean_rank_correlation < 0.9,
        "{steps:?}"
    );
    // The model's own weights are back.
    let cam = grad_cam(&model, "0", &red_square(), &[0]).unwrap();
    assert!((cam.cams[0][5 * 28 + 20] - 1.0).abs() < 1e-5);
}

#[test]
fn unknown_layers_and_classes_are_clear_errors() {
    let model = ModelKind::Lazy.build(0, Device::Cpu).unwrap();
    let x = Tensor::zeros([1, 3, 28, 28], Device::Cpu).unwrap();
    let e = grad_cam(model.as_ref(), "features.9", &x, &[0])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no layer 'features.9'") && e.contains("color_mixer.0"),
        "{e}"
    );
    let e = grad_cam(model.as_ref(), "color_mixer.0", &x, &[10])
        .unwrap_err()
        .to_string();
    assert!(e.contains("class 10 is out of range"), "{e}");
    let e = grad_cam(model.as_ref(), "classifier.1", &x, &[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[N, C, H, W]"), "{e}");
    let cfg = AmConfig {
        steps: 2,
        ..AmConfig::FILTER
    };
    let e = maximize(
        model.as_ref(),
        Some("color_mixer.1"),
        &[16],
        cfg,
        Device::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("unit 16 is out of range"), "{e}");
}
