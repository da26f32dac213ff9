//! Backprop, step by step, on a tiny conv net.
//!
//! Run: `cargo run --release --example backprop_walkthrough`
//!
//! We build conv(1→2, 3×3, padding 1) → relu → flatten → linear(32→3) → cross-entropy on one
//! 4×4 image, print the tape the forward pass recorded, run backward, and explain where each
//! gradient comes from. Finally we check one gradient against a finite difference and show a
//! gradient hook seeing ∂L/∂(conv output) on its way through.

use shortcut::autograd::Tape;
use shortcut::nn::{Conv2d, Flatten, Linear, Module, ReLU, Sequential};
use shortcut::ops::Conv2dParams;
use shortcut::{no_grad, Device, Result, Rng, Tensor};
use std::sync::{Arc, Mutex};

fn show(label: &str, t: &Tensor) -> Result<()> {
    let v = t.to_vec()?;
    let shown: Vec<String> = v.iter().take(8).map(|x| format!("{x:+.4}")).collect();
    let more = if v.len() > 8 {
        format!(" … ({} values)", v.len())
    } else {
        String::new()
    };
    println!(
        "  {label:<22} {:<14} [{}]{more}",
        t.shape().to_string(),
        shown.join(", ")
    );
    Ok(())
}

fn main() -> Result<()> {
    let dev = Device::Cpu;
    let mut rng = Rng::new(2024, 0);
    let net = Sequential::new()
        .push(Conv2d::new(
            1,
            2,
            3,
            Conv2dParams::new(1, 1),
            &mut rng,
            dev,
        )?)
        .push(ReLU::new())
        .push(Flatten::new())
        .push(Linear::new(32, 3, true, &mut rng, dev)?);
    let x = Tensor::rand_uniform([1, 1, 4, 4], 0.0, 1.0, &mut rng, dev)?;
    let target = [2usize];

    println!("1. Parameters are leaves that require gradients (PyTorch's names):");
    for (name, p) in net.named_parameters() {
        show(&name, &p)?;
    }

    println!("\n2. Forward. Every op whose inputs need gradients is recorded on the tape.");
    println!("   We keep the conv output A and ask for its gradient too (retain_grad),");
    println!("   and register a gradient hook on it, as Grad-CAM does.");
    let conv_out: Arc<Mutex<Option<Tensor>>> = Arc::new(Mutex::new(None));
    let keep = conv_out.clone();
    let hook = net.layer(0)?.hooks().add(move |_, a| {
        a.retain_grad();
        let shape = a.shape().clone();
        a.register_grad_hook(move |g| {
            println!(
                "   [gradient hook] ∂L/∂A arrived with shape {shape}, Σ = {:+.5}",
                g.sum_all()?.to_scalar()?
            );
            Ok(None)
        })?;
        *keep.lock().unwrap() = Some(a.clone());
        Ok(None)
    });
    let logits = net.forward(&x)?;
    let loss = logits.cross_entropy(&target)?.mean_all()?;
    show("logits", &logits)?;
    show("loss", &loss)?;

    println!("\n3. The tape (oldest first; %k is the output of entry k, * = needs a gradient):");
    println!("{}", Tape::of(&loss)?);

    println!(
        "\n4. backward() walks the tape from the last entry to the first. For each op it takes"
    );
    println!("   ∂L/∂output and applies the op's rule:");
    println!(
        "   mul_scalar (mean over 1 sample): g·1   sum: broadcast g   reshape: reshape g back"
    );
    println!("   cross_entropy: ∂L/∂logits = softmax(logits) − one_hot(target)");
    println!("   add (bias): g to both; the [3] bias sums g over the batch axis");
    println!("   matmul x·Wᵀ: ∂L/∂x = g·W, ∂L/∂W = gᵀ·x");
    println!("   reshape (flatten): g back to [1, 2, 4, 4]");
    println!("   relu: g where the output was > 0, else 0");
    println!("   conv2d: ∂L/∂w = Σ g·(input patches), ∂L/∂b = Σ g (the input needs none)\n");
    loss.backward()?;

    println!("\n5. The gradients:");
    let probs = no_grad(|| logits.softmax())?;
    show("softmax(logits)", &probs)?;
    for (name, p) in net.named_parameters() {
        show(
            &format!("∂L/∂{name}"),
            &p.grad().expect("every parameter gets a gradient"),
        )?;
    }
    let a = conv_out
        .lock()
        .unwrap()
        .clone()
        .expect("the forward hook ran");
    show("∂L/∂A (retained)", &a.grad().expect("retain_grad keeps it"))?;
    let b3 = net.named_parameters()[3].1.grad().unwrap().to_vec()?;
    let p = probs.to_vec()?;
    println!(
        "   check: ∂L/∂(last bias) = softmax − one_hot = [{:+.4}, {:+.4}, {:+.4}] ✓",
        p[0],
        p[1],
        p[2] - 1.0
    );
    assert!((b3[2] - (p[2] - 1.0)).abs() < 1e-6);

    println!("\n6. A finite difference agrees with backward for the first conv weight.");
    println!(
        "   (First we remove the forward hook: it would register gradient hooks under no_grad.)"
    );
    hook.remove();
    let w = net.named_parameters()[0].1.clone();
    let analytic = w.grad().unwrap().to_vec()?[0];
    let h = 1e-3;
    let loss_at = |delta: f32| -> Result<f32> {
        let mut v = w.to_vec()?;
        v[0] += delta;
        w.assign(&Tensor::from_vec(v, w.shape().clone(), dev)?)?;
        let l = no_grad(|| {
            net.forward(&x)?
                .cross_entropy(&target)?
                .mean_all()?
                .to_scalar()
        });
        let mut v = w.to_vec()?;
        v[0] -= delta;
        w.assign(&Tensor::from_vec(v, w.shape().clone(), dev)?)?;
        l
    };
    let numeric = (loss_at(h)? - loss_at(-h)?) / (2.0 * h);
    println!("   backward: {analytic:+.5}   (L(w+h) − L(w−h)) / 2h: {numeric:+.5}");
    Ok(())
}
