//! Learning from Failure's MLP (`models::LffMlp`): LfF's parameter names and shapes, its
//! forward pass against the same layers written out by hand, the input scale, and that it
//! learns (a colour task on a few hundred painted digits).

use shortcut::models::{LffMlp, MLP_HIDDEN, MLP_INPUTS};
use shortcut::nn::Module;
use shortcut::rng::{streams, Rng};
use shortcut::{Device, Tensor};

fn mlp(scale: f32) -> LffMlp {
    LffMlp::new(scale, &mut Rng::new(7, streams::INIT), Device::Cpu).unwrap()
}

#[test]
fn it_has_lffs_parameter_names_and_shapes() {
    let names: Vec<(String, Vec<usize>)> = mlp(1.0)
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect();
    let want = [
        ("feature.0.weight", vec![MLP_HIDDEN, MLP_INPUTS]),
        ("feature.0.bias", vec![MLP_HIDDEN]),
        ("feature.2.weight", vec![MLP_HIDDEN, MLP_HIDDEN]),
        ("feature.2.bias", vec![MLP_HIDDEN]),
        ("feature.4.weight", vec![MLP_HIDDEN, MLP_HIDDEN]),
        ("feature.4.bias", vec![MLP_HIDDEN]),
        ("classifier.weight", vec![10, MLP_HIDDEN]),
        ("classifier.bias", vec![10]),
    ];
    assert_eq!(names.len(), want.len());
    for ((n, d), (wn, wd)) in names.iter().zip(want) {
        assert_eq!((n.as_str(), d), (wn, &wd));
    }
    assert_eq!(MLP_INPUTS, 2352);
}

/// y = W·x + b for a [N, in] batch and PyTorch's [out, in] weight.
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    x.matmul_t(w, false, true).unwrap().add(b).unwrap()
}

#[test]
fn its_forward_pass_is_the_layers_written_out_and_scales_its_input() {
    let x = Tensor::from_vec(
        (0..2 * MLP_INPUTS)
            .map(|i| (i % 17) as f32 / 16.0)
            .collect(),
        [2, 3, 28, 28],
        Device::Cpu,
    )
    .unwrap();
    for scale in [1.0, LffMlp::LFF_SCALE] {
        let m = mlp(scale);
        let p: std::collections::HashMap<String, Tensor> =
            m.named_parameters().into_iter().collect();
        let mut h = x.flatten(1).unwrap().mul_scalar(scale).unwrap();
        for l in ["feature.0", "feature.2", "feature.4"] {
            h = linear(&h, &p[&format!("{l}.weight")], &p[&format!("{l}.bias")])
                .relu()
                .unwrap();
        }
        let want = linear(&h, &p["classifier.weight"], &p["classifier.bias"]);
        let got = m.forward(&x).unwrap();
        let (got, want) = (got.to_vec().unwrap(), want.to_vec().unwrap());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
    assert!(LffMlp::new(0.0, &mut Rng::new(0, streams::INIT), Device::Cpu).is_err());
    let wrong = Tensor::zeros([2, 1, 28, 28], Device::Cpu).unwrap();
    assert!(mlp(1.0).forward(&wrong).is_err());
}

/// Images whose stroke colour is the label: a 7×7 square of colour `PALETTE[y]` on noise, at a
/// random place. The MLP must learn it (the colour shortcut, which is what it is for).
fn colour_task(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = Rng::new(seed, 0);
    let mut x = vec![0.0f32; n * MLP_INPUTS];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = rng.below(10);
        let (oy, ox) = (rng.below(21), rng.below(21));
        let img = &mut x[i * MLP_INPUTS..(i + 1) * MLP_INPUTS];
        for v in img.iter_mut() {
            *v = 0.1 * rng.uniform();
        }
        for (ch, &value) in shortcut::data::PALETTE[c].iter().enumerate() {
            for dy in 0..7 {
                for dx in 0..7 {
                    img[ch * 784 + (oy + dy) * 28 + ox + dx] += 0.9 * value;
                }
            }
        }
        y.push(c);
    }
    (Tensor::from_vec(x, [n, 3, 28, 28], Device::Cpu).unwrap(), y)
}

