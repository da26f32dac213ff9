//! End to end: a small conv net learns a synthetic image task to high accuracy with the whole
//! stack (conv, relu, max-pool, adaptive pool, linear, cross-entropy, Adam, index_select).
//!
//! The task: 12×12 single-channel images of noise with a bright 4×4 square in one of the four
//! quadrants; the label is the quadrant. A linear model on raw pixels could also learn it, so we
//! also check the loss falls far below chance (ln 4 ≈ 1.39).

use shortcut::nn::{
    AdaptiveAvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use shortcut::ops::Conv2dParams;
use shortcut::optim::{Adam, Optimizer};
use shortcut::{no_grad, Device, Rng, Tensor};

fn dataset(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = Rng::new(seed, 0);
    let mut x = vec![0.0f32; n * 144];
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let q = rng.below(4);
        let (oy, ox) = ((q / 2) * 6 + rng.below(3), (q % 2) * 6 + rng.below(3));
        for p in 0..144 {
            x[i * 144 + p] = 0.3 * rng.uniform();
        }
        for dy in 0..4 {
            for dx in 0..4 {
                x[i * 144 + (oy + dy) * 12 + ox + dx] += 0.7;
            }
        }
        y.push(q);
    }
    (Tensor::from_vec(x, [n, 1, 12, 12], Device::Cpu).unwrap(), y)
}

fn accuracy(net: &Sequential, x: &Tensor, y: &[usize]) -> f32 {
    let pred = no_grad(|| net.forward(x).unwrap().argmax(1).unwrap())
        .to_vec()
        .unwrap();
    pred.iter()
        .zip(y)
        .filter(|(p, t)| **p as usize == **t)
        .count() as f32
        / y.len() as f32
}

#[test]
fn small_conv_net_learns_a_synthetic_image_task() {
    let mut rng = Rng::new(42, 0);
    let net = Sequential::new()
        .push(Conv2d::new(1, 8, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap())
        .push(ReLU::new())
        .push(MaxPool2d::new(2, 2))
        .push(Conv2d::new(8, 8, 3, Conv2dParams::new(1, 1), &mut rng, Device::Cpu).unwrap())
        .push(ReLU::new())
        .push(AdaptiveAvgPool2d::new(2, 2))
        .push(Flatten::new())
        .push(Linear::new(32, 4, true, &mut rng, Device::Cpu).unwrap());
    let (train_x, train_y) = dataset(512, 1);
    let (test_x, test_y) = dataset(256, 2);
    let mut opt = Adam::new(net.parameters(), 1e-2).unwrap();
    let mut shuffle = Rng::new(7, 0);
    let mut last_loss = f32::MAX;
    for _epoch in 0..6 {
        let order = shuffle.permutation(512);
        for batch in order.chunks(32) {
            let xb = train_x.index_select(batch).unwrap();
            let yb: Vec<usize> = batch.iter().map(|&i| train_y[i]).collect();
            opt.zero_grad();
            let loss = net
                .forward(&xb)
                .unwrap()
                .cross_entropy(&yb)
                .unwrap()
                .mean_all()
                .unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
            last_loss = loss.to_scalar().unwrap();
        }
    }
    let acc = accuracy(&net, &test_x, &test_y);
    assert!(acc >= 0.95, "test accuracy {acc}");
    assert!(last_loss < 0.3, "final batch loss {last_loss}");
}
