//! Modules, PyTorch names and init, and hooks: forward hooks that replace outputs, gradient
//! hooks that see exactly the gradient backward computes, and handles that remove them.

mod common;

use common::uniform;
use shortcut::nn::{
    AdaptiveAvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use shortcut::ops::Conv2dParams;
use shortcut::{Device, Rng, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn conv(rng: &mut Rng) -> Conv2d {
    Conv2d::new(3, 4, 3, Conv2dParams::new(1, 1), rng, Device::Cpu).unwrap()
}

/// A mask that multiplies channel 0 by 3 and channel 1 by 0, shape [1, C, 1, 1].
fn channel_scale(c: usize) -> Tensor {
    let mut v = vec![1.0; c];
    v[0] = 3.0;
    v[1] = 0.0;
    Tensor::from_vec(v, [1, c, 1, 1], Device::Cpu).unwrap()
}

#[test]
fn sequential_names_parameters_like_pytorch_state_dict() {
    let mut rng = Rng::new(0, 0);
    let net = Sequential::new()
        .push(conv(&mut rng))
        .push(ReLU::new())
        .push(AdaptiveAvgPool2d::new(2, 2))
        .push(Flatten::new())
        .push(Linear::new(16, 10, true, &mut rng, Device::Cpu).unwrap());
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["0.weight", "0.bias", "4.weight", "4.bias"]);
    assert_eq!(net.num_parameters(), 4 * 3 * 9 + 4 + 16 * 10 + 10);
    assert_eq!(net.parameters()[0].name().as_deref(), Some("0.weight"));
    let y = net.forward(&uniform(&[2, 3, 8, 8], 0.0, 1.0, 1)).unwrap();
    assert_eq!(y.dims(), &[2, 10]);
}

#[test]
fn default_init_matches_pytorch_bounds() {
    // kaiming_uniform(a=√5) and the bias both give U(−1/√fan_in, 1/√fan_in).
    let mut rng = Rng::new(1, 0);
    let c = Conv2d::new(32, 64, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap();
    let bound = 1.0 / (32.0f32 * 9.0).sqrt();
    let w = c.weight.to_vec().unwrap();
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        max <= bound && max > 0.95 * bound,
        "max |w| = {max}, bound {bound}"
    );
    let mean = w.iter().sum::<f32>() / w.len() as f32;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32;
    // variance of U(−b, b) is b²/3
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.05,
        "var {var}"
    );
    let b = c.bias.as_ref().unwrap().to_vec().unwrap();
    assert!(b.iter().all(|v| v.abs() <= bound));
    let l = Linear::new(64, 10, true, &mut rng, Device::Cpu).unwrap();
    assert!(l
        .weight
        .to_vec()
        .unwrap()
        .iter()
        .all(|v| v.abs() <= 1.0 / 8.0));
    assert_eq!(l.weight.dims(), &[10, 64]);
}

#[test]
fn train_and_eval_mode_propagate_to_children() {
    let mut rng = Rng::new(2, 0);
    let net = Sequential::new()
        .push(conv(&mut rng))
        .push(ReLU::new())
        .push(MaxPool2d::new(2, 2));
    assert!(net.is_training());
    net.set_training(false);
    assert!(!net.is_training() && !net.layer(0).unwrap().is_training());
    net.set_training(true);
    assert!(net.layer(2).unwrap().is_training());
}

#[test]
fn forward_hook_scaling_channels_changes_output_and_gradients() {
    let mut rng = Rng::new(3, 0);
    let layer = conv(&mut rng);
    let x = uniform(&[2, 3, 6, 6], 0.0, 1.0, 4);

    // Reference run without the hook.
    let y0 = layer.forward(&x).unwrap();
    y0.sum_all().unwrap().backward().unwrap();
    let gw0 = layer.weight.grad().unwrap().to_vec().unwrap();
    layer.zero_grad();

    let scale = channel_scale(4);
    let handle = layer.register_forward_hook(move |_, y| Ok(Some(y.mul(&scale)?)));
    let y1 = layer.forward(&x).unwrap();
    // output: channel 0 tripled, channel 1 zeroed, others unchanged
    let (a, b) = (y0.to_vec().unwrap(), y1.to_vec().unwrap());
    let plane = 36;
    for n in 0..2 {
        for c in 0..4 {
            for i in 0..plane {
                let k = (n * 4 + c) * plane + i;
                let expect = match c {
                    0 => 3.0 * a[k],
                    1 => 0.0,
                    _ => a[k],
                };
                assert!((b[k] - expect).abs() < 1e-5);
            }
        }
    }
    // gradients: ∂/∂w of output channel 0 tripled, of channel 1 zero
    y1.sum_all().unwrap().backward().unwrap();
    let gw1 = layer.weight.grad().unwrap().to_vec().unwrap();
    let per_out = 3 * 9;
    for i in 0..per_out {
        assert!((gw1[i] - 3.0 * gw0[i]).abs() < 1e-3 * (1.0 + gw0[i].abs()));
        assert_eq!(gw1[per_out + i], 0.0);
        assert!((gw1[2 * per_out + i] - gw0[2 * per_out + i]).abs() < 1e-4 * (1.0 + gw0[i].abs()));
    }
    handle.remove();
    let y2 = layer.forward(&x).unwrap();
    assert_eq!(y2.to_vec().unwrap(), a, "a removed forward hook still ran");
}