#[test]
fn it_learns_a_colour_task() {
    use shortcut::optim::{Adam, Optimizer};
    let m = mlp(1.0);
    let (x, y) = colour_task(400, 1);
    let (tx, ty) = colour_task(200, 2);
    let mut opt = Adam::new(m.parameters(), 1e-3).unwrap();
    let mut order_rng = Rng::new(3, 0);
    for _epoch in 0..8 {
        for batch in order_rng.permutation(400).chunks(50) {
            let yb: Vec<usize> = batch.iter().map(|&i| y[i]).collect();
            opt.zero_grad();
            let loss = shortcut::loss::cross_entropy(
                &m.forward(&x.index_select(batch).unwrap()).unwrap(),
                &yb,
            )
            .unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
        }
    }
    let pred = shortcut::no_grad(|| m.forward(&tx).unwrap().argmax(1).unwrap())
        .to_vec()
        .unwrap();
    let right = pred
        .iter()
        .zip(&ty)
        .filter(|(p, t)| **p as usize == **t)
        .count();
    assert!(right >= 190, "{right} of 200 test images right");
}

/// One LfF step on a batch of four, against the same loss composed by hand: the biased model's
/// GCE (LfF's form) plus the debiased model's cross-entropy weighted by b̂/(b̂ + d̂); the
/// gradient reaches both models; the state the resume file keeps restores into another step.
#[test]
fn an_lff_step_is_its_formula_trains_both_models_and_restores() {
    use shortcut::models::ModelKind;
    use shortcut::train::lff::{lff_weights, LffStep, SampleLossEma, LFF_EMA_ALPHA};
    use shortcut::train::step::{Batch, Step};
    let labels = vec![0, 1, 0, 1, 0, 1];
    let step = LffStep::new(ModelKind::Mlp, 0, Device::Cpu, labels.clone(), 0.7).unwrap();
    let model = ModelKind::Mlp.build(0, Device::Cpu).unwrap();
    let (x, _) = colour_task(4, 5);
    let (y, indices) = (vec![0, 1, 0, 1], vec![0, 1, 2, 3]);
    let batch = Batch {
        x: x.clone(),
        y: &y,
        indices: &indices,
        epoch: 0,
        seed: 0,
    };
    let out = step.loss(model.as_ref(), &batch).unwrap();

    let logits_b = step.biased().forward(&x).unwrap();
    let logits_d = model.forward(&x).unwrap();
    let ce_b = logits_b.cross_entropy(&y).unwrap().to_vec().unwrap();
    let ce_d = logits_d.cross_entropy(&y).unwrap().to_vec().unwrap();
    let (mut eb, mut ed) = (
        SampleLossEma::new(labels.clone(), LFF_EMA_ALPHA).unwrap(),
        SampleLossEma::new(labels.clone(), LFF_EMA_ALPHA).unwrap(),
    );
    eb.update(&indices, &ce_b).unwrap();
    ed.update(&indices, &ce_d).unwrap();
    let w = lff_weights(&eb, &ed, &indices);
    let gce = shortcut::loss::lff_gce(&logits_b, &y, 0.7)
        .unwrap()
        .to_scalar()
        .unwrap();
    let want = gce + w.iter().zip(&ce_d).map(|(w, c)| w * c).sum::<f32>() / 4.0;
    let got = out.loss.to_scalar().unwrap();
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");

    out.loss.backward().unwrap();
    for p in model.parameters().iter().chain(&step.extra_parameters()) {
        let g = p
            .grad()
            .expect("every parameter of both models has a gradient");
        assert!(g.to_vec().unwrap().iter().any(|v| *v != 0.0));
    }

    let saved = step.state().unwrap();
    let other = LffStep::new(ModelKind::Mlp, 1, Device::Cpu, labels, 0.7).unwrap();
    other.restore(&saved.iter().cloned().collect()).unwrap();
    let again = other.state().unwrap();
    assert_eq!(saved.len(), again.len());
    for ((n, a), (m, b)) in saved.iter().zip(&again) {
        assert_eq!(n, m);
        assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap(), "{n}");
    }
}