#[test]
fn gradient_hook_receives_exactly_the_gradient_backward_computes() {
    let mut rng = Rng::new(5, 0);
    let layer = conv(&mut rng);
    let head = Linear::new(4 * 36, 3, true, &mut rng, Device::Cpu).unwrap();
    let x = uniform(&[2, 3, 6, 6], 0.0, 1.0, 6);

    let a = layer.forward(&x).unwrap();
    a.retain_grad();
    let seen: Arc<Mutex<Option<Tensor>>> = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    a.register_grad_hook(move |g| {
        *s2.lock().unwrap() = Some(g.clone());
        Ok(None)
    })
    .unwrap();
    let logits = head
        .forward(&a.relu().unwrap().flatten(1).unwrap())
        .unwrap();
    let loss = logits.cross_entropy(&[0, 2]).unwrap().mean_all().unwrap();
    loss.backward().unwrap();

    let hooked = seen
        .lock()
        .unwrap()
        .clone()
        .expect("the gradient hook did not run");
    assert_eq!(
        hooked.to_vec().unwrap(),
        a.grad().unwrap().to_vec().unwrap()
    );
    // and it is the true ∂L/∂A: recompute by finite differences on a few entries of A
    let a_val = a.detach();
    let f = |av: &Tensor| -> f64 {
        let l = head
            .forward(&av.relu().unwrap().flatten(1).unwrap())
            .unwrap();
        l.cross_entropy(&[0, 2])
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar()
            .unwrap() as f64
    };
    let base = a_val.to_vec().unwrap();
    let g = hooked.to_vec().unwrap();
    for &j in &[0usize, 37, 100, 200, 287] {
        let h = 1e-2f32;
        let mut p = base.clone();
        p[j] += h;
        let mut m = base.clone();
        m[j] -= h;
        let tp = Tensor::from_vec(p, a.dims().to_vec(), Device::Cpu).unwrap();
        let tm = Tensor::from_vec(m, a.dims().to_vec(), Device::Cpu).unwrap();
        let numeric =
            (shortcut::no_grad(|| f(&tp)) - shortcut::no_grad(|| f(&tm))) / (2.0 * h as f64);
        assert!(
            (numeric - g[j] as f64).abs() < 2e-3,
            "entry {j}: hook {} vs numeric {numeric}",
            g[j]
        );
    }
}

#[test]
fn gradient_hook_can_replace_the_gradient_flowing_further() {
    let x = Tensor::from_vec(vec![1.0, 2.0], [2], Device::Cpu)
        .unwrap()
        .requires_grad_(true)
        .unwrap();
    let h = x.mul_scalar(3.0).unwrap();
    h.register_grad_hook(|g| Ok(Some(g.mul_scalar(10.0)?)))
        .unwrap();
    h.sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![30.0, 30.0]);
}

#[test]
fn removed_hooks_no_longer_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(7, 0);
    let layer = Linear::new(3, 2, true, &mut rng, Device::Cpu).unwrap();
    let c1 = calls.clone();
    let fwd = layer.register_forward_hook(move |_, _| {
        c1.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    });
    let x = uniform(&[4, 3], 0.0, 1.0, 8);
    layer.forward(&x).unwrap();
    fwd.remove();
    layer.forward(&x).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let w = layer.weight.clone();
    let c2 = calls.clone();
    let gh = w
        .register_grad_hook(move |_| {
            c2.fetch_add(100, Ordering::SeqCst);
            Ok(None)
        })
        .unwrap();
    layer
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 101);
    gh.remove();
    gh.remove(); // removing twice is harmless
    layer
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 101);
}

#[test]
fn hooks_on_a_sequential_layer_see_that_layers_output() {
    let mut rng = Rng::new(9, 0);
    let net = Sequential::new()
        .push(conv(&mut rng))
        .push(ReLU::new())
        .push(Flatten::new());
    let kept: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    let k2 = kept.clone();
    net.layer(0).unwrap().hooks().add(move |_, y| {
        *k2.lock().unwrap() = y.dims().to_vec();
        Ok(None)
    });
    net.forward(&uniform(&[1, 3, 5, 5], 0.0, 1.0, 1)).unwrap();
    assert_eq!(*kept.lock().unwrap(), vec![1, 4, 5, 5]);
}

#[test]
fn study_models_have_the_reports_names_and_sizes() {
    use shortcut::models::{LazyCNN, ShapeCNN};
    let mut rng = Rng::new(0, 0);
    let lazy = LazyCNN::new(&mut rng, Device::Cpu).unwrap();
    let names: Vec<String> = lazy
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        vec![
            "color_mixer.0.weight",
            "color_mixer.0.bias",
            "classifier.1.weight",
            "classifier.1.bias",
            "classifier.3.weight",
            "classifier.3.bias"
        ]
    );
    // (16·3·9 + 16) + (64·64 + 64) + (64·10 + 10) = 448 + 4160 + 650
    assert_eq!(lazy.num_parameters(), 5258);
    let x = uniform(&[2, 3, 28, 28], 0.0, 1.0, 1);
    assert_eq!(lazy.forward(&x).unwrap().dims(), &[2, 10]);
    let shape = ShapeCNN::new(&mut rng, Device::Cpu).unwrap();
    assert_eq!(shape.forward(&x).unwrap().dims(), &[2, 10]);
    assert_eq!(shape.named_parameters()[8].0, "features.10.weight");
    assert_eq!(
        shape.num_parameters(),
        896 + 18496 + 36928 + 73856 + 147584 + 1290
    );
}
